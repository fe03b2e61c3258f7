//! Which Incus version the engine imitates, and what differs between versions.
//!
//! Facts from `incus-placement.md` §1.7–1.8 and §5: the LTS branch 6.0.x got the fixes of the
//! feature releases as backports, so each capability has an LTS threshold and a feature-release
//! threshold.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IncusVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl IncusVersion {
    /// Debian bookworm-backports' Incus, the test bed's version and the default.
    pub const DEFAULT: IncusVersion = IncusVersion {
        major: 6,
        minor: 0,
        patch: 4,
    };

    pub const fn new(major: u32, minor: u32, patch: u32) -> IncusVersion {
        IncusVersion { major, minor, patch }
    }

    fn is_lts(self) -> bool {
        self.major == 6 && self.minor == 0
    }

    /// `lts`: first 6.0.x patch release with the change; `feature`: first feature release.
    fn since(self, lts: u32, feature: (u32, u32)) -> bool {
        if self.is_lts() {
            self.patch >= lts
        } else {
            (self.major, self.minor) >= feature
        }
    }

    /// `set()` is a builtin (commit 87cdd4a): 6.0.5 and 6.14.
    pub fn allows_set(self) -> bool {
        self.since(5, (6, 14))
    }

    /// `get_cluster_member_resources`/`_state` of a non-candidate raise instead of returning
    /// the string "Invalid member name": 6.0.5 and 6.12.
    pub fn member_lookup_raises(self) -> bool {
        self.since(5, (6, 12))
    }

    /// `set_target` of a non-candidate raises (commit 8043469): 6.0.3 and 6.7.
    pub fn set_target_raises(self) -> bool {
        self.since(3, (6, 7))
    }

    /// Validation runs the top level and checks the entry point (before: compile only):
    /// 6.0.3 and 6.8.
    pub fn validation_runs_top_level(self) -> bool {
        self.since(3, (6, 8))
    }

    /// `get_instances_count` exists: 6.0.3 and 6.7.
    pub fn has_get_instances_count(self) -> bool {
        self.since(3, (6, 7))
    }

    /// `request.disk_only` exists (not in 6.0.4): 6.0.5 and 6.12.
    pub fn has_disk_only(self) -> bool {
        self.since(5, (6, 12))
    }
}

impl Default for IncusVersion {
    fn default() -> IncusVersion {
        IncusVersion::DEFAULT
    }
}

impl fmt::Display for IncusVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an Incus version (expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 6.0.4)")]
pub struct BadVersion(pub String);

impl FromStr for IncusVersion {
    type Err = BadVersion;

    fn from_str(text: &str) -> Result<IncusVersion, BadVersion> {
        let bad = || BadVersion(text.to_owned());
        let mut parts = text.trim().trim_start_matches('v').split('.');
        let mut number = |required: bool| match parts.next() {
            Some(part) => part.parse::<u32>().map_err(|_| bad()),
            None if required => Err(bad()),
            None => Ok(0),
        };
        let version = IncusVersion {
            major: number(true)?,
            minor: number(true)?,
            patch: number(false)?,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions_as_incus_prints_them() {
        assert_eq!("6.0.4".parse(), Ok(IncusVersion::new(6, 0, 4)));
        assert_eq!("v6.8".parse(), Ok(IncusVersion::new(6, 8, 0)));
        assert!("six".parse::<IncusVersion>().is_err());
        assert!("6.0.4.1".parse::<IncusVersion>().is_err());
    }

    #[test]
    fn lts_and_feature_releases_have_their_own_thresholds() {
        let v = |text: &str| text.parse::<IncusVersion>().unwrap();
        assert!(!v("6.0.4").allows_set());
        assert!(v("6.0.5").allows_set());
        assert!(!v("6.13.0").allows_set());
        assert!(v("6.14.0").allows_set());
        assert!(v("7.0.0").allows_set());
        assert!(v("6.0.3").set_target_raises());
        assert!(!v("6.0.2").set_target_raises());
        assert!(!v("6.6.0").set_target_raises());
        assert!(!v("6.0.4").member_lookup_raises());
        assert!(v("6.12.0").member_lookup_raises());
    }
}
