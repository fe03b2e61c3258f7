//! The tracker on a stream recorded on the test bed (`testdata/events.jsonl`: Incus 6.0.4,
//! three members, a scriptlet that logs and sets a target): three creates (one pinned with
//! `--target`), a move to another member, a move to another project on the same member, a
//! move to another project and member, a create, an evacuation of m2, its restore, a change of
//! the scriptlet and a rename.

use std::collections::BTreeMap;

use super::tracker::{Output, Reason, Tracker, SETTLE_NS};
use super::{IncusEvent, Whereabouts};

const RECORDED: &str = include_str!("testdata/events.jsonl");

/// One decision as the log ends up with it (corrections applied).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    instance: String,
    project: String,
    member: Option<String>,
    reason: Reason,
    from: (Option<String>, Option<String>),
    runs_on: Option<String>,
    logs: Vec<String>,
}

fn replay(events: &[IncusEvent]) -> (Vec<Seen>, usize) {
    let mut tracker = Tracker::new(Whereabouts::default(), 1);
    let mut seen: BTreeMap<u64, Seen> = BTreeMap::new();
    let mut config_changes = 0;
    let mut take = |outputs: Vec<Output>, seen: &mut BTreeMap<u64, Seen>| {
        for output in outputs {
            match output {
                Output::Placed(p) => {
                    seen.insert(
                        p.seq,
                        Seen {
                            instance: p.instance.clone(),
                            project: p.project.clone(),
                            member: p.member.clone(),
                            reason: p.reason,
                            from: (p.from_project.clone(), p.from_member.clone()),
                            runs_on: p.run.as_ref().map(|r| r.runner.clone()),
                            logs: p
                                .logs()
                                .iter()
                                .map(|l| format!("{} {}", l.level.as_str(), l.message))
                                .collect(),
                        },
                    );
                }
                Output::Corrected(c) => {
                    let entry = seen
                        .get_mut(&c.seq)
                        .expect("a correction of a released placement");
                    entry.reason = c.reason;
                    if c.from_project.is_some() {
                        entry.from.0 = c.from_project;
                    }
                    if c.from_member.is_some() {
                        entry.from.1 = c.from_member;
                    }
                }
                Output::ConfigChanged { .. } => config_changes += 1,
            }
        }
    };
    for event in events {
        // Each event arrives when it happened.
        let now = event.at_ns().unwrap();
        let released = tracker.tick(now);
        take(released, &mut seen);
        let (outputs, _lookup) = tracker.push(event, now);
        take(outputs, &mut seen);
    }
    let last = events.last().unwrap().at_ns().unwrap();
    let rest = tracker.tick(last + SETTLE_NS);
    take(rest, &mut seen);
    (seen.into_values().collect(), config_changes)
}

fn recorded() -> Vec<IncusEvent> {
    RECORDED
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn summary(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| {
            format!(
                "{}/{} {} on {} from {}/{} ran on {}",
                s.project,
                s.instance,
                s.reason,
                s.member.as_deref().unwrap_or("?"),
                s.from.0.as_deref().unwrap_or("-"),
                s.from.1.as_deref().unwrap_or("-"),
                s.runs_on.as_deref().unwrap_or("?"),
            )
        })
        .collect()
}

#[test]
fn every_placement_of_the_recorded_stream_is_told_with_its_member_reason_and_run() {
    let (seen, config_changes) = replay(&recorded());
    assert_eq!(
        summary(&seen),
        [
            "default/dlx-a1 new on m1 from -/- ran on m1",
            "proj-b/dlx-a22 new on m2 from -/- ran on m1",
            "default/dlx-t1 new on m3 from -/- ran on m1",
            "default/dlx-a1 relocation on m2 from -/m1 ran on m1",
            "proj-b/dlx-t1 relocation on m3 from default/m3 ran on m3",
            "default/dlx-a22 relocation on m3 from proj-b/m2 ran on m2",
            "default/dlx-e1 new on m2 from -/- ran on m1",
            "default/dlx-a1 evacuation on m1 from -/m2 ran on m2",
            "default/dlx-e1 evacuation on m1 from -/m2 ran on m2",
            "default/dlx-a1 restore on m2 from -/m1 ran on m1",
            "default/dlx-e1 restore on m2 from -/m1 ran on m1",
        ]
    );
    assert_eq!(config_changes, 1);
}

#[test]
fn each_placement_carries_its_own_scriptlet_lines_in_order() {
    let (seen, _) = replay(&recorded());
    for decision in &seen {
        assert_eq!(
            decision.logs.len(),
            2,
            "{}/{}: {:?}",
            decision.project,
            decision.instance,
            decision.logs
        );
        // The scriptlet logs its request first, then warns with the instance's name (the
        // events of one millisecond arrive in any order: their nanoseconds put them back).
        assert!(
            decision.logs[0].starts_with("info EXP reason="),
            "{:?}",
            decision.logs
        );
        assert!(
            decision.logs[0].contains(&format!(" name={} ", decision.instance)),
            "{:?}",
            decision.logs
        );
        assert_eq!(decision.logs[1], format!("warn EXP warn {}", decision.instance));
    }
}

#[test]
fn the_same_stream_in_a_shuffled_arrival_order_tells_the_same() {
    // Events of one member within a few milliseconds arrive in any order: swap neighbours.
    let mut events = recorded();
    for pair in (0..events.len() - 1).step_by(2) {
        let (a, b) = (events[pair].at_ns().unwrap(), events[pair + 1].at_ns().unwrap());
        if (b - a).abs() < 5_000_000 {
            events.swap(pair, pair + 1);
        }
    }
    assert_eq!(summary(&replay(&events).0), summary(&replay(&recorded()).0));
}
