//! The ingest path: the tracker's placements and corrections written to the store in batches
//! (one transaction for all that came in since the last write), each with the revision of the
//! connection's live scriptlet that ran when it happened. What `benches/decision_ingest.rs`
//! measures, fed a recorded stream, on both databases.

use std::collections::{HashMap, VecDeque};

use berth_core::decisions::asked::create_of;
use berth_core::decisions::tracker::{Correction, Output, Placement};
use berth_core::decisions::Reason;

use crate::db::{NewDecision, Store, StoreError};

/// How many placements' ids are remembered for corrections (a correction comes within
/// minutes; far fewer placements happen meanwhile).
const REMEMBERED: usize = 50_000;

/// The revisions of the connection's live scriptlet, by when each became live (Unix ms).
#[derive(Debug, Default)]
struct Revisions(Vec<(i64, (i64, i64))>);

impl Revisions {
    fn since(&mut self, at_ms: i64, revision: (i64, i64)) {
        if self.0.last().is_some_and(|(_, last)| *last == revision) {
            return;
        }
        let index = self.0.partition_point(|(since, _)| *since <= at_ms);
        self.0.insert(index, (at_ms, revision));
    }

    /// The revision that ran at `at_ms`: the newest live before it; the first known when none
    /// is older (nothing says it changed).
    fn at(&self, at_ms: i64) -> Option<(i64, i64)> {
        match self.0.partition_point(|(since, _)| *since <= at_ms) {
            0 => self.0.first().map(|(_, revision)| *revision),
            index => Some(self.0[index - 1].1),
        }
    }
}

pub struct Recorder {
    store: Store,
    connection: String,
    revisions: Revisions,
    buffered: Vec<(u64, NewDecision)>,
    corrections: Vec<Correction>,
    /// Placements' ids by the tracker's numbers.
    ids: HashMap<u64, i64>,
    order: VecDeque<u64>,
    /// Placements written so far.
    pub recorded: u64,
}

impl Recorder {
    pub fn new(store: Store, connection: &str) -> Recorder {
        Recorder {
            store,
            connection: connection.to_owned(),
            revisions: Revisions::default(),
            buffered: Vec::new(),
            corrections: Vec::new(),
            ids: HashMap::new(),
            order: VecDeque::new(),
            recorded: 0,
        }
    }

    /// From `at_ms` on, `revision` (scriptlet, number) is what runs.
    pub fn revision_since(&mut self, at_ms: i64, revision: (i64, i64)) {
        self.revisions.since(at_ms, revision);
    }

    /// The revision that ran at `at_ms`, as far as this recorder knows.
    pub fn revision_at(&self, at_ms: i64) -> Option<(i64, i64)> {
        self.revisions.at(at_ms)
    }

    /// Takes the tracker's outputs in; the times (ns) of configuration changes among them,
    /// for the listener to read the scriptlet again.
    pub fn take(&mut self, outputs: Vec<Output>) -> Vec<i64> {
        let mut changes = Vec::new();
        for output in outputs {
            match output {
                Output::Placed(placement) => {
                    let decision = self.decision_of(&placement);
                    self.buffered.push((placement.seq, decision));
                }
                Output::Corrected(correction) => self.corrections.push(correction),
                Output::ConfigChanged { at_ns } => changes.push(at_ns),
            }
        }
        changes
    }

    /// Buffered placements and corrections waiting to be written.
    pub fn backlog(&self) -> usize {
        self.buffered.len() + self.corrections.len()
    }

    /// Writes what was taken in: placements in one transaction, then corrections. How many
    /// placements were written.
    pub async fn flush(&mut self, now: i64) -> Result<usize, StoreError> {
        let written = self.buffered.len();
        if written > 0 {
            let decisions: Vec<NewDecision> = self.buffered.iter().map(|(_, d)| d.clone()).collect();
            let ids = self.store.insert_decisions(&decisions, now).await?;
            for ((seq, _), id) in std::mem::take(&mut self.buffered).into_iter().zip(ids) {
                self.remember(seq, id);
            }
            self.recorded += written as u64;
        }
        for correction in std::mem::take(&mut self.corrections) {
            let Some(id) = self.ids.get(&correction.seq) else {
                continue;
            };
            self.store
                .correct_decision(
                    *id,
                    correction.reason.as_str(),
                    correction.from_project.as_deref(),
                    correction.from_member.as_deref(),
                    now,
                )
                .await?;
        }
        Ok(written)
    }

    fn remember(&mut self, seq: u64, id: i64) {
        self.ids.insert(seq, id);
        self.order.push_back(seq);
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }

    fn decision_of(&self, placement: &Placement) -> NewDecision {
        let at = placement.at_ns.div_euclid(1_000_000);
        let runs_on = placement.run.as_ref().map(|run| run.runner.clone());
        // A create's request is the instance as the lookup found it right after the event.
        let request = match (&placement.found, placement.reason) {
            (Some(found), Reason::New) => serde_json::to_string(&create_of(found, runs_on.as_deref())).ok(),
            _ => None,
        };
        NewDecision {
            connection: self.connection.clone(),
            at,
            operation: placement.operation.clone(),
            reason: placement.reason.as_str().to_owned(),
            project: placement.project.clone(),
            instance: placement.instance.clone(),
            member: placement.member.clone(),
            from_project: placement.from_project.clone(),
            from_member: placement.from_member.clone(),
            runs_on,
            logs: serde_json::to_string(placement.logs()).expect("log lines serialize"),
            seen_later: false,
            gap_id: None,
            revision: self.revisions.at(at),
            request,
            unpredictable: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Revisions;

    #[test]
    fn the_revision_that_ran_is_the_one_live_then() {
        let mut revisions = Revisions::default();
        assert_eq!(revisions.at(900), None);
        revisions.since(200, (1, 2));
        revisions.since(100, (1, 1));
        assert_eq!(revisions.at(50), Some((1, 1)), "before anything known: the first");
        assert_eq!(revisions.at(150), Some((1, 1)));
        assert_eq!(revisions.at(200), Some((1, 2)));
        assert_eq!(revisions.at(900), Some((1, 2)));
        revisions.since(300, (1, 2));
        assert_eq!(revisions.0.len(), 2, "the same revision again is no change");
    }
}
