//! Shrinking a failing input to a small call that fails the same way (the same
//! [`FailureKey`]): first its bytes, as libFuzzer minimizes (cut halves, quarters, … down to
//! single bytes; then lower each byte), since fewer and smaller bytes decode to simpler
//! choices; then the call itself: each config key, device and profile dropped, the
//! candidates cut down, the members' statuses put back, while it still fails.

use super::batch::{BatchEngine, Outcome};
use super::decode::decode;
use super::{Failure, FailureKey, FailureKind, Genome};
use crate::cases::DirectCall;
use crate::engine::{Evaluation, InstanceSource};

/// Evaluations a failure may be shrunk with; a limit failure (each try may cost the limit)
/// gets a few.
const TRIES: usize = 600;
const COSTLY_TRIES: usize = 8;

struct Shrinker<'e, 'a> {
    engine: &'e mut BatchEngine<'a>,
    key: &'e FailureKey,
    tries: usize,
}

impl Shrinker<'_, '_> {
    /// The call's evaluation, when it still fails as the key says (and tries are left). A
    /// limit failure (steps, time, memory) is tried under the exploration limit only (the full
    /// one may cost seconds a try), any limit counting; the result is confirmed once, at the
    /// end.
    fn fails(&mut self, call: &DirectCall) -> Option<Evaluation> {
        if self.tries == 0 {
            return None;
        }
        self.tries -= 1;
        let limit = self.key.kind == FailureKind::Limit;
        let Outcome { evaluation, .. } = self.engine.execute_confirming(call, !limit)?;
        let same = match FailureKey::of(&evaluation) {
            Some(found) if limit => found.kind == FailureKind::Limit,
            found => found.as_ref() == Some(self.key),
        };
        same.then_some(evaluation)
    }

    fn fails_bytes(&mut self, bytes: &[u8]) -> Option<(DirectCall, Evaluation)> {
        let call = decode(self.engine.domain, self.engine.snapshot, bytes)?;
        let evaluation = self.fails(&call)?;
        Some((call, evaluation))
    }
}

/// The smallest call found that fails as `key` says, starting from `genome` (decoded as
/// `call`, evaluated as `evaluation`).
pub(crate) fn shrink(
    engine: &mut BatchEngine,
    genome: &Genome,
    call: DirectCall,
    key: &FailureKey,
    evaluation: Evaluation,
) -> Failure {
    let tries = if key.kind.is_costly() { COSTLY_TRIES } else { TRIES };
    let original = (call.clone(), evaluation.clone());
    let mut shrinker = Shrinker { engine, key, tries };
    let mut best = (genome.0.clone(), call, evaluation);

    // Bytes: cut runs, longest first.
    let mut chunk = best.0.len().div_ceil(2);
    while chunk > 0 && shrinker.tries > 0 {
        let mut at = 0;
        while at < best.0.len() && shrinker.tries > 0 {
            let mut shorter = best.0.clone();
            shorter.drain(at..(at + chunk).min(shorter.len()));
            match shrinker.fails_bytes(&shorter) {
                Some((call, evaluation)) => best = (shorter, call, evaluation),
                None => at += chunk,
            }
        }
        chunk /= 2;
    }
    // Bytes: each as low as it goes (zero, then half).
    for at in 0..best.0.len() {
        for lower in [0, best.0[at] / 2] {
            if lower >= best.0[at] || shrinker.tries == 0 {
                continue;
            }
            let mut smaller = best.0.clone();
            smaller[at] = lower;
            if let Some((call, evaluation)) = shrinker.fails_bytes(&smaller) {
                best = (smaller, call, evaluation);
            }
        }
    }

    // The call: drop what it can do without.
    let (_, mut call, mut evaluation) = best;
    let mut attempt =
        |call: &mut DirectCall, evaluation: &mut Evaluation, change: &dyn Fn(&mut DirectCall) -> bool| {
            let mut smaller = call.clone();
            if !change(&mut smaller) {
                return;
            }
            if let Some(found) = shrinker.fails(&smaller) {
                *call = smaller;
                *evaluation = found;
            }
        };
    for key in call.request.config.keys().cloned().collect::<Vec<_>>() {
        attempt(&mut call, &mut evaluation, &|c| {
            c.request.config.remove(&key).is_some()
        });
    }
    for device in call.request.devices.keys().cloned().collect::<Vec<_>>() {
        attempt(&mut call, &mut evaluation, &|c| {
            c.request.devices.remove(&device).is_some()
        });
    }
    for member in call.member_status.keys().cloned().collect::<Vec<_>>() {
        attempt(&mut call, &mut evaluation, &|c| {
            c.member_status.remove(&member).is_some()
        });
    }
    attempt(&mut call, &mut evaluation, &|c| {
        !std::mem::take(&mut c.request.profiles).is_empty()
    });
    attempt(&mut call, &mut evaluation, &|c| {
        let plain = InstanceSource {
            source_type: c.request.source.source_type.clone(),
            ..InstanceSource::default()
        };
        std::mem::replace(&mut c.request.source, plain.clone()) != plain
    });
    attempt(&mut call, &mut evaluation, &|c| {
        std::mem::take(&mut c.request.ephemeral)
    });
    for keep in [0, usize::MAX] {
        attempt(&mut call, &mut evaluation, &|c| {
            let count = c.candidates.len();
            if count < 2 {
                return false;
            }
            let one = c.candidates[keep.min(count - 1)].clone();
            c.candidates = vec![one];
            true
        });
    }
    let mut at = 0;
    while at < call.candidates.len() {
        let before = call.candidates.len();
        attempt(&mut call, &mut evaluation, &|c| {
            if c.candidates.len() < 2 {
                return false;
            }
            c.candidates.remove(at);
            true
        });
        if call.candidates.len() == before {
            at += 1;
        }
    }
    // A limit failure shrunk under the exploration limit must fail under the full one; its
    // message is the full one's.
    let confirmed = if key.kind == FailureKind::Limit {
        shrinker
            .engine
            .execute(&call)
            .map(|outcome| outcome.evaluation)
            .filter(|evaluation| {
                FailureKey::of(evaluation).is_some_and(|found| found.kind == FailureKind::Limit)
            })
    } else {
        Some(evaluation)
    };
    match confirmed {
        Some(evaluation) => Failure::from_evaluation(key.clone(), &evaluation, call),
        None => Failure::from_evaluation(key.clone(), &original.1, original.0),
    }
}
