//! Berth's web UI, rendered on the server (`ssr`) and hydrated in the browser (`hydrate`).
//!
//! - [`App`] and [`shell`]: the router and the HTML document around it.
//! - `pages/`: one page per file, each a lazy route (its own wasm module in the browser);
//!   `components/`: pieces shared by pages.
//! - [`api`]: server functions, thin wrappers that make one [`backend::Backend`] call.
//! - [`types`]: the wire types pages display; [`error::BerthError`]: the wire error.
//! - `backend` (`ssr` only): the seam through which `server` provides its services,
//!   so this crate never names `server`'s types.
//!
//! Nothing here touches SQLite, Incus or the file system.

// Leptos views are nested types; without `erase_components` (`.cargo/config.toml`) the editor
// page's is deeper than the compiler's default allows.
#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
mod components;
pub mod csrf;
pub mod error;
mod format;
mod json;
mod pages;
mod query;
pub mod resource;
pub mod types;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

use crate::api::get_viewer;
use crate::components::nav::NavShell;
use crate::error::BerthError;
use crate::pages::not_found::NotFoundPage;
use crate::pages::{
    AuditRoute, ClusterRoute, ConnectionsRoute, DecisionsRoute, DiffRoute, ImpactRoute, LoginRoute,
    NewPlanRoute, NewScriptletRoute, NoAccessRoute, PasswordRoute, PlanRoute, PlansRoute, ScriptletRoute,
    ScriptletsRoute, SnapshotsRoute, TokensRoute, UsersRoute,
};
use crate::resource::page_resource;
use crate::types::Viewer;

/// What a new scriptlet starts with (a working placement, so the sandbox shows a result at once).
pub use crate::pages::scriptlets::TEMPLATE as NEW_SCRIPTLET;

/// The signed-in user, loaded once per page load and shared by the navigation and the pages.
pub type ViewerResource = resource::PageResource<Result<Option<Viewer>, BerthError>>;

/// The name of the generated assets: `/pkg/berth.js`, `/pkg/berth.wasm`, `/pkg/berth.css`.
pub const OUTPUT_NAME: &str = "berth";

/// The HTML document every page is rendered into. A signed-in session's CSRF token is in its
/// head, where the server function client reads it (`csrf.rs`).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let csrf_token = csrf::page_token();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                {csrf_token.map(|token| view! { <meta name=csrf::CSRF_META content=token/> })}
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let viewer: ViewerResource = page_resource(|| (), |()| get_viewer());
    provide_context(viewer);
    view! {
        <Stylesheet id="berth" href="/pkg/berth.css"/>
        // The text "" is the title until the page sets its own: while the page's lazy module
        // loads during hydration the document is titled "Berth", never left without a title.
        <Title text="" formatter=|page: String| if page.is_empty() { "Berth".to_owned() } else { format!("{page} · Berth") }/>
        <Router>
            <NavShell>
                <Routes fallback=NotFoundPage>
                    // Async: the HTML is sent once the data is in, so the page is whole without
                    // JavaScript (out-of-order streaming needs a script to place its parts).
                    <Route path=path!("/") view={Lazy::<ClusterRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/no-access") view={Lazy::<NoAccessRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings/password") view={Lazy::<PasswordRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings/tokens") view={Lazy::<TokensRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings/users") view={Lazy::<UsersRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings/connections") view={Lazy::<ConnectionsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/snapshots") view={Lazy::<SnapshotsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/scriptlets") view={Lazy::<ScriptletsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/scriptlets/new") view={Lazy::<NewScriptletRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/scriptlets/:id") view={Lazy::<ScriptletRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/scriptlets/:id/diff") view={Lazy::<DiffRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans") view={Lazy::<PlansRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/new") view={Lazy::<NewPlanRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id") view={Lazy::<PlanRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/impact") view={Lazy::<ImpactRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/decisions") view={Lazy::<DecisionsRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </NavShell>
        </Router>
    }
}
