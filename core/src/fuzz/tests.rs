//! The fuzzer on the demo cluster: calls within what the snapshot and Incus allow, the same
//! campaign for the same seed, planted failures found and shrunk into cases that fail on the
//! scriptlet with the failure and pass once it is fixed, nothing found on a careful one.

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::cases::Subject;
use crate::demo::demo_snapshot;
use crate::engine::{compile, compile_with, literals, CompileOptions, IncusVersion, Limits, PreparedCluster};
use crate::simulate::{BehaviourProfile, NoDeadlines};
use crate::Snapshot;

fn versions(names: &[&str]) -> Vec<(IncusVersion, String)> {
    names
        .iter()
        .map(|name| (name.parse().unwrap(), name.to_string()))
        .collect()
}

/// Runs `rounds` rounds of a campaign on the demo in this thread (as the workers would, one
/// batch after the other), stopping early once `enough` failures are found.
fn fuzz(source: &str, names: &[&str], seed: u64, rounds: u64, enough: usize) -> Campaign {
    let snapshot = demo_snapshot();
    let mut cluster = PreparedCluster::new(&snapshot);
    let versions = versions(names);
    let domain = Domain::new(&snapshot, &literals(source), &versions);
    let limits = Limits {
        max_steps: 2_000_000,
        ..Limits::default()
    };
    let compiled: Vec<_> = versions
        .iter()
        .map(|(version, _)| compile_with(source, *version, &limits, &|| false, CompileOptions::FUZZ).unwrap())
        .collect();
    let mut campaign = Campaign::new(seed);
    while campaign.rounds < rounds && campaign.failures.len() < enough {
        let reports = campaign
            .round()
            .iter()
            .map(|spec| {
                let mut engine = BatchEngine {
                    domain: &domain,
                    snapshot: &snapshot,
                    cluster: &mut cluster,
                    scriptlets: compiled.iter().map(Option::as_ref).collect(),
                    limits,
                    deadlines: &NoDeadlines,
                };
                let mut report = run_batch(&mut engine, spec);
                report.coverage = Some(crate::coverage::Coverage::merged(
                    compiled
                        .iter()
                        .flatten()
                        .filter_map(|scriptlet| scriptlet.take_coverage())
                        .collect::<Vec<_>>()
                        .iter(),
                ));
                report
            })
            .collect();
        campaign.absorb(reports);
    }
    campaign
}

#[test]
fn every_decoded_call_is_one_incus_could_make() {
    let snapshot = demo_snapshot();
    let names = ["6.0.4", "6.6", "7.0"];
    let domain = Domain::new(&snapshot, &["user.tier".into(), "gold".into()], &versions(&names));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut reasons = BTreeSet::new();
    let mut decoded = 0;
    for _ in 0..3_000 {
        let genome: Vec<u8> = (0..rng.random_range(0..80)).map(|_| rng.random()).collect();
        let Some(call) = decode(&domain, &snapshot, &genome) else {
            continue;
        };
        decoded += 1;
        let version = call.incus_version.clone().unwrap();
        assert!(names.contains(&version.as_str()));
        let profile = BehaviourProfile::of(version.parse().unwrap());
        let reason = call.request.reason.as_str();
        reasons.insert((version.clone(), reason.to_owned()));
        assert!(
            ["new", "relocation", "evacuation"].contains(&reason)
                || reason == "rebalance" && profile.has_rebalance(),
            "{version} sends no {reason}"
        );
        assert!(!call.candidates.is_empty());
        assert!(call.check_members(&snapshot).is_ok());
        for candidate in &call.candidates {
            let member = snapshot.member(candidate).unwrap();
            let away = call.member_status.get(candidate);
            assert!(
                away.is_none_or(|status| status.takes_instances()),
                "{candidate} is {away:?} and a candidate"
            );
            if reason != "relocation" && call.candidates.len() > 1 {
                assert!(
                    member.status.takes_instances(),
                    "{candidate} is {:?}",
                    member.status
                );
            }
        }
        assert!(snapshot.project(&call.request.project).is_some());
    }
    assert!(decoded > 2_000, "most inputs are calls: {decoded}");
    for version in names {
        for reason in ["new", "relocation", "evacuation"] {
            assert!(
                reasons.contains(&(version.to_owned(), reason.to_owned())),
                "{version} {reason}"
            );
        }
    }
    assert!(reasons.contains(&("7.0".to_owned(), "rebalance".to_owned())));
    assert!(!reasons.contains(&("6.6".to_owned(), "rebalance".to_owned())));

    let simplest = decode(&domain, &snapshot, &[]).unwrap();
    assert_eq!(simplest.request.reason, "new");
    assert_eq!(simplest.request.project, snapshot.projects[0].name);
    assert_eq!(simplest.incus_version.as_deref(), Some("6.0.4"));
    assert!(simplest.member_status.is_empty());
}

const PLANTED: &str = r#"def instance_placement(request, candidate_members):
    if request.reason == "evacuation" and len(candidate_members) == 1:
        if request.config.get("user.tier", "") == "gold":
            fail("no gold evacuation with a single candidate")
    set_target(candidate_members[0].server_name)
"#;

const FIXED: &str = r#"def instance_placement(request, candidate_members):
    set_target(candidate_members[0].server_name)
"#;

#[test]
fn a_planted_failure_is_found_shrunk_and_written_as_a_case_that_fails_until_fixed() {
    let campaign = fuzz(PLANTED, &["6.0.4"], 1, 40, 1);
    let failure = campaign.failures.first().expect("found");
    assert_eq!(failure.kind, FailureKind::Error);
    assert_eq!(
        failure.message,
        "fail: no gold evacuation with a single candidate"
    );
    assert_eq!((failure.line, failure.column), (Some(4), Some(13)));
    let call = &failure.call;
    assert_eq!(call.request.reason, "evacuation");
    assert_eq!(call.candidates.len(), 1);
    assert_eq!(
        call.request.config.keys().collect::<Vec<_>>(),
        vec!["user.tier"],
        "shrunk to the one key that matters"
    );
    assert!(failure.after_calls > 0 && failure.after_calls <= campaign.calls);

    let case = failure.case(1);
    assert_eq!(case.name, "fuzz-1-error");
    assert!(matches!(&case.subject, Subject::Call(_)));
    let mut snapshot = demo_snapshot();
    let mut cluster = PreparedCluster::new(&snapshot);
    let mut run = |source: &str, snapshot: &mut Snapshot| {
        let version = case.version(IncusVersion::DEFAULT).unwrap();
        let scriptlet = compile(source, version, &Limits::default(), &|| false).unwrap();
        case.run(
            scriptlet.as_ref(),
            version,
            &Limits::default(),
            &NoDeadlines,
            snapshot,
            &mut cluster,
        )
    };
    assert_eq!(
        run(PLANTED, &mut snapshot),
        Err("the call failed: fail: no gold evacuation with a single candidate".into())
    );
    assert_eq!(run(FIXED, &mut snapshot), Ok(()));
}

#[test]
fn a_seed_gives_the_same_campaign_and_another_seed_another() {
    let source = r#"def instance_placement(request, candidate_members):
    if request.type == "virtual-machine" and request.project == "web":
        set_target("hv-c01")
    elif len(candidate_members) > 3:
        set_target(candidate_members[3].server_name)
"#;
    let first = fuzz(source, &["6.0.4", "6.6"], 42, 2, usize::MAX);
    let again = fuzz(source, &["6.0.4", "6.6"], 42, 2, usize::MAX);
    assert_eq!(first, again);
    assert_eq!(first.rounds, 2);
    assert!(
        first.corpus_len() >= 2,
        "coverage kept inputs: {}",
        first.corpus_len()
    );
    let kinds: BTreeSet<FailureKind> = first.failures.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FailureKind::NonCandidate), "{:?}", first.failures);
    let other = fuzz(source, &["6.0.4", "6.6"], 43, 2, usize::MAX);
    assert_ne!(first.corpus, other.corpus);
    let state: Campaign = serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
    assert_eq!(state, first, "a campaign handed back continues as it was");
    assert!(state.check().is_ok());
}

#[test]
fn a_careful_scriptlet_has_no_failure() {
    let careful = r#"def instance_placement(request, candidate_members):
    best = None
    for member in candidate_members:
        count = get_instances_count(location=member.server_name)
        if best == None or count < best[1]:
            best = (member.server_name, count)
    if best != None:
        set_target(best[0])
"#;
    let campaign = fuzz(careful, &["6.0.4", "6.6", "7.0"], 5, 3, usize::MAX);
    assert_eq!(campaign.failures, Vec::new());
    assert!(campaign.calls > 10_000, "{}", campaign.calls);
    let coverage = campaign.coverage.unwrap();
    assert_eq!(
        coverage.lines_hit(),
        coverage.lines_found(),
        "{}",
        coverage.lcov("careful")
    );
}
