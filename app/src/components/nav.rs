//! The navigation shell around every page: the sections of Berth, the ones not built yet
//! shown as such rather than hidden, so users see where the product is going.

use leptos::prelude::*;
use leptos_router::components::A;

/// Sections that exist in the product plan but not yet in this build.
const COMING: [(&str, &str); 3] = [
    (
        "Scriptlets",
        "Write placement scriptlets with validation as you type",
    ),
    ("Sandbox", "Preview every scriptlet call Incus would make"),
    ("Plans", "Plan, review and execute cross-project moves"),
];

#[component]
pub fn NavShell(children: Children) -> impl IntoView {
    view! {
        <div class="layout">
            <nav class="sidebar" aria-label="Sections">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"⚓"</span>
                    "Berth"
                </a>
                <ul class="nav-list">
                    <li>
                        <A href="/" attr:class="nav-link" attr:data-test="nav-cluster">"Cluster"</A>
                    </li>
                    {COMING
                        .iter()
                        .map(|(name, purpose)| {
                            view! {
                                <li>
                                    <span
                                        class="nav-link disabled"
                                        aria-disabled="true"
                                        title=format!("Not yet available: {purpose}")
                                        data-test="nav-coming"
                                    >
                                        {*name}
                                        <span class="soon">"soon"</span>
                                    </span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <main class="content">{children()}</main>
        </div>
    }
}
