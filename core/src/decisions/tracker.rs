//! From Incus's events to placement decisions: the state machine the listener feeds, one
//! event at a time, with the time as an argument (so it runs the same on a live stream, on a
//! recorded one and in tests).
//!
//! A placement's event ([`Reading::InstanceCreated`], [`Reading::InstanceMigrated`]) waits
//! [`SETTLE_NS`] before it is released as a [`Placement`]: its scriptlet lines may arrive after
//! it (another member's are forwarded, and Incus writes each event from a goroutine of its
//! own), and a lookup of the instance ([`Tracker::found`]) may still come back. Later events
//! can correct a released placement ([`Correction`]): a create that turns out to be the arrival
//! of a move to another project (the instance is deleted or migrated away from the project it
//! left), migrations that turn out to be an evacuation (`cluster-member-evacuated` comes at
//! its end) or a restore.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::event::{IncusEvent, Reading};
use super::runs::{Claim, LineKind, Run, Runs, ScriptletLine, UNCLAIMED_FOR_NS};
use super::whereabouts::Whereabouts;
use crate::engine::LogLine;
use crate::model::Instance;

/// How long a placement waits for its scriptlet lines and its lookup.
pub const SETTLE_NS: i64 = 300_000_000;
/// How long a released placement may still be corrected (a move to another project deletes
/// the instance it left once its data is copied: minutes for a large one).
pub const CORRECTABLE_FOR_NS: i64 = 600_000_000_000;
/// At most this many released placements are kept for corrections.
const MAX_CORRECTABLE: usize = 10_000;

/// Why Incus placed the instance: the scriptlet's `request.reason`, and `restore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A create (or a copy).
    New,
    /// A move to another member or project.
    Relocation,
    /// An evacuation of the member it was on.
    Evacuation,
    /// A restore of the member it is back on.
    Restore,
    /// Automatic rebalancing (Incus 7).
    Rebalance,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::New,
        Reason::Relocation,
        Reason::Evacuation,
        Reason::Restore,
        Reason::Rebalance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::New => "new",
            Reason::Relocation => "relocation",
            Reason::Evacuation => "evacuation",
            Reason::Restore => "restore",
            Reason::Rebalance => "rebalance",
        }
    }

    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|reason| reason.as_str() == text)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A placement the cluster made, as the events tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// This tracker's number for it: corrections name it.
    pub seq: u64,
    pub at_ns: i64,
    /// Incus's lifecycle action (`instance-created`, `instance-migrated`).
    pub operation: String,
    pub reason: Reason,
    pub project: String,
    pub instance: String,
    /// Where it landed; `None` when neither the event nor the scriptlet said (a lookup will).
    pub member: Option<String>,
    pub from_project: Option<String>,
    pub from_member: Option<String>,
    /// The scriptlet's run, when one was found.
    pub run: Option<Run>,
    /// The instance as Incus answered a lookup right after the event, if it came in time.
    pub found: Option<Box<Instance>>,
}

impl Placement {
    pub fn logs(&self) -> &[LogLine] {
        self.run.as_ref().map_or(&[], |run| run.lines.as_slice())
    }
}

/// A released placement told again, better.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub seq: u64,
    pub reason: Reason,
    pub from_project: Option<String>,
    pub from_member: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Placed(Placement),
    Corrected(Correction),
    /// The cluster's configuration changed at `at_ns`: read the scriptlet again before going on.
    ConfigChanged {
        at_ns: i64,
    },
}

/// What [`Tracker::push`] asks the listener to look up: the instance as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub project: String,
    pub instance: String,
}

/// A placement waiting to be released.
struct Waiting {
    placement: Placement,
    release_at: i64,
    /// Where an instance of the same name was in other projects when it was created: a move
    /// from one of them, if its instance goes away.
    elsewhere: Vec<(String, String)>,
}

/// A released placement that may still be corrected.
struct Correctable {
    seq: u64,
    at_ns: i64,
    operation: String,
    reason: Reason,
    project: String,
    instance: String,
    member: Option<String>,
    from_member: Option<String>,
    elsewhere: Vec<(String, String)>,
    paired: bool,
}

pub struct Tracker {
    runs: Runs,
    whereabouts: Whereabouts,
    waiting: VecDeque<Waiting>,
    correctable: VecDeque<Correctable>,
    /// Members evacuated (and not yet restored), since when.
    evacuated: BTreeMap<String, i64>,
    /// Each member's last evacuation that ended with a restore: from when until when.
    restored: BTreeMap<String, (i64, i64)>,
    /// When each member last ended an evacuation or a restore: migrations from it before that
    /// belong to an earlier one.
    member_settled_at: BTreeMap<String, i64>,
    next_seq: u64,
    /// Lines dropped because no placement claimed them.
    pub unclaimed_dropped: u64,
}

impl Tracker {
    /// A tracker that knows where the instances are (a capture's), and numbers placements from
    /// `first_seq`.
    pub fn new(whereabouts: Whereabouts, first_seq: u64) -> Tracker {
        Tracker {
            runs: Runs::default(),
            whereabouts,
            waiting: VecDeque::new(),
            correctable: VecDeque::new(),
            evacuated: BTreeMap::new(),
            restored: BTreeMap::new(),
            member_settled_at: BTreeMap::new(),
            next_seq: first_seq,
            unclaimed_dropped: 0,
        }
    }

    pub fn whereabouts(&self) -> &Whereabouts {
        &self.whereabouts
    }

    /// After a reconciliation: the cluster as the fresh capture has it.
    pub fn set_whereabouts(&mut self, whereabouts: Whereabouts) {
        self.whereabouts = whereabouts;
    }

    /// Members evacuated and not restored, as a capture says (their migrations back are
    /// restores).
    pub fn set_evacuated(&mut self, members: impl IntoIterator<Item = String>, since_ns: i64) {
        self.evacuated = members.into_iter().map(|member| (member, since_ns)).collect();
    }

    /// Placements waiting to be released.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Takes one event in at `now_ns`: what it settles at once, and the instance to look up
    /// (for a placement, so that its config and where it landed are read before it moves on).
    pub fn push(&mut self, event: &IncusEvent, now_ns: i64) -> (Vec<Output>, Option<Lookup>) {
        let Some(at_ns) = event.at_ns() else {
            return (Vec::new(), None);
        };
        let mut outputs = Vec::new();
        let mut lookup = None;
        match event.read() {
            Reading::ScriptletLine {
                runner,
                level,
                message,
            } => self.runs.push(ScriptletLine {
                runner,
                at_ns,
                kind: LineKind::Log(LogLine { level, message }),
            }),
            Reading::ScriptletTarget { runner, member } => self.runs.push(ScriptletLine {
                runner,
                at_ns,
                kind: LineKind::Target(member),
            }),
            Reading::InstanceCreated {
                project,
                name,
                member,
            } => {
                let elsewhere = self.whereabouts.elsewhere(&project, &name);
                self.whereabouts.place(&project, &name, &member);
                lookup = Some(Lookup {
                    project: project.clone(),
                    instance: name.clone(),
                });
                let placement = self.placement(
                    at_ns,
                    "instance-created",
                    Reason::New,
                    project,
                    name,
                    Some(member),
                );
                self.wait(placement, now_ns, elsewhere);
            }
            Reading::InstanceMigrated {
                project,
                name,
                from_member,
            } => {
                if let Some(correction) = self.pair_departure(&project, &name, &from_member) {
                    outputs.push(Output::Corrected(correction));
                    self.whereabouts.remove(&project, &name);
                } else if !self.pair_waiting(&project, &name, &from_member) {
                    lookup = Some(Lookup {
                        project: project.clone(),
                        instance: name.clone(),
                    });
                    let mut placement = self.placement(
                        at_ns,
                        "instance-migrated",
                        Reason::Relocation,
                        project,
                        name,
                        None,
                    );
                    placement.from_member = Some(from_member);
                    self.wait(placement, now_ns, Vec::new());
                } else {
                    self.whereabouts.remove(&project, &name);
                }
            }
            Reading::InstanceDeleted {
                project,
                name,
                member,
            } => {
                if let Some(correction) = self.pair_departure(&project, &name, &member) {
                    outputs.push(Output::Corrected(correction));
                } else {
                    self.pair_waiting(&project, &name, &member);
                }
                self.whereabouts.remove(&project, &name);
            }
            Reading::InstanceRenamed {
                project,
                old_name,
                name,
            } => self.whereabouts.rename(&project, &old_name, &name),
            Reading::MemberEvacuated { member } => {
                outputs.extend(self.member_settled(&member, at_ns, Reason::Evacuation));
                self.evacuated.insert(member, at_ns);
            }
            Reading::MemberRestored { member } => {
                outputs.extend(self.member_settled(&member, at_ns, Reason::Restore));
                if let Some(since) = self.evacuated.remove(&member) {
                    self.restored.insert(member, (since, at_ns));
                }
            }
            Reading::ConfigUpdated => outputs.push(Output::ConfigChanged { at_ns }),
            Reading::Other => {}
        }
        (outputs, lookup)
    }

    /// The instance as a lookup found it: the placement waiting for it keeps it (for the
    /// prediction, and where it landed when nothing else says).
    pub fn found(&mut self, instance: Instance) {
        let Some(waiting) = self
            .waiting
            .iter_mut()
            .rev()
            .find(|w| w.placement.project == instance.project && w.placement.instance == instance.name)
        else {
            return;
        };
        waiting.placement.found = Some(Box::new(instance));
    }

    /// Releases the placements whose time has come, and forgets what is too old to matter.
    pub fn tick(&mut self, now_ns: i64) -> Vec<Output> {
        let mut outputs = Vec::new();
        while self.waiting.front().is_some_and(|w| w.release_at <= now_ns) {
            let waiting = self.waiting.pop_front().expect("checked");
            outputs.push(Output::Placed(self.release(waiting)));
        }
        self.unclaimed_dropped += self.runs.expire(now_ns - UNCLAIMED_FOR_NS) as u64;
        while self
            .correctable
            .front()
            .is_some_and(|c| c.at_ns < now_ns - CORRECTABLE_FOR_NS)
            || self.correctable.len() > MAX_CORRECTABLE
        {
            self.correctable.pop_front();
        }
        outputs
    }

    /// Releases every waiting placement now (the stream ends).
    pub fn flush(&mut self) -> Vec<Output> {
        let mut outputs = Vec::new();
        while let Some(waiting) = self.waiting.pop_front() {
            outputs.push(Output::Placed(self.release(waiting)));
        }
        outputs
    }

    fn placement(
        &mut self,
        at_ns: i64,
        operation: &str,
        reason: Reason,
        project: String,
        instance: String,
        member: Option<String>,
    ) -> Placement {
        let seq = self.next_seq;
        self.next_seq += 1;
        Placement {
            seq,
            at_ns,
            operation: operation.to_owned(),
            reason,
            project,
            instance,
            member,
            from_project: None,
            from_member: None,
            run: None,
            found: None,
        }
    }

    fn wait(&mut self, placement: Placement, now_ns: i64, elsewhere: Vec<(String, String)>) {
        self.waiting.push_back(Waiting {
            placement,
            release_at: now_ns + SETTLE_NS,
            elsewhere,
        });
    }

    fn release(&mut self, waiting: Waiting) -> Placement {
        let mut placement = waiting.placement;
        let moved = placement.reason != Reason::New;
        let claim = Claim {
            before_ns: placement.at_ns,
            // A move runs the scriptlet where the instance was (Incus forwards it there).
            runner: placement.from_member.as_deref().filter(|_| moved),
            landed: placement.member.as_deref(),
        };
        placement.run = self.runs.claim(claim);
        if placement.member.is_none() {
            // Where the scriptlet sent it; else where the lookup found it, unless that is
            // still the member it left (the source sends `instance-migrated` before the
            // database has it on its new member).
            let found = placement
                .found
                .as_ref()
                .map(|found| found.location.clone())
                .filter(|location| !location.is_empty() && Some(location) != placement.from_member.as_ref());
            placement.member = placement
                .run
                .as_ref()
                .and_then(|run| run.target.clone())
                .or(found);
        }
        if let Some(member) = &placement.member {
            if placement.reason == Reason::Relocation && self.was_evacuated(member, placement.at_ns) {
                placement.reason = Reason::Restore;
            }
            self.whereabouts
                .place(&placement.project, &placement.instance, member);
        }
        self.correctable.push_back(Correctable {
            seq: placement.seq,
            at_ns: placement.at_ns,
            operation: placement.operation.clone(),
            reason: placement.reason,
            project: placement.project.clone(),
            instance: placement.instance.clone(),
            member: placement.member.clone(),
            from_member: placement.from_member.clone(),
            elsewhere: waiting.elsewhere,
            paired: moved,
        });
        placement
    }

    /// Whether `member` was evacuated at `at_ns`: a migration onto it then is a restore.
    fn was_evacuated(&self, member: &str, at_ns: i64) -> bool {
        self.evacuated.get(member).is_some_and(|since| *since <= at_ns)
            || self
                .restored
                .get(member)
                .is_some_and(|(since, until)| (*since..=*until).contains(&at_ns))
    }

    /// An instance `name` left `project` (deleted or migrated away from `member`): if a
    /// released create of the same name in another project was waiting for it, that create
    /// was the arrival of a move.
    fn pair_departure(&mut self, project: &str, name: &str, member: &str) -> Option<Correction> {
        let arrival = self.correctable.iter_mut().rev().find(|c| {
            !c.paired
                && c.instance == name
                && c.project != project
                && c.elsewhere.iter().any(|(p, _)| p == project)
        })?;
        arrival.paired = true;
        arrival.reason = Reason::Relocation;
        let from_member = arrival
            .elsewhere
            .iter()
            .find(|(p, _)| p == project)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| member.to_owned());
        arrival.from_member = Some(from_member.clone());
        Some(Correction {
            seq: arrival.seq,
            reason: Reason::Relocation,
            from_project: Some(project.to_owned()),
            from_member: Some(from_member),
        })
    }

    /// As [`Tracker::pair_departure`], for a create not yet released; `true` when it paired.
    fn pair_waiting(&mut self, project: &str, name: &str, member: &str) -> bool {
        let Some(arrival) = self.waiting.iter_mut().rev().find(|w| {
            w.placement.reason == Reason::New
                && w.placement.instance == name
                && w.placement.project != project
                && w.elsewhere.iter().any(|(p, _)| p == project)
        }) else {
            return false;
        };
        let from_member = arrival
            .elsewhere
            .iter()
            .find(|(p, _)| p == project)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| member.to_owned());
        arrival.placement.reason = Reason::Relocation;
        arrival.placement.from_project = Some(project.to_owned());
        arrival.placement.from_member = Some(from_member);
        true
    }

    /// `member` finished an evacuation or a restore at `at_ns`: the migrations that belong to
    /// it are told again with their reason.
    fn member_settled(&mut self, member: &str, at_ns: i64, reason: Reason) -> Vec<Output> {
        let since = self.member_settled_at.get(member).copied().unwrap_or(i64::MIN);
        self.member_settled_at.insert(member.to_owned(), at_ns);
        let belongs = |operation: &str, current: Reason, from: Option<&str>, to: Option<&str>, at: i64| {
            operation == "instance-migrated"
                && current == Reason::Relocation
                && at > since
                && at <= at_ns
                && match reason {
                    Reason::Evacuation => from == Some(member),
                    _ => to == Some(member),
                }
        };
        for waiting in &mut self.waiting {
            let p = &mut waiting.placement;
            if belongs(
                &p.operation,
                p.reason,
                p.from_member.as_deref(),
                p.member.as_deref(),
                p.at_ns,
            ) {
                p.reason = reason;
            }
        }
        let mut outputs = Vec::new();
        for c in &mut self.correctable {
            if belongs(
                &c.operation,
                c.reason,
                c.from_member.as_deref(),
                c.member.as_deref(),
                c.at_ns,
            ) {
                c.reason = reason;
                outputs.push(Output::Corrected(Correction {
                    seq: c.seq,
                    reason,
                    from_project: None,
                    from_member: c.from_member.clone(),
                }));
            }
        }
        outputs
    }
}

/// The members a capture shows evacuated.
pub fn evacuated_members(snapshot: &crate::Snapshot) -> BTreeSet<String> {
    snapshot
        .members
        .iter()
        .filter(|m| {
            matches!(
                m.status,
                crate::model::MemberStatus::Evacuated | crate::model::MemberStatus::Evacuating
            )
        })
        .map(|m| m.server_name.clone())
        .collect()
}
