//! The checks Incus's dialect makes that the `starlark` crate has no switch for: globals may
//! not be reassigned (go.starlark.net `GlobalReassign=false`), and the placement builtins are
//! not bound while the top level runs (Incus validates with a nil environment).

use std::collections::BTreeMap;

use starlark::syntax::ast::{AssignTargetP, AstAssignTarget, ExprP, StmtP};
use starlark::syntax::AstModule;

use super::builtins::BUILTIN_NAMES;
use super::diagnostic::{Diagnostic, ErrorKind};
use super::syntax_walk::{each_top_level_expr, position, top_level_statements};
use super::FILE_NAME;

/// The first reassigned global, as go.starlark.net reports it.
pub fn check_global_reassignment(module: &AstModule, source: &str) -> Result<(), Diagnostic> {
    let mut declared: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut bind = |name: &str, at: (usize, usize)| -> Result<(), Diagnostic> {
        if let Some((line, column)) = declared.get(name) {
            return Err(Diagnostic::error(
                ErrorKind::Validation,
                format!("cannot reassign global {name} declared at {FILE_NAME}:{line}:{column}"),
            )
            .at(source, at.0, at.1));
        }
        declared.insert(name.to_owned(), at);
        Ok(())
    };
    for statement in top_level_statements(module) {
        match &statement.node {
            StmtP::Def(def) => bind(&def.name.node.ident, position(module, def.name.span))?,
            StmtP::Assign(assign) => {
                for (name, span) in assigned_names(&assign.lhs) {
                    bind(&name, position(module, span))?;
                }
            }
            StmtP::AssignModify(target, _, _) => {
                for (name, span) in assigned_names(target) {
                    bind(&name, position(module, span))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn assigned_names(target: &AstAssignTarget) -> Vec<(String, starlark::codemap::Span)> {
    match &target.node {
        AssignTargetP::Identifier(ident) => vec![(ident.node.ident.clone(), target.span)],
        AssignTargetP::Tuple(targets) => targets.iter().flat_map(assigned_names).collect(),
        AssignTargetP::Index(_) | AssignTargetP::Dot(..) => Vec::new(),
    }
}

/// A placement builtin used by code the top level runs: Incus fails such a scriptlet when it
/// is set, because validation runs the top level with no builtins bound.
pub fn check_top_level_builtins(module: &AstModule, source: &str) -> Result<(), Diagnostic> {
    let mut found = None;
    for statement in top_level_statements(module) {
        each_top_level_expr(statement, &mut |expr| {
            if let ExprP::Identifier(ident) = &expr.node {
                if found.is_none() && BUILTIN_NAMES.contains(&ident.node.ident.as_str()) {
                    found = Some((ident.node.ident.clone(), position(module, expr.span)));
                }
            }
        });
    }
    match found {
        Some((name, (line, column))) => Err(uninitialized(&name).at(source, line, column)),
        None => Ok(()),
    }
}

/// Incus's message for a builtin used before the placement call binds it.
pub fn uninitialized(name: &str) -> Diagnostic {
    Diagnostic::error(
        ErrorKind::Validation,
        format!("predeclared variable {name} is uninitialized"),
    )
}
