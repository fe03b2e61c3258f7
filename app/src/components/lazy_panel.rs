//! Parts of a page in a wasm module of their own (`#[lazy]` functions): the editor's Matrix tab,
//! golden cases and fuzzer, which most visits to the editor never open (issue 22's weight
//! budget). The page loads them when they are first shown.

use std::future::Future;

use futures::FutureExt;
use leptos::prelude::*;

/// The view a `#[lazy]` function answers (`panel`, its call): at once when its module is there
/// already, otherwise "Loading…" until it is. At once is always the case on the server, and in
/// the browser for a panel the page loaded before hydrating (the Matrix tab, when the page opens
/// on it), so that hydration finds the HTML the server rendered rather than a placeholder.
pub fn lazy_panel(panel: impl Future<Output = AnyView> + Send + 'static) -> AnyView {
    let mut panel = Box::pin(panel);
    match panel.as_mut().now_or_never() {
        Some(view) => view,
        None => view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {Suspend::new(panel)}
            </Suspense>
        }
        .into_any(),
    }
}
