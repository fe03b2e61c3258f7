//! go.starlark.net refuses recursion at run time ("function f called recursively"); the
//! `starlark` crate allows it. Scriptlets whose top-level functions can call themselves
//! (found statically) get a statement hook that raises Incus's error at the first recursive
//! call; the others pay nothing.
//!
//! The hook is `starlark`'s debugger hook, hidden API: pinned with the crate's exact version.

use std::collections::{BTreeMap, BTreeSet};

use starlark::codemap::FileSpanRef;
use starlark::eval::{BeforeStmtFunc, BeforeStmtFuncDyn, Evaluator};
use starlark::syntax::ast::{ExprP, StmtP};
use starlark::syntax::AstModule;

use super::syntax_walk::{each_expr, top_level_statements};

/// Names of top-level functions that can reach themselves through calls by name.
pub fn recursive_functions(module: &AstModule) -> BTreeSet<String> {
    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in top_level_statements(module) {
        if let StmtP::Def(def) = &statement.node {
            let callees = calls.entry(def.name.node.ident.clone()).or_default();
            each_expr(&def.body, &mut |expr| {
                if let ExprP::Call(function, _) = &expr.node {
                    if let ExprP::Identifier(ident) = &function.node {
                        callees.insert(ident.node.ident.clone());
                    }
                }
            });
        }
    }
    calls
        .keys()
        .filter(|start| {
            let mut seen = BTreeSet::new();
            let mut pending: Vec<&String> = calls[*start].iter().collect();
            while let Some(name) = pending.pop() {
                if name == *start {
                    return true;
                }
                if seen.insert(name.clone()) {
                    pending.extend(calls.get(name).into_iter().flatten());
                }
            }
            false
        })
        .cloned()
        .collect()
}

/// Installs the hook when `names` is not empty. Must be set before the module is compiled
/// (the crate instruments bytecode only then) and again for every evaluation.
pub fn guard_against(eval: &mut Evaluator, names: &BTreeSet<String>) {
    if !names.is_empty() {
        eval.before_stmt_for_dap(BeforeStmtFunc::from_dyn(Box::new(RecursionGuard {
            names: names.clone(),
        })));
    }
}

struct RecursionGuard {
    names: BTreeSet<String>,
}

impl<'e> BeforeStmtFuncDyn<'e> for RecursionGuard {
    fn call<'v>(
        &mut self,
        _span: FileSpanRef,
        _continued: bool,
        eval: &mut Evaluator<'v, '_, 'e>,
    ) -> starlark::Result<()> {
        // The top frame is the function whose statement is about to run (the crate's
        // `call_stack_top_frame` names something else here).
        let frames = eval.call_stack().frames;
        let Some(current) = frames.last() else {
            return Ok(());
        };
        if self.names.contains(&current.name) && frames.iter().filter(|f| f.name == current.name).count() > 1
        {
            return Err(starlark::Error::new_other(anyhow::anyhow!(
                "function {} called recursively",
                current.name
            )));
        }
        Ok(())
    }
}
