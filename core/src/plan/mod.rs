//! Migration plans: a batch of cross-project moves, the life of a plan (draft → in review →
//! approved → executing → succeeded | failed | cancelled, and superseded) and of each move
//! (pending → running → succeeded | failed, or skipped).
//!
//! Every change of state goes through [`PlanState::next`] or [`MoveState::next`]: the one place
//! that says which event is allowed in which state. Which role may cause an event is the
//! server's to check; whose approval counts (never a contributor's: whoever created the plan or
//! changed what it will run) and how many a plan needs is [`Review`]'s. Execution is
//! forward-only: a finished plan is not run again; its reverse is a new plan ([`Plan::reverse`]).

pub mod preview;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a move sends its instance within the target project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum MoveTarget {
    /// The placement decides among every eligible member.
    Auto,
    /// This member.
    Member(String),
    /// A member of this cluster group (`@group`).
    Group(String),
}

impl fmt::Display for MoveTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveTarget::Auto => Ok(()),
            MoveTarget::Member(member) => f.write_str(member),
            MoveTarget::Group(group) => write!(f, "@{group}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a target: give nothing (automatic), a member name or @group")]
pub struct BadTarget(pub String);

impl FromStr for MoveTarget {
    type Err = BadTarget;

    /// `""` (or `auto`), `MEMBER`, `@GROUP`.
    fn from_str(text: &str) -> Result<MoveTarget, BadTarget> {
        let text = text.trim();
        match text.strip_prefix('@') {
            _ if text.is_empty() || text == "auto" => Ok(MoveTarget::Auto),
            Some("") => Err(BadTarget(text.to_owned())),
            Some(group) => Ok(MoveTarget::Group(group.to_owned())),
            None if text.contains(char::is_whitespace) => Err(BadTarget(text.to_owned())),
            None => Ok(MoveTarget::Member(text.to_owned())),
        }
    }
}

impl From<MoveTarget> for String {
    fn from(target: MoveTarget) -> String {
        target.to_string()
    }
}

impl TryFrom<String> for MoveTarget {
    type Error = BadTarget;

    fn try_from(text: String) -> Result<MoveTarget, BadTarget> {
        text.parse()
    }
}

/// One move of a plan: instance `project/name` into `target_project`, placed as `target` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedMove {
    pub project: String,
    pub name: String,
    pub target_project: String,
    #[serde(default = "auto")]
    pub target: MoveTarget,
    /// The member the instance was on when the move was planned (what a reverse plan returns
    /// it to); absent when not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_member: Option<String>,
}

fn auto() -> MoveTarget {
    MoveTarget::Auto
}

/// A plan's moves, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub moves: Vec<PlannedMove>,
}

/// A plan that cannot be built as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("a plan needs at least one move")]
    Empty,
    #[error("move {index}: {field} is empty")]
    MissingField { index: usize, field: &'static str },
    #[error("move {index}: {instance} is already in project {project}")]
    SameProject {
        index: usize,
        instance: String,
        project: String,
    },
    #[error("move {index}: {name:?} is not an Incus instance name (1 to 63 letters, digits and hyphens, starting with a letter, not ending with a hyphen)")]
    BadInstanceName { index: usize, name: String },
    #[error("move {index}: {name:?} is not an Incus project name (no '/', spaces or control characters, not '.' or '..')")]
    BadProjectName { index: usize, name: String },
    #[error("moves {first} and {second} both move {instance}")]
    Twice {
        first: usize,
        second: usize,
        instance: String,
    },
}

impl Plan {
    /// A plan of these moves (numbered from 1 in errors): each names an instance and a target
    /// project other than its own, and no instance moves twice.
    pub fn new(moves: Vec<PlannedMove>) -> Result<Plan, PlanError> {
        if moves.is_empty() {
            return Err(PlanError::Empty);
        }
        for (index, planned) in moves.iter().enumerate() {
            let index = index + 1;
            for (field, value) in [
                ("project", &planned.project),
                ("name", &planned.name),
                ("target_project", &planned.target_project),
            ] {
                if value.trim().is_empty() {
                    return Err(PlanError::MissingField { index, field });
                }
            }
            if !is_instance_name(&planned.name) {
                return Err(PlanError::BadInstanceName {
                    index,
                    name: planned.name.clone(),
                });
            }
            for project in [&planned.project, &planned.target_project] {
                if !is_project_name(project) {
                    return Err(PlanError::BadProjectName {
                        index,
                        name: project.clone(),
                    });
                }
            }
            if planned.project == planned.target_project {
                return Err(PlanError::SameProject {
                    index,
                    instance: planned.instance(),
                    project: planned.project.clone(),
                });
            }
            if let Some(first) = moves[..index - 1]
                .iter()
                .position(|earlier| earlier.project == planned.project && earlier.name == planned.name)
            {
                return Err(PlanError::Twice {
                    first: first + 1,
                    second: index,
                    instance: planned.instance(),
                });
            }
        }
        Ok(Plan { moves })
    }

    /// The plan that undoes this one: the moves that succeeded, last first, each back to its
    /// project and (when known) its member.
    pub fn reverse(&self, succeeded: impl Fn(usize) -> bool) -> Result<Plan, PlanError> {
        let moves = self
            .moves
            .iter()
            .enumerate()
            .rev()
            .filter(|(index, _)| succeeded(*index))
            .map(|(_, planned)| PlannedMove {
                project: planned.target_project.clone(),
                name: planned.name.clone(),
                target_project: planned.project.clone(),
                target: planned
                    .from_member
                    .clone()
                    .map_or(MoveTarget::Auto, MoveTarget::Member),
                from_member: None,
            })
            .collect();
        Plan::new(moves)
    }
}

/// Incus's rule for instance names (`internal/instance/instance_utils.go`, `ValidName`): 1 to
/// 63 ASCII letters, digits and hyphens, starting with a letter, not ending with a hyphen.
pub fn is_instance_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Incus's rule for project names (`internal/server/project/project.go`, `ValidName`): not
/// `.` or `..`, and no `/`, whitespace or control characters.
pub fn is_project_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
}

impl PlannedMove {
    /// `project/name`.
    pub fn instance(&self) -> String {
        format!("{}/{}", self.project, self.name)
    }
}

/// Where a plan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    Draft,
    InReview,
    Approved,
    Executing,
    Succeeded,
    Failed,
    Cancelled,
    /// The cluster changed since the preview in a way that touches the plan: it must be
    /// previewed and approved again.
    Superseded,
}

/// What can happen to a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanEvent {
    /// Its moves or settings changed.
    Edit,
    /// A new preview replaces the last one (a new version of the plan to review).
    Preview,
    /// Sent to review (with a fresh preview).
    Submit,
    /// An approval; `enough` when the approvals now reach what the plan needs.
    Approve {
        enough: bool,
    },
    RequestChanges,
    /// The executor starts running it.
    Execute,
    /// Every move ended; `failed` when at least one failed.
    Finish {
        failed: bool,
    },
    /// A move failed and the plan stops on failure.
    Abort,
    Cancel,
    /// What the plan touches changed since its preview.
    Stale,
}

impl PlanEvent {
    /// Every event (both values of the flags), for exhaustive tests and documentation.
    pub const ALL: [PlanEvent; 12] = [
        PlanEvent::Edit,
        PlanEvent::Preview,
        PlanEvent::Submit,
        PlanEvent::Approve { enough: false },
        PlanEvent::Approve { enough: true },
        PlanEvent::RequestChanges,
        PlanEvent::Execute,
        PlanEvent::Finish { failed: false },
        PlanEvent::Finish { failed: true },
        PlanEvent::Abort,
        PlanEvent::Cancel,
        PlanEvent::Stale,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PlanEvent::Edit => "edit",
            PlanEvent::Preview => "be previewed again",
            PlanEvent::Submit => "submit",
            PlanEvent::Approve { .. } => "approve",
            PlanEvent::RequestChanges => "request changes",
            PlanEvent::Execute => "execute",
            PlanEvent::Finish { .. } => "finish",
            PlanEvent::Abort => "abort",
            PlanEvent::Cancel => "cancel",
            PlanEvent::Stale => "supersede",
        }
    }
}

/// An event the plan's state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a plan that is {state} cannot {}", event.name())]
pub struct WrongState {
    pub state: PlanState,
    pub event: PlanEvent,
}

impl PlanState {
    pub const ALL: [PlanState; 8] = [
        PlanState::Draft,
        PlanState::InReview,
        PlanState::Approved,
        PlanState::Executing,
        PlanState::Succeeded,
        PlanState::Failed,
        PlanState::Cancelled,
        PlanState::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Draft => "draft",
            PlanState::InReview => "in_review",
            PlanState::Approved => "approved",
            PlanState::Executing => "executing",
            PlanState::Succeeded => "succeeded",
            PlanState::Failed => "failed",
            PlanState::Cancelled => "cancelled",
            PlanState::Superseded => "superseded",
        }
    }

    /// No event changes it any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PlanState::Succeeded | PlanState::Failed | PlanState::Cancelled
        )
    }

    /// The one table of the plan's life: the state after `event`, or why not.
    pub fn next(self, event: PlanEvent) -> Result<PlanState, WrongState> {
        use PlanEvent as E;
        use PlanState as S;
        let next = match (self, event) {
            // Drafts are edited and previewed freely and sent to review.
            (S::Draft, E::Edit | E::Preview) => S::Draft,
            (S::Draft | S::Superseded, E::Submit) => S::InReview,
            // In review, an edit or a new preview keeps it there as a new version, which the
            // approvals so far were not given to; approvals count until there are enough.
            (S::InReview, E::Edit | E::Preview) => S::InReview,
            (S::InReview, E::Approve { enough: false }) => S::InReview,
            (S::InReview, E::Approve { enough: true }) => S::Approved,
            (S::InReview | S::Approved, E::RequestChanges) => S::Draft,
            // Any edit after approval sends it back to review. An approved plan is not
            // previewed again in place: a cluster that changed since supersedes it (`Stale`),
            // and the new preview is reviewed anew.
            (S::Approved, E::Edit) => S::InReview,
            (S::Approved, E::Execute) => S::Executing,
            (S::Executing, E::Finish { failed: false }) => S::Succeeded,
            (S::Executing, E::Finish { failed: true } | E::Abort) => S::Failed,
            // A superseded plan is edited as a draft, or previewed and submitted again.
            (S::Superseded, E::Edit) => S::Draft,
            (S::Superseded, E::Preview) => S::Superseded,
            (S::Draft | S::InReview | S::Approved | S::Executing | S::Superseded, E::Cancel) => S::Cancelled,
            (S::InReview | S::Approved | S::Executing, E::Stale) => S::Superseded,
            (state, event) => return Err(WrongState { state, event }),
        };
        Ok(next)
    }
}

impl fmt::Display for PlanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().replace('_', " "))
    }
}

/// How many approvals a plan needs, and whose count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Review {
    /// At least 1.
    pub required: u32,
}

impl Default for Review {
    fn default() -> Review {
        Review { required: 1 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefused {
    /// Four eyes: whoever created the plan or changed what it will run reviews nobody's work
    /// but another's.
    #[error("{0} contributed to this plan (created it or changed what it will run) and cannot approve it")]
    Contributor(String),
    #[error("{0} has approved this version of the plan already")]
    Already(String),
}

impl Review {
    /// The event `approver`'s approval is, given the plan's contributors (every account that
    /// created it or changed what it will run) and the approvals of this version so far.
    pub fn approve(
        &self,
        contributors: &[String],
        approver: &str,
        approved_by: &[String],
    ) -> Result<PlanEvent, ApprovalRefused> {
        if contributors.iter().any(|contributor| contributor == approver) {
            return Err(ApprovalRefused::Contributor(approver.to_owned()));
        }
        if approved_by.iter().any(|earlier| earlier == approver) {
            return Err(ApprovalRefused::Already(approver.to_owned()));
        }
        let count = approved_by.len() as u32 + 1;
        Ok(PlanEvent::Approve {
            enough: count >= self.required.max(1),
        })
    }
}

/// Where one move is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MoveState {
    Pending,
    Skipped {
        reason: String,
    },
    Running,
    Succeeded,
    /// Incus's error, verbatim.
    Failed {
        error: String,
    },
}

/// What can happen to a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveEvent {
    Start,
    Skip { reason: String },
    Succeed,
    Fail { error: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a move that is {state} cannot {event}")]
pub struct WrongMoveState {
    pub state: &'static str,
    pub event: &'static str,
}

impl MoveState {
    pub fn name(&self) -> &'static str {
        match self {
            MoveState::Pending => "pending",
            MoveState::Skipped { .. } => "skipped",
            MoveState::Running => "running",
            MoveState::Succeeded => "succeeded",
            MoveState::Failed { .. } => "failed",
        }
    }

    pub fn is_final(&self) -> bool {
        !matches!(self, MoveState::Pending | MoveState::Running)
    }

    /// The one table of a move's life: forward only, never twice.
    pub fn next(&self, event: MoveEvent) -> Result<MoveState, WrongMoveState> {
        match (self, event) {
            (MoveState::Pending, MoveEvent::Start) => Ok(MoveState::Running),
            (MoveState::Pending, MoveEvent::Skip { reason }) => Ok(MoveState::Skipped { reason }),
            (MoveState::Running, MoveEvent::Succeed) => Ok(MoveState::Succeeded),
            // A move can fail before it starts (its preflight) or while it runs.
            (MoveState::Pending | MoveState::Running, MoveEvent::Fail { error }) => {
                Ok(MoveState::Failed { error })
            }
            (state, event) => Err(WrongMoveState {
                state: state.name(),
                event: match event {
                    MoveEvent::Start => "start",
                    MoveEvent::Skip { .. } => "be skipped",
                    MoveEvent::Succeed => "succeed",
                    MoveEvent::Fail { .. } => "fail",
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(project: &str, name: &str, target_project: &str) -> PlannedMove {
        PlannedMove {
            project: project.into(),
            name: name.into(),
            target_project: target_project.into(),
            target: MoveTarget::Auto,
            from_member: None,
        }
    }

    /// Every state × every event, against the table written out here independently of
    /// `next`'s match: a change to either shows.
    #[test]
    fn every_plan_state_answers_every_event_as_the_table_says() {
        use PlanState::*;
        let expected = |state: PlanState, event: PlanEvent| -> Option<PlanState> {
            let name = event.name();
            let table: &[(PlanState, &str, bool, PlanState)] = &[
                // (from, event, flag, to); the flag is `enough` or `failed` where it matters.
                (Draft, "edit", false, Draft),
                (Draft, "be previewed again", false, Draft),
                (Draft, "submit", false, InReview),
                (Draft, "cancel", false, Cancelled),
                (InReview, "edit", false, InReview),
                (InReview, "be previewed again", false, InReview),
                (InReview, "approve", false, InReview),
                (InReview, "approve", true, Approved),
                (InReview, "request changes", false, Draft),
                (InReview, "cancel", false, Cancelled),
                (InReview, "supersede", false, Superseded),
                (Approved, "edit", false, InReview),
                (Approved, "request changes", false, Draft),
                (Approved, "execute", false, Executing),
                (Approved, "cancel", false, Cancelled),
                (Approved, "supersede", false, Superseded),
                (Executing, "finish", false, Succeeded),
                (Executing, "finish", true, Failed),
                (Executing, "abort", false, Failed),
                (Executing, "cancel", false, Cancelled),
                (Executing, "supersede", false, Superseded),
                (Superseded, "edit", false, Draft),
                (Superseded, "be previewed again", false, Superseded),
                (Superseded, "submit", false, InReview),
                (Superseded, "cancel", false, Cancelled),
            ];
            let flag = match event {
                PlanEvent::Approve { enough } => enough,
                PlanEvent::Finish { failed } => failed,
                _ => false,
            };
            table
                .iter()
                .find(|(from, event_name, table_flag, _)| {
                    *from == state && *event_name == name && *table_flag == flag
                })
                .map(|(_, _, _, to)| *to)
        };
        let mut allowed = 0;
        for state in PlanState::ALL {
            for event in PlanEvent::ALL {
                match (state.next(event), expected(state, event)) {
                    (Ok(next), Some(want)) => {
                        assert_eq!(next, want, "{state} + {event:?}");
                        allowed += 1;
                    }
                    (Err(refused), None) => {
                        assert_eq!(refused, WrongState { state, event });
                        assert!(refused
                            .to_string()
                            .starts_with(&format!("a plan that is {state} cannot")));
                    }
                    (got, want) => panic!("{state} + {event:?}: got {got:?}, the table says {want:?}"),
                }
            }
        }
        assert_eq!(allowed, 25, "every row of the table is reachable");
        for state in PlanState::ALL.into_iter().filter(|state| state.is_final()) {
            assert!(
                PlanEvent::ALL.iter().all(|event| state.next(*event).is_err()),
                "{state} is final"
            );
        }
    }

    #[test]
    fn every_move_state_answers_every_event_forward_only() {
        let states = [
            MoveState::Pending,
            MoveState::Skipped { reason: "r".into() },
            MoveState::Running,
            MoveState::Succeeded,
            MoveState::Failed { error: "e".into() },
        ];
        let events = [
            MoveEvent::Start,
            MoveEvent::Skip {
                reason: "not needed".into(),
            },
            MoveEvent::Succeed,
            MoveEvent::Fail {
                error: "Instance not found".into(),
            },
        ];
        let mut allowed = Vec::new();
        for state in &states {
            for event in &events {
                if let Ok(next) = state.next(event.clone()) {
                    allowed.push((state.name(), next));
                }
            }
        }
        assert_eq!(
            allowed,
            vec![
                ("pending", MoveState::Running),
                (
                    "pending",
                    MoveState::Skipped {
                        reason: "not needed".into()
                    }
                ),
                (
                    "pending",
                    MoveState::Failed {
                        error: "Instance not found".into()
                    }
                ),
                ("running", MoveState::Succeeded),
                (
                    "running",
                    MoveState::Failed {
                        error: "Instance not found".into()
                    }
                ),
            ]
        );
        let refused = MoveState::Succeeded.next(MoveEvent::Start).unwrap_err();
        assert_eq!(refused.to_string(), "a move that is succeeded cannot start");
        assert!(states
            .iter()
            .filter(|state| state.is_final())
            .all(|state| events.iter().all(|event| state.next(event.clone()).is_err())));
    }

    #[test]
    fn approvals_count_and_no_contributor_approves() {
        let review = Review { required: 2 };
        let contributors = ["ann".to_owned(), "eve".to_owned()];
        assert_eq!(
            review.approve(&contributors, "ann", &[]),
            Err(ApprovalRefused::Contributor("ann".into()))
        );
        // Eve only edited the moves after Ann created the plan: her work too needs other eyes.
        assert_eq!(
            review.approve(&contributors, "eve", &[]),
            Err(ApprovalRefused::Contributor("eve".into()))
        );
        assert_eq!(
            review.approve(&contributors, "bob", &[]),
            Ok(PlanEvent::Approve { enough: false })
        );
        assert_eq!(
            review.approve(&contributors, "bob", &["bob".into()]),
            Err(ApprovalRefused::Already("bob".into()))
        );
        assert_eq!(
            review.approve(&contributors, "cid", &["bob".into()]),
            Ok(PlanEvent::Approve { enough: true })
        );
        assert_eq!(
            Review::default().approve(&contributors, "bob", &[]),
            Ok(PlanEvent::Approve { enough: true })
        );
    }

    #[test]
    fn an_approved_plan_is_not_previewed_again_in_place() {
        let refused = PlanState::Approved.next(PlanEvent::Preview).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "a plan that is approved cannot be previewed again"
        );
        assert_eq!(
            PlanState::Approved.next(PlanEvent::Stale),
            Ok(PlanState::Superseded)
        );
        assert_eq!(
            PlanState::Superseded.next(PlanEvent::Submit),
            Ok(PlanState::InReview)
        );
    }

    #[test]
    fn targets_read_and_write_as_the_cli_and_api_write_them() {
        for (text, target) in [
            ("", MoveTarget::Auto),
            ("auto", MoveTarget::Auto),
            ("m2", MoveTarget::Member("m2".into())),
            ("@rack-a", MoveTarget::Group("rack-a".into())),
        ] {
            assert_eq!(text.parse::<MoveTarget>(), Ok(target.clone()));
            let json: PlannedMove = serde_json::from_value(serde_json::json!({
                "project": "a", "name": "x", "target_project": "b", "target": text,
            }))
            .unwrap();
            assert_eq!(json.target, target);
        }
        assert_eq!(MoveTarget::Group("g".into()).to_string(), "@g");
        assert!("@".parse::<MoveTarget>().is_err() && "two words".parse::<MoveTarget>().is_err());
        let absent: PlannedMove =
            serde_json::from_value(serde_json::json!({"project": "a", "name": "x", "target_project": "b"}))
                .unwrap();
        assert_eq!(absent.target, MoveTarget::Auto);
    }

    #[test]
    fn a_plan_refuses_empty_moves_same_project_and_an_instance_twice() {
        assert_eq!(Plan::new(vec![]), Err(PlanError::Empty));
        assert_eq!(
            Plan::new(vec![planned("a", "", "b")]),
            Err(PlanError::MissingField {
                index: 1,
                field: "name"
            })
        );
        assert_eq!(
            Plan::new(vec![planned("a", "x", "b"), planned("b", "y", "b")])
                .unwrap_err()
                .to_string(),
            "move 2: b/y is already in project b"
        );
        assert_eq!(
            Plan::new(vec![
                planned("a", "x", "b"),
                planned("a", "y", "b"),
                planned("a", "x", "c")
            ]),
            Err(PlanError::Twice {
                first: 1,
                second: 3,
                instance: "a/x".into()
            })
        );
    }

    #[test]
    fn names_are_incus_names_so_they_cannot_reach_another_resource() {
        for bad in [
            "../../certificates",
            "x?project=b",
            "web 1",
            "-x",
            "x-",
            "1x",
            "",
            "é",
        ] {
            let refused = Plan::new(vec![planned("a", bad, "b")]);
            assert!(
                matches!(
                    refused,
                    Err(PlanError::BadInstanceName { .. } | PlanError::MissingField { .. })
                ),
                "{bad:?}: {refused:?}"
            );
        }
        for bad in ["a/b", "..", "p q", "p\n"] {
            let refused = Plan::new(vec![planned(bad, "x", "b")]);
            assert!(
                matches!(refused, Err(PlanError::BadProjectName { .. })),
                "{bad:?}: {refused:?}"
            );
            let refused = Plan::new(vec![planned("a", "x", bad)]);
            assert!(
                matches!(refused, Err(PlanError::BadProjectName { .. })),
                "{bad:?}: {refused:?}"
            );
        }
        assert!(Plan::new(vec![planned("proj-b", "web-01", "default")]).is_ok());
        assert!(is_instance_name(&"a".repeat(63)) && !is_instance_name(&"a".repeat(64)));
    }

    #[test]
    fn the_reverse_plan_undoes_what_succeeded_last_first() {
        let mut first = planned("a", "x", "b");
        first.from_member = Some("m1".into());
        let plan = Plan::new(vec![first, planned("a", "y", "c"), planned("a", "z", "b")]).unwrap();
        let reverse = plan.reverse(|index| index != 1).unwrap();
        let moves: Vec<(String, String, MoveTarget)> = reverse
            .moves
            .iter()
            .map(|m| (m.instance(), m.target_project.clone(), m.target.clone()))
            .collect();
        assert_eq!(
            moves,
            vec![
                ("b/z".into(), "a".into(), MoveTarget::Auto),
                ("b/x".into(), "a".into(), MoveTarget::Member("m1".into())),
            ]
        );
        assert_eq!(plan.reverse(|_| false), Err(PlanError::Empty));
    }
}
