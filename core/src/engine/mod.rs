//! An Incus-compatible placement scriptlet engine on the `starlark` crate.
//!
//! [`check`] answers what Incus answers when the scriptlet is set (`PATCH /1.0`): the same
//! lexical rules (go.starlark.net's scanner runs first, see `dialect::lexical`), the same
//! dialect (no `while`, no top-level `if`/`for`, no global reassignment, no `load`, `set()` from
//! 6.0.5/6.14), the same 11 builtins allow-listed and unbound while the top level runs, and the
//! same `instance_placement(request, candidate_members)` entry point check. [`Scriptlet::evaluate`]
//! runs one placement call as Incus does, answering builtins from a [`PreparedCluster`].
//!
//! Bounds Incus lacks (steps, heap, call depth, and a cancellation hook for wall time) apply to
//! both. They stop runaway loops but cannot interrupt one native operation (`'x' * 2000000000`);
//! hard memory and CPU bounds need a process boundary, which `server`'s sandbox provides.
//! Time is not read here: the caller passes a cancellation predicate and measures durations.

mod builtin_names;
mod builtins;
mod cluster;
mod diagnostic;
mod dialect;
mod go_value;
mod lints;
mod marshal;
mod memo;
mod reasons;
mod recursion;
mod request;
pub mod schema;
mod stack;
mod syntax_walk;
mod version;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};
use starlark::environment::{FrozenModule, Globals, GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::Evaluator;
use starlark::values::list::AllocList;
use starlark::values::{OwnedFrozenValue, ValueLike};

pub use builtin_names::BUILTIN_NAMES;
pub use builtins::{BuiltinCall, LogLevel, LogLine};
pub use cluster::{Checkpoint, PreparedCluster};
pub use diagnostic::{Diagnostic, ErrorKind, Severity};
pub use reasons::{reason_branches, ReasonBranches};
pub use request::{InstanceSource, PlacementRequest};
pub use version::{BadVersion, IncusVersion};

use builtins::{placement_builtins, Context, PlacementScope};
use diagnostic::{diagnose, panic_diagnostic};
use dialect::entry_point::{self, ENTRY_POINT};
use dialect::lexical::SourceMap;
use dialect::Parsed;

/// The module name Incus compiles scriptlets under; it appears in its error positions.
pub const FILE_NAME: &str = "instance_placement";

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

/// What an evaluation keeps besides its decision (the target or the error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Logs and the builtin trace, for an author reading one call.
    Everything,
    /// Nothing more, for replays of thousands of calls (see [`compile_for_replay`]).
    DecisionOnly,
}

impl Recording {
    pub fn keeps_details(self) -> bool {
        self == Recording::Everything
    }
}

/// A validated scriptlet, ready to evaluate any number of times from any thread.
pub struct Scriptlet {
    version: IncusVersion,
    recording: Recording,
    /// Functions that may recurse, watched at run time (see `recursion`).
    recursive: BTreeSet<String>,
    entry: OwnedFrozenValue,
    // Keeps the heap of `entry` alive.
    _module: FrozenModule,
    /// For run-time errors: positions and names in the author's terms.
    source: String,
    map: SourceMap,
    pub warnings: Vec<Diagnostic>,
}

/// Validates `source` as Incus `version` does when it is set.
pub fn check(
    source: &str,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
) -> CheckReport {
    if source.is_empty() {
        return CheckReport {
            incus_version: version.to_string(),
            accepted: true,
            empty: true,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
    }
    let (result, warnings) = guard_compile(source, version, limits, cancelled, Recording::Everything);
    let errors: Vec<Diagnostic> = result.err().into_iter().collect();
    CheckReport {
        incus_version: version.to_string(),
        accepted: errors.is_empty(),
        empty: false,
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
    compile_recording(source, version, limits, cancelled, Recording::Everything)
}

/// As [`compile`], for a replay: many calls on one cluster state where only decisions count.
/// Its evaluations keep no logs and no trace, and its pure functions are memoized per cluster
/// state (see `memo`), so a helper that scans the cluster runs once per distinct arguments
/// instead of once per call. Decisions are those [`compile`]'s scriptlet makes.
pub fn compile_for_replay(
    source: &str,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<Scriptlet>, Diagnostic> {
    compile_recording(source, version, limits, cancelled, Recording::DecisionOnly)
}

fn compile_recording(
    source: &str,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
    recording: Recording,
) -> Result<Option<Scriptlet>, Diagnostic> {
    // Only the exact empty string unsets the key; a newline is a scriptlet without a function.
    if source.is_empty() {
        return Ok(None);
    }
    let (result, warnings) = guard_compile(source, version, limits, cancelled, recording);
    result.map(|mut scriptlet| {
        scriptlet.warnings = warnings;
        Some(scriptlet)
    })
}

/// [`compile_parsed`] with the fidelity warnings of a scriptlet that parses, refused or not,
/// on a stack deep enough for the source (see `stack`); a panic inside the `starlark` crate
/// becomes an internal error.
fn guard_compile(
    source: &str,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
    recording: Recording,
) -> (Result<Scriptlet, Diagnostic>, Vec<Diagnostic>) {
    let lexed = dialect::lexical::scan(source);
    let needed = stack::bytes_for(lexed.nesting);
    let outcome = stack::run(needed, cancelled, |cancelled| {
        let mut warnings = Vec::new();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let parsed = dialect::parse_scanned(source, lexed)?;
            warnings = lints::fidelity_warnings(&parsed);
            compile_parsed(parsed, version, limits, cancelled, recording)
        }))
        .unwrap_or_else(|panic| Err(panic_diagnostic(&panic)));
        (result, warnings)
    });
    outcome.unwrap_or_else(|error| (Err(error), Vec::new()))
}

/// The dialect's checks on the parsed scriptlet, then its top level run as Incus runs it
/// when the scriptlet is set, then the entry point's checks. For a replay, the pure functions
/// are replaced by memoizing wrappers before the module is frozen, so that every function
/// calling them calls the wrapper.
fn compile_parsed(
    parsed: Parsed,
    version: IncusVersion,
    limits: &Limits,
    cancelled: &dyn Fn() -> bool,
    recording: Recording,
) -> Result<Scriptlet, Diagnostic> {
    let globals = globals(version);
    dialect::names::check_names(&parsed, &globals, version)?;
    dialect::globals::check_global_reassignment(&parsed)?;
    dialect::globals::check_top_level_builtins(&parsed)?;
    let recursive = recursion::recursive_functions(&parsed.ast);
    let declared_parameters = entry_point::declared_parameters(&parsed);
    let purity = match recording {
        Recording::DecisionOnly => Some(memo::purity::Purity::of(&parsed.ast, ENTRY_POINT, &recursive)),
        Recording::Everything => None,
    };
    let Parsed { ast, source, map, .. } = parsed;
    let mut memoized = std::collections::BTreeSet::new();

    let context = Context::new(version, None);
    let module = Module::with_temp_heap(|module| -> Result<FrozenModule, Diagnostic> {
        {
            let mut eval = Evaluator::new(&module);
            apply_limits(&mut eval, limits, cancelled)?;
            recursion::guard_against(&mut eval, &recursive);
            eval.extra = Some(&context);
            eval.set_print_handler(&context);
            eval.eval_module(ast, &globals)
                .map_err(|error| map.translate(diagnose(&error, ErrorKind::Validation), source))?;
        }
        if let Some(purity) = &purity {
            let is_plain = |name: &str| module.get(name).is_some_and(memo::is_plain_data);
            memoized = purity.confirm(&is_plain);
            for name in &memoized {
                if let Some(function) = module.get(name) {
                    module.set(&memo::unwrapped_name(name), function);
                    module.set(name, module.heap().alloc(memo::Memoized::new(name)));
                }
            }
        }
        module
            .freeze()
            .map_err(|error| Diagnostic::error(ErrorKind::Internal, format!("{error:?}")))
    })?;

    let entry = module
        .get_option(ENTRY_POINT)
        .map_err(|error| Diagnostic::error(ErrorKind::Internal, error.to_string()))?
        .ok_or_else(entry_point::missing)?;
    entry_point::check(&entry, declared_parameters)?;
    bind_memoized(&module, &memoized);
    Ok(Scriptlet {
        version,
        recording,
        recursive,
        entry,
        _module: module,
        source: source.to_owned(),
        map,
        warnings: Vec::new(),
    })
}

/// Points each memoizing wrapper of the frozen `module` at the function it stands for. Both
/// live on the module's heap, so the function lives as long as its wrapper.
fn bind_memoized(module: &FrozenModule, names: &std::collections::BTreeSet<String>) {
    for name in names {
        let (Ok(wrapper), Ok(function)) = (module.get(name), module.get(&memo::unwrapped_name(name))) else {
            continue;
        };
        if let Some(wrapper) = wrapper.value().downcast_ref::<memo::Memoized>() {
            function.map(|function| {
                wrapper.bind(function);
                function
            });
        }
    }
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
            Err(panic) => Evaluation::failed(panic_diagnostic(&panic)),
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
            candidates: call.candidates.iter().map(String::as_str).collect(),
            local_member: call.local_member,
        };
        let mut context = Context::new(self.version, Some(scope));
        context.recording = self.recording;
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
                .map_err(|error| {
                    self.map
                        .translate(diagnose(&error, ErrorKind::Runtime), &self.source)
                })
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
