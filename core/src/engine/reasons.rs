//! Which placement reasons a scriptlet tells apart, read from its syntax: the string literals it
//! compares `request.reason` with (`==`, `!=`, `in`, `not in`, directly or through a name bound
//! to it, or a parameter called `reason`), and the keys of a top-level dict it indexes with the
//! reason (`HANDLERS[request.reason]`, `HANDLERS.get(request.reason)`). The reason × version
//! matrix (`crate::matrix`) lints a scriptlet that branches on the reason yet never names one
//! its versions send.
//!
//! Deliberately shallow: a scriptlet that computes its reasons (`"re" + "location"`) or hides
//! the comparison behind a call is read as not branching, so the lint stays silent rather than
//! wrong.

use std::collections::{BTreeMap, BTreeSet};

use starlark::syntax::ast::{AssignTargetP, AstExpr, AstLiteral, AstStmt, BinOp, ExprP, StmtP};
use starlark_syntax::syntax::uniplate::Visit;

use super::dialect;
use super::syntax_walk::{each_expr, top_level_statements};

/// The reasons a scriptlet compares `request.reason` with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonBranches {
    /// Whether it branches on the reason at all.
    pub branches: bool,
    /// The reasons it names where it does.
    pub handled: BTreeSet<String>,
}

/// The reasons `source` tells apart; a scriptlet that does not parse tells none apart (its
/// error says enough). Parsing recurses once per nesting level, so a deep scriptlet is read on
/// a stack sized for it, as it is compiled.
pub fn reason_branches(source: &str, cancelled: &dyn Fn() -> bool) -> ReasonBranches {
    let lexed = dialect::lexical::scan(source);
    let needed = super::stack::bytes_for(lexed.nesting);
    super::stack::run(needed, cancelled, |_| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            match dialect::parse_scanned(source, lexed) {
                Ok(parsed) => read(&parsed.ast),
                Err(_) => ReasonBranches::default(),
            }
        }))
        .unwrap_or_default()
    })
    .unwrap_or_default()
}

fn read(module: &starlark::syntax::AstModule) -> ReasonBranches {
    let mut aliases: BTreeSet<String> = BTreeSet::from(["reason".to_owned()]);
    each_statement(module.statement(), &mut |statement| {
        if let StmtP::Assign(assign) = &statement.node {
            if let (AssignTargetP::Identifier(name), true) =
                (&assign.lhs.node, is_reason_attribute(&assign.rhs))
            {
                aliases.insert(name.node.ident.clone());
            }
        }
    });
    let dicts: BTreeMap<String, BTreeSet<String>> = top_level_statements(module)
        .into_iter()
        .filter_map(|statement| match &statement.node {
            StmtP::Assign(assign) => match (&assign.lhs.node, &assign.rhs.node) {
                (AssignTargetP::Identifier(name), ExprP::Dict(entries)) => Some((
                    name.node.ident.clone(),
                    entries
                        .iter()
                        .filter_map(|(key, _)| string_literal(key))
                        .collect(),
                )),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let is_reason = |expr: &AstExpr| {
        is_reason_attribute(expr)
            || matches!(&expr.node, ExprP::Identifier(name) if aliases.contains(&name.node.ident))
    };
    let mut found = ReasonBranches::default();
    each_expr(module.statement(), &mut |expr| match &expr.node {
        ExprP::Op(left, BinOp::Equal | BinOp::NotEqual | BinOp::In | BinOp::NotIn, right) => {
            for (this, other) in [(left, right), (right, left)] {
                if is_reason(this) {
                    let named = literals(other);
                    if !named.is_empty() {
                        found.branches = true;
                        found.handled.extend(named);
                    }
                }
            }
        }
        ExprP::Index(pair) if is_reason(&pair.1) => {
            if let Some(keys) = dict_named(&pair.0, &dicts) {
                found.branches = true;
                found.handled.extend(keys.iter().cloned());
            }
        }
        ExprP::Call(function, arguments) => {
            if let ExprP::Dot(object, method) = &function.node {
                let first = arguments.args.first().map(|argument| argument.node.expr());
                if method.node == "get" && first.is_some_and(is_reason) {
                    if let Some(keys) = dict_named(object, &dicts) {
                        found.branches = true;
                        found.handled.extend(keys.iter().cloned());
                    }
                }
            }
        }
        _ => {}
    });
    found
}

/// `X.reason`, whatever `X` is called (the entry point's parameter may be renamed).
fn is_reason_attribute(expr: &AstExpr) -> bool {
    matches!(&expr.node, ExprP::Dot(_, attribute) if attribute.node == "reason")
}

/// A string literal, or the string literals of a list, tuple or `set([…])` of them.
fn literals(expr: &AstExpr) -> Vec<String> {
    match &expr.node {
        ExprP::Literal(AstLiteral::String(text)) => vec![text.node.clone()],
        ExprP::List(items) | ExprP::Tuple(items) => items.iter().filter_map(string_literal).collect(),
        ExprP::Call(function, arguments) if matches!(&function.node, ExprP::Identifier(name) if name.node.ident == "set") => {
            arguments
                .args
                .first()
                .map(|argument| literals(argument.node.expr()))
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn string_literal(expr: &AstExpr) -> Option<String> {
    match &expr.node {
        ExprP::Literal(AstLiteral::String(text)) => Some(text.node.clone()),
        _ => None,
    }
}

fn dict_named<'d>(
    expr: &AstExpr,
    dicts: &'d BTreeMap<String, BTreeSet<String>>,
) -> Option<&'d BTreeSet<String>> {
    match &expr.node {
        ExprP::Identifier(name) => dicts.get(&name.node.ident),
        _ => None,
    }
}

/// Calls `f` on `statement` and every statement nested in it.
fn each_statement<'a>(statement: &'a AstStmt, f: &mut dyn FnMut(&'a AstStmt)) {
    f(statement);
    statement.visit_children(|child| {
        if let Visit::Stmt(child) = child {
            each_statement(child, f);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handled(source: &str) -> ReasonBranches {
        reason_branches(source, &|| false)
    }

    fn named(reasons: &[&str]) -> ReasonBranches {
        ReasonBranches {
            branches: true,
            handled: reasons.iter().map(|reason| reason.to_string()).collect(),
        }
    }

    #[test]
    fn comparisons_with_the_reason_name_what_is_handled() {
        let source = "def instance_placement(request, candidate_members):\n    \
                      if request.reason == \"new\":\n        pass\n    \
                      elif \"evacuation\" == request.reason:\n        pass\n    \
                      elif request.reason in [\"relocation\", \"x\"]:\n        pass\n";
        assert_eq!(handled(source), named(&["evacuation", "new", "relocation", "x"]));
    }

    #[test]
    fn a_name_bound_to_the_reason_and_a_dict_of_handlers_count_too() {
        let alias = "def instance_placement(request, candidate_members):\n    \
                     why = request.reason\n    \
                     if why != \"rebalance\":\n        pass\n";
        assert_eq!(handled(alias), named(&["rebalance"]));
        let dispatch = "def spread(r, c):\n    pass\n\n\
                        HANDLERS = {\"new\": spread, \"evacuation\": spread}\n\n\
                        def instance_placement(request, candidate_members):\n    \
                        HANDLERS[request.reason](request, candidate_members)\n";
        assert_eq!(handled(dispatch), named(&["evacuation", "new"]));
        let lookup = "HANDLERS = {\"relocation\": None}\n\n\
                      def instance_placement(request, candidate_members):\n    \
                      HANDLERS.get(request.reason)\n";
        assert_eq!(handled(lookup), named(&["relocation"]));
    }

    #[test]
    fn a_scriptlet_that_only_reads_the_reason_does_not_branch_on_it() {
        let logs = "def instance_placement(request, candidate_members):\n    \
                    log_info(\"reason: \", request.reason)\n";
        assert_eq!(handled(logs), ReasonBranches::default());
        assert_eq!(handled("def broken(:\n"), ReasonBranches::default());
    }
}
