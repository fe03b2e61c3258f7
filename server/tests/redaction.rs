//! Secrets in snapshots, as an attacker with an account would look for them: a snapshot whose
//! server, members, projects, profiles and instances hold planted secret values
//! (`environment.*`, `cloud-init.*`, keys named like passwords, tokens or keys), and a saved
//! scriptlet that prints every config it can reach and fails quoting them. Every GET route of
//! the router (pages and server functions included, the editor's Matrix tab too), the sandbox,
//! simulations, evaluations, impact replays and reason × version matrices are fetched as every
//! role, and no answer may carry a planted value. The one
//! way out is the explicit unredacted export, which only admins get, and which is audited.

use crate::support;

use axum::http::{Method, StatusCode};
use berth_core::access::Role;
use berth_core::Snapshot;
use berth_server::http::access::Surface;
use berth_server::http::route_rules;
use serde_json::{json, Value};
use support::{Client, TestApp, TestResponse};

/// Planted values of at least [`berth_core::redact::MIN_SCRUBBED_BYTES`] bytes, one per place
/// a secret can be, by the key they are planted under.
const PLANTED: &[(&str, &str)] = &[
    ("environment.DB_PASSWORD", "planted-db-password-7f3a"),
    ("user.api_token", "planted-api-token-41d8"),
    ("user.deploy_key", "planted-deploy-key-c0de"),
    ("cloud-init.user-data", "planted-cloud-init-9b2c"),
    ("environment.PROFILE_SECRET", "planted-profile-secret-beef"),
    ("user.project_token", "planted-project-token-d00d"),
    ("user.member_password", "planted-member-password-f00d"),
    ("oidc.client.secret", "planted-server-secret-feed"),
];

/// A config value that is no secret: kept everywhere.
const KEPT: (&str, &str) = ("volatile.uuid", "kept-volatile-uuid-6a6a");

fn value_of(key: &str) -> &'static str {
    PLANTED.iter().find(|(k, _)| *k == key).unwrap().1
}

/// The demo with the values planted: the first instance's own config (and expanded config),
/// cloud-init data spanning lines, a profile, a project, a member and the server.
fn planted_snapshot() -> Snapshot {
    let mut snapshot = berth_core::demo::demo_snapshot();
    let index = planted_instance(&snapshot);
    let instance = &mut snapshot.instances[index];
    // Stopped, so that it can be moved across projects in the sandbox.
    instance.status = "Stopped".into();
    let user_data = format!(
        "#cloud-config\nusers:\n  - name: app\n    passwd: {}\n",
        value_of("cloud-init.user-data")
    );
    for config in [&mut instance.config, &mut instance.expanded_config] {
        for key in ["environment.DB_PASSWORD", "user.api_token", "user.deploy_key"] {
            config.insert(key.into(), value_of(key).into());
        }
        config.insert("cloud-init.user-data".into(), user_data.clone());
        config.insert(KEPT.0.into(), KEPT.1.into());
    }
    snapshot.profiles[0].config.insert(
        "environment.PROFILE_SECRET".into(),
        value_of("environment.PROFILE_SECRET").into(),
    );
    snapshot.projects[0]
        .config
        .insert("user.project_token".into(), value_of("user.project_token").into());
    snapshot.members[0].config.insert(
        "user.member_password".into(),
        value_of("user.member_password").into(),
    );
    snapshot
        .server
        .config
        .insert("oidc.client.secret".into(), value_of("oidc.client.secret").into());
    snapshot.validate().unwrap();
    snapshot
}

/// The instance holding the secrets: one of the default project with the `default` profile
/// alone, which `web` (profiles of its own) has too, so it can be moved there in the sandbox.
fn planted_instance(snapshot: &Snapshot) -> usize {
    snapshot
        .instances
        .iter()
        .position(|instance| instance.project == "default" && instance.profiles == ["default"])
        .expect("the demo has such an instance")
}

/// Prints every config the scriptlet can reach: the request's, every instance's of its project,
/// the project's, the profiles'; revision 2 also fails quoting the request's config.
fn leaking_source(fails: bool) -> String {
    let fail = if fails {
        "    fail(\"leaking \", request.config)\n"
    } else {
        ""
    };
    format!(
        "def instance_placement(request, candidate_members):\n    \
         log_info(\"request \", request.config)\n    \
         for instance in get_instances(project=request.project):\n        \
         log_info(instance.name, \" \", instance.config)\n    \
         log_info(\"project \", get_project(request.project).config)\n\
         {fail}    \
         set_target(candidate_members[0].server_name)\n"
    )
}

/// No planted value in `body` (and the check means something: the key it was planted under is
/// what a reader would look for).
fn assert_clean(what: &str, body: &str) {
    for (key, value) in PLANTED {
        assert!(!body.contains(value), "{what} shows {key}'s value: {body}");
    }
}

/// A value only a new instance's own configuration holds (its create's request): not in the
/// snapshot, scrubbed from the decisions all the same.
const NEW_INSTANCE_SECRET: (&str, &str) = ("environment.NEW_SECRET", "planted-new-instance-secret-5eed");

/// The decision log of a connection `lab` to the planted cluster: a capture (the planted
/// snapshot) and two placements whose scriptlet printed secret values, one of an instance with
/// a secret of its own, one predicted with an error quoting a value.
async fn plant_decisions(app: &TestApp, instance: &berth_core::model::Instance) {
    use berth_server::db::{ConnectionRecord, NewDecision, PredictionWrite};
    support::logs::secret(NEW_INSTANCE_SECRET.1);
    let store = &app.store;
    let record = ConnectionRecord {
        name: "lab".into(),
        remote: "unix:///var/lib/incus/unix.socket".into(),
        client_cert: None,
        client_key: None,
        server_cert: None,
        server_ca: None,
        server_fingerprint: None,
        created_by: "root".into(),
        created_at: 1,
        decision_log: 1,
    };
    let added = app.auth.audit().entry(
        &berth_server::audit::Actor::command_line(),
        berth_server::audit::AuditKind::ConnectionAdded,
        Some("lab"),
        json!({}),
    );
    store.insert_connection(&record, &added).await.unwrap();
    store.record_capture("lab", 1, 1, 2).await.unwrap();
    let printed = json!([
        {"level": "info", "message": format!("request {{\"environment.DB_PASSWORD\": \"{}\"}}", value_of("environment.DB_PASSWORD"))},
        {"level": "warn", "message": format!("the token is {}", value_of("user.api_token"))},
        {"level": "error", "message": format!("new instance's {}", NEW_INSTANCE_SECRET.1)},
    ]);
    let mut create = berth_core::simulate::CreateOperation {
        project: instance.project.clone(),
        name: "dl-new".into(),
        architecture: "x86_64".into(),
        ..Default::default()
    };
    create
        .config
        .insert(NEW_INSTANCE_SECRET.0.into(), NEW_INSTANCE_SECRET.1.into());
    create.config.insert(
        "environment.DB_PASSWORD".into(),
        value_of("environment.DB_PASSWORD").into(),
    );
    let decision = |name: &str, at: i64| NewDecision {
        connection: "lab".into(),
        at,
        operation: "instance-created".into(),
        reason: "new".into(),
        project: instance.project.clone(),
        instance: name.into(),
        member: Some(instance.location.clone()),
        from_project: None,
        from_member: None,
        runs_on: Some(instance.location.clone()),
        logs: printed.to_string(),
        seen_later: false,
        gap_id: None,
        revision: None,
        request: Some(serde_json::to_string(&create).unwrap()),
        unpredictable: None,
    };
    let ids = store
        .insert_decisions(&[decision("dl-new", 10), decision("dl-other", 20)], 30)
        .await
        .unwrap();
    let row = store.decision(ids[1]).await.unwrap().unwrap();
    let refused = PredictionWrite {
        snapshot_id: Some(1),
        error: Some(format!("scriptlet refused: {}", value_of("user.deploy_key"))),
        agrees: Some(false),
        ..PredictionWrite::default()
    };
    assert!(store
        .record_prediction(row.id, row.updated_at, &refused, 40)
        .await
        .unwrap());
}

struct Planted {
    app: TestApp,
    /// Project, name and member of the instance holding the secrets, and another project to
    /// move it to.
    project: String,
    name: String,
    member: String,
    other_project: String,
    /// The saved scriptlet: revision 1 prints, revision 2 also fails.
    scriptlet: i64,
}

async fn planted_app() -> Planted {
    let app = TestApp::empty().await;
    for (_, value) in PLANTED {
        support::logs::secret(value);
    }
    let snapshot = planted_snapshot();
    let id = app.insert_snapshot(&snapshot).await;
    assert_eq!(id, 1);
    let created = app
        .post_json(
            "/api/v1/scriptlets",
            &json!({"name": "leaky", "source": leaking_source(false)}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let scriptlet = created.json()["id"].as_i64().unwrap();
    let revised = app
        .post_json(
            &format!("/api/v1/scriptlets/{scriptlet}/revisions"),
            &json!({"source": leaking_source(true), "message": "fails too"}),
        )
        .await;
    assert_eq!(revised.status, StatusCode::CREATED, "{}", revised.body);
    for role in Role::ALL.into_iter().filter(|role| *role != Role::Admin) {
        app.auth
            .add_user(
                &berth_server::audit::Actor::command_line(),
                role.as_str(),
                role,
                &support::password_of(role.as_str()),
            )
            .await
            .unwrap();
    }
    let instance = &snapshot.instances[planted_instance(&snapshot)];
    plant_decisions(&app, instance).await;
    let other_project = "web".to_owned();
    Planted {
        other_project,
        project: instance.project.clone(),
        name: instance.name.clone(),
        member: instance.location.clone(),
        scriptlet,
        app,
    }
}

impl Planted {
    async fn client(&self, role: Role) -> Client {
        self.app
            .sign_in(role.as_str(), &support::password_of(role.as_str()))
            .await
    }

    /// Every GET the router answers, with its parameters filled so that each names the
    /// planted snapshot and the leaking scriptlet, and the queries the pages run with.
    fn reads(&self) -> Vec<String> {
        let (snapshot, scriptlet) = (1, self.scriptlet);
        let mut uris: Vec<String> = route_rules(&self.app.state)
            .into_iter()
            .filter(|rule| rule.method == Method::GET)
            // The impact stream needs its link (below); a page needs no parameters. The
            // decisions' tail never ends: `decisions_show_no_secret_…` reads it.
            .filter(|rule| rule.path != "/api/v1/impact/events" && rule.path != "/api/v1/decisions/events")
            .map(|rule| {
                let uri = rule
                    .path
                    .replace("{id}", &scriptlet.to_string())
                    .replace("{number}", "2")
                    .replace("{name}", "nobody");
                match (rule.surface, uri.as_str()) {
                    (_, "/api/v1/snapshots/1") => uri,
                    (Surface::ServerFunction, _) => {
                        format!("{uri}?snapshot_id={snapshot}&id={scriptlet}&incus_version=6.0.4")
                    }
                    _ => uri,
                }
            })
            .collect();
        uris.extend([
            format!("/api/v1/snapshots/{snapshot}"),
            format!("/api/v1/snapshots/{snapshot}?redact=true"),
            format!("/?snapshot={snapshot}"),
            format!(
                "/scriptlets/{scriptlet}?rev=1&snapshot={snapshot}&kind=evacuate&member={}",
                self.member
            ),
            format!(
                "/scriptlets/{scriptlet}?rev=2&snapshot={snapshot}&kind=move&instance={}/{}&target_project={}",
                self.project, self.name, self.other_project
            ),
            format!(
                "/scriptlets/{scriptlet}?rev=2&snapshot={snapshot}&tab=matrix&versions=6.0.4,6.6&{}",
                self.matrix_picks()
            ),
            format!("/impact?snapshot={snapshot}&scriptlet={scriptlet}&from=1&to=2"),
            format!("/api/v1/impact/events?snapshot={snapshot}&scriptlet={scriptlet}&from=1&to=2"),
            format!("/api/v1/scriptlets/{scriptlet}/revisions/2?download=true"),
            "/decisions?connection=lab".into(),
            "/api/v1/decisions?connection=lab".into(),
            "/api/decisions_page?query[connection]=lab".into(),
        ]);
        uris
    }

    /// The Matrix tab's instance per situation: the planted one wherever it fits, so that each
    /// request the matrix makes carries its secrets.
    fn matrix_picks(&self) -> String {
        [
            "create",
            "create-member",
            "create-group",
            "move-member",
            "move-project",
            "evacuate",
        ]
        .iter()
        .map(|situation| format!("pick-{situation}={}/{}", self.project, self.name))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// What an author (and every role above) may run on the snapshot: the sandbox, a simulation,
    /// an evaluation, an impact replay, a reason × version matrix; each with the leaking
    /// scriptlet.
    async fn runs(&self, client: &Client) -> Vec<(String, TestResponse)> {
        let app = &self.app;
        let source = leaking_source(true);
        let evacuate = json!([{"kind": "evacuate", "member": self.member}]);
        let mut answers = Vec::new();
        for mode in ["upstream", "corrected"] {
            let simulate = json!({"snapshot_id": 1, "source": source, "mode": mode, "ops": evacuate});
            answers.push((
                format!("simulate {mode}"),
                app.send_as(client, Method::POST, "/api/v1/simulate", Some(simulate))
                    .await,
            ));
        }
        let evaluate = json!({
            "snapshot_id": 1,
            "source": source,
            "request": {"reason": "new", "project": self.project, "name": "probe"},
            "candidates": [self.member],
        });
        answers.push((
            "evaluate".into(),
            app.send_as(
                client,
                Method::POST,
                "/api/v1/scriptlets/evaluate",
                Some(evaluate),
            )
            .await,
        ));
        let planted = format!("{}/{}", self.project, self.name);
        let matrix = json!({
            "snapshot_id": 1,
            "source": source,
            "versions": ["6.0.4", "6.6"],
            "instances": {"create": planted, "move-member": planted, "move-project": planted, "evacuate": planted},
        });
        answers.push((
            "matrix".into(),
            app.send_as(client, Method::POST, "/api/v1/scriptlets/matrix", Some(matrix))
                .await,
        ));
        let impact = json!({"snapshot_id": 1, "from": {"source": ""}, "to": {"source": source}});
        answers.push((
            "impact".into(),
            app.send_as(client, Method::POST, "/api/v1/impact", Some(impact))
                .await,
        ));
        let scenario = json!({
            "source": source,
            "scenario": {
                "snapshot_id": 1, "kind": "move", "project": self.project, "name": self.name,
                "target_project": self.other_project, "target": "", "member": "", "incus_version": "", "ops": "",
            },
        });
        let request = app
            .request(client, Method::POST, "/api/sandbox_run")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(serde_urlencoded_scenario(&scenario)))
            .unwrap();
        answers.push(("sandbox_run".into(), app.send(request).await));
        // Golden cases (an evacuation: each request carries an instance's config) and the
        // fuzzer (its first call is a create with the profile holding a secret), both through
        // the API and the editor's server functions; a direct call in the sandbox.
        let cases = json!([{"name": "leak", "op": {"kind": "evacuate", "member": self.member}}]);
        answers.push((
            "cases".into(),
            app.send_as(
                client,
                Method::POST,
                "/api/v1/scriptlets/cases",
                Some(json!({"snapshot_id": 1, "source": source, "cases": cases})),
            )
            .await,
        ));
        // The fuzzer shrinks a failing call to what the failure needs: this one needs the
        // profile's secret in the request, and quotes it.
        let fuzzed = "def instance_placement(request, candidate_members):\n    \
                      if \"environment.PROFILE_SECRET\" in request.config:\n        \
                      fail(\"leaking \", request.config)\n";
        answers.push((
            "fuzz".into(),
            app.send_as(
                client,
                Method::POST,
                "/api/v1/scriptlets/fuzz",
                Some(json!({"snapshot_id": 1, "source": fuzzed, "time_ms": 200})),
            )
            .await,
        ));
        let form = |pairs: &[(&str, &str)]| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        };
        for (function, body) in [
            (
                "/api/run_cases",
                form(&[
                    ("source", &source),
                    ("snapshot_id", "1"),
                    ("incus_version", ""),
                    ("cases", &cases.to_string()),
                ]),
            ),
            (
                "/api/fuzz_scriptlet",
                form(&[
                    ("source", fuzzed),
                    ("snapshot_id", "1"),
                    ("incus_versions", ""),
                    ("state", ""),
                ]),
            ),
        ] {
            let request = app
                .request(client, Method::POST, function)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap();
            answers.push((function.into(), app.send(request).await));
        }
        let call = json!({
            "request": {"reason": "evacuation", "project": self.project, "name": self.name},
            "candidates": [self.member],
        });
        let mut scenario = scenario;
        scenario["scenario"]["call"] = json!(call.to_string());
        let request = app
            .request(client, Method::POST, "/api/sandbox_run")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(serde_urlencoded_scenario(&scenario)))
            .unwrap();
        answers.push(("sandbox_run of a call".into(), app.send(request).await));
        answers
    }
}

/// The sandbox server function's form body (Leptos's default encoding for it).
fn serde_urlencoded_scenario(value: &Value) -> String {
    let mut pairs = vec![("source".to_owned(), value["source"].as_str().unwrap().to_owned())];
    for (key, field) in value["scenario"].as_object().unwrap() {
        let text = match field {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        pairs.push((format!("scenario[{key}]"), text));
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[tokio::test]
async fn no_role_reads_a_secret_on_any_page_or_route() {
    let planted = planted_app().await;
    let reads = planted.reads();
    assert!(reads.len() > 30, "{} reads", reads.len());
    for role in Role::ALL {
        let client = planted.client(role).await;
        let mut answered = 0;
        for uri in &reads {
            let response = planted.app.send_as(&client, Method::GET, uri, None).await;
            if response.status == StatusCode::OK {
                answered += 1;
            }
            assert_clean(
                &format!("GET {uri} as {role} ({})", response.status),
                &response.body,
            );
        }
        assert!(answered > 20, "{role}: only {answered} reads answered");
    }
}

#[tokio::test]
async fn what_scriptlets_print_of_a_secret_is_redacted_for_every_role() {
    let planted = planted_app().await;
    for role in [Role::Author, Role::Reviewer, Role::Operator, Role::Admin] {
        let client = planted.client(role).await;
        for (what, response) in planted.runs(&client).await {
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{what} as {role}: {}",
                response.body
            );
            assert_clean(&format!("{what} as {role}"), &response.body);
            // The check bites: the scriptlet did print configs, now redacted.
            assert!(
                response.body.contains("[redacted: "),
                "{what} as {role} shows no redaction: {}",
                response.body
            );
        }
    }
    // The runs really read the planted instance: its non-secret value comes through.
    let client = planted.client(Role::Author).await;
    let simulate = json!({
        "snapshot_id": 1, "source": leaking_source(false),
        "ops": [{"kind": "evacuate", "member": planted.member}],
    });
    let answer = planted
        .app
        .send_as(&client, Method::POST, "/api/v1/simulate", Some(simulate))
        .await;
    assert!(answer.body.contains(KEPT.1), "{}", answer.body);
    let request = answer.json()["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|call| call["instance"] == format!("{}/{}", planted.project, planted.name))
        .map(|call| call["request"]["config"].clone())
        .expect("the planted instance was evacuated");
    assert_eq!(
        request["environment.DB_PASSWORD"],
        format!("[redacted: {} bytes]", value_of("environment.DB_PASSWORD").len())
    );
}

#[tokio::test]
async fn only_admins_export_the_secrets_and_that_export_is_audited() {
    let planted = planted_app().await;
    for role in [Role::Viewer, Role::Author, Role::Reviewer, Role::Operator] {
        let client = planted.client(role).await;
        let refused = planted
            .app
            .send_as(&client, Method::GET, "/api/v1/snapshots/1?redact=false", None)
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{role}: {}", refused.body);
        assert!(
            refused.json()["error"].as_str().unwrap().contains("admins"),
            "{}",
            refused.body
        );
        assert_clean(&format!("the refusal for {role}"), &refused.body);
        let redacted = planted
            .app
            .send_as(&client, Method::GET, "/api/v1/snapshots/1", None)
            .await;
        assert_eq!(redacted.status, StatusCode::OK);
        assert_clean(&format!("the export for {role}"), &redacted.body);
        assert!(redacted.body.contains(KEPT.1), "what is no secret is kept");
        let exported: Snapshot = serde_json::from_str(&redacted.body).unwrap();
        assert_eq!(
            exported.instances[planted_instance(&exported)].config["environment.DB_PASSWORD"],
            format!("[redacted: {} bytes]", value_of("environment.DB_PASSWORD").len()),
            "keys and sizes are kept"
        );
    }
    assert!(
        exports(&planted.app).await.is_empty(),
        "redacted exports and refusals are not audited"
    );

    let admin = planted.client(Role::Admin).await;
    let redacted = planted
        .app
        .send_as(&admin, Method::GET, "/api/v1/snapshots/1", None)
        .await;
    assert_clean("the admin's default export", &redacted.body);
    let full = planted
        .app
        .send_as(&admin, Method::GET, "/api/v1/snapshots/1?redact=false", None)
        .await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.body);
    for (key, value) in PLANTED {
        assert!(full.body.contains(value), "the unredacted export has {key}");
    }
    assert_eq!(full.headers["cache-control"], "no-store");
    assert!(full.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("snapshot-1.json"));
    let entries = exports(&planted.app).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].actor.as_deref(), Some("admin"));
    let detail: Value = serde_json::from_str(&entries[0].detail).unwrap();
    assert_eq!(detail["snapshot_id"], 1);
    assert_eq!(detail["redacted"], false);
    assert_eq!(detail["content_hash"], planted_snapshot().content_hash());
}

async fn exports(app: &TestApp) -> Vec<berth_server::db::AuditEntry> {
    app.store
        .audit_entries(&berth_server::db::AuditFilter {
            kind: Some("snapshot.exported".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn decisions_show_no_secret_a_scriptlet_printed_or_an_instance_holds() {
    use axum::body::Body;
    use http_body_util::BodyExt;

    let planted = planted_app().await;
    let clean = |what: &str, text: &str| {
        assert_clean(what, text);
        assert!(
            !text.contains(NEW_INSTANCE_SECRET.1),
            "{what} shows the new instance's secret: {text}"
        );
    };
    for role in Role::ALL {
        let client = planted.client(role).await;
        let listed = planted
            .app
            .send_as(&client, Method::GET, "/api/v1/decisions?connection=lab", None)
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        clean(&format!("the decisions as {role}"), &listed.body);
        // The check bites: the scriptlet's lines are there, their values replaced.
        assert!(listed.body.contains("the token is [redacted"), "{}", listed.body);
        assert!(
            listed.body.contains("new instance's [redacted"),
            "{}",
            listed.body
        );
        // The way into the sandbox carries the request: its config redacted by key.
        let sandbox = planted
            .app
            .send_as(&client, Method::GET, "/api/v1/decisions/1/sandbox", None)
            .await;
        assert_eq!(sandbox.status, StatusCode::SEE_OTHER, "{}", sandbox.body);
        let location = sandbox.headers["location"].to_str().unwrap();
        let decoded: String = url::form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .map(|(key, value)| format!("{key}={value}&"))
            .collect();
        clean(&format!("the sandbox link as {role}"), &decoded);
        assert!(
            decoded.contains("\"environment.DB_PASSWORD\":\"[redacted"),
            "{decoded}"
        );
    }
    // The live tail sends a decision changed after it opened, scrubbed as the list is.
    let viewer = planted.client(Role::Viewer).await;
    let request = planted
        .app
        .request(&viewer, Method::GET, "/api/v1/decisions/events?connection=lab")
        .body(Body::empty())
        .unwrap();
    let mut body = planted.app.open(request).await.into_body();
    let row = planted.app.store.decision(1).await.unwrap().unwrap();
    let write = berth_server::db::PredictionWrite {
        snapshot_id: Some(1),
        member: row.member.clone(),
        agrees: Some(true),
        ..Default::default()
    };
    planted
        .app
        .store
        .record_prediction(1, row.updated_at, &write, 50)
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("event: decision") || !text.contains("\n\n") {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await
            .expect("an event")
            .unwrap()
            .unwrap();
        if let Some(bytes) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(bytes));
        }
    }
    clean("the live tail", &text);
    assert!(text.contains("the token is [redacted"), "{text}");
}
