//! `/decisions`: the decision log. Every placement the cluster made (from its own events),
//! where it landed, the scriptlet's lines, the revision that ran, and Berth's prediction for
//! the same request beside it; the agreement rate per connection and reason as a chart; the
//! gaps, when the event stream was not held.
//!
//! The filters (connection, project, member, reason, outcome, time) are a GET form, so a view is
//! a URL one can share and works without JavaScript. Once hydrated, the first page follows the
//! log live (`live.rs`): each decision appears as it is recorded and changes when it is
//! predicted. Each predicted decision links into the sandbox with its snapshot, its request and
//! the revision that ran.

mod live;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::get_decisions_page;
use crate::components::agreement_chart::AgreementChart;
use crate::components::error_notice::ErrorNotice;
use crate::format::timestamp;
use crate::resource::page_resource;
use crate::types::{DecisionQuery, DecisionsPageData, GapView, LoggedDecision};

/// The filters, in URL order (and the cursor of a later page).
const FILTERS: [&str; 8] = [
    "connection",
    "project",
    "member",
    "instance",
    "reason",
    "outcome",
    "since",
    "until",
];
const REASONS: [&str; 5] = ["new", "relocation", "evacuation", "restore", "rebalance"];
const OUTCOMES: [(&str, &str); 4] = [
    ("agrees", "agrees"),
    ("differs", "differs"),
    ("unpredicted", "could not be predicted"),
    ("pending", "not predicted yet"),
];
/// The most decisions the live page keeps.
const LIVE_KEEP: usize = 200;

fn query_of(params: &ParamsMap) -> DecisionQuery {
    let text = |name: &str| params.get(name).filter(|value| !value.is_empty());
    DecisionQuery {
        connection: text("connection"),
        project: text("project"),
        member: text("member"),
        instance: text("instance"),
        reason: text("reason"),
        outcome: text("outcome"),
        since: text("since"),
        until: text("until"),
        limit: None,
        cursor: text("cursor"),
    }
}

/// The filters as a query string (`?connection=…`), without the cursor.
fn filters_query(query: &DecisionQuery) -> String {
    let mut params = ParamsMap::new();
    for (name, value) in FILTERS.iter().zip([
        &query.connection,
        &query.project,
        &query.member,
        &query.instance,
        &query.reason,
        &query.outcome,
        &query.since,
        &query.until,
    ]) {
        if let Some(value) = value {
            params.insert(*name, value.clone());
        }
    }
    params.to_query_string()
}

#[component]
pub fn DecisionsPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| query_of(&query.read()));
    let data = page_resource(move || filters.get(), get_decisions_page);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="Decisions"/>
        <section class="page" data-test="decisions-page" data-hydrated=move || hydrated.get().to_string()>
            <header class="page-header">
                <h1>"Decisions"</h1>
                <p class="muted">
                    "Every placement the cluster made, read from its own events, with the scriptlet's lines "
                    "and Berth's prediction for the same request beside it."
                </p>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading the decision log…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        let filters = filters.get_untracked();
                        data.await.map(|data| view! { <DecisionsView data filters/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn DecisionsView(data: DecisionsPageData, filters: DecisionQuery) -> impl IntoView {
    let DecisionsPageData {
        list,
        agreement,
        gaps,
        connections,
    } = data;
    let older = list.next.clone().map(|next| {
        let base = filters_query(&filters);
        let separator = if base.is_empty() { "?" } else { "&" };
        format!("/decisions{base}{separator}cursor={next}")
    });
    let first_page = filters.cursor.is_none();
    let decisions = RwSignal::new(list.decisions);
    let live = RwSignal::new(String::new());
    if first_page {
        live::follow(filters_query(&filters), decisions, live, LIVE_KEEP);
    }
    let any_log_on = connections.iter().any(|(_, on)| *on);
    view! {
        <Filters filters=filters.clone() connections/>
        {(!any_log_on).then(|| view! {
            <p class="notice warn" data-test="no-log-on">
                "No connection has its decision log on: an admin turns it on under Settings → Connections, "
                "or with berth connection set NAME --decision-log on."
            </p>
        })}
        <section class="card" data-test="agreement">
            <h2>"Agreement"</h2>
            <AgreementChart agreement/>
        </section>
        {(!gaps.is_empty()).then(|| view! { <Gaps gaps/> })}
        <section class="card" data-test="decisions">
            <h2>"Decisions "
                {first_page.then(|| view! {
                    <span class="badge small" data-test="live-status" aria-live="polite">
                        {move || { let status = live.get(); if status.is_empty() { "as rendered".to_owned() } else { status } }}
                    </span>
                })}
            </h2>
            {move || {
                let shown = decisions.get();
                if shown.is_empty() {
                    view! { <p class="muted" data-test="decisions-empty">"No decision matches."</p> }.into_any()
                } else {
                    view! { <DecisionTable decisions=shown/> }.into_any()
                }
            }}
            {older.map(|href| view! { <p><a href=href data-test="decisions-older">"Older decisions →"</a></p> })}
        </section>
    }
}

#[component]
fn Filters(filters: DecisionQuery, connections: Vec<(String, bool)>) -> impl IntoView {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let connection = value(&filters.connection);
    let reason = value(&filters.reason);
    let outcome = value(&filters.outcome);
    view! {
        <form class="form inline filters" method="get" action="/decisions" data-test="decision-filters">
            <label>"Connection"
                <select name="connection" data-test="filter-connection">
                    <option value="">"all"</option>
                    {connections.into_iter().map(|(name, on)| {
                        let label = if on { name.clone() } else { format!("{name} (log off)") };
                        view! { <option value=name.clone() selected=name == connection>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Project" <input type="text" name="project" value=value(&filters.project) data-test="filter-project"/></label>
            <label>"Member" <input type="text" name="member" value=value(&filters.member) data-test="filter-member"/></label>
            <label>"Reason"
                <select name="reason" data-test="filter-reason">
                    <option value="">"any"</option>
                    {REASONS.into_iter().map(|r| view! { <option value=r selected=r == reason>{r}</option> }).collect_view()}
                </select>
            </label>
            <label>"Outcome"
                <select name="outcome" data-test="filter-outcome">
                    <option value="">"any"</option>
                    {OUTCOMES.into_iter().map(|(o, label)| view! { <option value=o selected=o == outcome>{label}</option> }).collect_view()}
                </select>
            </label>
            <label>"From" <input type="date" name="since" value=value(&filters.since) data-test="filter-since"/></label>
            <label>"Until" <input type="date" name="until" value=value(&filters.until) data-test="filter-until"/></label>
            <button type="submit" class="button" data-test="apply-filters">"Filter"</button>
        </form>
    }
}

#[component]
fn Gaps(gaps: Vec<GapView>) -> impl IntoView {
    view! {
        <section class="card" data-test="gaps">
            <h2>"Gaps"</h2>
            <p class="muted small">
                "Times the event stream was not held. Once it is back, a capture reconciles each gap: "
                "instances that appeared or moved meanwhile are listed as seen later."
            </p>
            <table class="table compact">
                <thead><tr><th>"Connection"</th><th>"Why"</th><th>"From (UTC)"</th><th>"Until"</th><th>"Seen later"</th><th>"Detail"</th></tr></thead>
                <tbody>
                    {gaps.into_iter().map(|gap| {
                        let (reason, open) = (gap.reason.clone(), gap.ended.is_none().to_string());
                        view! {
                        <tr data-test="gap-row" data-reason=reason data-open=open>
                            <td class="mono">{gap.connection}{gap.member.map(|m| format!(" ({m})"))}</td>
                            <td><span class="badge warn">{gap.reason}</span></td>
                            <td class="nowrap">{timestamp(&gap.started)}</td>
                            <td class="nowrap">{gap.ended.as_deref().map(timestamp).unwrap_or_else(|| "still open".into())}</td>
                            <td class="num">{match (gap.reconciled, gap.seen_later) {
                                (Some(_), Some(count)) => count.to_string(),
                                (Some(_), None) => "not compared".into(),
                                _ => "—".into(),
                            }}</td>
                            <td class="small">{gap.detail}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn DecisionTable(decisions: Vec<LoggedDecision>) -> impl IntoView {
    view! {
        <table class="table decisions" data-test="decision-table">
            <thead><tr>
                <th>"When (UTC)"</th><th>"Instance"</th><th>"Reason"</th><th>"Landed on"</th>
                <th>"Berth predicted"</th><th>"Revision that ran"</th><th>"Scriptlet's lines"</th><th></th>
            </tr></thead>
            <tbody>
                {decisions.into_iter().map(|decision| view! { <DecisionRow decision/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn DecisionRow(decision: LoggedDecision) -> impl IntoView {
    let outcome = decision.outcome.clone();
    let prediction = match (&decision.predicted, decision.agrees) {
        (Some(_), Some(true)) => "agrees".to_owned(),
        (Some(predicted), Some(false)) => format!(
            "{} (differs)",
            predicted
                .member
                .clone()
                .or_else(|| predicted.error.clone())
                .unwrap_or_default()
        ),
        (Some(predicted), None) => predicted
            .error
            .clone()
            .unwrap_or_else(|| "could not be predicted".into()),
        (None, _) => "not yet".to_owned(),
    };
    let candidates = decision
        .predicted
        .as_ref()
        .filter(|p| !p.candidates.is_empty())
        .map(|p| format!("candidates: {}", p.candidates.join(", ")));
    let moved = match (&decision.from_project, &decision.from_member) {
        (Some(project), Some(member)) => Some(format!("from {project} on {member}")),
        (Some(project), None) => Some(format!("from {project}")),
        (None, Some(member)) => Some(format!("from {member}")),
        _ => None,
    };
    let logs = decision.logs.clone();
    let log_count = logs.len();
    view! {
        <tr data-test="decision-row" data-id=decision.id data-time=decision.time.clone() data-instance=decision.instance.clone()
            data-project=decision.project.clone() data-member=decision.member.clone().unwrap_or_default()
            data-outcome=outcome.clone() data-reason=decision.reason.clone()>
            <td class="nowrap">{timestamp(&decision.time)}<br/><span class="small muted">{decision.connection.clone()}</span></td>
            <td class="mono">{format!("{}/{}", decision.project, decision.instance)}</td>
            <td>
                {decision.reason.clone()}
                {decision.seen_later.then(|| view! { " " <span class="badge warn" data-test="seen-later">"seen later"</span> })}
                {moved.map(|text| view! { <br/><span class="small muted">{text}</span> })}
            </td>
            <td class="mono">{decision.member.clone().unwrap_or_else(|| "?".into())}</td>
            <td>
                <span class=format!("badge outcome-{outcome}") data-test="decision-outcome">{prediction}</span>
                {candidates.map(|text| view! { <br/><span class="small muted">{text}</span> })}
            </td>
            <td class="small">{decision.revision.as_ref().map(|r| {
                let href = format!("/scriptlets/{}?rev={}", r.scriptlet, r.number);
                view! { <a href=href>{format!("{} #{}", r.name, r.number)}</a> }
            })}</td>
            <td>
                {(log_count > 0).then(|| view! {
                    <details data-test="decision-logs">
                        <summary>{format!("{log_count} line{}", if log_count == 1 { "" } else { "s" })}</summary>
                        <ul class="logs">
                            {logs.into_iter().map(|line| {
                                let class = format!("log-{}", line.level);
                                view! { <li class=class><span class="log-level">{line.level}</span>" "{line.message}</li> }
                            }).collect_view()}
                        </ul>
                    </details>
                })}
            </td>
            <td>{decision.sandbox.clone().map(|href| view! {
                <a href=href class="small" data-test="open-sandbox" rel="external">"Open in the sandbox"</a>
            })}</td>
        </tr>
    }
}
