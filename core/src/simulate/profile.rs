//! Behaviour profiles: which scriptlet calls a cluster's Incus makes for a move
//! (`incus-placement.md` §3.2). The version decides the profile.

use serde::{Deserialize, Serialize};

use crate::engine::IncusVersion;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BehaviourProfile {
    /// ≤ 6.5 and 6.0.0–6.0.2: a fixed member skips the scriptlet; relocation uses the source project.
    P0,
    /// 6.6: every move calls it, with the source project; a cross-project move calls it twice.
    P1,
    /// 6.7: one call with the target project, but `profiles` empty and source config.
    P2,
    /// 6.8–6.23 and 6.0.3+: one call, target project, config expanded with its profiles.
    P3,
    /// 7.0+: as P3; a combined member + project move may keep the source project (UNVERIFIED).
    P4,
}

impl BehaviourProfile {
    pub fn of(version: IncusVersion) -> BehaviourProfile {
        let (major, minor, patch) = (version.major, version.minor, version.patch);
        match (major, minor) {
            (m, _) if m >= 7 => BehaviourProfile::P4,
            (6, 0) if patch >= 3 => BehaviourProfile::P3,
            (6, 0) => BehaviourProfile::P0,
            (6, minor) if minor >= 8 => BehaviourProfile::P3,
            (6, 7) => BehaviourProfile::P2,
            (6, 6) => BehaviourProfile::P1,
            _ => BehaviourProfile::P0,
        }
    }

    /// The relocation call carries the target project (not the source one).
    pub fn relocation_uses_target_project(self) -> bool {
        self >= BehaviourProfile::P2
    }

    /// A fixed member (explicit target, or the kept member) still calls the scriptlet.
    pub fn calls_for_fixed_member(self) -> bool {
        self >= BehaviourProfile::P1
    }

    /// The relocation request has the instance's profiles and config expanded with the target
    /// project's profiles.
    pub fn relocation_expands_target_profiles(self) -> bool {
        self >= BehaviourProfile::P3
    }

    /// Automatic rebalancing, with its own `rebalance` reason, exists.
    pub fn has_rebalance(self) -> bool {
        self == BehaviourProfile::P4
    }

    /// The internal copy of a cross-project move calls the scriptlet again (`new`).
    pub fn second_call_from_internal_copy(self) -> bool {
        self == BehaviourProfile::P1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_the_documented_profiles() {
        let of = |text: &str| BehaviourProfile::of(text.parse().unwrap());
        assert_eq!(of("6.0.2"), BehaviourProfile::P0);
        assert_eq!(of("6.5.0"), BehaviourProfile::P0);
        assert_eq!(of("6.6.0"), BehaviourProfile::P1);
        assert_eq!(of("6.7.0"), BehaviourProfile::P2);
        assert_eq!(of("6.8.0"), BehaviourProfile::P3);
        assert_eq!(of("6.0.3"), BehaviourProfile::P3);
        assert_eq!(of("6.0.4"), BehaviourProfile::P3);
        assert_eq!(of("6.23.0"), BehaviourProfile::P3);
        assert_eq!(of("7.0.0"), BehaviourProfile::P4);
    }
}
