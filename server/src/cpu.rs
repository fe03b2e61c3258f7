//! CPU-heavy work that a request triggers, run off the async runtime: parsing and writing a
//! whole snapshot's JSON (tens of MiB for a large cluster), deriving the Cluster page of one,
//! comparing two scriptlet revisions. Inline, each would hold one of the runtime's few threads
//! (as many as the machine has cores) for as long as it takes, and a handful of viewers asking
//! at once would stop the server answering anyone: health checks, sign-ins, the executor's
//! lease heartbeats.
//!
//! [`run`] moves such work to tokio's blocking threads, at most one job per core at a time;
//! further jobs wait for a turn without holding a thread. What each job may cost is bounded
//! where it is made (the body limit of an upload, the line limit and deadline of a diff).

use std::sync::LazyLock;

use tokio::sync::Semaphore;

/// One permit per core: the work is CPU-bound, more at once would only share the cores.
static TURNS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |cores| cores.get())));

/// Runs `work` on a blocking thread when a core's turn is free. A panic in `work` is resumed
/// here, as if it had run inline.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    // The turn goes with the work: a request given up (its client gone) still holds it until
    // the work ends, so that the bound is on work running, not on requests waiting.
    let turn = TURNS.acquire().await.expect("the semaphore is never closed");
    match tokio::task::spawn_blocking(move || {
        let result = work();
        drop(turn);
        result
    })
    .await
    {
        Ok(result) => result,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}
