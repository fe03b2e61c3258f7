//! An Incus-compatible placement scriptlet engine on the `starlark` crate.
//!
//! [`check`] answers what Incus answers when the scriptlet is set (`PATCH /1.0`): the same
//! dialect (no `while`, no top-level `if`/`for`, no global reassignment, no `load`, `set()` from
//! 6.0.5/6.14), the same 11 builtins allow-listed and unbound while the top level runs, and the
//! same `instance_placement(request, candidate_members)` entry point check. [`Scriptlet::evaluate`]
//! runs one placement call as Incus does, answering builtins from a [`PreparedCluster`].
//!
//! Bounds Incus lacks (steps, heap, call depth, and a cancellation hook for wall time) apply to
//! both. They stop runaway loops but cannot interrupt one native operation (`'x' * 2000000000`);
//! hard memory and CPU bounds need a process boundary, which `server`'s sandbox provides.
//! Time is not read here: the caller passes a cancellation predicate and measures durations.

mod builtins;
mod cluster;
mod diagnostic;
mod go_value;
mod lints;
mod marshal;
mod recursion;
mod request;
pub mod schema;
mod syntax_walk;
mod validate;
mod version;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};
use starlark::environment::{FrozenModule, Globals, GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::Evaluator;
use starlark::syntax::ast::{AssignTargetP, ExprP, StmtP};
use starlark::syntax::{AstModule, Dialect, DialectTypes};
use starlark::values::list::AllocList;
use starlark::values::OwnedFrozenValue;

pub use builtins::{BuiltinCall, LogLine, BUILTIN_NAMES};
pub use cluster::PreparedCluster;
pub use diagnostic::{Diagnostic, ErrorKind, Severity};
pub use request::{InstanceSource, PlacementRequest};
pub use version::{BadVersion, IncusVersion};

use builtins::{placement_builtins, Context, PlacementScope};
use syntax_walk::{each_expr, position};

/// The module name Incus compiles scriptlets under; it appears in its error positions.
pub const FILE_NAME: &str = "instance_placement";

/// The entry point and the parameter names Incus requires of it.
const ENTRY_POINT: &str = "instance_placement";
const PARAMETERS: [&str; 2] = ["request", "candidate_members"];

/// go.starlark.net's universe: the only names besides the builtins a scriptlet may use
/// (`set` only where the version allows it).
const GO_UNIVERSE: [&str; 33] = [
    "None",
    "True",
    "False",
    "abs",
    "all",
    "any",
    "bool",
    "bytes",
    "chr",
    "dict",
    "dir",
    "enumerate",
    "fail",
    "float",
    "getattr",
    "hasattr",
    "hash",
    "int",
    "len",
    "list",
    "max",
    "min",
    "ord",
    "print",
    "range",
    "repr",
    "reversed",
    "set",
    "sorted",
    "str",
    "tuple",
    "type",
    "zip",
];

/// Bounds on one compilation or evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Starlark steps: function calls and loop iterations.
    pub max_steps: u64,
    /// Bytes of Starlark heap (best effort: checked between operations).
    pub max_heap_bytes: usize,
    /// Nested calls (Incus refuses recursion outright; this bounds it here).
    pub max_call_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 10_000_000,
            max_heap_bytes: 256 << 20,
            max_call_depth: 100,
        }
    }
}

/// What Incus would say of a scriptlet, plus Berth's fidelity warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub incus_version: String,
    pub accepted: bool,
    /// An empty scriptlet: Incus's default placement applies.
    pub empty: bool,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// The outcome of one placement call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The member chosen with `set_target`; `None`: Incus's built-in choice applies (or the
    /// call failed, see `error`).
    pub target: Option<String>,
    pub logs: Vec<LogLine>,
    pub trace: Vec<BuiltinCall>,
    pub error: Option<Diagnostic>,
    pub steps: u64,
    pub heap_peak_bytes: usize,
}

impl Evaluation {
    /// An evaluation that ended before the scriptlet produced anything.
    pub fn failed(error: Diagnostic) -> Evaluation {
        Evaluation {
            target: None,
            logs: Vec::new(),
            trace: Vec::new(),
            error: Some(error),
            steps: 0,
            heap_peak_bytes: 0,
        }
    }
}

/// The members, request and location of one placement call.
pub struct PlacementCall<'a> {
    pub request: &'a PlacementRequest,
    /// Candidate member names, in the order Incus passes them.
    pub candidates: &'a [String],
    /// The member the scriptlet runs on (its own resources are always readable).
    pub local_member: &'a str,
}

/// A validated scriptlet, ready to evaluate any number of times from any thread.
pub struct Scriptlet {
    version: IncusVersion,
    /// Functions that may recurse, watched at run time (see `recursion`).
    recursive: BTreeSet<String>,
    entry: OwnedFrozenValue,
    // Keeps the heap of `entry` alive.
    _module: FrozenModule,
    pub warnings: Vec<Diagnostic>,
}

/// Validates `source` as Incus `version` does when it is set.
pub fn check(
    source: &str,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
) -> CheckReport {
    let warnings = if source.is_empty() {
        Vec::new()
    } else {
        lints::fidelity_warnings(source)
    };
    let (accepted, empty, errors) = match compile(source, version, limits, cancelled) {
        Ok(None) => (true, true, Vec::new()),
        Ok(Some(_)) => (true, false, Vec::new()),
        Err(error) => (false, false, vec![error]),
    };
    CheckReport {
        incus_version: version.to_string(),
        accepted,
        empty,
        errors,
        warnings,
    }
}

/// Compiles and validates; `Ok(None)` for the empty scriptlet (no scriptlet at all).
pub fn compile(
    source: &str,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<Scriptlet>, Diagnostic> {
    // Only the exact empty string unsets the key; a newline is a scriptlet without a function.
    if source.is_empty() {
        return Ok(None);
    }
    guard(|| compile_inner(source, version, limits, cancelled)).map(Some)
}

fn compile_inner(
    source: &str,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
) -> Result<Scriptlet, Diagnostic> {
    let ast = AstModule::parse(FILE_NAME, source.to_owned(), &dialect())
        .map_err(|error| diagnose(&error, ErrorKind::Syntax))?;
    let globals = globals(version);
    check_names(&ast, source, &globals, version)?;
    validate::check_global_reassignment(&ast, source)?;
    validate::check_top_level_builtins(&ast, source)?;
    let recursive = recursion::recursive_functions(&ast);
    let declared_parameters = syntax_walk::top_level_statements(&ast)
        .iter()
        .rev()
        .find_map(|statement| match &statement.node {
            StmtP::Def(def) if def.name.node.ident == ENTRY_POINT => Some(
                def.params
                    .iter()
                    .filter_map(|p| p.node.ident())
                    .map(|i| i.ident.clone())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        });

    let context = Context::new(version, None);
    let module = Module::with_temp_heap(|module| -> Result<FrozenModule, Diagnostic> {
        {
            let mut eval = Evaluator::new(&module);
            apply_limits(&mut eval, limits, cancelled)?;
            recursion::guard_against(&mut eval, &recursive);
            eval.extra = Some(&context);
            eval.set_print_handler(&context);
            eval.eval_module(ast, &globals)
                .map_err(|error| diagnose(&error, ErrorKind::Validation))?;
        }
        module
            .freeze()
            .map_err(|error| Diagnostic::error(ErrorKind::Internal, format!("{error:?}")))
    })?;

    let entry = module
        .get_option(ENTRY_POINT)
        .map_err(|error| Diagnostic::error(ErrorKind::Internal, error.to_string()))?
        .ok_or_else(|| {
            Diagnostic::error(
                ErrorKind::Validation,
                format!("the function \"{ENTRY_POINT}\" is required but has not been found in the scriptlet"),
            )
        })?;
    check_entry_point(&entry, declared_parameters)?;
    Ok(Scriptlet {
        version,
        recursive,
        entry,
        _module: module,
        warnings: lints::fidelity_warnings(source),
    })
}

impl Scriptlet {
    /// Runs `instance_placement(request=…, candidate_members=…)` as Incus calls it.
    pub fn evaluate(
        &self,
        cluster: &PreparedCluster,
        call: &PlacementCall,
        limits: &Limits,
        cancelled: &dyn Fn() -> bool,
    ) -> Evaluation {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.evaluate_inner(cluster, call, limits, cancelled)
        }));
        match outcome {
            Ok(evaluation) => evaluation,
            Err(panic) => Evaluation::failed(Diagnostic::error(ErrorKind::Internal, panic_message(&panic))),
        }
    }

    fn evaluate_inner(
        &self,
        cluster: &PreparedCluster,
        call: &PlacementCall,
        limits: &Limits,
        cancelled: &dyn Fn() -> bool,
    ) -> Evaluation {
        let scope = PlacementScope {
            cluster,
            request: call.request,
            candidates: call.candidates,
            local_member: call.local_member,
        };
        let context = Context::new(self.version, Some(scope));
        let (result, steps, heap_peak_bytes) = Module::with_temp_heap(|module| {
            let heap = module.heap();
            // Builtins hand out values of the prepared cluster's frozen heaps: keep them alive.
            for frozen in cluster.frozen_heaps() {
                heap.add_reference(frozen);
            }
            let mut eval = Evaluator::new(&module);
            if let Err(error) = apply_limits(&mut eval, limits, cancelled) {
                return (Err(error), 0, 0);
            }
            recursion::guard_against(&mut eval, &self.recursive);
            eval.extra = Some(&context);
            eval.set_print_handler(&context);
            let request = marshal::request(call.request, self.version).to_starlark(heap);
            let members = call.candidates.iter().filter_map(|name| cluster.member(name));
            let candidates = heap.alloc(AllocList(members.map(|member| member.value.to_starlark(heap))));
            let function = heap.access_owned_frozen_value(&self.entry);
            let result = eval
                .eval_function(
                    function,
                    &[],
                    &[("request", request), ("candidate_members", candidates)],
                )
                .map_err(|error| diagnose(&error, ErrorKind::Runtime))
                .and_then(|returned| {
                    if returned.is_none() {
                        Ok(())
                    } else {
                        Err(Diagnostic::error(
                            ErrorKind::ReturnValue,
                            format!("Failed with unexpected return value: {}", returned.to_repr()),
                        ))
                    }
                });
            (result, eval.get_total_tick_count(), heap.peak_allocated_bytes())
        });
        let error = result.err();
        Evaluation {
            // A failed call places nothing, whatever it set before failing.
            target: if error.is_none() {
                context.target.borrow().clone()
            } else {
                None
            },
            logs: context.logs.take(),
            trace: context.trace.take(),
            error,
            steps,
            heap_peak_bytes,
        }
    }
}

fn dialect() -> Dialect {
    Dialect {
        enable_def: true,
        enable_lambda: true,
        enable_load: false,
        enable_keyword_only_arguments: true,
        enable_positional_only_arguments: false,
        enable_types: DialectTypes::Disable,
        enable_load_reexport: false,
        enable_top_level_stmt: false,
        enable_f_strings: false,
        ..Dialect::Standard
    }
}

fn globals(version: IncusVersion) -> Globals {
    let mut extensions = vec![LibraryExtension::Print];
    if version.allows_set() {
        extensions.push(LibraryExtension::SetType);
    }
    GlobalsBuilder::extended_by(&extensions)
        .with(placement_builtins)
        .build()
}

fn apply_limits<'a>(
    eval: &mut Evaluator<'_, 'a, '_>,
    limits: &Limits,
    cancelled: &'a dyn Fn() -> bool,
) -> Result<(), Diagnostic> {
    let internal = |error: anyhow::Error| Diagnostic::error(ErrorKind::Internal, error.to_string());
    eval.set_max_tick_count(limits.max_steps).map_err(internal)?;
    eval.set_max_heap_size(limits.max_heap_bytes).map_err(internal)?;
    eval.set_max_callstack_size(limits.max_call_depth)
        .map_err(internal)?;
    eval.set_check_cancelled(Box::new(cancelled));
    Ok(())
}

/// Names go.starlark.net would not resolve but the `starlark` crate's globals define
/// (e.g. `set` before 6.0.5, or extra standard functions): Incus refuses them as undefined.
fn check_names(
    ast: &AstModule,
    source: &str,
    globals: &Globals,
    version: IncusVersion,
) -> Result<(), Diagnostic> {
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
    each_expr(ast.statement(), &mut |expr| match &expr.node {
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
    collect_bindings(ast.statement(), &mut bound);
    for (name, span) in used {
        if extra.contains(&name) && !bound.contains(&name) {
            let (line, column) = position(ast, span);
            let message = if name == "set" {
                "this Starlark dialect does not support sets".to_owned()
            } else {
                format!("undefined: {name}")
            };
            return Err(Diagnostic::error(ErrorKind::Validation, message).at(source, line, column));
        }
    }
    Ok(())
}

fn collect_bindings(stmt: &starlark::syntax::ast::AstStmt, bound: &mut BTreeSet<String>) {
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

fn bind_targets(target: &starlark::syntax::ast::AstAssignTarget, bound: &mut BTreeSet<String>) {
    match &target.node {
        AssignTargetP::Identifier(ident) => {
            bound.insert(ident.node.ident.clone());
        }
        AssignTargetP::Tuple(targets) => targets.iter().for_each(|t| bind_targets(t, bound)),
        AssignTargetP::Index(_) | AssignTargetP::Dot(..) => {}
    }
}

/// `instance_placement` must be a function whose parameter names, sorted (`*args` and
/// `**kwargs` included), are `candidate_members` and `request`. The names come from its `def`
/// when there is one (the crate's documentation calls `*x` "args"), else from the value.
fn check_entry_point(entry: &OwnedFrozenValue, declared: Option<Vec<String>>) -> Result<(), Diagnostic> {
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

/// An error from the `starlark` crate as a diagnostic: its kind, the message without the
/// crate's decoration, the innermost position, and the rendered snippet or traceback.
fn diagnose(error: &starlark::Error, default: ErrorKind) -> Diagnostic {
    use starlark::ErrorKind as Starlark;
    let message = incus_wording(&error.without_diagnostic().to_string());
    let kind = match error.kind() {
        Starlark::Parser(_) => ErrorKind::Syntax,
        Starlark::Fail(_) => ErrorKind::Fail,
        Starlark::StackOverflow(_) => ErrorKind::StackOverflow,
        Starlark::Scope(_) => ErrorKind::Validation,
        _ if message.contains("ticks has been exceeded") => ErrorKind::StepLimit,
        _ if message.contains("Heap memory limit") => ErrorKind::HeapLimit,
        _ if message.contains("Evaluation cancelled") => ErrorKind::Timeout,
        _ => default,
    };
    let mut diagnostic = Diagnostic::error(kind, message);
    if let Some(span) = error.span() {
        let begin = span.resolve_span().begin;
        diagnostic.line = Some(begin.line + 1);
        diagnostic.column = Some(begin.column + 1);
    }
    // The crate renders the snippet (or the traceback) itself.
    diagnostic.rendered = error.to_string();
    diagnostic
}

/// The `starlark` crate's message for what Incus refuses, in go.starlark.net's words where
/// they differ only in wording, so authors see what `incus config set` would print.
fn incus_wording(message: &str) -> String {
    let fixed = [
        (
            "Parse error: cannot use reserved keyword `while`",
            "this Starlark dialect does not support while loops",
        ),
        (
            "`for` cannot be used outside `def` in this dialect",
            "for loop not within a function",
        ),
        (
            "`if` cannot be used outside `def` in this dialect",
            "if statement not within a function",
        ),
        (
            "`load` is not allowed in this dialect",
            "load not implemented by this application",
        ),
    ];
    if let Some((_, incus)) = fixed.iter().find(|(ours, _)| message == *ours) {
        return (*incus).to_owned();
    }
    // "Variable `x` not found, did you mean `y`?" -> "undefined: x"
    if let Some(rest) = message.strip_prefix("Variable `") {
        if let Some((name, _)) = rest.split_once("` not found") {
            return if name == "set" {
                "this Starlark dialect does not support sets".to_owned()
            } else {
                format!("undefined: {name}")
            };
        }
    }
    message.to_owned()
}

/// Runs `f`, turning a panic inside the `starlark` crate into an internal error.
fn guard<T>(f: impl FnOnce() -> Result<T, Diagnostic>) -> Result<T, Diagnostic> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(Diagnostic::error(ErrorKind::Internal, panic_message(&panic))))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("the scriptlet engine failed: {detail}")
}
