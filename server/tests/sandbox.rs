//! Scriptlets through `/api/v1/scriptlets`, run in sandbox worker processes: normal checks and
//! evaluations, and hostile scriptlets that must end with a clear error while the server
//! keeps serving.

use crate::support;

use axum::http::StatusCode;
use berth_core::engine::{ErrorKind, IncusVersion};
use berth_server::sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use support::TestApp;

fn placement(source: &str) -> Value {
    json!({
        "snapshot_id": 1,
        "source": source,
        "request": {"reason": "new", "project": "web", "name": "api-99", "type": "container",
                    "config": {"limits.memory": "2GiB"}},
        "candidates": ["hv-a01", "hv-a02", "hv-b01"],
    })
}

fn body(lines: &str) -> String {
    let indented: String = lines.lines().map(|line| format!("    {line}\n")).collect();
    format!("def instance_placement(request, candidate_members):\n{indented}")
}

async fn evaluate(app: &TestApp, source: &str) -> Value {
    let response = app
        .post_json("/api/v1/scriptlets/evaluate", &placement(source))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

async fn check(app: &TestApp, source: &str) -> Value {
    let response = app
        .post_json("/api/v1/scriptlets/check", &json!({ "source": source }))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

async fn assert_still_serving(app: &TestApp) {
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let healthy = evaluate(app, &body("set_target(\"hv-a02\")")).await;
    assert_eq!(healthy["evaluation"]["target"], "hv-a02", "{healthy}");
}

#[tokio::test]
async fn check_reports_incus_verdict_with_positions() {
    let app = TestApp::empty().await;
    let accepted = check(&app, &body("pass")).await;
    assert_eq!(accepted["accepted"], true);
    let refused = check(&app, "X = 1\nX = 2\n").await;
    assert_eq!(refused["accepted"], false);
    let error = &refused["errors"][0];
    assert_eq!(error["kind"], "validation");
    assert_eq!(
        error["message"],
        "cannot reassign global X declared at instance_placement:1:1"
    );
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn evaluate_runs_one_placement_call_against_a_stored_snapshot() {
    let app = TestApp::with_demo().await;
    let reply = evaluate(&app, &body("log_info(\"on \", len(candidate_members), \" for \", request.name)\nset_target(candidate_members[-1].server_name)")).await;
    let evaluation = &reply["evaluation"];
    assert_eq!(evaluation["target"], "hv-b01");
    assert_eq!(evaluation["logs"][0]["message"], "on 3 for api-99");
    assert!(reply["elapsed_us"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn evaluate_refuses_unknown_snapshots_and_members() {
    let app = TestApp::with_demo().await;
    let mut unknown_snapshot = placement("def instance_placement(request, candidate_members):\n    pass\n");
    unknown_snapshot["snapshot_id"] = json!(42);
    let response = app
        .post_json("/api/v1/scriptlets/evaluate", &unknown_snapshot)
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let mut unknown_member = placement("def instance_placement(request, candidate_members):\n    pass\n");
    unknown_member["candidates"] = json!(["hv-zz"]);
    let response = app
        .post_json("/api/v1/scriptlets/evaluate", &unknown_member)
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response.body.contains("\\\"hv-zz\\\" is not a member"),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn a_string_bomb_folded_at_compile_time_hits_the_memory_limit() {
    let app = TestApp::with_demo().await;
    let report = check(
        &app,
        "X = 'x' * 2000000000\n\ndef instance_placement(request, candidate_members):\n    pass\n",
    )
    .await;
    assert_eq!(report["accepted"], false);
    assert_eq!(report["errors"][0]["kind"], "memory_limit");
    assert_eq!(
        report["errors"][0]["message"],
        "scriptlet exceeded its memory limit of 512 MiB"
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_list_bomb_in_placement_hits_the_memory_limit() {
    let app = TestApp::with_demo().await;
    let reply = evaluate(&app, &body("x = [0] * (1 << 30)")).await;
    let error = &reply["evaluation"]["error"];
    assert_eq!(error["kind"], "memory_limit", "{reply}");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn an_endless_nested_loop_is_stopped() {
    let app = TestApp::with_demo().await;
    let reply = evaluate(
        &app,
        &body("for i in range(2147483647):\n    for j in range(2147483647):\n        pass"),
    )
    .await;
    let kind = reply["evaluation"]["error"]["kind"].as_str().unwrap().to_owned();
    assert!(kind == "step_limit" || kind == "timeout", "{reply}");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn native_work_that_never_ticks_hits_the_time_limit() {
    let app = TestApp::with_demo().await;
    // Callbacks from native code produce no steps, so only the wall clock can stop this.
    let reply = evaluate(&app, &body("x = max(range(2000000000), key=lambda v: -v)")).await;
    let error = &reply["evaluation"]["error"];
    assert_eq!(error["kind"], "timeout", "{reply}");
    assert_eq!(error["message"], "scriptlet exceeded its time limit of 1.5 s");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn deep_recursion_is_refused_as_incus_refuses_it() {
    let app = TestApp::with_demo().await;
    let source =
        "def f(n):\n    return f(n + 1)\n\ndef instance_placement(request, candidate_members):\n    f(0)\n";
    let reply = evaluate(&app, source).await;
    assert_eq!(
        reply["evaluation"]["error"]["message"],
        "function f called recursively"
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn the_schema_describes_every_builtin() {
    let app = TestApp::empty().await;
    let response = app.get("/api/v1/scriptlets/schema?incus_version=6.0.4").await;
    assert_eq!(response.status, StatusCode::OK);
    let schema: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(schema["builtins"].as_array().unwrap().len(), 11);
    assert!(schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "ClusterMember"));
    let bad = app.get("/api/v1/scriptlets/schema?incus_version=seven").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

/// Scriptlets Incus accepts although the `starlark` crate recurses once per level on them (a
/// list nested 3,000 deep, a 200,000-term line: issue 7, item 5) pass in a worker under the
/// default memory limit (1 GiB), and a nesting bomb is still refused with its reason. The time limit is raised: this debug build takes about 0.8 s for a 200,000-term
/// check on an idle machine, more than the default 2 s when the test threads share two cores.
#[tokio::test]
async fn deep_scriptlets_incus_accepts_pass_under_the_default_memory_limit() {
    let mut config = SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into());
    config.time_limit = std::time::Duration::from_secs(20);
    let sandbox = Sandbox::new(config);
    let entry = "def instance_placement(request, candidate_members):\n";
    let terms = format!("1{}", " + 1".repeat(200_000));
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for (name, source) in [
        (
            "nested list",
            format!("X = {}\n\n{entry}    pass\n", nested(3_000)),
        ),
        (
            "terms at the top level",
            format!("X = {terms}\n\n{entry}    pass\n"),
        ),
        (
            "terms in the function",
            format!("{entry}    x = {terms}\n    log_info(x)\n"),
        ),
    ] {
        let report = sandbox.check(&source, IncusVersion::DEFAULT).await.unwrap();
        assert!(report.accepted, "{name}: {:?}", report.errors);
    }

    let bomb = format!("X = {}\n\n{entry}    pass\n", nested(1_000_000));
    let report = sandbox.check(&bomb, IncusVersion::DEFAULT).await.unwrap();
    assert!(!report.accepted);
    assert_eq!(report.errors[0].kind, Some(ErrorKind::MemoryLimit));
    assert!(
        report.errors[0].message.contains("nests too deeply"),
        "{}",
        report.errors[0].message
    );
}

/// The memory limit bounds what a scriptlet makes the worker use (heap and stacks,
/// `RLIMIT_DATA`), not the address space the machine maps besides (code, libraries, the
/// allocator's reservations), which differs between builds and machines (issue 20): the
/// 200,000-term line, whose compile thread gets a 492 MiB stack, uses about 530 MiB of data
/// while its address space peaks at about 700 MiB (measured on this debug build), so it is
/// accepted under the default 1 GiB and under 640 MiB too, where an address-space limit
/// refused it. Memory bombs are still stopped, whether one allocation is too large or several
/// that each fit add up past the limit.
#[tokio::test]
async fn the_memory_limit_counts_what_a_scriptlet_uses_not_the_address_space() {
    let entry = "def instance_placement(request, candidate_members):\n";
    let terms = format!("{entry}    x = 1{}\n    log_info(x)\n", " + 1".repeat(200_000));
    let sandbox = |memory_mib: u64| {
        let mut config = SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into());
        config.time_limit = std::time::Duration::from_secs(20);
        config.memory_bytes = memory_mib << 20;
        Sandbox::new(config)
    };
    for memory_mib in [1024, 640] {
        let report = sandbox(memory_mib)
            .check(&terms, IncusVersion::DEFAULT)
            .await
            .unwrap();
        assert!(report.accepted, "{memory_mib} MiB: {:?}", report.errors);
    }

    let default = sandbox(1024);
    for (name, bomb) in [
        (
            "one allocation",
            format!("X = 'x' * 2000000000\n\n{entry}    pass\n"),
        ),
        (
            "allocations that add up",
            format!("A = 'a' * 600000000\nB = 'b' * 600000000\n\n{entry}    pass\n"),
        ),
    ] {
        let report = default.check(&bomb, IncusVersion::DEFAULT).await.unwrap();
        assert!(!report.accepted, "{name}");
        assert_eq!(
            report.errors[0].kind,
            Some(ErrorKind::MemoryLimit),
            "{name}: {:?}",
            report.errors
        );
    }
    // The worker that stopped them still answers (or was replaced).
    let report = default.check(&terms, IncusVersion::DEFAULT).await.unwrap();
    assert!(report.accepted, "{:?}", report.errors);
}

#[tokio::test]
async fn the_simulation_endpoint_runs_operations_in_order() {
    let app = TestApp::with_demo().await;
    let operations = json!([
        {"kind": "create", "project": "web", "name": "api-98"},
        {"kind": "create", "project": "web", "name": "api-99"},
    ]);
    let source =
        body("log_info(\"instances: \", len(get_instances(project=\"web\")))\nset_target(\"hv-a02\")");
    let response = app
        .post_json(
            "/api/v1/simulations",
            &json!({"snapshot_id": 1, "source": source, "operations": operations}),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    let simulation: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(simulation["mode"], "upstream");
    assert_eq!(simulation["incus_version"], "6.0.4", "the snapshot's version");
    let calls = simulation["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{simulation}");
    let seen = |call: &Value| call["logs"][0]["message"].as_str().unwrap().to_owned();
    let before: usize = seen(&calls[0]).trim_start_matches("instances: ").parse().unwrap();
    assert_eq!(
        seen(&calls[1]),
        format!("instances: {}", before + 1),
        "the second sees the first"
    );
    assert_eq!(simulation["outcomes"][1]["member"], "hv-a02");

    // Again, now from the worker's cached snapshot: the same answer.
    let again = app
        .post_json(
            "/api/v1/simulations",
            &json!({"snapshot_id": 1, "source": source, "operations": operations}),
        )
        .await;
    assert_eq!(again.body, response.body);
}

#[tokio::test]
async fn the_simulation_endpoint_refuses_what_it_cannot_simulate() {
    let app = TestApp::with_demo().await;
    let create = json!([{"kind": "create", "project": "web", "name": "api-99"}]);
    let broken = app
        .post_json(
            "/api/v1/simulations",
            &json!({"snapshot_id": 1, "source": "X = 1\nX = 2\n", "operations": create}),
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", broken.body);
    let broken: Value = serde_json::from_str(&broken.body).unwrap();
    assert_eq!(
        broken["error"],
        "scriptlet:2:1: cannot reassign global X declared at instance_placement:1:1"
    );
    assert_eq!(broken["diagnostic"]["kind"], "validation");
    let missing = app
        .post_json(
            "/api/v1/simulations",
            &json!({"snapshot_id": 7, "source": "", "operations": create}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let nothing = app
        .post_json(
            "/api/v1/simulations",
            &json!({"snapshot_id": 1, "source": "", "operations": []}),
        )
        .await;
    assert_eq!(nothing.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_simulation_may_take_longer_than_one_call_may() {
    let app = TestApp::with_demo().await;
    // Each call spends a good part of the 1.5 s time limit in native code; ten of them take
    // longer than the whole job could before the simulation had its own budget (the limit plus
    // a second), which bound each call only. The spin is calibrated on this machine; when the
    // calls turned out faster than calibrated (a loaded machine while calibrating), it is
    // calibrated again from what the calls took (a call of 350 ms leaves the 1.5 s limit a
    // margin for a machine that gets busier again).
    let per_call = std::time::Duration::from_millis(350);
    let mut spin = spin_for(per_call).await;
    let operations: Vec<Value> = (1..=10)
        .map(|n| json!({"kind": "create", "project": "web", "name": format!("slow-{n}")}))
        .collect();
    for _attempt in 0..5 {
        let source = body("x = max(range(SPIN), key=lambda v: -v)\nset_target(\"hv-a02\")")
            .replace("SPIN", &spin.to_string());
        let started = std::time::Instant::now();
        let response = app
            .post_json(
                "/api/v1/simulations",
                &json!({"snapshot_id": 1, "source": source, "operations": operations}),
            )
            .await;
        let elapsed = started.elapsed();
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let simulation: Value = serde_json::from_str(&response.body).unwrap();
        let outcomes = simulation["outcomes"].as_array().unwrap();
        assert_eq!(outcomes.len(), 10, "{simulation}");
        assert!(outcomes.iter().all(|o| o["member"] == "hv-a02"), "{simulation}");
        if elapsed > std::time::Duration::from_millis(2500) {
            return;
        }
        let took = (elapsed / 10).max(std::time::Duration::from_millis(1));
        spin = (spin as f64 * (per_call.as_secs_f64() / took.as_secs_f64()).max(2.0)) as u64;
    }
    panic!("the calls never took long enough to test anything");
}

/// How many iterations of the native `max(range(n), key=…)` loop take about `target` here
/// (debug or release, fast or loaded machine), measured through the evaluate endpoint.
async fn spin_for(target: std::time::Duration) -> u64 {
    let app = TestApp::with_demo().await;
    let probe = 200_000u64;
    let reply = evaluate(&app, &body(&format!("x = max(range({probe}), key=lambda v: -v)"))).await;
    let micros = reply["elapsed_us"].as_u64().unwrap().max(1);
    probe * target.as_micros() as u64 / micros
}

/// Plans have workers of their own: with every worker of the authors' pool busy on a slow
/// simulation (ten calls, each spinning until its time limit) and as many again queued, a plan
/// preview's simulation (what `services::plans::assess` and the executor run) completes before
/// any of them. On one shared pool it would wait for a whole slow simulation at least.
#[tokio::test]
async fn authors_filling_their_workers_do_not_delay_a_plan_preview() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use berth_core::simulate::{Mode, Operation};
    use berth_server::sandbox::JobSnapshot;

    let app = TestApp::with_demo().await;
    let authors = &app.state.sandbox;
    let plans = &app.state.plans.sandbox;
    assert!(!std::sync::Arc::ptr_eq(authors, plans));

    let finished_runs = AtomicUsize::new(0);
    let slow = body("x = max(range(2000000000), key=lambda v: -v)");
    let operations: Vec<Value> = (1..=10)
        .map(|n| json!({"kind": "create", "project": "web", "name": format!("slow-{n}")}))
        .collect();
    let request = json!({"snapshot_id": 1, "source": slow, "operations": operations});
    let runs = futures::future::join_all((0..2 * authors.config().workers).map(|_| async {
        app.post_json("/api/v1/simulations", &request).await;
        finished_runs.fetch_add(1, Ordering::SeqCst);
    }));
    let preview = async {
        // Once the authors' runs hold every worker of theirs.
        for _ in 0..3000 {
            if authors.available_workers() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(authors.available_workers(), 0, "the runs never filled the pool");
        let demo = berth_core::demo::demo_snapshot();
        let (json, hash) = (demo.to_json(), demo.content_hash());
        let operation: Operation =
            serde_json::from_value(json!({"kind": "create", "project": "web", "name": "api-99"})).unwrap();
        let simulation = plans
            .simulate(
                JobSnapshot::new(&hash, &json),
                "",
                IncusVersion::DEFAULT,
                Mode::Corrected,
                &[operation],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            simulation["outcomes"].as_array().unwrap().len(),
            1,
            "{simulation}"
        );
        finished_runs.load(Ordering::SeqCst)
    };
    // The runs still under way when the preview is done are dropped (their workers killed).
    let finished_before_preview = tokio::select! {
        finished = preview => finished,
        _ = runs => panic!("every run finished before the preview"),
    };
    assert_eq!(finished_before_preview, 0, "the preview waited for a run");
}
