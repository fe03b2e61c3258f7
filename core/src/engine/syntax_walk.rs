//! Walking a parsed scriptlet: every expression, or only those the top level evaluates.

use starlark::syntax::ast::{AstExpr, AstStmt, ExprP, StmtP};
use starlark::syntax::AstModule;
use starlark_syntax::syntax::uniplate::Visit;

/// Calls `f` on every expression of `stmt`, nested ones included.
pub fn each_expr<'a>(stmt: &'a AstStmt, f: &mut dyn FnMut(&'a AstExpr)) {
    stmt.visit_children(|child| match child {
        Visit::Stmt(stmt) => each_expr(stmt, f),
        Visit::Expr(expr) => each_subexpr(expr, f),
    });
}

fn each_subexpr<'a>(expr: &'a AstExpr, f: &mut dyn FnMut(&'a AstExpr)) {
    f(expr);
    expr.node.visit_expr(|child| each_subexpr(child, f));
}

/// Calls `f` on the expressions the module's top level evaluates when it is loaded: not the
/// bodies of `def`s and lambdas (they run only when called), but parameter defaults.
pub fn each_top_level_expr<'a>(stmt: &'a AstStmt, f: &mut dyn FnMut(&'a AstExpr)) {
    match &stmt.node {
        StmtP::Def(def) => {
            for parameter in &def.params {
                parameter.node.visit_expr(|default| top_level_subexpr(default, f));
            }
        }
        _ => stmt.visit_children(|child| match child {
            Visit::Stmt(stmt) => each_top_level_expr(stmt, f),
            Visit::Expr(expr) => top_level_subexpr(expr, f),
        }),
    }
}

fn top_level_subexpr<'a>(expr: &'a AstExpr, f: &mut dyn FnMut(&'a AstExpr)) {
    f(expr);
    if let ExprP::Lambda(lambda) = &expr.node {
        for parameter in &lambda.params {
            parameter.node.visit_expr(|default| top_level_subexpr(default, f));
        }
        return;
    }
    expr.node.visit_expr(|child| top_level_subexpr(child, f));
}

/// The statements of the module's top level, in order.
pub fn top_level_statements(module: &AstModule) -> Vec<&AstStmt> {
    match &module.statement().node {
        StmtP::Statements(statements) => statements.iter().collect(),
        _ => vec![module.statement()],
    }
}

/// 1-based line and column of a span's start.
pub fn position(module: &AstModule, span: starlark::codemap::Span) -> (usize, usize) {
    let begin = module.file_span(span).resolve_span().begin;
    (begin.line + 1, begin.column + 1)
}
