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
