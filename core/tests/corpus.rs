//! `check` against the verdicts real Incus 6.0.4 gave for every scriptlet of `tests/corpus/`
//! (recorded by `scripts/record-scriptlet-verdicts.sh` on the test bed; the live comparison is
//! `server/tests/scriptlet_live.rs`).

use std::path::Path;

use berth_core::engine::{check, IncusVersion, Limits};

#[test]
fn check_agrees_with_incus_on_every_corpus_scriptlet() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("verdicts.json")).unwrap()).unwrap();
    let version: IncusVersion = recorded["incus_version"].as_str().unwrap().parse().unwrap();
    let verdicts = recorded["verdicts"].as_object().unwrap();
    assert!(
        verdicts.len() >= 60,
        "the corpus has {} scriptlets",
        verdicts.len()
    );

    let mut disagreements = Vec::new();
    for (name, verdict) in verdicts {
        let source = std::fs::read_to_string(dir.join(format!("{name}.star"))).unwrap();
        let report = check(&source, version, &Limits::default(), &|| false);
        let incus_accepted = verdict["accepted"].as_bool().unwrap();
        if report.accepted != incus_accepted {
            disagreements.push(format!(
                "{name}: Incus {} ({}), Berth {} ({:?})",
                if incus_accepted { "accepts" } else { "refuses" },
                verdict["error"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .last()
                    .unwrap_or(""),
                if report.accepted { "accepts" } else { "refuses" },
                report.errors.first().map(|e| e.message.clone()),
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn refusals_use_incus_wording_and_positions_where_the_dialects_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("verdicts.json")).unwrap()).unwrap();
    // Incus prints `instance_placement:LINE:COL: message` for these.
    for name in [
        "bad_while_loop",
        "bad_top_level_for",
        "bad_top_level_if",
        "bad_set_builtin",
        "bad_undefined_name_in_function",
        "bad_undefined_name_top_level",
        "bad_global_reassignment",
        "bad_function_redefined",
    ] {
        let incus = recorded["verdicts"][name]["error"].as_str().unwrap();
        let incus = incus.lines().last().unwrap().trim_start_matches("': ");
        let source = std::fs::read_to_string(dir.join(format!("{name}.star"))).unwrap();
        let report = check(&source, IncusVersion::DEFAULT, &Limits::default(), &|| false);
        let error = &report.errors[0];
        let berth = format!(
            "instance_placement:{}:{}: {}",
            error.line.unwrap(),
            error.column.unwrap(),
            error.message
        );
        assert_eq!(berth, incus, "{name}");
    }
}

/// Lexical refusals (`bad_lex_*`: escapes, numbers, characters, indentation) are reported as
/// go.starlark.net reports them: same message, same line and column. (Those Incus's parser
/// reports, "got …, want …", only agree on the verdict.)
#[test]
fn lexical_refusals_match_incus_exactly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("verdicts.json")).unwrap()).unwrap();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for (name, verdict) in recorded["verdicts"].as_object().unwrap() {
        if !name.starts_with("bad_lex_") {
            continue;
        }
        let incus = verdict["error"].as_str().unwrap().lines().last().unwrap();
        let incus = incus.rsplit_once("': ").map_or(incus, |(_, line)| line);
        if incus.contains(": got ") {
            continue;
        }
        let source = std::fs::read_to_string(dir.join(format!("{name}.star"))).unwrap();
        let report = check(&source, IncusVersion::DEFAULT, &Limits::default(), &|| false);
        let error = &report.errors[0];
        let berth = format!(
            "instance_placement:{}:{}: {}",
            error.line.unwrap_or(0),
            error.column.unwrap_or(0),
            error.message
        );
        compared += 1;
        if berth != incus {
            mismatches.push(format!("{name}:\n  Incus {incus}\n  Berth {berth}"));
        }
    }
    assert!(compared >= 40, "only {compared} lexical cases");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
