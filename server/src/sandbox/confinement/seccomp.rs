//! The seccomp layer: the system calls a worker makes once it reads jobs, and nothing else.
//!
//! The list is what confined workers called through the sandbox, impact and CLI suites (`strace
//! -f` over each suite, every call after the filter went in: reads and writes on fds 0–2,
//! memory, `clone3` then `clone` for the compiling thread, thread set-up, futexes,
//! `sched_getaffinity`, `getrandom`, and `getpid`/`gettid`/`tgkill` of an abort at the memory
//! limit), plus what the C library may need on another machine for the same work: the clock
//! calls the vDSO answers here, sleeps, `exit_group`, `writev` of glibc's fatal messages. A
//! call missing here shows up as a failed job or a dead worker in those suites. Everything not
//! listed fails with `EPERM`, the error a program expects from a refused call, so that a
//! refusal inside the engine surfaces as an error rather than a killed worker.
//!
//! Two filters, because one seccomp filter has one action for the calls it lists: `clone3`
//! hides its flags behind a pointer the filter cannot read, so it answers `ENOSYS` (the second
//! filter), and the C library falls back to `clone`, whose flags are checked here: a thread
//! (`CLONE_THREAD`, no new namespace) is allowed, a new process is not.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

pub(super) fn install() -> Result<(), String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| format!("no seccomp filter for {}", std::env::consts::ARCH))?;
    let clone3 = filter(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    let allowed = filter(
        allowed_calls().map_err(|error| error.to_string())?,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )?;
    // The `clone3` filter first: installing one needs `seccomp` and `prctl`, which the
    // allow-list refuses. Of two answers the kernel takes the stricter, so `clone3`, allowed
    // by the list, still gets `ENOSYS`.
    for program in [&clone3, &allowed] {
        seccompiler::apply_filter(program).map_err(|error| error.to_string())?;
    }
    Ok(())
}

fn filter(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    mismatch: SeccompAction,
    matched: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    SeccompFilter::new(rules, mismatch, matched, arch)
        .and_then(BpfProgram::try_from)
        .map_err(|error| error.to_string())
}

/// Namespaces a thread must not enter: with these, `clone` would make more than a thread.
const NEW_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u64;

/// Each allowed call, with the conditions on its arguments (any of the rules; none: always).
fn allowed_calls() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let any = Vec::new;
    let own_pid = u64::from(std::process::id());
    let no_exec = || {
        SeccompCondition::new(
            2,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
            0,
        )
    };
    let calls = [
        // Jobs in on stdin, replies out on stdout; stderr for an abort's last words.
        (libc::SYS_read, vec![rule(arg_eq(0, 0)?)?]),
        (libc::SYS_write, vec![rule(arg_eq(0, 1)?)?, rule(arg_eq(0, 2)?)?]),
        (libc::SYS_writev, vec![rule(arg_eq(0, 2)?)?]),
        // Memory (the allocator, thread stacks, returning freed memory), never executable.
        (libc::SYS_brk, any()),
        (libc::SYS_mmap, vec![rule(no_exec()?)?]),
        (libc::SYS_mprotect, vec![rule(no_exec()?)?]),
        (libc::SYS_munmap, any()),
        (libc::SYS_mremap, any()),
        (libc::SYS_madvise, any()),
        // Threads: the engine compiles a deep scriptlet on a thread with a stack of its size.
        (
            libc::SYS_clone,
            vec![rule(SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64 | NEW_NAMESPACES),
                libc::CLONE_THREAD as u64,
            )?)?],
        ),
        // Answered by the first filter with ENOSYS (see the module's doc).
        (libc::SYS_clone3, any()),
        (libc::SYS_set_robust_list, any()),
        (libc::SYS_rseq, any()),
        (libc::SYS_futex, any()),
        (libc::SYS_sched_yield, any()),
        (libc::SYS_sched_getaffinity, any()),
        (libc::SYS_prctl, vec![rule(arg_eq(0, libc::PR_SET_NAME as u64)?)?]),
        (libc::SYS_exit, any()),
        (libc::SYS_exit_group, any()),
        // Time limits: clocks, and the compiling thread's waits.
        (libc::SYS_clock_gettime, any()),
        (libc::SYS_clock_getres, any()),
        (libc::SYS_gettimeofday, any()),
        (libc::SYS_nanosleep, any()),
        (libc::SYS_clock_nanosleep, any()),
        (libc::SYS_restart_syscall, any()),
        // Signals to itself only: an allocation failure aborts (SIGABRT is how the pool tells
        // a memory limit), a stack overflow is reported from the alternate stack.
        (libc::SYS_rt_sigaction, any()),
        (libc::SYS_rt_sigprocmask, any()),
        (libc::SYS_rt_sigreturn, any()),
        (libc::SYS_sigaltstack, any()),
        (libc::SYS_getpid, any()),
        (libc::SYS_gettid, any()),
        (libc::SYS_tgkill, vec![rule(arg_eq(0, own_pid)?)?]),
        // Hash maps' random keys.
        (libc::SYS_getrandom, any()),
    ];
    Ok(calls.into_iter().collect())
}

fn rule(condition: SeccompCondition) -> Result<SeccompRule, seccompiler::BackendError> {
    SeccompRule::new(vec![condition])
}

/// Argument `index`, an `int` (a file descriptor, a process id, an option), equals `value`.
fn arg_eq(index: u8, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
}
