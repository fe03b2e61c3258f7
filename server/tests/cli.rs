//! `berth check` as authors and CI call it: exit codes, the line format, `--json`.

use std::process::{Command, Output};

fn berth_check(source: &str, args: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("placement.star");
    std::fs::write(&file, source).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("check")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    (output, file.display().to_string())
}

#[test]
fn an_accepted_scriptlet_exits_0_with_its_warnings() {
    let (output, file) = berth_check(
        "GIB = 1 << 30\n\ndef instance_placement(request, candidate_members):\n    pass\n",
        &[],
    );
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!("{file}:1:7: warning: `<<` wraps")),
        "{stderr}"
    );
}

#[test]
fn a_refused_scriptlet_exits_1_with_file_line_column() {
    let (output, file) = berth_check(
        "def instance_placement(request, candidate_members):\n    log_info(nope)\n",
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!("{file}:2:14: undefined: nope\n")
    );
}

#[test]
fn the_version_decides_what_is_accepted() {
    let source = "def instance_placement(request, candidate_members):\n    s = set([1])\n";
    assert_eq!(berth_check(source, &[]).0.status.code(), Some(1));
    assert_eq!(
        berth_check(source, &["--incus-version", "6.0.5"]).0.status.code(),
        Some(0)
    );
}

#[test]
fn json_output_is_one_document() {
    let (output, file) = berth_check("X = 1\nX = 2\n", &["--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["file"], file);
    assert_eq!(report["accepted"], false);
    assert_eq!(report["incus_version"], "6.0.4");
    assert_eq!(report["errors"][0]["line"], 2);
    assert_eq!(report["errors"][0]["kind"], "validation");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let missing = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["check", "/no/such/file.star"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /no/such/file.star"));
    let bad_version = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["check", "x.star", "--incus-version", "six"])
        .output()
        .unwrap();
    assert_eq!(bad_version.status.code(), Some(2));
}

#[test]
fn a_memory_bomb_is_refused_not_fatal() {
    let (output, file) = berth_check("X = 'x' * 2000000000\n", &["--scriptlet-memory-mb", "256"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!("{file}: scriptlet exceeded its memory limit of 256 MiB\n")
    );
}

#[test]
fn simulate_prints_the_calls_and_outcomes_as_one_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("demo.json");
    std::fs::write(&snapshot, berth_core::demo::demo_snapshot().to_json()).unwrap();
    let scriptlet = dir.path().join("pick.star");
    std::fs::write(
        &scriptlet,
        "def instance_placement(request, candidate_members):\n    log_warn(\"for \", request.project)\n    set_target(candidate_members[-1].server_name)\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "simulate",
            "--snapshot",
            snapshot.to_str().unwrap(),
            "--scriptlet",
            scriptlet.to_str().unwrap(),
        ])
        .args([
            "--op",
            r#"{"kind":"create","project":"ci","name":"r-1","target":"","source":{"type":"none"}}"#,
        ])
        .args([
            "--op",
            r#"{"kind":"move","project":"ci","name":"r-1","target_project":"ci","target":"hv-b02"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let simulation: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (simulation["incus_version"].as_str(), simulation["mode"].as_str()),
        (Some("6.0.4"), Some("upstream"))
    );
    let create = &simulation["calls"][0];
    assert_eq!(create["instance"], "ci/r-1");
    assert_eq!(
        (create["reason"].as_str(), create["project"].as_str()),
        (Some("new"), Some("ci"))
    );
    assert_eq!(create["runs_on"], "hv-a01");
    assert_eq!(
        create["logs"][0],
        serde_json::json!({"level": "warn", "message": "for ci"})
    );
    assert_eq!(create["error"], serde_json::Value::Null);
    let chosen = create["target"].as_str().unwrap().to_owned();
    assert_eq!(
        create["candidates"].as_array().unwrap().last().unwrap(),
        chosen.as_str()
    );
    assert!(create["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["member"] == "hv-b05" && e["reason"] == "scheduler.instance=manual"));
    assert_eq!(
        simulation["outcomes"][0],
        serde_json::json!({"instance": "ci/r-1", "member": chosen, "project": "ci"})
    );
    // The move sees the creation: the instance exists and is moved from where it was placed.
    assert_eq!(
        simulation["calls"][1]["candidates"],
        serde_json::json!(["hv-b02"])
    );
    assert_eq!(simulation["outcomes"][1]["member"], "hv-b02");
}

#[test]
fn simulate_refuses_a_snapshot_version_it_cannot_read_unless_told_one() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("odd.json");
    let mut odd = berth_core::demo::demo_snapshot();
    odd.server.environment.server_version = "6.0.4-1ubuntu2".into();
    std::fs::write(&snapshot, odd.to_json()).unwrap();
    let simulate = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["simulate", "--snapshot", snapshot.to_str().unwrap()])
            .args(["--op", r#"{"kind":"create","project":"ci","name":"r-1"}"#])
            .args(["--simulation-time-limit-ms", "30000"])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = simulate(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "reports Incus version \"6.0.4-1ubuntu2\", which Berth cannot read; pass --incus-version"
        ),
        "{stderr}"
    );
    let told = simulate(&["--incus-version", "6.0.4"]);
    assert_eq!(
        told.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&told.stderr)
    );
}

#[test]
fn simulate_gives_each_call_its_time_limit_and_stops_when_the_budget_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("demo.json");
    std::fs::write(&snapshot, berth_core::demo::demo_snapshot().to_json()).unwrap();
    let scriptlet = dir.path().join("spin.star");
    // Endless, in steps the engine can stop between (enough of them not to hit the step limit).
    std::fs::write(
        &scriptlet,
        "def instance_placement(request, candidate_members):\n    for i in range(2147483647):\n        pass\n",
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.args([
        "simulate",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--scriptlet",
        scriptlet.to_str().unwrap(),
        "--scriptlet-time-limit-ms",
        "300",
        "--simulation-time-limit-ms",
        "500",
        "--scriptlet-max-steps",
        "100000000000",
    ]);
    for n in 1..=5 {
        command.args([
            "--op",
            &format!(r#"{{"kind":"create","project":"web","name":"spin-{n}"}}"#),
        ]);
    }
    let output = command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let simulation: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let calls = simulation["calls"].as_array().unwrap();
    assert!((1..=2).contains(&calls.len()), "{simulation}");
    assert!(
        calls.iter().all(|call| call["error"]["kind"] == "timeout"),
        "{simulation}"
    );
    assert_eq!(
        simulation["stopped"],
        format!(
            "simulation stopped after {} of 5 calls: budget of 0.5 s",
            calls.len()
        )
    );
}

/// `berth check --snapshot S --cases CASES.json`: golden cases for CI, one line per failing
/// case with what happened instead, the tally last, exit 1 on any failure.
#[test]
fn golden_cases_pass_or_say_what_happened_instead() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("demo.json");
    std::fs::write(&snapshot, berth_core::demo::demo_snapshot().to_json()).unwrap();
    let scriptlet = dir.path().join("want.star");
    std::fs::write(
        &scriptlet,
        "def instance_placement(request, candidate_members):\n    want = request.config.get(\"user.want\", \"\")\n    if want == \"\":\n        fail(\"no member wanted\")\n    set_target(want)\n",
    )
    .unwrap();
    let create = |want: Option<&str>| {
        let config = want.map_or(
            serde_json::json!({}),
            |member| serde_json::json!({ "user.want": member }),
        );
        serde_json::json!({"kind": "create", "project": "ci", "name": "r-1", "source": {"type": "none"}, "config": config})
    };
    let run = |cases: serde_json::Value| {
        let file = dir.path().join("cases.json");
        std::fs::write(&file, cases.to_string()).unwrap();
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("check")
            .arg(&scriptlet)
            .arg("--snapshot")
            .arg(&snapshot)
            .arg("--cases")
            .arg(&file)
            .output()
            .unwrap()
    };
    let passing = run(serde_json::json!([
        {"name": "wanted", "op": create(Some("hv-b02")), "expect": {"member": "hv-b02"}},
        {"name": "refused", "op": create(None), "expect": {"error": "no member wanted"}},
    ]));
    assert_eq!(
        passing.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&passing.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&passing.stdout), "2 passed, 0 failed\n");

    let failing = run(serde_json::json!([
        {"name": "wrong member", "op": create(Some("hv-b02")), "expect": {"member": "hv-a01"}},
        {"name": "should fail", "op": create(Some("hv-b02")), "expect": {"error": "full"}},
        {"name": "ok", "op": create(Some("hv-b02")), "expect": {"member": "hv-b02"}},
        {"name": "fails", "op": create(None), "expect": {"member": "hv-b02"}},
    ]));
    assert_eq!(failing.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&failing.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(
        lines[0],
        "FAIL wrong member: ci/r-1 was placed on hv-b02, not on hv-a01"
    );
    assert_eq!(
        lines[1],
        "FAIL should fail: ci/r-1 was placed on hv-b02, not refused with an error containing \"full\""
    );
    assert!(
        lines[2].starts_with("FAIL fails: ci/r-1 failed: ") && lines[2].contains("no member wanted"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "1 passed, 3 failed");

    // A case file that is not cases is a usage error.
    let broken = run(serde_json::json!([{"name": "typo", "op": create(None), "expct": {}}]));
    assert_eq!(broken.status.code(), Some(2));
}

/// `berth check --snapshot S --matrix`: each version × situation with its calls, what the
/// scriptlet did with each, the cells that differ, the lints; exit 1 when any call fails.
#[test]
fn the_matrix_shows_each_version_and_situation_and_fails_on_a_failing_call() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("demo.json");
    std::fs::write(&snapshot, berth_core::demo::demo_snapshot().to_json()).unwrap();
    let matrix = |source: &str, args: &[&str]| {
        let scriptlet = dir.path().join("placement.star");
        std::fs::write(&scriptlet, source).unwrap();
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("check")
            .arg(&scriptlet)
            .arg("--snapshot")
            .arg(&snapshot)
            .arg("--matrix")
            .args(args)
            .output()
            .unwrap()
    };
    // Fails on 6.6's second call of a cross-project move (a `new` call for the copy) only.
    let copies_fail = "def instance_placement(request, candidate_members):\n    \
                       if request.reason == \"new\" and request.source.type == \"copy\":\n        \
                       fail(\"copies are not placed here\")\n    \
                       if candidate_members:\n        \
                       set_target(candidate_members[0].server_name)\n";
    let output = matrix(copies_fail, &["--versions", "6.0.4,6.6,7.0", "--json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 7 * 3 + 1, "rebalance on 7.0 only");
    let situations: std::collections::BTreeSet<&str> = cells
        .iter()
        .map(|cell| cell["situation"].as_str().unwrap())
        .collect();
    assert_eq!(
        situations,
        [
            "create",
            "create-member",
            "create-group",
            "move-member",
            "move-project",
            "move-project-member",
            "evacuate",
            "rebalance"
        ]
        .into_iter()
        .collect()
    );
    let mut failing = Vec::new();
    for cell in cells {
        assert!(["6.0.4", "6.6", "7.0"].contains(&cell["version"].as_str().unwrap()));
        assert!(cell["instance"].as_str().unwrap().contains('/'));
        for call in cell["calls"].as_array().unwrap() {
            assert!(call["reason"].is_string() && call["project"].is_string());
            assert!(call["candidates"].is_u64());
            let outcome = call["outcome"].as_str().unwrap();
            assert!(["member", "no_target", "error", "non_candidate", "limit"].contains(&outcome));
            if outcome == "error" {
                assert!(call["error"]
                    .as_str()
                    .unwrap()
                    .contains("copies are not placed here"));
                failing.push((
                    cell["situation"].as_str().unwrap(),
                    cell["version"].as_str().unwrap(),
                ));
                assert_eq!(cell["differs"], true);
            }
            if outcome == "member" {
                assert!(call["member"].is_string());
            }
        }
    }
    assert_eq!(failing, [("move-project", "6.6"), ("move-project-member", "6.6")]);

    // The text: a line per version, `*` differs and `!` fails; the lint names 7.0 alone.
    let ignores_rebalance = "def instance_placement(request, candidate_members):\n    \
                             if request.reason in [\"new\", \"relocation\", \"evacuation\"]:\n        \
                             set_target(candidate_members[0].server_name)\n";
    let output = matrix(ignores_rebalance, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("reason × version matrix of "), "{stdout}");
    assert!(
        stdout.contains(": Incus 6.0.4, 6.6, 7.0\n"),
        "default versions: {stdout}"
    );
    assert!(
        stdout.contains("warning: unhandled-reason [7.0; rebalance]: "),
        "{stdout}"
    );
    assert!(stdout.contains("  7.0      rebalance default ("), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().starts_with("22 cells, "),
        "{stdout}"
    );

    // The instance of a situation, as the user names it.
    let output = matrix(
        ignores_rebalance,
        &[
            "--versions",
            "6.0.4",
            "--instance",
            "evacuate=web/api-01",
            "--json",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let evacuate = json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cell| cell["situation"] == "evacuate")
        .unwrap();
    assert_eq!(evacuate["instance"], "web/api-01");

    // Usage errors exit 2: a version that is none, an instance that is not there, twice the
    // same version, the matrix without a snapshot or with cases.
    for args in [
        &["--versions", "six"][..],
        &["--versions", "6.6,6.6.0"],
        &["--instance", "evacuate=web/nope"],
        &["--instance", "teleport=web/api-01"],
        &["--cases", "cases.json"],
    ] {
        let output = matrix(ignores_rebalance, args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let scriptlet = dir.path().join("placement.star");
    let no_snapshot = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("check")
        .arg(&scriptlet)
        .arg("--matrix")
        .output()
        .unwrap();
    assert_eq!(no_snapshot.status.code(), Some(2));
}

/// `berth impact`: the changed decisions, one line each, then the summary; `--json` the whole
/// replay; a revision that does not compile exits 1 with its file, line and column.
#[test]
fn impact_lists_the_changed_decisions_and_sums_them_up() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = berth_core::demo::demo_snapshot();
    let snapshot_file = dir.path().join("demo.json");
    std::fs::write(&snapshot_file, snapshot.to_json()).unwrap();
    let write = |name: &str, source: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, source).unwrap();
        path
    };
    // Before: the first candidate outside `nvme`; after: `user.app=postgres` on `nvme`.
    let before = write(
        "before.star",
        "def instance_placement(request, candidate_members):\n    others = [m.server_name for m in candidate_members if \"nvme\" not in m.groups]\n    if others:\n        set_target(others[0])\n",
    );
    let after = write(
        "after.star",
        "def instance_placement(request, candidate_members):\n    nvme = [m.server_name for m in candidate_members if \"nvme\" in m.groups]\n    others = [m.server_name for m in candidate_members if \"nvme\" not in m.groups]\n    if request.config.get(\"user.app\", \"\") == \"postgres\" and nvme:\n        set_target(nvme[0])\n    elif others:\n        set_target(others[0])\n",
    );
    let impact = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("impact")
            .arg("--snapshot")
            .arg(&snapshot_file)
            .arg("--from")
            .arg(&before)
            .arg("--to")
            .arg(&after)
            .args(extra)
            .output()
            .unwrap()
    };
    let postgres: Vec<String> = snapshot
        .instances
        .iter()
        .filter(|i| i.expanded_config.get("user.app").map(String::as_str) == Some("postgres"))
        .map(|i| format!("{}/{}", i.project, i.name))
        .collect();
    assert!(!postgres.is_empty());

    let output = impact(&["--scope", "project=data"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let in_data = snapshot.instances.iter().filter(|i| i.project == "data").count();
    let changed: Vec<&str> = lines[..lines.len() - 1]
        .iter()
        .map(|line| line.split(' ').next().unwrap())
        .collect();
    let mut expected: Vec<&str> = postgres.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(changed, expected, "{stdout}");
    assert!(
        lines[0].contains(" → ") && lines[0].contains("[candidates: "),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[lines.len() - 1],
        format!("{in_data} instances, {} changed, 0 new errors", postgres.len())
    );

    let json = impact(&[
        "--json",
        "--scope",
        "label=app=postgres",
        "--scenario",
        "evacuation",
    ]);
    assert_eq!(
        json.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let document: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(document["scenario"], "evacuation");
    assert_eq!(document["scope"], "label=app=postgres");
    assert_eq!(document["instances"], postgres.len());
    assert!(document["summary"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{} instances, ", postgres.len())));
    assert!(document["load"].as_array().unwrap().len() == snapshot.members.len());

    let broken = write(
        "broken.star",
        "def instance_placement(request, candidate_members):\n    set_target(\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["impact", "--snapshot"])
        .arg(&snapshot_file)
        .arg("--from")
        .arg(&before)
        .arg("--to")
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with(&format!("{}:", broken.display())), "{stderr}");

    let usage = impact(&["--scope", "rack=a"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("project=P, member=M, label=K=V"));
}
