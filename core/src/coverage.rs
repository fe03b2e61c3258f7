//! Line and branch coverage of one scriptlet over many placement calls (golden cases, a
//! matrix, an impact replay, a fuzz run), like `opa test --coverage`: which executable lines
//! ran and how often, which arms of each `if`/`elif`/`else` were taken, merged from any
//! number of runs, as a percentage and as lcov text for CI coverage tools.
//!
//! The engine records it (`engine::Scriptlet::coverage`); this is the result, with the
//! scriptlet's own line numbers. An executable line is one that holds a statement, so a
//! branch that never ran counts against the percentage.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// Coverage of one scriptlet (the same source throughout: merging two scriptlets' coverage
/// means nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Every executable line, ascending, with how often its statements ran (0: never).
    pub lines: Vec<LineHits>,
    /// Each arm of each branch point, by line.
    pub branches: Vec<BranchArm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineHits {
    /// 1-based, in the scriptlet as its author wrote it.
    pub line: u32,
    pub hits: u64,
}

/// One arm of an `if` (arm 0: its body; arm 1: the `else`, `elif` or the way past it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchArm {
    /// The line of the `if` or `elif`.
    pub line: u32,
    /// The branch point's number in the scriptlet, in order of appearance.
    pub block: u32,
    pub arm: u32,
    /// How often the arm was taken; `None` when the `if` itself never ran.
    pub taken: Option<u64>,
}

impl Coverage {
    /// Adds `other`'s counts (coverage of the same scriptlet) to these.
    pub fn merge(&mut self, other: &Coverage) {
        let mut lines: BTreeMap<u32, u64> = self.lines.iter().map(|l| (l.line, l.hits)).collect();
        for line in &other.lines {
            *lines.entry(line.line).or_default() += line.hits;
        }
        self.lines = lines
            .into_iter()
            .map(|(line, hits)| LineHits { line, hits })
            .collect();
        let mut arms: BTreeMap<(u32, u32, u32), Option<u64>> = self
            .branches
            .iter()
            .map(|arm| ((arm.block, arm.arm, arm.line), arm.taken))
            .collect();
        for arm in &other.branches {
            let taken = arms.entry((arm.block, arm.arm, arm.line)).or_default();
            *taken = match (*taken, arm.taken) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            };
        }
        self.branches = arms
            .into_iter()
            .map(|((block, arm, line), taken)| BranchArm {
                line,
                block,
                arm,
                taken,
            })
            .collect();
    }

    /// The coverage of several runs together.
    pub fn merged<'c>(all: impl IntoIterator<Item = &'c Coverage>) -> Coverage {
        let mut merged = Coverage::default();
        for coverage in all {
            merged.merge(coverage);
        }
        merged
    }

    /// Executable lines.
    pub fn lines_found(&self) -> usize {
        self.lines.len()
    }

    /// Executable lines that ran.
    pub fn lines_hit(&self) -> usize {
        self.lines.iter().filter(|line| line.hits > 0).count()
    }

    /// The lines that ran and those that never did, for the editor's gutter.
    pub fn run_and_unrun(&self) -> (Vec<u32>, Vec<u32>) {
        let (run, unrun): (Vec<&LineHits>, Vec<&LineHits>) = self.lines.iter().partition(|l| l.hits > 0);
        (
            run.into_iter().map(|l| l.line).collect(),
            unrun.into_iter().map(|l| l.line).collect(),
        )
    }

    /// Lines that ran, in percent of the executable ones (100 for a scriptlet without any).
    pub fn percent(&self) -> f64 {
        if self.lines.is_empty() {
            return 100.0;
        }
        self.lines_hit() as f64 * 100.0 / self.lines.len() as f64
    }

    /// `coverage: P% of lines (L of M)`, as `--coverage` prints it.
    pub fn summary(&self) -> String {
        format!(
            "coverage: {:.1}% of lines ({} of {})",
            self.percent(),
            self.lines_hit(),
            self.lines_found()
        )
    }

    /// One lcov record for `file` (as CI coverage tools read it): `SF`, `DA:LINE,HITS` per
    /// executable line, `BRDA:LINE,BLOCK,ARM,TAKEN` per branch arm (`-` when its `if` never
    /// ran), `BRF`/`BRH`, `LF`/`LH`, `end_of_record`.
    pub fn lcov(&self, file: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "TN:");
        let _ = writeln!(text, "SF:{file}");
        for line in &self.lines {
            let _ = writeln!(text, "DA:{},{}", line.line, line.hits);
        }
        for arm in &self.branches {
            let taken = arm
                .taken
                .map_or_else(|| "-".to_owned(), |taken| taken.to_string());
            let _ = writeln!(text, "BRDA:{},{},{},{taken}", arm.line, arm.block, arm.arm);
        }
        if !self.branches.is_empty() {
            let hit = self
                .branches
                .iter()
                .filter(|arm| arm.taken.is_some_and(|taken| taken > 0))
                .count();
            let _ = writeln!(text, "BRF:{}", self.branches.len());
            let _ = writeln!(text, "BRH:{hit}");
        }
        let _ = writeln!(text, "LF:{}", self.lines_found());
        let _ = writeln!(text, "LH:{}", self.lines_hit());
        let _ = writeln!(text, "end_of_record");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(lines: &[(u32, u64)], branches: &[(u32, u32, u32, Option<u64>)]) -> Coverage {
        Coverage {
            lines: lines
                .iter()
                .map(|&(line, hits)| LineHits { line, hits })
                .collect(),
            branches: branches
                .iter()
                .map(|&(line, block, arm, taken)| BranchArm {
                    line,
                    block,
                    arm,
                    taken,
                })
                .collect(),
        }
    }

    #[test]
    fn merging_adds_counts_line_by_line_and_arm_by_arm() {
        let mut first = coverage(
            &[(1, 1), (2, 3), (4, 0)],
            &[(2, 0, 0, Some(3)), (2, 0, 1, Some(0))],
        );
        let second = coverage(
            &[(1, 1), (2, 1), (4, 2)],
            &[(2, 0, 0, Some(0)), (2, 0, 1, Some(1))],
        );
        first.merge(&second);
        assert_eq!(
            first,
            coverage(
                &[(1, 2), (2, 4), (4, 2)],
                &[(2, 0, 0, Some(3)), (2, 0, 1, Some(1))]
            )
        );
        let never = coverage(&[(1, 0)], &[(1, 0, 0, None)]);
        let merged = Coverage::merged([&never, &never]);
        assert_eq!(merged, never, "an arm of an `if` that never ran stays unknown");
    }

    #[test]
    fn the_summary_counts_executable_lines() {
        let c = coverage(&[(1, 1), (2, 5), (3, 0)], &[]);
        assert_eq!(c.summary(), "coverage: 66.7% of lines (2 of 3)");
        assert_eq!(c.run_and_unrun(), (vec![1, 2], vec![3]));
        assert_eq!(
            Coverage::default().summary(),
            "coverage: 100.0% of lines (0 of 0)"
        );
    }

    #[test]
    fn lcov_marks_a_dead_branch_unrun() {
        let c = coverage(
            &[(1, 1), (2, 4), (3, 4), (4, 0), (5, 4)],
            &[
                (3, 0, 0, Some(0)),
                (3, 0, 1, Some(4)),
                (7, 1, 0, None),
                (7, 1, 1, None),
            ],
        );
        assert_eq!(
            c.lcov("placement.star"),
            "TN:\nSF:placement.star\nDA:1,1\nDA:2,4\nDA:3,4\nDA:4,0\nDA:5,4\n\
             BRDA:3,0,0,0\nBRDA:3,0,1,4\nBRDA:7,1,0,-\nBRDA:7,1,1,-\nBRF:4\nBRH:1\n\
             LF:5\nLH:4\nend_of_record\n"
        );
    }
}
