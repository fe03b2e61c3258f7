//! The template library holds its promises on the demo cluster, for each Incus version Berth
//! imitates: Incus accepts every template with no fidelity warning, and every call, whatever
//! its reason, candidates (none, one, any member alone, all) and request (an instance of each
//! project as an evacuation sends it, a relocation's sparse request, a bare one, odd config
//! values), ends without an error and with no target or a candidate as the target.

use std::sync::OnceLock;

use berth_core::demo::demo_snapshot;
use berth_core::engine::{
    check, compile, IncusVersion, Limits, PlacementCall, PlacementRequest, PreparedCluster,
};
use berth_core::templates::TEMPLATES;
use berth_core::Snapshot;

const VERSIONS: [&str; 3] = ["6.0.4", "6.6.0", "7.0.0"];

fn demo() -> &'static (Snapshot, PreparedCluster) {
    static DEMO: OnceLock<(Snapshot, PreparedCluster)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let snapshot = demo_snapshot();
        let cluster = PreparedCluster::new(&snapshot);
        (snapshot, cluster)
    })
}

#[test]
fn incus_accepts_every_template_without_a_fidelity_warning() {
    for template in TEMPLATES {
        for version in VERSIONS {
            let report = check(
                template.source,
                version.parse().unwrap(),
                &Limits::default(),
                &|| false,
            );
            assert!(
                report.accepted,
                "{} on {version}: {:?}",
                template.name, report.errors
            );
            assert_eq!(report.warnings, [], "{} on {version}", template.name);
        }
    }
}

/// The requests a call may carry: each project's first instance as an evacuation (and a
/// rebalance) sends it, the same as a relocation sends it (no type, no architecture), a bare
/// request and one with odd values where templates read config.
fn requests(snapshot: &Snapshot) -> Vec<PlacementRequest> {
    let mut requests = Vec::new();
    for project in &snapshot.projects {
        let Some(instance) = snapshot.instances.iter().find(|i| i.project == project.name) else {
            continue;
        };
        let evacuated = PlacementRequest {
            project: instance.project.clone(),
            name: instance.name.clone(),
            instance_type: instance.instance_type.clone(),
            architecture: instance.architecture.clone(),
            config: instance.expanded_config.clone(),
            devices: instance.expanded_devices.clone(),
            profiles: instance.profiles.clone(),
            ..PlacementRequest::default()
        };
        let relocated = PlacementRequest {
            instance_type: String::new(),
            architecture: String::new(),
            ..evacuated.clone()
        };
        requests.extend([evacuated, relocated]);
    }
    requests.push(PlacementRequest {
        project: "default".into(),
        name: "bare".into(),
        ..PlacementRequest::default()
    });
    requests.push(PlacementRequest {
        project: "web".into(),
        name: "odd".into(),
        instance_type: "virtual-machine".into(),
        config: [
            ("limits.memory", "lots"),
            ("limits.cpu", "all"),
            ("user.app", ""),
            ("user.placement.member", "not-a-member"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect(),
        ..PlacementRequest::default()
    });
    requests
}

/// No candidate, every member alone (the offline and the evacuated one too, which Incus never
/// offers), the online members, and every member.
fn candidate_lists(snapshot: &Snapshot) -> Vec<Vec<String>> {
    let names: Vec<String> = snapshot.members.iter().map(|m| m.server_name.clone()).collect();
    let online: Vec<String> = snapshot
        .members
        .iter()
        .filter(|m| m.status.takes_instances())
        .map(|m| m.server_name.clone())
        .collect();
    let mut lists = vec![Vec::new(), online, names.clone()];
    lists.extend(names.into_iter().map(|name| vec![name]));
    lists
}

#[test]
fn no_call_fails_or_targets_a_non_candidate_whatever_the_reason_candidates_and_request() {
    let (snapshot, cluster) = demo();
    let requests = requests(snapshot);
    let candidate_lists = candidate_lists(snapshot);
    let limits = Limits::default();
    for template in TEMPLATES {
        for version in VERSIONS {
            let version: IncusVersion = version.parse().unwrap();
            let scriptlet = compile(template.source, version, &limits, &|| false)
                .unwrap()
                .unwrap();
            let mut reasons = vec!["new", "relocation", "evacuation"];
            if version >= IncusVersion::new(7, 0, 0) {
                reasons.push("rebalance");
            }
            for reason in reasons {
                for request in &requests {
                    let request = PlacementRequest {
                        reason: reason.into(),
                        ..request.clone()
                    };
                    for candidates in &candidate_lists {
                        let call = PlacementCall {
                            request: &request,
                            candidates,
                            local_member: "hv-a01",
                        };
                        let evaluation = scriptlet.evaluate(cluster, &call, &limits, &|| false);
                        let context = || {
                            format!(
                                "{} on {version}, {reason} of {}/{} with {candidates:?}",
                                template.name, request.project, request.name
                            )
                        };
                        assert_eq!(evaluation.error, None, "{}", context());
                        if let Some(target) = &evaluation.target {
                            assert!(candidates.contains(target), "{}: {target}", context());
                        }
                    }
                }
            }
        }
    }
}
