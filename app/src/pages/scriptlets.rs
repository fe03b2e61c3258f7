//! Scriptlets: `/scriptlets` (the list, importing a cluster's live scriptlet), `/scriptlets/new`
//! and `/scriptlets/{id}` (the editor with the sandbox beside it), `/scriptlets/{id}/diff`
//! (a line diff between two revisions).
//!
//! A new scriptlet starts from a working placement, from a snapshot's live scriptlet
//! (`?from=live`), or from a template of the library (`?template=NAME`, chosen in the picker
//! above the editor: links, so the choice is in the URL and works without JavaScript).
//!
//! The editor page's state is in its URL: `rev` (the revision opened), and the sandbox
//! scenario (`snapshot`, `kind`, `project`, `name`, `instance`, `target_project`, `target`,
//! `member`, `version`, `ops`, or `call`: one placement call), so a link shows the same
//! result to whoever opens it. Below the sandbox, golden cases and the fuzzer
//! (`components::checks`); the lines they cover are marked in the editor's gutter. The
//! server renders the scriptlet and the last result; once hydrated, every edit re-runs the
//! sandbox (at most one run in flight; edits made meanwhile are run together next).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::params::ParamsMap;
use leptos_router::NavigateOptions;

use crate::api::{
    completion_schema, create_scriptlet, get_sandbox_setup, get_scriptlet, list_scriptlet_templates,
    list_scriptlets, run_sandbox, save_revision, scriptlet_diff,
};
use crate::components::checks::Checks;
use crate::components::code_editor::{CodeEditor, CursorRequest};
use crate::components::error_notice::ErrorNotice;
use crate::components::feedback::hydration_flag;
use crate::components::lazy_panel::{details_opened, lazy_panel, split_fn};
use crate::components::matrix::{matrix_panel, SandboxTabs};
use crate::components::timeline::{DiagnosticLine, GoTo, Timeline};
use crate::error::BerthError;
use crate::format;
use crate::query::query_string;
use crate::resource::page_resource;
use crate::types::{
    CoverageView, DiffView, RevisionView, SandboxRun, SandboxSetup, Scenario, ScriptletSummary,
    ScriptletView, TemplateView, Viewer,
};
use crate::ViewerResource;

/// What a new scriptlet starts with: a working placement, so the sandbox shows a result at once.
pub const TEMPLATE: &str = r#"def instance_placement(request, candidate_members):
    # Place the instance on the candidate running the fewest instances.
    best = None
    best_count = 0
    for member in candidate_members:
        count = get_instances_count(location=member.server_name)
        if best == None or count < best_count:
            best = member.server_name
            best_count = count
    if best != None:
        log_info("placing ", request.name, " on ", best)
        set_target(best)
"#;

#[component]
pub fn ScriptletsPage() -> impl IntoView {
    let scriptlets = page_resource(|| (), |()| list_scriptlets());
    let viewer = expect_context::<ViewerResource>();
    let hydrated = hydration_flag();
    view! {
        <Title text="Scriptlets"/>
        <section class="page" data-test="scriptlets-page" data-hydrated=move || hydrated.get().to_string()>
            <header class="page-head">
                <h1>"Scriptlets"</h1>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let may_edit = viewer.await.ok().flatten().is_some_and(|v| v.may("edit_scriptlets"));
                        may_edit.then(|| view! {
                            <A href="/scriptlets/new" attr:class="button primary" attr:data-test="new-scriptlet">"New scriptlet"</A>
                        })
                    })}
                </Suspense>
            </header>
            <p class="muted">
                "Placement scriptlets with their revisions. Open one to edit it beside the sandbox, "
                "which shows every call Incus would make on a snapshot."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading scriptlets…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        scriptlets.await.map(|list| view! { <ScriptletTable list/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn ScriptletTable(list: Vec<ScriptletSummary>) -> impl IntoView {
    if list.is_empty() {
        return view! {
            <p class="empty" data-test="no-scriptlets">
                "No scriptlet yet. Start a new one, or open a snapshot's live scriptlet from the editor."
            </p>
        }
        .into_any();
    }
    view! {
        <table class="table" data-test="scriptlet-list">
            <thead><tr><th>"Name"</th><th>"Revisions"</th><th>"Last change"</th><th>"By"</th></tr></thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|scriptlet| view! {
                        <tr>
                            <td><A href=format!("/scriptlets/{}", scriptlet.id) attr:data-test="scriptlet-link">{scriptlet.name}</A></td>
                            <td>{scriptlet.revisions}</td>
                            <td>{format::timestamp(&scriptlet.updated_at)}</td>
                            <td>{scriptlet.updated_by}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The sandbox scenario the URL describes.
fn scenario_of(query: &ParamsMap) -> Scenario {
    let text = |key: &str| query.get(key).unwrap_or_default();
    let (mut project, mut name) = (text("project"), text("name"));
    // A move or a rebalance names its instance as `project/name` (one field with a picker);
    // a create has its own project and name fields (both are in the form, one row hidden).
    if matches!(text("kind").as_str(), "move" | "rebalance") {
        let instance = text("instance");
        let (p, n) = instance.split_once('/').unwrap_or(("", instance.as_str()));
        project = p.to_owned();
        name = n.to_owned();
    }
    Scenario {
        snapshot_id: query.get("snapshot").and_then(|id| id.parse().ok()),
        kind: text("kind"),
        project,
        name,
        target_project: text("target_project"),
        target: text("target"),
        member: text("member"),
        incus_version: text("version"),
        ops: text("ops"),
        call: text("call"),
    }
}

#[component]
pub fn NewScriptletPage() -> impl IntoView {
    view! { <Workspace id=None/> }
}

#[component]
pub fn ScriptletPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<i64>().ok()));
    move || match id.get() {
        Some(id) => view! { <Workspace id=Some(id)/> }.into_any(),
        None => view! { <p class="notice error">"There is no such scriptlet."</p> }.into_any(),
    }
}

/// What the editor opens with: a saved scriptlet's revision, or a new scriptlet's first text
/// with the templates it may start from instead. Serialized into the page for hydration.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Opened {
    initial: String,
    document: Option<ScriptletView>,
    /// The template library (empty for a saved scriptlet).
    templates: Vec<TemplateView>,
    /// Where a new scriptlet's text came from.
    start: Start,
}

#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Start {
    /// [`TEMPLATE`], the plain working placement (and a saved scriptlet's text).
    Plain,
    /// The template of this name.
    Template(String),
    /// A snapshot's live scriptlet.
    Live,
}

/// The editor and the sandbox for one scriptlet (`None`: a new one, not saved yet).
#[component]
fn Workspace(id: Option<i64>) -> impl IntoView {
    let query = use_query_map();
    let revision = Memo::new(move |_| query.read().get("rev").and_then(|rev| rev.parse::<i64>().ok()));
    // `/scriptlets/new?from=live&snapshot=ID` starts from the scriptlet the cluster had set.
    let live_from = Memo::new(move |_| {
        let query = query.read();
        (query.get("from").as_deref() == Some("live"))
            .then(|| query.get("snapshot").and_then(|id| id.parse::<i64>().ok()))
    });
    // `/scriptlets/new?template=NAME` starts from a template of the library.
    let template = Memo::new(move |_| query.read().get("template").filter(|name| !name.is_empty()));
    let document = page_resource(
        move || (revision.get(), live_from.get(), template.get()),
        move |(revision, live_from, template)| async move {
            let Some(id) = id else {
                return open_new(live_from, template).await;
            };
            get_scriptlet(id, revision).await.map(|doc| Opened {
                initial: doc.source.clone(),
                document: Some(doc),
                templates: Vec::new(),
                start: Start::Plain,
            })
        },
    );
    let viewer = expect_context::<ViewerResource>();
    let hydrated = hydration_flag();
    view! {
        <Title text=if id.is_some() { "Scriptlet" } else { "New scriptlet" }/>
        <div class="page workspace" data-test="workspace" data-hydrated=move || hydrated.get().to_string()>
            <Suspense fallback=|| view! { <p class="loading">"Loading the scriptlet…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        let viewer = viewer.await.ok().flatten();
                        document.await.map(|opened| view! { <Workbench id opened viewer/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </div>
    }
}

/// A new scriptlet's first text: the live scriptlet of a snapshot, a template, or [`TEMPLATE`].
async fn open_new(live_from: Option<Option<i64>>, template: Option<String>) -> Result<Opened, BerthError> {
    let templates = list_scriptlet_templates().await?;
    let (initial, start) = match (live_from, template) {
        (Some(snapshot), _) => (get_sandbox_setup(snapshot).await?.live_scriptlet, Start::Live),
        (None, Some(name)) => {
            let source = templates
                .iter()
                .find(|candidate| candidate.name == name)
                .map(|found| found.source.clone())
                .ok_or_else(|| BerthError::NotFound(format!("there is no template {name:?}")))?;
            (source, Start::Template(name))
        }
        (None, None) => (TEMPLATE.to_owned(), Start::Plain),
    };
    Ok(Opened {
        initial,
        document: None,
        templates,
        start,
    })
}

#[component]
fn Workbench(opened: Opened, id: Option<i64>, viewer: Option<Viewer>) -> impl IntoView {
    let Opened {
        initial,
        document,
        templates,
        start,
    } = opened;
    let template_name = match &start {
        Start::Template(name) => name.clone(),
        Start::Plain | Start::Live => String::new(),
    };
    let may = |action: &str| viewer.as_ref().is_some_and(|viewer| viewer.may(action));
    let (may_edit, may_run) = (may("edit_scriptlets"), may("run_sandbox"));
    let query = use_query_map();
    let scenario = Memo::new(move |_| scenario_of(&query.read()));
    // The sandbox's Matrix tab (`tab=matrix`); the scenario's stays mounted, hidden, so the
    // editor keeps its diagnostics.
    let matrix_tab = Signal::derive(move || may_run && query.read().get_str("tab") == Some("matrix"));
    let source = RwSignal::new(initial.clone());
    let edited = RwSignal::new(false);

    // The result for the scenario as the URL has it (rendered on the server), replaced by the
    // result of the newest edit once there is one.
    let first_run = page_resource(
        move || scenario.get(),
        move |scenario| async move {
            if may_run {
                run_sandbox(source.get_untracked(), scenario).await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    let live_run = RwSignal::new(None::<SandboxRun>);
    let live_error = RwSignal::new(None::<String>);
    let runs = RwSignal::new(0u64);
    Effect::watch(move || scenario.get(), move |_, _, _| live_run.set(None), false);
    let busy = StoredValue::new(false);
    let again = StoredValue::new(false);
    let rerun = move || {
        if !may_run {
            return;
        }
        if busy.get_value() {
            again.set_value(true);
            return;
        }
        busy.set_value(true);
        spawn_local(async move {
            loop {
                again.set_value(false);
                let asked = scenario.get_untracked();
                let result = run_sandbox(source.get_untracked(), asked.clone()).await;
                // A run for a scenario the page has left since is not shown.
                if scenario.get_untracked() == asked {
                    match result {
                        Ok(run) => {
                            live_error.set(None);
                            live_run.set(Some(run));
                        }
                        Err(error) => live_error.set(Some(error.to_string())),
                    }
                }
                runs.update(|n| *n += 1);
                if !again.get_value() {
                    break;
                }
            }
            busy.set_value(false);
        });
    };
    let on_change = Callback::new(move |text: String| {
        source.set(text);
        edited.set(true);
        rerun();
    });
    // The first run's result as a plain signal, set where the sandbox pane awaits it: the
    // editor pane reads only signals, so a new scenario's run never suspends (and remounts)
    // the editor.
    let first_value = RwSignal::new(None::<SandboxRun>);
    let shown_run = Signal::derive(move || live_run.get().or_else(|| first_value.get()));
    let diagnostics = Signal::derive(move || {
        shown_run.with(|run| {
            run.as_ref()
                .map(|run| run.diagnostics.clone())
                .unwrap_or_default()
        })
    });
    let version = Memo::new(move |_| shown_run.with(|run| run.as_ref().map(|run| run.incus_version.clone())));
    // The completion schema of the version the sandbox imitates, fetched when it changes.
    let schema = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(version) = version.get() {
            spawn_local(async move {
                if let Ok(json) = completion_schema(version).await {
                    schema.set(Some(json));
                }
            });
        }
    });
    // The lines the last golden cases or fuzz run covered, marked in the editor's gutter.
    let coverage = RwSignal::new(None::<CoverageView>);
    let cursor = RwSignal::new(None::<CursorRequest>);
    let go_to: GoTo = Callback::new(move |(line, column): (usize, usize)| {
        cursor.update(|cursor| {
            let seq = cursor.map_or(1, |c| c.seq + 1);
            *cursor = Some(CursorRequest { line, column, seq });
        });
    });

    let name = document.as_ref().map(|doc| doc.name.clone());
    // What the editor holds: the revision opened, until a save makes the text a new one (the
    // badge, the list and the diff link follow without reloading the page and the sandbox).
    let shown_revision = RwSignal::new(document.as_ref().map(|doc| doc.revision));
    let revisions = RwSignal::new(
        document
            .as_ref()
            .map(|doc| doc.revisions.clone())
            .unwrap_or_default(),
    );
    let newest = Memo::new(move |_| revisions.with(|list| list.first().map(|r| r.number)));
    let on_saved = Callback::new(move |saved: RevisionView| {
        shown_revision.set(Some(saved.number));
        revisions.update(|list| list.insert(0, saved));
    });
    view! {
        <div class="workbench">
            <section class="editor-pane" aria-label="Scriptlet">
                <header class="pane-head">
                    <h1 data-test="scriptlet-name">{name.clone().unwrap_or_else(|| "New scriptlet".into())}</h1>
                    {move || shown_revision.get().map(|rev| view! {
                        <span class="badge" data-test="revision">{format!("revision {rev}")}</span>
                        {(Some(rev) != newest.get()).then(|| view! { <span class="badge warn">"not the newest"</span> })}
                    })}
                    {(!may_edit).then(|| view! { <span class="badge" data-test="read-only">"read-only"</span> })}
                </header>
                {(id.is_none() && !templates.is_empty()).then(|| view! {
                    <TemplatePicker templates start=start.clone()/>
                })}
                <CodeEditor
                    initial
                    read_only=Signal::derive(move || !may_edit)
                    on_change
                    diagnostics
                    schema=schema.into()
                    cursor=cursor.into()
                    coverage=coverage.into()
                />
                <Diagnostics run=shown_run go_to/>
                {may_edit.then(|| view! { <SaveBar id source edited initial_name=template_name.clone() on_saved/> })}
                {id.map(|id| view! { <Revisions id revisions shown=shown_revision name=name.clone().unwrap_or_default()/> })}
            </section>
            <section class="sandbox-pane" aria-label="Sandbox" data-test="sandbox" data-runs=move || runs.get().to_string()>
                {may_run.then(|| view! { <SandboxTabs matrix=matrix_tab/> })}
                <div id="sandbox-scenario" class="sandbox-panel" role=may_run.then_some("tabpanel")
                    aria-labelledby=may_run.then_some("tab-scenario") hidden=move || matrix_tab.get()>
                <ScenarioForm scenario/>
                {move || (!scenario.with(|s| s.call.is_empty())).then(|| view! {
                    <p class="notice" data-test="call-scenario">
                        "The sandbox runs one placement call (a golden case's, a fuzz finding's). Run a scenario from the form to leave it."
                    </p>
                })}
                {move || live_error.get().map(|error| view! { <p class="notice error" role="alert">{error}</p> })}
                {if may_run {
                    view! {
                        <Transition fallback=|| view! { <p class="loading">"Running…"</p> }>
                            <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                                {move || Suspend::new(async move {
                                    first_run.await.map(|run| {
                                        first_value.set(run);
                                        view! { <RunResult run=shown_run go_to/> }
                                    })
                                })}
                            </ErrorBoundary>
                        </Transition>
                        <Checks source scenario coverage go_to/>
                    }
                    .into_any()
                } else {
                    view! {
                        <p class="notice" data-test="no-sandbox">"Your role may read scriptlets but not run the sandbox."</p>
                    }
                    .into_any()
                }}
                </div>
                {move || matrix_tab.get().then(|| view! {
                    <div id="sandbox-matrix" class="sandbox-panel" role="tabpanel" aria-labelledby="tab-matrix">
                        {lazy_panel(move || matrix_panel(source, go_to, coverage))}
                    </div>
                })}
            </section>
        </div>
    }
    .into_any()
}

#[component]
fn Diagnostics(run: Signal<Option<SandboxRun>>, go_to: GoTo) -> impl IntoView {
    move || {
        let diagnostics = run.with(|run| {
            run.as_ref()
                .map(|run| run.diagnostics.clone())
                .unwrap_or_default()
        });
        (!diagnostics.is_empty()).then(|| {
            view! {
                <div class="diagnostics" data-test="diagnostics">
                    {diagnostics
                        .into_iter()
                        .map(|diagnostic| view! { <DiagnosticLine diagnostic go_to/> })
                        .collect_view()}
                </div>
            }
        })
    }
}

/// The templates a new scriptlet may start from, as links to `/scriptlets/new?template=NAME`
/// with the rest of the URL (the snapshot and the scenario) kept; the first starts from the
/// plain working placement. Following one replaces the editor's text. It is open until the
/// text comes from somewhere else than the plain start.
#[component]
fn TemplatePicker(templates: Vec<TemplateView>, start: Start) -> impl IntoView {
    let query = use_query_map();
    let link = move |name: Option<&str>| {
        let mut params = query.get_untracked();
        params.remove("from");
        match name {
            Some(name) => params.replace("template", name.to_owned()),
            None => {
                params.remove("template");
            }
        }
        format!("/scriptlets/new{}", query_string(&params))
    };
    let current = |name: Option<&str>| {
        let is_current = match (&start, name) {
            (Start::Plain, None) => true,
            (Start::Template(chosen), Some(name)) => chosen == name,
            _ => false,
        };
        is_current.then_some("page")
    };
    let option = |href: String, name: &str, title: String, summary: String, current: Option<&'static str>| {
        view! {
            <li>
                // A plain link (the router still navigates in place): `<A>` would mark every
                // one as the current page, as they share the path.
                <a href=href class="template-option" data-test="template-option" data-template=name.to_owned() aria-current=current>
                    <strong>{title}</strong>
                    <span class="muted small">{summary}</span>
                </a>
            </li>
        }
    };
    view! {
        <details class="template-picker" data-test="template-picker" open=start == Start::Plain>
            <summary>"Start from a template"</summary>
            <ul class="template-options">
                {option(
                    link(None),
                    "",
                    "Fewest instances".to_owned(),
                    "The candidate running the fewest instances: the plain starting point".to_owned(),
                    current(None),
                )}
                {templates
                    .into_iter()
                    .map(|template| {
                        let is_current = current(Some(&template.name));
                        option(link(Some(&template.name)), &template.name, template.title, template.summary, is_current)
                    })
                    .collect_view()}
            </ul>
        </details>
    }
}

/// What a save answered: the revision saved, or the scriptlet created.
#[derive(Clone)]
enum Saved {
    Revision(RevisionView),
    Created(i64),
}

split_fn! {
    /// Saves the editor's text: a revision of scriptlet `id`, or a new scriptlet named `name`. A
    /// wasm module of its own, loaded at the first save (issue 22's weight budget: most visits to
    /// the editor save nothing); should it not load, the save fails with the reason like any
    /// failed call, and the page goes on with the text.
    fn save(id: Option<i64>, name: String, source: String, message: String) -> Saved,
    in save_scriptlet
    {
        match id {
            Some(id) => save_revision(id, source, message).await.map(Saved::Revision),
            None => create_scriptlet(name, source, message)
                .await
                .map(|created| Saved::Created(created.id)),
        }
    }
}

#[component]
fn SaveBar(
    id: Option<i64>,
    source: RwSignal<String>,
    edited: RwSignal<bool>,
    initial_name: String,
    on_saved: Callback<RevisionView>,
) -> impl IntoView {
    let message = RwSignal::new(String::new());
    // A template's name, until the author names the scriptlet otherwise.
    let scriptlet_name = RwSignal::new(initial_name);
    let pending = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<Saved, BerthError>>);
    let navigate = use_navigate();
    let query = use_query_map();
    let submit = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let navigate = navigate.clone();
        let (name, text, note) = (
            scriptlet_name.get_untracked(),
            source.get_untracked(),
            message.get_untracked(),
        );
        spawn_local(async move {
            let answer = save(id, name, text, note).await;
            pending.set(false);
            match &answer {
                // Saved: the text is a revision now.
                Ok(Saved::Revision(saved)) => {
                    edited.set(false);
                    on_saved.run(saved.clone());
                }
                // A new scriptlet opens on its own page, with the scenario kept.
                Ok(Saved::Created(created)) => {
                    let mut params = query.get_untracked();
                    params.remove("rev");
                    params.remove("from");
                    let search = params.to_query_string();
                    navigate(
                        &format!("/scriptlets/{created}{search}"),
                        NavigateOptions::default(),
                    );
                }
                Err(_) => {}
            }
            outcome.set(Some(answer));
        });
    };
    view! {
        <div class="save-bar form inline">
            {id.is_none().then(|| view! {
                <label>"Name"
                    <input type="text" required maxlength="100" placeholder="spread-by-memory" data-test="scriptlet-name-input"
                        prop:value=move || scriptlet_name.get()
                        on:input=move |ev| scriptlet_name.set(event_target_value(&ev))/>
                </label>
            })}
            <label class="grow">"Message"
                <input type="text" maxlength="200" placeholder="What changed" data-test="revision-message"
                    prop:value=move || message.get()
                    on:input=move |ev| message.set(event_target_value(&ev))/>
            </label>
            <button type="button" class="button primary" data-test="save" disabled=move || pending.get() on:click=submit>
                {if id.is_some() { "Save revision" } else { "Create scriptlet" }}
            </button>
            {move || edited.get().then(|| view! { <span class="muted small">"edited"</span> })}
            {move || outcome.get().map(|result| match result {
                Ok(Saved::Revision(revision)) => view! {
                    <p class="notice ok" role="status" data-test="saved">
                        {format!("Saved revision {}. ", revision.number)}
                        <a href=format!("/scriptlets/{}/diff?from={}&to={}", id.unwrap_or_default(), (revision.number - 1).max(1), revision.number) data-test="saved-diff">
                            "Compare with the previous"
                        </a>
                    </p>
                }.into_any(),
                Ok(Saved::Created(_)) => ().into_any(),
                Err(error) => view! { <p class="notice error" role="alert" data-test="save-error">{error.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn Revisions(
    id: i64,
    revisions: RwSignal<Vec<RevisionView>>,
    shown: RwSignal<Option<i64>>,
    name: String,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let opened = Memo::new(move |_| open.get());
    view! {
        <details class="revisions" data-test="revisions" on:toggle=move |ev| if details_opened(&ev) { open.set(true) }>
            <summary>{move || format!("Revisions ({})", revisions.with(Vec::len))}</summary>
            {move || opened.get().then(|| {
                let name = name.clone();
                lazy_panel(move || revision_list(id, revisions, shown, name.clone()))
            })}
        </details>
    }
}

split_fn! {
    /// The list of revisions, each a link, its diff with the one before and its download: a
    /// wasm module of its own, loaded when the list is first opened.
    fn revision_list(id: i64, revisions: RwSignal<Vec<RevisionView>>, shown: RwSignal<Option<i64>>, name: String) -> AnyView,
    in revision_list
    {
        Ok(revision_rows(id, revisions, shown, name))
    }
}

fn revision_rows(
    id: i64,
    revisions: RwSignal<Vec<RevisionView>>,
    shown: RwSignal<Option<i64>>,
    name: String,
) -> AnyView {
    let query = use_query_map();
    let file_name = format!(
        "{}.star",
        name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_', "-")
    );
    view! {
        <ol class="revision-list">
            {move || revisions
                .get()
                .into_iter()
                .map(|revision| {
                    let file_name = file_name.clone();
                    let number = revision.number;
                    let open = move || {
                        let mut params = query.get();
                        params.insert("rev", number.to_string());
                        format!("/scriptlets/{id}{}", params.to_query_string())
                    };
                    view! {
                        <li class:current=move || Some(number) == shown.get() data-test="revision-row">
                            <A href=open>{format!("r{number}")}</A>
                            " "<span>{revision.message}</span>
                            " "<span class="muted small">{format!("{} · {}", revision.author, format::timestamp(&revision.created_at))}</span>
                            {(number > 1).then(|| view! {
                                " "<A href=format!("/scriptlets/{id}/diff?from={}&to={number}", number - 1) attr:class="small" attr:data-test="revision-diff">"diff"</A>
                            })}
                            " "<a class="small" href=format!("/api/v1/scriptlets/{id}/revisions/{number}?download=true") download=file_name>".star"</a>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}

/// The scenario as a GET form: submitting it changes the URL, which re-runs the sandbox (and
/// works without JavaScript). It keeps the URL's `rev` as it is: a `rev` that changed would
/// open that revision again and drop the text being edited.
#[component]
fn ScenarioForm(scenario: Memo<Scenario>) -> impl IntoView {
    let setup = page_resource(move || scenario.get().snapshot_id, get_sandbox_setup);
    let query = use_query_map();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the snapshot…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                {move || {
                    // Drawn again when the URL's scenario changes without a new snapshot (a
                    // fuzz finding or a matrix cell opened here), so the fields show what runs.
                    let scenario = scenario.get();
                    let revision = query.with_untracked(|query| query.get("rev"));
                    Suspend::new(async move {
                        setup.await.map(|setup| view! { <ScenarioFields setup scenario revision/> })
                    })
                }}
            </ErrorBoundary>
        </Suspense>
    }
}

#[component]
fn ScenarioFields(setup: SandboxSetup, scenario: Scenario, revision: Option<String>) -> impl IntoView {
    let kind = RwSignal::new(if scenario.kind.is_empty() {
        "create".to_owned()
    } else {
        scenario.kind.clone()
    });
    let picks_instance = matches!(scenario.kind.as_str(), "move" | "rebalance");
    let instance_value = if picks_instance && !scenario.name.is_empty() {
        format!("{}/{}", scenario.project, scenario.name)
    } else {
        String::new()
    };
    let snapshot_options = setup
        .snapshots
        .iter()
        .map(|s| {
            let label = format!(
                "#{} {} · {} ({})",
                s.id,
                s.name,
                format::timestamp(&s.captured_at),
                s.source
            );
            view! { <option value=s.id.to_string() selected=s.id == setup.snapshot.id>{label}</option> }
        })
        .collect_view();
    let version_options = {
        let snapshot_version = &setup.snapshot.incus_version;
        // The URL may write the version short (`7.0`, as the matrix and the fuzzer do): the
        // option of the same version is chosen, and a version not offered is added.
        let asked = scenario.incus_version.trim();
        let offered = setup
            .versions
            .iter()
            .find(|version| same_version(version, asked))
            .cloned();
        let unlisted = (!asked.is_empty() && offered.is_none()).then(|| asked.to_owned());
        let chosen = offered.or_else(|| unlisted.clone()).unwrap_or_default();
        view! {
            <option value="" selected=chosen.is_empty()>{format!("snapshot's ({snapshot_version})")}</option>
            {unlisted.map(|version| view! { <option value=version.clone() selected=true>{version.clone()}</option> })}
            {options(&setup.versions, &chosen)}
        }
    };
    let create_project = if scenario.project.is_empty() {
        "default".to_owned()
    } else {
        scenario.project.clone()
    };
    let shown = move |kinds: &'static [&'static str]| move || !kinds.contains(&kind.get().as_str());
    view! {
        <Form method="GET" action="" attr:class="scenario form" attr:data-test="scenario-form">
            {revision.map(|rev| view! { <input type="hidden" name="rev" value=rev/> })}
            <div class="form-row">
                <label>"Snapshot"
                    <select name="snapshot" data-test="scenario-snapshot">{snapshot_options}</select>
                </label>
                <label>"Incus version"
                    <select name="version" data-test="scenario-version">{version_options}</select>
                </label>
                <label>"Scenario"
                    <select name="kind" data-test="scenario-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        {["create", "move", "evacuate", "restore", "rebalance"]
                            .into_iter()
                            .map(|k| view! { <option value=k selected=kind.get_untracked() == k>{k}</option> })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <div class="form-row" class:hidden=shown(&["create"])>
                <label>"Project"
                    <select name="project" data-test="scenario-project">{options(&setup.projects, &create_project)}</select>
                </label>
                <label>"Name"
                    <input type="text" name="name" value=if picks_instance { String::new() } else { scenario.name.clone() } placeholder="sandbox-new"/>
                </label>
            </div>
            <div class="form-row" class:hidden=shown(&["move", "rebalance"])>
                <label class="grow">"Instance"
                    <input type="search" name="instance" list="sandbox-instances" value=instance_value
                        placeholder="project/name — type to search" data-test="scenario-instance"/>
                </label>
            </div>
            <p class="muted small" class:hidden=shown(&["rebalance"])>"Automatic rebalancing exists from Incus 7.0 on: pick a 7.x version."</p>
            <div class="form-row" class:hidden=shown(&["move"])>
                <label>"Target project"
                    <select name="target_project" data-test="scenario-target-project">
                        <option value="" selected=scenario.target_project.is_empty()>"(same project)"</option>
                        {options(&setup.projects, &scenario.target_project)}
                    </select>
                </label>
            </div>
            <div class="form-row" class:hidden=shown(&["create", "move"])>
                <label>"Target"
                    <input type="text" name="target" list="sandbox-targets" value=scenario.target.clone()
                        placeholder="auto, a member or @group" data-test="scenario-target"/>
                </label>
            </div>
            <div class="form-row" class:hidden=shown(&["evacuate", "restore"])>
                <label>"Member"
                    <select name="member" data-test="scenario-member">{options(&setup.members, &scenario.member)}</select>
                </label>
            </div>
            <details class="ops" open=!scenario.ops.is_empty()>
                <summary>"A sequence of operations (JSON, cumulative)"</summary>
                <textarea name="ops" rows="4" class="mono" data-test="scenario-ops"
                    placeholder=r#"[{"kind":"evacuate","member":"hv-a01"},{"kind":"move","project":"default","name":"web-01","target_project":"web"}]"#>
                    {scenario.ops.clone()}
                </textarea>
            </details>
            <datalist id="sandbox-instances">
                {setup
                    .instances
                    .iter()
                    .map(|i| view! { <option value=format!("{}/{}", i.project, i.name)>{format!("{} on {} ({})", i.status, i.member, i.project)}</option> })
                    .collect_view()}
            </datalist>
            <datalist id="sandbox-targets">
                {setup.members.iter().map(|m| view! { <option value=m.clone()/> }).collect_view()}
                {setup.groups.iter().map(|g| view! { <option value=format!("@{g}")/> }).collect_view()}
            </datalist>
            <div class="form-row">
                <button type="submit" class="button primary" data-test="scenario-run">"Run"</button>
                {(!setup.live_scriptlet.is_empty()).then(|| view! {
                    <a class="button" href=format!("/scriptlets/new?from=live&snapshot={}", setup.snapshot.id) data-test="import-live">
                        "New scriptlet from this snapshot's live scriptlet"
                    </a>
                })}
            </div>
        </Form>
    }
    .into_any()
}

/// Whether two Incus versions, as written, are the same one (`7.0` is `7.0.0`, `v6.6` is `6.6`).
fn same_version(a: &str, b: &str) -> bool {
    fn parts(version: &str) -> Vec<&str> {
        let mut parts: Vec<&str> = version.trim().trim_start_matches('v').split('.').collect();
        parts.resize(parts.len().max(3), "0");
        parts
    }
    !a.trim().is_empty() && parts(a) == parts(b)
}

/// `<option>`s for `values`, `chosen` selected.
fn options(values: &[String], chosen: &str) -> impl IntoView {
    values
        .iter()
        .map(|value| view! { <option value=value.clone() selected=value == chosen>{value.clone()}</option> })
        .collect_view()
}

#[component]
fn RunResult(run: Signal<Option<SandboxRun>>, go_to: GoTo) -> impl IntoView {
    move || {
        let Some(run) = run.get() else {
            return view! { <p class="muted">"Nothing has run yet."</p> }.into_any();
        };
        if run.upstream.is_none() {
            let reason = run.error.clone().unwrap_or_else(|| {
                if run.diagnostics.iter().any(|d| d.severity == "error") {
                    "The scriptlet does not compile: fix the errors to see the calls.".to_owned()
                } else {
                    "No result.".to_owned()
                }
            });
            return view! { <p class="notice warn" data-test="no-result">{reason}</p> }.into_any();
        }
        let SandboxRun {
            upstream,
            corrected,
            differences,
            error,
            ..
        } = run;
        let paired = corrected.is_some();
        view! {
            <div class="run-result" data-test="run-result">
                {error.map(|error| view! { <p class="notice error">{error}</p> })}
                {(!differences.is_empty()).then(|| view! {
                    <div class="notice differences" data-test="differences">
                        <h3>"Upstream and corrected"</h3>
                        <ul>{differences.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul>
                    </div>
                })}
                <div class="timelines" class:paired=paired>
                    {upstream.map(|simulation| view! { <Timeline simulation title="What Incus does".to_owned() go_to/> })}
                    {corrected.map(|simulation| view! { <Timeline simulation title="Berth's corrected move".to_owned() go_to/> })}
                </div>
            </div>
        }
        .into_any()
    }
}

#[component]
pub fn DiffPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = Memo::new(move |_| {
        let id = params.read().get("id").and_then(|id| id.parse::<i64>().ok());
        let number = |key: &str| query.read().get(key).and_then(|n| n.parse::<i64>().ok());
        (id, number("from"), number("to"))
    });
    let data = page_resource(
        move || key.get(),
        |(id, from, to)| async move {
            let id =
                id.ok_or_else(|| crate::error::BerthError::NotFound("there is no such scriptlet".into()))?;
            let scriptlet = get_scriptlet(id, None).await?;
            let to = to.unwrap_or(scriptlet.revision);
            let from = from.unwrap_or((to - 1).max(1));
            let diff = scriptlet_diff(id, from, to).await?;
            Ok::<_, crate::error::BerthError>((scriptlet, diff))
        },
    );
    let hydrated = hydration_flag();
    view! {
        <Title text="Compare revisions"/>
        <section class="page" data-test="diff-page" data-hydrated=move || hydrated.get().to_string()>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        data.await.map(|(scriptlet, diff)| view! { <DiffTable scriptlet diff/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn DiffTable(scriptlet: ScriptletView, diff: DiffView) -> impl IntoView {
    let choices = |chosen: i64| {
        scriptlet
            .revisions
            .iter()
            .map(|r| {
                let label = format!("r{} {}", r.number, r.message);
                view! { <option value=r.number.to_string() selected=r.number == chosen>{label}</option> }
            })
            .collect::<Vec<_>>()
    };
    let (from_choices, to_choices) = (choices(diff.from), choices(diff.to));
    view! {
        <header class="page-head">
            <h1>
                <A href=format!("/scriptlets/{}", scriptlet.id)>{scriptlet.name.clone()}</A>
                ": compare revisions"
            </h1>
        </header>
        <Form method="GET" action="" attr:class="form inline">
            <label>"From" <select name="from" data-test="diff-from">{from_choices}</select></label>
            <label>"To" <select name="to" data-test="diff-to">{to_choices}</select></label>
            <button type="submit" class="button">"Compare"</button>
        </Form>
        <p class="muted" data-test="diff-summary">
            {format!("r{} → r{}: {} line(s) added, {} removed", diff.from, diff.to, diff.added, diff.removed)}
        </p>
        <table class="diff mono" data-test="diff">
            <thead class="visually-hidden">
                <tr><th scope="col">"Line before"</th><th scope="col">"Line after"</th><th scope="col">"Change"</th><th scope="col">"Text"</th></tr>
            </thead>
            <tbody>
                {diff
                    .lines
                    .into_iter()
                    .map(|line| {
                        let mark = match line.kind.as_str() {
                            "added" => "+",
                            "removed" => "-",
                            _ => " ",
                        };
                        view! {
                            <tr class=format!("diff-{}", line.kind) data-test=format!("diff-{}", line.kind)>
                                <td class="line-no">{line.old_line.map(|n| n.to_string())}</td>
                                <td class="line-no">{line.new_line.map(|n| n.to_string())}</td>
                                <td class="mark">{mark}</td>
                                <td class="code">{line.text}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::same_version;

    #[test]
    fn a_version_written_short_is_the_same_version() {
        assert!(same_version("7.0.0", "7.0"));
        assert!(same_version("6.6.0", "v6.6"));
        assert!(same_version("6.0.4", "6.0.4"));
        assert!(!same_version("6.0.4", "6.0"));
        assert!(!same_version("6.6.0", "6.7"));
        assert!(!same_version("", ""));
    }
}
