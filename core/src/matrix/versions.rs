//! The versions a matrix compares: as the user wrote them (the matrix names its columns so),
//! each read as the Incus version the engine imitates; by default the snapshot's own, 6.6 and
//! 7.0.

use crate::engine::{BadVersion, IncusVersion};
use crate::simulate::BehaviourProfile;
use crate::Snapshot;

/// At most this many versions in one matrix: each adds a simulation per situation.
pub const MAX_VERSIONS: usize = 8;

/// Besides the snapshot's own, by default: the feature release that calls a cross-project move
/// twice (6.6, P1) and the one that rebalances (7.0, P4), the two whose calls differ most from
/// the LTS releases (6.0.3+, P3).
const DEFAULT_OTHERS: [&str; 2] = ["6.6", "7.0"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixVersion {
    /// As given (`6.6`).
    pub given: String,
    /// As read (`6.6.0`).
    pub version: IncusVersion,
}

impl MatrixVersion {
    pub fn parse(given: &str) -> Result<MatrixVersion, BadVersion> {
        let given = given.trim();
        Ok(MatrixVersion {
            given: given.to_owned(),
            version: given.parse()?,
        })
    }

    pub fn profile(&self) -> BehaviourProfile {
        BehaviourProfile::of(self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionsError {
    #[error("{0}")]
    Bad(#[from] BadVersion),
    #[error("no version asked for")]
    None,
    #[error("{count} versions asked for: a matrix compares at most {MAX_VERSIONS}")]
    TooMany { count: usize },
    #[error("{first} and {second} are the same version ({version})")]
    Twice {
        first: String,
        second: String,
        version: String,
    },
    #[error(
        "the snapshot reports Incus version {0:?}, which Berth cannot read; name the versions to compare"
    )]
    UnreadableSnapshotVersion(String),
}

/// `6.0.4,6.6,7.0` (a comma-separated list, as `--versions` takes it).
pub fn parse_versions(text: &str) -> Result<Vec<MatrixVersion>, VersionsError> {
    checked_versions(
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(MatrixVersion::parse)
            .collect::<Result<_, _>>()?,
    )
}

/// Each version given, in order: at least one, at most [`MAX_VERSIONS`], none twice.
pub fn checked_versions(versions: Vec<MatrixVersion>) -> Result<Vec<MatrixVersion>, VersionsError> {
    if versions.is_empty() {
        return Err(VersionsError::None);
    }
    if versions.len() > MAX_VERSIONS {
        return Err(VersionsError::TooMany {
            count: versions.len(),
        });
    }
    for (index, version) in versions.iter().enumerate() {
        if let Some(earlier) = versions[..index].iter().find(|v| v.version == version.version) {
            return Err(VersionsError::Twice {
                first: earlier.given.clone(),
                second: version.given.clone(),
                version: version.version.to_string(),
            });
        }
    }
    Ok(versions)
}

/// The snapshot's own version, then 6.6 and 7.0 (each once). A snapshot whose version Berth
/// cannot read needs the versions named rather than a guess.
pub fn default_versions(snapshot: &Snapshot) -> Result<Vec<MatrixVersion>, VersionsError> {
    let own = snapshot.incus_version();
    let own =
        MatrixVersion::parse(own).map_err(|_| VersionsError::UnreadableSnapshotVersion(own.to_owned()))?;
    let mut versions = vec![own];
    for other in DEFAULT_OTHERS {
        let other = MatrixVersion::parse(other).expect("the defaults are versions");
        if versions.iter().all(|v| v.version != other.version) {
            versions.push(other);
        }
    }
    Ok(versions)
}
