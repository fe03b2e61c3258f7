//! Name resolution as go.starlark.net does it for Incus: names the `starlark` crate's globals
//! define but go.starlark.net's universe lacks (e.g. `set` before 6.0.5, or extra standard
//! functions) are undefined in Incus.

use std::collections::BTreeSet;

use starlark::environment::Globals;
use starlark::syntax::ast::{AssignTargetP, AstAssignTarget, AstStmt, ExprP, StmtP};

use super::super::builtin_names::{BUILTIN_NAMES, GO_UNIVERSE};
use super::super::diagnostic::{Diagnostic, ErrorKind};
use super::super::syntax_walk::each_expr;
use super::super::version::IncusVersion;
use super::Parsed;

/// The first use of a name Incus would not resolve.
pub fn check_names(parsed: &Parsed, globals: &Globals, version: IncusVersion) -> Result<(), Diagnostic> {
    let mut go_names: BTreeSet<&str> = GO_UNIVERSE.into_iter().collect();
    go_names.extend(BUILTIN_NAMES);
    if !version.allows_set() {
        go_names.remove("set");
    }
    let extra: BTreeSet<String> = globals
        .names()
        .map(|name| name.as_str().to_owned())
        .filter(|name| !go_names.contains(name.as_str()))
        .collect();
    let mut bound = BTreeSet::new();
    let mut used = Vec::new();
    each_expr(parsed.ast.statement(), &mut |expr| match &expr.node {
        ExprP::Identifier(ident) => used.push((ident.node.ident.clone(), expr.span)),
        ExprP::Lambda(lambda) => bound.extend(
            lambda
                .params
                .iter()
                .filter_map(|p| p.node.ident())
                .map(|i| i.ident.clone()),
        ),
        ExprP::ListComprehension(_, first, _) | ExprP::DictComprehension(_, first, _) => {
            bind_targets(&first.var, &mut bound)
        }
        _ => {}
    });
    collect_bindings(parsed.ast.statement(), &mut bound);
    for (name, span) in used {
        if extra.contains(&name) && !bound.contains(&name) {
            let message = if name == "set" {
                "this Starlark dialect does not support sets".to_owned()
            } else {
                format!("undefined: {name}")
            };
            return Err(parsed.at(Diagnostic::error(ErrorKind::Validation, message), span));
        }
    }
    Ok(())
}

fn collect_bindings(stmt: &AstStmt, bound: &mut BTreeSet<String>) {
    match &stmt.node {
        StmtP::Def(def) => {
            bound.insert(def.name.node.ident.clone());
            bound.extend(
                def.params
                    .iter()
                    .filter_map(|p| p.node.ident())
                    .map(|i| i.ident.clone()),
            );
        }
        StmtP::Assign(assign) => bind_targets(&assign.lhs, bound),
        StmtP::AssignModify(target, _, _) => bind_targets(target, bound),
        StmtP::For(for_) => bind_targets(&for_.var, bound),
        _ => {}
    }
    stmt.visit_stmt(|child| collect_bindings(child, bound));
}

/// The names an assignment target binds.
pub(crate) fn bind_targets(target: &AstAssignTarget, bound: &mut BTreeSet<String>) {
    match &target.node {
        AssignTargetP::Identifier(ident) => {
            bound.insert(ident.node.ident.clone());
        }
        AssignTargetP::Tuple(targets) => targets.iter().for_each(|t| bind_targets(t, bound)),
        AssignTargetP::Index(_) | AssignTargetP::Dot(..) => {}
    }
}
