//! Evaluation as Incus runs it: each builtin against the demo cluster, each outcome (target,
//! no target, fail, runtime error, bad return, bad target), the exact log text, and the
//! bounds Incus lacks.

use std::cell::Cell;
use std::sync::OnceLock;

use berth_core::demo::demo_snapshot;
use berth_core::engine::{
    compile, ErrorKind, Evaluation, IncusVersion, Limits, LogLevel, PlacementCall, PlacementRequest,
    PreparedCluster,
};

fn cluster() -> &'static PreparedCluster {
    static CLUSTER: OnceLock<PreparedCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| PreparedCluster::new(&demo_snapshot()))
}

fn request() -> PlacementRequest {
    PlacementRequest {
        reason: "new".into(),
        project: "web".into(),
        name: "api-99".into(),
        instance_type: "container".into(),
        profiles: vec!["default".into()],
        config: [
            ("limits.cpu", "2"),
            ("limits.memory", "4GiB"),
            ("user.app", "api"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        ..PlacementRequest::default()
    }
}

const CANDIDATES: [&str; 3] = ["hv-a01", "hv-a02", "hv-b01"];

fn run_with(source: &str, version: IncusVersion, request: &PlacementRequest, limits: &Limits) -> Evaluation {
    let scriptlet = compile(source, version, limits, &|| false)
        .expect("compiles")
        .expect("not empty");
    let candidates: Vec<String> = CANDIDATES.iter().map(|c| c.to_string()).collect();
    let call = PlacementCall {
        request,
        candidates: &candidates,
        local_member: "hv-a01",
    };
    scriptlet.evaluate(cluster(), &call, limits, &|| false)
}

fn run(source: &str) -> Evaluation {
    run_with(source, IncusVersion::DEFAULT, &request(), &Limits::default())
}

/// The messages logged at info level.
fn info(evaluation: &Evaluation) -> Vec<String> {
    assert_eq!(evaluation.error, None, "unexpected error");
    evaluation
        .logs
        .iter()
        .filter(|l| l.level == LogLevel::Info)
        .map(|l| l.message.clone())
        .collect()
}

fn body(lines: &str) -> String {
    let indented: String = lines.lines().map(|line| format!("    {line}\n")).collect();
    format!("def instance_placement(request, candidate_members):\n{indented}")
}

// ---- outcomes ----

#[test]
fn set_target_on_a_candidate_chooses_it() {
    let evaluation = run(&body("set_target(candidate_members[1].server_name)"));
    assert_eq!(evaluation.target.as_deref(), Some("hv-a02"));
    assert_eq!(evaluation.error, None);
    assert!(evaluation.steps > 0);
}

#[test]
fn no_set_target_leaves_the_choice_to_incus() {
    let evaluation = run(&body("pass"));
    assert_eq!(evaluation.target, None);
    assert_eq!(evaluation.error, None);
}

#[test]
fn fail_aborts_placement_with_its_message() {
    let evaluation = run(&body(
        "set_target(\"hv-a01\")\nfail(\"no room for \", request.name)",
    ));
    let error = evaluation.error.expect("fails");
    assert_eq!(error.kind, Some(ErrorKind::Fail));
    assert_eq!(error.message, "fail: no room for  api-99");
    assert_eq!(error.line, Some(3));
    assert_eq!(evaluation.target, None, "a failed call places nothing");
}

#[test]
fn a_runtime_error_carries_its_position() {
    let evaluation = run(&body("x = 1\nm = candidate_members[7]"));
    let error = evaluation.error.expect("fails");
    assert_eq!(error.kind, Some(ErrorKind::Runtime));
    assert_eq!((error.line, error.column), (Some(3), Some(9)));
    assert!(error.message.contains("out of bound"), "{}", error.message);
}

#[test]
fn returning_a_value_is_an_error() {
    let evaluation = run(&body("return \"rejected\""));
    let error = evaluation.error.expect("fails");
    assert_eq!(error.kind, Some(ErrorKind::ReturnValue));
    assert_eq!(error.message, "Failed with unexpected return value: \"rejected\"");
}

#[test]
fn set_target_on_a_non_candidate_raises_since_6_0_3() {
    let evaluation = run(&body("set_target(\"hv-e01\")"));
    let error = evaluation.error.expect("fails");
    assert_eq!(error.message, "Invalid member name: hv-e01");
    assert_eq!(error.kind, Some(ErrorKind::Runtime));

    let old = run_with(
        &body("set_target(\"hv-e01\")"),
        "6.0.2".parse().unwrap(),
        &request(),
        &Limits::default(),
    );
    assert_eq!(old.error, None, "6.0.2 ignored it");
    assert_eq!(old.target, None);
}

#[test]
fn a_bad_target_after_a_good_one_is_ignored_as_in_incus() {
    let evaluation = run(&body("set_target(\"hv-a02\")\nset_target(\"bogus\")"));
    assert_eq!(evaluation.error, None);
    assert_eq!(evaluation.target.as_deref(), Some("hv-a02"));
    assert_eq!(evaluation.trace[1].result, "ignored: a target was already set");
}

// ---- logs ----

#[test]
fn log_joins_arguments_without_separator_strings_raw_others_as_repr() {
    let evaluation = run(&body(
        "log_info(\"placing \", request.name, \" on \", 3, \" \", [\"a\", 1], None, True, {\"k\": \"v\"})\nlog_warn(\"w\")\nlog_error(\"e\", 1.5)\nprint(\"p\", 1)",
    ));
    assert_eq!(
        info(&evaluation),
        vec!["placing api-99 on 3 [\"a\", 1]NoneTrue{\"k\": \"v\"}"]
    );
    let levels: Vec<_> = evaluation
        .logs
        .iter()
        .map(|l| (l.level.as_str(), l.message.as_str()))
        .collect();
    assert_eq!(levels[1..], [("warn", "w"), ("error", "e1.5"), ("print", "p 1")]);
}

// ---- objects ----

#[test]
fn request_and_members_are_typed_attribute_objects() {
    let evaluation = run(&body(
        "log_info(type(request), \" \", type(candidate_members[0]), \" \", type(request.source), \" \", type(request.config))\n\
         log_info(request.reason, \" \", request.project, \" \", request.type, \" \", request.config[\"user.app\"])\n\
         log_info(hasattr(request, \"name\"), \" \", hasattr(request, \"nope\"), \" \", \"server_name\" in dir(candidate_members[0]))\n\
         log_info(candidate_members[0].server_name, \" \", candidate_members[0].groups, \" \", candidate_members[0].roles)",
    ));
    assert_eq!(
        info(&evaluation),
        vec![
            "InstancePlacement ClusterMember InstanceSource dict",
            "new web container api",
            "True False True",
            "hv-a01 [\"default\", \"rack-a\", \"nvme\"] [\"database-leader\", \"database\"]",
        ]
    );
}

#[test]
fn objects_cannot_be_indexed_like_dicts() {
    let evaluation = run(&body("x = request[\"name\"]"));
    assert_eq!(evaluation.error.expect("fails").kind, Some(ErrorKind::Runtime));
}

#[test]
fn config_keys_are_sorted_as_incus_sorts_them() {
    let evaluation = run(&body("log_info(list(request.config.keys()))"));
    assert_eq!(
        info(&evaluation),
        vec!["[\"limits.cpu\", \"limits.memory\", \"user.app\"]"]
    );
}

#[test]
fn module_globals_are_frozen_during_placement() {
    let source = "SEEN = []\n\ndef instance_placement(request, candidate_members):\n    SEEN.append(1)\n";
    let evaluation = run(source);
    assert_eq!(evaluation.error.expect("fails").kind, Some(ErrorKind::Runtime));
}

// ---- builtins ----

#[test]
fn get_instances_filters_by_project_then_location_positionally() {
    let snapshot = demo_snapshot();
    let in_ci = snapshot.instances.iter().filter(|i| i.project == "ci").count();
    let in_ci_on_b01 = snapshot
        .instances
        .iter()
        .filter(|i| i.project == "ci" && i.location == "hv-b01")
        .count();
    let on_b01 = snapshot
        .instances
        .iter()
        .filter(|i| i.location == "hv-b01")
        .count();
    let evaluation = run(&body(
        "log_info(len(get_instances(project=\"ci\")))\nlog_info(len(get_instances(\"ci\", \"hv-b01\")))\nlog_info(len(get_instances(None, \"hv-b01\")))\ni = get_instances(location=\"hv-b01\")[0]\nlog_info(type(i), \" \", i.status, \" \", i.status_code, \" \", type(i.created_at), \" \", i.location)",
    ));
    assert_eq!(
        info(&evaluation),
        vec![
            in_ci.to_string(),
            in_ci_on_b01.to_string(),
            on_b01.to_string(),
            "Instance  0 Time hv-b01".into()
        ]
    );
    assert_eq!(
        evaluation.trace[1].arguments,
        "project=\"ci\", location=\"hv-b01\""
    );
}

#[test]
fn get_instances_count_adds_pending_creations_on_request() {
    let snapshot = demo_snapshot();
    let on_a04 = snapshot
        .instances
        .iter()
        .filter(|i| i.location == "hv-a04")
        .count();
    let evaluation = run(&body(
        "log_info(get_instances_count(location=\"hv-a04\"))\nlog_info(get_instances_count(location=\"hv-a04\", pending=True))\nlog_info(get_instances_count(\"web\", \"hv-a04\", True) - get_instances_count(\"web\", \"hv-a04\"))",
    ));
    assert_eq!(
        info(&evaluation),
        vec![on_a04.to_string(), (on_a04 + 1).to_string(), "1".into()]
    );
}

/// A create that finished shortly before the snapshot is still counted by Incus (its operation
/// is deleted 5 s after it finishes, issue 20): a capture lists it as `Success`, and the count
/// includes it with a fidelity note, since the real call may come after those 5 s.
#[test]
fn get_instances_count_counts_creates_that_just_finished_and_says_so() {
    let mut snapshot = demo_snapshot();
    snapshot.operations.push(berth_core::model::Operation {
        class: "task".into(),
        description: "Creating instance".into(),
        status: "Success".into(),
        status_code: 200,
        location: "hv-a04".into(),
        resources: [(
            "instances".to_owned(),
            vec!["/1.0/instances/api-41?project=web".to_owned()],
        )]
        .into_iter()
        .collect(),
        updated_at: "2026-11-20T08:59:57Z".into(),
        ..Default::default()
    });
    let cluster = PreparedCluster::new(&snapshot);
    let source = body(
        "log_info(get_instances_count(\"web\", \"hv-a04\", True) - get_instances_count(\"web\", \"hv-a04\"))\nlog_info(get_instances_count(\"ci\", \"hv-a04\", True) - get_instances_count(\"ci\", \"hv-a04\"))",
    );
    let scriptlet = compile(&source, IncusVersion::DEFAULT, &Limits::default(), &|| false)
        .unwrap()
        .unwrap();
    let candidates: Vec<String> = CANDIDATES.iter().map(|c| c.to_string()).collect();
    let call = PlacementCall {
        request: &request(),
        candidates: &candidates,
        local_member: "hv-a01",
    };
    let evaluation = scriptlet.evaluate(&cluster, &call, &Limits::default(), &|| false);
    // The demo's running create of web/api-40 on hv-a04, and the finished one.
    assert_eq!(info(&evaluation), ["2", "0"]);
    let counted = &evaluation.trace[0];
    assert_eq!(
        counted.arguments,
        "project=\"web\", location=\"hv-a04\", pending=True"
    );
    assert!(
        counted.result.ends_with(
            " (fidelity: includes 1 create that finished just before the snapshot; Incus counts a \
             create as pending until 5 s after it finishes, so a call later than that counts fewer)"
        ),
        "{}",
        counted.result
    );
    // Without finished creates among those counted, no note.
    assert!(
        !evaluation.trace[2].result.contains("fidelity"),
        "{:?}",
        evaluation.trace
    );
}

#[test]
fn get_cluster_members_lists_only_members_open_to_automatic_placement() {
    let evaluation = run(&body(
        "log_info([m.server_name for m in get_cluster_members()])\nlog_info([m.server_name for m in get_cluster_members(\"edge\")])",
    ));
    let all = info(&evaluation);
    for excluded in ["hv-a03", "hv-b04", "hv-b05", "hv-e03"] {
        assert!(!all[0].contains(excluded), "{excluded} in {}", all[0]);
    }
    assert!(all[0].contains("hv-e04"));
    assert_eq!(
        all[1], "[\"hv-e01\", \"hv-e02\", \"hv-e03\", \"hv-e04\"]",
        "group-scheduled members appear when their group is named"
    );
}

#[test]
fn get_project_returns_its_config_and_fails_for_unknown_projects() {
    let evaluation = run(&body("p = get_project(\"ci\")\nlog_info(type(p), \" \", p.name, \" \", p.config[\"restricted.cluster.groups\"])"));
    assert_eq!(info(&evaluation), vec!["Project ci rack-b"]);
    let missing = run(&body("get_project(\"nowhere\")"));
    assert_eq!(missing.error.expect("fails").kind, Some(ErrorKind::Runtime));
}

#[test]
fn member_resources_and_state_of_candidates_and_of_the_local_member() {
    let snapshot = demo_snapshot();
    let b01 = &snapshot.member_resources["hv-b01"];
    let b01_state = &snapshot.member_state["hv-b01"];
    let evaluation = run(&body(
        "r = get_cluster_member_resources(\"hv-b01\")\nlog_info(type(r), \" \", r.cpu.total, \" \", r.memory.total - r.memory.used, \" \", getattr(r, \"load\").Average1Min)\ns = get_cluster_member_state(\"hv-b01\")\nlog_info(type(s), \" \", s.sysinfo.total_ram, \" \", s.storage_pools[\"local\"].space.total)",
    ));
    assert_eq!(
        info(&evaluation),
        vec![
            format!(
                "Resources {} {} {}",
                b01.cpu.total,
                b01.memory.total - b01.memory.used,
                b01_state.sysinfo.load_averages[0]
            ),
            format!(
                "ClusterMemberState {} {}",
                b01_state.sysinfo.total_ram, b01_state.storage_pools["local"].space.total
            ),
        ]
    );
}

#[test]
fn member_lookups_of_non_candidates_differ_by_version() {
    // hv-e01 is not a candidate; 6.0.4 returns the error as a string, 6.0.5 raises.
    let source = body("log_info(get_cluster_member_resources(\"hv-e01\"))");
    assert_eq!(info(&run(&source)), vec!["Invalid member name"]);
    let newer = run_with(&source, "6.0.5".parse().unwrap(), &request(), &Limits::default());
    assert_eq!(
        newer.error.expect("raises").message,
        "Invalid member name: hv-e01"
    );
    // The member the scriptlet runs on may always read its own data.
    let local = run(&body(
        "log_info(get_cluster_member_state(\"hv-a01\").sysinfo.processes > 0)",
    ));
    assert_eq!(info(&local), vec!["True"]);
}

#[test]
fn get_instance_resources_follows_limits_and_vm_defaults() {
    let source = body("r = get_instance_resources()\nlog_info(type(r), \" \", r.cpu_cores, \" \", r.memory_size, \" \", r.root_disk_size)");
    assert_eq!(
        info(&run(&source)),
        vec![format!("InstanceResources 2 {} 0", 4u64 << 30)]
    );

    let mut vm = request();
    vm.instance_type = "virtual-machine".into();
    vm.config.clear();
    vm.devices.insert(
        "root".into(),
        [("type", "disk"), ("path", "/"), ("size", "20GiB")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let evaluation = run_with(&source, IncusVersion::DEFAULT, &vm, &Limits::default());
    assert_eq!(
        info(&evaluation),
        vec![format!("InstanceResources 1 {} {}", 1u64 << 30, 20u64 << 30)]
    );

    // A relocation request has type "": no VM defaults.
    vm.instance_type.clear();
    let evaluation = run_with(&source, IncusVersion::DEFAULT, &vm, &Limits::default());
    assert_eq!(
        info(&evaluation),
        vec![format!("InstanceResources 0 0 {}", 20u64 << 30)]
    );
}

#[test]
fn every_builtin_call_is_traced() {
    let evaluation = run(&body(
        "get_instances_count(location=\"hv-a02\", pending=True)\nget_cluster_members(\"edge\")\nset_target(\"hv-a02\")",
    ));
    let trace: Vec<_> = evaluation
        .trace
        .iter()
        .map(|c| (c.builtin.as_str(), c.arguments.as_str()))
        .collect();
    assert_eq!(
        trace,
        vec![
            ("get_instances_count", "location=\"hv-a02\", pending=True"),
            ("get_cluster_members", "group=\"edge\""),
            ("set_target", "\"hv-a02\""),
        ]
    );
    assert_eq!(evaluation.trace[2].result, "target set");
}

#[test]
fn the_reference_scriptlet_places_by_free_memory() {
    let source = berth_core::demo::DEMO_SCRIPTLET;
    let evaluation = run(source);
    assert_eq!(evaluation.error, None);
    let snapshot = demo_snapshot();
    // web has no group restriction: the candidate with the most free memory wins unless an
    // `api` instance already runs there (8 GiB penalty each).
    let free = |m: &str| {
        let r = &snapshot.member_resources[m];
        r.memory.total as i64 - r.memory.used as i64
    };
    let api_on = |m: &str| {
        snapshot
            .instances
            .iter()
            .filter(|i| {
                i.project == "web"
                    && i.location == m
                    && i.config.get("user.app").map(String::as_str) == Some("api")
            })
            .count() as i64
    };
    let best = CANDIDATES
        .iter()
        .max_by_key(|m| free(m) - api_on(m) * (8 << 30))
        .unwrap();
    assert_eq!(evaluation.target.as_deref(), Some(*best));
    assert!(evaluation.logs[0]
        .message
        .starts_with(&format!("placing api-99 on {best}: score=")));
}

#[test]
fn evaluations_are_deterministic() {
    let first = run(berth_core::demo::DEMO_SCRIPTLET);
    let second = run(berth_core::demo::DEMO_SCRIPTLET);
    assert_eq!(first, second);
}

// ---- bounds Incus lacks ----

#[test]
fn an_endless_loop_hits_the_step_limit() {
    let limits = Limits {
        max_steps: 100_000,
        ..Limits::default()
    };
    let source = body("for i in range(2147483647):\n    for j in range(2147483647):\n        pass");
    let evaluation = run_with(&source, IncusVersion::DEFAULT, &request(), &limits);
    assert_eq!(
        evaluation.error.expect("stopped").kind,
        Some(ErrorKind::StepLimit)
    );
}

#[test]
fn a_growing_list_hits_the_heap_limit() {
    let limits = Limits {
        max_heap_bytes: 8 << 20,
        ..Limits::default()
    };
    let source = body("x = []\nfor i in range(100000000):\n    x.append(\"abcdefgh\" * 16)");
    let evaluation = run_with(&source, IncusVersion::DEFAULT, &request(), &limits);
    assert_eq!(
        evaluation.error.expect("stopped").kind,
        Some(ErrorKind::HeapLimit)
    );
}

#[test]
fn recursion_is_refused_as_in_incus() {
    let source = "def down(n):\n    return down(n - 1) if n > 0 else 0\n\ndef instance_placement(request, candidate_members):\n    down(5)\n";
    let error = run(source).error.expect("refused");
    assert_eq!(error.message, "function down called recursively");
    assert_eq!(error.line, Some(2));
}

#[test]
fn cancellation_stops_an_evaluation() {
    let source = body("for i in range(2147483647):\n    pass");
    let scriptlet = compile(&source, IncusVersion::DEFAULT, &Limits::default(), &|| false)
        .unwrap()
        .unwrap();
    let polls = Cell::new(0);
    let cancelled = || {
        polls.set(polls.get() + 1);
        polls.get() > 3
    };
    let candidates: Vec<String> = CANDIDATES.iter().map(|c| c.to_string()).collect();
    let request = request();
    let call = PlacementCall {
        request: &request,
        candidates: &candidates,
        local_member: "hv-a01",
    };
    let evaluation = scriptlet.evaluate(cluster(), &call, &Limits::default(), &cancelled);
    assert_eq!(
        evaluation.error.expect("cancelled").kind,
        Some(ErrorKind::Timeout)
    );
}

/// Expressions Incus accepts however deep they nest (issue 7, item 5) compile on this 2 MB test
/// thread (the engine sizes a stack for them) and evaluate: the entry point's 200,000-term sum
/// and a list nested 3,000 deep.
#[test]
fn deeply_nested_expressions_compile_and_evaluate() {
    let terms = format!("1{}", " + 1".repeat(200_000));
    let nested = format!("{}{}", "[".repeat(3_000), "]".repeat(3_000));
    let source = format!(
        "def instance_placement(request, candidate_members):\n    log_info({terms})\n    log_info(len({nested}))\n"
    );
    let evaluation = run_with(&source, IncusVersion::DEFAULT, &request(), &Limits::default());
    assert_eq!(info(&evaluation), vec!["200001".to_owned(), "1".to_owned()]);
}
