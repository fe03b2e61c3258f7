//! The scriptlet sandbox: scriptlets are compiled and evaluated in `berth worker` processes,
//! never in the server itself.
//!
//! The `starlark` crate bounds steps, heap and call depth, but checks them between operations:
//! one native operation (`'x' * 2000000000`, even folded at compile time) can allocate without
//! bound and an allocation failure aborts the process. So each worker runs with an address-space
//! limit (`RLIMIT_AS`) and a CPU-time limit (`RLIMIT_CPU`); the pool kills a worker that overruns
//! the wall-time limit, reads how a worker died ("exceeded its memory limit", "… time limit"),
//! and starts a fresh one. The server only ever sees a reply or a clear error.
//!
//! - [`protocol`]: the jobs and replies, one JSON document per line over stdin/stdout.
//! - [`worker`]: the `berth worker` loop.
//! - [`pool`]: the server side: a bounded pool of workers, restarted on crash.
//! - `options`: the command-line options that configure it.

mod options;
pub mod pool;
pub mod protocol;
pub mod worker;

pub use options::{SandboxArgs, SimulationArgs};
pub use pool::{JobSnapshot, Sandbox, SandboxConfig};

/// Hands memory freed after a large job (a snapshot's JSON, a simulation's working copy of the
/// cluster) back to the system. The allocator keeps freed memory for reuse otherwise, and a
/// process would stay at the peak of its largest job: on a cluster of 20,000 instances, tens
/// of MiB in the server per snapshot sent and hundreds in a worker per simulation.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
