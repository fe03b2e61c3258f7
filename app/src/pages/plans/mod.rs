//! Migration plans: `/plans` (the list), `/plans/new` (the builder: instances of a
//! connection's newest snapshot, filtered and picked, or pasted as JSON) and `/plans/{id}`
//! (one plan: its moves with their verdicts and decisions, the load chart, review, execution
//! followed live, comments and the plan's audit trail).
//!
//! What a user may do is shown by the plan's state and their role; the server decides
//! regardless (a button hidden here is a courtesy, never the check).

mod builder;
mod detail;
mod live;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

pub use builder::NewPlanPage;
pub use detail::PlanPage;

use crate::api::list_plans;
use crate::components::error_notice::ErrorNotice;
use crate::components::feedback::hydration_flag;
use crate::format;
use crate::resource::page_resource;
use crate::types::PlanSummary;
use crate::ViewerResource;

/// States no action changes any more.
pub(crate) fn is_final(state: &str) -> bool {
    matches!(state, "succeeded" | "failed" | "cancelled")
}

/// A plan's or a move's state as a badge (`in_review` reads "in review").
pub(crate) fn state_badge(state: &str) -> AnyView {
    let class = format!("badge state state-{state}");
    let label = state.replace('_', " ");
    view! { <span class=class data-state=state.to_owned()>{label}</span> }.into_any()
}

#[component]
pub fn PlansPage() -> impl IntoView {
    let plans = page_resource(|| (), |()| list_plans());
    let viewer = expect_context::<ViewerResource>();
    let hydrated = hydration_flag();
    view! {
        <Title text="Plans"/>
        <section class="page" data-test="plans-page" data-hydrated=move || hydrated.get().to_string()>
            <header class="page-head">
                <h1>"Plans"</h1>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let may_draft = viewer.await.ok().flatten().is_some_and(|v| v.may("draft_plans"));
                        may_draft.then(|| view! {
                            <A href="/plans/new" attr:class="button primary" attr:data-test="new-plan">"New plan"</A>
                        })
                    })}
                </Suspense>
            </header>
            <p class="muted">
                "Cross-project moves: previewed on a snapshot with one placement decision each, reviewed, "
                "then executed on the cluster one by one."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading plans…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move { plans.await.map(|list| view! { <PlanTable list/> }) })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn PlanTable(list: Vec<PlanSummary>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="empty" data-test="no-plans">"No plan yet."</p> }.into_any();
    }
    view! {
        <table class="table" data-test="plan-list">
            <thead>
                <tr>
                    <th>"Name"</th><th>"State"</th><th>"Connection"</th><th>"Author"</th>
                    <th class="num">"Moves"</th><th class="num">"Blocked"</th><th>"Updated"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|plan| {
                        let blocked = plan.blocked > 0;
                        view! {
                        <tr data-test="plan-row" data-plan=plan.id.to_string()>
                            <td><A href=format!("/plans/{}", plan.id) attr:data-test="plan-link">{plan.name}</A></td>
                            <td>{state_badge(&plan.state)}</td>
                            <td>{plan.connection}</td>
                            <td>{plan.author}</td>
                            <td class="num">{plan.moves}</td>
                            <td class="num" class:crit=blocked>{plan.blocked}</td>
                            <td>{format::timestamp(&plan.updated_at)}</td>
                        </tr>
                    }})
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
