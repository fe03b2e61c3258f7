//! The editor's sandbox: what a snapshot offers to pick from, and one run of a scriptlet on a
//! scenario (its diagnostics, what Incus would do and, for cross-project moves, what Berth's
//! corrected move would do, with the difference spelled out), or on one direct call (a golden
//! case's, a fuzz finding's), shown as a simulation of that one call.
//!
//! The worker runs on the real snapshot (scriptlets decide on config values); what comes back
//! is redacted before anyone sees it: secret keys' values in requests, and the snapshot's
//! secret values wherever the scriptlet printed or raised them (`berth_core::redact`).

use berth_app::types::{
    CallView, DiagnosticView, InstanceChoice, SandboxRun, SandboxSetup, Scenario, SimulationView,
};
use berth_core::cases::DirectCall;
use berth_core::engine::{Diagnostic, Evaluation, IncusVersion};
use berth_core::redact::{redact_json, SecretValues};
use berth_core::simulate::{BehaviourProfile, Mode, Operation};
use serde_json::{json, Value};

use super::cluster::{chosen_snapshot, summary_of};
use crate::db::Store;
use crate::error::AppError;
use crate::params::incus_version;
use crate::sandbox::{JobSnapshot, Sandbox};

/// Versions offered besides the snapshot's: one of each behaviour profile (P0–P4).
const VERSIONS: [&str; 6] = ["6.0.2", "6.0.4", "6.6.0", "6.7.0", "6.12.0", "7.0.0"];

/// The name of the instance the default scenario creates.
pub const NEW_INSTANCE: &str = "sandbox-new";

pub async fn setup(store: &Store, snapshot_id: Option<i64>) -> Result<SandboxSetup, AppError> {
    let (snapshot, history, index) = chosen_snapshot(store, snapshot_id).await?;
    let row = &history[index];
    let mut versions: Vec<String> = VERSIONS.iter().map(|v| v.to_string()).collect();
    if !versions.contains(&row.incus_version) {
        versions.insert(0, row.incus_version.clone());
    }
    Ok(SandboxSetup {
        snapshot: summary_of(row),
        snapshots: history.iter().map(summary_of).collect(),
        instances: snapshot
            .instances
            .iter()
            .map(|instance| InstanceChoice {
                project: instance.project.clone(),
                name: instance.name.clone(),
                member: instance.location.clone(),
                status: instance.status.clone(),
            })
            .collect(),
        projects: snapshot.projects.iter().map(|p| p.name.clone()).collect(),
        members: snapshot.members.iter().map(|m| m.server_name.clone()).collect(),
        groups: snapshot.cluster_groups.iter().map(|g| g.name.clone()).collect(),
        versions,
        live_scriptlet: snapshot
            .server
            .placement_scriptlet()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The operations of a scenario: its `ops` JSON when given, else the one its fields describe.
pub fn operations(scenario: &Scenario) -> Result<Vec<Operation>, String> {
    if !scenario.ops.trim().is_empty() {
        let ops: Vec<Operation> = serde_json::from_str(&scenario.ops)
            .map_err(|error| format!("the operations are not valid: {error}"))?;
        if ops.is_empty() {
            return Err("the operations list is empty".into());
        }
        return Ok(ops);
    }
    let or = |value: &str, default: &str| {
        if value.is_empty() {
            default.to_owned()
        } else {
            value.to_owned()
        }
    };
    let op = match scenario.kind.as_str() {
        "" | "create" => json!({
            "kind": "create",
            "project": or(&scenario.project, "default"),
            "name": or(&scenario.name, NEW_INSTANCE),
            "target": scenario.target,
        }),
        "move" => {
            if scenario.name.is_empty() {
                return Err("pick the instance to move".into());
            }
            json!({
                "kind": "move",
                "project": or(&scenario.project, "default"),
                "name": scenario.name,
                "target_project": scenario.target_project,
                "target": scenario.target,
            })
        }
        "rebalance" => {
            if scenario.name.is_empty() {
                return Err("pick the instance to rebalance".into());
            }
            json!({
                "kind": "rebalance",
                "project": or(&scenario.project, "default"),
                "name": scenario.name,
            })
        }
        kind @ ("evacuate" | "restore") => {
            if scenario.member.is_empty() {
                return Err(format!("pick the member to {kind}"));
            }
            json!({ "kind": kind, "member": scenario.member })
        }
        other => {
            return Err(format!(
                "unknown scenario {other:?}: create, move, evacuate, restore or rebalance"
            ))
        }
    };
    serde_json::from_value(op.clone())
        .map(|op| vec![op])
        .map_err(|error| format!("{op}: {error}"))
}

/// The scenario's direct call, when it has one (`call`: a golden case's call as JSON).
fn direct_call(scenario: &Scenario) -> Result<Option<DirectCall>, String> {
    if scenario.call.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&scenario.call)
        .map(Some)
        .map_err(|error| format!("the call is not valid: {error}"))
}

/// One direct call's evaluation in the shape of a simulation of one call, for the timeline:
/// its outcome is the member it chose, Incus's own choice (the first candidate), or the error.
fn direct_call_simulation(version: IncusVersion, call: &DirectCall, evaluation: Evaluation) -> Value {
    let instance = format!("{}/{}", call.request.project, call.request.name);
    let outcome = match (&evaluation.error, &evaluation.target) {
        (Some(error), _) => {
            json!({"instance": instance, "error": format!("Failed instance placement scriptlet: {}", error.message)})
        }
        (None, Some(member)) => {
            json!({"instance": instance, "member": member, "project": call.request.project})
        }
        (None, None) => {
            json!({"instance": instance, "member": call.candidates.first(), "project": call.request.project})
        }
    };
    json!({
        "incus_version": version.to_string(),
        "profile": format!("{:?}", BehaviourProfile::of(version)),
        "mode": "upstream",
        "calls": [{
            "instance": instance,
            "reason": call.request.reason,
            "project": call.request.project,
            "runs_on": call.runs_on.clone().unwrap_or_default(),
            "candidates": call.candidates,
            "excluded": call.member_status.iter().map(|(member, status)| json!({"member": member, "reason": format!("{} for this call", status.as_str())})).collect::<Vec<_>>(),
            "validation_only": false,
            "logs": evaluation.logs,
            "trace": evaluation.trace,
            "target": evaluation.target,
            "error": evaluation.error,
            "request": call.request,
        }],
        "outcomes": [outcome],
    })
}

fn diagnostic_view(diagnostic: &Diagnostic) -> DiagnosticView {
    serde_json::from_value(serde_json::to_value(diagnostic).expect("a diagnostic serializes"))
        .expect("a diagnostic reads as its view")
}

/// The snapshot the editor means (its sandbox, matrix, cases and fuzzer): the one it names,
/// else the newest.
pub(crate) async fn snapshot_or_newest(store: &Store, snapshot_id: Option<i64>) -> Result<i64, AppError> {
    match snapshot_id {
        Some(id) => Ok(id),
        None => store
            .list_snapshots()
            .await?
            .first()
            .map(|row| row.id)
            .ok_or_else(|| AppError::NotFound("no snapshot is stored yet".into())),
    }
}

/// Runs the scenario with `source` on its snapshot.
pub async fn run(
    store: &Store,
    sandbox: &Sandbox,
    source: &str,
    scenario: &Scenario,
) -> Result<SandboxRun, AppError> {
    let snapshot_id = snapshot_or_newest(store, scenario.snapshot_id).await?;
    let stored = store
        .stored_snapshot(snapshot_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no snapshot {snapshot_id}")))?;
    let call = match direct_call(scenario) {
        Ok(call) => call,
        Err(error) => {
            return Ok(SandboxRun {
                incus_version: stored.incus_version.clone(),
                diagnostics: Vec::new(),
                ops: Vec::new(),
                upstream: None,
                corrected: None,
                differences: Vec::new(),
                error: Some(error),
            })
        }
    };
    // A direct call needs the version it was made for.
    let asked = call
        .as_ref()
        .and_then(|call| call.incus_version.clone())
        .unwrap_or_else(|| scenario.incus_version.clone());
    let version = incus_version::given_or_snapshots(Some(&asked), &stored)?;
    let report = sandbox.check(source, version).await?;
    let mut run = SandboxRun {
        incus_version: version.to_string(),
        diagnostics: report
            .errors
            .iter()
            .chain(&report.warnings)
            .map(diagnostic_view)
            .collect(),
        ops: Vec::new(),
        upstream: None,
        corrected: None,
        differences: Vec::new(),
        error: None,
    };
    if !report.errors.is_empty() {
        return Ok(run);
    }
    if let Some(call) = call {
        let snapshot = JobSnapshot::new(&stored.content_hash, &stored.json);
        let reply = sandbox.evaluate_call(snapshot, source, version, &call).await?;
        if let Some(error) = reply.compile_error {
            run.diagnostics.insert(0, diagnostic_view(&error));
            return Ok(run);
        }
        let Some(evaluation) = reply.evaluation else {
            run.error = Some("the scriptlet is empty: Incus places by itself".into());
            return Ok(run);
        };
        let mut value = direct_call_simulation(version, &call, evaluation);
        redact_json(&mut value, &stored.secrets);
        run.ops = vec![serde_json::to_string(&call).expect("a call serializes")];
        run.upstream = Some(simulation_view(value)?);
        return Ok(run);
    }
    let operations = match operations(scenario) {
        Ok(operations) => operations,
        Err(error) => {
            run.error = Some(error);
            return Ok(run);
        }
    };
    run.ops = operations
        .iter()
        .map(|op| serde_json::to_string(op).expect("an operation serializes"))
        .collect();
    let snapshot = JobSnapshot::new(&stored.content_hash, &stored.json);
    let secrets = &stored.secrets;
    let upstream = simulate(
        sandbox,
        snapshot,
        source,
        version,
        Mode::Upstream,
        &operations,
        secrets,
    )
    .await?;
    let crosses_projects = operations.iter().any(|op| match op {
        Operation::Move(movement) => movement
            .target_project
            .as_deref()
            .is_some_and(|target| target != movement.project),
        _ => false,
    });
    match upstream {
        Ok(upstream) => {
            if crosses_projects {
                let snapshot = JobSnapshot::new(&stored.content_hash, &stored.json);
                match simulate(
                    sandbox,
                    snapshot,
                    source,
                    version,
                    Mode::Corrected,
                    &operations,
                    secrets,
                )
                .await?
                {
                    Ok(corrected) => {
                        run.differences = differences(version, &upstream, &corrected);
                        run.corrected = Some(corrected);
                    }
                    Err(diagnostic) => run.error = Some(diagnostic.message),
                }
            }
            run.upstream = Some(upstream);
        }
        Err(diagnostic) => run.diagnostics.insert(0, diagnostic_view(&diagnostic)),
    }
    Ok(run)
}

async fn simulate(
    sandbox: &Sandbox,
    snapshot: JobSnapshot<'_>,
    source: &str,
    version: IncusVersion,
    mode: Mode,
    operations: &[Operation],
    secrets: &SecretValues,
) -> Result<Result<SimulationView, Diagnostic>, AppError> {
    Ok(
        match sandbox
            .simulate(snapshot, source, version, mode, operations)
            .await?
        {
            Ok(mut value) => {
                redact_json(&mut value, secrets);
                Ok(simulation_view(value)?)
            }
            Err(diagnostic) => Err(diagnostic),
        },
    )
}

/// The request fields the timeline shows, in this order.
const REQUEST_FIELDS: [&str; 6] = ["name", "project", "reason", "type", "architecture", "profiles"];

/// The simulation's JSON as the page shows it: the request reduced to the fields that matter
/// for placement (the API's answer has all of them).
fn simulation_view(mut value: Value) -> Result<SimulationView, AppError> {
    if let Some(calls) = value.get_mut("calls").and_then(Value::as_array_mut) {
        for call in calls {
            let request = call.get("request").cloned().unwrap_or(Value::Null);
            call["request"] = Value::Array(request_fields(&request));
        }
    }
    serde_json::from_value(value)
        .map_err(|error| AppError::BadRequest(format!("unexpected simulation result: {error}")))
}

fn request_fields(request: &Value) -> Vec<Value> {
    let shown = |value: &Value| match value {
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    };
    let mut fields: Vec<Value> = REQUEST_FIELDS
        .iter()
        .filter_map(|field| Some(json!([format!("request.{field}"), shown(request.get(*field)?)])))
        .collect();
    if let Some(source) = request.get("source") {
        for field in ["type", "source", "project"] {
            if let Some(value) = source.get(field) {
                fields.push(json!([format!("request.source.{field}"), shown(value)]));
            }
        }
    }
    if let Some(config) = request.get("config").and_then(Value::as_object) {
        for (key, value) in config {
            if key.starts_with("user.") || key.starts_with("limits.") || key.starts_with("volatile.cluster") {
                fields.push(json!([format!("request.config[{key:?}]"), shown(value)]));
            }
        }
    }
    fields
}

/// How Incus's calls and outcome differ from the corrected move's, in sentences.
fn differences(version: IncusVersion, upstream: &SimulationView, corrected: &SimulationView) -> Vec<String> {
    let describe = |calls: &[&CallView]| {
        calls
            .iter()
            .map(|call| {
                let count = call.candidates.len();
                let candidates = match count {
                    0 => "no candidate".to_owned(),
                    1 => "a single candidate".to_owned(),
                    n => format!("{n} candidates"),
                };
                let role = if call.validation_only {
                    " (validation only)"
                } else {
                    ""
                };
                format!(
                    "{} with project {} and {candidates}{role}",
                    call.reason, call.project
                )
            })
            .collect::<Vec<_>>()
            .join(", then ")
    };
    let times = |n: usize| match n {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    };
    let mut instances: Vec<&str> = upstream.calls.iter().map(|call| call.instance.as_str()).collect();
    instances.dedup();
    let mut sentences = Vec::new();
    for instance in instances {
        let ups: Vec<&CallView> = upstream.calls.iter().filter(|c| c.instance == instance).collect();
        let fixed: Vec<&CallView> = corrected
            .calls
            .iter()
            .filter(|c| c.instance == instance)
            .collect();
        sentences.push(format!(
            "Incus {version} calls this scriptlet {} for {instance}: {}.",
            times(ups.len()),
            describe(&ups)
        ));
        if let Some((decision, rest)) = fixed.split_first() {
            let mut sentence = format!(
                "Berth decides once: {} with project {} and every eligible member ({}).",
                decision.reason,
                decision.project,
                decision.candidates.len()
            );
            if !rest.is_empty() {
                sentence.push_str(&format!(
                    " Incus then still calls it {}: {}.",
                    times(rest.len()),
                    describe(rest)
                ));
            }
            sentences.push(sentence);
        }
    }
    let outcome = |simulation: &SimulationView| {
        simulation
            .outcomes
            .iter()
            .map(|outcome| match (&outcome.member, &outcome.error) {
                (Some(member), _) => format!(
                    "{} lands on {member} in project {}",
                    outcome.instance,
                    outcome.project.as_deref().unwrap_or("?")
                ),
                (None, Some(error)) => format!("{} fails: {error}", outcome.instance),
                (None, None) => format!("{}: no outcome", outcome.instance),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (before, after) = (outcome(upstream), outcome(corrected));
    if before == after {
        sentences.push(format!("Both end the same: {before}."));
    } else {
        sentences.push(format!("Upstream: {before}. Corrected: {after}."));
    }
    sentences
}
