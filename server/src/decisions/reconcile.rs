//! Closing a gap: a capture made once the stream is held again is compared with where the log
//! last knew every instance, and each instance that appeared or moved meanwhile is recorded as
//! seen later (`berth_core::decisions::reconcile`): where it is now, when Berth saw it, with
//! the gap it belongs to, never a time, logs or a prediction of its own.

use berth_core::decisions::reconcile::seen_later;
use berth_core::decisions::Whereabouts;
use berth_core::Snapshot;

use crate::db::{NewDecision, Store};
use crate::error::AppError;

/// Why a seen-later decision has no prediction.
const NOT_PREDICTED: &str =
    "seen later: it happened while the event stream was not held, so Berth has neither its request nor its scriptlet's lines";

/// Where the log knows `connection`'s instances without a listener's memory of them: the
/// newest capture finished by `at` (when the gap began), with every placement recorded since
/// (by the holder before the gap, and by this one since its stream opened). `None`: there was
/// no capture (nothing to compare with).
pub(super) async fn known_at(
    store: &Store,
    connection: &str,
    at: i64,
) -> Result<Option<Whereabouts>, AppError> {
    let Some(capture) = store.capture_before(connection, Some(at)).await? else {
        return Ok(None);
    };
    let Some(snapshot) = store.load_snapshot(capture.snapshot_id).await? else {
        return Ok(None);
    };
    let mut known = Whereabouts::of(&snapshot);
    for decision in store
        .decisions_between(connection, capture.started_at, i64::MAX, u32::MAX >> 1)
        .await?
    {
        let Some(member) = &decision.member else {
            continue;
        };
        if let Some(from) = &decision.from_project {
            known.remove(from, &decision.instance);
        }
        known.place(&decision.project, &decision.instance, member);
    }
    Ok(Some(known))
}

/// Records what `capture` (finished at `at`) shows that `known` does not, as seen later in
/// `gap_id`; how many. Instances created since `streaming_since_ms` are the stream's.
#[allow(clippy::too_many_arguments)]
pub(super) async fn record_seen_later(
    store: &Store,
    connection: &str,
    gap_id: i64,
    known: &Whereabouts,
    capture: &Snapshot,
    streaming_since_ms: i64,
    at: i64,
    revision: Option<(i64, i64)>,
) -> Result<usize, AppError> {
    let found = seen_later(known, capture, Some(streaming_since_ms * 1_000_000));
    let decisions: Vec<NewDecision> = found
        .into_iter()
        .map(|seen| NewDecision {
            connection: connection.to_owned(),
            at,
            operation: "seen-later".into(),
            reason: seen.reason.as_str().to_owned(),
            project: seen.project,
            instance: seen.instance,
            member: Some(seen.member),
            from_project: seen.from_project,
            from_member: seen.from_member,
            runs_on: None,
            logs: "[]".into(),
            seen_later: true,
            gap_id: Some(gap_id),
            revision,
            request: None,
            unpredictable: Some(NOT_PREDICTED.into()),
        })
        .collect();
    store.insert_decisions(&decisions, at).await?;
    Ok(decisions.len())
}
