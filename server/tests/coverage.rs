//! `--coverage` and `--lcov` on the commands that run a scriptlet many times, through real
//! sandbox workers: golden cases, an impact replay and a fuzz run; a dead branch is marked
//! unrun in the lcov file, with the scriptlet's own line numbers.

use std::path::PathBuf;
use std::process::{Command, Output};

const SCRIPTLET: &str = r#"# Spread by instance count; refuse the impossible.
def count(member):
    return get_instances_count(location=member.server_name)

def instance_placement(request, candidate_members):
    if request.name == "never-created":
        fail("this branch never runs")
    best = candidate_members[0]
    for member in candidate_members:
        if count(member) < count(best):
            best = member
    set_target(best.server_name)
"#;

const CASES: &str = r#"[
  {"name": "create", "op": {"kind": "create", "project": "default", "name": "c1"}},
  {"name": "direct", "call": {"request": {"reason": "new", "project": "web", "name": "c2"}, "candidates": ["hv-a01", "hv-a02"]}, "expect": {"placed": true}}
]"#;

struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        let scratch = Scratch(tempfile::tempdir().unwrap());
        scratch.file("demo.json", &berth_core::demo::demo_snapshot().to_json());
        scratch.file("placement.star", SCRIPTLET);
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name)
    }
}

fn berth(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args.iter().map(|arg| arg.as_ref()))
        .output()
        .unwrap()
}

/// `DA:LINE,HITS` lines of an lcov record.
fn line_hits(lcov: &str) -> Vec<(u32, u64)> {
    lcov.lines()
        .filter_map(|line| line.strip_prefix("DA:"))
        .map(|pair| {
            let (line, hits) = pair.split_once(',').unwrap();
            (line.parse().unwrap(), hits.parse().unwrap())
        })
        .collect()
}

#[test]
fn golden_cases_report_the_lines_they_ran_and_mark_a_dead_branch_unrun() {
    let scratch = Scratch::new();
    let (scriptlet, demo, cases, lcov) = (
        scratch.path("placement.star"),
        scratch.path("demo.json"),
        scratch.file("cases.json", CASES),
        scratch.path("out.lcov"),
    );
    let output = berth(&[
        &"check",
        &scriptlet,
        &"--snapshot",
        &demo,
        &"--cases",
        &cases,
        &"--coverage",
        &"--lcov",
        &lcov,
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(text, "2 passed, 0 failed\ncoverage: 88.9% of lines (8 of 9)\n");
    let record = std::fs::read_to_string(&lcov).unwrap();
    assert!(
        record.starts_with(&format!("TN:\nSF:{}\n", scriptlet.display())),
        "{record}"
    );
    let hits = line_hits(&record);
    let lines: Vec<u32> = hits.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![2, 3, 5, 6, 7, 8, 9, 10, 12]);
    assert_eq!(
        hits.iter().find(|(line, _)| *line == 7),
        Some(&(7, 0)),
        "{record}"
    );
    assert!(
        hits.iter()
            .filter(|(line, _)| *line != 7)
            .all(|(_, count)| *count > 0),
        "{record}"
    );
    assert!(record.contains("\nBRDA:6,0,0,0\nBRDA:6,0,1,2\n"), "{record}");
    assert!(record.ends_with("LF:9\nLH:8\nend_of_record\n"), "{record}");

    // Without --cases there is nothing to cover.
    let alone = berth(&[&"check", &scriptlet, &"--coverage"]);
    assert_eq!(alone.status.code(), Some(2));
}

#[test]
fn an_impact_replay_reports_the_new_revisions_lines() {
    let scratch = Scratch::new();
    let (scriptlet, demo, lcov) = (
        scratch.path("placement.star"),
        scratch.path("demo.json"),
        scratch.path("replay.lcov"),
    );
    let old = scratch.file(
        "old.star",
        "def instance_placement(request, candidate_members):\n    pass\n",
    );
    let output = berth(&[
        &"impact",
        &"--snapshot",
        &demo,
        &"--from",
        &old,
        &"--to",
        &scriptlet,
        &"--scope",
        &"project=web",
        &"--coverage",
        &"--lcov",
        &lcov,
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.ends_with("coverage: 88.9% of lines (8 of 9)\n"), "{text}");
    let record = std::fs::read_to_string(&lcov).unwrap();
    assert!(
        record.contains(&format!("SF:{}\n", scriptlet.display())),
        "{record}"
    );
    let hits = line_hits(&record);
    // 100 instances of the web project, each placed once by the new revision.
    assert_eq!(
        hits.iter().find(|(line, _)| *line == 6),
        Some(&(6, 100)),
        "{record}"
    );
    assert_eq!(
        hits.iter().find(|(line, _)| *line == 7),
        Some(&(7, 0)),
        "{record}"
    );
}

#[test]
fn a_fuzz_run_writes_its_coverage_too() {
    let scratch = Scratch::new();
    let (scriptlet, demo, lcov) = (
        scratch.path("placement.star"),
        scratch.path("demo.json"),
        scratch.path("fuzz.lcov"),
    );
    let output = berth(&[
        &"fuzz",
        &scriptlet,
        &"--snapshot",
        &demo,
        &"--rounds",
        &"1",
        &"--lcov",
        &lcov,
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let hits = line_hits(&std::fs::read_to_string(&lcov).unwrap());
    assert_eq!(hits.len(), 9);
    assert!(hits.iter().find(|(line, _)| *line == 6).unwrap().1 > 1_000);
}
