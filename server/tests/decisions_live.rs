//! The decision log on the real Incus test bed, with `berth serve` listening and the cluster
//! driven through the `incus` command line (not through Berth), as an administrator would:
//!
//! - with a logging scriptlet set, 20 instances created and 5 moved are all recorded with the
//!   member and project they landed on, each with its scriptlet's lines, each predicted and
//!   agreeing; `berth decisions list --json` answers the contract;
//! - a scriptlet changed behind Berth's back makes the next decisions differ, each naming the
//!   revision that ran; a replay of the earlier decisions against that revision shows what it
//!   would have changed;
//! - the listener's connection cut mid-run (its socket's link removed, its connections cut)
//!   leaves a gap; once the link is back, a capture closes it and the instances placed
//!   meanwhile are recorded as seen later;
//! - two replicas on one PostgreSQL: one listens; `kill -9` of it, and the other takes over,
//!   recording the handover as a gap it reconciles.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_server::db::{DatabaseUrl, DecisionFilter, DecisionRow, GapRow, Outcome, Store};
use serde_json::Value;
use support::database::{Backend, TestDatabase};
use support::incus_cli::incus;
use support::process::{berth_with_env, site, text, Server};
use support::TestBed;

/// The placement scriptlet and the cluster are shared: these tests take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Logs its request; places each instance by the length of its name (so a prediction made
/// on any capture agrees, whatever the load).
const LOGGER: &str = r#"
def instance_placement(request, candidate_members):
    names = sorted([m.server_name for m in candidate_members])
    log_info("DL reason=", request.reason, " project=", request.project, " name=", request.name, " candidates=", ",".join(names))
    if len(names) > 0:
        set_target(names[len(request.name) % len(names)])
"#;

/// The same, one member further: what an administrator sets behind Berth's back.
const CHANGED: &str = r#"
def instance_placement(request, candidate_members):
    names = sorted([m.server_name for m in candidate_members])
    log_warn("DL2 changed placement for ", request.name)
    if len(names) > 0:
        set_target(names[(len(request.name) + 1) % len(names)])
"#;

/// A Berth data directory (or database) with an admin and a connection to the test bed.
struct Logged {
    bed: &'static TestBed,
    data: tempfile::TempDir,
    database: Option<String>,
    prefix: String,
}

impl Logged {
    /// A fresh Berth with the connection `bed` to `remote` (default: m1's socket), its log on,
    /// and `LOGGER` set on the cluster.
    fn new(tag: &str, remote: Option<&str>, database: Option<String>) -> Option<Logged> {
        let bed = support::testbed()?;
        let logged = Logged {
            bed,
            data: tempfile::tempdir().unwrap(),
            database,
            prefix: format!("dl{tag}{}", std::process::id() % 10_000),
        };
        set_scriptlet(bed, LOGGER);
        let output = logged.berth(
            &["user", "add", "root", "--role", "admin", "--password-stdin"],
            "a-long-password-1\n",
        );
        assert!(output.status.success(), "{}", text(&output.stderr));
        let socket = format!("unix://{}", bed.socket("m1").display());
        let remote = remote.map_or(socket, str::to_owned);
        let output = logged.berth(
            &["connection", "add", "bed", "--remote", &remote, "--decision-log"],
            "",
        );
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(
            text(&output.stdout).contains("decision log on"),
            "{}",
            text(&output.stdout)
        );
        Some(logged)
    }

    fn env(&self) -> Vec<(&str, String)> {
        let mut env = vec![("BERTH_DATA_DIR", self.data.path().display().to_string())];
        if let Some(database) = &self.database {
            env.push(("BERTH_DATABASE_URL", database.clone()));
        }
        env
    }

    fn berth(&self, args: &[&str], stdin: &str) -> Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        berth_with_env(args, stdin, &env)
    }

    /// `berth serve` on this store, until dropped.
    fn serve(&self, data: &Path) -> Server {
        let site = site(data);
        let env = self.env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push(("BERTH_SANDBOX_CONFINEMENT", "best-effort"));
        let server = Server::start_with_env(&["--listen", "127.0.0.1:0", "--site-root", &site], &env);
        server.wait_until_running();
        server
    }

    fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.prefix)
    }

    async fn store(&self) -> Store {
        let location = match &self.database {
            Some(url) => DatabaseUrl::parse(url).unwrap(),
            None => DatabaseUrl::sqlite_in(self.data.path()).unwrap(),
        };
        Store::connect(&location).await.unwrap()
    }

    /// Every decision of the connection, oldest first.
    async fn decisions(&self, store: &Store) -> Vec<DecisionRow> {
        let filter = DecisionFilter {
            connection: Some("bed".into()),
            ..DecisionFilter::default()
        };
        let mut rows = store.decisions(&filter, None, 500).await.unwrap();
        rows.reverse();
        rows
    }

    /// Waits until `ready` holds of the decisions (at most `patience`).
    async fn until(
        &self,
        store: &Store,
        patience: Duration,
        what: &str,
        ready: impl Fn(&[DecisionRow]) -> bool,
    ) -> Vec<DecisionRow> {
        let deadline = Instant::now() + patience;
        loop {
            let rows = self.decisions(store).await;
            if ready(&rows) {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {patience:?}; the log has {}",
                summary(&rows)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the listener has captured the cluster (it records from then on whole).
    async fn until_listening(&self, store: &Store) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let listening = store
                .listener("bed")
                .await
                .unwrap()
                .is_some_and(|l| l.state == "listening");
            let captured = store.capture_before("bed", None).await.unwrap().is_some();
            if listening && captured {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the decision log did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn create(&self, short: &str, project: &str) {
        let name = self.name(short);
        let output = incus(
            self.bed,
            &["create", "busybox", &name, "--project", project, "-q"],
        );
        assert!(
            output.status.success(),
            "incus create {name}: {}",
            text(&output.stderr)
        );
    }

    fn incus_move(&self, short: &str, args: &[&str]) {
        let name = self.name(short);
        let mut all = vec!["move", name.as_str(), "-q"];
        all.extend(args);
        let output = incus(self.bed, &all);
        assert!(
            output.status.success(),
            "incus move {name} {args:?}: {}",
            text(&output.stderr)
        );
    }

    /// Where each of this test's instances is on the cluster: (project, name) → member.
    fn placements(&self) -> Vec<(String, String, String)> {
        let output = incus(self.bed, &["list", "--all-projects", "--format", "json"]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let list: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut found: Vec<(String, String, String)> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["name"].as_str().unwrap().starts_with(&self.prefix))
            .map(|i| {
                (
                    i["project"].as_str().unwrap().to_owned(),
                    i["name"].as_str().unwrap().to_owned(),
                    i["location"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        found.sort();
        found
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        for project in ["default", "proj-b"] {
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
        incus(self.bed, &["config", "unset", "instances.placement.scriptlet"]);
    }
}

fn set_scriptlet(bed: &TestBed, source: &str) {
    let set = incus(
        bed,
        &[
            "config",
            "set",
            &format!("instances.placement.scriptlet={source}"),
        ],
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
}

fn summary(rows: &[DecisionRow]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{}/{} {} on {} [{}]",
                r.project,
                r.instance,
                r.reason,
                r.member.as_deref().unwrap_or("?"),
                Outcome::of(r).as_str()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The newest decision of `project/name`.
fn last_of<'a>(rows: &'a [DecisionRow], project: &str, name: &str) -> &'a DecisionRow {
    rows.iter()
        .rev()
        .find(|r| r.project == project && r.instance == name)
        .unwrap_or_else(|| panic!("no decision for {project}/{name}: {}", summary(rows)))
}

fn messages(row: &DecisionRow) -> Vec<String> {
    let logs: Vec<Value> = serde_json::from_str(&row.logs).unwrap();
    logs.iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_create_and_move_made_with_incus_is_recorded_with_its_member_lines_and_agreement() {
    let _turn = TURN.lock().await;
    let Some(logged) = Logged::new("a", None, None) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let _server = logged.serve(work.path());
    let store = logged.store().await;
    logged.until_listening(&store).await;

    let projects = ["default", "proj-b"];
    for n in 0..20 {
        // Names of different lengths: the scriptlet spreads them over the members.
        let short = format!("c{}{}", n, "x".repeat(n % 3));
        logged.create(&short, projects[n % 2]);
    }
    let creates: Vec<String> = (0..20)
        .map(|n| logged.name(&format!("c{}{}", n, "x".repeat(n % 3))))
        .collect();
    // Five moves: three to another member, two to another project on the same member.
    let member_of = |short: &str| {
        logged
            .placements()
            .into_iter()
            .find(|(_, name, _)| *name == logged.name(short))
            .map(|(_, _, member)| member)
            .unwrap()
    };
    for short in ["c0", "c2xx", "c4x"] {
        let now = member_of(short);
        let target = ["m1", "m2", "m3"].into_iter().find(|m| *m != now).unwrap();
        logged.incus_move(short, &["--target", target]);
    }
    for short in ["c6", "c8xx"] {
        logged.incus_move(short, &["--target-project", "proj-b"]);
    }

    let rows = logged
        .until(
            &store,
            Duration::from_secs(90),
            "25 decisions, each predicted",
            |rows| rows.len() >= 25 && rows.iter().all(|r| Outcome::of(r) != Outcome::Pending),
        )
        .await;
    assert_eq!(rows.len(), 25, "{}", summary(&rows));
    // Where each instance is now is where its newest decision says it landed.
    for (project, name, member) in logged.placements() {
        let decision = last_of(&rows, &project, &name);
        assert_eq!(
            decision.member.as_deref(),
            Some(member.as_str()),
            "{project}/{name}"
        );
    }
    let revision = (rows[0].revision_scriptlet, rows[0].revision);
    for row in &rows {
        let what = format!("{}/{} ({})", row.project, row.instance, row.reason);
        assert_eq!(
            Outcome::of(row),
            Outcome::Agrees,
            "{what}: {:?} {:?} {:?}",
            row.predicted_member,
            row.predicted_error,
            row.unpredictable
        );
        assert!(creates.contains(&row.instance), "{what}");
        let lines = messages(row);
        assert_eq!(lines.len(), 1, "{what}: {lines:?}");
        assert!(
            lines[0].contains(&format!(" name={} ", row.instance)),
            "{what}: {lines:?}"
        );
        assert!(
            lines[0].contains(&format!(" project={} ", row.project)),
            "{what}: {lines:?}"
        );
        assert!(row.runs_on.is_some(), "{what}");
        assert_eq!((row.revision_scriptlet, row.revision), revision, "{what}");
        assert!(row.revision.is_some());
    }
    let news = rows.iter().filter(|r| r.reason == "new").count();
    let moves: Vec<&DecisionRow> = rows.iter().filter(|r| r.reason == "relocation").collect();
    assert_eq!((news, moves.len()), (20, 5), "{}", summary(&rows));
    for row in &moves {
        assert!(
            messages(row)[0].starts_with("DL reason=relocation"),
            "{:?}",
            messages(row)
        );
    }
    let project_moves: Vec<_> = moves.iter().filter(|r| r.from_project.is_some()).collect();
    assert_eq!(project_moves.len(), 2);
    for row in project_moves {
        assert_eq!(
            (row.project.as_str(), row.from_project.as_deref()),
            ("proj-b", Some("default"))
        );
        assert_eq!(
            row.from_member, row.member,
            "a move to another project keeps its member"
        );
    }

    // The command line's contract.
    let listed = logged.berth(
        &[
            "decisions",
            "list",
            "--connection",
            "bed",
            "--json",
            "--limit",
            "25",
        ],
        "",
    );
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let body: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let decisions = body["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 25);
    assert_eq!(body["next"], Value::Null);
    let newest = &decisions[0];
    for key in [
        "id",
        "time",
        "connection",
        "project",
        "instance",
        "reason",
        "member",
        "logs",
        "revision",
        "predicted",
        "agrees",
    ] {
        assert!(newest.get(key).is_some(), "{key}: {newest}");
    }
    assert_eq!(newest["agrees"], true);
    assert_eq!(newest["logs"][0]["level"], "info");
    assert!(
        newest["revision"]["name"].as_str().unwrap().starts_with("bed"),
        "{newest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scriptlet_changed_behind_berths_back_makes_the_next_decisions_differ() {
    let _turn = TURN.lock().await;
    let Some(logged) = Logged::new("b", None, None) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let _server = logged.serve(work.path());
    let store = logged.store().await;
    logged.until_listening(&store).await;
    for short in ["before1", "before22"] {
        logged.create(short, "default");
    }
    let before = logged
        .until(
            &store,
            Duration::from_secs(60),
            "two agreeing decisions",
            |rows| rows.len() == 2 && rows.iter().all(|r| Outcome::of(r) == Outcome::Agrees),
        )
        .await;
    let first = (
        before[0].revision_scriptlet.expect("the revision that ran"),
        before[0].revision.expect("its number"),
    );

    // An administrator changes the scriptlet with `incus`, not through Berth.
    set_scriptlet(logged.bed, CHANGED);
    for short in ["after1", "after22", "after333"] {
        logged.create(short, "default");
    }
    let rows = logged
        .until(
            &store,
            Duration::from_secs(60),
            "five decisions, each predicted",
            |rows| rows.len() == 5 && rows.iter().all(|r| Outcome::of(r) != Outcome::Pending),
        )
        .await;
    for row in &rows[2..] {
        let what = format!("{}/{}", row.project, row.instance);
        assert_eq!(
            Outcome::of(row),
            Outcome::Differs,
            "{what}: predicted {:?}",
            row.predicted_member
        );
        let (scriptlet, number) = (row.revision_scriptlet.unwrap(), row.revision.unwrap());
        assert_eq!(scriptlet, first.0, "the connection's live scriptlet");
        assert_eq!(
            number,
            first.1 + 1,
            "{what}: the revision that ran is the changed one"
        );
        assert_eq!(
            row.predicted_revision,
            Some(first.1),
            "{what}: predicted with the one the capture had"
        );
        assert!(
            messages(row)[0].starts_with("DL2 changed placement"),
            "{what}: {:?}",
            messages(row)
        );
        assert_ne!(row.predicted_member, row.member);
    }
    let source = store
        .revision(first.0, first.1 + 1)
        .await
        .unwrap()
        .unwrap()
        .source;
    assert_eq!(
        source.trim(),
        CHANGED.trim(),
        "the revision kept is the cluster's text"
    );

    // Replaying the decisions made before the change against the changed revision: each
    // lands one member further.
    let revision = format!("{}/{}", first.0, first.1 + 1);
    let until = humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + Duration::from_millis(rows[1].at as u64 + 1),
    )
    .to_string();
    let replay = logged.berth(
        &[
            "decisions",
            "replay",
            "--revision",
            &revision,
            "--filter",
            "connection=bed",
            "--filter",
            &format!("until={until}"),
            "--sandbox-confinement",
            "best-effort",
        ],
        "",
    );
    assert!(replay.status.success(), "{}", text(&replay.stderr));
    let printed = text(&replay.stdout);
    assert!(
        printed
            .trim_end()
            .ends_with("2 instances, 2 changed, 0 new errors"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("default/{}", logged.name("before1"))),
        "{printed}"
    );
}

/// A relay in front of m1's socket: Berth's connection goes through it, and the test cuts it
/// (its socket's link removed, its connections closed) and puts it back.
struct Relay {
    path: PathBuf,
    target: PathBuf,
    accepting: Mutex<Option<tokio::task::JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    fn start(path: PathBuf, target: PathBuf) -> Relay {
        let relay = Relay {
            path,
            target,
            accepting: Mutex::new(None),
            connections: Arc::default(),
        };
        relay.restore();
        relay
    }

    fn restore(&self) {
        let listener = tokio::net::UnixListener::bind(&self.path).unwrap();
        let (target, connections) = (self.target.clone(), self.connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::UnixStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().unwrap().push(relay);
            }
        });
        *self.accepting.lock().unwrap() = Some(task);
    }

    /// No new connection, and every open one closed.
    fn cut(&self) {
        if let Some(task) = self.accepting.lock().unwrap().take() {
            task.abort();
        }
        std::fs::remove_file(&self.path).unwrap();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

async fn gaps(store: &Store) -> Vec<GapRow> {
    store.gaps(Some("bed"), None, None, 50).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_stream_leaves_a_gap_that_a_capture_reconciles() {
    let _turn = TURN.lock().await;
    let Some(bed) = support::testbed() else { return };
    let links = tempfile::tempdir().unwrap();
    let relay = Relay::start(links.path().join("incus.socket"), bed.socket("m1"));
    let remote = format!("unix://{}", relay.path.display());
    let logged = Logged::new("c", Some(&remote), None).unwrap();
    let work = tempfile::tempdir().unwrap();
    let _server = logged.serve(work.path());
    let store = logged.store().await;
    logged.until_listening(&store).await;
    logged.create("live1", "default");
    logged.create("moving", "default");
    logged
        .until(&store, Duration::from_secs(30), "the first two", |rows| {
            rows.len() == 2
        })
        .await;

    relay.cut();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gaps(&store).await.iter().any(|g| g.ended_at.is_none()) {
        assert!(Instant::now() < deadline, "no gap opened when the stream was cut");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Meanwhile, straight on the cluster: two creates and a move Berth does not see.
    logged.create("unseen1", "default");
    logged.create("unseen22", "proj-b");
    let now = logged
        .placements()
        .into_iter()
        .find(|(_, name, _)| *name == logged.name("moving"))
        .unwrap()
        .2;
    let target = ["m1", "m2", "m3"].into_iter().find(|m| *m != now).unwrap();
    logged.incus_move("moving", &["--target", target]);
    let cut_at = Instant::now();
    relay.restore();

    let deadline = Instant::now() + Duration::from_secs(90);
    let closed = loop {
        let all = gaps(&store).await;
        if let Some(gap) = all.iter().find(|g| g.reconciled_at.is_some()) {
            break gap.clone();
        }
        assert!(Instant::now() < deadline, "the gap was not reconciled: {all:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!(
        "the gap was reconciled {:?} after the link came back",
        cut_at.elapsed()
    );
    assert_eq!(closed.reason, "disconnect");
    assert!(closed.ended_at.unwrap() >= closed.started_at);
    assert_eq!(closed.seen_later, Some(3), "{closed:?}");
    let rows = logged.decisions(&store).await;
    let seen: Vec<&DecisionRow> = rows.iter().filter(|r| r.seen_later == 1).collect();
    assert_eq!(seen.len(), 3, "{}", summary(&rows));
    for (project, name, member) in logged.placements() {
        let decision = last_of(&rows, &project, &name);
        assert_eq!(
            decision.member.as_deref(),
            Some(member.as_str()),
            "{project}/{name}"
        );
        if name != logged.name("live1") {
            assert_eq!(decision.seen_later, 1, "{name}");
            assert_eq!(decision.gap_id, Some(closed.id));
            assert_eq!(decision.operation, "seen-later");
            assert_eq!(messages(decision).len(), 0, "no lines invented");
            assert_eq!(Outcome::of(decision), Outcome::Unpredicted);
        }
    }
    let moved = last_of(&rows, "default", &logged.name("moving"));
    assert_eq!(
        (moved.reason.as_str(), moved.from_member.as_deref()),
        ("relocation", Some(now.as_str()))
    );

    // Held again: what follows is recorded as it happens.
    logged.create("after", "default");
    let rows = logged
        .until(
            &store,
            Duration::from_secs(30),
            "the create after the gap",
            |rows| {
                rows.iter()
                    .any(|r| r.instance == logged.name("after") && Outcome::of(r) == Outcome::Agrees)
            },
        )
        .await;
    assert_eq!(last_of(&rows, "default", &logged.name("after")).seen_later, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_listener_and_the_other_takes_over_after_kill_9() {
    let _turn = TURN.lock().await;
    let database = TestDatabase::fresh(Backend::Postgres).await;
    let Some(logged) = Logged::new("d", None, Some(database.text.clone())) else {
        return;
    };
    let (work_a, work_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut replicas = vec![
        Some(logged.serve(work_a.path())),
        Some(logged.serve(work_b.path())),
    ];
    let store = logged.store().await;
    logged.until_listening(&store).await;
    // Exactly one listens: its process is the holder.
    let holder = store.listener("bed").await.unwrap().unwrap().holder;
    let pids: Vec<u32> = replicas.iter().map(|r| r.as_ref().unwrap().id()).collect();
    let listening = pids
        .iter()
        .position(|pid| holder.starts_with(&format!("{pid}-")))
        .unwrap_or_else(|| panic!("{holder} is neither of {pids:?}"));
    logged.create("one1", "default");
    logged
        .until(&store, Duration::from_secs(30), "the first create", |rows| {
            rows.len() == 1
        })
        .await;

    let killed_at = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pids[listening].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    replicas[listening] = None;
    // While nobody listens: a create the new holder will see later.
    logged.create("unseen22", "default");

    let deadline = Instant::now() + Duration::from_secs(60);
    let took_over = loop {
        let now = store.listener("bed").await.unwrap().unwrap();
        if now.holder != holder && now.state == "listening" {
            break now;
        }
        assert!(Instant::now() < deadline, "nobody took over from {holder}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let other = pids[1 - listening];
    assert!(
        took_over.holder.starts_with(&format!("{other}-")),
        "{}",
        took_over.holder
    );
    eprintln!(
        "the other replica listened {:?} after kill -9",
        killed_at.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let gap = loop {
        let all = gaps(&store).await;
        if let Some(gap) = all
            .iter()
            .find(|g| g.reason == "handover" && g.reconciled_at.is_some())
        {
            break gap.clone();
        }
        assert!(Instant::now() < deadline, "no reconciled handover: {all:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(gap.detail.contains(&holder), "{}", gap.detail);
    assert_eq!(gap.seen_later, Some(1), "{gap:?}");
    logged.create("three333", "default");
    let rows = logged
        .until(
            &store,
            Duration::from_secs(30),
            "the create after the takeover",
            |rows| {
                rows.iter()
                    .any(|r| r.instance == logged.name("three333") && Outcome::of(r) == Outcome::Agrees)
            },
        )
        .await;
    for (project, name, member) in logged.placements() {
        assert_eq!(
            last_of(&rows, &project, &name).member.as_deref(),
            Some(member.as_str()),
            "{name}"
        );
    }
    assert_eq!(last_of(&rows, "default", &logged.name("unseen22")).seen_later, 1);
    drop(replicas);
}
