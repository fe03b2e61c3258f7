//! The scriptlet sandbox: scriptlets are compiled and evaluated in `berth worker` processes,
//! never in the server itself.
//!
//! The `starlark` crate bounds steps, heap and call depth, but checks them between operations:
//! one native operation (`'x' * 2000000000`, even folded at compile time) can allocate without
//! bound and an allocation failure aborts the process. So each worker runs with a limit on the
//! memory its data takes (`RLIMIT_DATA`: heap and stacks, not code or reservations; see
//! `worker::limit_memory`) and a CPU-time limit (`RLIMIT_CPU`); the pool kills a worker that overruns
//! the wall-time limit, reads how a worker died ("exceeded its memory limit", "… time limit"),
//! and starts a fresh one. The server only ever sees a reply or a clear error.
//!
//! Limits bound what a scriptlet costs; they do not bound what a bug in the engine would let
//! it reach. So a worker starts with an empty environment and confines itself before its first
//! job (seccomp and Landlock, [`confinement`]): no file, no socket, no process.
//!
//! - [`protocol`]: the jobs and replies, one JSON document per line over stdin/stdout.
//! - [`worker`]: the `berth worker` loop; `probe`: its answer to the confinement tests' probe.
//! - [`confinement`]: what a worker takes away from itself, and its report.
//! - [`pool`]: the server side: a bounded pool of workers, restarted on crash.
//! - [`pools`]: the server's two pools, the authors' and the plans'.
//! - `options`: the command-line options that configure them.

pub mod confinement;
mod options;
pub mod pool;
pub mod pools;
mod probe;
pub mod protocol;
pub mod worker;

pub use confinement::{Confinement, ConfinementReport};
pub use options::{PlanSandboxArgs, SandboxArgs, SimulationArgs};
pub use pool::{JobSnapshot, Sandbox, SandboxConfig};
pub use pools::SandboxPools;

/// Hands memory freed after a large job (a snapshot's JSON, a simulation's working copy of the
/// cluster) back to the system once more than [`KEEP_FREE`] is free. The allocator keeps freed
/// memory for reuse otherwise, and a process would stay at the peak of its largest job: on a
/// cluster of 20,000 instances, tens of MiB in the server per snapshot sent and over a hundred
/// in a worker per simulation. Below the threshold it is kept: the next simulation of a smaller
/// cluster reuses it instead of faulting fresh pages in.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallinfo2 only reads the allocator's statistics; malloc_trim only returns free
    // pages of its own heaps to the system.
    unsafe {
        if libc::mallinfo2().fordblks > KEEP_FREE {
            libc::malloc_trim(0);
        }
    }
}

/// Free heap memory a process may keep for reuse.
const KEEP_FREE: usize = 64 << 20;
