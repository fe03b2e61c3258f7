//! Which top-level functions of a scriptlet are pure for the length of one cluster state:
//! their result depends only on their arguments and on what the cluster-reading builtins
//! answer, and calling them has no effect the caller could see.
//!
//! Found statically, erring towards "not pure": a function qualifies when every name its body
//! reads is one of its own (parameters, assignments, loop and comprehension variables, nested
//! functions), a universe function without effects, a builtin that reads the cluster and not
//! the request (`get_instances`, `get_instances_count`, `get_cluster_members`, `get_project`),
//! a global that holds plain data (checked on the value once the top level has run, see
//! [`Purity::confirm`]), or another qualifying function. Starlark freezes globals after the
//! top level, so a function cannot change them; what it could change is its arguments, and
//! only calls whose arguments are immutable are memoized (`super::key`).
//!
//! Left out: the entry point, recursive functions (their guard counts call-stack frames),
//! functions with parameter defaults that read names, f-strings (their names are not walked),
//! and functions whose name is ever used other than in a call (passed around, a value could
//! tell the memoizing wrapper from the function).

use std::collections::{BTreeMap, BTreeSet};

use starlark::syntax::ast::{AstExpr, AstStmt, ClauseP, ExprP, StmtP};
use starlark::syntax::AstModule;

use super::super::builtin_names::{BUILTIN_NAMES, GO_UNIVERSE};
use super::super::dialect::names::bind_targets;
use super::super::syntax_walk::{each_expr, top_level_statements};

/// Placement builtins whose answer depends on the cluster alone. The others read the request
/// (`get_instance_resources`), the call's candidates (`get_cluster_member_resources` and
/// `_state` answer only for a candidate or the local member), or act (`set_target`, `log_*`).
const CLUSTER_READS: [&str; 4] = [
    "get_instances",
    "get_instances_count",
    "get_cluster_members",
    "get_project",
];

/// The static verdict, before the globals' values are known.
#[derive(Debug, Default)]
pub struct Purity {
    /// Functions that pass every static rule, with the functions and data globals they read.
    candidates: BTreeMap<String, Reads>,
}

#[derive(Debug, Default)]
struct Reads {
    functions: BTreeSet<String>,
    globals: BTreeSet<String>,
}

impl Purity {
    /// The static analysis of `module`. `recursive`: functions that can reach themselves.
    pub fn of(module: &AstModule, entry_point: &str, recursive: &BTreeSet<String>) -> Purity {
        let statements = top_level_statements(module);
        let mut functions = BTreeSet::new();
        let mut data = BTreeSet::new();
        for statement in &statements {
            match &statement.node {
                StmtP::Def(def) => {
                    functions.insert(def.name.node.ident.clone());
                }
                StmtP::Assign(assign) => bind_targets(&assign.lhs, &mut data),
                StmtP::AssignModify(target, _, _) => bind_targets(target, &mut data),
                _ => {}
            }
        }
        let called_only = names_used_only_in_calls(&statements, &functions);

        let mut candidates = BTreeMap::new();
        for statement in &statements {
            let StmtP::Def(def) = &statement.node else {
                continue;
            };
            let name = &def.name.node.ident;
            if name == entry_point || recursive.contains(name) || !called_only.contains(name) {
                continue;
            }
            let defaults_read_names = def.params.iter().any(|parameter| {
                let mut reads = false;
                parameter.node.visit_expr(|default| {
                    each_subexpr(default, &mut |expr| {
                        reads |= matches!(expr.node, ExprP::Identifier(_));
                    })
                });
                reads
            });
            if defaults_read_names {
                continue;
            }
            let mut own = BTreeSet::new();
            for parameter in &def.params {
                if let Some(ident) = parameter.node.ident() {
                    own.insert(ident.ident.clone());
                }
            }
            collect_bindings(&def.body, &mut own);

            let mut reads = Reads::default();
            let mut pure = true;
            each_expr(&def.body, &mut |expr| match &expr.node {
                ExprP::FString(_) => pure = false,
                ExprP::Identifier(ident) => {
                    let read = &ident.node.ident;
                    // A name bound inside the function may still be read, in another scope of
                    // it, as the global of that name: whatever it names must qualify too.
                    let global = functions.contains(read)
                        || data.contains(read)
                        || is_pure_universe(read)
                        || CLUSTER_READS.contains(&read.as_str());
                    if !global {
                        pure &= own.contains(read);
                    } else if functions.contains(read) {
                        reads.functions.insert(read.clone());
                    } else if data.contains(read) {
                        reads.globals.insert(read.clone());
                    }
                }
                _ => {}
            });
            // Names no rule allows (`set_target`, `log_info`, `print`, …) are neither own nor
            // global above, unless the function binds them itself: refused either way.
            let binds_an_effect = own.iter().any(|bound| is_effect(bound));
            if pure && !binds_an_effect {
                candidates.insert(name.clone(), reads);
            }
        }
        Purity { candidates }
    }

    /// The pure functions, given which data globals hold plain data once the top level has
    /// run: a function qualifies when every function it reads qualifies and every global it
    /// reads is plain.
    pub fn confirm(&self, is_plain: &dyn Fn(&str) -> bool) -> BTreeSet<String> {
        let mut pure: BTreeSet<String> = self
            .candidates
            .iter()
            .filter(|(_, reads)| reads.globals.iter().all(|global| is_plain(global)))
            .map(|(name, _)| name.clone())
            .collect();
        loop {
            let kept: BTreeSet<String> = pure
                .iter()
                .filter(|name| {
                    self.candidates[*name]
                        .functions
                        .iter()
                        .all(|function| pure.contains(function))
                })
                .cloned()
                .collect();
            if kept.len() == pure.len() {
                return kept;
            }
            pure = kept;
        }
    }
}

/// The top-level functions the crate would inline at their call sites when the module is
/// frozen (a body of one statement, e.g. `return m.x > 5`), and which can be called through a
/// stand-in without any difference a scriptlet could see: not the entry point, not recursive
/// (the recursion guard counts frames), and only ever called by name.
pub fn inlined_by_the_crate(
    module: &AstModule,
    entry_point: &str,
    recursive: &BTreeSet<String>,
) -> BTreeSet<String> {
    let statements = top_level_statements(module);
    let functions: BTreeSet<String> = statements
        .iter()
        .filter_map(|statement| match &statement.node {
            StmtP::Def(def) => Some(def.name.node.ident.clone()),
            _ => None,
        })
        .collect();
    let called_only = names_used_only_in_calls(&statements, &functions);
    statements
        .iter()
        .filter_map(|statement| match &statement.node {
            StmtP::Def(def) => Some(def),
            _ => None,
        })
        .filter(|def| {
            let name = &def.name.node.ident;
            let one_statement = match &def.body.node {
                StmtP::Statements(body) => body.len() <= 1,
                _ => true,
            };
            one_statement && name != entry_point && !recursive.contains(name) && called_only.contains(name)
        })
        .map(|def| def.name.node.ident.clone())
        .collect()
}

/// Universe functions without effects: all but `print` (it logs); the rest only compute.
fn is_pure_universe(name: &str) -> bool {
    GO_UNIVERSE.contains(&name) && name != "print"
}

/// Names no pure function may bind or read: the effects and the builtins that read the call.
fn is_effect(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name) && !CLUSTER_READS.contains(&name) || name == "print"
}

/// Functions whose name appears only as the callee of a call (or in their own `def`).
fn names_used_only_in_calls(statements: &[&AstStmt], functions: &BTreeSet<String>) -> BTreeSet<String> {
    let mut uses: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for statement in statements {
        each_expr(statement, &mut |expr| match &expr.node {
            ExprP::Identifier(ident) => uses.entry(ident.node.ident.as_str()).or_default().0 += 1,
            ExprP::Call(callee, _) => {
                if let ExprP::Identifier(ident) = &callee.node {
                    uses.entry(ident.node.ident.as_str()).or_default().1 += 1;
                }
            }
            _ => {}
        });
    }
    functions
        .iter()
        .filter(|name| {
            uses.get(name.as_str())
                .is_none_or(|(all, in_calls)| all == in_calls)
        })
        .cloned()
        .collect()
}

fn each_subexpr<'a>(expr: &'a AstExpr, f: &mut dyn FnMut(&'a AstExpr)) {
    f(expr);
    expr.node.visit_expr(|child| each_subexpr(child, f));
}

/// Every name bound anywhere inside `stmt`: assignments, loop variables, nested functions and
/// their parameters, lambda parameters and comprehension variables.
fn collect_bindings(stmt: &AstStmt, bound: &mut BTreeSet<String>) {
    match &stmt.node {
        StmtP::Def(def) => {
            bound.insert(def.name.node.ident.clone());
            for parameter in &def.params {
                if let Some(ident) = parameter.node.ident() {
                    bound.insert(ident.ident.clone());
                }
            }
        }
        StmtP::Assign(assign) => bind_targets(&assign.lhs, bound),
        StmtP::AssignModify(target, _, _) => bind_targets(target, bound),
        StmtP::For(for_) => bind_targets(&for_.var, bound),
        _ => {}
    }
    each_expr_of_stmt(stmt, &mut |expr| match &expr.node {
        ExprP::Lambda(lambda) => {
            for parameter in &lambda.params {
                if let Some(ident) = parameter.node.ident() {
                    bound.insert(ident.ident.clone());
                }
            }
        }
        ExprP::ListComprehension(_, first, clauses) | ExprP::DictComprehension(_, first, clauses) => {
            bind_targets(&first.var, bound);
            for clause in clauses {
                if let ClauseP::For(clause) = clause {
                    bind_targets(&clause.var, bound);
                }
            }
        }
        _ => {}
    });
    stmt.visit_stmt(|child| collect_bindings(child, bound));
}

/// The expressions directly in `stmt` (not in its child statements) and all their
/// sub-expressions.
fn each_expr_of_stmt<'a>(stmt: &'a AstStmt, f: &mut dyn FnMut(&'a AstExpr)) {
    stmt.visit_expr(|expr| each_subexpr(expr, f));
}
