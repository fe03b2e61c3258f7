//! What pages say about themselves: that they are hydrated (the browser tests wait for it),
//! and what a form's last submission came to.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::error::BerthError;

/// Flips once the page is hydrated (effects run only in the browser); tests wait for it.
pub fn hydration_flag() -> RwSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    hydrated
}

/// What an action's last run came to: nothing yet, done (with the message), or its error.
pub fn outcome<S>(action: ServerAction<S>, done: &'static str) -> impl IntoView
where
    S: ServerFn<Error = BerthError> + Send + Sync + Clone + 'static,
    S::Output: Send + Sync + 'static,
{
    let value = action.value();
    move || {
        value.with(|value| match value {
            Some(Ok(_)) => Some(view! { <p class="notice ok" role="status" data-test="outcome-ok">{done}</p> }.into_any()),
            Some(Err(error)) => Some(
                view! { <p class="notice error" role="alert" data-test="outcome-error">{error.to_string()}</p> }
                    .into_any(),
            ),
            None => None,
        })
    }
}
