//! Two checks on the top level the `starlark` crate has no switch for: globals may not be
//! reassigned (go.starlark.net `GlobalReassign=false`), and the placement builtins are not
//! bound while the top level runs (Incus validates with a nil environment).

use std::collections::BTreeMap;

use starlark::codemap::Span;
use starlark::syntax::ast::{AssignTargetP, AstAssignTarget, ExprP, StmtP};

use super::super::builtin_names::{uninitialized, BUILTIN_NAMES};
use super::super::diagnostic::{Diagnostic, ErrorKind};
use super::super::syntax_walk::{each_top_level_expr, top_level_statements};
use super::super::FILE_NAME;
use super::Parsed;

/// The first reassigned global, as go.starlark.net reports it.
pub fn check_global_reassignment(parsed: &Parsed) -> Result<(), Diagnostic> {
    let mut declared: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut bind = |name: &str, span: Span| -> Result<(), Diagnostic> {
        let name = parsed.map.names(name);
        if let Some((line, column)) = declared.get(&name) {
            return Err(parsed.at(
                Diagnostic::error(
                    ErrorKind::Validation,
                    format!("cannot reassign global {name} declared at {FILE_NAME}:{line}:{column}"),
                ),
                span,
            ));
        }
        declared.insert(name, parsed.position(span));
        Ok(())
    };
    for statement in top_level_statements(&parsed.ast) {
        match &statement.node {
            StmtP::Def(def) => bind(&def.name.node.ident, def.name.span)?,
            StmtP::Assign(assign) => {
                for (name, span) in assigned_names(&assign.lhs) {
                    bind(&name, span)?;
                }
            }
            StmtP::AssignModify(target, _, _) => {
                for (name, span) in assigned_names(target) {
                    bind(&name, span)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn assigned_names(target: &AstAssignTarget) -> Vec<(String, Span)> {
    match &target.node {
        AssignTargetP::Identifier(ident) => vec![(ident.node.ident.clone(), target.span)],
        AssignTargetP::Tuple(targets) => targets.iter().flat_map(assigned_names).collect(),
        AssignTargetP::Index(_) | AssignTargetP::Dot(..) => Vec::new(),
    }
}

/// A placement builtin used by code the top level runs: Incus fails such a scriptlet when it
/// is set, because validation runs the top level with no builtins bound.
pub fn check_top_level_builtins(parsed: &Parsed) -> Result<(), Diagnostic> {
    let mut found = None;
    for statement in top_level_statements(&parsed.ast) {
        each_top_level_expr(statement, &mut |expr| {
            if let ExprP::Identifier(ident) = &expr.node {
                if found.is_none() && BUILTIN_NAMES.contains(&ident.node.ident.as_str()) {
                    found = Some((ident.node.ident.clone(), expr.span));
                }
            }
        });
    }
    match found {
        Some((name, span)) => Err(parsed.at(uninitialized(&name), span)),
        None => Ok(()),
    }
}
