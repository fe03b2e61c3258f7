//! A plan's preview: for each move, in order and cumulatively (move N sees moves 1..N-1), a
//! verdict (ready / warning / blocked, with the reasons in words), Berth's corrected placement
//! decision with its candidate table, the calls Incus itself will still make, and the facts
//! the move depends on, so that a later look at the cluster can tell whether the preview still
//! holds ([`MoveFacts::changes`]).
//!
//! The scriptlet runs elsewhere (in the server's sandbox workers, out of the server's process):
//! [`operations`] gives the simulation to run in [`Mode::Corrected`](crate::simulate::Mode), and
//! [`assess`] reads its result against the snapshot.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{MoveTarget, PlannedMove};
use crate::model::{Config, Instance};
use crate::simulate::{ExcludedMember, MoveOperation, Operation, Outcome, SimulatedCall, Simulation};
use crate::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing in the way.
    Ready,
    /// It can run; something deserves a reviewer's eye (data copied between members, no
    /// scriptlet on the cluster).
    Warning,
    /// It cannot run as planned; the executor skips it with the reason.
    Blocked,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ready => "ready",
            Verdict::Warning => "warning",
            Verdict::Blocked => "blocked",
        }
    }
}

/// Berth's one placement decision for a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Where the instance lands.
    pub member: String,
    /// Who chose it: `scriptlet`, or Berth's default when the scriptlet set no target.
    pub chosen_by: String,
    /// Every member eligible for the target project (and group), in Incus's order.
    pub candidates: Vec<String>,
    /// The others, each with the reason.
    pub excluded: Vec<ExcludedMember>,
    /// What the scriptlet logged while deciding.
    pub logs: Vec<String>,
}

/// A scriptlet call Incus makes itself when Berth issues the move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncusCall {
    pub reason: String,
    pub project: String,
    pub candidates: Vec<String>,
    /// `accepts` or the error that vetoes the move.
    pub outcome: String,
}

/// What a move depends on: if any of it differs when the move is about to run, the plan no
/// longer is what was reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MoveFacts {
    /// `(location, status)` of the instance in its project; `None` when it is not there.
    pub instance: Option<(String, String)>,
    /// The target project's configuration; `None` when it does not exist.
    pub target_project: Option<Config>,
    /// Whether the target project has an instance of that name.
    pub name_taken: bool,
    /// Every member: name → groups. Not its status: a member that goes down between the
    /// preview and the move shows in the decision (it is no longer a candidate) or, when Incus
    /// has not noticed yet, in Incus's own error for the move.
    pub members: BTreeMap<String, Vec<String>>,
}

impl MoveFacts {
    /// The facts of `planned` in `state`.
    pub fn of(state: &Snapshot, planned: &PlannedMove) -> MoveFacts {
        MoveFacts {
            instance: instance_in(state, &planned.project, &planned.name)
                .map(|instance| (instance.location.clone(), instance.status.clone())),
            target_project: state
                .project(&planned.target_project)
                .map(|project| project.config.clone()),
            name_taken: instance_in(state, &planned.target_project, &planned.name).is_some(),
            members: state
                .members
                .iter()
                .map(|member| (member.server_name.clone(), member.groups.clone()))
                .collect(),
        }
    }

    /// What changed from these facts (the preview's) to `now`, in words; empty when nothing.
    pub fn changes(&self, now: &MoveFacts, planned: &PlannedMove) -> Vec<String> {
        let mut changes = Vec::new();
        let instance = planned.instance();
        match (&self.instance, &now.instance) {
            (Some((was_on, was)), Some((on, status))) => {
                if was_on != on {
                    changes.push(format!("{instance} moved from {was_on} to {on}"));
                }
                if was != status {
                    changes.push(format!("{instance} was {was}, is {status}"));
                }
            }
            (Some(_), None) => {
                changes.push(format!("{instance} is no longer in project {}", planned.project))
            }
            (None, Some(_)) => changes.push(format!("{instance} appeared")),
            (None, None) => {}
        }
        if self.target_project != now.target_project {
            changes.push(format!("project {} changed", planned.target_project));
        }
        if self.name_taken != now.name_taken {
            changes.push(format!(
                "the name {} {} in project {}",
                planned.name,
                if now.name_taken {
                    "is now taken"
                } else {
                    "is free now"
                },
                planned.target_project
            ));
        }
        if self.members != now.members {
            let described: Vec<String> = now
                .members
                .iter()
                .filter(|(name, now)| self.members.get(*name) != Some(now))
                .map(|(name, groups)| format!("{name} (groups {})", groups.join(",")))
                .chain(
                    self.members
                        .keys()
                        .filter(|name| !now.members.contains_key(*name))
                        .map(|name| format!("{name} (gone)")),
                )
                .collect();
            changes.push(format!("cluster members changed: {}", described.join(", ")));
        }
        changes
    }
}

/// One move's preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovePreview {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    /// Where the instance is when the move starts (after the moves before it).
    pub from_member: Option<String>,
    pub decision: Option<Decision>,
    pub incus_calls: Vec<IncusCall>,
    pub facts: MoveFacts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberLoad {
    pub member: String,
    /// Instances on it before the plan and after it.
    pub before: usize,
    pub after: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPreview {
    /// The content hash of the snapshot the preview was made on.
    pub snapshot_hash: String,
    pub incus_version: String,
    pub moves: Vec<MovePreview>,
    pub load: Vec<MemberLoad>,
}

impl PlanPreview {
    pub fn blocked(&self) -> usize {
        self.moves
            .iter()
            .filter(|preview| preview.verdict == Verdict::Blocked)
            .count()
    }
}

/// What changed between the preview and `now` for the moves from `from` (numbered from 0; the
/// moves before it have run): each move's facts as the preview expected them when its turn
/// comes, the previewed moves before it applied to `now` as [`assess`] applies them.
pub fn changes_since(
    preview: &PlanPreview,
    now: &Snapshot,
    moves: &[PlannedMove],
    from: usize,
) -> Vec<String> {
    let mut state = now.clone();
    let mut changes = Vec::new();
    for (index, (planned, expected)) in moves.iter().zip(&preview.moves).enumerate().skip(from) {
        for change in expected.facts.changes(&MoveFacts::of(&state, planned), planned) {
            changes.push(format!("move {}: {change}", index + 1));
        }
        if expected.verdict != Verdict::Blocked {
            if let Some(decision) = &expected.decision {
                apply(&mut state, planned, &decision.member);
            }
        }
    }
    changes
}

/// `planned` done in `state`, landing on `member`.
fn apply(state: &mut Snapshot, planned: &PlannedMove, member: &str) {
    if let Some(instance) = state
        .instances
        .iter_mut()
        .find(|i| i.project == planned.project && i.name == planned.name)
    {
        instance.project = planned.target_project.clone();
        instance.location = member.to_owned();
    }
}

/// The operations to simulate for `moves`, in order.
pub fn operations(moves: &[PlannedMove]) -> Vec<Operation> {
    moves
        .iter()
        .map(|planned| {
            Operation::Move(MoveOperation {
                project: planned.project.clone(),
                name: planned.name.clone(),
                target_project: Some(planned.target_project.clone()),
                target: planned.target.to_string(),
            })
        })
        .collect()
}

/// The preview of `moves` on `snapshot`, given the corrected simulation of [`operations`] and
/// which of the instances (`project/name`) have backups (snapshots do not hold backups; Incus
/// refuses to move an instance with backups to another member).
pub fn assess(
    snapshot: &Snapshot,
    moves: &[PlannedMove],
    simulation: &Simulation,
    with_backups: &BTreeSet<String>,
) -> PlanPreview {
    let mut state = snapshot.clone();
    let previews = moves
        .iter()
        .map(|planned| {
            let preview = assess_move(
                &state,
                planned,
                simulation,
                with_backups.contains(&planned.instance()),
            );
            if preview.verdict != Verdict::Blocked {
                if let Some(decision) = &preview.decision {
                    apply(&mut state, planned, &decision.member);
                }
            }
            preview
        })
        .collect();
    let count =
        |state: &Snapshot, member: &str| state.instances.iter().filter(|i| i.location == member).count();
    let mut preview = PlanPreview {
        snapshot_hash: snapshot.content_hash(),
        incus_version: simulation.incus_version.clone(),
        moves: previews,
        load: snapshot
            .members
            .iter()
            .map(|member| MemberLoad {
                member: member.server_name.clone(),
                before: count(snapshot, &member.server_name),
                after: count(&state, &member.server_name),
            })
            .collect(),
    };
    // The scriptlet read the real config; what it printed is stored and shown to every role.
    preview.scrub_secrets(&snapshot.secret_values());
    preview
}

fn instance_in<'s>(state: &'s Snapshot, project: &str, name: &str) -> Option<&'s Instance> {
    state
        .instances
        .iter()
        .find(|instance| instance.project == project && instance.name == name)
}

fn assess_move(
    state: &Snapshot,
    planned: &PlannedMove,
    simulation: &Simulation,
    has_backups: bool,
) -> MovePreview {
    let key = planned.instance();
    let facts = MoveFacts::of(state, planned);
    let instance = instance_in(state, &planned.project, &planned.name);
    let calls: Vec<&SimulatedCall> = simulation
        .calls
        .iter()
        .filter(|call| call.instance == key)
        .collect();
    let outcome = simulation.outcomes.iter().find(|outcome| match outcome {
        Outcome::Placed { instance, .. } | Outcome::Failed { instance, .. } => *instance == key,
    });
    let mut blocked = preflight(state, planned, instance);
    let decision = decision_of(calls.first().copied(), outcome);
    let incus_calls = calls.iter().skip(1).map(|call| incus_call(call)).collect();
    if blocked.is_empty() {
        match outcome {
            Some(Outcome::Failed { error, .. }) => {
                blocked.push(failure_reason(state, planned, calls.first(), error))
            }
            Some(Outcome::Placed { .. }) => {}
            None => blocked.push(match &simulation.stopped {
                Some(stopped) => format!("not previewed: {stopped}"),
                None => "not previewed".to_owned(),
            }),
        }
    }
    let from_member = instance.map(|instance| instance.location.clone());
    if let (Some(from), Some(decision)) = (&from_member, &decision) {
        if has_backups && *from != decision.member && blocked.is_empty() {
            blocked.push(format!(
                "{} has backups, and Incus refuses to move an instance with backups to another \
                 member ({from} → {}): \"Instances with backups cannot be moved\"",
                planned.instance(),
                decision.member
            ));
        }
    }
    if !blocked.is_empty() {
        return MovePreview {
            verdict: Verdict::Blocked,
            reasons: blocked,
            from_member,
            decision: None,
            incus_calls,
            facts,
        };
    }
    let mut warnings = Vec::new();
    if let (Some(from), Some(decision)) = (&from_member, &decision) {
        if *from != decision.member {
            warnings.push(format!(
                "moves from {from} to {}: its data is copied between members",
                decision.member
            ));
        }
    }
    if state.server.placement_scriptlet().is_none() {
        warnings.push(
            "the cluster has no placement scriptlet: Berth keeps the current member when it is \
             eligible, else takes the least loaded"
                .to_owned(),
        );
    }
    MovePreview {
        verdict: if warnings.is_empty() {
            Verdict::Ready
        } else {
            Verdict::Warning
        },
        reasons: warnings,
        from_member,
        decision,
        incus_calls,
        facts,
    }
}

/// What blocks the move before any placement, in words.
fn preflight(state: &Snapshot, planned: &PlannedMove, instance: Option<&Instance>) -> Vec<String> {
    let mut blocked = Vec::new();
    let Some(instance) = instance else {
        return vec![format!(
            "there is no instance {} in project {}",
            planned.name, planned.project
        )];
    };
    if state.project(&planned.target_project).is_none() {
        blocked.push(format!("project {} does not exist", planned.target_project));
    }
    if instance.status != "Stopped" {
        blocked.push(format!(
            "{} is {}, not stopped: Incus moves only stopped instances across projects",
            planned.instance(),
            instance.status
        ));
    }
    if instance_in(state, &planned.target_project, &planned.name).is_some() {
        blocked.push(format!(
            "the name {} is taken in project {}",
            planned.name, planned.target_project
        ));
    }
    if let MoveTarget::Member(member) = &planned.target {
        if state.member(member).is_none() {
            blocked.push(format!("there is no member {member}"));
        }
    }
    blocked
}

/// A failed simulation in words, Incus's own message kept.
fn failure_reason(
    state: &Snapshot,
    planned: &PlannedMove,
    decision: Option<&&SimulatedCall>,
    error: &str,
) -> String {
    let target = &planned.target_project;
    if error.starts_with("Requested profile") {
        let own_profiles = state
            .project(target)
            .is_some_and(|project| project.restrictions().own_profiles);
        if !own_profiles {
            return format!(
                "project {target} has features.profiles=false: Incus {} looks the instance's \
                 profiles up in {target} itself and refuses the move ({error})",
                state.incus_version()
            );
        }
        return format!(
            "a profile of {} is missing in project {target} ({error})",
            planned.instance()
        );
    }
    if let Some(call) = decision {
        if call.candidates.is_empty() {
            let why: Vec<String> = call
                .excluded
                .iter()
                .map(|excluded| format!("{}: {}", excluded.member, excluded.reason))
                .collect();
            return format!(
                "no member is eligible for project {target} ({}): {error}",
                why.join("; ")
            );
        }
        if call.error.is_some() {
            return format!("the placement scriptlet refuses the move: {error}");
        }
    }
    error.to_owned()
}

fn decision_of(call: Option<&SimulatedCall>, outcome: Option<&Outcome>) -> Option<Decision> {
    let Some(Outcome::Placed { member, .. }) = outcome else {
        return None;
    };
    let default = "Berth's default (the current member when eligible, else the least loaded)";
    Some(match call {
        Some(call) => Decision {
            member: member.clone(),
            chosen_by: if call.target.is_some() {
                "scriptlet".to_owned()
            } else if call.validation_only {
                "the plan (a fixed member)".to_owned()
            } else {
                default.to_owned()
            },
            candidates: call.candidates.clone(),
            excluded: call.excluded.clone(),
            logs: call.logs.iter().map(|line| line.message.clone()).collect(),
        },
        // No scriptlet on the cluster: no call, Berth's default decides.
        None => Decision {
            member: member.clone(),
            chosen_by: default.to_owned(),
            candidates: Vec::new(),
            excluded: Vec::new(),
            logs: Vec::new(),
        },
    })
}

fn incus_call(call: &SimulatedCall) -> IncusCall {
    IncusCall {
        reason: call.reason.clone(),
        project: call.project.clone(),
        candidates: call.candidates.clone(),
        outcome: match &call.error {
            Some(error) => error.message.clone(),
            None => "accepts".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{compile, IncusVersion, Limits};
    use crate::model::{ClusterGroup, ClusterMember, Instance, MemberStatus, Profile, Project};
    use crate::simulate::{Mode, Simulator};

    fn member(name: &str, groups: &[&str]) -> ClusterMember {
        ClusterMember {
            server_name: name.into(),
            status: MemberStatus::Online,
            architecture: "x86_64".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    fn project(name: &str, config: &[(&str, &str)]) -> Project {
        Project {
            name: name.into(),
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn instance(project: &str, name: &str, location: &str, status: &str) -> Instance {
        Instance {
            name: name.into(),
            project: project.into(),
            location: location.into(),
            instance_type: "container".into(),
            status: status.into(),
            architecture: "x86_64".into(),
            profiles: vec!["default".into()],
            ..Default::default()
        }
    }

    fn default_profile(project: &str) -> Profile {
        Profile {
            name: "default".into(),
            project: project.into(),
            ..Default::default()
        }
    }

    /// The test bed's shape: m1, m2 in gA, m3 in gB; proj-a without its own profiles, proj-b with
    /// them, proj-r restricted to gA.
    fn cluster(scriptlet: Option<&str>) -> Snapshot {
        let mut snapshot = crate::demo::demo_snapshot();
        snapshot.member_state.clear();
        snapshot.member_resources.clear();
        snapshot.images.clear();
        snapshot.operations.clear();
        snapshot.server.config.clear();
        snapshot.server.environment.server_version = "6.0.4".into();
        snapshot.cluster_groups = [("gA", vec!["m1", "m2"]), ("gB", vec!["m3"])]
            .into_iter()
            .map(|(name, members)| ClusterGroup {
                name: name.into(),
                members: members.into_iter().map(str::to_owned).collect(),
                ..Default::default()
            })
            .collect();
        snapshot.members = vec![
            member("m1", &["gA"]),
            member("m2", &["gA"]),
            member("m3", &["gB"]),
        ];
        snapshot.projects = vec![
            project("default", &[]),
            project("proj-a", &[("features.profiles", "false")]),
            project("proj-b", &[("features.profiles", "true")]),
            project(
                "proj-r",
                &[
                    ("features.profiles", "true"),
                    ("restricted", "true"),
                    ("restricted.cluster.groups", "gA"),
                ],
            ),
        ];
        snapshot.profiles = vec![
            default_profile("default"),
            default_profile("proj-b"),
            default_profile("proj-r"),
        ];
        snapshot.instances = vec![
            instance("default", "c1", "m1", "Stopped"),
            instance("default", "c2", "m3", "Stopped"),
            instance("default", "c3", "m2", "Stopped"),
            instance("default", "c4", "m1", "Stopped"),
            instance("default", "c5", "m2", "Stopped"),
            instance("default", "c6", "m1", "Stopped"),
            instance("proj-b", "c6", "m2", "Stopped"),
            instance("default", "up", "m1", "Running"),
        ];
        if let Some(source) = scriptlet {
            snapshot
                .server
                .config
                .insert("instances.placement.scriptlet".into(), source.into());
        }
        snapshot
    }

    fn planned(name: &str, target_project: &str, target: &str) -> PlannedMove {
        PlannedMove {
            project: "default".into(),
            name: name.into(),
            target_project: target_project.into(),
            target: target.parse().unwrap(),
            from_member: None,
        }
    }

    fn preview_of(snapshot: &Snapshot, moves: &[PlannedMove]) -> PlanPreview {
        preview_with(snapshot, moves, &["default/c1"])
    }

    fn preview_with(snapshot: &Snapshot, moves: &[PlannedMove], with_backups: &[&str]) -> PlanPreview {
        let version: IncusVersion = snapshot.incus_version().parse().unwrap();
        let scriptlet = snapshot.server.placement_scriptlet().map(|source| {
            compile(source, version, &Limits::default(), &|| false)
                .unwrap()
                .unwrap()
        });
        let simulation =
            Simulator::new(scriptlet.as_ref(), version, Mode::Corrected).run(snapshot, &operations(moves));
        let with_backups = with_backups.iter().map(|key| key.to_string()).collect();
        assess(snapshot, moves, &simulation, &with_backups)
    }

    const FIRST_BY_NAME: &str = "def instance_placement(request, candidate_members):\n    \
        names = sorted([m.server_name for m in candidate_members])\n    \
        log_info(request.reason, \" \", request.project, \" \", names)\n    \
        set_target(names[0])\n";

    fn sorted(names: &[String]) -> Vec<String> {
        let mut names = names.to_vec();
        names.sort();
        names
    }

    #[test]
    fn what_the_scriptlet_printed_of_a_secret_is_not_kept() {
        let leaking = "def instance_placement(request, candidate_members):\n    \
            log_info(\"config \", request.config)\n    \
            set_target(sorted([m.server_name for m in candidate_members])[0])\n";
        let mut snapshot = cluster(Some(leaking));
        let c1 = &mut snapshot.instances[0];
        for config in [&mut c1.config, &mut c1.expanded_config] {
            config.insert("environment.DB_PASSWORD".into(), "planted-db-password".into());
            config.insert("user.team".into(), "storage".into());
        }
        let preview = preview_of(&snapshot, &[planned("c1", "proj-b", "")]);
        let logs = &preview.moves[0].decision.as_ref().unwrap().logs;
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert!(!logs[0].contains("planted-db-password"), "{logs:?}");
        assert!(
            logs[0].contains("[redacted: 19 bytes]") && logs[0].contains("storage"),
            "{logs:?}"
        );
    }

    #[test]
    fn every_kind_of_move_gets_its_verdict_and_decision() {
        let snapshot = cluster(Some(FIRST_BY_NAME));
        let moves = [
            planned("c1", "proj-b", ""),
            planned("c2", "proj-r", ""),
            planned("c3", "proj-b", "m3"),
            planned("c4", "proj-b", "@gB"),
            planned("c5", "proj-a", ""),
            planned("c6", "proj-b", ""),
            planned("up", "proj-b", ""),
            planned("ghost", "proj-b", ""),
        ];
        let preview = preview_of(&snapshot, &moves);
        let verdicts: Vec<Verdict> = preview.moves.iter().map(|m| m.verdict).collect();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [Ready, Warning, Warning, Warning, Blocked, Blocked, Blocked, Blocked],
            "{preview:#?}"
        );
        let members: Vec<Option<&str>> = preview
            .moves
            .iter()
            .map(|m| m.decision.as_ref().map(|d| d.member.as_str()))
            .collect();
        assert_eq!(
            members,
            [
                Some("m1"),
                Some("m1"),
                Some("m3"),
                Some("m3"),
                None,
                None,
                None,
                None
            ]
        );
        // One decision among every member eligible for the target project…
        let first = preview.moves[0].decision.as_ref().unwrap();
        assert_eq!(sorted(&first.candidates), ["m1", "m2", "m3"]);
        assert_eq!(first.chosen_by, "scriptlet");
        assert_eq!(first.logs, ["relocation proj-b [\"m1\", \"m2\", \"m3\"]"]);
        // …the restricted project's exclusions with their reasons…
        let restricted = preview.moves[1].decision.as_ref().unwrap();
        assert_eq!(sorted(&restricted.candidates), ["m1", "m2"]);
        assert_eq!(restricted.excluded.len(), 1);
        assert_eq!(restricted.excluded[0].member, "m3");
        assert!(preview.moves[1].reasons[0].contains("from m3 to m1"));
        // …and Incus's own validation call, one member, the target project.
        let validation = &preview.moves[0].incus_calls;
        assert_eq!(validation.len(), 1);
        assert_eq!(
            (
                validation[0].reason.as_str(),
                validation[0].project.as_str(),
                &validation[0].candidates
            ),
            ("relocation", "proj-b", &vec!["m1".to_owned()])
        );
        assert!(
            preview.moves[4].reasons[0].contains("features.profiles=false"),
            "{:?}",
            preview.moves[4]
        );
        assert_eq!(
            preview.moves[5].reasons,
            ["the name c6 is taken in project proj-b"]
        );
        assert!(preview.moves[6].reasons[0].contains("is Running, not stopped"));
        assert_eq!(
            preview.moves[7].reasons,
            ["there is no instance ghost in project default"]
        );
        assert_eq!(preview.snapshot_hash, snapshot.content_hash());
        let load: Vec<(usize, usize)> = preview.load.iter().map(|l| (l.before, l.after)).collect();
        // c2 m3→m1, c3 m2→m3, c4 m1→m3.
        assert_eq!(load, [(4, 4), (3, 2), (1, 2)]);
    }

    #[test]
    fn backups_block_a_move_that_changes_member_only() {
        let snapshot = cluster(Some(FIRST_BY_NAME));
        // c1 stays on m1 (first by name), c2 leaves m3 (proj-r allows gA only).
        let moves = [planned("c1", "proj-b", ""), planned("c2", "proj-r", "")];
        let preview = preview_with(&snapshot, &moves, &["default/c1", "default/c2"]);
        assert_eq!(preview.moves[0].verdict, Verdict::Ready);
        assert_eq!(preview.moves[1].verdict, Verdict::Blocked);
        assert!(
            preview.moves[1].reasons[0].contains("has backups")
                && preview.moves[1].reasons[0].contains("m3 → m1"),
            "{:?}",
            preview.moves[1].reasons
        );
    }

    #[test]
    fn moves_see_the_moves_before_them() {
        let snapshot = cluster(Some(FIRST_BY_NAME));
        // c6 first leaves default for proj-r, so default/c6 ... the name in proj-b is still
        // taken; but a move into default of proj-b/c6 after default/c6 left is free.
        let moves = [
            planned("c6", "proj-r", ""),
            PlannedMove {
                project: "proj-b".into(),
                name: "c6".into(),
                target_project: "default".into(),
                target: MoveTarget::Auto,
                from_member: None,
            },
        ];
        let preview = preview_of(&snapshot, &moves);
        assert_ne!(
            preview.moves[1].verdict,
            Verdict::Blocked,
            "{:?}",
            preview.moves[1]
        );
        let alone = preview_of(&snapshot, &moves[1..]);
        assert_eq!(
            alone.moves[0].reasons,
            ["the name c6 is taken in project default"]
        );
    }

    #[test]
    fn a_scriptlet_veto_blocks_with_its_error_and_no_scriptlet_warns() {
        let veto = "def instance_placement(request, candidate_members):\n    fail(\"not today\")\n";
        let preview = preview_of(&cluster(Some(veto)), &[planned("c1", "proj-b", "")]);
        assert_eq!(preview.moves[0].verdict, Verdict::Blocked);
        assert!(
            preview.moves[0].reasons[0].starts_with("the placement scriptlet refuses the move:")
                && preview.moves[0].reasons[0].contains("not today"),
            "{:?}",
            preview.moves[0].reasons
        );
        let preview = preview_of(&cluster(None), &[planned("c1", "proj-b", "")]);
        assert_eq!(preview.moves[0].verdict, Verdict::Warning);
        assert_eq!(preview.moves[0].decision.as_ref().unwrap().member, "m1");
    }

    #[test]
    fn a_preview_holds_until_what_a_later_move_touches_changes() {
        let snapshot = cluster(Some(FIRST_BY_NAME));
        let moves = [planned("c1", "proj-b", ""), planned("c2", "proj-r", "")];
        let preview = preview_of(&snapshot, &moves);
        assert!(changes_since(&preview, &snapshot, &moves, 0).is_empty());
        // Move 1 ran as previewed: move 2 still holds.
        let mut after_first = snapshot.clone();
        apply(&mut after_first, &moves[0], "m1");
        assert!(changes_since(&preview, &after_first, &moves, 1).is_empty());
        // Someone started c2 meanwhile.
        after_first.instances[1].status = "Running".into();
        assert_eq!(
            changes_since(&preview, &after_first, &moves, 1),
            ["move 2: default/c2 was Stopped, is Running"]
        );
    }

    #[test]
    fn facts_tell_what_changed() {
        let snapshot = cluster(None);
        let move_c1 = planned("c1", "proj-b", "");
        let before = MoveFacts::of(&snapshot, &move_c1);
        assert!(before
            .changes(&MoveFacts::of(&snapshot, &move_c1), &move_c1)
            .is_empty());
        let mut changed = snapshot.clone();
        changed.instances[0].location = "m2".into();
        changed.instances[0].status = "Running".into();
        changed.members[2].groups = vec!["gA".into()];
        changed
            .projects
            .iter_mut()
            .find(|p| p.name == "proj-b")
            .unwrap()
            .config
            .insert("restricted".into(), "true".into());
        changed.instances.push(instance("proj-b", "c1", "m3", "Stopped"));
        assert_eq!(
            before.changes(&MoveFacts::of(&changed, &move_c1), &move_c1),
            [
                "default/c1 moved from m1 to m2",
                "default/c1 was Stopped, is Running",
                "project proj-b changed",
                "the name c1 is now taken in project proj-b",
                "cluster members changed: m3 (groups gA)",
            ]
        );
    }
}
