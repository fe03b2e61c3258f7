//! Which Incus version an `/api/v1` request imitates. An unparsable version is a 400 wherever
//! it comes from, never silently the default: a prediction for the wrong version is worse than
//! none.

use berth_core::engine::{BadVersion, IncusVersion};

use crate::db::StoredSnapshot;
use crate::error::AppError;

/// `incus_version` as given; absent or empty: [`IncusVersion::DEFAULT`] (no snapshot to ask).
pub(crate) fn given_or_default(given: Option<&str>) -> Result<IncusVersion, AppError> {
    given_version(given).map_or(Ok(IncusVersion::DEFAULT), parse)
}

/// A given version; `""` means not given, as an absent field does.
fn given_version(given: Option<&str>) -> Option<&str> {
    given.filter(|text| !text.trim().is_empty())
}

/// `incus_version` as given; absent or empty: the version the snapshot's cluster runs. A snapshot whose
/// version Berth cannot read (a distribution's suffix, a future scheme) is a 400 that says to
/// pass `incus_version`, rather than a guess.
pub(crate) fn given_or_snapshots(
    given: Option<&str>,
    stored: &StoredSnapshot,
) -> Result<IncusVersion, AppError> {
    if let Some(given) = given_version(given) {
        return parse(given);
    }
    let reported = &stored.incus_version;
    reported.parse().map_err(|_: BadVersion| {
        AppError::BadRequest(format!(
            "snapshot {} reports Incus version {reported:?}, which Berth cannot read; pass incus_version",
            stored.id
        ))
    })
}

fn parse(text: &str) -> Result<IncusVersion, AppError> {
    text.parse()
        .map_err(|error: BadVersion| AppError::BadRequest(error.to_string()))
}
