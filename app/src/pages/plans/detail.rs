//! `/plans/{id}`: one plan. Its header (state, author, connection, approvals, the snapshot it
//! was previewed on), the actions the plan's state and the viewer's role allow, the moves with
//! their verdicts, decisions and (while executing, live) their progress, the load chart,
//! comments and the plan's audit trail.
//!
//! Every action is a form posted to a server function (`PostedForm`): with JavaScript it is
//! sent with the CSRF header and the page reloads the plan in place; without, it is posted with
//! the hidden token and the server sends the browser back here.

use leptos::error::Errors;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;

use super::{is_final, live, state_badge};
use crate::api::{
    edit_plan, get_plan, plan_timeline, ApprovePlan, CancelPlan, CommentPlan, EditPlan, ExecutePlan,
    PreviewPlan, RequestPlanChanges, ReversePlan, SkipPlanMove, SubmitPlan,
};
use crate::components::error_notice::ErrorNotice;
use crate::components::feedback::hydration_flag;
use crate::components::load_chart::LoadChart;
use crate::components::posted_form::{FormPosts, Posted, PostedForm};
use crate::error::BerthError;
use crate::format;
use crate::pages::impact::outcome;
use crate::resource::page_resource;
use crate::types::{AuditEntryView, MoveSpec, PlanMoveView, PlanView, PreviewStamp, RolloutView, Viewer};
use crate::ViewerResource;

/// The plan's actions: forms posted to their server functions, each answered with the plan
/// as it is after it (one client for all of them, see `PostedForm`).
type Actions = FormPosts<PlanView>;

/// The last action's error, shown until another action succeeds: at once (on the server too,
/// for a form posted without JavaScript that the server refused), then as actions end.
fn report(actions: Actions, errors: ArcRwSignal<Errors>) {
    let show = move |outcome: &Posted<PlanView>, errors: &ArcRwSignal<Errors>| match outcome {
        Some((_, Err(error))) => errors.update(|errors| {
            *errors = Errors::default();
            errors.insert_with_default_key(error.clone());
        }),
        Some((_, Ok(_))) => errors.update(|errors| *errors = Errors::default()),
        None => {}
    };
    actions.outcome().with_untracked(|outcome| show(outcome, &errors));
    Effect::new(move |_| actions.outcome().with(|outcome| show(outcome, &errors)));
}

#[component]
pub fn PlanPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<i64>().ok()));
    let actions = Actions::new();
    let key = move || (id.get(), actions.version());
    let plan = page_resource(key, |(id, _)| async move {
        match id {
            Some(id) => get_plan(id).await,
            None => Err(BerthError::NotFound("there is no such plan".into())),
        }
    });
    let timeline = page_resource(key, |(id, _)| async move {
        match id {
            Some(id) => plan_timeline(id).await,
            None => Ok(Vec::new()),
        }
    });
    let action_errors = ArcRwSignal::new(Errors::default());
    report(actions, action_errors.clone());
    // A reversed plan is a new draft: open it.
    let navigate = use_navigate();
    Effect::new(move |_| {
        actions.outcome().with(|outcome| {
            if let Some((path, Ok(reversed))) = outcome {
                if path == ReversePlan::PATH {
                    navigate(&format!("/plans/{}", reversed.id), NavigateOptions::default());
                }
            }
        })
    });
    let viewer = expect_context::<ViewerResource>();
    let hydrated = hydration_flag();
    view! {
        <Title text="Plan"/>
        <section class="page" data-test="plan-page" data-hydrated=move || hydrated.get().to_string()>
            <Transition fallback=|| view! { <p class="loading">"Loading the plan…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || {
                        let errors = action_errors.clone();
                        Suspend::new(async move {
                            let viewer = viewer.await.ok().flatten();
                            plan.await.map(|plan| view! { <PlanDetail plan viewer actions errors/> })
                        })
                    }}
                </ErrorBoundary>
            </Transition>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    timeline.await.ok().map(|entries| view! { <AuditTrail entries/> })
                })}
            </Transition>
        </section>
    }
}

/// What the viewer may do, by role (`Viewer::may`) and contribution.
#[derive(Clone, Copy)]
struct Rights {
    draft: bool,
    approve: bool,
    execute: bool,
    /// The viewer created this plan or changed what it will run (and so may not approve it).
    contributor: bool,
    /// The plan has a connection to execute on.
    executable: bool,
}

#[component]
fn PlanDetail(
    plan: PlanView,
    viewer: Option<Viewer>,
    actions: Actions,
    /// The last action's error, shown below the buttons.
    errors: ArcRwSignal<Errors>,
) -> impl IntoView {
    let may = |action: &str| viewer.as_ref().is_some_and(|v| v.may(action));
    let rights = Rights {
        draft: may("draft_plans"),
        approve: may("approve_plans"),
        execute: may("execute_plans"),
        contributor: viewer
            .as_ref()
            .is_some_and(|v| plan.contributors.contains(&v.username)),
        executable: !plan.connection.is_empty(),
    };
    let id = plan.id;
    // The plan as it is now: replaced by every event while it executes.
    let live_plan = RwSignal::new(plan.clone());
    live::follow(live_plan);
    let state = Memo::new(move |_| live_plan.with(|p| p.state.clone()));
    let version = Memo::new(move |_| live_plan.with(|p| p.version));

    let PlanView {
        moves,
        name,
        connection,
        snapshot_id,
        author,
        contributors,
        stop_on_failure,
        required_approvals,
        approvals,
        preview,
        superseded,
        reverse_of,
        load,
        rollout,
        comments,
        created_at,
        updated_at,
        ..
    } = plan;
    let is_rollout = rollout.is_some();
    let preview_snapshot = preview.as_ref().map(|p| p.snapshot_id);
    let blocked = moves
        .iter()
        .filter(|m| m.verdict.as_deref() == Some("blocked"))
        .count();
    let any_blocked = blocked > 0;
    let specs: Vec<MoveSpec> = moves
        .iter()
        .map(|m| MoveSpec {
            project: m.project.clone(),
            name: m.name.clone(),
            target_project: m.target_project.clone(),
            target: m.target.clone(),
        })
        .collect();
    let move_names: Vec<String> = moves
        .iter()
        .map(|m| format!("{}/{}", m.project, m.name))
        .collect();
    let approval_text = if approvals.is_empty() {
        format!("0 of {required_approvals}")
    } else {
        format!(
            "{} of {required_approvals} ({})",
            approvals.len(),
            approvals.join(", ")
        )
    };
    view! {
        <header class="page-head">
            <div>
                <h1 data-test="plan-name">{name.clone()}</h1>
                <p class="subtitle">
                    {format!("Plan #{id} by {author} {} · created {} · updated {}",
                        basis_text(&connection, snapshot_id),
                        format::timestamp(&created_at), format::timestamp(&updated_at))}
                </p>
            </div>
            <div class="plan-state" data-test="plan-state" data-state=move || state.get()>
                {move || state_badge(&state.get())}
            </div>
        </header>
        <dl class="stats plan-facts">
            <div><dt>"Moves"</dt><dd>{moves.len()}</dd></div>
            <div><dt>"Blocked"</dt><dd class:crit=any_blocked data-test="blocked-count">{blocked}</dd></div>
            <div><dt>"Version"</dt><dd data-test="plan-version">{move || version.get()}</dd></div>
            <div><dt>"Approvals"</dt><dd data-test="approvals">{approval_text}</dd></div>
            <div><dt>"Contributors"</dt><dd data-test="contributors">{contributors.join(", ")}</dd></div>
            <div><dt>"On a failed move"</dt><dd>{if stop_on_failure { "stop" } else { "go on" }}</dd></div>
        </dl>
        <PreviewLine preview/>
        {superseded.map(|reason| view! {
            <p class="notice warn" data-test="superseded">
                <strong>"Superseded: "</strong>{reason}" Preview it again, then submit it for review."
            </p>
        })}
        {move || live_plan.with(|plan| plan.interrupted.clone()).map(|error| view! {
            <p class="notice warn" role="status" data-test="plan-interrupted">
                <strong>"Waiting: "</strong>{error}<br/>
                <span class="small">"Berth tries again every few seconds and resumes where it stopped."</span>
            </p>
        })}
        {reverse_of.map(|original| view! {
            <p class="muted" data-test="reverse-of">
                "This plan reverses " <A href=format!("/plans/{original}")>{format!("plan #{original}")}</A>"."
            </p>
        })}
        <div class="plan-actions form inline" data-test="plan-actions">
            {move || action_buttons(&state.get(), id, version.get(), actions, rights)}
        </div>
        <div class="action-errors" data-test="action-errors">
            {move || {
                let errors = errors.clone();
                (!errors.with(Errors::is_empty))
                    .then(|| view! { <ErrorNotice errors title="That did not work."/> })
            }}
        </div>
        {match rollout {
            Some(rollout) => view! {
                <RolloutStep rollout connection=connection.clone() preview_snapshot live_plan/>
            }
            .into_any(),
            None => view! {
                <section class="panel" aria-labelledby="moves-title">
                    <h2 id="moves-title">"Moves"</h2>
                    <MovesTable moves live_plan id actions rights/>
                </section>
            }
            .into_any(),
        }}
        {move || {
            (!is_rollout && rights.draft && matches!(state.get().as_str(), "draft" | "in_review" | "approved" | "superseded"))
                .then(|| view! { <EditMoves id specs=specs.clone() actions/> })
        }}
        <section class="panel" aria-labelledby="load-title">
            <h2 id="load-title">"Instances per member"</h2>
            <LoadChart load subject="the plan" empty="Preview the plan to see the instances per member before and after it."/>
        </section>
        <Comments id comments move_names may_comment=rights.draft actions/>
    }
    .into_any()
}

/// A rollout plan's one step: the revision it sets, how it went (live while executing), and
/// the impact replay its review is based on.
#[component]
fn RolloutStep(
    rollout: RolloutView,
    connection: String,
    preview_snapshot: Option<i64>,
    live_plan: RwSignal<PlanView>,
) -> impl IntoView {
    let first = rollout;
    let initial = StoredValue::new(first.clone());
    let step = move || {
        live_plan
            .with(|p| p.rollout.clone())
            .unwrap_or_else(|| initial.get_value())
    };
    let impact_link = preview_snapshot.map(|snapshot| {
        format!(
            "/impact?snapshot={snapshot}&scriptlet={}&from=live&to={}",
            first.scriptlet, first.revision
        )
    });
    let impact = first.impact.clone();
    view! {
        <section class="panel" aria-labelledby="rollout-title" data-test="rollout">
            <h2 id="rollout-title">"Rollout"</h2>
            <p>
                "Set "
                <A href=format!("/scriptlets/{}?rev={}", first.scriptlet, first.revision)>
                    {format!("{} revision {}", first.scriptlet_name, first.revision)}
                </A>
                {format!(" as the placement scriptlet of {connection} (PATCH /1.0, instances.placement.scriptlet).")}
            </p>
            <p data-test="rollout-state" data-state=move || step().state>
                {move || {
                    let step = step();
                    let mut text = format!("Step: {}", step.state);
                    if let Some(previous) = step.previous_revision {
                        text.push_str(&format!(" · the cluster's scriptlet before is kept as revision {previous}"));
                    }
                    text
                }}
            </p>
            {move || step().error.map(|error| view! {
                <p class="notice error" role="alert" data-test="rollout-error">{error}</p>
            })}
            {match impact {
                Some(impact) => view! {
                    <h3>"Impact of the change (each instance re-created)"</h3>
                    <p data-test="rollout-impact"><strong>{impact.summary.clone()}</strong></p>
                    <table class="table compact">
                        <thead><tr><th>"Instance"</th><th>"Now"</th><th>"Before"</th><th>"After"</th></tr></thead>
                        <tbody>
                            {impact.changed.iter().take(ROLLOUT_ROWS).map(|c| view! {
                                <tr data-test="rollout-changed">
                                    <td class="mono">{c.instance.clone()}</td>
                                    <td class="mono">{c.location.clone()}</td>
                                    <td class="mono">{outcome(&c.from)}</td>
                                    <td class="mono">{outcome(&c.to)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    {(impact.changed.len() > ROLLOUT_ROWS).then(|| view! {
                        <p class="muted small">{format!("The first {ROLLOUT_ROWS} of {}.", impact.changed.len())}</p>
                    })}
                    {impact_link.map(|href| view! { <p><a href=href data-test="rollout-impact-link">"Open in Impact"</a></p> })}
                }
                .into_any(),
                None => view! {
                    <p class="muted">"Preview the plan to see what the revision would change."</p>
                }
                .into_any(),
            }}
        </section>
    }
}

/// Changed decisions shown on a rollout plan; the Impact page has them all.
const ROLLOUT_ROWS: usize = 50;

#[component]
fn PreviewLine(preview: Option<PreviewStamp>) -> impl IntoView {
    match preview {
        None => view! { <p class="muted" data-test="preview-stamp">"Not previewed yet."</p> }.into_any(),
        Some(stamp) => {
            let hash: String = stamp.snapshot_hash.chars().take(12).collect();
            view! {
                <p class="muted" data-test="preview-stamp">
                    "Previewed on "
                    <A href=format!("/?snapshot={}", stamp.snapshot_id)>{format!("snapshot #{}", stamp.snapshot_id)}</A>
                    " (" <span class="mono" title="SHA-256 of the snapshot's canonical JSON">{hash}</span>
                    {format!(", Incus {}) at {}", stamp.incus_version, format::timestamp(&stamp.previewed_at))}
                </p>
            }
            .into_any()
        }
    }
}

/// One button: a form posting the plan's id to the server function at `path`.
fn action_button(
    actions: Actions,
    path: &'static str,
    id: i64,
    label: &'static str,
    test: &'static str,
    class: &'static str,
) -> AnyView {
    view! {
        <PostedForm posts=actions path>
            <input type="hidden" name="id" value=id/>
            <button type="submit" class=class data-test=test disabled=move || actions.pending()>{label}</button>
        </PostedForm>
    }
    .into_any()
}

/// Where a plan is reviewed and executed, in words.
fn basis_text(connection: &str, snapshot_id: Option<i64>) -> String {
    match (connection, snapshot_id) {
        ("", Some(snapshot)) => format!("on snapshot #{snapshot} (review only: no connection)"),
        (connection, Some(snapshot)) => format!("on snapshot #{snapshot}, executing on {connection}"),
        (connection, None) => format!("on connection {connection}"),
    }
}

/// The actions the plan's state and the viewer's role allow. An approval names `version`, the
/// version of the plan the page shows.
fn action_buttons(
    state: &str,
    id: i64,
    version: i64,
    actions: Actions,
    rights: Rights,
) -> impl IntoView + use<> {
    let final_state = is_final(state);
    let mut buttons: Vec<AnyView> = Vec::new();
    // An approved plan is not previewed again in place: executing checks the cluster.
    if rights.draft && matches!(state, "draft" | "in_review" | "superseded") {
        buttons.push(action_button(
            actions,
            PreviewPlan::PATH,
            id,
            "Preview",
            "preview-plan",
            "button",
        ));
    }
    if rights.draft && matches!(state, "draft" | "superseded") {
        buttons.push(action_button(
            actions,
            SubmitPlan::PATH,
            id,
            "Submit for review",
            "submit-plan",
            "button primary",
        ));
    }
    if rights.approve && state == "in_review" && !rights.contributor {
        buttons.push(
            view! {
                <PostedForm posts=actions path=ApprovePlan::PATH>
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="version" value=version/>
                    <button type="submit" class="button primary" data-test="approve-plan"
                        disabled=move || actions.pending()>
                        {format!("Approve version {version}")}
                    </button>
                </PostedForm>
            }
            .into_any(),
        );
    }
    if rights.approve && matches!(state, "in_review" | "approved") {
        buttons.push(action_button(
            actions,
            RequestPlanChanges::PATH,
            id,
            "Request changes",
            "request-changes",
            "button",
        ));
    }
    if rights.execute && rights.executable && state == "approved" {
        buttons.push(action_button(
            actions,
            ExecutePlan::PATH,
            id,
            "Execute",
            "execute-plan",
            "button primary",
        ));
    }
    if rights.draft && matches!(state, "succeeded" | "failed") {
        buttons.push(action_button(
            actions,
            ReversePlan::PATH,
            id,
            "Reverse plan",
            "reverse-plan",
            "button",
        ));
    }
    let may_cancel = if state == "executing" {
        rights.execute
    } else {
        rights.draft && (rights.contributor || rights.approve)
    };
    if may_cancel && !final_state {
        buttons.push(
            view! {
                <details class="confirm">
                    <summary class="button danger" data-test="cancel-plan">"Cancel plan"</summary>
                    <PostedForm posts=actions path=CancelPlan::PATH>
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="button danger" data-test="confirm-cancel"
                            disabled=move || actions.pending()>
                            "Cancel it for good"
                        </button>
                    </PostedForm>
                </details>
            }
            .into_any(),
        );
    }
    let busy = move || {
        actions
            .pending()
            .then(|| view! { <span class="muted small" role="status">"Working…"</span> })
    };
    let empty = buttons.is_empty();
    view! {
        {buttons}
        {busy}
        {empty.then(|| view! { <span class="muted small" data-test="no-actions">"Nothing for you to do on this plan now."</span> })}
    }
}

#[component]
fn MovesTable(
    moves: Vec<PlanMoveView>,
    live_plan: RwSignal<PlanView>,
    id: i64,
    actions: Actions,
    rights: Rights,
) -> impl IntoView {
    if moves.is_empty() {
        return view! { <p class="muted">"This plan has no moves."</p> }.into_any();
    }
    view! {
        <div class="scroll-table" tabindex="0" role="region" aria-label="Moves">
            <table class="table moves" data-test="moves-table">
                <thead>
                    <tr>
                        <th>"#"</th><th>"Instance"</th><th>"Target project"</th><th>"Target"</th><th>"From"</th>
                        <th>"Verdict"</th><th>"Decision"</th><th>"State"</th>
                    </tr>
                </thead>
                {moves
                    .into_iter()
                    .enumerate()
                    .map(|(index, first)| view! { <MoveRows index first live_plan id actions may_skip=rights.draft/> })
                    .collect_view()}
            </table>
        </div>
    }
    .into_any()
}

/// A move's field as it is now (moves keep their positions).
fn move_field<T: Clone + PartialEq + Send + Sync + 'static>(
    live_plan: RwSignal<PlanView>,
    index: usize,
    field: fn(&PlanMoveView) -> T,
    otherwise: T,
) -> Memo<T> {
    Memo::new(move |_| {
        live_plan.with(|plan| {
            plan.moves
                .get(index)
                .map(field)
                .unwrap_or_else(|| otherwise.clone())
        })
    })
}

fn duration(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{} s", crate::format::tenths(ms as f64 / 1_000.0))
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}

/// A move's row and, below it, its details (candidates, logs, Incus's own calls).
#[component]
fn MoveRows(
    index: usize,
    first: PlanMoveView,
    live_plan: RwSignal<PlanView>,
    id: i64,
    actions: Actions,
    may_skip: bool,
) -> impl IntoView {
    let position = index + 1;
    let state = move_field(live_plan, index, |m| m.state.clone(), String::new());
    let error = move_field(live_plan, index, |m| m.error.clone(), None);
    let skipped = move_field(live_plan, index, |m| m.skipped.clone(), None);
    let took = move_field(live_plan, index, |m| m.duration_ms, None);
    let from = move_field(live_plan, index, |m| m.from_member.clone(), None);
    let decision = move_field(
        live_plan,
        index,
        |m| (m.decision.clone(), m.chosen_by.clone()),
        (None, None),
    );
    let plan_final = Memo::new(move |_| live_plan.with(|p| is_final(&p.state)));

    let PlanMoveView {
        project,
        name,
        target_project,
        target,
        verdict,
        reasons,
        candidates,
        excluded,
        scriptlet_logs,
        incus_calls,
        ..
    } = first;
    let instance = format!("{project}/{name}");
    let instance_text = instance.clone();
    let verdict_view = match verdict {
        Some(verdict) => {
            let class = format!("badge verdict verdict-{verdict}");
            view! { <span class=class data-test="verdict" data-verdict=verdict.clone()>{verdict.clone()}</span> }.into_any()
        }
        None => {
            view! { <span class="muted small" data-test="verdict" data-verdict="">"not previewed"</span> }
                .into_any()
        }
    };
    let has_details = !candidates.is_empty()
        || !excluded.is_empty()
        || !scriptlet_logs.is_empty()
        || !incus_calls.is_empty();
    let chosen = decision.get_untracked().0;
    let details = has_details.then(|| {
        let candidate_rows = candidates
            .into_iter()
            .map(|member| {
                let is_chosen = chosen.as_deref() == Some(member.as_str());
                view! {
                    <tr class:chosen=is_chosen data-test="candidate-row">
                        <td class="mono">{member}</td>
                        <td>{if is_chosen { "chosen" } else { "candidate" }}</td>
                        <td></td>
                    </tr>
                }
            })
            .collect_view();
        let excluded_rows = excluded
            .into_iter()
            .map(|member| view! {
                <tr class="excluded" data-test="excluded-row">
                    <td class="mono">{member.member}</td>
                    <td>"excluded"</td>
                    <td>{member.reason}</td>
                </tr>
            })
            .collect_view();
        view! {
            <tr class="move-details">
                <td></td>
                <td colspan="7">
                    <details data-test="move-details">
                        <summary>"Candidates, scriptlet logs and Incus's own calls"</summary>
                        <table class="table candidates" data-test="candidate-table">
                            <thead><tr><th>"Member"</th><th>"Candidate?"</th><th>"Why not"</th></tr></thead>
                            <tbody>{candidate_rows}{excluded_rows}</tbody>
                        </table>
                        {(!scriptlet_logs.is_empty()).then(|| view! {
                            <h4>"Scriptlet logs"</h4>
                            <ul class="logs mono small" data-test="logs">
                                {scriptlet_logs.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                            </ul>
                        })}
                        {(!incus_calls.is_empty()).then(|| view! {
                            <h4>"Incus will still call:"</h4>
                            <table class="table compact" data-test="incus-calls">
                                <thead><tr><th>"Reason"</th><th>"Project"</th><th>"Candidates"</th><th>"Outcome"</th></tr></thead>
                                <tbody>
                                    {incus_calls.into_iter().map(|call| view! {
                                        <tr>
                                            <td><span class="badge">{call.reason}</span></td>
                                            <td>{call.project}</td>
                                            <td class="mono small">{call.candidates.join(", ")}</td>
                                            <td>{call.outcome}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })}
                    </details>
                </td>
            </tr>
        }
    });
    let target = if target.is_empty() {
        "auto".to_owned()
    } else {
        target
    };
    let skip_form = move || {
        (may_skip && !plan_final.get() && state.get() == "pending").then(|| {
            view! {
                <details class="skip">
                    <summary class="button small" data-test="skip-move">"Skip…"</summary>
                    <PostedForm posts=actions path=SkipPlanMove::PATH class="form inline">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="position" value=position/>
                        <label>"Reason" <input type="text" name="reason" required maxlength="500" data-test="skip-reason"/></label>
                        <button type="submit" class="button small" data-test="confirm-skip">"Skip this move"</button>
                    </PostedForm>
                </details>
            }
        })
    };
    view! {
        <tbody class="move">
            <tr data-test="move-row" data-position=position data-instance=instance.clone() data-state=move || state.get()>
                <td>{position}</td>
                <td class="mono nowrap">{instance_text}</td>
                <td>{target_project}</td>
                <td class="mono">{target}</td>
                <td class="mono" data-test="from-member">{move || from.get().unwrap_or_default()}</td>
                <td>
                    {verdict_view}
                    {(!reasons.is_empty()).then(|| view! {
                        <ul class="reasons small" data-test="reasons">
                            {reasons.into_iter().map(|reason| view! { <li>{reason}</li> }).collect_view()}
                        </ul>
                    })}
                </td>
                <td data-test="decision">
                    {move || {
                        let (member, by) = decision.get();
                        member.map(|member| view! {
                            <span class="mono">{member}</span>
                            {by.map(|by| view! { <div class="muted small">{format!("by {by}")}</div> })}
                        })
                    }}
                </td>
                <td data-test="move-state">
                    {move || state_badge(&state.get())}
                    {move || took.get().map(|ms| view! { <span class="muted small" data-test="move-duration">{format!(" {}", duration(ms))}</span> })}
                    {move || skipped.get().map(|reason| view! { <div class="small" data-test="skipped">{format!("skipped: {reason}")}</div> })}
                    {move || error.get().map(|error| view! { <div class="move-error"><code data-test="move-error">{error}</code></div> })}
                    {skip_form}
                </td>
            </tr>
            {details}
        </tbody>
    }
}

/// Replaces the moves with a JSON list (the same shape as the builder's).
#[component]
fn EditMoves(id: i64, specs: Vec<MoveSpec>, actions: Actions) -> impl IntoView {
    let text = RwSignal::new(serde_json::to_string_pretty(&specs).unwrap_or_default());
    let error = RwSignal::new(None::<String>);
    let save = move |_| match crate::json::from_json::<Vec<MoveSpec>>(&text.get_untracked()) {
        Ok(moves) => {
            error.set(None);
            // A JSON body, not a form: called directly, and told to the page as a post is.
            actions.start();
            leptos::task::spawn_local(async move {
                actions.finish(EditPlan::PATH, edit_plan(id, moves).await);
            });
        }
        Err(e) => error.set(Some(format!("not a list of moves: {e}"))),
    };
    view! {
        <details class="panel" data-test="edit-moves">
            <summary>"Edit the moves (JSON)"</summary>
            <p class="muted small">"Saving replaces every move; an approved plan goes back to review and needs a new preview."</p>
            <label class="form wide">"Moves"
                <textarea rows="8" class="mono" data-test="edit-moves-json"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            </label>
            <div class="form inline">
                <button type="button" class="button" data-test="save-moves" disabled=move || actions.pending() on:click=save>
                    "Save the moves"
                </button>
            </div>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
        </details>
    }
}

#[component]
fn Comments(
    id: i64,
    comments: Vec<crate::types::CommentView>,
    move_names: Vec<String>,
    may_comment: bool,
    actions: Actions,
) -> impl IntoView {
    let count = comments.len();
    view! {
        <section class="panel" aria-labelledby="comments-title" data-test="comments">
            <h2 id="comments-title">{format!("Comments ({count})")}</h2>
            {(count == 0).then(|| view! { <p class="muted">"No comment yet."</p> })}
            <ol class="comments">
                {comments
                    .into_iter()
                    .map(|c| view! {
                        <li data-test="comment">
                            <div class="comment-head">
                                <strong>{c.author}</strong>
                                <span class="muted small">{format::timestamp(&c.at)}</span>
                                {c.position.map(|p| view! { <span class="badge">{format!("move #{p}")}</span> })}
                            </div>
                            <p class="comment-body">{c.body}</p>
                        </li>
                    })
                    .collect_view()}
            </ol>
            {may_comment.then(|| view! {
                <PostedForm posts=actions path=CommentPlan::PATH class="form wide">
                    <input type="hidden" name="id" value=id/>
                    <label>"Comment"
                        <textarea name="body" rows="3" required maxlength="4000" data-test="comment-body"></textarea>
                    </label>
                    <div class="form inline">
                        <label>"About"
                            <select name="position" data-test="comment-position">
                                <option value="">"the whole plan"</option>
                                {move_names
                                    .iter()
                                    .enumerate()
                                    .map(|(index, name)| view! { <option value=(index + 1).to_string()>{format!("move #{} ({name})", index + 1)}</option> })
                                    .collect_view()}
                            </select>
                        </label>
                        <button type="submit" class="button" data-test="add-comment" disabled=move || actions.pending()>
                            "Add comment"
                        </button>
                    </div>
                </PostedForm>
            })}
        </section>
    }
}

#[component]
fn AuditTrail(entries: Vec<AuditEntryView>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="trail-title" data-test="plan-timeline">
            <h2 id="trail-title">"History"</h2>
            {if entries.is_empty() {
                view! { <p class="muted">"Nothing recorded yet."</p> }.into_any()
            } else {
                view! {
                    <table class="table compact">
                        <thead><tr><th>"When (UTC)"</th><th>"User"</th><th>"What"</th><th>"Details"</th></tr></thead>
                        <tbody>
                            {entries
                                .into_iter()
                                .map(|entry| {
                                    let kind = entry.kind.clone();
                                    view! {
                                    <tr data-test="timeline-row" data-kind=kind>
                                        <td class="nowrap">{format::timestamp(&entry.at)}</td>
                                        <td>{entry.user.unwrap_or_else(|| "—".into())}</td>
                                        <td><span class="badge">{entry.kind}</span></td>
                                        <td class="detail"><code class="small">{entry.detail}</code></td>
                                    </tr>
                                }})
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(1_300), "1.3 s");
        assert_eq!(duration(125_000), "2 min 5 s");
    }
}
