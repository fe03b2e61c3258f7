//! Which placement a scriptlet's log lines belong to. Incus's lines name neither the instance
//! nor the request: only the member that ran the scriptlet (the event's `location`), the time,
//! and, when the scriptlet called `set_target`, the member it chose. So lines are grouped into
//! *runs* (one evaluation: the lines of one member with less than [`RUN_GAP_NS`] between
//! them, or [`AFTER_TARGET_GAP_NS`] once it set its target) and a placement claims one run:
//!
//! - from the member it is known to have run on, when that is known (a move runs the scriptlet
//!   where the instance was: Incus forwards the request there);
//! - whose target is the member the instance landed on, or that set no target;
//! - begun before the placement's event (give or take [`SKEW_NS`] between members' clocks);
//! - the newest such run: with operations one after another, the run just before a placement
//!   is its own, and an older unclaimed run is one whose placement Incus refused (its lines
//!   stay unclaimed and are dropped after [`UNCLAIMED_FOR_NS`]).
//!
//! Two placements decided at the same moment on one member with the same target cannot be told
//! apart by anything Incus sends; each then gets one of the two runs.

use serde::{Deserialize, Serialize};

use crate::engine::{LogLevel, LogLine};

/// Lines of one evaluation are logged within microseconds of each other (a builtin that asks
/// another member takes milliseconds); two placements are a request apart: on the test bed,
/// `incus create` of an empty container one after another, 170 ms. Lines of one evaluation
/// farther apart than this are taken as two runs.
pub const RUN_GAP_NS: i64 = 50_000_000;
/// Once an evaluation set its target, what it logs after comes at once (it returns).
pub const AFTER_TARGET_GAP_NS: i64 = 10_000_000;
/// How far members' clocks may disagree.
pub const SKEW_NS: i64 = 500_000_000;
/// How long lines no placement claimed are kept (a refused placement's, a failed move's).
pub const UNCLAIMED_FOR_NS: i64 = 120_000_000_000;

/// One line of a scriptlet, or Incus's note of its `set_target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptletLine {
    pub runner: String,
    pub at_ns: i64,
    pub kind: LineKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    Log(LogLine),
    /// `set_target(member)`.
    Target(String),
}

/// A run a placement claimed: where it ran, what it logged, what it chose.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Run {
    pub runner: String,
    pub lines: Vec<LogLine>,
    /// The member the scriptlet set as target (its last `set_target`), if it set one.
    pub target: Option<String>,
}

/// The lines no placement has claimed yet, oldest first.
#[derive(Debug, Default)]
pub struct Runs {
    lines: Vec<ScriptletLine>,
}

/// What a placement knows when it claims its run.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// When the placement's event happened.
    pub before_ns: i64,
    /// The member the scriptlet ran on, when the kind of operation tells.
    pub runner: Option<&'a str>,
    /// The member the instance landed on, when the event tells.
    pub landed: Option<&'a str>,
}

impl Runs {
    /// Adds a line where its timestamp puts it (events may arrive out of order).
    pub fn push(&mut self, line: ScriptletLine) {
        let at = self.lines.partition_point(|known| known.at_ns <= line.at_ns);
        self.lines.insert(at, line);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Takes the run `claim` belongs to, if there is one (see the module's documentation).
    pub fn claim(&mut self, claim: Claim<'_>) -> Option<Run> {
        let runs = self.runs();
        let fitting = |skew: i64| {
            runs.iter()
                .filter(|run| self.lines[run.first].at_ns <= claim.before_ns + skew)
                .filter(|run| {
                    claim
                        .runner
                        .is_none_or(|runner| self.lines[run.first].runner == runner)
                })
                .filter(|run| match (claim.landed, &run.target) {
                    (Some(landed), Some(target)) => landed == target,
                    _ => true,
                })
                .max_by_key(|run| self.lines[run.first].at_ns)
        };
        // A run begun before the event; only when there is none, one a clock's skew after it
        // (the next operation's run may already be there).
        let chosen = fitting(0).or_else(|| fitting(SKEW_NS))?;
        let mut run = Run {
            runner: self.lines[chosen.first].runner.clone(),
            lines: Vec::new(),
            target: chosen.target.clone(),
        };
        // Remove the run's lines (highest index first, so the others keep their place).
        for index in chosen.members.iter().rev() {
            let line = self.lines.remove(*index);
            if let LineKind::Log(log) = line.kind {
                run.lines.push(log);
            }
        }
        run.lines.reverse();
        Some(run)
    }

    /// Drops lines older than `before_ns`; how many.
    pub fn expire(&mut self, before_ns: i64) -> usize {
        let old = self.lines.partition_point(|line| line.at_ns < before_ns);
        self.lines.drain(..old);
        old
    }

    /// The unclaimed lines grouped into runs, by runner.
    fn runs(&self) -> Vec<Grouped> {
        let mut runs: Vec<Grouped> = Vec::new();
        // The open run of each runner: its index in `runs` and its last line's time.
        let mut open: Vec<(&str, usize, i64)> = Vec::new();
        for (index, line) in self.lines.iter().enumerate() {
            let current = open
                .iter_mut()
                .find(|(runner, _, _)| *runner == line.runner.as_str());
            let gap = |run_index: usize| {
                if runs[run_index].target.is_some() {
                    AFTER_TARGET_GAP_NS
                } else {
                    RUN_GAP_NS
                }
            };
            let run_index = match current {
                Some((_, run_index, last)) if line.at_ns - *last < gap(*run_index) => {
                    *last = line.at_ns;
                    *run_index
                }
                Some(slot) => {
                    runs.push(Grouped::starting(index));
                    *slot = (slot.0, runs.len() - 1, line.at_ns);
                    runs.len() - 1
                }
                None => {
                    runs.push(Grouped::starting(index));
                    open.push((line.runner.as_str(), runs.len() - 1, line.at_ns));
                    runs.len() - 1
                }
            };
            let run = &mut runs[run_index];
            if run.first != index {
                run.members.push(index);
            }
            if let LineKind::Target(member) = &line.kind {
                run.target = Some(member.clone());
            }
        }
        runs
    }
}

/// One run as positions in the unclaimed lines.
struct Grouped {
    first: usize,
    members: Vec<usize>,
    target: Option<String>,
}

impl Grouped {
    fn starting(index: usize) -> Grouped {
        Grouped {
            first: index,
            members: vec![index],
            target: None,
        }
    }
}

/// A log line as the scriptlet wrote it.
pub fn log_line(level: LogLevel, message: impl Into<String>) -> LogLine {
    LogLine {
        level,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn log(runner: &str, at_ms: i64, text: &str) -> ScriptletLine {
        ScriptletLine {
            runner: runner.into(),
            at_ns: at_ms * MS,
            kind: LineKind::Log(log_line(LogLevel::Info, text)),
        }
    }

    fn target(runner: &str, at_ms: i64, member: &str) -> ScriptletLine {
        ScriptletLine {
            runner: runner.into(),
            at_ns: at_ms * MS,
            kind: LineKind::Target(member.into()),
        }
    }

    fn texts(run: &Run) -> Vec<&str> {
        run.lines.iter().map(|l| l.message.as_str()).collect()
    }

    fn claim(before_ms: i64, runner: Option<&'static str>, landed: Option<&'static str>) -> Claim<'static> {
        Claim {
            before_ns: before_ms * MS,
            runner,
            landed,
        }
    }

    #[test]
    fn lines_arriving_out_of_order_are_read_in_time_order() {
        let mut runs = Runs::default();
        runs.push(log("m1", 1001, "second"));
        runs.push(target("m1", 1001, "m2"));
        runs.push(log("m1", 1000, "first"));
        let run = runs.claim(claim(1050, None, Some("m2"))).unwrap();
        assert_eq!(texts(&run), ["first", "second"]);
        assert_eq!(run.target.as_deref(), Some("m2"));
        assert_eq!(run.runner, "m1");
        assert!(runs.is_empty());
    }

    #[test]
    fn operations_one_after_another_each_get_their_own_run() {
        let mut runs = Runs::default();
        runs.push(log("m1", 1000, "a"));
        runs.push(target("m1", 1000, "m1"));
        // The next operation's run, 170 ms later (creates one after another on the test bed).
        runs.push(log("m1", 1170, "b"));
        runs.push(target("m1", 1170, "m2"));
        // The placement of `a` arrives after `b` ran (a slow create): the target tells them apart.
        let first = runs.claim(claim(1200, None, Some("m1"))).unwrap();
        assert_eq!(texts(&first), ["a"]);
        let second = runs.claim(claim(1210, None, Some("m2"))).unwrap();
        assert_eq!(texts(&second), ["b"]);
    }

    #[test]
    fn lines_after_the_target_belong_to_the_run_until_a_pause() {
        let mut runs = Runs::default();
        runs.push(target("m1", 1000, "m1"));
        runs.push(log("m1", 1001, "after its target"));
        runs.push(log("m1", 1030, "the next run, without a target"));
        let first = runs.claim(claim(1020, None, Some("m1"))).unwrap();
        assert_eq!(texts(&first), ["after its target"]);
        assert_eq!(runs.len(), 1);
    }

    #[test]
    fn a_refused_placements_run_is_left_for_expiry_not_taken_by_the_next() {
        let mut runs = Runs::default();
        runs.push(log("m1", 1000, "refused"));
        runs.push(log("m1", 2000, "placed"));
        let run = runs.claim(claim(2050, None, Some("m3"))).unwrap();
        assert_eq!(texts(&run), ["placed"]);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs.expire(1500 * MS), 1);
        assert!(runs.is_empty());
    }

    #[test]
    fn a_move_takes_a_run_of_the_member_it_left() {
        let mut runs = Runs::default();
        runs.push(log("m1", 1000, "on m1"));
        runs.push(log("m2", 1001, "on m2"));
        let run = runs.claim(claim(1100, Some("m2"), None)).unwrap();
        assert_eq!(texts(&run), ["on m2"]);
        assert_eq!(runs.claim(claim(1100, Some("m3"), None)), None);
    }

    #[test]
    fn lines_logged_after_the_event_are_not_its_own() {
        let mut runs = Runs::default();
        runs.push(log("m1", 5000, "later"));
        assert_eq!(runs.claim(claim(1000, None, None)), None);
        // Within the clocks' skew they may be.
        assert!(runs.claim(claim(4800, None, None)).is_some());
    }
}
