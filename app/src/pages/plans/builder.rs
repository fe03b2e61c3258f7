//! `/plans/new`: a plan built from the instances of a stored snapshot. The URL says which
//! (`?snapshot=ID`: any stored snapshot, the demo included; without it, the newest capture of
//! `?connection=NAME`, or of the first connection); the filters (project, member, label, name)
//! narrow the list, ticked instances are added as moves with a target project and target (auto,
//! a member or `@group`), or a JSON list is pasted. "Save draft" stores it and opens the plan.
//!
//! A plan on a chosen snapshot is previewed and reviewed on that snapshot; one on a connection's
//! newest capture is previewed on fresh captures of the connection. Either executes only on a
//! connection, whose fresh capture must agree with what was reviewed.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::{plan_builder, CreatePlan};
use crate::components::error_notice::ErrorNotice;
use crate::components::feedback::hydration_flag;
use crate::resource::page_resource;
use crate::types::{
    BuilderInstance, MoveSpec, NewPlan, PlanBuilderSetup, RolloutSpec, ScriptletChoice, SnapshotSummary,
};

#[component]
pub fn NewPlanPage() -> impl IntoView {
    let query = use_query_map();
    let connection = Memo::new(move |_| query.read().get("connection").filter(|name| !name.is_empty()));
    let snapshot = Memo::new(move |_| query.read().get("snapshot").and_then(|id| id.parse::<i64>().ok()));
    let setup = page_resource(
        move || (connection.get(), snapshot.get()),
        |(connection, snapshot)| plan_builder(connection, snapshot),
    );
    let hydrated = hydration_flag();
    view! {
        <Title text="New plan"/>
        <section class="page" data-test="plan-builder" data-hydrated=move || hydrated.get().to_string()>
            <header class="page-head">
                <h1>"New plan"</h1>
                <A href="/plans">"All plans"</A>
            </header>
            <p class="muted">
                "Pick instances from a snapshot and where each should go. "
                "The draft is previewed, reviewed and executed from its own page."
            </p>
            <Transition fallback=|| view! { <p class="loading">"Loading the instances…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        let chosen_snapshot = snapshot.get_untracked();
                        setup.await.map(|setup| view! { <Builder setup chosen_snapshot/> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

/// `key` of an instance: `project/name`.
fn key(project: &str, name: &str) -> String {
    format!("{project}/{name}")
}

/// Whether an instance passes the filters (empty ones pass everything).
fn shown(instance: &BuilderInstance, project: &str, member: &str, label: &str, name: &str) -> bool {
    (project.is_empty() || instance.project == project)
        && (member.is_empty() || instance.member == member)
        && (label.is_empty() || instance.labels.iter().any(|l| l.contains(label)))
        && (name.is_empty() || instance.name.contains(name))
}

/// Adds moves, a later move of the same instance replacing the earlier one.
fn add_moves(moves: RwSignal<Vec<MoveSpec>>, added: Vec<MoveSpec>) {
    moves.update(|moves| {
        for spec in added {
            moves.retain(|m| !(m.project == spec.project && m.name == spec.name));
            moves.push(spec);
        }
    });
}

/// Where a new plan is reviewed and executed.
#[derive(Debug, Clone, PartialEq)]
struct Basis {
    /// The connection it executes on; `None`: review only.
    connection: Option<String>,
    /// The snapshot it is previewed on; `None`: fresh captures of the connection.
    snapshot_id: Option<i64>,
}

#[component]
fn Builder(setup: PlanBuilderSetup, chosen_snapshot: Option<i64>) -> impl IntoView {
    let PlanBuilderSetup {
        connections,
        connection,
        snapshots,
        snapshot_id,
        instances,
        projects,
        members,
        groups,
        scriptlets,
    } = setup;
    let picker = view! {
        <SourcePicker connections snapshots connection=connection.clone() chosen_snapshot snapshot_id/>
    };
    let Some(snapshot_id) = snapshot_id else {
        let notice = match &connection {
            Some(name) => format!("There is no snapshot of {name} yet. Capture one on the "),
            None => "There is no snapshot yet. Capture or upload one on the ".to_owned(),
        };
        return view! {
            {picker}
            <p class="notice warn" data-test="no-snapshot">
                {notice}
                <A href="/snapshots">"Snapshots"</A>
                " page, then come back: a plan is built and previewed on a snapshot."
            </p>
        }
        .into_any();
    };
    // Reviewed on the snapshot when one was chosen, or when there is no connection to capture.
    let basis = Basis {
        snapshot_id: (chosen_snapshot.is_some() || connection.is_none()).then_some(snapshot_id),
        connection,
    };
    let review_only = basis.connection.is_none().then(|| {
        view! {
            <p class="notice info" role="status" data-test="review-only">
                "This plan has no connection: it can be previewed, reviewed and approved on the snapshot, "
                "not executed. An admin adds connections under "
                <A href="/settings/connections">"Settings → Connections"</A>"."
            </p>
        }
    });
    let moves = RwSignal::new(Vec::<MoveSpec>::new());
    let instances = StoredValue::new(instances);
    view! {
        {picker}
        {review_only}
        <InstancePicker instances projects=projects.clone() members=members.clone() groups moves/>
        <JsonMoves moves/>
        <MoveList moves/>
        <SaveBar basis=basis.clone() moves/>
        <RolloutBar basis scriptlets/>
    }
    .into_any()
}

/// Where the instances come from and where the plan executes, as a GET form: a new choice
/// reloads the instances (`?snapshot=`, `?connection=`), with or without JavaScript.
#[component]
fn SourcePicker(
    connections: Vec<String>,
    snapshots: Vec<SnapshotSummary>,
    connection: Option<String>,
    chosen_snapshot: Option<i64>,
    snapshot_id: Option<i64>,
) -> impl IntoView {
    let navigate = use_navigate();
    let snapshot_choice = RwSignal::new(chosen_snapshot.map(|id| id.to_string()).unwrap_or_default());
    let connection_choice = RwSignal::new(connection.clone().unwrap_or_default());
    let reload = move || {
        let mut query = leptos_router::params::ParamsMap::new();
        query.insert("snapshot", snapshot_choice.get_untracked());
        query.insert("connection", connection_choice.get_untracked());
        navigate(
            &format!("/plans/new{}", query.to_query_string()),
            NavigateOptions::default(),
        );
    };
    let reload = StoredValue::new(reload);
    view! {
        <Form method="GET" action="" attr:class="form inline" attr:data-test="source-form">
            <label>"Instances from"
                <select name="snapshot" data-test="builder-snapshot-choice" on:change=move |ev| {
                    snapshot_choice.set(event_target_value(&ev));
                    reload.with_value(|reload| reload());
                }>
                    <option value="" selected=chosen_snapshot.is_none()>"the connection's newest capture (previewed on fresh captures)"</option>
                    {snapshots
                        .iter()
                        .map(|snapshot| {
                            let label = format!("#{} {} ({})", snapshot.id, snapshot.name, snapshot.captured_at);
                            view! { <option value=snapshot.id.to_string() selected=chosen_snapshot == Some(snapshot.id)>{label}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>"Executes on"
                <select name="connection" data-test="builder-connection" on:change=move |ev| {
                    connection_choice.set(event_target_value(&ev));
                    reload.with_value(|reload| reload());
                }>
                    {chosen_snapshot.is_some().then(|| view! {
                        <option value="" selected=connection.is_none()>"no connection (review only)"</option>
                    })}
                    {connections
                        .iter()
                        .map(|name| view! { <option value=name.clone() selected=connection.as_deref() == Some(name.as_str())>{name.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
            <noscript><button type="submit" class="button">"Load"</button></noscript>
            {snapshot_id.map(|id| view! {
                <span class="muted small" data-test="builder-snapshot">
                    "instances of snapshot " <A href=format!("/?snapshot={id}")>{format!("#{id}")}</A>
                </span>
            })}
        </Form>
    }
}

#[component]
fn InstancePicker(
    instances: StoredValue<Vec<BuilderInstance>>,
    projects: Vec<String>,
    members: Vec<String>,
    groups: Vec<String>,
    moves: RwSignal<Vec<MoveSpec>>,
) -> impl IntoView {
    let project = RwSignal::new(String::new());
    let member = RwSignal::new(String::new());
    let label = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let picked = RwSignal::new(BTreeSet::<String>::new());
    let target_project = RwSignal::new(String::new());
    let target = RwSignal::new(String::new());

    let visible = Memo::new(move |_| {
        let (project, member, label, name) = (project.get(), member.get(), label.get(), name.get());
        instances.with_value(|all| {
            all.iter()
                .filter(|i| shown(i, &project, &member, label.trim(), name.trim()))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let all_picked = move || {
        visible.with(|shown| {
            !shown.is_empty() && picked.with(|p| shown.iter().all(|i| p.contains(&key(&i.project, &i.name))))
        })
    };
    let toggle_all = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        let keys: Vec<String> =
            visible.with(|shown| shown.iter().map(|i| key(&i.project, &i.name)).collect());
        picked.update(|p| {
            for k in keys {
                if on {
                    p.insert(k);
                } else {
                    p.remove(&k);
                }
            }
        });
    };
    let add = move |_| {
        let to_project = target_project.get_untracked();
        let to = target.get_untracked().trim().to_owned();
        let chosen = picked.get_untracked();
        let specs: Vec<MoveSpec> = instances.with_value(|all| {
            all.iter()
                .filter(|i| chosen.contains(&key(&i.project, &i.name)))
                .map(|i| MoveSpec {
                    project: i.project.clone(),
                    name: i.name.clone(),
                    target_project: to_project.clone(),
                    target: to.clone(),
                })
                .collect()
        });
        add_moves(moves, specs);
        picked.set(BTreeSet::new());
    };
    let may_add = move || picked.with(|p| !p.is_empty()) && !target_project.with(String::is_empty);
    let total = instances.with_value(Vec::len);

    view! {
        <div class="panel" data-test="instance-picker">
            <h2>"Instances"</h2>
            <div class="form inline filters" role="search" aria-label="Filter the instances">
                <label>"Project"
                    <select data-test="filter-project" on:change=move |ev| project.set(event_target_value(&ev))>
                        <option value="">"any"</option>
                        {options(&projects)}
                    </select>
                </label>
                <label>"Member"
                    <select data-test="filter-member" on:change=move |ev| member.set(event_target_value(&ev))>
                        <option value="">"any"</option>
                        {options(&members)}
                    </select>
                </label>
                <label>"Label"
                    <input type="search" placeholder="user.KEY=VALUE" data-test="filter-label"
                        prop:value=move || label.get() on:input=move |ev| label.set(event_target_value(&ev))/>
                </label>
                <label>"Name"
                    <input type="search" placeholder="part of the name" data-test="filter-name"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <span class="muted small" role="status" data-test="instance-count">
                    {move || format!("{} of {total} shown, {} ticked", visible.with(Vec::len), picked.with(BTreeSet::len))}
                </span>
            </div>
            <div class="scroll-table" tabindex="0" role="region" aria-label="Instances of the snapshot">
                <table class="table" data-test="instance-table">
                    <thead>
                        <tr>
                            <th>
                                <input type="checkbox" aria-label="Tick every instance shown" data-test="pick-all"
                                    prop:checked=all_picked on:change=toggle_all/>
                            </th>
                            <th>"Project"</th><th>"Name"</th><th>"Member"</th><th>"Status"</th><th>"Labels"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || visible.get().into_iter().map(|instance| instance_row(instance, picked)).collect_view()}
                    </tbody>
                </table>
            </div>
            <div class="form inline" data-test="add-bar">
                <label>"Target project"
                    <select data-test="target-project" on:change=move |ev| target_project.set(event_target_value(&ev))>
                        <option value="">"choose…"</option>
                        {options(&projects)}
                    </select>
                </label>
                <label>"Target"
                    <input type="text" list="plan-targets" placeholder="auto, a member or @group" data-test="target"
                        prop:value=move || target.get() on:input=move |ev| target.set(event_target_value(&ev))/>
                </label>
                <datalist id="plan-targets">
                    {members.iter().map(|m| view! { <option value=m.clone()/> }).collect_view()}
                    {groups.iter().map(|g| view! { <option value=format!("@{g}")/> }).collect_view()}
                </datalist>
                <button type="button" class="button primary" data-test="add-selected"
                    disabled=move || !may_add() on:click=add>
                    "Add ticked instances"
                </button>
            </div>
        </div>
    }
}

fn instance_row(instance: BuilderInstance, picked: RwSignal<BTreeSet<String>>) -> impl IntoView {
    let id = key(&instance.project, &instance.name);
    let (checked_id, toggle_id) = (id.clone(), id.clone());
    let label = format!("Move {id}");
    let status = instance.status.clone();
    view! {
        <tr data-test="builder-instance" data-instance=id data-status=status>
            <td>
                <input type="checkbox" aria-label=label data-test="pick-instance"
                    prop:checked=move || picked.with(|p| p.contains(&checked_id))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        let k = toggle_id.clone();
                        picked.update(|p| {
                            if on {
                                p.insert(k);
                            } else {
                                p.remove(&k);
                            }
                        });
                    }/>
            </td>
            <td>{instance.project}</td>
            <td class="mono">{instance.name}</td>
            <td class="mono">{instance.member}</td>
            <td>{instance.status}</td>
            <td class="small">
                {instance.labels.into_iter().map(|l| view! { <span class="badge mono">{l}</span>" " }).collect_view()}
            </td>
        </tr>
    }
}

/// `<option>`s for `values`.
fn options(values: &[String]) -> impl IntoView + use<> {
    values
        .iter()
        .map(|value| view! { <option value=value.clone()>{value.clone()}</option> })
        .collect_view()
}

/// A JSON list of moves pasted in, added to the plan.
#[component]
fn JsonMoves(moves: RwSignal<Vec<MoveSpec>>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let add = move |_| match crate::json::from_json::<Vec<MoveSpec>>(&text.get_untracked()) {
        Ok(specs) => {
            error.set(None);
            add_moves(moves, specs);
            text.set(String::new());
        }
        Err(e) => error.set(Some(format!("not a list of moves: {e}"))),
    };
    view! {
        <details class="panel" data-test="json-moves">
            <summary>"Or paste the moves as JSON"</summary>
            <label class="form wide">"Moves"
                <textarea rows="5" class="mono" data-test="moves-json"
                    placeholder=r#"[{"project":"default","name":"web-01","target_project":"web","target":""}]"#
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            </label>
            <div class="form inline">
                <button type="button" class="button" data-test="add-json" on:click=add>"Add these moves"</button>
            </div>
            {move || error.get().map(|e| view! { <p class="notice error" role="alert" data-test="json-error">{e}</p> })}
        </details>
    }
}

#[component]
fn MoveList(moves: RwSignal<Vec<MoveSpec>>) -> impl IntoView {
    view! {
        <div class="panel" data-test="builder-moves">
            <h2>{move || format!("Moves ({})", moves.with(Vec::len))}</h2>
            {move || {
                let list = moves.get();
                if list.is_empty() {
                    return view! { <p class="muted" data-test="no-moves">"No move yet: tick instances above and add them."</p> }.into_any();
                }
                view! {
                    <table class="table">
                        <thead><tr><th>"#"</th><th>"Instance"</th><th>"Target project"</th><th>"Target"</th><th><span class="visually-hidden">"Remove"</span></th></tr></thead>
                        <tbody>
                            {list.into_iter().enumerate().map(|(index, spec)| move_row(index, spec, moves)).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </div>
    }
}

fn move_row(index: usize, spec: MoveSpec, moves: RwSignal<Vec<MoveSpec>>) -> impl IntoView {
    let instance = key(&spec.project, &spec.name);
    let target = if spec.target.is_empty() {
        "auto".to_owned()
    } else {
        spec.target
    };
    let label = format!("Remove the move of {instance}");
    let text = instance.clone();
    view! {
        <tr data-test="builder-move" data-instance=instance>
            <td>{index + 1}</td>
            <td class="mono">{text}</td>
            <td>{spec.target_project}</td>
            <td class="mono">{target}</td>
            <td>
                <button type="button" class="button small danger" aria-label=label data-test="remove-move"
                    on:click=move |_| moves.update(|m| {
                        if index < m.len() {
                            m.remove(index);
                        }
                    })>
                    "Remove"
                </button>
            </td>
        </tr>
    }
}

/// Opens the plan `create` made, once it has.
fn open_when_created(create: ServerAction<CreatePlan>) {
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(plan)) = create.value().get() {
            navigate(&format!("/plans/{}", plan.id), NavigateOptions::default());
        }
    });
}

#[component]
fn SaveBar(basis: Basis, moves: RwSignal<Vec<MoveSpec>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let stop_on_failure = RwSignal::new(true);
    let create = ServerAction::<CreatePlan>::new();
    open_when_created(create);
    let basis = StoredValue::new(basis);
    let save = move |_| {
        let Basis {
            connection,
            snapshot_id,
        } = basis.get_value();
        create.dispatch(CreatePlan {
            new: NewPlan {
                rollout: None,
                name: name.get_untracked().trim().to_owned(),
                connection: connection.unwrap_or_default(),
                snapshot_id,
                moves: moves.get_untracked(),
                stop_on_failure: stop_on_failure.get_untracked(),
            },
        });
    };
    view! {
        <div class="panel" data-test="save-plan-bar">
            <div class="form inline">
                <label>"Plan name"
                    <input type="text" required maxlength="100" placeholder="move web to proj-b" data-test="plan-name"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label>
                    <input type="checkbox" data-test="stop-on-failure"
                        prop:checked=move || stop_on_failure.get()
                        on:change=move |ev| stop_on_failure.set(event_target_checked(&ev))/>
                    "Stop at the first failed move"
                </label>
                <button type="button" class="button primary" data-test="save-plan"
                    disabled=move || create.pending().get() || moves.with(Vec::is_empty) || name.with(|n| n.trim().is_empty())
                    on:click=save>
                    "Save draft"
                </button>
            </div>
            {move || create.value().get().and_then(Result::err).map(|error| view! {
                <p class="notice error" role="alert" data-test="save-error">{error.to_string()}</p>
            })}
        </div>
    }
}

/// Instead of moves: a plan that rolls a saved scriptlet revision out to the connection's
/// cluster, saved as a draft like any plan.
#[component]
fn RolloutBar(basis: Basis, scriptlets: Vec<ScriptletChoice>) -> impl IntoView {
    if scriptlets.is_empty() {
        return ().into_any();
    }
    let name = RwSignal::new(String::new());
    let scriptlet = RwSignal::new(scriptlets[0].id);
    let revision = RwSignal::new(scriptlets[0].revisions.first().map(|(n, _)| *n).unwrap_or(1));
    let scriptlets = StoredValue::new(scriptlets);
    let create = ServerAction::<CreatePlan>::new();
    open_when_created(create);
    let basis = StoredValue::new(basis);
    let revisions = move || {
        let chosen = scriptlet.get();
        scriptlets.with_value(|all| {
            all.iter()
                .find(|s| s.id == chosen)
                .map(|s| s.revisions.clone())
                .unwrap_or_default()
        })
    };
    let save = move |_| {
        let Basis {
            connection,
            snapshot_id,
        } = basis.get_value();
        create.dispatch(CreatePlan {
            new: NewPlan {
                name: name.get_untracked().trim().to_owned(),
                connection: connection.unwrap_or_default(),
                snapshot_id,
                moves: Vec::new(),
                rollout: Some(RolloutSpec {
                    scriptlet: scriptlet.get_untracked(),
                    revision: revision.get_untracked(),
                }),
                stop_on_failure: true,
            },
        });
    };
    view! {
        <section class="panel" aria-labelledby="rollout-title" data-test="rollout-bar">
            <h2 id="rollout-title">"Or roll out a scriptlet revision"</h2>
            <p class="muted small">
                "A plan whose one step sets the revision as the cluster's placement scriptlet; its preview shows what it would change."
            </p>
            <div class="form inline">
                <label>"Scriptlet"
                    <select data-test="rollout-scriptlet" on:change=move |ev| {
                        if let Ok(id) = event_target_value(&ev).parse::<i64>() {
                            scriptlet.set(id);
                            let newest = scriptlets.with_value(|all| {
                                all.iter().find(|s| s.id == id).and_then(|s| s.revisions.first().map(|(n, _)| *n))
                            });
                            revision.set(newest.unwrap_or(1));
                        }
                    }>
                        {scriptlets.get_value().into_iter().map(|s| view! {
                            <option value=s.id.to_string() selected=move || scriptlet.get() == s.id>{s.name.clone()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Revision"
                    <select data-test="rollout-revision" on:change=move |ev| {
                        if let Ok(number) = event_target_value(&ev).parse::<i64>() {
                            revision.set(number);
                        }
                    }>
                        {move || revisions().into_iter().map(|(number, message)| view! {
                            <option value=number.to_string() selected=move || revision.get() == number>
                                {format!("{number}: {message}")}
                            </option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Plan name"
                    <input type="text" required maxlength="100" placeholder="roll out spread v3" data-test="rollout-name"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <button type="button" class="button primary" data-test="save-rollout"
                    disabled=move || create.pending().get() || name.with(|n| n.trim().is_empty())
                    on:click=save>
                    "Save rollout draft"
                </button>
            </div>
            {move || create.value().get().and_then(Result::err).map(|error| view! {
                <p class="notice error" role="alert" data-test="rollout-save-error">{error.to_string()}</p>
            })}
        </section>
    }
    .into_any()
}
