//! Impact replay: what a new scriptlet revision changes. Two revisions (or a revision and the
//! cluster's live scriptlet) are evaluated for every selected instance of a snapshot, as the
//! placement call Incus would make for it in a scenario, and every decision that differs is
//! listed with both candidate lists; member load is counted as each revision would leave it.
//!
//! Scenarios (`incus-placement.md` §2):
//! - [`Scenario::New`]: each instance re-created with its own config, alone, on the cluster as
//!   it stands ([`Simulator::place_as_new`]): independent answers, split freely.
//! - [`Scenario::Evacuation`]: each member holding selected instances evacuated, as `incus
//!   cluster evacuate` does (cumulative within the member, each evacuation from the snapshot):
//!   a member's instances stay in one shard.
//!
//! The work is split into [`shards`] that run anywhere (the server hands them to its sandbox
//! workers, each with the snapshot prepared once), each answering a [`ShardImpact`]; an
//! [`Impact`] adds them up in any order.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::engine::PreparedCluster;
use crate::model::Instance;
use crate::simulate::{Operation, Outcome, Simulation, Simulator};
use crate::Snapshot;

/// The placement call replayed for each instance. Written `new` or `evacuation`; empty means
/// the default, `new` (a form or a query may send the field empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scenario {
    /// A re-create with its config: reason `new`.
    #[default]
    New,
    /// An evacuation of its member: reason `evacuation`.
    Evacuation,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::New => "new",
            Scenario::Evacuation => "evacuation",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(text: &str) -> Result<Scenario, String> {
        match text.trim() {
            "" | "new" => Ok(Scenario::New),
            "evacuation" => Ok(Scenario::Evacuation),
            other => Err(format!("unknown scenario {other:?}: new or evacuation")),
        }
    }
}

/// Which instances are replayed. Written `all`, `project=P`, `member=M` or `label=K=V` (a
/// `user.K` key of the expanded config; `K` may name the `user.` prefix itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    #[default]
    All,
    Project(String),
    Member(String),
    Label {
        key: String,
        value: String,
    },
}

impl Scope {
    pub fn selects(&self, instance: &Instance) -> bool {
        match self {
            Scope::All => true,
            Scope::Project(project) => &instance.project == project,
            Scope::Member(member) => &instance.location == member,
            Scope::Label { key, value } => {
                let bare = key.strip_prefix("user.").unwrap_or(key);
                instance
                    .labels()
                    .any(|(k, v)| k.strip_prefix("user.") == Some(bare) && v == value)
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("all"),
            Scope::Project(project) => write!(f, "project={project}"),
            Scope::Member(member) => write!(f, "member={member}"),
            Scope::Label { key, value } => write!(f, "label={key}={value}"),
        }
    }
}

impl TryFrom<String> for Scenario {
    type Error = String;

    fn try_from(text: String) -> Result<Scenario, String> {
        text.parse()
    }
}

impl From<Scenario> for String {
    fn from(scenario: Scenario) -> String {
        scenario.as_str().to_owned()
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Scope, String> {
        let text = text.trim();
        if text.is_empty() || text == "all" {
            return Ok(Scope::All);
        }
        let usage = || format!("scope {text:?}: project=P, member=M, label=K=V or all");
        let (kind, rest) = text.split_once('=').ok_or_else(usage)?;
        let named = |value: &str| (!value.is_empty()).then(|| value.to_owned()).ok_or_else(usage);
        match kind {
            "project" => Ok(Scope::Project(named(rest)?)),
            "member" => Ok(Scope::Member(named(rest)?)),
            "label" => {
                let (key, value) = rest.split_once('=').ok_or_else(usage)?;
                Ok(Scope::Label {
                    key: named(key)?,
                    value: value.to_owned(),
                })
            }
            _ => Err(usage()),
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = String;

    fn try_from(text: String) -> Result<Scope, String> {
        text.parse()
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        scope.to_string()
    }
}

/// One revision's answer for one instance: a member, or Incus's error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub member: Option<String>,
    pub error: Option<String>,
    /// The members Incus offered the scriptlet, least loaded first.
    pub candidates: Vec<String>,
}

impl Decision {
    /// Whether two decisions place differently (the candidates aside: they are Incus's).
    fn differs(&self, other: &Decision) -> bool {
        self.member != other.member || self.error != other.error
    }

    /// `member` or `error: …`, for a line of text.
    pub fn summary(&self) -> String {
        match (&self.member, &self.error) {
            (_, Some(error)) => format!("error: {error}"),
            (Some(member), None) => member.clone(),
            (None, None) => "nothing".into(),
        }
    }
}

/// An instance whose placement differs between the revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedDecision {
    /// `PROJECT/NAME`.
    pub instance: String,
    /// Where it is in the snapshot.
    pub location: String,
    pub from: Decision,
    pub to: Decision,
}

impl ChangedDecision {
    /// The revision before fails for it and the revision after does not: an error that vanishes.
    pub fn error_vanishes(&self) -> bool {
        self.from.error.is_some() && self.to.error.is_none()
    }

    /// An error only the revision after has.
    pub fn error_appears(&self) -> bool {
        self.from.error.is_none() && self.to.error.is_some()
    }
}

/// The replay of one shard: its changed decisions and its counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardImpact {
    /// Instances replayed (both revisions answered).
    pub instances: usize,
    pub changed: Vec<ChangedDecision>,
    pub new_errors: usize,
    pub vanished_errors: usize,
    /// Where the replayed instances are, per member.
    pub located: BTreeMap<String, usize>,
    /// Where each revision leaves them (a failed placement leaves an instance where it is).
    pub placed_from: BTreeMap<String, usize>,
    pub placed_to: BTreeMap<String, usize>,
    /// Why the replay of this shard stopped early (a spent budget), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The instances `scope` selects, in snapshot order, split into shards of about `size`
/// instances. An evacuation's shards hold whole members: a member's instances are evacuated
/// together, each placement seeing the ones before.
pub fn shards(snapshot: &Snapshot, scope: &Scope, scenario: Scenario, size: usize) -> Vec<Vec<usize>> {
    let size = size.max(1);
    let selected = (0..snapshot.instances.len()).filter(|&i| scope.selects(&snapshot.instances[i]));
    match scenario {
        Scenario::New => {
            let selected: Vec<usize> = selected.collect();
            selected.chunks(size).map(<[usize]>::to_vec).collect()
        }
        Scenario::Evacuation => {
            let mut by_member: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for index in selected {
                by_member
                    .entry(snapshot.instances[index].location.as_str())
                    .or_default()
                    .push(index);
            }
            let mut shards: Vec<Vec<usize>> = Vec::new();
            for (_, instances) in by_member {
                match shards.last_mut() {
                    Some(last) if last.len() + instances.len() <= size => last.extend(instances),
                    _ => shards.push(instances),
                }
            }
            shards
        }
    }
}

/// Replays one shard (positions in `snapshot.instances`) under both simulators. `cluster`
/// must be prepared from `snapshot`; both are put back as they were.
pub fn replay_shard(
    from: &Simulator,
    to: &Simulator,
    snapshot: &mut Snapshot,
    cluster: &mut PreparedCluster,
    scenario: Scenario,
    instances: &[usize],
) -> ShardImpact {
    let keys: Vec<String> = instances
        .iter()
        .map(|&i| {
            let instance = &snapshot.instances[i];
            format!("{}/{}", instance.project, instance.name)
        })
        .collect();
    let (before, stopped_before) = decide(from, snapshot, cluster, scenario, instances);
    let (after, stopped_after) = decide(to, snapshot, cluster, scenario, instances);

    let mut shard = ShardImpact {
        stopped: stopped_before.or(stopped_after),
        ..ShardImpact::default()
    };
    for (&index, key) in instances.iter().zip(&keys) {
        let location = &snapshot.instances[index].location;
        let (from, to) = match (before.get(key), after.get(key)) {
            (Some(from), Some(to)) => (from.clone(), to.clone()),
            // Not reached: the budget stopped a revision first.
            _ if shard.stopped.is_some() => continue,
            (from, to) => (
                from.cloned().unwrap_or_else(|| not_reached(location)),
                to.cloned().unwrap_or_else(|| not_reached(location)),
            ),
        };
        shard.instances += 1;
        *shard.located.entry(location.clone()).or_default() += 1;
        *shard.placed_from.entry(landing(&from, location)).or_default() += 1;
        *shard.placed_to.entry(landing(&to, location)).or_default() += 1;
        if from.differs(&to) {
            let changed = ChangedDecision {
                instance: key.clone(),
                location: location.clone(),
                from,
                to,
            };
            shard.new_errors += usize::from(changed.error_appears());
            shard.vanished_errors += usize::from(changed.error_vanishes());
            shard.changed.push(changed);
        }
    }
    shard
}

/// Each instance's decision under one simulator, and why it stopped early if it did.
fn decide(
    simulator: &Simulator,
    snapshot: &mut Snapshot,
    cluster: &mut PreparedCluster,
    scenario: Scenario,
    instances: &[usize],
) -> (HashMap<String, Decision>, Option<String>) {
    let mut decisions = HashMap::new();
    match scenario {
        Scenario::New => {
            let simulation = simulator.place_as_new(snapshot, cluster, instances);
            let stopped = record(&mut decisions, simulation);
            (decisions, stopped)
        }
        Scenario::Evacuation => {
            // Each member's evacuation from the snapshot as it is, not after the others.
            for member in evacuated_members(snapshot, instances) {
                let operation = [Operation::Evacuate { member }];
                let simulation = simulator.run_in_place(snapshot, cluster, &operation);
                if let Some(stopped) = record(&mut decisions, simulation) {
                    return (decisions, Some(stopped));
                }
            }
            (decisions, None)
        }
    }
}

/// The members an evacuation of `instances` empties, in the order they first appear.
fn evacuated_members(snapshot: &Snapshot, instances: &[usize]) -> Vec<String> {
    let mut members: Vec<String> = Vec::new();
    for &index in instances {
        let location = &snapshot.instances[index].location;
        if !members.contains(location) {
            members.push(location.clone());
        }
    }
    members
}

/// Records each placed or failed instance of a simulation with the candidates of its last
/// call; answers why the simulation stopped early, if it did.
fn record(decisions: &mut HashMap<String, Decision>, simulation: Simulation) -> Option<String> {
    let mut candidates: HashMap<String, Vec<String>> = HashMap::new();
    for call in simulation.calls {
        candidates.insert(call.instance, call.candidates);
    }
    for outcome in simulation.outcomes {
        let (instance, member, error) = match outcome {
            Outcome::Placed { instance, member, .. } => (instance, Some(member), None),
            Outcome::Failed { instance, error } => (instance, None, Some(error)),
        };
        let candidates = candidates.remove(&instance).unwrap_or_default();
        decisions.insert(
            instance,
            Decision {
                member,
                error,
                candidates,
            },
        );
    }
    simulation.stopped
}

/// An instance an evacuation never reached: an earlier instance of its member failed, and
/// Incus stops evacuating there.
fn not_reached(location: &str) -> Decision {
    Decision {
        member: None,
        error: Some(format!(
            "not evacuated: the evacuation of {location} stopped at an earlier instance"
        )),
        candidates: Vec::new(),
    }
}

/// Where an instance ends up after a decision: its member, or where it was when it failed.
fn landing(decision: &Decision, location: &str) -> String {
    decision.member.clone().unwrap_or_else(|| location.to_owned())
}

/// One member's instance count as the snapshot has it and as each revision would leave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLoad {
    pub member: String,
    pub current: usize,
    pub from: usize,
    pub to: usize,
}

/// A whole replay: every shard added up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    pub scenario: Scenario,
    pub scope: Scope,
    /// Instances replayed.
    pub instances: usize,
    /// Every instance whose decision differs, by instance.
    pub changed: Vec<ChangedDecision>,
    pub new_errors: usize,
    pub vanished_errors: usize,
    /// Per member of the snapshot, in its order.
    pub load: Vec<MemberLoad>,
    /// Why shards stopped early, if any did: the replay is then partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<String>,
}

impl Impact {
    /// An empty replay of `snapshot`: every member's load as it is.
    pub fn new(snapshot: &Snapshot, scenario: Scenario, scope: Scope) -> Impact {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for instance in &snapshot.instances {
            *counts.entry(instance.location.as_str()).or_default() += 1;
        }
        let load = snapshot
            .members
            .iter()
            .map(|member| {
                let current = counts.get(member.server_name.as_str()).copied().unwrap_or(0);
                MemberLoad {
                    member: member.server_name.clone(),
                    current,
                    from: current,
                    to: current,
                }
            })
            .collect();
        Impact {
            scenario,
            scope,
            instances: 0,
            changed: Vec::new(),
            new_errors: 0,
            vanished_errors: 0,
            load,
            stopped: Vec::new(),
        }
    }

    /// Adds one shard's replay (shards may arrive in any order).
    pub fn add(&mut self, shard: ShardImpact) {
        self.instances += shard.instances;
        self.new_errors += shard.new_errors;
        self.vanished_errors += shard.vanished_errors;
        for load in &mut self.load {
            let located = shard.located.get(&load.member).copied().unwrap_or(0);
            let count = |placed: &BTreeMap<String, usize>| placed.get(&load.member).copied().unwrap_or(0);
            load.from = load.from + count(&shard.placed_from) - located;
            load.to = load.to + count(&shard.placed_to) - located;
        }
        let position = |changed: &ChangedDecision| changed.instance.clone();
        self.changed.extend(shard.changed);
        self.changed.sort_by_key(position);
        self.stopped.extend(shard.stopped);
    }

    /// `N instances, C changed, E new errors`.
    pub fn summary(&self) -> String {
        format!(
            "{} instances, {} changed, {} new errors",
            self.instances,
            self.changed.len(),
            self.new_errors
        )
    }
}

#[cfg(test)]
mod tests;
