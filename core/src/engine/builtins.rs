//! The 11 placement builtins, answered from a [`PreparedCluster`] with Incus's argument order,
//! `None` handling and errors, and a trace of every call for the author.

use std::cell::RefCell;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use starlark::any::ProvidesStaticType;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::none::{NoneOr, NoneType};
use starlark::values::tuple::UnpackTuple;
use starlark::values::{Heap, Value, ValueLike};

use super::builtin_names::uninitialized;
use super::cluster::{CreateProgress, PreparedCluster};
use super::go_value::{GoValue, IncusObject};
use super::marshal;
use super::request::PlacementRequest;
use super::version::IncusVersion;
use super::Recording;
use crate::units::parse_bytes;

/// One line a scriptlet logged. `print` output is kept too (level `print`), although Incus
/// sends it to the daemon's stderr rather than its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// Which builtin wrote a [`LogLine`]; serialized as `info`, `warn`, `error`, `print` (a
/// contract of the API and the CLI's JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// `log_info`
    Info,
    /// `log_warn`
    Warn,
    /// `log_error`
    Error,
    /// `print`
    Print,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Print => "print",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One builtin call: its arguments and a short summary of what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltinCall {
    pub builtin: String,
    pub arguments: String,
    pub result: String,
}

/// What the builtins see of one placement call.
pub(crate) struct PlacementScope<'a> {
    pub cluster: &'a PreparedCluster,
    pub request: &'a PlacementRequest,
    /// The call's candidate members, by name.
    pub candidates: HashSet<&'a str>,
    pub local_member: &'a str,
}

/// The evaluator's `extra`: the scope (absent while the top level runs) and what the
/// scriptlet produced.
#[derive(ProvidesStaticType)]
pub(crate) struct Context<'a> {
    pub version: IncusVersion,
    pub scope: Option<PlacementScope<'a>>,
    pub logs: RefCell<Vec<LogLine>>,
    pub trace: RefCell<Vec<BuiltinCall>>,
    pub target: RefCell<Option<String>>,
    pub recording: Recording,
}

impl<'a> Context<'a> {
    pub fn new(version: IncusVersion, scope: Option<PlacementScope<'a>>) -> Context<'a> {
        Context {
            version,
            scope,
            logs: RefCell::default(),
            trace: RefCell::default(),
            target: RefCell::default(),
            recording: Recording::Everything,
        }
    }

    /// Traces a builtin call; `describe` gives its arguments and result, formatted only when
    /// the evaluation keeps them.
    fn record(&self, builtin: &str, describe: impl FnOnce() -> (String, String)) {
        if self.recording.keeps_details() {
            let (arguments, result) = describe();
            self.trace.borrow_mut().push(BuiltinCall {
                builtin: builtin.to_owned(),
                arguments,
                result,
            });
        }
    }

    fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        if self.recording.keeps_details() {
            self.logs.borrow_mut().push(LogLine {
                level,
                message: message(),
            });
        }
    }
}

impl starlark::PrintHandler for Context<'_> {
    fn println(&self, text: &str) -> starlark::Result<()> {
        self.log(LogLevel::Print, || text.to_owned());
        Ok(())
    }
}

/// The context of this evaluation and its placement scope, or the error Incus gives when a
/// builtin runs while the top level loads.
fn scope<'c, 'a>(
    eval: &Evaluator<'_, 'c, '_>,
    builtin: &str,
) -> anyhow::Result<(&'c Context<'a>, &'c PlacementScope<'a>)>
where
    'c: 'a,
{
    let context = eval
        .extra
        .and_then(|extra| extra.downcast_ref::<Context>())
        .ok_or_else(|| anyhow::anyhow!("internal error: no placement context"))?;
    match &context.scope {
        Some(scope) => Ok((context, scope)),
        None => Err(anyhow::anyhow!(uninitialized(builtin).message)),
    }
}

/// `log_*` joins its arguments with no separator; strings as they are, other values as
/// their representation (`internal/server/scriptlet/log/logger.go`).
fn join_log_arguments(arguments: &[Value]) -> String {
    let mut text = String::new();
    for argument in arguments {
        match argument.unpack_str() {
            Some(string) => text.push_str(string),
            None => argument.collect_repr(&mut text),
        }
    }
    text
}

fn repr_list(values: &[String]) -> String {
    values
        .iter()
        .map(|value| format!("{value:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn optional(name: &str, value: Option<&str>) -> Option<String> {
    value.map(|value| format!("{name}={value:?}"))
}

/// The fidelity note on a `pending=True` count that includes finished creates: Incus counts a
/// create for 5 s after it finished, and neither a snapshot nor a simulated sequence knows
/// when the real call will come.
fn finished_creates_note(counted: &[CreateProgress]) -> String {
    let count = |progress| counted.iter().filter(|&&counted| counted == progress).count();
    let (before, simulated) = (
        count(CreateProgress::FinishedBeforeSnapshot),
        count(CreateProgress::FinishedInSimulation),
    );
    let creates = |n: usize| {
        if n == 1 {
            "1 create".to_owned()
        } else {
            format!("{n} creates")
        }
    };
    let which = match (before, simulated) {
        (0, 0) => return String::new(),
        (before, 0) => format!("{} that finished just before the snapshot", creates(before)),
        (0, simulated) => format!("{} made earlier in this simulation", creates(simulated)),
        (before, simulated) => format!(
            "{} that finished just before the snapshot and {} made earlier in this simulation",
            creates(before),
            creates(simulated)
        ),
    };
    format!(
        " (fidelity: includes {which}; Incus counts a create as pending until 5 s after it \
         finishes, so a call later than that counts fewer)"
    )
}

/// `limits.cpu` as a count of CPUs: a number, or a set such as `0-3,8`.
fn cpu_count(limit: &str) -> Option<u64> {
    if let Ok(count) = limit.trim().parse::<u64>() {
        return Some(count);
    }
    let mut count = 0;
    for part in limit.split(',') {
        match part.trim().split_once('-') {
            Some((low, high)) => {
                let (low, high): (u64, u64) = (low.trim().parse().ok()?, high.trim().parse().ok()?);
                count += high.checked_sub(low)? + 1;
            }
            None => {
                part.trim().parse::<u64>().ok()?;
                count += 1;
            }
        }
    }
    Some(count)
}

#[starlark_module]
pub(crate) fn placement_builtins(builder: &mut GlobalsBuilder) {
    fn log_info<'v>(
        #[starlark(args)] args: UnpackTuple<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let (context, _) = scope(eval, "log_info")?;
        context.log(LogLevel::Info, || join_log_arguments(&args.items));
        Ok(NoneType)
    }

    fn log_warn<'v>(
        #[starlark(args)] args: UnpackTuple<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let (context, _) = scope(eval, "log_warn")?;
        context.log(LogLevel::Warn, || join_log_arguments(&args.items));
        Ok(NoneType)
    }

    fn log_error<'v>(
        #[starlark(args)] args: UnpackTuple<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let (context, _) = scope(eval, "log_error")?;
        context.log(LogLevel::Error, || join_log_arguments(&args.items));
        Ok(NoneType)
    }

    fn set_target<'v>(member_name: &str, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<NoneType> {
        let (context, scope) = scope(eval, "set_target")?;
        let is_candidate = scope.candidates.contains(member_name);
        let mut target = context.target.borrow_mut();
        let result = if is_candidate {
            *target = Some(member_name.to_owned());
            "target set".to_owned()
        } else if target.is_some() {
            // Incus checks only whether a target is already set (instance_placement.go L41-51),
            // so a bad name after a good one is silently ignored.
            "ignored: a target was already set".to_owned()
        } else if context.version.set_target_raises() {
            context.record("set_target", || {
                (format!("{member_name:?}"), "error: not a candidate".into())
            });
            return Err(anyhow::anyhow!("Invalid member name: {member_name}"));
        } else {
            "ignored: not a candidate (Incus uses its built-in placement)".to_owned()
        };
        context.record("set_target", || (format!("{member_name:?}"), result));
        Ok(NoneType)
    }

    fn get_cluster_member_resources<'v>(
        member_name: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        member_lookup(eval, "get_cluster_member_resources", member_name, |member| {
            member.resources.as_ref()
        })
    }

    fn get_cluster_member_state<'v>(
        member_name: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        member_lookup(eval, "get_cluster_member_state", member_name, |member| {
            member.state.as_ref()
        })
    }

    fn get_instance_resources<'v>(eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<Value<'v>> {
        let (context, scope) = scope(eval, "get_instance_resources")?;
        let request = scope.request;
        // VM defaults apply only when the request says so; a relocation request has type "".
        let is_vm = request.instance_type == "virtual-machine";
        let cpu_cores = request
            .config
            .get("limits.cpu")
            .and_then(|limit| cpu_count(limit))
            .unwrap_or(if is_vm { 1 } else { 0 });
        let memory_size = request
            .config
            .get("limits.memory")
            .and_then(|limit| parse_bytes(limit))
            .unwrap_or(if is_vm { 1 << 30 } else { 0 });
        let root_disk_size = request
            .devices
            .values()
            .find(|device| {
                device.get("type").map(String::as_str) == Some("disk")
                    && device.get("path").map(String::as_str) == Some("/")
            })
            .and_then(|root| root.get("size"))
            .and_then(|size| parse_bytes(size))
            .unwrap_or(0);
        context.record("get_instance_resources", || {
            (
                String::new(),
                format!("cpu_cores={cpu_cores} memory_size={memory_size} root_disk_size={root_disk_size}"),
            )
        });
        Ok(marshal::instance_resources(cpu_cores, memory_size, root_disk_size).to_starlark(eval.heap()))
    }

    fn get_instances<'v>(
        #[starlark(default = NoneOr::None)] project: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] location: NoneOr<&str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let (context, scope) = scope(eval, "get_instances")?;
        let (project, location) = (project.into_option(), location.into_option());
        let found = scope.cluster.instances_of(project, location);
        let arguments = [optional("project", project), optional("location", location)];
        context.record("get_instances", || {
            (
                arguments.into_iter().flatten().collect::<Vec<_>>().join(", "),
                format!("{} instances", found.len()),
            )
        });
        let heap = eval.heap();
        Ok(heap.alloc(starlark::values::list::AllocList(
            found.into_iter().map(|value| value.to_starlark(heap)),
        )))
    }

    fn get_instances_count<'v>(
        #[starlark(default = NoneOr::None)] project: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] location: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] pending: NoneOr<bool>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<i64> {
        let (context, scope) = scope(eval, "get_instances_count")?;
        let (project, location) = (project.into_option(), location.into_option());
        let pending = pending.into_option().unwrap_or(false);
        let mut count = scope.cluster.instances_of(project, location).len();
        let mut counted_creates = Vec::new();
        if pending {
            counted_creates = scope
                .cluster
                .pending_creates
                .iter()
                .filter(|create| project.is_none_or(|project| create.project == project))
                .filter(|create| location.is_none_or(|location| create.location == location))
                .map(|create| create.progress)
                .collect();
            count += counted_creates.len();
        }
        let mut arguments: Vec<String> = [optional("project", project), optional("location", location)]
            .into_iter()
            .flatten()
            .collect();
        if pending {
            arguments.push("pending=True".into());
        }
        context.record("get_instances_count", || {
            (
                arguments.join(", "),
                format!("{count}{}", finished_creates_note(&counted_creates)),
            )
        });
        Ok(count as i64)
    }

    fn get_cluster_members<'v>(
        #[starlark(default = NoneOr::None)] group: NoneOr<&str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        let (context, scope) = scope(eval, "get_cluster_members")?;
        let group = group.into_option();
        let members = scope.cluster.schedulable_members(group);
        let names: Vec<String> = members
            .iter()
            .map(|member| member.model.server_name.clone())
            .collect();
        context.record("get_cluster_members", || {
            (
                optional("group", group).unwrap_or_default(),
                format!("[{}]", repr_list(&names)),
            )
        });
        let heap = eval.heap();
        Ok(heap.alloc(starlark::values::list::AllocList(
            members.into_iter().map(|member| member.value.to_starlark(heap)),
        )))
    }

    fn get_project<'v>(name: &str, eval: &mut Evaluator<'v, '_, '_>) -> anyhow::Result<Value<'v>> {
        let (context, scope) = scope(eval, "get_project")?;
        match scope.cluster.projects.get(name) {
            Some(project) => {
                context.record("get_project", || (format!("{name:?}"), "project".into()));
                Ok(project.to_starlark(eval.heap()))
            }
            None => {
                context.record("get_project", || (format!("{name:?}"), "error: not found".into()));
                Err(anyhow::anyhow!("Failed to get project: Project not found"))
            }
        }
    }

    /// `type()` as go.starlark.net answers it for Incus's objects: their Go type name.
    fn r#type<'v>(#[starlark(require = pos)] value: Value<'v>, heap: Heap<'v>) -> anyhow::Result<Value<'v>> {
        Ok(match value.downcast_ref::<IncusObject>() {
            Some(object) => heap.alloc(object.type_name()),
            None => value.get_type_value().to_value(),
        })
    }
}

/// `get_cluster_member_resources`/`_state`: a candidate or the member the scriptlet runs on.
fn member_lookup<'v>(
    eval: &mut Evaluator<'v, '_, '_>,
    builtin: &str,
    member_name: &str,
    pick: impl Fn(&super::cluster::PreparedMember) -> Option<&GoValue>,
) -> anyhow::Result<Value<'v>> {
    let (context, scope) = scope(eval, builtin)?;
    let allowed = member_name == scope.local_member || scope.candidates.contains(member_name);
    if !allowed {
        context.record(builtin, || {
            (format!("{member_name:?}"), "Invalid member name".into())
        });
        if context.version.member_lookup_raises() {
            return Err(anyhow::anyhow!("Invalid member name: {member_name}"));
        }
        // 6.0.4 and earlier return the error text as a string (instance_placement.go L84).
        return Ok(eval.heap().alloc("Invalid member name"));
    }
    match scope.cluster.member(member_name).and_then(&pick) {
        Some(value) => {
            context.record(builtin, || (format!("{member_name:?}"), "ok".into()));
            Ok(value.to_starlark(eval.heap()))
        }
        None => {
            context.record(builtin, || {
                (format!("{member_name:?}"), "error: member did not answer".into())
            });
            Err(anyhow::anyhow!("Failed to query member {member_name}: the snapshot has no data for it (it did not answer during capture)"))
        }
    }
}

#[cfg(test)]
mod log_level_tests {
    use super::{LogLevel, LogLine};

    #[test]
    fn log_lines_keep_their_json_text() {
        for (level, text) in [
            (LogLevel::Info, "info"),
            (LogLevel::Warn, "warn"),
            (LogLevel::Error, "error"),
            (LogLevel::Print, "print"),
        ] {
            let line = LogLine {
                level,
                message: "m".into(),
            };
            let json = serde_json::to_string(&line).unwrap();
            assert_eq!(json, format!(r#"{{"level":"{text}","message":"m"}}"#));
            assert_eq!(serde_json::from_str::<LogLine>(&json).unwrap(), line);
            assert_eq!(level.to_string(), text);
        }
    }
}
