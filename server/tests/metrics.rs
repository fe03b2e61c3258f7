//! `GET /metrics`, `/readyz` and the Grafana dashboard: who may scrape (an admin's API token on
//! the main listener, anyone on `--metrics-listen`'s address and nothing else there), what a
//! scrape says after real work (a sandbox run, failed sign-ins, a plan executed on the Incus
//! test bed: the counters moved), that labels carry route templates and never raw paths, that
//! readiness follows the database and the workers, and that the dashboard queries only
//! families Berth exports.

use crate::support;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use berth_core::access::Role;
use berth_server::sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use support::process::{client, Server};
use support::{Client, TestApp};

/// The plan test's instance is on the shared test bed: one test at a time touches it.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One sample line of the text format: its name, labels and value.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let value = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let rest = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                    let labels = rest
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                            (key.to_owned(), value.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), Vec::new()),
            };
            Sample { name, labels, value }
        })
        .collect()
}

/// The sum of the series of `name` that carry every label of `wanted`.
fn total(text: &str, name: &str, wanted: &[(&str, &str)]) -> f64 {
    samples(text)
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            wanted
                .iter()
                .all(|(key, value)| sample.labels.iter().any(|(k, v)| k == key && v == value))
        })
        .map(|sample| sample.value)
        .sum()
}

async fn scrape(app: &TestApp, token: &Client) -> String {
    let response = app.send_as(token, Method::GET, "/metrics", None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body
}

#[tokio::test]
async fn the_metrics_need_an_admins_api_token_on_the_main_listener() {
    let app = TestApp::empty().await;
    let anonymous = app
        .send_as(&Client::Anonymous, Method::GET, "/metrics", None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(anonymous.body.contains("admin's API token"), "{}", anonymous.body);
    // The admin's session: a browser's credential, not a scraper's.
    let session = app.send_as(&app.admin, Method::GET, "/metrics", None).await;
    assert_eq!(session.status, StatusCode::UNAUTHORIZED, "{}", session.body);
    assert!(!session.body.contains("berth_"), "{}", session.body);
    for role in [Role::Operator, Role::Viewer] {
        let user = app.user(&format!("{role}-user"), role).await;
        let token = app.token_for(&user, "scraper").await;
        let refused = app.send_as(&token, Method::GET, "/metrics", None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{role}'s token");
        assert!(!refused.body.contains("berth_"), "{}", refused.body);
    }
    let unknown = Client::Token("not-a-token".into());
    assert_eq!(
        app.send_as(&unknown, Method::GET, "/metrics", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let token = app.token_for(&app.admin, "scraper").await;
    let response = app.send_as(&token, Method::GET, "/metrics", None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    for sample in samples(&response.body) {
        assert!(sample.name.starts_with("berth_"), "{}", sample.name);
    }
    for family in [
        "# TYPE berth_http_requests_total counter",
        "# TYPE berth_http_request_duration_seconds histogram",
        "# TYPE berth_login_failures_total counter",
        "# TYPE berth_plan_executions_total counter",
        "# TYPE berth_plan_moves_total counter",
        "# TYPE berth_sandbox_queue_depth gauge",
        "# TYPE berth_db_pool_connections gauge",
    ] {
        assert!(response.body.contains(family), "{family}");
    }
    // The pool's use is read at the scrape: this store's pool has opened connections.
    assert!(total(&response.body, "berth_db_pool_max_connections", &[]) >= 1.0);
    // The refusals above were counted, under the route's template and their status.
    assert!(
        total(
            &response.body,
            "berth_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ) >= 5.0
    );
    // A revoked admin token no longer reads them.
    let tokens = app.send_as(&app.admin, Method::GET, "/api/v1/tokens", None).await;
    let id = tokens.json().as_array().unwrap()[0]["id"].as_i64().unwrap();
    let revoked = app
        .send_as(&app.admin, Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    assert_eq!(
        app.send_as(&token, Method::GET, "/metrics", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn route_labels_are_templates_never_raw_paths_or_client_chosen_methods() {
    let app = TestApp::empty().await;
    let token = app.token_for(&app.admin, "scraper").await;
    let marker = format!("zq{}x", std::process::id());
    for uri in [
        format!("/api/v1/plans/{}", 900_000_000 + std::process::id()),
        format!("/plans/{marker}"),
        format!("/pkg/{marker}.js"),
        format!("/nowhere/{marker}?user={marker}"),
    ] {
        app.send_as(&token, Method::GET, &uri, None).await;
    }
    let odd = app
        .request(
            &token,
            Method::from_bytes(b"PROPFIND").unwrap(),
            &format!("/{marker}"),
        )
        .body(Body::empty())
        .unwrap();
    app.send(odd).await;

    let text = scrape(&app, &token).await;
    assert!(!text.contains(&marker), "a raw path in the labels");
    assert!(
        !text.contains(&(900_000_000 + std::process::id()).to_string()),
        "an id in the labels"
    );
    let routes: BTreeSet<String> = samples(&text)
        .into_iter()
        .filter(|sample| sample.name == "berth_http_requests_total")
        .flat_map(|sample| sample.labels)
        .filter(|(key, _)| key == "route")
        .map(|(_, value)| value)
        .collect();
    assert!(routes.contains("/api/v1/plans/{id}"), "{routes:?}");
    assert!(routes.contains("/plans/{id}"), "{routes:?}");
    assert!(routes.contains("unmatched"), "{routes:?}");
    assert!(
        total(
            &text,
            "berth_http_requests_total",
            &[("method", "other"), ("route", "unmatched")]
        ) >= 1.0
    );
    assert!(!text.contains("PROPFIND"));
}

#[tokio::test]
async fn a_sandbox_run_and_failed_sign_ins_move_their_counters() {
    let app = TestApp::with_demo().await;
    let token = app.token_for(&app.admin, "scraper").await;
    let before = scrape(&app, &token).await;

    let placement = json!({
        "snapshot_id": 1,
        "source": "def instance_placement(request, candidate_members):\n    set_target(candidate_members[0].server_name)\n",
        "request": {"reason": "new", "project": "web", "name": "api-1", "type": "container", "config": {}},
        "candidates": ["hv-a01", "hv-a02"],
    });
    let evaluated = app.post_json("/api/v1/scriptlets/evaluate", &placement).await;
    assert_eq!(evaluated.status, StatusCode::OK, "{}", evaluated.body);
    assert_eq!(evaluated.json()["evaluation"]["target"], "hv-a01");
    let wrong = app.try_sign_in("admin", "not-the-password", None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let unusable = app.try_sign_in("no such name!", "whatever", None).await;
    assert!(unusable.status.is_client_error());

    let after = scrape(&app, &token).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| total(&after, name, labels) - total(&before, name, labels);
    let evaluate = [("pool", "authors"), ("job", "evaluate"), ("outcome", "reply")];
    assert!(moved("berth_sandbox_job_duration_seconds_count", &evaluate) >= 1.0);
    assert!(moved("berth_sandbox_queue_wait_seconds_count", &[("pool", "authors")]) >= 1.0);
    assert!(
        total(
            &after,
            "berth_sandbox_worker_starts_total",
            &[("pool", "authors")]
        ) >= 1.0
    );
    assert!(total(&after, "berth_sandbox_workers_max", &[("pool", "authors")]) >= 1.0);
    let evaluated = [
        ("method", "POST"),
        ("route", "/api/v1/scriptlets/evaluate"),
        ("status", "200"),
    ];
    assert!(moved("berth_http_requests_total", &evaluated) >= 1.0);
    assert!(
        moved(
            "berth_http_request_duration_seconds_count",
            &[("route", "/api/v1/scriptlets/evaluate")]
        ) >= 1.0
    );
    assert!(moved("berth_login_failures_total", &[("reason", "bad_credentials")]) >= 1.0);
    assert!(moved("berth_login_failures_total", &[("reason", "unusable_username")]) >= 1.0);
    // The username tried is no label: failures are counted by reason only.
    assert!(!after.contains("no such name"));
}

#[tokio::test]
async fn readyz_follows_the_database_and_healthz_stays_alive() {
    let app = TestApp::empty().await;
    let ready = app
        .send_as(&Client::Anonymous, Method::GET, "/readyz", None)
        .await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body, "ready\n");
    let alive = app
        .send_as(&Client::Anonymous, Method::GET, "/healthz", None)
        .await;
    assert_eq!((alive.status, alive.body.as_str()), (StatusCode::OK, "ok\n"));

    app.store.close().await;
    let gone = app
        .send_as(&Client::Anonymous, Method::GET, "/readyz", None)
        .await;
    assert_eq!(gone.status, StatusCode::SERVICE_UNAVAILABLE, "{}", gone.body);
    assert!(
        gone.body.contains("the database does not answer"),
        "{}",
        gone.body
    );
    // Nothing of the database's own error reaches an anonymous client.
    assert!(!gone.body.to_lowercase().contains("pool"), "{}", gone.body);
}

#[tokio::test]
async fn workers_answer_readiness_unless_none_can_start() {
    let working = Sandbox::named(
        SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into()),
        "readiness-test",
    );
    assert!(working.answers().await);
    let broken = Sandbox::named(
        SandboxConfig::new("/nonexistent/berth".into()),
        "readiness-test-broken",
    );
    assert!(!broken.answers().await);
}

/// `/readyz` is public: a client asking it in a burst costs one small job and at most one
/// worker started, not one per request.
#[tokio::test]
async fn a_burst_of_readiness_probes_costs_one_job() {
    let pool = "readiness-burst";
    let sandbox = Sandbox::named(SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into()), pool);
    let answers = futures::future::join_all((0..20).map(|_| sandbox.answers())).await;
    assert!(answers.iter().all(|answered| *answered));
    let metrics = berth_server::metrics::metrics();
    let jobs = metrics
        .sandbox_job_duration
        .with_label_values(&[pool, "check", "reply"])
        .get_sample_count();
    assert_eq!(jobs, 1);
    let started = metrics.sandbox_worker_starts.with_label_values(&[pool]).get();
    assert_eq!(started, 1);
}

#[tokio::test]
async fn metrics_listen_serves_only_the_metrics_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let site = support::process::site(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&[
        "--demo",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--site-root",
        &site,
    ]);
    let (said, url) = server.wait_until_running();
    if let Some(password) = said
        .iter()
        .find_map(|line| line.strip_prefix("Sign in as admin with the password "))
    {
        support::logs::secret(password.split_whitespace().next().unwrap());
    }
    let metrics_url = said
        .iter()
        .find_map(|line| line.strip_prefix("Metrics are served at "))
        .unwrap_or_else(|| panic!("{said:?}"))
        .to_owned();
    assert!(metrics_url.starts_with("http://127.0.0.1:"), "{metrics_url}");
    assert_ne!(metrics_url, format!("{url}/metrics"));

    let http = client(None);
    let scraped = http.get(&metrics_url).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert_eq!(
        scraped.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains("# TYPE berth_login_failures_total counter"),
        "{text}"
    );
    // Each pool started a worker at start.
    for pool in ["authors", "plans"] {
        assert!(total(&text, "berth_sandbox_worker_starts_total", &[("pool", pool)]) >= 1.0);
    }

    // The main listener still asks for a token; the metrics address serves nothing else.
    let main = http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(main.status(), 401);
    let base = metrics_url.trim_end_matches("/metrics");
    for path in ["/api/v1/me", "/", "/readyz", "/api/v1/users"] {
        let other = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(other.status(), 404, "{path} on the metrics address");
    }
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// Deletes the test's instance from the test bed whichever project it ended in.
struct Instance<'a> {
    bed: &'a support::TestBed,
    name: String,
}

impl Drop for Instance<'_> {
    fn drop(&mut self) {
        for project in ["default", "proj-b"] {
            support::incus_cli::incus(self.bed, &["delete", "--force", &self.name, "--project", project]);
        }
    }
}

/// A plan executed on the Incus test bed through the API: the capture, the plan pool's jobs,
/// the execution and its move are counted.
#[tokio::test]
async fn a_plan_execution_moves_the_plan_counters() {
    let _turn = TURN.lock().await;
    let Some(bed) = support::testbed() else { return };
    let app = TestApp::empty().await;
    let token = app.token_for(&app.admin, "scraper").await;
    let instance = Instance {
        bed,
        name: format!("mx{}-one", std::process::id() % 100_000),
    };
    let created = support::incus_cli::incus(bed, &["create", "busybox", &instance.name, "--target", "m1"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let (ann, rita, otto) = (
        app.user("ann", Role::Author).await,
        app.user("rita", Role::Reviewer).await,
        app.user("otto", Role::Operator).await,
    );
    let connection = json!({ "name": "bed", "remote": format!("unix://{}", bed.socket("m1").display()) });
    let added = app
        .send_as(&app.admin, Method::POST, "/api/v1/connections", Some(connection))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let before = scrape(&app, &token).await;

    let new = json!({ "name": "metrics plan", "connection": "bed",
        "moves": [{ "project": "default", "name": instance.name, "target_project": "proj-b", "target": "" }] });
    let plan = app.send_as(&ann, Method::POST, "/api/v1/plans", Some(new)).await;
    assert_eq!(plan.status, StatusCode::CREATED, "{}", plan.body);
    let id = plan.json()["id"].as_i64().unwrap();
    let at = |action: &str| format!("/api/v1/plans/{id}/{action}");
    let previewed = app.send_as(&ann, Method::POST, &at("preview"), None).await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.body);
    let submitted = app.send_as(&ann, Method::POST, &at("submit"), None).await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.body);
    let version = app
        .send_as(&ann, Method::GET, &format!("/api/v1/plans/{id}"), None)
        .await
        .json()["version"]
        .clone();
    let approved = app
        .send_as(
            &rita,
            Method::POST,
            &at("approve"),
            Some(json!({ "version": version })),
        )
        .await;
    assert_eq!(approved.json()["state"], "approved", "{}", approved.body);
    let started = app.send_as(&otto, Method::POST, &at("execute"), None).await;
    assert_eq!(started.json()["state"], "executing", "{}", started.body);
    // The event stream ends with the plan's final state.
    let events = app.send_as(&otto, Method::GET, &at("events"), None).await;
    let last: Value = events
        .body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .next_back()
        .map(|data| serde_json::from_str(data).unwrap())
        .unwrap_or_else(|| panic!("{}", events.body));
    assert_eq!(last["state"], "succeeded", "{last:#}");

    let after = scrape(&app, &token).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| total(&after, name, labels) - total(&before, name, labels);
    assert_eq!(
        moved("berth_plan_executions_total", &[("outcome", "succeeded")]),
        1.0
    );
    assert_eq!(moved("berth_plan_moves_total", &[("outcome", "succeeded")]), 1.0);
    assert_eq!(moved("berth_plan_moves_total", &[("outcome", "failed")]), 0.0);
    // The preview and the move each read the cluster fresh, and decided on the plans' workers.
    assert!(moved("berth_capture_duration_seconds_count", &[("outcome", "ok")]) >= 2.0);
    assert!(moved("berth_sandbox_job_duration_seconds_count", &[("pool", "plans")]) >= 1.0);
    assert!(
        moved(
            "berth_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/api/v1/plans/{id}/execute"),
                ("status", "200")
            ]
        ) >= 1.0
    );
}

/// The dashboard in `docs/`: a Grafana JSON model for the Prometheus datasource of its
/// importer, with a panel for every family, querying only families Berth exports.
#[test]
fn the_grafana_dashboard_queries_only_what_berth_exports_and_shows_every_family() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(dashboard["schemaVersion"].as_i64().unwrap() >= 36);
    assert!(dashboard["uid"].as_str().is_some_and(|uid| !uid.is_empty()));
    let inputs = dashboard["__inputs"].as_array().unwrap();
    assert!(
        inputs
            .iter()
            .any(|input| input["name"] == "DS_PROMETHEUS" && input["pluginId"] == "prometheus"),
        "{inputs:?}"
    );
    let families: BTreeSet<String> = berth_server::metrics::metrics()
        .family_names()
        .iter()
        .cloned()
        .collect();
    let family_of = |series: &str| -> Option<String> {
        if families.contains(series) {
            return Some(series.to_owned());
        }
        ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| series.strip_suffix(suffix))
            .find(|family| families.contains(*family))
            .map(str::to_owned)
    };
    let mut shown = BTreeSet::new();
    let panels = dashboard["panels"].as_array().unwrap();
    let mut queries = 0;
    for panel in panels.iter().filter(|panel| panel["type"] != "row") {
        let title = panel["title"].as_str().unwrap();
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{title}"));
        assert!(!targets.is_empty(), "{title}");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{title}"));
            queries += 1;
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with("berth_"))
                .collect();
            assert!(!names.is_empty(), "{title}: {expr}");
            for name in names {
                let family = family_of(name).unwrap_or_else(|| panic!("{title}: {name} is not exported"));
                shown.insert(family);
            }
        }
    }
    assert!(queries >= families.len() / 2, "{queries} queries");
    let missing: Vec<&String> = families.difference(&shown).collect();
    assert!(missing.is_empty(), "families without a panel: {missing:?}");
}
