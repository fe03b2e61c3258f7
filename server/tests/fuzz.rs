//! `berth fuzz` on the demo through real sandbox workers: planted failures of several kinds
//! found and written as golden cases that `berth check --cases` fails on the planted
//! scriptlet and passes once it is fixed; the same run for the same seed and rounds on one
//! worker or two; nothing found on careful scriptlets nor on the template library; the exit
//! codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Failures planted on purpose, each behind a combination of request fields, candidates and
/// reason (one of them only on 7.x, which alone sends `rebalance`).
const PLANTED: &str = r#"def instance_placement(request, candidate_members):
    # An evacuation of a gold instance with a single member left to go to.
    if request.reason == "evacuation" and len(candidate_members) == 1:
        if request.config.get("user.tier", "") == "gold":
            fail("no gold evacuation with one candidate")
    # A copy into the data project pinned to an edge member (never its candidate).
    if request.reason == "new" and request.source.type == "copy" and request.project == "data":
        set_target("hv-e01")
        return
    # Rebalancing a virtual machine counts for ever.
    if request.reason == "rebalance" and request.type == "virtual-machine":
        n = 0
        for i in range(100000000):
            n += i
    # A relocation reads limits.cpu as a plain number.
    if request.reason == "relocation":
        cpus = int(request.config.get("limits.cpu", "1"))
        if cpus > 64:
            return
    set_target(candidate_members[0].server_name)
"#;

const FIXED: &str = r#"def instance_placement(request, candidate_members):
    set_target(candidate_members[0].server_name)
"#;

/// Careful: handles every reason, any candidates, any config.
const CAREFUL: &str = r#"def instance_placement(request, candidate_members):
    best = None
    for member in candidate_members:
        count = get_instances_count(location=member.server_name)
        if best == None or count < best[1]:
            best = (member.server_name, count)
    if best != None:
        set_target(best[0])
"#;

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let scratch = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(
            scratch.path("demo.json"),
            berth_core::demo::demo_snapshot().to_json(),
        )
        .unwrap();
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn berth(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args.iter().map(|arg| arg.as_ref()))
        .output()
        .unwrap()
}

fn fuzz_json(scratch: &Scratch, scriptlet: &Path, extra: &[&str]) -> (Output, Value) {
    let demo = scratch.path("demo.json");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"fuzz", &scriptlet, &"--snapshot", &demo, &"--json"];
    for arg in extra {
        args.push(arg);
    }
    let output = berth(&args);
    let document = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, document)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn planted_failures_are_found_and_become_cases_that_fail_until_fixed() {
    let scratch = Scratch::new();
    let planted = scratch.file("planted.star", PLANTED);
    let out = scratch.path("cases.json");
    let out_arg = out.display().to_string();
    let (output, run) = fuzz_json(
        &scratch,
        &planted,
        &["--versions", "6.0.4,6.6,7.0", "--rounds", "6", "--out", &out_arg],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let failures = run["failures"].as_array().unwrap();
    let found: Vec<(String, Option<u64>)> = failures
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_owned(), f["line"].as_u64()))
        .collect();
    for (kind, line) in [("error", Some(5)), ("limit", None), ("error", Some(17))] {
        assert!(
            found.contains(&(kind.to_owned(), line)),
            "{kind} at {line:?} not found in {found:?}"
        );
    }
    assert!(found.iter().any(|(kind, _)| kind == "non_candidate"), "{found:?}");
    for failure in failures {
        let case = &failure["case"];
        assert_eq!(case["expect"], serde_json::json!({"placed": true}));
        let call = &case["call"];
        assert!(!call["candidates"].as_array().unwrap().is_empty());
        match (failure["kind"].as_str(), failure["line"].as_u64()) {
            (Some("error"), Some(5)) => {
                assert_eq!(call["request"]["reason"], "evacuation");
                assert_eq!(call["candidates"].as_array().unwrap().len(), 1);
                assert_eq!(
                    call["request"]["config"],
                    serde_json::json!({"user.tier": "gold"})
                );
            }
            (Some("limit"), _) => {
                assert_eq!(call["incus_version"], "7.0");
                assert_eq!(call["request"]["reason"], "rebalance");
                assert_eq!(call["request"]["type"], "virtual-machine");
            }
            (Some("non_candidate"), _) => {
                assert_eq!(call["request"]["project"], "data");
                assert_eq!(call["request"]["source"]["type"], "copy");
            }
            _ => {}
        }
    }

    // The cases: each fails on the planted scriptlet and passes on the fixed one.
    let demo = scratch.path("demo.json");
    let check = |scriptlet: &Path| berth(&[&"check", &scriptlet, &"--snapshot", &demo, &"--cases", &out]);
    let planted_check = check(&planted);
    let text = String::from_utf8(planted_check.stdout).unwrap();
    assert_eq!(planted_check.status.code(), Some(1), "{text}");
    assert!(
        text.ends_with(&format!("0 passed, {} failed\n", failures.len())),
        "{text}"
    );
    assert!(text.contains("FAIL fuzz-1-"), "{text}");
    let fixed = scratch.file("fixed.star", FIXED);
    let fixed_check = check(&fixed);
    let text = String::from_utf8(fixed_check.stdout).unwrap();
    assert_eq!(fixed_check.status.code(), Some(0), "{text}");
    assert_eq!(text, format!("{} passed, 0 failed\n", failures.len()));
}

#[test]
fn a_seed_and_a_number_of_rounds_repeat_a_run_on_any_number_of_workers() {
    let scratch = Scratch::new();
    let planted = scratch.file("planted.star", PLANTED);
    let run = |workers: &str, seed: &str| {
        let (output, mut document) = fuzz_json(
            &scratch,
            &planted,
            &["--rounds", "2", "--seed", seed, "--scriptlet-workers", workers],
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let object = document.as_object_mut().unwrap();
        // Only the clock differs.
        for timing in ["seconds", "calls_per_second"] {
            object.remove(timing);
        }
        for failure in object["failures"].as_array_mut().unwrap() {
            failure.as_object_mut().unwrap().remove("seconds");
        }
        document
    };
    let mut one = run("1", "7");
    assert_eq!(one["rounds"], 2);
    assert_eq!(one["seed"], 7);
    assert_eq!(run("2", "7"), one);
    let mut other = run("2", "8");
    for document in [&mut one, &mut other] {
        document.as_object_mut().unwrap().remove("seed");
    }
    assert_ne!(other, one, "another seed, another run");
}

#[test]
fn careful_scriptlets_have_no_failure_and_exit_0() {
    let scratch = Scratch::new();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log_and_pick.star");
    for scriptlet in [scratch.file("careful.star", CAREFUL), shared] {
        let out = scratch.path("none.json");
        let out_arg = out.display().to_string();
        let (output, run) = fuzz_json(
            &scratch,
            &scriptlet,
            &["--versions", "6.0.4,6.6,7.0", "--rounds", "3", "--out", &out_arg],
        );
        assert_eq!(output.status.code(), Some(0), "{}: {run}", scriptlet.display());
        assert_eq!(run["failures"], serde_json::json!([]));
        assert!(run["calls"].as_u64().unwrap() > 10_000, "{run}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "[]\n");
    }
}

/// The templates (`templates/`) promise to place every call of every reason on every version:
/// the fuzzer holds them to it, on the demo, for every version Berth imitates.
#[test]
fn the_templates_have_no_failure() {
    let scratch = Scratch::new();
    for template in berth_core::templates::TEMPLATES {
        let scriptlet = scratch.file(&format!("{}.star", template.name), template.source);
        let (output, run) = fuzz_json(
            &scratch,
            &scriptlet,
            &["--versions", "6.0.4,6.6,6.7,7.0", "--rounds", "4", "--seed", "20"],
        );
        assert_eq!(output.status.code(), Some(0), "{}: {run}", template.name);
        assert_eq!(run["failures"], serde_json::json!([]), "{}", template.name);
        assert!(
            run["calls"].as_u64().unwrap() >= 20_000,
            "{}: {run}",
            template.name
        );
        assert!(
            run["corpus"].as_u64().unwrap() > 1,
            "{}: coverage steered nothing: {run}",
            template.name
        );
    }
}

#[test]
fn the_text_output_names_each_failure_its_call_and_how_to_repeat_the_run() {
    let scratch = Scratch::new();
    let planted = scratch.file("planted.star", PLANTED);
    let demo = scratch.path("demo.json");
    let output = berth(&[
        &"fuzz",
        &planted,
        &"--snapshot",
        &demo,
        &"--rounds",
        &"2",
        &"--coverage",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{text}");
    let file = planted.display().to_string();
    assert!(text.contains(&format!("FAIL error at {file}:17:")), "{text}");
    assert!(text.contains("    Incus 6.0.4, relocation of "), "{text}");
    assert!(
        text.contains("; seed 1, 2 rounds of 4 batches of 1500 calls (--seed 1 --rounds 2 repeats it)"),
        "{text}"
    );
    assert!(text.lines().last().unwrap().starts_with("coverage: "), "{text}");
}

#[test]
fn usage_errors_exit_2_and_a_scriptlet_that_does_not_compile_exits_1() {
    let scratch = Scratch::new();
    let careful = scratch.file("careful.star", CAREFUL);
    let demo = scratch.path("demo.json");
    let bad_version = berth(&[&"fuzz", &careful, &"--snapshot", &demo, &"--versions", &"six"]);
    assert_eq!(bad_version.status.code(), Some(2));
    assert!(
        stderr(&bad_version).contains("--versions"),
        "{}",
        stderr(&bad_version)
    );
    let bad_time = berth(&[&"fuzz", &careful, &"--snapshot", &demo, &"--time", &"soon"]);
    assert_eq!(bad_time.status.code(), Some(2));
    let missing = berth(&[&"fuzz", &careful, &"--snapshot", &scratch.path("nope.json")]);
    assert_eq!(missing.status.code(), Some(2));
    let no_snapshot = berth(&[&"fuzz", &careful]);
    assert_eq!(no_snapshot.status.code(), Some(2));

    let broken = scratch.file(
        "broken.star",
        "def instance_placement(request, candidate_members):\n    log_info(nope)\n",
    );
    let output = berth(&[&"fuzz", &broken, &"--snapshot", &demo, &"--rounds", &"1"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!("{}:2:14: undefined: nope\n", broken.display())
    );
}
