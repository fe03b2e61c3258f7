//! `--coverage` and `--lcov` on the commands that run a scriptlet many times, through real
//! sandbox workers: golden cases, a matrix, an impact replay and a fuzz run; a dead branch is marked
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
        if count(member) <= count(best):
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
    assert_eq!(text, "2 passed, 0 failed\ncoverage: 90.0% of lines (9 of 10)\n");
    let record = std::fs::read_to_string(&lcov).unwrap();
    assert!(
        record.starts_with(&format!("TN:\nSF:{}\n", scriptlet.display())),
        "{record}"
    );
    let hits = line_hits(&record);
    let lines: Vec<u32> = hits.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![2, 3, 5, 6, 7, 8, 9, 10, 11, 12]);
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
    assert!(record.ends_with("LF:10\nLH:9\nend_of_record\n"), "{record}");

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
    assert!(text.ends_with("coverage: 90.0% of lines (9 of 10)\n"), "{text}");
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
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().find(|(line, _)| *line == 6).unwrap().1 > 1_000);
}

#[test]
fn a_matrix_reports_the_lines_its_versions_ran() {
    let scratch = Scratch::new();
    let demo = scratch.path("demo.json");
    let scriptlet = scratch.file(
        "reasons.star",
        r#"def instance_placement(request, candidate_members):
    if request.reason == "rebalance":
        return
    for member in candidate_members:
        set_target(member.server_name)
        return
"#,
    );
    let matrix = |versions: &str, lcov: &PathBuf| {
        let output = berth(&[
            &"check",
            &scriptlet,
            &"--snapshot",
            &demo,
            &"--matrix",
            &"--versions",
            &versions,
            &"--coverage",
            &"--lcov",
            lcov,
        ]);
        let text = String::from_utf8(output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(0), "{text}");
        assert!(text.lines().last().unwrap().starts_with("coverage: "), "{text}");
        line_hits(&std::fs::read_to_string(lcov).unwrap())
    };
    // Only 7.x sends rebalance: its branch runs in the 7.0 column alone.
    let six = matrix("6.0.4", &scratch.path("six.lcov"));
    assert_eq!(six.iter().find(|(line, _)| *line == 3), Some(&(3, 0)), "{six:?}");
    assert!(six.iter().any(|(line, hits)| *line == 5 && *hits > 0), "{six:?}");
    let both = matrix("6.0.4,7.0", &scratch.path("both.lcov"));
    assert!(
        both.iter().any(|(line, hits)| *line == 3 && *hits > 0),
        "{both:?}"
    );

    // With --json the matrix is the document on stdout, its coverage in it; the summary on stderr.
    let output = berth(&[
        &"check",
        &scriptlet,
        &"--snapshot",
        &demo,
        &"--matrix",
        &"--json",
        &"--coverage",
    ]);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(document["cells"].is_array());
    assert!(document["coverage"]["lines"].is_array(), "{document}");
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("coverage: "));
}
