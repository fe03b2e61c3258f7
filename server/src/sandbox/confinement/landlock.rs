//! The Landlock layer: a domain that handles every access right the kernel knows of (files,
//! TCP, and from ABI 6 abstract unix sockets and signals) and grants none.
//!
//! The ruleset asks for the rights of the newest ABI this build knows; the crate's best-effort
//! mode drops what the running kernel lacks, and [`lacking`] names what that costs here.

use landlock::{Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr, Scope, ABI};

use super::LandlockDomain;

/// The newest ABI whose rights the worker asks for.
const NEWEST: ABI = ABI::V10;

pub(super) fn restrict_self() -> Result<LandlockDomain, String> {
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(NEWEST))
        .and_then(|ruleset| ruleset.handle_access(AccessNet::from_all(NEWEST)))
        .and_then(|ruleset| ruleset.scope(Scope::from_all(NEWEST)))
        .and_then(|ruleset| ruleset.create())
        // No rule: nothing handled is granted.
        .and_then(|ruleset| ruleset.restrict_self())
        .map_err(|error| error.to_string())?;
    match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => {
            let abi = effective_abi as i32;
            Ok(LandlockDomain {
                abi,
                lacking: lacking(abi),
            })
        }
        LandlockStatus::NotEnabled => {
            Err("the kernel has Landlock but did not enable it at boot (its lsm= list)".into())
        }
        LandlockStatus::NotImplemented => Err("the kernel is built without Landlock".into()),
    }
}

/// What a domain of `abi` cannot refuse that matters here. The seccomp filter refuses all of
/// it on its own (no socket, no process); these are gaps of the second layer only.
fn lacking(abi: i32) -> Vec<String> {
    let mut lacking = Vec::new();
    if abi < 4 {
        lacking.push("TCP bind and connect rules (ABI 4, Linux 6.7)".to_owned());
    }
    if abi < 6 {
        lacking.push("abstract unix socket and signal scopes (ABI 6, Linux 6.12)".to_owned());
    }
    lacking
}

#[cfg(test)]
mod tests {
    use super::lacking;

    #[test]
    fn older_abis_name_what_they_cannot_refuse() {
        assert_eq!(lacking(1).len(), 2);
        assert_eq!(
            lacking(5),
            vec!["abstract unix socket and signal scopes (ABI 6, Linux 6.12)"]
        );
        assert!(lacking(6).is_empty());
    }
}
