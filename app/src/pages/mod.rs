//! One page per file; every route is listed in `App` (`lib.rs`).
//!
//! Every page but "not found" is a lazy route: in the browser its code is a wasm module of its
//! own, split from the main one at build time (`tools/wasm-split`, run by `scripts/build.sh`)
//! and loaded when the page is shown, so a page downloads the shell and itself rather than
//! every page (issue 22's weight budget). The server renders the same views in place, and
//! names the current page's modules in the HTML so the browser fetches them beside the main one.

pub mod audit;
pub mod cluster;
pub mod decisions;
pub mod impact;
pub mod login;
pub mod not_found;
pub mod plans;
pub mod scriptlets;
pub mod settings;
pub mod snapshots;

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// Declares `$route`, the lazy route that shows `$page`. Pages load their own data, so a
/// route's data half is empty and the whole page is in the split module.
macro_rules! lazy_pages {
    ($($route:ident => $page:path;)*) => {$(
        #[doc = concat!("The lazy route of [`", stringify!($page), "`].")]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    )*};
}

/// Declares `$route`, the lazy route of one of the editor's pages, as [`lazy_pages!`] would with
/// `$view` its split function (`$preload_view` that function's preload), and one step more:
/// a page opened on the sandbox's Matrix tab also loads that tab's module before it hydrates
/// (`components::matrix`). Written out because `#[lazy_route]` writes `preload` itself.
macro_rules! editor_pages {
    ($($route:ident => $page:path, $view:ident, $preload_view:ident;)*) => {$(
        #[doc = concat!("The lazy route of [`", stringify!($page), "`].")]
        pub struct $route;

        #[allow(non_snake_case)]
        #[leptos::lazy]
        fn $view(_this: $route) -> AnyView {
            $page().into_any()
        }

        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            async fn view(this: Self) -> AnyView {
                $view(this).await
            }

            // The router awaits this before hydrating the page (and `view` must then be ready).
            // One after the other: the loader takes the first module asked for as the page's.
            async fn preload() {
                #[cfg(feature = "hydrate")]
                $preload_view().await;
                crate::components::matrix::load_if_opened_on_tab().await;
            }
        }
    )*};
}

editor_pages! {
    NewScriptletRoute => scriptlets::NewScriptletPage, __NewScriptletRoute_View, __preload___NewScriptletRoute_View;
    ScriptletRoute => scriptlets::ScriptletPage, __ScriptletRoute_View, __preload___ScriptletRoute_View;
}

lazy_pages! {
    ClusterRoute => cluster::ClusterPage;
    LoginRoute => login::LoginPage;
    NoAccessRoute => login::NoAccessPage;
    PasswordRoute => settings::PasswordPage;
    TokensRoute => settings::TokensPage;
    UsersRoute => settings::UsersPage;
    ConnectionsRoute => settings::ConnectionsPage;
    AuditRoute => audit::AuditPage;
    SnapshotsRoute => snapshots::SnapshotsPage;
    ScriptletsRoute => scriptlets::ScriptletsPage;
    DiffRoute => scriptlets::DiffPage;
    PlansRoute => plans::PlansPage;
    NewPlanRoute => plans::NewPlanPage;
    PlanRoute => plans::PlanPage;
    ImpactRoute => impact::ImpactPage;
    DecisionsRoute => decisions::DecisionsPage;
}
