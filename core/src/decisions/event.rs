//! Incus's events as `GET /1.0/events?type=lifecycle,logging&all-projects=true` sends them
//! (`{"type", "timestamp", "location", "project", "metadata"}`), and what the decision log reads
//! of them. What Incus 6.0.4 emits, as recorded on the test bed (`testdata/events.jsonl`):
//!
//! - a create: `instance-created` from the member it landed on (`location`, also
//!   `metadata.context.location`); the project in `project` and in `?project=` of `source`;
//! - a move to another member in the same project: `instance-migrated` from the member it
//!   *left* (where it lands is not in the event);
//! - a move to another project: `instance-created` in the target project on the member it
//!   lands on, then `instance-deleted` (same member) or `instance-migrated` and
//!   `instance-deleted` (another member) in the project it left: a copy and a delete;
//! - an evacuation: one `instance-migrated` per instance from the evacuated member, then
//!   `cluster-member-evacuated`; a restore the same back, then `cluster-member-restored`;
//! - a change of the server's configuration (the scriptlet): `config-updated`, source `/1.0`;
//! - the scriptlet's own lines: `logging` events from the member that ran it, no project,
//!   message `Instance placement scriptlet: TEXT`, level `info`, `warning` or `error`, and
//!   Incus's own `Instance placement scriptlet set member target` (context `member`) when it
//!   calls `set_target`. Nothing in them names the instance: [`super::runs`] tells which
//!   placement they belong to. Events of one member may arrive out of order (Incus writes each
//!   to each listener from a goroutine of its own): lines are ordered by their timestamps.

use serde::{Deserialize, Serialize};

use super::time::parse_rfc3339_ns;
use crate::engine::LogLevel;

/// One event, as Incus sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncusEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: String,
    /// The member the event comes from.
    #[serde(default)]
    pub location: String,
    /// Absent for logging events.
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub metadata: serde_json::Value,
}

/// What the decision log reads of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// An instance appeared on `member`: a create, or the arrival of a move to another project.
    InstanceCreated {
        project: String,
        name: String,
        member: String,
    },
    InstanceDeleted {
        project: String,
        name: String,
        member: String,
    },
    /// An instance left `from_member` (where to is not said).
    InstanceMigrated {
        project: String,
        name: String,
        from_member: String,
    },
    InstanceRenamed {
        project: String,
        old_name: String,
        name: String,
    },
    MemberEvacuated {
        member: String,
    },
    MemberRestored {
        member: String,
    },
    /// The server's configuration changed: the scriptlet may have.
    ConfigUpdated,
    /// A line the placement scriptlet logged on `runner`.
    ScriptletLine {
        runner: String,
        level: LogLevel,
        message: String,
    },
    /// Incus noted the scriptlet's `set_target(member)` on `runner`.
    ScriptletTarget {
        runner: String,
        member: String,
    },
    /// Anything else (other objects, Incus's own log lines).
    Other,
}

/// The prefix Incus gives each line a placement scriptlet logs (`scriptlet/log/logger.go`).
const SCRIPTLET_PREFIX: &str = "Instance placement scriptlet: ";
/// Incus's own line when the scriptlet sets a target (`scriptlet/instance_placement.go`).
const SCRIPTLET_TARGET: &str = "Instance placement scriptlet set member target";

impl IncusEvent {
    /// When it happened, in nanoseconds since the epoch (`None`: an unreadable timestamp).
    pub fn at_ns(&self) -> Option<i64> {
        parse_rfc3339_ns(&self.timestamp)
    }

    pub fn read(&self) -> Reading {
        match self.kind.as_str() {
            "lifecycle" => self.read_lifecycle(),
            "logging" => self.read_logging(),
            _ => Reading::Other,
        }
    }

    fn read_lifecycle(&self) -> Reading {
        let text = |key: &str| {
            self.metadata
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        let action = text("action");
        let source = text("source");
        if action == "config-updated" && source == "/1.0" {
            return Reading::ConfigUpdated;
        }
        if let Some(member) = source.strip_prefix("/1.0/cluster/members/") {
            let member = percent_decode(member.split('?').next().unwrap_or_default());
            return match action {
                "cluster-member-evacuated" => Reading::MemberEvacuated { member },
                "cluster-member-restored" => Reading::MemberRestored { member },
                _ => Reading::Other,
            };
        }
        let Some((name, project)) = instance_of(source, &self.project) else {
            return Reading::Other;
        };
        let member = self.location.clone();
        match action {
            "instance-created" => Reading::InstanceCreated {
                project,
                name,
                member,
            },
            "instance-deleted" => Reading::InstanceDeleted {
                project,
                name,
                member,
            },
            "instance-migrated" => Reading::InstanceMigrated {
                project,
                name,
                from_member: member,
            },
            "instance-renamed" => {
                let old_name = self
                    .metadata
                    .pointer("/context/old_name")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned();
                if old_name.is_empty() {
                    return Reading::Other;
                }
                Reading::InstanceRenamed {
                    project,
                    old_name,
                    name,
                }
            }
            _ => Reading::Other,
        }
    }

    fn read_logging(&self) -> Reading {
        let message = self
            .metadata
            .get("message")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let runner = self.location.clone();
        if let Some(text) = message.strip_prefix(SCRIPTLET_PREFIX) {
            let level = match self.metadata.get("level").and_then(|v| v.as_str()) {
                Some("info") => LogLevel::Info,
                Some("warning" | "warn") => LogLevel::Warn,
                _ => LogLevel::Error,
            };
            return Reading::ScriptletLine {
                runner,
                level,
                message: text.to_owned(),
            };
        }
        if message == SCRIPTLET_TARGET {
            if let Some(member) = self.metadata.pointer("/context/member").and_then(|v| v.as_str()) {
                return Reading::ScriptletTarget {
                    runner,
                    member: member.to_owned(),
                };
            }
        }
        Reading::Other
    }
}

/// The instance a lifecycle `source` names: `/1.0/instances/NAME[?project=P]` (the project is
/// the event's, else `default`). A snapshot's or a log's path is no instance.
fn instance_of(source: &str, event_project: &str) -> Option<(String, String)> {
    let rest = source.strip_prefix("/1.0/instances/")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.contains('/') {
        return None;
    }
    let project = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("project="))
        .map(percent_decode)
        .filter(|p| !p.is_empty())
        .or_else(|| (!event_project.is_empty()).then(|| event_project.to_owned()))
        .unwrap_or_else(|| "default".to_owned());
    Some((percent_decode(path), project))
}

/// `%XX` sequences decoded (Incus percent-encodes names in URLs); anything malformed kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> IncusEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_create_names_the_member_it_landed_on_and_its_project() {
        let created = event(
            r#"{"location":"m2","metadata":{"action":"instance-created","context":{"location":"m2","storage-pool":"local","type":"container"},"requestor":{"address":"@","protocol":"unix","username":"root"},"source":"/1.0/instances/dlx-a22?project=proj-b"},"project":"proj-b","timestamp":"2026-12-05T12:33:55.545412306Z","type":"lifecycle"}"#,
        );
        assert_eq!(
            created.read(),
            Reading::InstanceCreated {
                project: "proj-b".into(),
                name: "dlx-a22".into(),
                member: "m2".into()
            }
        );
        let default = event(
            r#"{"location":"m1","metadata":{"action":"instance-created","source":"/1.0/instances/web%2D1"},"project":"default","timestamp":"2026-12-05T12:33:55Z","type":"lifecycle"}"#,
        );
        assert!(
            matches!(default.read(), Reading::InstanceCreated { project, name, .. } if project == "default" && name == "web-1")
        );
    }

    #[test]
    fn a_migration_names_the_member_it_left() {
        let migrated = event(
            r#"{"location":"m1","metadata":{"action":"instance-migrated","context":null,"source":"/1.0/instances/dlx-a1"},"project":"default","timestamp":"2026-12-05T12:34:28.105Z","type":"lifecycle"}"#,
        );
        assert_eq!(
            migrated.read(),
            Reading::InstanceMigrated {
                project: "default".into(),
                name: "dlx-a1".into(),
                from_member: "m1".into()
            }
        );
    }

    #[test]
    fn scriptlet_lines_and_targets_are_told_from_incus_own_lines() {
        let line = event(
            r#"{"location":"m1","metadata":{"context":{},"level":"warning","message":"Instance placement scriptlet: EXP warn dlx-a1"},"timestamp":"2026-12-05T12:33:54.821Z","type":"logging"}"#,
        );
        assert_eq!(
            line.read(),
            Reading::ScriptletLine {
                runner: "m1".into(),
                level: LogLevel::Warn,
                message: "EXP warn dlx-a1".into()
            }
        );
        let target = event(
            r#"{"location":"m1","metadata":{"context":{"member":"m2"},"level":"info","message":"Instance placement scriptlet set member target"},"timestamp":"2026-12-05T12:33:54.821Z","type":"logging"}"#,
        );
        assert_eq!(
            target.read(),
            Reading::ScriptletTarget {
                runner: "m1".into(),
                member: "m2".into()
            }
        );
        let own = event(
            r#"{"location":"m2","metadata":{"context":{"instance":"x"},"level":"info","message":"Creating instance"},"timestamp":"2026-12-05T12:33:54.821Z","type":"logging"}"#,
        );
        assert_eq!(own.read(), Reading::Other);
    }

    #[test]
    fn members_config_and_renames() {
        let evacuated = event(
            r#"{"location":"m2","metadata":{"action":"cluster-member-evacuated","source":"/1.0/cluster/members/m2"},"project":"default","timestamp":"2026-12-05T12:35:00Z","type":"lifecycle"}"#,
        );
        assert_eq!(evacuated.read(), Reading::MemberEvacuated { member: "m2".into() });
        let config = event(
            r#"{"location":"m1","metadata":{"action":"config-updated","source":"/1.0"},"project":"default","timestamp":"2026-12-05T12:35:03Z","type":"lifecycle"}"#,
        );
        assert_eq!(config.read(), Reading::ConfigUpdated);
        let renamed = event(
            r#"{"location":"m2","metadata":{"action":"instance-renamed","context":{"old_name":"dlx-e1"},"source":"/1.0/instances/dlx-e2"},"project":"default","timestamp":"2026-12-05T12:35:03Z","type":"lifecycle"}"#,
        );
        assert_eq!(
            renamed.read(),
            Reading::InstanceRenamed {
                project: "default".into(),
                old_name: "dlx-e1".into(),
                name: "dlx-e2".into()
            }
        );
        let snapshot = event(
            r#"{"location":"m2","metadata":{"action":"instance-snapshot-created","source":"/1.0/instances/a/snapshots/s"},"project":"default","timestamp":"2026-12-05T12:35:03Z","type":"lifecycle"}"#,
        );
        assert_eq!(snapshot.read(), Reading::Other);
    }

    #[test]
    fn percent_decoding_keeps_what_it_cannot_read() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
    }
}
