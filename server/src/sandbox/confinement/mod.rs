//! The worker's confinement: what a `berth worker` takes away from itself before it reads its
//! first job, so that a bug in the scriptlet engine (or in anything under it) that lets a
//! scriptlet run code of its own still cannot open a file, a socket or a process.
//!
//! A worker gets everything over stdin and answers on stdout; after start-up it needs no file,
//! no network and no other process. Two independent layers of the kernel say so:
//!
//! - [`seccomp`]: a filter of the system calls the worker's steady state makes (reading its
//!   stdin, writing its stdout and stderr, memory, threads for the engine's sized stack,
//!   futexes, clocks, signals to itself, exit); every other call fails with `EPERM`: `openat`,
//!   `socket`, `connect`, `execve`, a `clone` that is not a thread, `ptrace`, `setrlimit` …
//! - [`landlock`]: a Landlock domain that handles every filesystem right and TCP bind and
//!   connect, with no rule granting any (and, from ABI 6, no abstract unix socket or signal
//!   outside the worker): were a call to slip past the filter, the kernel still refuses the
//!   access with `EACCES`.
//!
//! Both set `no_new_privs`. [`ConfinementReport`] says what the kernel enforced; the worker
//! sends it as its first line, and the pool logs what is missing. Under
//! [`Confinement::Required`] (the default) a worker whose seccomp filter could not be installed
//! refuses to run: the filter alone keeps every promise above. Landlock is the second lock on
//! the same doors; a kernel without it (or with an older ABI) is named in the server log at
//! start, and the worker runs.

mod landlock;
mod seccomp;

use serde::{Deserialize, Serialize};

/// How strictly workers must be confined (`--sandbox-confinement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
pub enum Confinement {
    /// A worker without its seccomp filter refuses every job (the server does not start);
    /// a missing Landlock layer is logged.
    #[default]
    Required,
    /// Whatever the kernel offers; each missing layer is logged.
    BestEffort,
}

impl Confinement {
    /// The option's value on the worker's command line.
    pub fn as_arg(self) -> &'static str {
        match self {
            Confinement::Required => "required",
            Confinement::BestEffort => "best-effort",
        }
    }
}

/// Which layers a worker applies: both, except in the tests that show each one refusing on its
/// own (`berth worker --only …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layer {
    Seccomp,
    Landlock,
}

/// What the kernel enforced on a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfinementReport {
    /// `Err`: why the filter is not installed.
    pub seccomp: Result<(), String>,
    /// `Err`: why there is no Landlock domain.
    pub landlock: Result<LandlockDomain, String>,
}

/// A Landlock domain in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockDomain {
    /// The ABI the domain was made with (the kernel's, at most the newest this build knows).
    pub abi: i32,
    /// What this ABI cannot refuse that a newer one would, in words.
    pub lacking: Vec<String>,
}

impl ConfinementReport {
    /// The worker's confinement in one line, for the server log.
    pub fn summary(&self) -> String {
        let seccomp = match &self.seccomp {
            Ok(()) => "seccomp filter in force".to_owned(),
            Err(reason) => format!("no seccomp filter ({reason})"),
        };
        let landlock = match &self.landlock {
            Ok(domain) if domain.lacking.is_empty() => format!("Landlock ABI {} in force", domain.abi),
            Ok(domain) => format!(
                "Landlock ABI {} in force, without {}",
                domain.abi,
                domain.lacking.join(", ")
            ),
            Err(reason) => format!("no Landlock ({reason})"),
        };
        format!("{seccomp}; {landlock}")
    }

    /// Every layer present and complete.
    pub fn is_complete(&self) -> bool {
        self.seccomp.is_ok()
            && self
                .landlock
                .as_ref()
                .is_ok_and(|domain| domain.lacking.is_empty())
    }

    /// Why a worker so confined may not run under `mode`, if it may not.
    pub fn refusal(&self, mode: Confinement) -> Option<String> {
        match (mode, &self.seccomp) {
            (Confinement::Required, Err(reason)) => Some(format!(
                "the scriptlet worker cannot install its seccomp filter ({reason}); \
                 run with --sandbox-confinement best-effort to accept an unconfined worker"
            )),
            _ => None,
        }
    }
}

/// Confines the calling process with `layers`, for good. Call it once, from the worker's only
/// thread, after everything it needs from outside is open (stdin, stdout, stderr): threads
/// started later inherit the confinement.
pub fn confine(layers: &[Layer]) -> ConfinementReport {
    let skipped = |layer: &str| format!("{layer} not applied (--only)");
    // Landlock first: its own system calls are not in the seccomp filter.
    let landlock = if layers.contains(&Layer::Landlock) {
        landlock::restrict_self()
    } else {
        Err(skipped("landlock"))
    };
    let seccomp = if layers.contains(&Layer::Seccomp) {
        seccomp::install()
    } else {
        Err(skipped("seccomp"))
    };
    ConfinementReport { seccomp, landlock }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(seccomp: Result<(), String>, landlock: Result<LandlockDomain, String>) -> ConfinementReport {
        ConfinementReport { seccomp, landlock }
    }

    #[test]
    fn only_a_missing_seccomp_filter_refuses_a_required_worker() {
        let old_landlock = Ok(LandlockDomain {
            abi: 3,
            lacking: vec!["TCP rules".into()],
        });
        let without_filter = report(Err("not supported".into()), old_landlock.clone());
        assert!(without_filter
            .refusal(Confinement::Required)
            .unwrap()
            .contains("cannot install its seccomp filter (not supported)"));
        assert_eq!(without_filter.refusal(Confinement::BestEffort), None);

        let without_landlock = report(Ok(()), Err("not enabled at boot".into()));
        assert_eq!(without_landlock.refusal(Confinement::Required), None);
        assert!(!without_landlock.is_complete());
        assert_eq!(
            without_landlock.summary(),
            "seccomp filter in force; no Landlock (not enabled at boot)"
        );

        let partial = report(Ok(()), old_landlock);
        assert!(!partial.is_complete());
        assert_eq!(
            partial.summary(),
            "seccomp filter in force; Landlock ABI 3 in force, without TCP rules"
        );
    }
}
