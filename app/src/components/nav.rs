//! The navigation shell around every page: the sections of Berth (the admin ones only for
//! those whose role may use them) and the user menu: who is signed in, their settings, and
//! signing out.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::csrf::CsrfField;
use crate::types::Viewer;
use crate::ViewerResource;

#[component]
pub fn NavShell(children: Children) -> impl IntoView {
    let viewer = expect_context::<ViewerResource>();
    view! {
        <div class="layout">
            <nav class="sidebar" aria-label="Sections">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"⚓"</span>
                    "Berth"
                </a>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match viewer.await {
                            Ok(Some(viewer)) => view! { <Sections viewer/> }.into_any(),
                            _ => view! {
                                <p class="nav-signin">
                                    <a href="/login" data-test="nav-signin">"Sign in"</a>
                                </p>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </nav>
            <main class="content">{children()}</main>
        </div>
    }
}

#[component]
fn Sections(viewer: Viewer) -> impl IntoView {
    let admin_links = [
        ("/settings/users", "Users", "manage_users", "nav-users"),
        (
            "/settings/connections",
            "Connections",
            "manage_connections",
            "nav-connections",
        ),
        ("/audit", "Audit log", "read_audit", "nav-audit"),
    ]
    .into_iter()
    .filter(|(_, _, action, _)| viewer.may(action))
    .map(|(href, label, _, test)| {
        view! { <li><A href=href attr:class="nav-link" attr:data-test=test>{label}</A></li> }
    })
    .collect_view();
    view! {
        <ul class="nav-list">
            <li>
                <A href="/" attr:class="nav-link" attr:data-test="nav-cluster">"Cluster"</A>
            </li>
            <li>
                <A href="/scriptlets" attr:class="nav-link" attr:data-test="nav-scriptlets">"Scriptlets"</A>
            </li>
            <li>
                <A href="/snapshots" attr:class="nav-link" attr:data-test="nav-snapshots">"Snapshots"</A>
            </li>
            <li>
                <A href="/impact" attr:class="nav-link" attr:data-test="nav-impact">"Impact"</A>
            </li>
            <li>
                <A href="/plans" attr:class="nav-link" attr:data-test="nav-plans">"Plans"</A>
            </li>
            <li>
                <A href="/decisions" attr:class="nav-link" attr:data-test="nav-decisions">"Decisions"</A>
            </li>
            {admin_links}
        </ul>
        <div class="user-menu" data-test="user-menu">
            <details>
                <summary>
                    <span class="user-name" data-test="user-name">{viewer.username.clone()}</span>
                    <span class="badge" data-test="user-role">{viewer.role.clone()}</span>
                </summary>
                <ul class="nav-list">
                    <li><A href="/settings/password" attr:class="nav-link" attr:data-test="nav-password">"Change password"</A></li>
                    <li><A href="/settings/tokens" attr:class="nav-link" attr:data-test="nav-tokens">"API tokens"</A></li>
                </ul>
            </details>
            <form method="post" action="/logout">
                <CsrfField/>
                <button type="submit" class="button" data-test="logout">"Sign out"</button>
            </form>
        </div>
    }
}
