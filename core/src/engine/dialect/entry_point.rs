//! Incus's checks of the entry point once the top level has run: `instance_placement` must
//! exist, be a function, and take exactly `request` and `candidate_members`.

use starlark::syntax::ast::StmtP;
use starlark::values::OwnedFrozenValue;

use super::super::diagnostic::{Diagnostic, ErrorKind};
use super::super::syntax_walk::top_level_statements;
use super::Parsed;

/// The entry point and the parameter names Incus requires of it.
pub const ENTRY_POINT: &str = "instance_placement";
const PARAMETERS: [&str; 2] = ["request", "candidate_members"];

/// The parameter names of the last top-level `def instance_placement`, if any (the
/// `starlark` crate's documentation of a function calls `*x` "args", so its own words are
/// read when there is a `def`).
pub fn declared_parameters(parsed: &Parsed) -> Option<Vec<String>> {
    top_level_statements(&parsed.ast)
        .iter()
        .rev()
        .find_map(|statement| match &statement.node {
            StmtP::Def(def) if def.name.node.ident == ENTRY_POINT => Some(
                def.params
                    .iter()
                    .filter_map(|p| p.node.ident())
                    .map(|i| parsed.map.names(&i.ident))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
}

/// The error Incus gives when the module defines no `instance_placement`.
pub fn missing() -> Diagnostic {
    Diagnostic::error(
        ErrorKind::Validation,
        format!("the function \"{ENTRY_POINT}\" is required but has not been found in the scriptlet"),
    )
}

/// `instance_placement` must be a function whose parameter names, sorted (`*args` and
/// `**kwargs` included), are `candidate_members` and `request`. The names come from its `def`
/// when there is one, else from the value (a lambda).
pub fn check(entry: &OwnedFrozenValue, declared: Option<Vec<String>>) -> Result<(), Diagnostic> {
    let value = entry.value();
    if value.get_type() != "function" {
        return Err(Diagnostic::error(
            ErrorKind::Validation,
            format!(
                "\"{ENTRY_POINT}\" should define the scriptlet’s required function of the same name (found a value of type {} instead)",
                value.get_type()
            ),
        ));
    }
    let names = match declared {
        Some(names) => names,
        None => match value.documentation() {
            starlark::docs::DocItem::Member(starlark::docs::DocMember::Function(function)) => {
                let params = function.params;
                params
                    .pos_only
                    .iter()
                    .chain(&params.pos_or_named)
                    .chain(&params.args)
                    .chain(&params.named_only)
                    .chain(&params.kwargs)
                    .map(|param| param.name.clone())
                    .collect::<Vec<_>>()
            }
            _ => {
                return Err(Diagnostic::error(
                    ErrorKind::Internal,
                    "cannot read the parameters of instance_placement",
                ))
            }
        },
    };
    let quoted = |names: &[String]| {
        format!(
            "[{}]",
            names
                .iter()
                .map(|name| format!("{name:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let expected: Vec<String> = PARAMETERS.iter().map(|name| name.to_string()).collect();
    if names.len() != expected.len() {
        return Err(Diagnostic::error(
            ErrorKind::Validation,
            format!(
                "the required function \"{ENTRY_POINT}\" defines arguments {} (expected {})",
                quoted(&names),
                quoted(&expected)
            ),
        ));
    }
    let (mut sorted, mut expected_sorted) = (names, expected);
    sorted.sort();
    expected_sorted.sort();
    if sorted != expected_sorted {
        return Err(Diagnostic::error(
            ErrorKind::Validation,
            format!(
                "the required function \"{ENTRY_POINT}\" defines arguments {} (expected {})",
                quoted(&sorted),
                quoted(&expected_sorted)
            ),
        ));
    }
    Ok(())
}
