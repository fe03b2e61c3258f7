//! What a page shows when its data could not be loaded, and (on the server) the HTTP status
//! that goes with it: a missing snapshot is a 404, not a 200 with an error inside. When the
//! session has ended, it links to the login page and back.

use leptos::error::Errors;
use leptos::prelude::*;
use leptos_router::hooks::use_location;
use leptos_router::params::ParamsMap;

use crate::error::BerthError;

/// `title`: the notice's headline (a page that could not be shown, unless told otherwise, e.g.
/// for an action that failed on a page that is shown).
#[component]
pub fn ErrorNotice(
    errors: ArcRwSignal<Errors>,
    #[prop(default = "This page could not be shown.")] title: &'static str,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        let status = errors
            .get_untracked()
            .iter()
            .find_map(|(_, error)| error.downcast_ref::<BerthError>().map(BerthError::status_code))
            .unwrap_or(500);
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(status) {
                response.set_status(status);
            }
        }
    }
    // A session that ended while the page was open: offer the way back, to this very page.
    let location = use_location();
    let signed_out = {
        let errors = errors.clone();
        move || {
            errors.get().iter().any(|(_, error)| {
                matches!(
                    error.downcast_ref::<BerthError>(),
                    Some(BerthError::Unauthenticated(_))
                )
            })
        }
    };
    let sign_in_again = move || {
        signed_out().then(|| {
            let mut next = ParamsMap::new();
            // The router's `search` has no leading `?`.
            let search = location.search.get();
            let query = if search.is_empty() {
                String::new()
            } else {
                format!("?{search}")
            };
            next.insert("next", format!("{}{query}", location.pathname.get()));
            let href = format!("/login{}", next.to_query_string());
            view! { <p><a href=href data-test="sign-in-again">"Sign in again"</a></p> }
        })
    };
    view! {
        <div class="notice error" role="alert" data-test="error">
            <strong>{title}</strong>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
            {sign_in_again}
        </div>
    }
}
