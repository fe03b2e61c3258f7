//! Which functions are found pure, and that a replay's scriptlet decides as the author's does
//! while running a pure helper once per cluster state and arguments.

use std::collections::BTreeSet;

use starlark::syntax::{AstModule, Dialect};

use super::purity::Purity;
use crate::demo::demo_snapshot;
use crate::engine::{
    compile, compile_for_replay, Evaluation, IncusVersion, Limits, PlacementCall, PlacementRequest,
    PreparedCluster, Scriptlet,
};

fn pure_functions(source: &str, plain_globals: &[&str]) -> BTreeSet<String> {
    let module = AstModule::parse("test.star", source.to_owned(), &Dialect::Extended).expect("parses");
    let recursive = crate::engine::recursion::recursive_functions(&module);
    Purity::of(&module, "instance_placement", &recursive).confirm(&|name| plain_globals.contains(&name))
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|name| name.to_string()).collect()
}

const REFERENCE: &str = include_str!("../../../benches/fixtures/spread_by_free_memory.star");

#[test]
fn the_reference_scriptlets_cluster_helpers_are_pure() {
    assert_eq!(
        pure_functions(REFERENCE, &["GIB"]),
        names(&["allowed_groups", "app_spread"])
    );
}

#[test]
fn effects_and_reads_of_the_call_are_not_pure() {
    let source = r#"
def logs(x):
    log_info(x)
    return x
def targets(x):
    set_target(x)
def needs(x):
    return get_instance_resources().memory_size
def member_memory(name):
    return get_cluster_member_resources(name).memory.total
def prints(x):
    print(x)
def calls_logs(x):
    return logs(x) + 1
def counts(location):
    return get_instances_count(location=location)
def uses_counts(location):
    return [counts(location)]
def instance_placement(request, candidate_members):
    pass
"#;
    assert_eq!(pure_functions(source, &[]), names(&["counts", "uses_counts"]));
}

#[test]
fn a_function_that_binds_an_effect_or_is_passed_around_is_not_pure() {
    let source = r#"
def shadows(x):
    set_target = x
    return set_target
def passed(x):
    return x
def uses_passed(xs):
    return sorted(xs, key = passed)
def recursive(n):
    return 0 if n == 0 else recursive(n - 1)
def with_default(x, f = passed):
    return x
def instance_placement(request, candidate_members):
    pass
"#;
    assert_eq!(pure_functions(source, &[]), names(&[]));
}

#[test]
fn globals_must_hold_plain_data() {
    let source = r#"
LIMITS = {"small": 1}
pick = lambda x: x
def limit(name):
    return LIMITS.get(name, 0)
def picked(x):
    return pick(x)
def instance_placement(request, candidate_members):
    pass
"#;
    // `pick` holds a function: the globals' values decide, not their names.
    assert_eq!(pure_functions(source, &["LIMITS"]), names(&["limit"]));
    assert_eq!(pure_functions(source, &[]), names(&[]));
}

/// Counts the instances on each member with a helper that scans them all (as the reference
/// scriptlet's `app_spread` does), mutates the helper's result, and places on the least
/// loaded candidate.
const SCANNING: &str = r#"
def per_member(project):
    counts = {}
    for inst in get_instances(project=project):
        counts[inst.location] = counts.get(inst.location, 0) + 1
    return counts

def instance_placement(request, candidate_members):
    counts = per_member(request.project)
    # Changing the result must not change what the next call gets.
    counts["hv-a01"] = counts.get("hv-a01", 0) + 100
    log_info("counts ", counts)
    best = None
    for member in candidate_members:
        n = counts.get(member.server_name, 0)
        if best == None or n < best[1]:
            best = (member.server_name, n)
    set_target(best[0])
"#;

fn request(project: &str) -> PlacementRequest {
    PlacementRequest {
        reason: "new".into(),
        project: project.into(),
        name: "probe".into(),
        instance_type: "container".into(),
        ..PlacementRequest::default()
    }
}

fn evaluate(scriptlet: &Scriptlet, cluster: &PreparedCluster, project: &str) -> Evaluation {
    let candidates: Vec<String> = ["hv-a01", "hv-a02", "hv-b01", "hv-b02"]
        .map(String::from)
        .to_vec();
    let request = request(project);
    let call = PlacementCall {
        request: &request,
        candidates: &candidates,
        local_member: "hv-a01",
    };
    scriptlet.evaluate(cluster, &call, &Limits::default(), &|| false)
}

fn both(source: &str) -> (Scriptlet, Scriptlet) {
    let limits = Limits::default();
    let author = compile(source, IncusVersion::DEFAULT, &limits, &|| false)
        .unwrap()
        .unwrap();
    let replay = compile_for_replay(source, IncusVersion::DEFAULT, &limits, &|| false)
        .unwrap()
        .unwrap();
    (author, replay)
}

#[test]
fn a_replay_decides_as_the_author_sees_and_scans_once_per_cluster_state() {
    let (author, replay) = both(SCANNING);
    let snapshot = demo_snapshot();
    let cluster = PreparedCluster::new(&snapshot);

    let first = evaluate(&replay, &cluster, "web");
    let second = evaluate(&replay, &cluster, "web");
    let seen = evaluate(&author, &cluster, "web");
    assert_eq!(seen.error, None);
    assert_eq!(first.target, seen.target);
    assert_eq!(
        second.target, seen.target,
        "the first call's change to its copy did not leak"
    );
    assert!(
        second.steps < first.steps,
        "the scan ran once: {} steps, then {}",
        first.steps,
        second.steps
    );
    assert_eq!(first.steps, seen.steps, "a first call runs the whole helper");
    // Another argument is another entry.
    let other = evaluate(&replay, &cluster, "default");
    assert_eq!(other.target, evaluate(&author, &cluster, "default").target);

    // A replay keeps decisions only.
    assert!(!seen.logs.is_empty() && !seen.trace.is_empty());
    assert!(first.logs.is_empty() && first.trace.is_empty());
}

#[test]
fn a_changed_cluster_is_scanned_again_and_a_rollback_finds_the_earlier_results() {
    let (author, replay) = both(SCANNING);
    let snapshot = demo_snapshot();
    let mut cluster = PreparedCluster::new(&snapshot);
    let before = evaluate(&replay, &cluster, "web");
    let checkpoint = cluster.checkpoint();

    // Move every instance of `web` on the chosen member away: the helper's answer changes.
    let chosen = before.target.clone().expect("a target");
    for (index, instance) in snapshot.instances.iter().enumerate() {
        if instance.project == "web" && instance.location == chosen {
            let mut moved = instance.clone();
            moved.location = "hv-a01".into();
            cluster.set_instance(index, &moved);
        }
    }
    let after = evaluate(&replay, &cluster, "web");
    let seen = evaluate(&author, &cluster, "web");
    assert_eq!(after.target, seen.target);
    assert_eq!(after.steps, seen.steps, "scanned again on the changed cluster");

    cluster.rollback(checkpoint);
    let again = evaluate(&replay, &cluster, "web");
    assert_eq!(again.target, before.target);
    // The cache kept only the latest state's results: the scan runs once more, then not.
    assert!(evaluate(&replay, &cluster, "web").steps < again.steps);
}

#[test]
fn results_that_share_a_mutable_value_are_recomputed() {
    let source = r#"
def pair(project):
    shared = [len(get_instances(project=project))]
    return [shared, shared]

def instance_placement(request, candidate_members):
    p = pair(request.project)
    p[0].append(1)
    # Both entries are the same list: the second sees the append.
    if len(p[1]) != 2:
        fail("aliasing lost")
    set_target(candidate_members[0].server_name)
"#;
    let (_, replay) = both(source);
    let cluster = PreparedCluster::new(&demo_snapshot());
    for _ in 0..2 {
        let evaluation = evaluate(&replay, &cluster, "web");
        assert_eq!(evaluation.error, None);
        assert_eq!(evaluation.target.as_deref(), Some("hv-a01"));
    }
}
