//! The situations that lead Incus to call a placement scriptlet, with the ids the matrix's
//! contract gives them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::simulate::BehaviourProfile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Situation {
    /// `incus create` without a target: `new`, the project's candidates.
    Create,
    /// `incus create --target MEMBER`: `new` with that member alone (no call before 6.6).
    CreateMember,
    /// `incus create --target @GROUP`: `new` with the group's members.
    CreateGroup,
    /// `incus move NAME --target MEMBER`: `relocation` with that member alone (none before 6.6).
    MoveMember,
    /// `incus move NAME --target-project P`, keeping the member: one call, or two on 6.6.
    MoveProject,
    /// `incus move NAME --target-project P --target MEMBER`.
    MoveProjectMember,
    /// `incus cluster evacuate` of the instance's member: `evacuation`, one call per instance.
    Evacuate,
    /// Automatic rebalancing moving the instance (7.0+): `rebalance`.
    Rebalance,
}

impl Situation {
    pub const ALL: [Situation; 8] = [
        Situation::Create,
        Situation::CreateMember,
        Situation::CreateGroup,
        Situation::MoveMember,
        Situation::MoveProject,
        Situation::MoveProjectMember,
        Situation::Evacuate,
        Situation::Rebalance,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Situation::Create => "create",
            Situation::CreateMember => "create-member",
            Situation::CreateGroup => "create-group",
            Situation::MoveMember => "move-member",
            Situation::MoveProject => "move-project",
            Situation::MoveProjectMember => "move-project-member",
            Situation::Evacuate => "evacuate",
            Situation::Rebalance => "rebalance",
        }
    }

    /// Whether a cluster with this behaviour profile ever gets into the situation: only 7.x
    /// rebalances.
    pub fn exists_in(self, profile: BehaviourProfile) -> bool {
        self != Situation::Rebalance || profile.has_rebalance()
    }

    /// What the situation is, in the words of the command that leads to it.
    pub fn describe(self) -> &'static str {
        match self {
            Situation::Create => "incus create in the instance's project, no target",
            Situation::CreateMember => "incus create --target on the instance's member",
            Situation::CreateGroup => "incus create --target @group, a group of the instance's member",
            Situation::MoveMember => "incus move to another member, same project",
            Situation::MoveProject => "incus move to another project, keeping the member",
            Situation::MoveProjectMember => "incus move to another project and another member",
            Situation::Evacuate => "incus cluster evacuate of the instance's member",
            Situation::Rebalance => "automatic rebalancing moves the instance, 7.0 and later",
        }
    }
}

impl fmt::Display for Situation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a situation (create, create-member, create-group, move-member, move-project, move-project-member, evacuate, rebalance)")]
pub struct UnknownSituation(pub String);

impl FromStr for Situation {
    type Err = UnknownSituation;

    fn from_str(text: &str) -> Result<Situation, UnknownSituation> {
        Situation::ALL
            .into_iter()
            .find(|situation| situation.id() == text)
            .ok_or_else(|| UnknownSituation(text.to_owned()))
    }
}
