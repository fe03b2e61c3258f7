//! A fuzz run as its driver keeps it: the corpus, the features reached, the failures found,
//! round after round. Each round's batches are planned from it ([`Campaign::round`]) and
//! their reports merged back in index order ([`Campaign::absorb`]), whatever order they
//! finished in. It serializes, so a driver that runs a round per request (the editor's Fuzz
//! action) can hand it back and forth; one that came from outside is checked first.

use serde::{Deserialize, Serialize};

use super::{
    BatchReport, BatchSpec, Failure, FailureKind, Features, Genome, BATCHES_PER_ROUND, CALLS_PER_BATCH,
    MAX_CORPUS, MAX_GENOME,
};
use crate::coverage::Coverage;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub seed: u64,
    /// Rounds merged so far.
    pub rounds: u64,
    /// Calls evaluated so far.
    pub calls: u64,
    pub(crate) corpus: Vec<Genome>,
    features: Features,
    /// Distinct failures, in the order found.
    pub failures: Vec<Failure>,
    /// A batch ran out of its budget: the run depends on timing and is not reproducible.
    pub truncated: bool,
    /// Lines and branches the calls ran.
    pub coverage: Option<Coverage>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    #[error("the fuzz state is too large ({0})")]
    TooLarge(&'static str),
}

/// Failures a campaign keeps (and a state handed back may hold).
const MAX_FAILURES: usize = 200;
/// Words of the feature set a state handed back may hold.
const MAX_FEATURE_WORDS: usize = 1 << 16;

impl Campaign {
    pub fn new(seed: u64) -> Campaign {
        Campaign {
            seed,
            rounds: 0,
            calls: 0,
            corpus: Vec::new(),
            features: Features::default(),
            failures: Vec::new(),
            truncated: false,
            coverage: None,
        }
    }

    /// The batches of the next round.
    pub fn round(&self) -> Vec<BatchSpec> {
        let known = self.failures.iter().map(|failure| failure.key.clone()).collect();
        (0..BATCHES_PER_ROUND)
            .map(|index| BatchSpec {
                seed: self.seed,
                round: self.rounds,
                index,
                calls: CALLS_PER_BATCH,
                corpus: self.corpus.clone(),
                features: self.features.clone(),
                known: std::collections::BTreeSet::clone(&known),
            })
            .collect()
    }

    /// Merges a round's reports (any order): inputs that still reach something new join the
    /// corpus, failures not found before are recorded with how many calls it took.
    pub fn absorb(&mut self, mut reports: Vec<BatchReport>) {
        reports.sort_by_key(|report| report.index);
        for report in reports {
            for kept in report.kept {
                let mut new = false;
                for feature in &kept.features {
                    new |= self.features.insert(*feature as usize);
                }
                if new {
                    if self.corpus.len() < MAX_CORPUS {
                        self.corpus.push(kept.genome);
                    } else {
                        let replaced = (self.calls as usize).wrapping_add(self.corpus.len()) % MAX_CORPUS;
                        self.corpus[replaced] = kept.genome;
                    }
                }
            }
            for mut failure in report.failures {
                // Limits have no place: batches of a round that each ran into one (a step, time
                // or memory limit, whichever came first) found the same failure.
                let same = |f: &Failure| {
                    f.key == failure.key
                        || (f.kind == FailureKind::Limit && failure.kind == FailureKind::Limit)
                };
                if self.failures.len() >= MAX_FAILURES || self.failures.iter().any(same) {
                    continue;
                }
                failure.after_calls += self.calls;
                failure.round = self.rounds;
                self.failures.push(failure);
            }
            self.calls += report.calls;
            self.truncated |= report.truncated;
            if let Some(coverage) = report.coverage {
                match &mut self.coverage {
                    Some(total) => total.merge(&coverage),
                    None => self.coverage = Some(coverage),
                }
            }
        }
        self.rounds += 1;
    }

    /// Inputs kept for mutation.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    /// Features reached.
    pub fn features_len(&self) -> usize {
        self.features.len()
    }

    /// Whether a campaign that came from outside (a client handing back the state) is
    /// within the bounds this one keeps to.
    pub fn check(&self) -> Result<(), CampaignError> {
        if self.corpus.len() > MAX_CORPUS {
            return Err(CampaignError::TooLarge("corpus"));
        }
        if self.corpus.iter().any(|genome| genome.0.len() > MAX_GENOME) {
            return Err(CampaignError::TooLarge("input"));
        }
        if self.features.words() > MAX_FEATURE_WORDS {
            return Err(CampaignError::TooLarge("features"));
        }
        if self.failures.len() > MAX_FAILURES {
            return Err(CampaignError::TooLarge("failures"));
        }
        Ok(())
    }
}
