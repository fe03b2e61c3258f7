//! The Impact page, `/impact`: what a scriptlet revision changes before it reaches the
//! cluster. Pick a snapshot, a scriptlet's two revisions (or its revision against the cluster's
//! live scriptlet), the scenario (a re-create of each instance, or an evacuation of its member)
//! and which instances; every decision that differs is listed with both candidate lists, with
//! member load before and after as a chart, sortable, and as CSV.
//!
//! The choice is the URL (`?snapshot=S&scriptlet=ID&from=N|live&to=N|live&scenario=…&scope=…`,
//! a GET form), so a replay is a link one can share. Once hydrated, the page runs the replay
//! by subscribing to `/api/v1/impact/events` with the same query: `progress` events move the
//! bar, `result` (or `failed`) ends it; Cancel closes the stream, which stops the replay on the
//! server. Scripts use `POST /api/v1/impact` or `berth impact`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::get_impact_setup;
use crate::components::error_notice::ErrorNotice;
use crate::components::load_chart::LoadChart;
use crate::query::percent_encode;
use crate::resource::page_resource;
use crate::types::{ChangedDecisionView, DecisionView, ImpactProgress, ImpactSetup, ImpactView, LoadView};

/// Where a replay is (only the browser moves it on).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) enum ReplayState {
    /// Nothing asked yet.
    Idle,
    Running(ImpactProgress),
    Done(Box<ImpactView>),
    Failed(String),
    Cancelled,
}

/// The query parameters a replay needs, in URL order.
const PARAMETERS: [&str; 6] = ["snapshot", "scriptlet", "from", "to", "scenario", "scope"];

#[component]
pub fn ImpactPage() -> impl IntoView {
    let setup = page_resource(|| (), |_| get_impact_setup());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="Impact"/>
        <div class="page" data-test="impact-page" data-hydrated=move || hydrated.get().to_string()>
            <header class="page-header">
                <h1>"Impact"</h1>
                <p class="muted">
                    "What a scriptlet revision changes: every instance of a snapshot placed by both revisions, "
                    "as Incus would place it, and each decision that differs."
                </p>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        setup.await.map(|setup| view! { <ImpactForm setup/> <ReplayPanel/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </div>
    }
}

/// The choice of a replay, as a GET form: submitting it changes the URL.
#[component]
fn ImpactForm(setup: ImpactSetup) -> impl IntoView {
    let query = use_query_map();
    let get = move |name: &str| query.read_untracked().get(name).unwrap_or_default();
    let first_scriptlet = setup
        .scriptlets
        .first()
        .map(|s| s.id.to_string())
        .unwrap_or_default();
    let scriptlet = RwSignal::new(
        Some(get("scriptlet"))
            .filter(|s| !s.is_empty())
            .unwrap_or(first_scriptlet),
    );
    let scriptlets = StoredValue::new(setup.scriptlets.clone());
    // The chosen scriptlet's revisions, newest first, then the cluster's live scriptlet.
    let revisions = move || {
        let chosen = scriptlet.get();
        scriptlets.with_value(|all| {
            all.iter()
                .find(|s| s.id.to_string() == chosen)
                .map(|s| s.revisions.clone())
                .unwrap_or_default()
        })
    };
    let revision_options = move |selected: String, default_index: usize| {
        let revisions = revisions();
        let default = revisions
            .get(default_index)
            .map(|(number, _)| number.to_string())
            .unwrap_or_else(|| "live".into());
        let selected = if selected.is_empty() { default } else { selected };
        let mut options: Vec<_> = revisions
            .into_iter()
            .map(|(number, message)| {
                let value = number.to_string();
                let label = format!("revision {number}: {message}");
                view! { <option value=value.clone() selected=value == selected>{label}</option> }
            })
            .collect();
        options.push(view! {
            <option value="live" selected=selected == "live">"the cluster's live scriptlet"</option>
        });
        options
    };
    let (from, to) = (get("from"), get("to"));
    let snapshot = get("snapshot");
    let scenario = get("scenario");
    let scope = get("scope");
    let snapshots = setup
        .snapshots
        .iter()
        .map(|s| {
            let value = s.id.to_string();
            let label = format!("#{} {} ({} instances)", s.id, s.name, s.instance_count);
            view! { <option value=value.clone() selected=value == snapshot>{label}</option> }
        })
        .collect_view();
    let scriptlet_options = setup
        .scriptlets
        .iter()
        .map(|s| {
            let value = s.id.to_string();
            view! { <option value=value.clone() selected=move || scriptlet.get() == value>{s.name.clone()}</option> }
        })
        .collect_view();
    view! {
        <form method="get" action="/impact" class="form inline impact-form" data-test="impact-form">
            <label>"Snapshot"
                <select name="snapshot" data-test="impact-snapshot" required>{snapshots}</select>
            </label>
            <label>"Scriptlet"
                <select name="scriptlet" data-test="impact-scriptlet"
                    on:change=move |ev| scriptlet.set(event_target_value(&ev))>{scriptlet_options}</select>
            </label>
            <label>"Before"
                <select name="from" data-test="impact-from">{move || revision_options(from.clone(), 1)}</select>
            </label>
            <label>"After"
                <select name="to" data-test="impact-to">{move || revision_options(to.clone(), 0)}</select>
            </label>
            <label>"Scenario"
                <select name="scenario" data-test="impact-scenario">
                    <option value="new" selected=scenario != "evacuation">"re-create each instance (new)"</option>
                    <option value="evacuation" selected=scenario == "evacuation">"evacuate its member (evacuation)"</option>
                </select>
            </label>
            <label>"Instances"
                <input name="scope" type="text" value=scope placeholder="all, project=P, member=M, label=K=V"
                    data-test="impact-scope"/>
            </label>
            <button type="submit" class="button primary" data-test="impact-run">"Replay"</button>
        </form>
    }
}

/// The replay the URL asks for: its progress, then its result.
#[component]
fn ReplayPanel() -> impl IntoView {
    let query = use_query_map();
    let link = Memo::new(move |_| {
        let query = query.read();
        let complete = ["snapshot", "from", "to"]
            .iter()
            .all(|p| query.get(p).is_some_and(|v| !v.is_empty()));
        complete.then(|| {
            PARAMETERS
                .iter()
                .filter_map(|p| query.get(p).map(|v| format!("{p}={}", percent_encode(&v))))
                .collect::<Vec<_>>()
                .join("&")
        })
    });
    let state = RwSignal::new(ReplayState::Idle);
    let cancel = follow_replay(link, state);
    view! {
        <section class="card" data-test="replay">
            {move || match state.get() {
                ReplayState::Idle if link.get().is_some() => view! {
                    <p class="muted" data-test="replay-starting">"Starting the replay…"</p>
                    <noscript><p>"The replay runs in the page and needs JavaScript; scripts use POST /api/v1/impact or berth impact."</p></noscript>
                }
                .into_any(),
                ReplayState::Idle => view! {
                    <p class="muted">"Choose a snapshot and two revisions, then Replay."</p>
                }
                .into_any(),
                ReplayState::Running(progress) => view! {
                    <div data-test="replay-progress">
                        <progress max=progress.instances.max(1) value=progress.instances_done></progress>
                        <span class="small">
                            {format!(" {} of {} instances ({} of {} shards)", progress.instances_done, progress.instances, progress.shards_done, progress.shards)}
                        </span>
                        " "
                        <button type="button" class="button" data-test="replay-cancel" on:click=move |_| cancel.run(())>"Cancel"</button>
                    </div>
                }
                .into_any(),
                ReplayState::Cancelled => view! {
                    <p class="notice" data-test="replay-cancelled">"Cancelled: the replay was stopped."</p>
                }
                .into_any(),
                ReplayState::Failed(message) => view! {
                    <p class="notice error" role="alert" data-test="replay-failed">{message}</p>
                }
                .into_any(),
                ReplayState::Done(impact) => view! { <ImpactResult impact=*impact/> }.into_any(),
            }}
        </section>
    }
}

/// Columns the changed decisions sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Instance,
    Location,
    Before,
    After,
}

impl Column {
    fn key(self, change: &ChangedDecisionView) -> String {
        match self {
            Column::Instance => change.instance.clone(),
            Column::Location => change.location.clone(),
            Column::Before => outcome(&change.from),
            Column::After => outcome(&change.to),
        }
    }
}

/// A decision in a table cell: the member, or `error: …`.
pub(crate) fn outcome(decision: &DecisionView) -> String {
    match (&decision.member, &decision.error) {
        (_, Some(error)) => format!("error: {error}"),
        (Some(member), None) => member.clone(),
        (None, None) => "—".into(),
    }
}

#[component]
fn ImpactResult(impact: ImpactView) -> impl IntoView {
    let sort = RwSignal::new((Column::Instance, true));
    let changed = StoredValue::new(impact.changed.clone());
    let csv_href = format!(
        "data:text/csv;charset=utf-8,{}",
        percent_encode(&csv(&impact.changed))
    );
    let load: Vec<LoadView> = impact
        .load
        .iter()
        .map(|l| LoadView {
            member: l.member.clone(),
            before: l.from,
            after: l.to,
        })
        .collect();
    let header = move |column: Column, label: &'static str, test: &'static str| {
        let marker = move || match sort.get() {
            (c, true) if c == column => " ▲",
            (c, false) if c == column => " ▼",
            _ => "",
        };
        let aria = move || match sort.get() {
            (c, true) if c == column => "ascending",
            (c, false) if c == column => "descending",
            _ => "none",
        };
        view! {
            <th aria-sort=aria>
                <button type="button" class="link" data-test=test
                    on:click=move |_| sort.update(|(c, up)| { if *c == column { *up = !*up } else { *c = column; *up = true } })>
                    {label}{marker}
                </button>
            </th>
        }
    };
    let rows = move || {
        let (column, ascending) = sort.get();
        let mut rows = changed.get_value();
        rows.sort_by_cached_key(|change| column.key(change));
        if !ascending {
            rows.reverse();
        }
        rows.into_iter()
            .map(|change| {
                let appears = change.from.error.is_none() && change.to.error.is_some();
                let same_candidates = change.from.candidates == change.to.candidates;
                let candidates = if same_candidates {
                    change.from.candidates.join(", ")
                } else {
                    format!(
                        "before: {}; after: {}",
                        change.from.candidates.join(", "),
                        change.to.candidates.join(", ")
                    )
                };
                view! {
                    <tr data-test="changed-row" data-instance=change.instance.clone() class:new-error=appears>
                        <td class="mono">{change.instance.clone()}</td>
                        <td class="mono">{change.location.clone()}</td>
                        <td class="mono" data-test="changed-from">{outcome(&change.from)}</td>
                        <td class="mono" data-test="changed-to">{outcome(&change.to)}</td>
                        <td class="small">{candidates}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let any_changed = !impact.changed.is_empty();
    view! {
        <p class="impact-summary" data-test="impact-summary">
            <strong>{impact.summary.clone()}</strong>
            {(impact.vanished_errors > 0).then(|| format!(", {} errors vanish", impact.vanished_errors))}
            {format!(" · scenario {} · instances: {}", impact.scenario, impact.scope)}
        </p>
        {impact.stopped.iter().map(|reason| view! { <p class="notice" data-test="replay-stopped">{format!("Partial: {reason}")}</p> }).collect_view()}
        <h2>"Member load"</h2>
        <LoadChart load subject="the new revision" empty="No members."/>
        <h2>"Changed decisions"</h2>
        {if any_changed {
            view! {
                <p><a class="button" href=csv_href download="impact.csv" data-test="impact-csv">"Download CSV"</a></p>
                <table class="table" data-test="changed-table">
                    <thead>
                        <tr>
                            {header(Column::Instance, "Instance", "sort-instance")}
                            {header(Column::Location, "On", "sort-location")}
                            {header(Column::Before, "Before", "sort-before")}
                            {header(Column::After, "After", "sort-after")}
                            <th>"Candidates"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            }
            .into_any()
        } else {
            view! { <p class="muted" data-test="no-changes">"No decision changes."</p> }.into_any()
        }}
    }
}

/// The changed decisions as CSV: one row per instance, quoted where needed.
fn csv(changed: &[ChangedDecisionView]) -> String {
    let field = |text: &str| {
        if text.contains([',', '"', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut out = String::from("instance,location,from_member,from_error,to_member,to_error\n");
    for change in changed {
        let cells = [
            change.instance.as_str(),
            change.location.as_str(),
            change.from.member.as_deref().unwrap_or_default(),
            change.from.error.as_deref().unwrap_or_default(),
            change.to.member.as_deref().unwrap_or_default(),
            change.to.error.as_deref().unwrap_or_default(),
        ];
        out.push_str(&cells.map(field).join(","));
        out.push('\n');
    }
    out
}

/// Starts a replay whenever `link` names one (in the browser; nothing on the server); the
/// callback cancels the running one.
fn follow_replay(link: Memo<Option<String>>, state: RwSignal<ReplayState>) -> Callback<()> {
    #[cfg(feature = "hydrate")]
    {
        browser::follow(link, state)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (link, state);
        Callback::new(|_| {})
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use super::ReplayState;
    use crate::types::{ImpactProgress, ImpactView};

    type EventHandler = Closure<dyn FnMut(MessageEvent)>;

    /// An open stream and its handlers (kept alive while it is open).
    struct Stream {
        source: EventSource,
        handlers: Vec<(&'static str, EventHandler)>,
        _on_error: Closure<dyn FnMut(web_sys::Event)>,
    }

    type Slot = StoredValue<Option<Stream>, LocalStorage>;

    pub fn follow(link: Memo<Option<String>>, state: RwSignal<ReplayState>) -> Callback<()> {
        let slot: Slot = StoredValue::new_local(None);
        Effect::new(move |_| {
            close(slot);
            match link.get() {
                Some(query) => open(&query, state, slot),
                None => state.set(ReplayState::Idle),
            }
        });
        on_cleanup(move || close(slot));
        Callback::new(move |_| {
            close(slot);
            state.set(ReplayState::Cancelled);
        })
    }

    fn open(query: &str, state: RwSignal<ReplayState>, slot: Slot) {
        let Ok(source) = EventSource::new(&format!("/api/v1/impact/events?{query}")) else {
            state.set(ReplayState::Failed(
                "the browser cannot open the replay's event stream".into(),
            ));
            return;
        };
        state.set(ReplayState::Running(ImpactProgress::default()));
        let handler = |on: fn(&str, RwSignal<ReplayState>, Slot)| {
            EventHandler::new(move |event: MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    on(&text, state, slot);
                }
            })
        };
        let handlers: Vec<(&'static str, EventHandler)> = vec![
            ("progress", handler(on_progress)),
            ("result", handler(on_result)),
            ("failed", handler(on_failed)),
        ];
        for (name, handler) in &handlers {
            let _ = source.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        }
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            // Anything but the end of a finished replay: the replay is lost with the stream
            // (the server stops it when the stream closes).
            if matches!(state.get_untracked(), ReplayState::Running(_)) {
                close(slot);
                state.set(ReplayState::Failed(
                    "the connection to the replay was lost".into(),
                ));
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        slot.set_value(Some(Stream {
            source,
            handlers,
            _on_error: on_error,
        }));
    }

    fn on_progress(text: &str, state: RwSignal<ReplayState>, _: Slot) {
        if let Ok(progress) = crate::json::from_json::<ImpactProgress>(text) {
            state.set(ReplayState::Running(progress));
        }
    }

    fn on_result(text: &str, state: RwSignal<ReplayState>, slot: Slot) {
        close(slot);
        state.set(match crate::json::from_json::<ImpactView>(text) {
            Ok(impact) => ReplayState::Done(Box::new(impact)),
            Err(error) => ReplayState::Failed(format!("unexpected answer from the replay: {error}")),
        });
    }

    fn on_failed(text: &str, state: RwSignal<ReplayState>, slot: Slot) {
        close(slot);
        let message = crate::json::from_json::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.to_owned());
        state.set(ReplayState::Failed(message));
    }

    /// Closes the stream, if open; its handlers are dropped after the current event.
    fn close(slot: Slot) {
        let Some(stream) = slot.try_update_value(Option::take).flatten() else {
            return;
        };
        for (name, handler) in &stream.handlers {
            let _ = stream
                .source
                .remove_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        }
        stream.source.set_onerror(None);
        stream.source.close();
        spawn_local(async move { drop(stream) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_percent_encoding_keeps_only_unreserved() {
        let change = ChangedDecisionView {
            instance: "web/a".into(),
            location: "m1".into(),
            from: DecisionView {
                member: Some("m1".into()),
                ..DecisionView::default()
            },
            to: DecisionView {
                error: Some("no \"room\", sorry".into()),
                ..DecisionView::default()
            },
        };
        assert_eq!(
            csv(&[change]),
            "instance,location,from_member,from_error,to_member,to_error\nweb/a,m1,m1,,,\"no \"\"room\"\", sorry\"\n"
        );
        assert_eq!(percent_encode("a b/c=d&é"), "a%20b%2Fc%3Dd%26%C3%A9");
    }
}
