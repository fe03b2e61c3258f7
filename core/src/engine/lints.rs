//! Fidelity lints: places where the `starlark` crate and go.starlark.net (inside Incus) give
//! different answers for the same scriptlet (`starlark-engine.md` §4), so an author hears of
//! it before the cluster disagrees with the sandbox.

use starlark::syntax::ast::{ArgumentP, AstExpr, AstLiteral, BinOp, ExprP, StmtP};

use super::diagnostic::Diagnostic;
use super::dialect::Parsed;
use super::syntax_walk::{each_expr, top_level_statements};

/// Warnings for a parsed scriptlet (one that does not parse gets none: the error says enough).
pub fn fidelity_warnings(parsed: &Parsed) -> Vec<Diagnostic> {
    let ast = &parsed.ast;
    let mut warnings = parsed.lexical_warnings.clone();
    let mut warn = |expr: &AstExpr, code: &str, message: &str| {
        warnings.push(parsed.at(Diagnostic::warning(code, message), expr.span));
    };
    each_expr(ast.statement(), &mut |expr| match &expr.node {
        ExprP::Op(_, BinOp::LeftShift, _) => warn(
            expr,
            "fidelity-shift",
            "`<<` wraps past 32 bits in Berth's engine (1 << 31 is negative) but not in Incus; \
             write sizes with `*` (e.g. 1024 * 1024 * 1024)",
        ),
        ExprP::Op(left, BinOp::Percent, _) if is_string_containing(left, "%(") => warn(
            expr,
            "fidelity-named-format",
            "`%(name)s` formatting works in Incus but fails in Berth's engine; use `%s` with a tuple",
        ),
        ExprP::Literal(AstLiteral::String(text)) if !text.node.is_ascii() => warn(
            expr,
            "fidelity-unicode",
            "non-ASCII text: len() and indexing count bytes in Incus but characters in Berth's engine",
        ),
        ExprP::Call(function, arguments) => {
            let name = match &function.node {
                ExprP::Identifier(ident) => ident.node.ident.as_str(),
                _ => "",
            };
            let positional = arguments
                .args
                .iter()
                .filter(|a| matches!(a.node, ArgumentP::Positional(_)))
                .count();
            if name == "sorted" && positional >= 2 {
                warn(
                    expr,
                    "fidelity-sorted-key",
                    "sorted() accepts a positional key in Incus but not in Berth's engine; write key=…",
                );
            }
            if name == "fail" && arguments.args.iter().any(|a| a.node.name() == Some("sep")) {
                warn(
                    expr,
                    "fidelity-fail-sep",
                    "fail(sep=…) works in Incus but not in Berth's engine",
                );
            }
            let formats_text = matches!(name, "str" | "log_info" | "log_warn" | "log_error" | "print");
            if formats_text && arguments.args.iter().any(|a| is_floatish(a.node.expr())) {
                warn(
                    expr,
                    "fidelity-float-text",
                    "floats print differently: Incus writes the shortest exact form (12345678.9), \
                     Berth's engine six significant digits (1.234568e+07); compare numbers, not their text",
                );
            }
        }
        _ => {}
    });
    for statement in top_level_statements(ast) {
        if let StmtP::Def(def) = &statement.node {
            let name = def.name.node.ident.as_str();
            let mut calls_itself = None;
            each_expr(&def.body, &mut |expr| {
                if let ExprP::Call(function, _) = &expr.node {
                    if matches!(&function.node, ExprP::Identifier(ident) if ident.node.ident == name) {
                        calls_itself.get_or_insert(expr.span);
                    }
                }
            });
            if let Some(span) = calls_itself {
                let name = parsed.map.names(name);
                warnings.push(parsed.at(
                    Diagnostic::warning(
                        "fidelity-recursion",
                        format!("{name} calls itself: Incus stops any recursion at run time (\"function {name} called recursively\")"),
                    ),
                    span,
                ));
            }
        }
    }
    warnings.sort_by_key(|w| (w.line, w.column));
    warnings
}

fn is_string_containing(expr: &AstExpr, needle: &str) -> bool {
    matches!(&expr.node, ExprP::Literal(AstLiteral::String(text)) if text.node.contains(needle))
}

/// An expression that is, or obviously yields, a float.
fn is_floatish(expr: &AstExpr) -> bool {
    match &expr.node {
        ExprP::Literal(AstLiteral::Float(_)) => true,
        ExprP::Op(_, BinOp::Divide, _) => true,
        ExprP::Call(function, _) => matches!(&function.node, ExprP::Identifier(i) if i.node.ident == "float"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::dialect;
    use super::fidelity_warnings;

    fn codes(source: &str) -> Vec<(String, usize)> {
        let Ok(parsed) = dialect::parse(source) else {
            return Vec::new();
        };
        fidelity_warnings(&parsed)
            .into_iter()
            .map(|w| (w.code.unwrap(), w.line.unwrap()))
            .collect()
    }

    #[test]
    fn each_divergence_is_named_where_it_occurs() {
        let source = r#"GIB = 1 << 30
def score(m):
    return score(m)
def instance_placement(request, candidate_members):
    log_info("%(name)s" % {"name": request.name})
    names = sorted(candidate_members, len)
    fail("x", sep="-")
    log_info("ratio ", 10 / 4)
    log_info("héllo")
"#;
        assert_eq!(
            codes(source),
            vec![
                ("fidelity-shift".into(), 1),
                ("fidelity-recursion".into(), 3),
                ("fidelity-named-format".into(), 5),
                ("fidelity-sorted-key".into(), 6),
                ("fidelity-fail-sep".into(), 7),
                ("fidelity-float-text".into(), 8),
                ("fidelity-unicode".into(), 9),
            ]
        );
    }

    #[test]
    fn portable_code_gets_no_warning() {
        let source = r#"GIB = 1024 * 1024 * 1024
def instance_placement(request, candidate_members):
    names = sorted([m.server_name for m in candidate_members], key=len)
    log_info("placing %s" % request.name, " ", 10 // 4)
"#;
        assert_eq!(codes(source), vec![]);
        assert_eq!(
            codes("def broken(:\n"),
            vec![],
            "no warnings for what does not parse"
        );
    }
}
