//! Migration plans on the real Incus test bed, through `berth plan …` as scripts use it: a plan
//! of every kind of move previewed, approved by a second user (the author's own approval
//! refused), executed; the cluster ends where the preview said, and the scriptlet on the cluster
//! is called exactly once per executed move — `relocation`, with the target project — and never
//! with `new`. Then the faults: `kill -9` of the executing process and a restart, a member
//! stopped mid-plan, and the whole cluster out of reach when the executor starts. And a rollout: a plan that sets a scriptlet revision on the cluster, with
//! its impact replay in the review, and its reverse that restores the previous text.

use crate::support;

use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_server::db::Store;

use serde_json::Value;
use support::incus_cli::{incus, log_marks, scriptlet_lines_since};
use support::TestBed;

/// The placement scriptlet and the members are the cluster's: these tests take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Logs each call on one line; places by `user.want` when it names a candidate, else on the
/// first candidate by name.
const LOGGER: &str = r#"
def instance_placement(request, candidate_members):
    names = sorted([m.server_name for m in candidate_members])
    log_info("PLAN reason=", request.reason, " project=", request.project, " name=", request.name, " candidates=", ",".join(names))
    want = request.config.get("user.want", "")
    if want in names:
        set_target(want)
    elif len(names) > 0:
        set_target(names[0])
"#;

struct Bed {
    bed: &'static TestBed,
    data: tempfile::TempDir,
    /// `--database` (default: SQLite in `data`).
    database: Option<String>,
    prefix: String,
}

impl Bed {
    /// A fresh Berth data dir with users and a connection to the test bed, the logging
    /// scriptlet set on the cluster.
    fn new(tag: &str) -> Option<Bed> {
        Bed::on(tag, None)
    }

    fn on(tag: &str, database: Option<String>) -> Option<Bed> {
        let bed = support::testbed()?;
        let data = tempfile::tempdir().unwrap();
        let prefix = format!("{tag}{}", std::process::id() % 100_000);
        let this = Bed {
            bed,
            data,
            database,
            prefix,
        };
        wait_until_healthy(bed);
        for (user, role) in [
            ("alice", "reviewer"),
            ("bob", "reviewer"),
            ("olga", "operator"),
            ("root", "admin"),
        ] {
            let output = this.berth_stdin(
                &["user", "add", user, "--role", role, "--password-stdin"],
                "a-long-password-1\n",
            );
            assert!(output.status.success(), "{}", text(&output.stderr));
        }
        let socket = format!("unix://{}", bed.socket("m1").display());
        let output = this.berth(&["connection", "add", "bed", "--remote", &socket]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let set = Command::new("incus")
            .env("INCUS_DIR", bed.dir.join("members/m1"))
            .args([
                "config",
                "set",
                &format!("instances.placement.scriptlet={LOGGER}"),
            ])
            .output()
            .unwrap();
        assert!(set.status.success(), "{}", text(&set.stderr));
        Some(this)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command.args(args).env("BERTH_DATA_DIR", self.data.path());
        if let Some(database) = &self.database {
            command.env("BERTH_DATABASE_URL", database);
        }
        command
    }

    fn berth(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn berth_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    /// A stopped container `short` in `project` on `member`, with `user.*` keys.
    fn create(&self, short: &str, project: &str, member: &str, keys: &[(&str, &str)]) {
        let name = self.name(short);
        let mut args = vec![
            "create",
            "busybox",
            &name,
            "--project",
            project,
            "--target",
            member,
        ];
        let pairs: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for pair in &pairs {
            args.push("-c");
            args.push(pair);
        }
        // proj-a and proj-r use the default project's images.
        let output = incus(self.bed, &args);
        assert!(
            output.status.success(),
            "incus create {name}: {}",
            text(&output.stderr)
        );
    }

    /// Every project and member `short` is in on the cluster.
    fn placements(&self, short: &str) -> Vec<(String, String)> {
        let output = incus(self.bed, &["list", "--all-projects", "--format", "json"]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let list: Value = serde_json::from_slice(&output.stdout).unwrap();
        let name = self.name(short);
        list.as_array()
            .unwrap()
            .iter()
            .filter(|i| i["name"] == name.as_str())
            .map(|i| {
                (
                    i["project"].as_str().unwrap().to_owned(),
                    i["location"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn plan_json(&self, id: &str) -> Value {
        let output = self.berth(&["plan", "status", id, "--json"]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// `berth plan approve ID --version V --as USER`, of the version the plan has now.
    fn approve(&self, id: &str, user: &str) -> std::process::Output {
        let version = self.plan_json(id)["version"].to_string();
        self.berth(&["plan", "approve", id, "--version", &version, "--as", user])
    }

    fn create_plan(&self, moves: Value, extra: &[&str]) -> String {
        self.create_plan_on("bed", moves, extra)
    }

    fn create_plan_on(&self, connection: &str, moves: Value, extra: &[&str]) -> String {
        let file = self.data.path().join(format!("moves-{}.json", rand_suffix()));
        std::fs::write(&file, moves.to_string()).unwrap();
        let mut args = vec![
            "plan",
            "create",
            "--connection",
            connection,
            "--name",
            "test plan",
            "--moves",
        ];
        let path = file.to_str().unwrap().to_owned();
        args.push(&path);
        args.extend(["--as", "alice"]);
        args.extend(extra);
        let output = self.berth(&args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout).trim().to_owned()
    }

    /// Executes plan `id` (or resumes it) as olga, to its end; it must succeed.
    fn executed(&self, id: &str) {
        let output = self.berth(&["plan", "execute", id, "--as", "olga", "--wait"]);
        assert!(
            output.status.success(),
            "{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    }

    fn approved(&self, id: &str) {
        let submitted = self.berth(&["plan", "submit", id, "--as", "alice"]);
        assert!(
            submitted.status.success(),
            "plan submit: {}",
            text(&submitted.stderr)
        );
        let approved = self.approve(id, "bob");
        assert!(
            approved.status.success(),
            "plan approve: {}",
            text(&approved.stderr)
        );
    }

    /// Runs `work` on this Berth's store (on a thread of its own: some callers are async tests).
    fn with_store<T: Send>(
        &self,
        work: impl FnOnce(Store) -> Pin<Box<dyn Future<Output = T> + Send>> + Send,
    ) -> T {
        let location = match &self.database {
            Some(url) => berth_server::db::DatabaseUrl::parse(url).unwrap(),
            None => berth_server::db::DatabaseUrl::sqlite_in(self.data.path()).unwrap(),
        };
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        let store = Store::connect(&location).await.unwrap();
                        let result = work(store.clone()).await;
                        store.close().await;
                        result
                    })
                })
                .join()
                .unwrap()
        })
    }

    /// The plan's audit entries, oldest first: (kind, detail, actor).
    fn audit(&self, id: &str) -> Vec<(String, Value, Option<String>)> {
        let subject = format!("plan:{id}");
        let entries =
            self.with_store(|store| Box::pin(async move { store.audit_of_subject(&subject).await.unwrap() }));
        entries
            .into_iter()
            .map(|entry| {
                (
                    entry.kind,
                    serde_json::from_str(&entry.detail).unwrap(),
                    entry.actor,
                )
            })
            .collect()
    }

    /// Each move's (started, succeeded) entries in the audit log.
    fn move_entries(&self, id: &str, moves: usize) -> Vec<(usize, usize)> {
        let audit = self.audit(id);
        (1..=moves)
            .map(|index| {
                let count = |wanted: &str| {
                    audit
                        .iter()
                        .filter(|(kind, detail, _)| kind == wanted && detail["move"] == index)
                        .count()
                };
                (count("plan.move_started"), count("plan.move_succeeded"))
            })
            .collect()
    }

    fn delete_all(&self) {
        for project in ["default", "proj-a", "proj-b", "proj-r"] {
            let output = incus(
                self.bed,
                &["list", "--project", project, "--format", "csv", "-c", "n"],
            );
            for name in text(&output.stdout)
                .lines()
                .filter(|n| n.starts_with(&self.prefix))
            {
                incus(self.bed, &["delete", "--force", name, "--project", project]);
            }
        }
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.delete_all();
        incus(self.bed, &["config", "unset", "instances.placement.scriptlet"]);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn moves_of(bed: &Bed, moves: &[(&str, &str, &str, &str)]) -> Value {
    Value::Array(
        moves
            .iter()
            .map(|(short, project, target_project, target)| {
                serde_json::json!({ "project": project, "name": bed.name(short),
                                    "target_project": target_project, "target": target })
            })
            .collect(),
    )
}

/// The scriptlet's lines for `name` since `marks`: (reason, project).
fn calls_for(bed: &Bed, marks: &[(String, u64)], name: &str) -> Vec<(String, String)> {
    scriptlet_lines_since(bed.bed, marks)
        .into_iter()
        .filter_map(|(_, _, message)| {
            let fields: Vec<(&str, &str)> = message
                .strip_prefix("PLAN ")?
                .split(' ')
                .filter_map(|pair| pair.split_once('='))
                .collect();
            let field = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
            (field("name")? == name).then(|| (field("reason").unwrap(), field("project").unwrap()))
        })
        .collect()
}

/// Waits until every member is Online and no instance shows the `Error` status of an
/// unreachable member: a test that stopped a member leaves the cluster recovering.
fn wait_until_healthy(bed: &TestBed) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let members = incus(bed, &["cluster", "list", "--format", "csv", "-c", "s"]);
        let instances = incus(bed, &["list", "--all-projects", "--format", "csv", "-c", "s"]);
        let (members, instances) = (text(&members.stdout), text(&instances.stdout));
        let online = !members.trim().is_empty() && members.lines().all(|status| status.trim() == "ONLINE");
        if online && !instances.contains("ERROR") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the test bed did not recover: members {members:?}, instances {instances:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Previews until every move's decision is the member its instance wants: right after a test
/// that stopped a member, the cluster may still answer as if it were away (the preview is right
/// to say so, but the test is about something else).
fn preview_until_decided(bed: &Bed, id: &str, shorts: &[&str]) {
    let wants: Vec<String> = (0..shorts.len())
        .map(|index| ["m2", "m3", "m1"][index % 3].to_owned())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let output = bed.berth(&["plan", "preview", id, "--json"]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let preview: Value = serde_json::from_slice(&output.stdout).unwrap();
        let decisions: Vec<String> = preview["moves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["decision"].as_str().unwrap_or("-").to_owned())
            .collect();
        if decisions == wants {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "decisions {decisions:?}, not {wants:?}: {preview:#}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Stopped instances spread over the members, each wanting the next member; their moves into
/// proj-b.
fn spread<'a>(bed: &Bed, shorts: &[&'a str]) -> Vec<(&'a str, &'static str, &'static str, &'static str)> {
    for (index, short) in shorts.iter().enumerate() {
        let member = ["m1", "m2", "m3"][index % 3];
        let other = ["m2", "m3", "m1"][index % 3];
        bed.create(short, "default", member, &[("user.want", other)]);
    }
    shorts.iter().map(|s| (*s, "default", "proj-b", "")).collect()
}

/// Every instance is once in proj-b on its decision, and Incus called the scriptlet for it
/// once (the move was issued once).
fn moved_once(bed: &Bed, marks: &[(String, u64)], shorts: &[&str], plan: &Value) {
    for (index, short) in shorts.iter().enumerate() {
        let decision = plan["moves"][index]["decision"].as_str().unwrap().to_owned();
        assert_eq!(
            bed.placements(short),
            [("proj-b".to_owned(), decision)],
            "{short}"
        );
        assert_eq!(
            calls_for(bed, marks, &bed.name(short)),
            [("relocation".to_owned(), "proj-b".to_owned())],
            "{short} was issued exactly once"
        );
    }
    assert_eq!(
        bed.move_entries(plan["id"].as_i64().unwrap().to_string().as_str(), shorts.len()),
        vec![(1, 1); shorts.len()]
    );
}

#[test]
fn a_reviewed_plan_moves_every_kind_of_instance_as_previewed_with_one_call_each() {
    let _turn = TURN.blocking_lock();
    let Some(bed) = Bed::new("pl") else { return };
    bed.delete_all();
    // same member, cross-project; into proj-r (gA only) from m3; project + member; @gB;
    // into proj-a (features.profiles=false); a name taken in proj-b.
    bed.create("same", "default", "m1", &[("user.want", "m1")]);
    bed.create("restricted", "default", "m3", &[("user.want", "m2")]);
    bed.create("member", "default", "m1", &[]);
    bed.create("group", "default", "m1", &[]);
    bed.create("noprofiles", "default", "m2", &[]);
    bed.create("taken", "default", "m2", &[]);
    bed.create("taken", "proj-b", "m3", &[]);
    let id = bed.create_plan(
        moves_of(
            &bed,
            &[
                ("same", "default", "proj-b", ""),
                ("restricted", "default", "proj-r", ""),
                ("member", "default", "proj-b", "m2"),
                ("group", "default", "proj-b", "@gB"),
                ("noprofiles", "default", "proj-a", ""),
                ("taken", "default", "proj-b", ""),
            ],
        ),
        &[],
    );

    let output = bed.berth(&["plan", "preview", &id, "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let preview: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(preview["state"], "draft");
    let moves = preview["moves"].as_array().unwrap();
    let verdicts: Vec<&str> = moves.iter().map(|m| m["verdict"].as_str().unwrap()).collect();
    assert_eq!(
        verdicts,
        ["ready", "warning", "warning", "warning", "blocked", "blocked"],
        "{preview:#}"
    );
    let decisions: Vec<Option<&str>> = moves.iter().map(|m| m["decision"].as_str()).collect();
    assert_eq!(
        decisions,
        [Some("m1"), Some("m2"), Some("m2"), Some("m3"), None, None]
    );
    // One decision among every member eligible for the target project.
    let mut candidates: Vec<&str> = moves[0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    candidates.sort();
    assert_eq!(candidates, ["m1", "m2", "m3"]);
    assert_eq!(moves[1]["excluded"][0]["member"], "m3");
    assert!(moves[4]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("features.profiles=false"));
    assert!(moves[5]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("is taken in project proj-b"));
    for field in ["project", "name", "target_project", "target", "state", "error"] {
        assert!(moves[0].get(field).is_some(), "{field} is part of the contract");
    }

    // Review: the author cannot approve their own plan; a second reviewer can.
    assert!(bed
        .berth(&["plan", "submit", &id, "--as", "alice"])
        .status
        .success());
    let own = bed.approve(&id, "alice");
    assert_eq!(own.status.code(), Some(1));
    assert!(
        text(&own.stderr).contains("cannot approve"),
        "{}",
        text(&own.stderr)
    );
    let early = bed.berth(&["plan", "execute", &id, "--as", "olga"]);
    assert_eq!(
        early.status.code(),
        Some(1),
        "an unapproved plan does not execute"
    );
    assert!(bed.approve(&id, "bob").status.success());
    let not_operator = bed.berth(&["plan", "execute", &id, "--as", "bob"]);
    assert_eq!(not_operator.status.code(), Some(1));

    let marks = log_marks(bed.bed);
    bed.executed(&id);
    let status = bed.plan_json(&id);
    assert_eq!(status["state"], "succeeded", "{status:#}");
    let states: Vec<&str> = status["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "succeeded",
            "succeeded",
            "succeeded",
            "succeeded",
            "skipped",
            "skipped"
        ]
    );

    // The cluster is where the preview said.
    for (index, (short, target_project)) in [
        ("same", "proj-b"),
        ("restricted", "proj-r"),
        ("member", "proj-b"),
        ("group", "proj-b"),
    ]
    .into_iter()
    .enumerate()
    {
        let decision = decisions[index].unwrap();
        assert_eq!(
            bed.placements(short),
            [(target_project.to_owned(), decision.to_owned())],
            "{short}"
        );
        // Exactly one scriptlet call per executed move: relocation, the target project.
        assert_eq!(
            calls_for(&bed, &marks, &bed.name(short)),
            [("relocation".to_owned(), target_project.to_owned())],
            "{short}"
        );
    }
    let mut taken = bed.placements("taken");
    taken.sort();
    assert_eq!(
        taken,
        [("default".into(), "m2".into()), ("proj-b".into(), "m3".into())]
    );
    assert_eq!(
        bed.placements("noprofiles"),
        [("default".to_owned(), "m2".to_owned())]
    );
    assert!(calls_for(&bed, &marks, &bed.name("noprofiles")).is_empty());

    // The audit log has the whole story.
    let audit = bed.audit(&id);
    let by = |kind: &str| -> Vec<Option<String>> {
        audit
            .iter()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, _, actor)| actor.clone())
            .collect()
    };
    assert_eq!(by("plan.created"), [Some("alice".to_owned())]);
    assert_eq!(by("plan.submitted"), [Some("alice".to_owned())]);
    assert_eq!(by("plan.approved"), [Some("bob".to_owned())]);
    assert_eq!(by("plan.execution_started"), [Some("olga".to_owned())]);
    assert_eq!(by("plan.finished").len(), 1);
    assert_eq!(by("plan.move_started").len(), 4);
    assert_eq!(by("plan.move_succeeded").len(), 4);
    assert_eq!(by("plan.move_skipped").len(), 2);
    assert!(audit
        .iter()
        .all(|(kind, detail, _)| !kind.starts_with("plan.approved") || detail["via"] == "command line"));

    // The reverse plan brings the moved ones back.
    let reverse = bed.berth(&["plan", "reverse", &id, "--as", "alice"]);
    assert!(reverse.status.success(), "{}", text(&reverse.stderr));
    let reverse_id = text(&reverse.stdout).trim().to_owned();
    let reversed = bed.plan_json(&reverse_id);
    assert_eq!(reversed["state"], "draft");
    let back: Vec<(String, String)> = reversed["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        back,
        [
            (bed.name("group"), "m1".to_owned()),
            (bed.name("member"), "m1".to_owned()),
            (bed.name("restricted"), "m3".to_owned()),
            (bed.name("same"), "m1".to_owned()),
        ]
    );
}

#[test]
fn a_plan_killed_mid_execution_resumes_and_issues_no_move_twice() {
    let _turn = TURN.blocking_lock();
    let Some(bed) = Bed::new("pk") else { return };
    bed.delete_all();
    let shorts = ["k1", "k2", "k3", "k4", "k5"];
    let moves = spread(&bed, &shorts);
    // This plan needs two approvals.
    let id = bed.create_plan(moves_of(&bed, &moves), &["--plan-approvals", "2"]);
    preview_until_decided(&bed, &id, &shorts);
    assert!(bed
        .berth(&["plan", "submit", &id, "--as", "alice"])
        .status
        .success());
    let first = bed.approve(&id, "bob");
    assert!(
        text(&first.stdout).contains("in review (1 of 2 approvals)"),
        "{}",
        text(&first.stdout)
    );
    let again = bed.approve(&id, "bob");
    assert_eq!(again.status.code(), Some(1), "one approval per person");
    let second = bed.approve(&id, "root");
    assert!(
        text(&second.stdout).contains("approved (2 of 2 approvals)"),
        "{}",
        text(&second.stdout)
    );
    let marks = log_marks(bed.bed);
    // Killed and reaped below on every path but a failed assertion, which ends the test.
    #[allow(clippy::zombie_processes)]
    let stderr = bed.data.path().join("execute.stderr");
    let mut child = bed
        .command(&["plan", "execute", &id, "--as", "olga", "--wait"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // Kill it once a move has finished and others are still to do.
    let deadline = Instant::now() + Duration::from_secs(60);
    let killed_at = loop {
        let status = bed.plan_json(&id);
        let states: Vec<String> = status["moves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap().to_owned())
            .collect();
        if states.iter().any(|s| s == "succeeded") && states.iter().any(|s| s == "pending") {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            break states;
        }
        let ended = child.try_wait().unwrap();
        if ended.is_some() || Instant::now() >= deadline {
            child.kill().ok();
            child.wait().unwrap();
            panic!(
                "the plan never got under way ({ended:?}): {states:?}\n{}\n{:#}",
                std::fs::read_to_string(&stderr).unwrap_or_default(),
                bed.plan_json(&id)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        bed.plan_json(&id)["state"],
        "executing",
        "killed mid-plan: {killed_at:?}"
    );

    // A restart resumes once the dead process's lease has expired.
    bed.executed(&id);
    let status = bed.plan_json(&id);
    assert_eq!(status["state"], "succeeded", "{status:#}");
    moved_once(&bed, &marks, &shorts, &status);
}

/// A plan whose cluster is out of reach when its executor starts stays executing with its moves
/// untouched, and its history says why; once the cluster answers again it resumes and ends.
#[test]
fn a_plan_whose_cluster_is_out_of_reach_says_why_and_resumes() {
    let _turn = TURN.blocking_lock();
    let Some(bed) = Bed::new("pu") else { return };
    bed.delete_all();
    // A connection through a link to the socket: without the link, the cluster is out of reach.
    let link = bed.data.path().join("incus.socket");
    std::os::unix::fs::symlink(bed.bed.socket("m1"), &link).unwrap();
    let remote = format!("unix://{}", link.display());
    let added = bed.berth(&["connection", "add", "link", "--remote", &remote]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    bed.create("u1", "default", "m1", &[("user.want", "m1")]);
    let id = bed.create_plan_on("link", moves_of(&bed, &[("u1", "default", "proj-b", "")]), &[]);
    bed.approved(&id);
    let started = bed.berth(&["plan", "execute", &id, "--as", "olga"]);
    assert!(started.status.success(), "{}", text(&started.stderr));

    std::fs::remove_file(&link).unwrap();
    let interrupted = bed.berth(&["plan", "execute", &id, "--as", "olga", "--wait"]);
    assert_eq!(interrupted.status.code(), Some(1));
    let said = text(&interrupted.stderr);
    assert!(
        said.contains(&format!("cannot reach Incus at {remote}")),
        "{said}"
    );
    let status = bed.plan_json(&id);
    assert_eq!(status["state"], "executing", "{status:#}");
    assert_eq!(status["moves"][0]["state"], "pending", "{status:#}");
    // What the plan page shows while the plan waits.
    let waiting = status["interrupted"].as_str().unwrap_or_default();
    assert!(
        waiting.contains(&format!("cannot reach Incus at {remote}")),
        "{status:#}"
    );
    let why: Vec<Value> = bed
        .audit(&id)
        .into_iter()
        .filter(|(kind, _, _)| kind == "plan.execution_interrupted")
        .map(|(_, detail, _)| detail)
        .collect();
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0]["error"].as_str().unwrap().contains("cannot reach Incus"),
        "{why:?}"
    );
    assert_eq!(bed.placements("u1"), [("default".to_owned(), "m1".to_owned())]);

    std::os::unix::fs::symlink(bed.bed.socket("m1"), &link).unwrap();
    bed.executed(&id);
    assert_eq!(bed.placements("u1"), [("proj-b".to_owned(), "m1".to_owned())]);
    let status = bed.plan_json(&id);
    assert_eq!(status["state"], "succeeded", "{status:#}");
    assert!(status.get("interrupted").is_none(), "{status:#}");
}

/// Review bound to what was reviewed, on the real cluster. A plan drafted and reviewed on a
/// stored capture executes when a fresh capture agrees with it. An approved plan whose cluster
/// changed is not previewed again in place: executing supersedes it (the `Stale` event), its
/// approval is void with its version, and it runs only after a new preview and a new approval.
#[test]
fn a_plan_reviewed_on_a_capture_runs_only_while_the_cluster_agrees_with_the_review() {
    let _turn = TURN.blocking_lock();
    let Some(bed) = Bed::new("pr") else { return };
    bed.delete_all();
    bed.create("r1", "default", "m1", &[("user.want", "m2")]);
    bed.create("r2", "default", "m2", &[("user.want", "m3")]);
    let capture = bed.data.path().join("capture.json");
    let remote = format!("unix://{}", bed.bed.socket("m1").display());
    let captured = bed.berth(&[
        "snapshot",
        "capture",
        "--remote",
        &remote,
        "-o",
        capture.to_str().unwrap(),
    ]);
    assert!(captured.status.success(), "{}", text(&captured.stderr));
    let imported = bed.berth(&["snapshot", "import", capture.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let snapshot = text(&imported.stdout).trim().to_owned();

    // Reviewed on the capture, executed on the cluster: the fresh capture agrees.
    let id = bed.create_plan(
        moves_of(&bed, &[("r1", "default", "proj-b", "")]),
        &["--snapshot", &snapshot],
    );
    let previewed = bed.berth(&["plan", "preview", &id, "--json"]);
    assert!(previewed.status.success(), "{}", text(&previewed.stderr));
    let preview: Value = serde_json::from_slice(&previewed.stdout).unwrap();
    assert_eq!(
        preview["preview"]["snapshot_id"].to_string(),
        snapshot,
        "{preview:#}"
    );
    assert_eq!(preview["moves"][0]["decision"], "m2", "{preview:#}");
    bed.approved(&id);
    bed.executed(&id);
    assert_eq!(bed.placements("r1"), [("proj-b".to_owned(), "m2".to_owned())]);

    // Approved, then the cluster changes under the plan: r2's name is taken in proj-b.
    let id = bed.create_plan(moves_of(&bed, &[("r2", "default", "proj-b", "")]), &[]);
    bed.approved(&id);
    let approved = bed.plan_json(&id);
    assert_eq!(approved["approvals"], serde_json::json!(["bob"]));
    let version = approved["version"].as_i64().unwrap();
    bed.create("r2", "proj-b", "m1", &[]);
    let again = bed.berth(&["plan", "preview", &id, "--as", "alice"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an approved plan is not previewed in place"
    );
    assert!(
        text(&again.stderr).contains("cannot be previewed again"),
        "{}",
        text(&again.stderr)
    );
    let refused = bed.berth(&["plan", "execute", &id, "--as", "olga"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("superseded"),
        "{}",
        text(&refused.stderr)
    );
    let superseded = bed.plan_json(&id);
    assert_eq!(superseded["state"], "superseded", "{superseded:#}");
    assert_eq!(superseded["approvals"], serde_json::json!([]));
    assert_eq!(superseded["version"].as_i64(), Some(version + 1));
    let mut both = bed.placements("r2");
    both.sort();
    assert_eq!(
        both,
        [
            ("default".to_owned(), "m2".to_owned()),
            ("proj-b".to_owned(), "m1".to_owned())
        ],
        "nothing ran"
    );
    // The old approval does not carry over: a new preview, a new review.
    let stale = bed.berth(&[
        "plan",
        "approve",
        &id,
        "--version",
        &version.to_string(),
        "--as",
        "bob",
    ]);
    assert_eq!(stale.status.code(), Some(1));
    incus(
        bed.bed,
        &["delete", "--force", &bed.name("r2"), "--project", "proj-b"],
    );
    bed.approved(&id);
    bed.executed(&id);
    assert_eq!(bed.placements("r2"), [("proj-b".to_owned(), "m3".to_owned())]);
    let kinds: Vec<String> = bed.audit(&id).into_iter().map(|(kind, _, _)| kind).collect();
    assert_eq!(
        kinds.iter().filter(|kind| *kind == "plan.approved").count(),
        2,
        "approved twice, once per version: {kinds:?}"
    );
    assert!(kinds.contains(&"plan.superseded".to_owned()), "{kinds:?}");
}

#[test]
fn a_member_stopped_mid_plan_fails_its_move_with_incus_error_and_the_rest_completes() {
    let _turn = TURN.blocking_lock();
    let Some(bed) = Bed::new("pm") else { return };
    bed.delete_all();
    bed.create("ok1", "default", "m1", &[("user.want", "m1")]);
    bed.create("tom3", "default", "m1", &[]);
    bed.create("ok2", "default", "m2", &[("user.want", "m2")]);
    let id = bed.create_plan(
        moves_of(
            &bed,
            &[
                ("ok1", "default", "proj-b", ""),
                ("tom3", "default", "proj-b", "m3"),
                ("ok2", "default", "proj-b", ""),
            ],
        ),
        &["--continue-on-failure"],
    );
    bed.approved(&id);
    // m3 dies after the review, before the cluster notices (no heartbeat for 20 s first).
    let pid = std::fs::read_to_string(bed.bed.dir.join("members/m3/incusd.pid")).unwrap();
    assert!(Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap()
        .success());
    let executed = bed.berth(&["plan", "execute", &id, "--as", "olga", "--wait"]);
    let back = support::testbed_up();
    assert_eq!(executed.status.code(), Some(1), "{}", text(&executed.stdout));
    let status = bed.plan_json(&id);
    assert_eq!(status["state"], "failed", "{status:#}");
    let states: Vec<&str> = status["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["succeeded", "failed", "succeeded"]);
    let error = status["moves"][1]["error"].as_str().unwrap();
    // Incus's own words (Berth's would name the plan or a half-done move).
    eprintln!("Incus's error for the move to the lost member: {error}");
    assert!(!error.is_empty() && !error.contains("half-done") && !error.contains("did not move"));
    // Consistent: the failed move's instance is exactly where it was.
    assert_eq!(bed.placements("tom3"), [("default".to_owned(), "m1".to_owned())]);
    assert_eq!(bed.placements("ok1"), [("proj-b".to_owned(), "m1".to_owned())]);
    assert_eq!(bed.placements("ok2"), [("proj-b".to_owned(), "m2".to_owned())]);
    assert!(back.success(), "the test bed came back");
    wait_until_healthy(bed.bed);
    // Resumable: with m3 back, the failed move runs as a plan of its own.
    let again = bed.create_plan(moves_of(&bed, &[("tom3", "default", "proj-b", "m3")]), &[]);
    bed.approved(&again);
    bed.executed(&again);
    assert_eq!(bed.placements("tom3"), [("proj-b".to_owned(), "m3".to_owned())]);
}

/// The same life over `/api/v1/plans` with roles, and its progress as server-sent events.
#[tokio::test]
async fn the_api_drives_a_plan_with_roles_and_streams_its_progress() {
    use axum::http::{Method, StatusCode};
    use berth_core::access::Role;
    let _turn = TURN.lock().await;
    let Some(bed) = support::testbed() else { return };
    let app = support::TestApp::empty().await;
    let name = format!("pa{}-one", std::process::id() % 100_000);
    let created = incus(bed, &["create", "busybox", &name, "--target", "m1"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let (ann, rita, otto, vic) = (
        app.user("ann", Role::Author).await,
        app.user("rita", Role::Reviewer).await,
        app.user("otto", Role::Operator).await,
        app.user("vic", Role::Viewer).await,
    );
    let connection =
        serde_json::json!({ "name": "bed", "remote": format!("unix://{}", bed.socket("m1").display()) });
    let added = app
        .send_as(&app.admin, Method::POST, "/api/v1/connections", Some(connection))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let new = serde_json::json!({ "name": "api plan", "connection": "bed",
        "moves": [{ "project": "default", "name": name, "target_project": "proj-b", "target": "" }] });
    let refused = app
        .send_as(&vic, Method::POST, "/api/v1/plans", Some(new.clone()))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad = serde_json::json!({ "name": "x", "connection": "bed",
        "moves": [{ "project": "default", "name": name, "target_project": "default" }] });
    let bad = app.send_as(&ann, Method::POST, "/api/v1/plans", Some(bad)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"]
        .as_str()
        .unwrap()
        .contains("already in project default"));
    let plan = app.send_as(&ann, Method::POST, "/api/v1/plans", Some(new)).await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.body);
    let id = plan.json()["id"].as_i64().unwrap();
    let at = |action: &str| format!("/api/v1/plans/{id}/{action}");

    let previewed = app.send_as(&ann, Method::POST, &at("preview"), None).await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.body);
    assert_eq!(previewed.json()["moves"][0]["verdict"], "warning");
    assert!(
        previewed.json()["preview"]["snapshot_hash"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
    let early = app.send_as(&otto, Method::POST, &at("execute"), None).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert_eq!(
        app.send_as(&ann, Method::POST, &at("submit"), None).await.status,
        StatusCode::OK
    );
    let plan_path = format!("/api/v1/plans/{id}");
    let version = app.send_as(&ann, Method::GET, &plan_path, None).await.json()["version"].clone();
    let this_version = serde_json::json!({ "version": version });
    assert_eq!(
        app.send_as(&ann, Method::POST, &at("approve"), Some(this_version.clone()))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let comment = serde_json::json!({ "body": "fine by me", "move": 1 });
    let commented = app
        .send_as(&rita, Method::POST, &at("comments"), Some(comment))
        .await;
    assert_eq!(commented.status, StatusCode::CREATED, "{}", commented.body);
    assert_eq!(commented.json()["comments"][0]["author"], "rita");
    let approved = app
        .send_as(&rita, Method::POST, &at("approve"), Some(this_version))
        .await;
    assert_eq!(approved.json()["state"], "approved", "{}", approved.body);
    assert_eq!(
        app.send_as(&rita, Method::POST, &at("execute"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let started = app.send_as(&otto, Method::POST, &at("execute"), None).await;
    assert_eq!(started.json()["state"], "executing", "{}", started.body);

    // The stream sends the plan whenever it changes and ends with its final state.
    let events = app.send_as(&vic, Method::GET, &at("events"), None).await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.headers["content-type"], "text/event-stream");
    let views: Vec<Value> = events
        .body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert!(!views.is_empty(), "{}", events.body);
    let last = views.last().unwrap();
    assert_eq!(last["state"], "succeeded", "{last:#}");
    assert_eq!(last["moves"][0]["state"], "succeeded");
    assert!(last["moves"][0]["duration_ms"].as_i64().is_some());
    assert!(
        views.windows(2).all(|pair| pair[0] != pair[1]),
        "only changes are sent"
    );

    let timeline = app.send_as(&vic, Method::GET, &at("timeline"), None).await;
    let kinds: Vec<String> = timeline
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "plan.created",
            "plan.previewed",
            "plan.previewed",
            "plan.submitted",
            "plan.commented",
            "plan.approved",
            "plan.execution_started",
            "plan.move_started",
            "plan.move_succeeded",
            "plan.finished"
        ]
    );
    let reverse = app.send_as(&ann, Method::POST, &at("reverse"), None).await;
    assert_eq!(reverse.status, StatusCode::CREATED, "{}", reverse.body);
    assert_eq!(reverse.json()["moves"][0]["target_project"], "default");
    assert_eq!(reverse.json()["reverse_of"], id);
    let unsigned = app
        .send_as(&support::Client::Anonymous, Method::GET, "/api/v1/plans", None)
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    incus(bed, &["delete", "--force", &name, "--project", "proj-b"]);
}

/// Two replicas on one PostgreSQL: the one executing a plan is killed (`kill -9`) mid-plan; the
/// other takes the lease over once it expires and finishes the plan, every move executed exactly
/// once; the progress streams from the surviving replica.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_plan_is_replaced_by_another() {
    use support::database::{Backend, TestDatabase};
    use support::process::{client, sign_in, site, Server, WebSession};
    let _turn = TURN.lock().await;
    let database = TestDatabase::fresh(Backend::Postgres).await;
    let Some(bed) = Bed::on("pf", Some(database.text.clone())) else {
        return;
    };
    bed.delete_all();
    let shorts = ["f1", "f2", "f3", "f4", "f5", "f6"];
    let moves = spread(&bed, &shorts);
    let id = bed.create_plan(moves_of(&bed, &moves), &[]);
    preview_until_decided(&bed, &id, &shorts);
    bed.approved(&id);
    let verdicts: Vec<Value> = bed.plan_json(&id)["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["verdict"].clone())
        .collect();
    assert!(verdicts.iter().all(|v| v != "blocked"), "{verdicts:?}");

    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path());
    let start = |name: &str| {
        let data = dir.path().join(name);
        Server::start(&[
            "--database",
            &database.text,
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--site-root",
            &site,
        ])
    };
    let a = start("a");
    let (_, url_a) = a.wait_until_running();
    let http = client(None);
    let session = WebSession::from_response(sign_in(&http, &url_a, "olga", "a-long-password-1").await).await;
    let marks = log_marks(bed.bed);
    let started = session
        .send(http.post(format!("{url_a}/api/v1/plans/{id}/execute")), &url_a)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200, "{}", started.text().await.unwrap());
    // B starts while A executes: A holds the lease, B waits.
    let b = start("b");
    let (_, url_b) = b.wait_until_running();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let states: Vec<String> = bed.plan_json(&id)["moves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap().to_owned())
            .collect();
        if states.iter().any(|s| s == "succeeded") && states.iter().any(|s| s == "pending") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the plan never got under way on A: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(a); // SIGKILL
    let killed = Instant::now();
    assert_eq!(bed.plan_json(&id)["state"], "executing");

    // B's stream shows the plan to its end.
    let events = session
        .send(http.get(format!("{url_b}/api/v1/plans/{id}/events")), &url_b)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let body = events.text().await.unwrap();
    let last: Value = serde_json::from_str(
        body.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .next_back()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["state"], "succeeded", "{last:#}");
    let took = killed.elapsed();
    // The lease lasts 15 s; B looks every 2 s.
    assert!(
        took < Duration::from_secs(15 + 30),
        "B finished {took:?} after A died"
    );
    eprintln!("replica B finished the plan {took:?} after A was killed");
    moved_once(&bed, &marks, &shorts, &last);
    let holders: std::collections::BTreeSet<String> = bed
        .audit(&id)
        .iter()
        .filter_map(|(_, detail, _)| detail["executor"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(holders.len(), 2, "two executors took turns: {holders:?}");
    drop(b);
}

/// The cluster's placement scriptlet, as `incus config get` prints it.
fn live_scriptlet(bed: &TestBed) -> String {
    let output = incus(bed, &["config", "get", "instances.placement.scriptlet"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // `incus config get` ends the value with a newline of its own.
    text(&output.stdout)
        .strip_suffix('\n')
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_rollout_plan_sets_the_revision_and_its_reverse_restores_the_previous_text() {
    let _turn = TURN.blocking_lock();
    let Some(bed) = Bed::new("ro") else { return };
    // Two stopped containers for the impact replay to place: the new revision sends both to m2.
    bed.create("r1", "default", "m1", &[]);
    bed.create("r2", "default", "m3", &[]);
    let revision = LOGGER.replace(
        "elif len(names) > 0:\n        set_target(names[0])",
        "elif \"m2\" in names:\n        set_target(\"m2\")",
    );
    assert_ne!(revision, LOGGER);
    let scriptlet = {
        let revision = revision.clone();
        bed.with_store(|store| {
            Box::pin(async move {
                let entry = berth_server::db::NewAuditEntry {
                    at: 0,
                    actor_id: None,
                    actor: Some("alice".into()),
                    kind: "scriptlet.created".into(),
                    subject: Some("spread".into()),
                    detail: serde_json::json!({}),
                    address: None,
                };
                store
                    .insert_scriptlet("spread", &revision, "everything on m2", "alice", 0, entry)
                    .await
                    .unwrap()
                    .unwrap()
            })
        })
    };
    let scriptlet = scriptlet.to_string();
    let created = bed.berth(&[
        "plan",
        "create",
        "--connection",
        "bed",
        "--name",
        "roll out m2",
        "--scriptlet",
        &scriptlet,
        "--revision",
        "1",
        "--as",
        "alice",
    ]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let id = text(&created.stdout).trim().to_owned();

    // The review sees the impact replay of the live scriptlet against the revision.
    let preview = bed.berth(&["plan", "preview", &id, "--json"]);
    assert!(preview.status.success(), "{}", text(&preview.stderr));
    let previewed: Value = serde_json::from_slice(&preview.stdout).unwrap();
    let impact = &previewed["rollout"]["impact"];
    let changed: Vec<&str> = impact["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["instance"].as_str().unwrap())
        .collect();
    for short in ["r1", "r2"] {
        let instance = format!("default/{}", bed.name(short));
        let change = impact["changed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["instance"] == instance.as_str());
        // r1 and r2 land on m1 by the live scriptlet (first by name) and on m2 by the revision.
        let change = change.unwrap_or_else(|| panic!("{instance} not among {changed:?}"));
        assert_eq!(change["to"]["member"], "m2", "{change}");
        assert_eq!(change["from"]["member"], "m1", "{change}");
    }
    assert!(
        impact["summary"].as_str().unwrap().ends_with(" 0 new errors"),
        "{impact}"
    );
    assert_eq!(previewed["rollout"]["state"], "pending");

    // Reviewed, approved by another user, executed.
    bed.approved(&id);
    bed.executed(&id);
    assert_eq!(live_scriptlet(bed.bed), revision);
    let done = bed.plan_json(&id);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["rollout"]["state"], "succeeded");
    assert_eq!(
        done["rollout"]["previous_revision"], 2,
        "the cluster's text kept as revision 2"
    );
    let kinds: Vec<String> = bed.audit(&id).into_iter().map(|(kind, _, _)| kind).collect();
    for kind in ["plan.rollout_started", "plan.rollout_succeeded", "plan.finished"] {
        assert_eq!(
            kinds.iter().filter(|k| *k == kind).count(),
            1,
            "{kind} in {kinds:?}"
        );
    }

    // Its reverse is one more plan: reviewed and executed, the previous text is back.
    let reverse = bed.berth(&["plan", "reverse", &id, "--as", "alice"]);
    assert!(reverse.status.success(), "{}", text(&reverse.stderr));
    let reverse_id = text(&reverse.stdout).trim().to_owned();
    let reversed = bed.plan_json(&reverse_id);
    assert_eq!(reversed["rollout"]["revision"], 2, "{reversed}");
    bed.approved(&reverse_id);
    bed.executed(&reverse_id);
    assert_eq!(live_scriptlet(bed.bed), LOGGER);
    assert_eq!(bed.plan_json(&reverse_id)["state"], "succeeded");
}
