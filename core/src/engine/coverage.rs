//! Line and branch coverage of a scriptlet: which of its statements ran, and how often.
//!
//! The statements come from the parsed scriptlet ([`Probes::of`]): every statement but
//! blocks, `pass` and lone literals (docstrings), which the crate compiles to nothing. The
//! crate reports each statement it is about to run through its debugger hook (the hidden API
//! `recursion` uses too, pinned with the crate's exact version); [`Probes::hook`] counts them
//! per evaluation by where the statement starts in the parsed text. The crate's own coverage
//! profile (`ProfileMode::Coverage`) reads the clock at every statement and keeps no counts,
//! which is why it is not used. Lines are the author's: the dialect's rewrite keeps every
//! line where it was (`dialect::lexical`).
//!
//! What the crate's optimizer does to statements is undone here or around here: a function
//! whose body is one statement is inlined at its call sites when the module is frozen, so its
//! statement would never run as such; a scriptlet compiled for coverage calls those functions
//! through a forwarding wrapper instead (`memo::Memoized`, see `compile_parsed`). An `if`
//! whose condition was folded away at freeze time reports as run as often as its arms did.
//!
//! Branch outcomes (each arm of an `if`, `elif` or `else`) are derived from the statement
//! counts: an arm ran as often as its first statement, an absent `else` as often as the `if`
//! less its other arm. The fuzzer's steering features come from the same counts
//! ([`Probes::features`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use starlark::syntax::ast::{AstStmt, ExprP, StmtP};
use starlark::syntax::AstModule;

use crate::coverage::{BranchArm, Coverage, LineHits};

/// The statements and branch points of one scriptlet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probes {
    /// Where each statement starts in the parsed text, ascending: a statement's id is its
    /// position here.
    begins: Vec<u32>,
    /// The 1-based line of each statement.
    lines: Vec<u32>,
    /// What each statement contains, for the folded `if`s and the branch outcomes.
    shapes: Vec<Shape>,
    /// The statements of the top level, which run once when the scriptlet loads.
    top_level: Vec<usize>,
}

#[derive(Debug, Clone, Copy, Default)]
enum Shape {
    #[default]
    Simple,
    /// An `if` with the first counted statement of each arm (`None`: no `else`, or an arm
    /// without a statement of its own, such as `pass`).
    If {
        then_first: Option<usize>,
        else_first: Option<usize>,
    },
}

/// One evaluation's statement counts, by statement id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementCounts(pub(crate) Vec<u32>);

impl StatementCounts {
    /// Whether any statement ran.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|count| *count == 0)
    }
}

impl Probes {
    /// The counted statements of `module` (the text the crate parsed; lines are the source's).
    pub fn of(module: &AstModule) -> Probes {
        let mut found: Vec<(u32, u32, &AstStmt)> = Vec::new();
        collect(module, module.statement(), &mut found);
        found.sort_by_key(|(begin, _, _)| *begin);
        found.dedup_by_key(|(begin, _, _)| *begin);
        let begins: Vec<u32> = found.iter().map(|(begin, _, _)| *begin).collect();
        let id_of = |statement: &AstStmt| {
            first_counted(statement).and_then(|begin| begins.binary_search(&begin).ok())
        };
        let shapes = found
            .iter()
            .map(|(_, _, statement)| match &statement.node {
                StmtP::If(_, then) => Shape::If {
                    then_first: id_of(then),
                    else_first: None,
                },
                StmtP::IfElse(_, arms) => Shape::If {
                    then_first: id_of(&arms.0),
                    else_first: id_of(&arms.1),
                },
                _ => Shape::Simple,
            })
            .collect();
        let top_level = super::syntax_walk::top_level_statements(module)
            .into_iter()
            .filter_map(|statement| begins.binary_search(&statement.span.begin().get()).ok())
            .collect();
        Probes {
            lines: found.iter().map(|(_, line, _)| *line).collect(),
            begins,
            shapes,
            top_level,
        }
    }

    pub fn statements(&self) -> usize {
        self.begins.len()
    }

    /// Zero counts for one evaluation.
    pub fn counts(&self) -> StatementCounts {
        StatementCounts(vec![0; self.begins.len()])
    }

    /// Counts the statement starting at `begin` (one the crate is about to run).
    pub fn count(&self, counts: &mut StatementCounts, begin: u32) {
        if let Ok(id) = self.begins.binary_search(&begin) {
            counts.0[id] = counts.0[id].saturating_add(1);
        }
    }

    /// The scriptlet's coverage from its statements' total counts (`loaded`: the top level
    /// ran, when the scriptlet was compiled).
    pub fn coverage(&self, totals: &[u64], loaded: bool) -> Coverage {
        let mut counts: Vec<u64> = totals.to_vec();
        if loaded {
            for &id in &self.top_level {
                counts[id] = counts[id].max(1);
            }
        }
        // Inner statements come later: an inner folded `if` is settled before its parent.
        for id in (0..counts.len()).rev() {
            if let Shape::If {
                then_first,
                else_first,
            } = self.shapes[id]
            {
                if counts[id] == 0 {
                    counts[id] = [then_first, else_first]
                        .into_iter()
                        .flatten()
                        .map(|arm| counts[arm])
                        .sum();
                }
            }
        }
        let mut lines: BTreeMap<u32, u64> = BTreeMap::new();
        for (id, line) in self.lines.iter().enumerate() {
            *lines.entry(*line).or_default() += counts[id];
        }
        let mut branches = Vec::new();
        for (block, (id, arms)) in self.branch_points(&counts).enumerate() {
            for (arm, taken) in arms.into_iter().enumerate() {
                branches.push(BranchArm {
                    line: self.lines[id],
                    block: block as u32,
                    arm: arm as u32,
                    taken: (counts[id] > 0).then_some(taken),
                });
            }
        }
        Coverage {
            lines: lines
                .into_iter()
                .map(|(line, hits)| LineHits { line, hits })
                .collect(),
            branches,
        }
    }

    /// Each `if` whose arms can be told apart, with how often each arm ran (then, else).
    fn branch_points<'p>(&'p self, counts: &'p [u64]) -> impl Iterator<Item = (usize, [u64; 2])> + 'p {
        self.shapes.iter().enumerate().filter_map(move |(id, shape)| {
            let Shape::If {
                then_first,
                else_first,
            } = *shape
            else {
                return None;
            };
            let total = counts[id];
            let arm = |first: Option<usize>| first.map(|first| counts[first]);
            let (then, otherwise) = match (arm(then_first), arm(else_first)) {
                (Some(then), Some(otherwise)) => (then, otherwise),
                // The other arm is absent or has no statement to count (`else: pass`).
                (Some(then), None) => (then, total.saturating_sub(then)),
                (None, Some(otherwise)) => (total.saturating_sub(otherwise), otherwise),
                // Neither arm has a statement of its own to count (`pass` both ways).
                (None, None) => return None,
            };
            Some((id, [then, otherwise]))
        })
    }

    /// The fuzzer's steering features of one evaluation, each a number below
    /// [`Probes::feature_space`]: a statement run a number of times in a power-of-two bucket
    /// (as AFL counts edges), and each arm of a branch taken.
    pub fn features(&self, counts: &StatementCounts, mut feature: impl FnMut(usize)) {
        let statements = self.begins.len();
        for (id, count) in counts.0.iter().enumerate() {
            if *count > 0 {
                feature(id * BUCKETS + bucket(*count));
            }
        }
        let wide: Vec<u64> = counts.0.iter().map(|count| u64::from(*count)).collect();
        for (block, (_, arms)) in self.branch_points(&wide).enumerate() {
            for (arm, taken) in arms.into_iter().enumerate() {
                if taken > 0 {
                    feature(statements * BUCKETS + block * 2 + arm);
                }
            }
        }
    }

    /// How many distinct features [`Probes::features`] can report.
    pub fn feature_space(&self) -> usize {
        let zero: Vec<u64> = vec![0; self.begins.len()];
        self.begins.len() * BUCKETS + self.branch_points(&zero).count() * 2
    }
}

/// Statement-count buckets per statement: 1, 2, 3, 4–7, 8–15, 16–31, 32–127, 128 and more.
const BUCKETS: usize = 8;

fn bucket(count: u32) -> usize {
    match count {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4..=7 => 3,
        8..=15 => 4,
        16..=31 => 5,
        32..=127 => 6,
        _ => 7,
    }
}

/// Collects the counted statements in `statement`, with where each starts and its 1-based
/// line.
fn collect<'m>(module: &AstModule, statement: &'m AstStmt, found: &mut Vec<(u32, u32, &'m AstStmt)>) {
    if is_counted(statement) {
        let line = module.file_span(statement.span).resolve_span().begin.line as u32 + 1;
        found.push((statement.span.begin().get(), line, statement));
    }
    statement.visit_stmt(|child| collect(module, child, found));
}

/// Whether the crate compiles `statement` to something it reports: not a block, `pass`, or
/// a lone literal (a docstring).
fn is_counted(statement: &AstStmt) -> bool {
    match &statement.node {
        StmtP::Statements(_) | StmtP::Pass | StmtP::Load(_) => false,
        StmtP::Expression(expression) => !matches!(expression.node, ExprP::Literal(_)),
        _ => true,
    }
}

/// Where the first counted statement of `statement` starts: itself, or the first of a block.
fn first_counted(statement: &AstStmt) -> Option<u32> {
    match &statement.node {
        StmtP::Statements(list) => list.iter().find_map(first_counted),
        _ if is_counted(statement) => Some(statement.span.begin().get()),
        _ => None,
    }
}

/// A scriptlet's running totals: every evaluation's counts added, from any thread.
pub(crate) struct Recorder {
    pub probes: Probes,
    totals: Vec<AtomicU64>,
}

impl Recorder {
    pub fn new(probes: Probes) -> Recorder {
        let totals = (0..probes.statements()).map(|_| AtomicU64::new(0)).collect();
        Recorder { probes, totals }
    }

    pub fn add(&self, counts: &StatementCounts) {
        for (total, count) in self.totals.iter().zip(&counts.0) {
            if *count > 0 {
                total.fetch_add(u64::from(*count), Ordering::Relaxed);
            }
        }
    }

    /// The coverage so far; `reset`: and start counting afresh.
    pub fn coverage(&self, reset: bool) -> Coverage {
        let totals: Vec<u64> = self
            .totals
            .iter()
            .map(|total| {
                if reset {
                    total.swap(0, Ordering::Relaxed)
                } else {
                    total.load(Ordering::Relaxed)
                }
            })
            .collect();
        self.probes.coverage(&totals, true)
    }
}
