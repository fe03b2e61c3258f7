//! `berth check FILE --snapshot S --matrix [--versions 6.0.4,6.6,7.0] [--instance SITUATION=PROJECT/NAME]
//! [--json]`: the scriptlet's reason × version matrix (`berth_core::matrix`) on a snapshot file,
//! run on sandbox workers (`crate::matrix`). Text by default, one line per cell grouped by
//! situation; `--json` prints the matrix as one document. Exit 1 when a cell fails (a call's
//! outcome `error`, `non_candidate` or `limit`, a version that refuses the scriptlet, a
//! simulation cut short), 2 on usage or IO errors.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use berth_core::matrix::{
    default_versions, parse_versions, plan, Cell, Matrix, MatrixCall, Picks, Situation,
};
use berth_core::Snapshot;
use sha2::{Digest, Sha256};

use crate::sandbox::{JobSnapshot, Sandbox};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct MatrixArgs {
    /// The reason × version matrix on `--snapshot`: every situation that calls the scriptlet
    /// (create, create-member, create-group, move-member, move-project, move-project-member,
    /// evacuate, rebalance) on every version, with what the scriptlet does with each call.
    #[arg(long, requires = "snapshot")]
    pub matrix: bool,

    /// The Incus versions to compare, comma-separated, as the matrix names them (at most 8).
    /// Default: the snapshot's own, 6.6 and 7.0.
    #[arg(long, requires = "matrix", value_name = "LIST")]
    pub versions: Option<String>,

    /// The instance a situation is shown with, instead of the one the matrix picks
    /// (repeatable): `move-project=web/web-03`.
    #[arg(long = "instance", requires = "matrix", value_name = "SITUATION=PROJECT/NAME", value_parser = parse_pick)]
    pub instances: Vec<(Situation, String)>,
}

fn parse_pick(text: &str) -> Result<(Situation, String), String> {
    let (situation, instance) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected SITUATION=PROJECT/NAME"))?;
    let situation = situation.trim().parse::<Situation>().map_err(|e| e.to_string())?;
    if !instance.contains('/') {
        return Err(format!("{instance:?}: expected PROJECT/NAME"));
    }
    Ok((situation, instance.trim().to_owned()))
}

/// Runs the matrix of `source` on the snapshot file and prints it; the exit code.
pub async fn run(
    sandbox: &Sandbox,
    file: &Path,
    source: &str,
    snapshot_file: &Path,
    args: &MatrixArgs,
    json: bool,
) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(snapshot_file)
        .with_context(|| format!("cannot read {}", snapshot_file.display()))?;
    let snapshot = Snapshot::from_json(&text)
        .with_context(|| format!("{} is not a usable snapshot", snapshot_file.display()))?;
    let versions = match &args.versions {
        Some(list) => parse_versions(list).context("--versions")?,
        None => default_versions(&snapshot)?,
    };
    let mut picks = Picks::new();
    for (situation, instance) in &args.instances {
        if picks.insert(*situation, instance.clone()).is_some() {
            anyhow::bail!("--instance names {situation} twice");
        }
    }
    let plan = plan(&snapshot, &versions, &picks)?;
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let matrix = crate::matrix::run(sandbox, JobSnapshot::new(&hash, &text), source, &plan).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&matrix)?);
    } else {
        print!(
            "{}",
            render(
                &matrix,
                &file.display().to_string(),
                &snapshot_file.display().to_string()
            )
        );
    }
    Ok(if matrix.fails() { 1 } else { 0 })
}

/// The matrix as text: a heading per situation, a line per version (`*` where the cell differs
/// from most versions, `!` where it fails), the skipped situations, the lints, the summary.
fn render(matrix: &Matrix, file: &str, snapshot: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "reason × version matrix of {file} on {snapshot}: Incus {}",
        matrix.versions.join(", ")
    );
    let width = matrix.versions.iter().map(String::len).max().unwrap_or(0);
    for situation in Situation::ALL {
        let cells: Vec<&Cell> = matrix.cells.iter().filter(|c| c.situation == situation).collect();
        let Some(first) = cells.first() else { continue };
        let _ = writeln!(
            out,
            "\n{situation}: {} — {}",
            first.instance,
            situation.describe()
        );
        for cell in cells {
            let marks = format!(
                "{}{}",
                if cell.differs { "*" } else { " " },
                if cell.fails() { "!" } else { " " }
            );
            let _ = writeln!(out, "  {:<width$} {marks} {}", cell.version, describe_cell(cell));
        }
    }
    for skipped in &matrix.skipped {
        let _ = writeln!(out, "\nskipped {}: {}", skipped.situation, skipped.reason);
    }
    if !matrix.lints.is_empty() {
        out.push('\n');
    }
    for lint in &matrix.lints {
        let situations: Vec<&str> = lint.situations.iter().map(|s| s.id()).collect();
        let _ = writeln!(
            out,
            "warning: {} [{}; {}]: {}",
            lint.code,
            lint.versions.join(", "),
            situations.join(", "),
            lint.message
        );
    }
    let _ = writeln!(out, "\n{}", matrix.summary());
    out
}

fn describe_cell(cell: &Cell) -> String {
    if let Some(refused) = &cell.refused {
        return format!("refused when set: {refused}");
    }
    let mut parts: Vec<String> = if cell.calls.is_empty() {
        vec!["no scriptlet call".into()]
    } else {
        cell.calls.iter().map(describe_call).collect()
    };
    match (&cell.placed, &cell.failed) {
        (Some(member), _) => parts.push(format!("→ {member}")),
        (None, Some(error)) => parts.push(format!("→ fails: {error}")),
        (None, None) => {}
    }
    if let Some(stopped) = &cell.stopped {
        parts.push(format!("stopped: {stopped}"));
    }
    parts.join("; ")
}

fn describe_call(call: &MatrixCall) -> String {
    let candidates = match call.candidates {
        1 => "1 candidate".to_owned(),
        n => format!("{n} candidates"),
    };
    let validation = if call.validation_only {
        ", validation only"
    } else {
        ""
    };
    let who = call
        .instance
        .as_deref()
        .map(|instance| format!("{instance}: "))
        .unwrap_or_default();
    let mut text = format!(
        "{who}{} {} ({candidates}{validation}): {}",
        call.reason,
        call.project,
        call.outcome.as_str()
    );
    if let Some(member) = &call.member {
        let _ = write!(text, " {member}");
    }
    if call.outcome == berth_core::matrix::CallOutcome::NonCandidate {
        if let Some(note) = &call.note {
            let _ = write!(text, " [{note}]");
        }
    }
    if let Some(error) = &call.error {
        match call.line {
            Some(line) => {
                let _ = write!(text, " (line {line}: {error})");
            }
            None => {
                let _ = write!(text, " ({error})");
            }
        }
    }
    text
}
