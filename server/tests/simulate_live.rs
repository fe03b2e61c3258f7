//! `berth simulate` (upstream mode, the binary) against the real test bed: for each (scriptlet, operation)
//! case, the operation runs on the live Incus 6.0.4 cluster and the calls its scriptlet logged
//! (member, reason, project, candidate set, name, type, profiles, source, architecture, devices,
//! `get_instance_resources()`, instance-type limits, ephemeral, description) and the outcome
//! must be what the simulator predicted from a snapshot captured just before.
//!
//! `@FP@` in an operation or command stands for the fingerprint of the test bed's busybox image
//! (what `incus create busybox …` sends), `@FP4@` for its first four characters.

use crate::support;

use berth_core::model::Instance;
use berth_core::Snapshot;
use berth_server::capture::capture;
use berth_server::incus::IncusClient;
use serde_json::json;
use support::incus_cli::{incus, log_marks, scriptlet_lines_since};
use support::TestBed;

/// Logs every call, then decides from the instance's `user.*` keys: `user.fail`, `user.ret`
/// and `user.bad` fail in the three ways Incus knows; `user.want` names a member; otherwise the
/// first candidate by name (deterministic, unlike Incus's own tie order).
const SCRIPTLET: &str = r#"
def instance_placement(request, candidate_members):
    names = sorted([m.server_name for m in candidate_members])
    resources = get_instance_resources()
    log_info("CALL reason=", request.reason, " project=", request.project, " name=", request.name,
             " type=", request.type, " candidates=", names, " profiles=", request.profiles,
             " source=", request.source.type, " want=", request.config.get("user.want", ""),
             " architecture=", request.architecture, " alias=", request.source.alias,
             " fingerprint=", request.source.fingerprint, " devices=", sorted(request.devices.keys()),
             " root_disk_size=", resources.root_disk_size, " cpu=", request.config.get("limits.cpu", ""),
             " memory=", request.config.get("limits.memory", ""), " instance_type=", request.instance_type,
             " ephemeral=", request.ephemeral, " description=", request.description)
    if request.config.get("user.fail", "") != "":
        fail("refusing ", request.name)
    if request.config.get("user.ret", "") != "":
        return "rejected"
    if request.config.get("user.bad", "") != "":
        set_target("nope")
    want = request.config.get("user.want", "")
    if want in names:
        set_target(want)
    elif len(names) > 0:
        set_target(names[0])
"#;

/// The placement scriptlet is one cluster-wide setting: the tests here take turns (each on a
/// runtime of its own, holding its turn across awaits).
static SCRIPTLET_SETTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Case {
    name: &'static str,
    /// `incus` commands that prepare the cluster (not simulated).
    setup: Vec<Vec<String>>,
    /// The operation, for the simulator and for Incus.
    operation: serde_json::Value,
    command: Vec<String>,
    /// `incus` commands that undo the setup beyond the instances (run before the first case
    /// too, errors ignored).
    teardown: Vec<Vec<String>>,
}

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn case(name: &'static str, setup: &[&str], operation: serde_json::Value, command: &str) -> Case {
    Case {
        name,
        setup: setup.iter().map(|s| args(s)).collect(),
        operation,
        command: args(command),
        teardown: Vec::new(),
    }
}

/// `incus query -X POST --wait PATH -d BODY`: the API request as the operation states it
/// (the `incus create` command resolves an image alias to its fingerprint itself).
fn query_command(path: &str, body: serde_json::Value) -> String {
    format!("query -X POST --wait {path} -d {body}")
}

fn image_op(project: &str, name: &str, target: &str, source: serde_json::Value) -> serde_json::Value {
    json!({"kind": "create", "project": project, "name": name, "target": target, "source": source})
}

fn create_op(
    project: &str,
    name: &str,
    target: &str,
    config: serde_json::Value,
    source: &str,
) -> serde_json::Value {
    json!({"kind": "create", "project": project, "name": name, "target": target, "config": config,
           "source": {"type": source, "source": if source == "image" { Some("busybox") } else { None }}})
}

fn move_op(project: &str, name: &str, target_project: &str, target: &str) -> serde_json::Value {
    json!({"kind": "move", "project": project, "name": name, "target_project": target_project, "target": target})
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        case(
            "create, no target",
            &[],
            create_op("default", "c1", "", json!({}), "none"),
            "create --empty c1",
        ),
        case(
            "create on a member",
            &[],
            create_op("default", "c2", "m2", json!({}), "none"),
            "create --empty c2 --target m2",
        ),
        case(
            "create in group gA",
            &[],
            create_op("default", "c3", "@gA", json!({}), "none"),
            "create --empty c3 --target @gA",
        ),
        case(
            "create in group gB",
            &[],
            create_op("default", "c4", "@gB", json!({}), "none"),
            "create --empty c4 --target @gB",
        ),
        case(
            "create in proj-a (shared profiles)",
            &[],
            create_op("proj-a", "c5", "", json!({}), "none"),
            "create --empty c5 --project proj-a",
        ),
        case(
            "create in proj-b",
            &[],
            create_op("proj-b", "c6", "", json!({}), "none"),
            "create --empty c6 --project proj-b",
        ),
        case(
            "create in restricted proj-r",
            &[],
            create_op("proj-r", "c7", "", json!({}), "none"),
            "create --empty c7 --project proj-r",
        ),
        case(
            "create in proj-r on a refused member",
            &[],
            create_op("proj-r", "c8", "m3", json!({}), "none"),
            "create --empty c8 --project proj-r --target m3",
        ),
        case(
            "create in proj-r in a refused group",
            &[],
            create_op("proj-r", "c9", "@gB", json!({}), "none"),
            "create --empty c9 --project proj-r --target @gB",
        ),
        case(
            "create in proj-r on an allowed member",
            &[],
            create_op("proj-r", "c10", "m1", json!({}), "none"),
            "create --empty c10 --project proj-r --target m1",
        ),
        case(
            "create with user.want",
            &[],
            create_op("default", "c11", "", json!({"user.want": "m3"}), "none"),
            "create --empty c11 -c user.want=m3",
        ),
        case(
            "create, scriptlet fails",
            &[],
            create_op("default", "c12", "", json!({"user.fail": "1"}), "none"),
            "create --empty c12 -c user.fail=1",
        ),
        case(
            "create, scriptlet returns a value",
            &[],
            create_op("default", "c13", "", json!({"user.ret": "1"}), "none"),
            "create --empty c13 -c user.ret=1",
        ),
        case(
            "create, scriptlet sets a bad target",
            &[],
            create_op("default", "c14", "", json!({"user.bad": "1"}), "none"),
            "create --empty c14 -c user.bad=1",
        ),
        case(
            "create from an image",
            &[],
            image_op(
                "default",
                "c15",
                "",
                json!({"type": "image", "fingerprint": "@FP@"}),
            ),
            "create busybox c15",
        ),
        case(
            "create in proj-b in group gA",
            &[],
            create_op("proj-b", "c16", "@gA", json!({}), "none"),
            "create --empty c16 --project proj-b --target @gA",
        ),
        case(
            "create on a member, scriptlet fails",
            &[],
            create_op("default", "c17", "m1", json!({"user.fail": "1"}), "none"),
            "create --empty c17 --target m1 -c user.fail=1",
        ),
        case(
            "create in proj-r with user.want outside its groups",
            &[],
            create_op("proj-r", "c18", "", json!({"user.want": "m3"}), "none"),
            "create --empty c18 --project proj-r -c user.want=m3",
        ),
        case(
            "copy an instance",
            &["create --empty c19src --target m3 -c user.app=web"],
            json!({"kind": "create", "project": "default", "name": "c19", "target": "", "source": {"type": "copy", "source": "c19src", "project": "default"}}),
            "copy c19src c19",
        ),
        case(
            "copy an instance onto a member",
            &["create --empty c20src --target m3"],
            json!({"kind": "create", "project": "default", "name": "c20", "target": "m1", "source": {"type": "copy", "source": "c20src", "project": "default"}}),
            "copy c20src c20 --target m1",
        ),
    ];
    cases.extend([
        case(
            "move to another member",
            &["create --empty v1 --target m1"],
            move_op("default", "v1", "default", "m2"),
            "move v1 --target m2",
        ),
        case(
            "move into a group",
            &["create --empty v2 --target m1"],
            move_op("default", "v2", "default", "@gB"),
            "move v2 --target @gB",
        ),
        case(
            "move to the member it is on",
            &["create --empty v3 --target m1"],
            move_op("default", "v3", "default", "m1"),
            "move v3 --target m1",
        ),
        case(
            "move to proj-b, staying on its member",
            &["create --empty v4 --target m1"],
            move_op("default", "v4", "proj-b", ""),
            "move v4 --target-project proj-b",
        ),
        case(
            "move to proj-r from a refused member",
            &["create --empty v5 --target m3"],
            move_op("default", "v5", "proj-r", ""),
            "move v5 --target-project proj-r",
        ),
        case(
            "move to proj-r from an allowed member",
            &["create --empty v6 --target m2"],
            move_op("default", "v6", "proj-r", ""),
            "move v6 --target-project proj-r",
        ),
        case(
            "move to proj-r onto a refused member",
            &["create --empty v7 --target m1"],
            move_op("default", "v7", "proj-r", "m3"),
            "move v7 --target-project proj-r --target m3",
        ),
        case(
            "move to proj-b and another member",
            &["create --empty v8 --target m1"],
            move_op("default", "v8", "proj-b", "m2"),
            "move v8 --target-project proj-b --target m2",
        ),
        case(
            "move into proj-a (features.profiles=false)",
            &["create --empty v9 --target m1"],
            move_op("default", "v9", "proj-a", ""),
            "move v9 --target-project proj-a",
        ),
        case(
            "move from proj-b back to default into group gB",
            &["create --empty v10 --project proj-b --target m1"],
            move_op("proj-b", "v10", "default", "@gB"),
            "move v10 --project proj-b --target-project default --target @gB",
        ),
        case(
            "move, scriptlet fails",
            &["create --empty v11 --target m1", "config set v11 user.fail=1"],
            move_op("default", "v11", "default", "m2"),
            "move v11 --target m2",
        ),
        case(
            "move, scriptlet returns a value",
            &["create --empty v12 --target m1", "config set v12 user.ret=1"],
            move_op("default", "v12", "default", "m2"),
            "move v12 --target m2",
        ),
        case(
            "cross-project move, scriptlet fails",
            &["create --empty v13 --target m1", "config set v13 user.fail=1"],
            move_op("default", "v13", "proj-b", ""),
            "move v13 --target-project proj-b",
        ),
        case(
            "move into proj-r's group from elsewhere",
            &["create --empty v14 --target m3"],
            move_op("default", "v14", "proj-r", "@gA"),
            "move v14 --target-project proj-r --target @gA",
        ),
        case(
            "move to proj-r, choosing by user.want",
            &["create --empty v15 --target m3 -c user.want=m2"],
            move_op("default", "v15", "proj-r", ""),
            "move v15 --target-project proj-r",
        ),
        case(
            "move into a group it is already in",
            &["create --empty v16 --target m3"],
            move_op("default", "v16", "default", "@gB"),
            "move v16 --target @gB",
        ),
        case(
            "move with a bad target from the scriptlet",
            &["create --empty v17 --target m1", "config set v17 user.bad=1"],
            move_op("default", "v17", "default", "@gA"),
            "move v17 --target @gA",
        ),
        case(
            "move a running instance across members",
            &["create busybox v18 --target m1", "start v18"],
            move_op("default", "v18", "default", "m2"),
            "move v18 --target m2",
        ),
        case(
            "move a running instance across projects",
            &["create busybox v19 --target m1", "start v19"],
            move_op("default", "v19", "proj-b", ""),
            "move v19 --target-project proj-b",
        ),
        case(
            "move into the project it is in",
            &["create --empty v20 --target m1"],
            move_op("default", "v20", "default", "m1"),
            "move v20 --target m1 --target-project default",
        ),
    ]);
    cases.extend([
        case(
            "evacuate a member",
            &[
                "create --empty e1 --target m3",
                "create --empty e2 --target m3 -c user.want=m1",
            ],
            json!({"kind": "evacuate", "member": "m3"}),
            "cluster evacuate m3 --force",
        ),
        case(
            "restore a member",
            &["create --empty e3 --target m2", "cluster evacuate m2 --force"],
            json!({"kind": "restore", "member": "m2"}),
            "cluster restore m2 --force",
        ),
    ]);
    cases.extend(target_project_image_and_create_field_cases());
    cases
}

/// Issue 7, items 1 (empty target project), 3 (images) and 6 (devices and other create fields).
fn target_project_image_and_create_field_cases() -> Vec<Case> {
    let sized_profile = [
        "profile create sized",
        "profile device add sized root disk path=/ pool=local size=300MiB",
    ];
    let root = |size: &str| json!({"type": "disk", "path": "/", "pool": "local", "size": size});
    let mut cases = vec![
        case(
            "move with an empty target project",
            &["create --empty i1 --target m1"],
            move_op("default", "i1", "", "m2"),
            "move i1 --target m2",
        ),
        case(
            "create from an image alias in proj-a (default project's images)",
            &[],
            image_op("proj-a", "i2", "", json!({"type": "image", "alias": "busybox"})),
            &query_command(
                "/1.0/instances?project=proj-a",
                json!({"name": "i2", "source": {"type": "image", "alias": "busybox"}}),
            ),
        ),
        case(
            "create from a fingerprint prefix in proj-b (own images)",
            &[],
            image_op(
                "proj-b",
                "i3",
                "",
                json!({"type": "image", "fingerprint": "@FP4@"}),
            ),
            &query_command(
                "/1.0/instances?project=proj-b",
                json!({"name": "i3", "source": {"type": "image", "fingerprint": "@FP4@"}}),
            ),
        ),
        case(
            "create from an image naming its profiles",
            &[],
            json!({"kind": "create", "project": "default", "name": "i4", "profiles": ["default"],
                   "source": {"type": "image", "alias": "busybox"}}),
            &query_command(
                "/1.0/instances",
                json!({"name": "i4", "profiles": ["default"], "source": {"type": "image", "alias": "busybox"}}),
            ),
        ),
        case(
            "create from a missing alias",
            &[],
            image_op("default", "i5", "", json!({"type": "image", "alias": "nope"})),
            &query_command(
                "/1.0/instances",
                json!({"name": "i5", "source": {"type": "image", "alias": "nope"}}),
            ),
        ),
        case(
            "create from a missing alias on a member",
            &[],
            image_op("default", "i6", "m2", json!({"type": "image", "alias": "nope"})),
            &query_command(
                "/1.0/instances?target=m2",
                json!({"name": "i6", "source": {"type": "image", "alias": "nope"}}),
            ),
        ),
        case(
            "create from a missing fingerprint in a group",
            &[],
            image_op(
                "default",
                "i7",
                "@gA",
                json!({"type": "image", "fingerprint": "ffff"}),
            ),
            &query_command(
                "/1.0/instances?target=@gA",
                json!({"name": "i7", "source": {"type": "image", "fingerprint": "ffff"}}),
            ),
        ),
        case(
            "create from an image in restricted proj-r (default project's images)",
            &[],
            image_op("proj-r", "i8", "", json!({"type": "image", "alias": "busybox"})),
            &query_command(
                "/1.0/instances?project=proj-r",
                json!({"name": "i8", "source": {"type": "image", "alias": "busybox"}}),
            ),
        ),
        case(
            "create overriding the profile's root size",
            &[],
            json!({"kind": "create", "project": "default", "name": "i9", "devices": {"root": root("200MiB")},
                   "source": {"type": "image", "fingerprint": "@FP@"}}),
            "create busybox i9 -d root,size=200MiB",
        ),
        case(
            "create with a profile's root size",
            &sized_profile,
            json!({"kind": "create", "project": "default", "name": "i10", "profiles": ["sized"],
                   "source": {"type": "none"}}),
            "create --empty i10 -p sized",
        ),
        case(
            "create overriding a profile's root size",
            &sized_profile,
            json!({"kind": "create", "project": "default", "name": "i11", "profiles": ["sized"],
                   "devices": {"root": root("200MiB")}, "source": {"type": "none"}}),
            "create --empty i11 -p sized -d root,size=200MiB",
        ),
        case(
            "create with a new device",
            &[],
            json!({"kind": "create", "project": "default", "name": "i12",
                   "devices": {"extra": {"type": "none"}}, "source": {"type": "none"}}),
            &query_command(
                "/1.0/instances",
                json!({"name": "i12", "devices": {"extra": {"type": "none"}}, "source": {"type": "none"}}),
            ),
        ),
        case(
            "create ephemeral, described, with an instance type",
            &[],
            json!({"kind": "create", "project": "default", "name": "i13", "ephemeral": true,
                   "description": "hello", "instance_type": "c2-m4", "source": {"type": "none"}}),
            "create --empty i13 --ephemeral --description hello -t c2-m4",
        ),
        case(
            "create with an instance type the cluster has no table for",
            &[],
            json!({"kind": "create", "project": "default", "name": "i14", "instance_type": "t2.micro",
                   "source": {"type": "none"}}),
            "create --empty i14 -t t2.micro",
        ),
    ];
    for case in &mut cases {
        if case
            .setup
            .iter()
            .any(|command| command[..2] == ["profile", "create"])
        {
            case.teardown = vec![args("profile delete sized")];
        }
    }
    cases
}

/// Deletes every instance and brings every member back online, between cases.
fn reset(bed: &TestBed, instances: &[Instance]) {
    for member in bed.members() {
        let _ = incus(bed, &["cluster", "restore", member, "--force"]);
    }
    for instance in instances {
        let _ = incus(
            bed,
            &[
                "delete",
                &instance.name,
                "--project",
                &instance.project,
                "--force",
            ],
        );
    }
}

/// A capture of the test bed, images included.
async fn capture_with_images(client: &IncusClient) -> Snapshot {
    let snapshot = capture(client, "unix", String::new()).await.expect("capture");
    assert!(!snapshot.images.is_empty(), "the test bed's images are captured");
    snapshot
}

fn run_all(bed: &TestBed, commands: &[Vec<String>]) {
    for command in commands {
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        let _ = incus(bed, &command);
    }
}

#[tokio::test]
async fn simulate_predicts_what_incus_does() {
    let Some(bed) = support::testbed() else { return };
    let _turn = SCRIPTLET_SETTING.lock().await;
    let client = IncusClient::unix(&bed.socket("m1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scriptlet.star");
    std::fs::write(&file, SCRIPTLET).unwrap();
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());

    let before = capture_with_images(&client).await;
    reset(bed, &before.instances);
    for case in &cases {
        run_all(bed, &case.teardown);
    }
    let fingerprint = before
        .images
        .iter()
        .find(|image| image.project == "default" && image.aliases.iter().any(|a| a.name == "busybox"))
        .map(|image| image.fingerprint.clone())
        .expect("the test bed has a busybox image");
    let with_fingerprint = |text: &str| {
        text.replace("@FP4@", &fingerprint[..4])
            .replace("@FP@", &fingerprint)
    };
    let set = std::process::Command::new("incus")
        .env("INCUS_DIR", bed.dir.join("members/m1"))
        .args(["config", "set", "instances.placement.scriptlet=-"])
        .stdin(std::fs::File::open(&file).unwrap())
        .status()
        .unwrap();
    assert!(set.success());

    let mut failures = Vec::new();
    for case in &cases {
        for command in &case.setup {
            let command: Vec<&str> = command.iter().map(String::as_str).collect();
            let output = incus(bed, &command);
            assert!(
                output.status.success(),
                "{}: setup {command:?}: {}",
                case.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // The prediction, as `berth simulate` gives it from a snapshot taken just before.
        let snapshot = capture_with_images(&client).await;
        let snapshot_file = dir.path().join("snapshot.json");
        std::fs::write(&snapshot_file, snapshot.to_json()).unwrap();
        let simulate = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["simulate", "--mode", "upstream", "--snapshot"])
            .arg(&snapshot_file)
            .arg("--scriptlet")
            .arg(&file)
            .args(["--op", &with_fingerprint(&case.operation.to_string())])
            .output()
            .unwrap();
        assert!(
            simulate.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&simulate.stderr)
        );
        let predicted: serde_json::Value = serde_json::from_slice(&simulate.stdout).unwrap();

        let marks = log_marks(bed);
        let command: Vec<String> = case.command.iter().map(|arg| with_fingerprint(arg)).collect();
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        let output = incus(bed, &command);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let mut real_calls: Vec<(String, String)> = scriptlet_lines_since(bed, &marks)
            .into_iter()
            .filter(|(_, _, message)| message.starts_with("CALL "))
            .map(|(member, _, message)| (member, message))
            .collect();
        let mut predicted_calls: Vec<(String, String)> = predicted["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|call| {
                let runs_on = call["runs_on"].as_str().unwrap().to_owned();
                (
                    runs_on,
                    call["logs"][0]["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        real_calls.sort();
        predicted_calls.sort();
        if real_calls != predicted_calls {
            failures.push(format!(
                "{}: calls\n  Incus: {real_calls:?}\n  Berth: {predicted_calls:?}",
                case.name
            ));
        }

        let after = capture(&client, "unix", String::new()).await.expect("capture");
        for outcome in predicted["outcomes"].as_array().unwrap() {
            let instance = outcome["instance"].as_str().unwrap();
            if let Some(error) = outcome["error"].as_str() {
                if output.status.success() || !stderr.contains(error) {
                    failures.push(format!(
                        "{}: Berth predicted the error {error:?}; Incus: {:?}",
                        case.name,
                        stderr.trim()
                    ));
                }
                continue;
            }
            let (member, project) = (
                outcome["member"].as_str().unwrap(),
                outcome["project"].as_str().unwrap(),
            );
            let name = instance.split_once('/').unwrap().1;
            let real = after
                .instances
                .iter()
                .find(|i| i.name == name)
                .map(|i| (i.location.as_str(), i.project.as_str()));
            if !output.status.success() || real != Some((member, project)) {
                failures.push(format!(
                    "{}: Berth placed {instance} on {member} in {project}; Incus: {real:?} {stderr}",
                    case.name
                ));
            }
        }
        reset(bed, &after.instances);
        run_all(bed, &case.teardown);
    }
    let unset = incus(bed, &["config", "unset", "instances.placement.scriptlet"]);
    assert!(unset.status.success());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Logs how many more instances `pending=True` counts in the request's project; places as
/// Incus would by default.
const PENDING_SCRIPTLET: &str = r#"
def instance_placement(request, candidate_members):
    log_info("PENDING +", get_instances_count(project=request.project, pending=True) - get_instances_count(project=request.project))
"#;

/// Incus counts a create as pending until 5 s after it finishes (its row in the `operations`
/// table; issue 20): creates that follow each other see the earlier ones twice, as instances
/// and as pending creations (+0, +1, +2 measured on 6.0.4). Berth predicts each call from a
/// capture taken just before it (which lists the finished creates as `success`), and the
/// three as one sequence from the first capture (operations back to back).
///
/// The three creates must fall in one window: on a loaded machine (CI runs other suites beside
/// this one) the first create can leave it before the third places, and Incus then counts
/// +1. Such a round says nothing about Berth, so it is run again, up to three times.
#[tokio::test]
async fn creates_that_just_finished_count_as_pending() {
    let Some(bed) = support::testbed() else { return };
    let _turn = SCRIPTLET_SETTING.lock().await;
    let client = IncusClient::unix(&bed.socket("m1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pending.star");
    std::fs::write(&file, PENDING_SCRIPTLET).unwrap();
    let names = ["berth-pending-1", "berth-pending-2", "berth-pending-3"];
    let delete_all = || {
        for name in names {
            let _ = incus(bed, &["delete", name, "--force"]);
        }
    };
    delete_all();
    let set = std::process::Command::new("incus")
        .env("INCUS_DIR", bed.dir.join("members/m1"))
        .args(["config", "set", "instances.placement.scriptlet=-"])
        .stdin(std::fs::File::open(&file).unwrap())
        .status()
        .unwrap();
    assert!(set.success());

    let scriptlet = berth_core::engine::compile(
        PENDING_SCRIPTLET,
        berth_core::engine::IncusVersion::DEFAULT,
        &berth_core::engine::Limits::default(),
        &|| false,
    )
    .unwrap()
    .unwrap();
    let simulator = berth_core::simulate::Simulator::new(
        Some(&scriptlet),
        berth_core::engine::IncusVersion::DEFAULT,
        berth_core::simulate::Mode::Upstream,
    );
    let create = |name: &str| -> berth_core::simulate::Operation {
        serde_json::from_value(json!({"kind": "create", "project": "default", "name": name,
                                      "source": {"type": "none"}}))
        .unwrap()
    };
    let logged = |simulation: &berth_core::simulate::Simulation| -> Vec<String> {
        simulation
            .calls
            .iter()
            .flat_map(|call| call.logs.iter().map(|line| line.message.clone()))
            .collect()
    };
    // From the end of the first create to the start of the third: under Incus's 5 s, with room
    // for the placement inside the third.
    let window = std::time::Duration::from_secs(4);

    let mut rounds = Vec::new();
    let (first_capture, incus_saw, berth_predicted) = loop {
        // Creates of earlier tests and rounds are no longer counted.
        tokio::time::sleep(std::time::Duration::from_secs(6)).await;
        let mut first_capture = None;
        let (mut incus_saw, mut berth_predicted) = (Vec::new(), Vec::new());
        let (mut first_done, mut last_started) = (None, None);
        for name in names {
            let snapshot = capture(&client, "unix", String::new()).await.expect("capture");
            berth_predicted.extend(logged(&simulator.run(&snapshot, &[create(name)])));
            first_capture.get_or_insert(snapshot);
            let marks = log_marks(bed);
            last_started = Some(std::time::Instant::now());
            let created = incus(bed, &["create", "--empty", name]);
            first_done.get_or_insert_with(std::time::Instant::now);
            assert!(
                created.status.success(),
                "{}",
                String::from_utf8_lossy(&created.stderr)
            );
            incus_saw.extend(
                scriptlet_lines_since(bed, &marks)
                    .into_iter()
                    .map(|(_, _, message)| message)
                    .filter(|message| message.starts_with("PENDING")),
            );
        }
        delete_all();
        let took = last_started.unwrap() - first_done.unwrap();
        rounds.push(format!("{took:?}: Incus logged {incus_saw:?}"));
        if took < window || rounds.len() == 3 {
            break (first_capture.unwrap(), incus_saw, berth_predicted);
        }
    };
    let operations: Vec<_> = names.iter().map(|name| create(name)).collect();
    let sequence = logged(&simulator.run(&first_capture, &operations));

    let unset = incus(bed, &["config", "unset", "instances.placement.scriptlet"]);
    assert!(unset.status.success());
    let rounds = rounds.join("; ");
    assert_eq!(
        incus_saw,
        ["PENDING +0", "PENDING +1", "PENDING +2"],
        "rounds (from the first create's end to the third's start): {rounds}"
    );
    assert_eq!(berth_predicted, incus_saw, "each from a capture just before");
    assert_eq!(sequence, incus_saw, "the three as one sequence");
}
