//! Stack for the `starlark` crate's recursion. Its parser (recursive descent), AST checks,
//! compiler and AST drop recurse once per nesting level of an expression. Measured with the
//! crate at opt-level 3 (release, and debug builds through `Cargo.toml`'s profile override;
//! opt-level 2 gives the same): `Compiler::expr` takes 2.3 KB per level, the 200,000-term line
//! `x = 1 + 1 + …` needs 432–448 MB of stack and a list nested 3,000 deep 8–10 MB. Incus (Go, growable stacks up to 1 GB) accepts
//! both. The caller's thread has 2–8 MB; a deep scriptlet is compiled on a thread whose stack
//! is sized from the source's [`Nesting`], so shallow ones (nearly all) pay nothing. The
//! sandbox's memory limit (`RLIMIT_DATA`, which counts a thread's stack) counts that stack
//! whole, and it is what the scriptlet needs: the 200,000-term line touches 440 of its 492 MiB.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::diagnostic::{Diagnostic, ErrorKind};
use super::dialect::lexical::Nesting;

/// What the caller's thread is assumed to have left for the crate (test threads have 2 MB).
const INLINE_BYTES: usize = 1 << 20;
/// Frames around the recursion: the evaluator, the crate's checks, ours.
const BASE_BYTES: usize = 4 << 20;
/// One bracket level: about 15 parser frames plus the compiler's (3.3 KB measured).
const BYTES_PER_BRACKET: usize = 4 << 10;
/// One chained operator: one level of the parser's AST checks, the compiler and drop
/// (2.2 KB measured).
const BYTES_PER_OPERATOR: usize = 5 << 9;
/// Beyond this, a scriptlet is refused rather than given the stack (a nesting bomb).
pub const MAX_BYTES: usize = 768 << 20;

/// The stack the crate needs for a source nested `nesting` deep, beyond the caller's own.
pub fn bytes_for(nesting: Nesting) -> usize {
    nesting.brackets * BYTES_PER_BRACKET + nesting.operators * BYTES_PER_OPERATOR
}

/// Runs `f` on the caller's thread when `needed` fits in it, else on a thread with a stack of
/// `needed` bytes more. There `f` gets a flag the waiting caller sets from `cancelled` (the
/// caller's predicate need not be callable from another thread).
pub fn run<T: Send>(
    needed: usize,
    cancelled: &dyn Fn() -> bool,
    f: impl FnOnce(&dyn Fn() -> bool) -> T + Send,
) -> Result<T, Diagnostic> {
    if needed <= INLINE_BYTES {
        return Ok(f(cancelled));
    }
    if needed > MAX_BYTES {
        return Err(too_deep(needed));
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("scriptlet-compile".into())
            .stack_size(BASE_BYTES + needed)
            .spawn_scoped(scope, || f(&|| stop.load(Ordering::Relaxed)))
            .map_err(|_| no_room(needed))?;
        while !worker.is_finished() {
            if cancelled() {
                stop.store(true, Ordering::Relaxed);
            }
            std::thread::park_timeout(Duration::from_millis(1));
        }
        worker
            .join()
            .map_err(|_| Diagnostic::error(ErrorKind::Internal, "the scriptlet compiler thread failed"))
    })
}

/// The stack could not be mapped: the process's memory limit leaves no room for it.
fn no_room(needed: usize) -> Diagnostic {
    Diagnostic::error(
        ErrorKind::MemoryLimit,
        format!(
            "the scriptlet nests too deeply for the memory limit: Berth's engine needs {} MiB of stack to compile it",
            (BASE_BYTES + needed) >> 20
        ),
    )
}

fn too_deep(needed: usize) -> Diagnostic {
    Diagnostic::error(
        ErrorKind::MemoryLimit,
        format!(
            "the scriptlet nests too deeply: Berth's engine would need {} MiB of stack to compile it (at most {} MiB)",
            needed >> 20,
            MAX_BYTES >> 20
        ),
    )
}
