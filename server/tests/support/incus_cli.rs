//! Driving the test bed's Incus as an administrator would: the `incus` command against member
//! m1, and the placement scriptlet's lines from the members' daemon logs.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::TestBed;

/// `incus ARGS` against member m1 (it receives the request).
pub fn incus(bed: &TestBed, args: &[&str]) -> Output {
    Command::new("incus")
        .env("INCUS_DIR", bed.dir.join("members/m1"))
        .args(args)
        .output()
        .expect("incus runs")
}

fn log_path(bed: &TestBed, member: &str) -> PathBuf {
    bed.dir.join("members").join(member).join("incusd.log")
}

/// Where each member's log ends now.
pub fn log_marks(bed: &TestBed) -> Vec<(String, u64)> {
    bed.members()
        .iter()
        .map(|member| {
            (
                member.to_string(),
                std::fs::metadata(log_path(bed, member))
                    .map(|m| m.len())
                    .unwrap_or(0),
            )
        })
        .collect()
}

/// (member, level, message) of every scriptlet log line written since `marks`.
pub fn scriptlet_lines_since(bed: &TestBed, marks: &[(String, u64)]) -> Vec<(String, String, String)> {
    let mut lines = Vec::new();
    for (member, offset) in marks {
        let log = std::fs::read(log_path(bed, member)).unwrap();
        let text = String::from_utf8_lossy(&log[(*offset as usize).min(log.len())..]).into_owned();
        for (level, message) in scriptlet_log_lines(&text) {
            lines.push((member.clone(), level, message));
        }
    }
    lines
}

/// The `msg` values of the scriptlet's lines in a logfmt daemon log, with their levels.
pub fn scriptlet_log_lines(log: &str) -> Vec<(String, String)> {
    const PREFIX: &str = "msg=\"Instance placement scriptlet: ";
    log.lines()
        .filter_map(|line| {
            let start = line.find(PREFIX)? + PREFIX.len();
            let level = line.split("level=").nth(1)?.split(' ').next()?.to_owned();
            let mut message = String::new();
            let mut chars = line[start..].chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => message.push(match chars.next()? {
                        't' => '\t',
                        'n' => '\n',
                        'r' => '\r',
                        escaped => escaped,
                    }),
                    '"' => break,
                    c => message.push(c),
                }
            }
            let level = if level == "warning" {
                "warn".to_owned()
            } else {
                level
            };
            Some((level, message))
        })
        .collect()
}
