//! The Cluster page: one snapshot's members, grouped by cluster group, with their load, and
//! its projects with their restrictions.
//!
//! Filters live in the URL (`?snapshot=ID&group=NAME`), so a filtered view is a link one can
//! share, and works before the wasm has loaded; once hydrated, changing the group is a
//! client-side navigation that reuses the loaded snapshot. The name filter is local state.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::api::get_cluster_view;
use crate::components::error_notice::ErrorNotice;
use crate::components::usage_bar::UsageBar;
use crate::format;
use crate::resource::page_resource;
use crate::types::{ClusterView, GroupView, MemberView, ProjectView, SnapshotSummary};

#[component]
pub fn ClusterPage() -> impl IntoView {
    let query = use_query_map();
    let snapshot_id = Memo::new(move |_| query.read().get("snapshot").and_then(|id| id.parse::<i64>().ok()));
    let cluster = page_resource(move || snapshot_id.get(), get_cluster_view);
    // Effects run only in the browser, so this flips once the page is hydrated; the
    // end-to-end tests wait for it before interacting.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Title text="Cluster"/>
        <div class="page" data-test="cluster-page" data-hydrated=move || hydrated.get().to_string()>
            <Suspense fallback=|| view! { <p class="loading">"Loading snapshot…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        cluster.await.map(|cluster| view! { <ClusterOverview cluster/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </div>
    }
}

#[component]
fn ClusterOverview(cluster: ClusterView) -> impl IntoView {
    let query = use_query_map();
    let selected_group = Memo::new(move |_| query.read().get("group"));
    let name_filter = RwSignal::new(String::new());
    // Group links keep the snapshot choice as the URL has it: turning "newest" into an id
    // would change the resource's key and reload data the page already has.
    let link = move |group: Option<&str>| {
        let snapshot = query.read_untracked().get("snapshot");
        let params: Vec<String> = [
            snapshot.map(|id| format!("snapshot={id}")),
            group.map(|g| format!("group={g}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if params.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", params.join("&"))
        }
    };

    let ClusterView {
        snapshot,
        history,
        groups,
        members,
        projects,
        capture_errors,
    } = cluster;
    let online = members.iter().filter(|m| m.status == "Online").count();
    let total_members = members.len();
    let total_instances: usize = members.iter().map(|m| m.instances).sum();
    let running: usize = members.iter().map(|m| m.running).sum();
    let groups = StoredValue::new(groups);
    let members = StoredValue::new(members);

    let chips = move || {
        let selected = selected_group.get();
        let all_chip = view! {
            <A
                href=link(None)
                attr:class=if selected.is_none() { "chip active" } else { "chip" }
                attr:data-test="group-chip"
                attr:data-group=""
            >
                "All"
                <span class="chip-count">{total_members}</span>
            </A>
        };
        let group_chips = groups.with_value(|groups| {
            groups
                .iter()
                .map(|group| {
                    let name = group.name.clone();
                    let member_count = group.members.len();
                    let active = selected.as_deref() == Some(name.as_str());
                    let href = link(Some(&name));
                    let data_group = name.clone();
                    view! {
                        <A
                            href
                            attr:class=if active { "chip active" } else { "chip" }
                            attr:data-test="group-chip"
                            attr:data-group=data_group
                        >
                            {name}
                            <span class="chip-count">{member_count}</span>
                        </A>
                    }
                })
                .collect_view()
        });
        (all_chip, group_chips)
    };

    let sections = move || {
        let needle = name_filter.get().trim().to_lowercase();
        let selected = selected_group.get();
        let shown = groups.with_value(|groups| sections_to_show(groups, selected.as_deref()));
        shown
            .into_iter()
            .map(|(group, only)| {
                let cards = members.with_value(|members| {
                    members
                        .iter()
                        .filter(|member| group.members.contains(&member.name))
                        .filter(|member| only.as_ref().is_none_or(|only| only.contains(&member.name)))
                        .filter(|member| needle.is_empty() || member.name.to_lowercase().contains(&needle))
                        .cloned()
                        .collect::<Vec<_>>()
                });
                view! { <GroupSection group cards/> }
            })
            .collect_view()
    };

    view! {
        <header class="page-head">
            <div>
                <h1>"Cluster"</h1>
                <p class="subtitle" data-test="snapshot-title">
                    {snapshot.name.clone()} " · captured " {snapshot.captured_at.clone()} " · Incus "
                    {snapshot.incus_version.clone()}
                </p>
            </div>
            <dl class="stats">
                <div>
                    <dt>"Members online"</dt>
                    <dd data-test="stat-online">{online} " / " {total_members}</dd>
                </div>
                <div>
                    <dt>"Instances"</dt>
                    <dd data-test="stat-instances">{total_instances}</dd>
                </div>
                <div>
                    <dt>"Running"</dt>
                    <dd>{running}</dd>
                </div>
                <div>
                    <dt>"Projects"</dt>
                    <dd>{projects.len()}</dd>
                </div>
            </dl>
        </header>
        {(!capture_errors.is_empty())
            .then(|| {
                view! {
                    <div class="notice warn" role="status">
                        <strong>"Partial capture: "</strong>
                        {capture_errors.len()}
                        " requests failed while this snapshot was taken."
                        <ul>
                            {capture_errors.into_iter().map(|error| view! { <li><code>{error}</code></li> }).collect_view()}
                        </ul>
                    </div>
                }
            })}
        <section class="card" aria-labelledby="members-heading">
            <div class="card-head">
                <h2 id="members-heading">"Members"</h2>
                <div class="filters">
                    <nav class="chips" aria-label="Filter by cluster group">{chips}</nav>
                    <input
                        type="search"
                        class="search"
                        placeholder="Filter members by name"
                        aria-label="Filter members by name"
                        data-test="member-search"
                        prop:value=move || name_filter.get()
                        on:input=move |event| name_filter.set(event_target_value(&event))
                    />
                </div>
            </div>
            {sections}
        </section>
        <ProjectsTable projects/>
        <SnapshotHistory history current=snapshot.id/>
    }
}

/// The groups to draw and, for each, the subset of its members to draw (`None`: all).
/// `default` holds every member, so it is only drawn when chosen, or for the members no
/// other group holds.
fn sections_to_show(groups: &[GroupView], selected: Option<&str>) -> Vec<(GroupView, Option<Vec<String>>)> {
    if let Some(selected) = selected {
        return groups
            .iter()
            .filter(|g| g.name == selected)
            .map(|g| (g.clone(), None))
            .collect();
    }
    let mut shown: Vec<_> = groups
        .iter()
        .filter(|g| g.name != "default")
        .map(|g| (g.clone(), None))
        .collect();
    if let Some(default) = groups.iter().find(|g| g.name == "default") {
        let ungrouped: Vec<String> = default
            .members
            .iter()
            .filter(|member| !shown.iter().any(|(g, _)| g.members.contains(member)))
            .cloned()
            .collect();
        if !ungrouped.is_empty() {
            shown.push((default.clone(), Some(ungrouped)));
        }
    }
    shown
}

#[component]
fn GroupSection(group: GroupView, cards: Vec<MemberView>) -> impl IntoView {
    view! {
        <section class="group" data-test="group-section" data-group=group.name.clone()>
            <h3 class="group-title">
                {group.name.clone()}
                <span class="group-description">{group.description.clone()}</span>
            </h3>
            {if cards.is_empty() {
                view! { <p class="muted">"No member matches."</p> }.into_any()
            } else {
                view! {
                    <div class="member-grid">
                        {cards.into_iter().map(|member| view! { <MemberCard member/> }).collect_view()}
                    </div>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn MemberCard(member: MemberView) -> impl IntoView {
    let status_class = format!("status status-{}", member.status.to_lowercase());
    let cpu_fraction = member.cpu.map(|cpu| cpu.load_1m / cpu.threads.max(1) as f64);
    let cpu_detail = member
        .cpu
        .map(|cpu| {
            format!(
                "load {} / {} threads",
                crate::format::tenths(cpu.load_1m),
                cpu.threads
            )
        })
        .unwrap_or_default();
    let capacity = |capacity: Option<crate::types::Capacity>| {
        let fraction = capacity.map(|c| c.used as f64 / c.total.max(1) as f64);
        let detail = capacity
            .map(|c| format!("{} / {}", format::bytes(c.used), format::bytes(c.total)))
            .unwrap_or_default();
        (fraction, detail)
    };
    let (memory_fraction, memory_detail) = capacity(member.memory);
    let (disk_fraction, disk_detail) = capacity(member.disk);
    let scheduler = (member.scheduler != "all").then(|| {
        view! { <span class="badge badge-warn" title="scheduler.instance">{format!("scheduler: {}", member.scheduler)}</span> }
    });
    view! {
        <article class="member" data-test="member" data-member=member.name.clone() data-status=member.status.clone()>
            <header class="member-head">
                <h4>{member.name.clone()}</h4>
                <span class=status_class>{member.status.clone()}</span>
            </header>
            // Why a member is not online is shown, not left to a hover: a keyboard or screen
            // reader user gets it too.
            {(member.status != "Online" && !member.message.is_empty()).then(|| view! {
                <p class="member-message small" data-test="member-message">{member.message.clone()}</p>
            })}
            <p class="member-meta">
                <span>{member.architecture.clone()}</span>
                <span title="failure domain">{format!("fd: {}", member.failure_domain)}</span>
                {member.roles.iter().map(|role| view! { <span class="role">{role.clone()}</span> }).collect_view()}
            </p>
            <p class="member-badges">
                {scheduler}
                {member.groups.iter().filter(|g| *g != "default").map(|g| view! { <span class="badge">{g.clone()}</span> }).collect_view()}
            </p>
            <UsageBar label="CPU" fraction=cpu_fraction detail=cpu_detail/>
            <UsageBar label="Memory" fraction=memory_fraction detail=memory_detail/>
            <UsageBar label="Disk" fraction=disk_fraction detail=disk_detail/>
            <footer class="member-foot" data-test="member-instances">
                <strong>{member.instances}</strong> " instances · " {member.running} " running"
                {(member.pending_creates > 0).then(|| format!(" · {} being created", member.pending_creates))}
            </footer>
        </article>
    }
}

#[component]
fn ProjectsTable(projects: Vec<ProjectView>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="projects-heading">
            <div class="card-head">
                <h2 id="projects-heading">"Projects"</h2>
            </div>
            <table class="table" data-test="projects">
                <thead>
                    <tr>
                        <th scope="col">"Project"</th>
                        <th scope="col" class="num">"Instances"</th>
                        <th scope="col">"Placement restrictions"</th>
                        <th scope="col">"Profiles"</th>
                        <th scope="col">"Images"</th>
                    </tr>
                </thead>
                <tbody>
                    {projects
                        .into_iter()
                        .map(|project| {
                            view! {
                                <tr data-test="project" data-project=project.name.clone()>
                                    <td>
                                        <strong>{project.name.clone()}</strong>
                                        <div class="muted small">{project.description.clone()}</div>
                                    </td>
                                    <td class="num">{project.instances}</td>
                                    <td><Restrictions project=project.clone()/></td>
                                    <td>{if project.own_profiles { "own" } else { "from default" }}</td>
                                    <td>{if project.own_images { "own" } else { "from default" }}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Restrictions(project: ProjectView) -> impl IntoView {
    let nothing =
        !project.restricted && project.cluster_groups.is_empty() && project.cluster_target.is_none();
    view! {
        {project.restricted.then(|| view! { <span class="badge badge-warn">"restricted"</span> })}
        {(!project.cluster_groups.is_empty())
            .then(|| {
                view! {
                    <span class="badge" title="restricted.cluster.groups">
                        {format!("groups: {}", project.cluster_groups.join(", "))}
                    </span>
                }
            })}
        {project
            .cluster_target
            .map(|target| view! { <span class="badge" title="restricted.cluster.target">{format!("target: {target}")}</span> })}
        {nothing.then(|| view! { <span class="muted">"none"</span> })}
    }
}

#[component]
fn SnapshotHistory(history: Vec<SnapshotSummary>, current: i64) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="history-heading">
            <div class="card-head">
                <h2 id="history-heading">"Snapshots"</h2>
            </div>
            <table class="table" data-test="snapshots">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Source"</th>
                        <th scope="col">"Captured"</th>
                        <th scope="col">"Incus"</th>
                        <th scope="col" class="num">"Members"</th>
                        <th scope="col" class="num">"Instances"</th>
                        <th scope="col">"Hash"</th>
                    </tr>
                </thead>
                <tbody>
                    {history
                        .into_iter()
                        .map(|snapshot| {
                            let is_current = snapshot.id == current;
                            view! {
                                <tr class:current=is_current>
                                    <td>
                                        <A href=format!("/?snapshot={}", snapshot.id)>{snapshot.name.clone()}</A>
                                        {is_current.then(|| view! { <span class="badge">"shown"</span> })}
                                    </td>
                                    <td>{snapshot.source.clone()}</td>
                                    <td>{snapshot.captured_at.clone()}</td>
                                    <td>{snapshot.incus_version.clone()}</td>
                                    <td class="num">{snapshot.member_count}</td>
                                    <td class="num">{snapshot.instance_count}</td>
                                    <td><code>{snapshot.short_hash.clone()}</code></td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, members: &[&str]) -> GroupView {
        GroupView {
            name: name.into(),
            description: String::new(),
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn default_group_only_shows_members_no_other_group_holds() {
        let groups = [group("default", &["a", "b", "c"]), group("rack", &["a", "b"])];
        let shown = sections_to_show(&groups, None);
        let names: Vec<_> = shown
            .iter()
            .map(|(g, only)| (g.name.as_str(), only.clone()))
            .collect();
        assert_eq!(
            names,
            vec![("rack", None), ("default", Some(vec!["c".to_string()]))]
        );
    }

    #[test]
    fn a_selected_group_is_shown_alone_and_whole() {
        let groups = [group("default", &["a", "b"]), group("rack", &["a"])];
        let shown = sections_to_show(&groups, Some("default"));
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].0.name, "default");
        assert_eq!(shown[0].1, None);
    }
}
