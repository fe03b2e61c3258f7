//! `/snapshots`: the stored snapshots (newest capture first), capturing one now from a
//! configured connection, uploading a snapshot file, exporting (redacted; with its secrets for
//! admins, who alone may, and audited) and deleting (admins).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{list_connections, list_snapshots, CaptureSnapshot, DeleteSnapshot, UploadSnapshot};
use crate::components::error_notice::ErrorNotice;
use crate::components::feedback::{hydration_flag, outcome};
use crate::csrf::CsrfField;
use crate::format;
use crate::resource::page_resource;
use crate::types::{ConnectionView, SnapshotSummary};
use crate::ViewerResource;

#[component]
pub fn SnapshotsPage() -> impl IntoView {
    let upload = ServerAction::<UploadSnapshot>::new();
    let delete = ServerAction::<DeleteSnapshot>::new();
    let capture = ServerAction::<CaptureSnapshot>::new();
    let snapshots = page_resource(
        move || {
            (
                upload.version().get(),
                delete.version().get(),
                capture.version().get(),
            )
        },
        |_| list_snapshots(),
    );
    let connections = page_resource(|| (), |()| list_connections());
    let viewer = expect_context::<ViewerResource>();
    let hydrated = hydration_flag();
    view! {
        <Title text="Snapshots"/>
        <section class="page" data-test="snapshots-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Snapshots"</h1>
            <p class="muted">
                "Every snapshot Berth holds, newest capture first. A snapshot never changes; the same content is stored once."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let viewer = viewer.await.ok().flatten();
                    let may = |action: &str| viewer.as_ref().is_some_and(|viewer| viewer.may(action));
                    let (may_add, may_delete) = (may("add_snapshots"), may("delete_snapshots"));
                    let may_export_secrets = may("export_secrets");
                    let connections = connections.await.unwrap_or_default();
                    view! {
                        {may_add.then(|| view! {
                            <div class="panels two">
                                <CapturePanel connections capture/>
                                <UploadPanel upload/>
                            </div>
                        })}
                        <Suspense fallback=|| view! { <p class="loading">"Loading snapshots…"</p> }>
                            <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                                {move || Suspend::new(async move {
                                    snapshots.await.map(|list| view! { <SnapshotTable list delete may_delete may_export_secrets/> })
                                })}
                            </ErrorBoundary>
                        </Suspense>
                        {outcome(delete, "Snapshot deleted.")}
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CapturePanel(connections: Vec<ConnectionView>, capture: ServerAction<CaptureSnapshot>) -> impl IntoView {
    let empty = connections.is_empty();
    let chosen = RwSignal::new(connections.first().map(|c| c.name.clone()).unwrap_or_default());
    view! {
        <div class="panel" data-test="capture-panel">
            <h2>"Capture now"</h2>
            {if empty {
                view! {
                    <p class="muted" data-test="no-connections">
                        "No connection to a cluster is configured. An admin adds one under "
                        <A href="/settings/connections">"Settings → Connections"</A>"."
                    </p>
                }
                .into_any()
            } else {
                view! {
                    <ActionForm action=capture attr:class="form inline">
                        <CsrfField/>
                        <label>"Connection"
                            <select name="connection" data-test="capture-connection" on:change=move |ev| chosen.set(event_target_value(&ev))>
                                {connections
                                    .iter()
                                    .map(|c| view! { <option value=c.name.clone()>{format!("{} ({})", c.name, c.remote)}</option> })
                                    .collect_view()}
                            </select>
                        </label>
                        <button type="submit" class="button primary" data-test="capture" disabled=move || capture.pending().get()>
                            "Capture"
                        </button>
                    </ActionForm>
                }
                .into_any()
            }}
            {move || capture.pending().get().then(|| view! {
                <div class="progress" role="status" data-test="capture-progress">
                    <progress></progress>
                    {format!(" Capturing from {}: reading members, projects, instances…", chosen.get())}
                </div>
            })}
            {move || capture.value().get().map(|result| match result {
                Ok(snapshot) => view! {
                    <p class="notice ok" role="status" data-test="capture-done">
                        {format!("Captured snapshot #{}: {} members, {} instances. ", snapshot.id, snapshot.member_count, snapshot.instance_count)}
                        <A href=format!("/?snapshot={}", snapshot.id)>"Open"</A>
                    </p>
                }
                .into_any(),
                Err(error) => view! { <p class="notice error" role="alert" data-test="capture-error">{error.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn UploadPanel(upload: ServerAction<UploadSnapshot>) -> impl IntoView {
    let read_error = RwSignal::new(None::<String>);
    let on_file = move |ev: leptos::ev::Event| {
        read_error.set(None);
        #[cfg(feature = "hydrate")]
        {
            use leptos::task::spawn_local;
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                spawn_local(async move {
                    match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                        Ok(text) => {
                            upload.dispatch(UploadSnapshot {
                                text: text.as_string().unwrap_or_default(),
                            });
                        }
                        Err(_) => read_error.set(Some("the file could not be read".into())),
                    }
                });
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, upload);
    };
    view! {
        <div class="panel" data-test="upload-panel">
            <h2>"Upload a snapshot"</h2>
            <p class="muted small">"A file written by " <code>"berth snapshot capture"</code> " or exported here. It is checked whole before anything is stored."</p>
            <label class="form">"Snapshot file (JSON)"
                <input type="file" accept=".json,application/json" data-test="upload-file" on:change=on_file/>
            </label>
            {move || upload.pending().get().then(|| view! { <p class="loading">"Uploading…"</p> })}
            {move || read_error.get().map(|error| view! { <p class="notice error" role="alert">{error}</p> })}
            {move || upload.value().get().map(|result| match result {
                Ok(snapshot) => view! {
                    <p class="notice ok" role="status" data-test="upload-done">
                        {format!("Stored as snapshot #{} ({} members, {} instances).", snapshot.id, snapshot.member_count, snapshot.instance_count)}
                    </p>
                }
                .into_any(),
                Err(error) => view! { <p class="notice error" role="alert" data-test="upload-error">{error.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn SnapshotTable(
    list: Vec<SnapshotSummary>,
    delete: ServerAction<DeleteSnapshot>,
    may_delete: bool,
    may_export_secrets: bool,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="empty" data-test="no-snapshots">"No snapshot is stored yet: capture or upload one."</p> }.into_any();
    }
    view! {
        <table class="table" data-test="snapshot-table">
            <thead>
                <tr>
                    <th>"#"</th><th>"Name"</th><th>"Source"</th><th>"Captured"</th><th>"Incus"</th>
                    <th>"Members"</th><th>"Instances"</th><th>"Content"</th><th>"Export"</th>
                    {may_delete.then(|| view! { <th><span class="visually-hidden">"Delete"</span></th> })}
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|snapshot| {
                        let id = snapshot.id;
                        view! {
                            <tr data-test="snapshot-row">
                                <td>{id}</td>
                                <td><A href=format!("/?snapshot={id}")>{snapshot.name}</A></td>
                                <td><span class="badge">{snapshot.source}</span></td>
                                <td>{format::timestamp(&snapshot.captured_at)}</td>
                                <td>{snapshot.incus_version}</td>
                                <td>{snapshot.member_count}</td>
                                <td>{snapshot.instance_count}</td>
                                <td class="mono small" title="SHA-256 of the canonical JSON">{snapshot.short_hash}</td>
                                <td class="nowrap">
                                    <a href=format!("/api/v1/snapshots/{id}") download=format!("snapshot-{id}-redacted.json") data-test="export" title="Secret-looking config values replaced, keys and sizes kept">"JSON (redacted)"</a>
                                    {may_export_secrets.then(|| view! {
                                        " · "
                                        <a href=format!("/api/v1/snapshots/{id}?redact=false") download=format!("snapshot-{id}.json") data-test="export-unredacted" title="With every secret value; recorded in the audit log">"with secrets"</a>
                                    })}
                                </td>
                                {may_delete.then(|| view! {
                                    <td>
                                        <details class="confirm">
                                            <summary class="button danger small">"Delete"</summary>
                                            <ActionForm action=delete>
                                                <CsrfField/>
                                                <input type="hidden" name="id" value=id/>
                                                <button type="submit" class="button danger" data-test="delete-snapshot">"Delete for good"</button>
                                            </ActionForm>
                                        </details>
                                    </td>
                                })}
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
