//! `/audit`: the audit log for admins, newest first. The filters (user, kind, time) are a GET
//! form, so a filtered view is a URL one can share and works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::audit_log;
use crate::components::error_notice::ErrorNotice;
use crate::resource::page_resource;
use crate::types::{AuditPage as AuditPageData, AuditQuery};

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let query = query.read();
        let text = |name: &str| query.get(name).filter(|value| !value.is_empty());
        AuditQuery {
            user: text("user"),
            kind: text("kind"),
            since: text("since"),
            until: text("until"),
            before_id: text("before").and_then(|id| id.parse().ok()),
        }
    });
    let entries = page_resource(move || filters.get(), audit_log);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="Audit log"/>
        <section class="page" data-test="audit-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Audit log"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        let filters = filters.get_untracked();
                        entries.await.map(|page| view! { <AuditView page filters/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn AuditView(page: AuditPageData, filters: AuditQuery) -> impl IntoView {
    let AuditPageData { entries, kinds, more } = page;
    let older = more
        .then(|| entries.last().map(|last| last.id))
        .flatten()
        .map(|last| {
            let mut params = ParamsMap::new();
            for (name, value) in [
                ("user", &filters.user),
                ("kind", &filters.kind),
                ("since", &filters.since),
                ("until", &filters.until),
            ] {
                if let Some(value) = value {
                    params.insert(name, value.clone());
                }
            }
            params.insert("before", last.to_string());
            format!("/audit{}", params.to_query_string())
        });
    let selected_kind = filters.kind.clone().unwrap_or_default();
    view! {
        <form class="form inline filters" method="get" action="/audit" data-test="audit-filters">
            <label>"User" <input type="text" name="user" value=filters.user.clone().unwrap_or_default() data-test="filter-user"/></label>
            <label>"Kind"
                <select name="kind" data-test="filter-kind">
                    <option value="">"any"</option>
                    {kinds.into_iter().map(|kind| {
                        let selected = kind == selected_kind;
                        view! { <option value=kind.clone() selected=selected>{kind.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"From" <input type="date" name="since" value=filters.since.clone().unwrap_or_default() data-test="filter-since"/></label>
            <label>"Until" <input type="date" name="until" value=filters.until.clone().unwrap_or_default() data-test="filter-until"/></label>
            <button type="submit" class="button" data-test="apply-filters">"Filter"</button>
        </form>
        {if entries.is_empty() {
            view! { <p class="muted" data-test="audit-empty">"No entries match."</p> }.into_any()
        } else {
            view! {
                <table class="table" data-test="audit-table">
                    <thead><tr><th>"When (UTC)"</th><th>"User"</th><th>"What"</th><th>"About"</th><th>"Details"</th><th>"From"</th></tr></thead>
                    <tbody>
                        {entries.into_iter().map(|entry| {
                            let kind = entry.kind.clone();
                            view! {
                            <tr data-test="audit-row" data-kind=kind>
                                <td>{entry.at}</td>
                                <td>{entry.user.unwrap_or_else(|| "—".into())}</td>
                                <td><span class="badge">{entry.kind}</span></td>
                                <td>{entry.subject.unwrap_or_default()}</td>
                                <td><code class="small">{entry.detail}</code></td>
                                <td>{entry.address.unwrap_or_default()}</td>
                            </tr>
                        }}).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        {older.map(|href| view! { <p><a href=href data-test="audit-older">"Older entries →"</a></p> })}
    }
}
