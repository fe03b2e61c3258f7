//! The coverage-guided fuzzer behind `berth fuzz`: placement calls a scriptlet could receive
//! from a cluster like the snapshot, steered by the engine's own line and branch coverage,
//! until one fails, then shrunk to a small call written as a golden case.
//!
//! An input is a byte string (a [`Genome`]); [`decode`] reads it, with rust-fuzz's
//! `arbitrary` as cargo-fuzz does, into a call within what the snapshot and Incus allow
//! ([`domain`]): an Incus version of the run, a reason that version sends, a project with its
//! profiles and images or an existing instance, the request Incus would build for it, a subset
//! of the members Incus would offer (all of them or one, often), members offline or
//! evacuated, and config values the scriptlet reads (the strings and numbers it is written
//! with, the snapshot's values, odd ones, or none). Few bytes read as the simplest choices,
//! so shrinking an input is cutting bytes ([`shrink`]).
//!
//! A batch ([`batch`]) mutates inputs that reached new code ([`mutate`]) and keeps those that
//! reach more: new statements, a statement run a new number of times (in powers of two), a
//! branch arm taken (see `engine::coverage`). A failure is an error raised, a `set_target`
//! outside the candidates, or a step or time limit; each distinct one (kind and place) is
//! shrunk and reported once.
//!
//! Deterministic for a seed: a run is a sequence of rounds of [`BATCHES_PER_ROUND`]
//! batches of fixed size, each batch drawing from a ChaCha stream seeded with the run's seed,
//! the round and its index and starting from the corpus as the round began; the
//! [`Campaign`] merges the batches in index order. So the workers running them, their number
//! and their speed change nothing; a time budget only decides how many rounds run, and the
//! same seed with the same number of rounds gives the same failures. Two things read a
//! clock: a call's time limit (a call that hits it may not hit it again), and a batch's own
//! budget (a batch cut short says so, and the run is then not reproducible).

mod batch;
mod campaign;
mod decode;
mod domain;
mod mutate;
mod shrink;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use batch::{run_batch, BatchEngine};
pub use campaign::{Campaign, CampaignError};
pub use decode::decode;
pub use domain::Domain;

use crate::cases::{Case, DirectCall, Expectation, Subject};
use crate::coverage::Coverage;
use crate::engine::{Diagnostic, ErrorKind, Evaluation};

/// Batches per round: fixed, so that a seed means the same inputs on any number of workers.
pub const BATCHES_PER_ROUND: u32 = 4;
/// Calls per batch: a round of four is about a second on one core for a small scriptlet.
pub const CALLS_PER_BATCH: u32 = 1_500;
/// Inputs a campaign keeps for mutation; beyond, a new one replaces one of them.
pub const MAX_CORPUS: usize = 1_000;
/// Bytes an input may have.
pub const MAX_GENOME: usize = 256;

/// One input: the bytes a call is decoded from. JSON: hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Genome(pub Vec<u8>);

impl Serialize for Genome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Genome {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Genome, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map(Genome).map_err(serde::de::Error::custom)
    }
}

/// The features reached so far, as a bit set (see `engine::coverage::Probes::features`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features(Vec<u64>);

impl Features {
    pub fn contains(&self, feature: usize) -> bool {
        self.0
            .get(feature / 64)
            .is_some_and(|word| word & (1 << (feature % 64)) != 0)
    }

    /// Adds `feature`; whether it was new.
    pub fn insert(&mut self, feature: usize) -> bool {
        let word = feature / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        let bit = 1 << (feature % 64);
        let new = self.0[word] & bit == 0;
        self.0[word] |= bit;
        new
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|word| word.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Words in the set (for bounds on a set that came from outside).
    pub fn words(&self) -> usize {
        self.0.len()
    }
}

/// What went wrong in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The scriptlet raised an error (`fail`, a runtime error, a bad return value).
    Error,
    /// `set_target` named a member that is not a candidate.
    NonCandidate,
    /// A step, heap, stack or time limit stopped it.
    Limit,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Error => "error",
            FailureKind::NonCandidate => "non_candidate",
            FailureKind::Limit => "limit",
        }
    }
}

/// What makes two failures the same: their kind and where the scriptlet failed (a limit: which
/// limit; a target outside the candidates that Incus ignored: that alone).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FailureKey {
    pub kind: FailureKind,
    pub line: usize,
    pub column: usize,
    /// The engine's kind of error (`fail`, `runtime`, `step_limit`, …), when it raised one.
    pub error: Option<ErrorKind>,
}

impl FailureKey {
    /// The key of every step-limit failure.
    pub fn step_limit() -> FailureKey {
        FailureKey {
            kind: FailureKind::Limit,
            line: 0,
            column: 0,
            error: Some(ErrorKind::StepLimit),
        }
    }

    /// The failure `evaluation` shows, if any.
    pub fn of(evaluation: &Evaluation) -> Option<FailureKey> {
        let position = |error: &Diagnostic| (error.line.unwrap_or(0), error.column.unwrap_or(0));
        match (&evaluation.error, &evaluation.non_candidate) {
            (Some(error), _) if is_limit(error) => Some(FailureKey {
                kind: FailureKind::Limit,
                line: 0,
                column: 0,
                error: error.kind,
            }),
            (Some(error), outside) => {
                let (line, column) = position(error);
                Some(FailureKey {
                    kind: if outside.is_some() {
                        FailureKind::NonCandidate
                    } else {
                        FailureKind::Error
                    },
                    line,
                    column,
                    error: error.kind,
                })
            }
            (None, Some(_)) => Some(FailureKey {
                kind: FailureKind::NonCandidate,
                line: 0,
                column: 0,
                error: None,
            }),
            (None, None) => None,
        }
    }
}

fn is_limit(error: &Diagnostic) -> bool {
    matches!(
        error.kind,
        Some(
            ErrorKind::StepLimit
                | ErrorKind::HeapLimit
                | ErrorKind::StackOverflow
                | ErrorKind::Timeout
                | ErrorKind::MemoryLimit
        )
    )
}

/// A distinct failure, shrunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub key: FailureKey,
    pub kind: FailureKind,
    /// What the scriptlet raised, or what it did wrong.
    pub message: String,
    /// Where, in the scriptlet (1-based), when the engine knows.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The small call that fails so (with its Incus version).
    pub call: DirectCall,
    /// Calls the campaign had made when the batch that found it began, plus those the
    /// batch made before it: how long it took to find.
    pub after_calls: u64,
    /// The round that found it.
    pub round: u64,
}

impl Failure {
    pub(crate) fn from_evaluation(key: FailureKey, evaluation: &Evaluation, call: DirectCall) -> Failure {
        let (message, line, column) = match (&evaluation.error, &evaluation.non_candidate) {
            (Some(error), _) => (error.message.clone(), error.line, error.column),
            (None, Some(member)) => (
                format!("set_target({member:?}) named a member that is not a candidate; Incus ignored it"),
                None,
                None,
            ),
            (None, None) => (String::new(), None, None),
        };
        Failure {
            kind: key.kind,
            key,
            message,
            line,
            column,
            call,
            after_calls: 0,
            round: 0,
        }
    }

    /// The golden case that replays this failure's call and expects it placed: it fails on
    /// the scriptlet that has the failure and passes on one that handles the call.
    pub fn case(&self, number: usize) -> Case {
        Case {
            name: format!("fuzz-{number}-{}", self.kind.as_str().replace('_', "-")),
            subject: Subject::Call(Box::new(self.call.clone())),
            expect: Expectation {
                placed: true,
                ..Expectation::default()
            },
        }
    }
}

/// One batch to run: which, from what corpus, knowing what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSpec {
    pub seed: u64,
    pub round: u64,
    pub index: u32,
    pub calls: u32,
    /// The campaign's inputs as the round began.
    pub corpus: Vec<Genome>,
    /// The features they reached.
    pub features: Features,
    /// Failures already found (not shrunk or reported again).
    pub known: BTreeSet<FailureKey>,
}

/// What one batch found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    pub index: u32,
    /// Calls evaluated (inputs that decode to no call Incus would make are not counted).
    pub calls: u64,
    /// Inputs that reached features the batch had not seen, with those features.
    pub kept: Vec<Kept>,
    /// New failures, shrunk, in the order found.
    pub failures: Vec<Failure>,
    /// The batch's budget ran out before its calls were made.
    pub truncated: bool,
    /// Lines and branches its calls ran (every version's compilation merged).
    pub coverage: Option<Coverage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub genome: Genome,
    pub features: Vec<u32>,
}

#[cfg(test)]
mod tests;
