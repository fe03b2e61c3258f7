//! Parts of a page in a wasm module of their own: the editor's Matrix tab, golden cases, fuzzer,
//! revision list and its save, which most visits to the editor never use (issue 22's weight
//! budget). Declared with [`split_fn!`], loaded when first used, shown with [`lazy_panel`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use leptos::prelude::*;

use crate::error::BerthError;

/// What a split function answers: its result once its module is loaded, or why the module did
/// not load.
pub type Split<T> = Pin<Box<dyn Future<Output = Result<T, BerthError>> + Send + Sync>>;

/// A split function's body, boxed: a split function cannot be `async` itself, and in the browser
/// its future is not `Send` (as Leptos's `#[lazy]` does it).
pub fn boxed<T>(body: impl Future<Output = Result<T, BerthError>> + 'static) -> Split<T> {
    Box::pin(send_wrapper::SendWrapper::new(body))
}

/// `fn $name(…) -> Split<$out>` whose body (an async block's, answering `Result<$out,
/// BerthError>`) is in the wasm module `$module` (`wasm_split`, as Leptos's `#[lazy]`), with
/// `$preload` to load the module alone. In the browser a call loads the module first, and a
/// module that does not load (the network) is an `Err`, where `#[lazy]` would panic and stop
/// the page, unsaved text and all; the next call tries again. On the server it is an ordinary
/// function.
macro_rules! split_fn {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty,
        in $module:ident $(, preload $preload:ident)?
        $body:block
    ) => {
        $(#[$attr])*
        #[cfg_attr(feature = "hydrate", ::leptos::wasm_split::wasm_split(
            $module,
            wasm_split_path = ::leptos::wasm_split,
            fallible,
            $(preload($preload),)?
            return_wrapper(let future = _; { future.await } -> Result<$out, $crate::error::BerthError>),
        ))]
        $vis fn $name($($arg: $ty),*) -> $crate::components::lazy_panel::Split<$out> {
            $crate::components::lazy_panel::boxed(async move $body)
        }
    };
}
pub(crate) use split_fn;

/// The view a split function answers (`panel` calls it): at once when its module is there
/// already, otherwise "Loading…" until it is; a module that did not load says so, with a button
/// to try again. At once is always the case on the server, and in the browser for a panel the
/// page loaded before hydrating (the Matrix tab, when the page opens on it), so that hydration
/// finds the HTML the server rendered rather than a placeholder.
pub fn lazy_panel<Answer>(panel: impl Fn() -> Answer + Send + Sync + 'static) -> AnyView
where
    Answer: Future<Output = Result<AnyView, BerthError>> + Send + 'static,
{
    panel_view(Arc::new(move || Box::pin(panel()) as PanelAnswer))
}

type PanelAnswer = Pin<Box<dyn Future<Output = Result<AnyView, BerthError>> + Send>>;

/// [`lazy_panel`], compiled once for every panel rather than once each.
fn panel_view(panel: Arc<dyn Fn() -> PanelAnswer + Send + Sync>) -> AnyView {
    let attempts = RwSignal::new(0u32);
    let shown = move |answer: Result<AnyView, BerthError>| match answer {
        Ok(view) => view,
        Err(error) => view! {
            <p class="notice error" role="alert" data-test="panel-error">
                {error.to_string()}" "
                <button type="button" class="button small" on:click=move |_| attempts.update(|n| *n += 1)>
                    "Try again"
                </button>
            </p>
        }
        .into_any(),
    };
    (move || {
        attempts.track();
        let mut answer = panel();
        match answer.as_mut().now_or_never() {
            Some(answer) => shown(answer),
            None => view! {
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {Suspend::new(async move { shown(answer.await) })}
                </Suspense>
            }
            .into_any(),
        }
    })
    .into_any()
}

/// Whether a `<details>`' toggle event opened it: the panels in one are made at its first opening.
pub fn details_opened(event: &leptos::ev::Event) -> bool {
    event_target::<leptos::web_sys::Element>(event).has_attribute("open")
}
