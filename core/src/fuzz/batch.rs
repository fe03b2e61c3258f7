//! One batch of a campaign: inputs mutated from the corpus (or fresh), decoded, evaluated
//! with their statements counted, kept when they reach a feature not seen before, shrunk when
//! they fail in a way not found before.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::decode::decode;
use super::domain::Domain;
use super::mutate::{fresh, mutate};
use super::shrink::shrink;
use super::{BatchReport, BatchSpec, FailureKey, FailureKind, Genome, Kept};
use crate::cases::DirectCall;
use crate::engine::{ErrorKind, Evaluation, Limits, PreparedCluster, Scriptlet, StatementCounts};
use crate::simulate::Deadlines;
use crate::Snapshot;

/// Steps a call may take while exploring: a call that needs more is run again with the full
/// limit before it counts as a new limit failure (one already found is not confirmed again),
/// so that a scriptlet that loops on some inputs costs a fiftieth of the default limit per
/// such input, not all of it. Scanning every instance of a 20,000-instance cluster takes about
/// a tenth of it.
const EXPLORATION_STEPS: u64 = 200_000;

/// What a batch runs on: the domain and the snapshot it was built from, the prepared cluster
/// (members' statuses change during a call and are put back), one scriptlet per version of
/// the domain (compiled with `CompileOptions::FUZZ`; `None`: the empty scriptlet), the
/// limits, and the clocks: each call's time limit and the batch's budget.
pub struct BatchEngine<'a> {
    pub domain: &'a Domain,
    pub snapshot: &'a Snapshot,
    pub cluster: &'a mut PreparedCluster,
    pub scriptlets: Vec<Option<&'a Scriptlet>>,
    pub limits: Limits,
    pub deadlines: &'a dyn Deadlines,
}

/// One evaluated call.
pub(crate) struct Outcome {
    pub evaluation: Evaluation,
    pub counts: StatementCounts,
    /// The scriptlet that ran it.
    pub version: usize,
}

impl BatchEngine<'_> {
    /// Evaluates `call` with the exploration limit; a call that spends it is run again with
    /// the full one (unless `confirm` is false), so a limit failure is one under the limits
    /// the run was given.
    pub(crate) fn execute(&mut self, call: &DirectCall) -> Option<Outcome> {
        self.execute_confirming(call, true)
    }

    pub(crate) fn execute_confirming(&mut self, call: &DirectCall, confirm: bool) -> Option<Outcome> {
        let version = self
            .domain
            .version_names
            .iter()
            .position(|name| Some(name) == call.incus_version.as_ref())?;
        let scriptlet = self.scriptlets.get(version).copied().flatten()?;
        let exploring = Limits {
            max_steps: self.limits.max_steps.min(EXPLORATION_STEPS),
            ..self.limits
        };
        let mut outcome = self.evaluate(scriptlet, call, &exploring, version);
        let stopped_early = outcome
            .evaluation
            .error
            .as_ref()
            .is_some_and(|error| error.kind == Some(ErrorKind::StepLimit));
        if confirm && stopped_early && exploring.max_steps < self.limits.max_steps {
            let limits = self.limits;
            outcome = self.evaluate(scriptlet, call, &limits, version);
        }
        Some(outcome)
    }

    fn evaluate(
        &mut self,
        scriptlet: &Scriptlet,
        call: &DirectCall,
        limits: &Limits,
        version: usize,
    ) -> Outcome {
        let mut counts = StatementCounts::default();
        let cancelled = self.deadlines.start_call();
        let evaluation = call.evaluate(scriptlet, self.cluster, limits, &*cancelled, Some(&mut counts));
        Outcome {
            evaluation,
            counts,
            version,
        }
    }

    fn scriptlet(&self, version: usize) -> Option<&Scriptlet> {
        self.scriptlets.get(version).copied().flatten()
    }
}

/// The stream of a batch: the same for the same seed, round and index, wherever it runs.
fn stream(seed: u64, round: u64, index: u32) -> ChaCha8Rng {
    // splitmix64 over the three, so that neighbouring rounds get unrelated streams.
    let mut state = seed;
    for part in [round, u64::from(index)] {
        state = state.wrapping_add(part).wrapping_add(0x9e37_79b9_7f4a_7c15);
        state = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        state = (state ^ (state >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        state ^= state >> 31;
    }
    ChaCha8Rng::seed_from_u64(state)
}

/// Runs the batch `spec` (see the module documentation); its coverage is left in the
/// scriptlets for the caller to take.
pub fn run_batch(engine: &mut BatchEngine, spec: &BatchSpec) -> BatchReport {
    let mut rng = stream(spec.seed, spec.round, spec.index);
    let mut corpus = spec.corpus.clone();
    let mut features = spec.features.clone();
    let mut known = spec.known.clone();
    let mut report = BatchReport {
        index: spec.index,
        calls: 0,
        kept: Vec::new(),
        failures: Vec::new(),
        truncated: false,
        coverage: None,
    };
    for step in 0..spec.calls {
        if engine.deadlines.budget_spent() {
            report.truncated = true;
            break;
        }
        // The campaign's very first input is the empty one: the simplest call.
        let genome = if spec.round == 0 && spec.index == 0 && step == 0 {
            Genome::default()
        } else if corpus.is_empty() || rng.random_ratio(1, 10) {
            fresh(&mut rng)
        } else {
            let parent = &corpus[rng.random_range(0..corpus.len())];
            let other = &corpus[rng.random_range(0..corpus.len())];
            mutate(parent, Some(other), &mut rng)
        };
        let Some(call) = decode(engine.domain, engine.snapshot, &genome.0) else {
            continue;
        };
        // Once a limit was found (steps, or the time or memory limit that a slow machine reaches
        // first), a call is not run again under the whole limit, and another call that runs
        // into one is that failure again: a scriptlet that loops on many inputs would
        // otherwise spend the whole limit on each of them.
        let limit_known = known.iter().any(|key| key.kind == FailureKind::Limit);
        let Some(outcome) = engine.execute_confirming(&call, !limit_known) else {
            continue;
        };
        report.calls += 1;
        if limit_known
            && FailureKey::of(&outcome.evaluation).is_some_and(|key| key.kind == FailureKind::Limit)
        {
            continue;
        }
        if let Some(key) = FailureKey::of(&outcome.evaluation) {
            // Inputs that fail are not mutated further: their failure is reported once and
            // the inputs near them would mostly fail the same way.
            if known.insert(key.clone()) {
                let mut failure = shrink(engine, &genome, call, &key, outcome.evaluation);
                failure.after_calls = report.calls;
                report.failures.push(failure);
            }
            continue;
        }
        let mut new = Vec::new();
        if let Some(scriptlet) = engine.scriptlet(outcome.version) {
            scriptlet.features(&outcome.counts, |feature| {
                if features.insert(feature) {
                    new.push(feature as u32);
                }
            });
        }
        if !new.is_empty() {
            corpus.push(genome.clone());
            report.kept.push(Kept {
                genome,
                features: new,
            });
        }
    }
    report
}

impl FailureKind {
    /// Limit failures cost up to a whole limit per try: they are shrunk with few tries.
    pub(crate) fn is_costly(self) -> bool {
        self == FailureKind::Limit
    }
}
