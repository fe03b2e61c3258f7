//! The template library (`templates/`): every template's golden cases pass on the demo
//! through `berth check` for each Incus version Berth imitates; `berth serve --demo` stores the
//! templates as scriptlets once, audited as the command line's; the new-scriptlet page offers
//! them and opens one.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::{Method, StatusCode};
use berth_core::access::Role;
use berth_core::templates::{template, TEMPLATES};
use berth_server::demo::store_demo;
use serde_json::json;
use support::TestApp;

const VERSIONS: [&str; 3] = ["6.0.4", "6.6.0", "7.0.0"];

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates")
}

fn berth(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .output()
        .expect("berth runs")
}

/// The repository's `templates/` holds the files the binary embeds, and no other.
#[test]
fn the_library_embeds_every_file_of_the_templates_directory() {
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(templates_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        files.insert(name);
    }
    let mut listed = BTreeSet::new();
    for template in TEMPLATES {
        for (file, embedded) in [
            (format!("{}.star", template.name), template.source),
            (format!("{}.cases.json", template.name), template.cases),
        ] {
            let text = std::fs::read_to_string(templates_dir().join(&file)).unwrap();
            assert_eq!(text, embedded, "{file}");
            listed.insert(file);
        }
    }
    assert_eq!(files, listed);
}

#[test]
fn every_templates_golden_cases_pass_on_the_demo_for_each_version() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo.json");
    let written = berth(&["snapshot", "demo", "--output", demo.to_str().unwrap()]);
    assert!(written.status.success(), "{written:?}");
    for template in TEMPLATES {
        let source = templates_dir().join(format!("{}.star", template.name));
        let cases = templates_dir().join(format!("{}.cases.json", template.name));
        let count = serde_json::from_str::<Vec<serde_json::Value>>(template.cases)
            .unwrap()
            .len();
        for version in VERSIONS {
            let output = berth(&[
                "check",
                source.to_str().unwrap(),
                "--snapshot",
                demo.to_str().unwrap(),
                "--cases",
                cases.to_str().unwrap(),
                "--incus-version",
                version,
                "--scriptlet-time-limit-ms",
                "20000",
            ]);
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "{} on {version}:\n{stdout}{stderr}",
                template.name
            );
            assert!(
                stdout.trim_end().ends_with(&format!("{count} passed, 0 failed")),
                "{} on {version}:\n{stdout}{stderr}",
                template.name
            );
            // Accepted without a fidelity warning either.
            assert!(
                !stderr.contains("warning"),
                "{} on {version}: {stderr}",
                template.name
            );
        }
    }
}

/// The picker's option for `template` (`""`: the plain start): its link, decoded, and whether
/// it is marked as the current one.
fn option(page: &str, template: &str) -> (String, bool) {
    let marker = format!("data-template=\"{template}\"");
    let anchor = page
        .split("<a ")
        .map(|anchor| anchor.split('>').next().unwrap())
        .find(|anchor| anchor.contains(&marker))
        .unwrap_or_else(|| panic!("no option {template:?}"));
    let href = anchor.split("href=\"").nth(1).unwrap().split('"').next().unwrap();
    let href = percent_encoding::percent_decode_str(&href.replace("&amp;", "&"))
        .decode_utf8()
        .unwrap()
        .into_owned();
    (href, anchor.contains("aria-current=\"page\""))
}

async fn scriptlets(app: &TestApp) -> Vec<serde_json::Value> {
    let response = app.get("/api/v1/scriptlets").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json().as_array().unwrap().clone()
}

/// `serve --demo` stores each template once, by name, as the command line: a second start
/// stores nothing, and a scriptlet an author gave a template's name first is left as it is.
/// `load-ceiling` comes with an earlier revision, so the Impact page has two to compare.
#[tokio::test]
async fn the_demo_stores_the_templates_once_as_the_command_line() {
    let app = TestApp::empty().await;
    let mine = app
        .post_json(
            "/api/v1/scriptlets",
            &json!({"name": "anti-affinity", "source": "# mine\n"}),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);

    let first = store_demo(&app.auth).await.unwrap();
    assert!(first.snapshot_new);
    assert_eq!(first.scriptlets_new, TEMPLATES.len() - 1);
    let again = store_demo(&app.auth).await.unwrap();
    assert_eq!(
        (again.snapshot_id, again.snapshot_new),
        (first.snapshot_id, false)
    );
    assert_eq!(again.scriptlets_new, 0);

    let stored = scriptlets(&app).await;
    let names: BTreeSet<&str> = stored.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = TEMPLATES.iter().map(|t| t.name).collect();
    assert_eq!(names, expected);
    for scriptlet in &stored {
        let name = scriptlet["name"].as_str().unwrap();
        let view = app
            .get(&format!("/api/v1/scriptlets/{}", scriptlet["id"]))
            .await
            .json();
        match name {
            "anti-affinity" => {
                assert_eq!(view["source"], "# mine\n");
                assert_eq!(scriptlet["created_by"], "admin");
            }
            _ => {
                assert_eq!(view["source"], template(name).unwrap().source, "{name}");
                assert_eq!(scriptlet["created_by"], "command line", "{name}");
                let revisions = if name == "load-ceiling" { 2 } else { 1 };
                assert_eq!(scriptlet["revisions"], revisions, "{name}");
            }
        }
    }
    let ceiling = stored.iter().find(|s| s["name"] == "load-ceiling").unwrap();
    let earlier = app
        .get(&format!("/api/v1/scriptlets/{}/revisions/1", ceiling["id"]))
        .await
        .json();
    assert!(
        earlier["source"]
            .as_str()
            .unwrap()
            .contains("MAX_LOAD_PERCENT = 100\n"),
        "{earlier}"
    );

    // Audited once each, in the transaction that stored it, as the command line.
    let audit = app.get("/api/v1/audit?kind=scriptlet").await;
    let entries = audit.json();
    let by_command_line: Vec<(&str, &str)> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["user"].is_null())
        .map(|entry| {
            (
                entry["kind"].as_str().unwrap(),
                entry["subject"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let mut expected: Vec<(&str, &str)> = TEMPLATES
        .iter()
        .filter(|t| t.name != "anti-affinity")
        .map(|t| ("scriptlet.created", t.name))
        .collect();
    expected.push(("scriptlet.revised", "load-ceiling"));
    let mut seen = by_command_line.clone();
    seen.sort_unstable();
    expected.sort_unstable();
    assert_eq!(seen, expected, "{entries:#}");
    let snapshots = app.get("/api/v1/audit?kind=snapshot").await.json();
    assert_eq!(snapshots.as_array().unwrap().len(), 1, "{snapshots:#}");
}

/// Replicas starting with `--demo` on one database at once: each template is stored by one of
/// them, and the load ceiling gets its second revision once.
#[tokio::test]
async fn replicas_starting_together_store_each_template_once() {
    let app = TestApp::empty().await;
    let (one, other) = tokio::join!(store_demo(&app.auth), store_demo(&app.auth));
    let (one, other) = (one.unwrap(), other.unwrap());
    assert_eq!(one.scriptlets_new + other.scriptlets_new, TEMPLATES.len());
    let stored = scriptlets(&app).await;
    assert_eq!(stored.len(), TEMPLATES.len());
    for scriptlet in &stored {
        let revisions = if scriptlet["name"] == "load-ceiling" { 2 } else { 1 };
        assert_eq!(scriptlet["revisions"], revisions, "{scriptlet}");
    }
}

/// "New scriptlet" lists the templates (title, one line, a link that keeps the snapshot and
/// scenario), opens the one named in the URL, and answers 404 for a name it does not know.
/// The list is an author's: a viewer is refused it.
#[tokio::test]
async fn the_new_scriptlet_page_offers_the_templates_and_opens_one() {
    let app = TestApp::with_demo().await;
    let page = app
        .get("/scriptlets/new?snapshot=1&kind=create&project=web")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"data-test="template-picker""#),
        "{}",
        page.body
    );
    for template in TEMPLATES {
        assert!(page.body.contains(template.title()), "{}", template.name);
        assert!(page.body.contains(template.summary), "{}", template.name);
        assert_eq!(
            option(&page.body, template.name).0,
            format!(
                "/scriptlets/new?snapshot=1&kind=create&project=web&template={}",
                template.name
            )
        );
    }
    // The plain start, the current one.
    assert_eq!(
        option(&page.body, ""),
        (
            "/scriptlets/new?snapshot=1&kind=create&project=web".to_owned(),
            true
        )
    );

    let names = || TEMPLATES.iter().map(|template| template.name).chain([""]);
    let opened = app
        .get("/scriptlets/new?snapshot=1&kind=create&project=web&template=load-ceiling")
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.body.contains("MAX_LOAD_PERCENT = 80"), "{}", opened.body);
    let current: Vec<&str> = names().filter(|name| option(&opened.body, name).1).collect();
    assert_eq!(current, ["load-ceiling"]);
    // The sandbox ran it: the web create lands on hv-e01, hv-e02 (98 %) passed over.
    assert!(opened.body.contains("hv-e01 is under 80%"), "{}", opened.body);

    // Started from the snapshot's live scriptlet: no option is the current one.
    let live = app.get("/scriptlets/new?snapshot=1&from=live").await;
    assert_eq!(live.status, StatusCode::OK);
    assert!(live.body.contains("def app_spread"), "the demo's live scriptlet");
    assert!(names().all(|name| !option(&live.body, name).1));
    assert_eq!(
        option(&live.body, "every-reason").0,
        "/scriptlets/new?snapshot=1&template=every-reason"
    );

    let unknown = app.get("/scriptlets/new?template=nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("there is no template"), "{}", unknown.body);

    let listed = app.get("/api/scriptlet_templates").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let names: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, TEMPLATES.iter().map(|t| t.name).collect::<Vec<_>>());
    let viewer = app.user("vera", Role::Viewer).await;
    let refused = app
        .send_as(&viewer, Method::GET, "/api/scriptlet_templates", None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
