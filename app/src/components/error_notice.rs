//! What a page shows when its data could not be loaded, and (on the server) the HTTP status
//! that goes with it: a missing snapshot is a 404, not a 200 with an error inside.

use leptos::error::Errors;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::error::BerthError;

#[component]
pub fn ErrorNotice(errors: ArcRwSignal<Errors>) -> impl IntoView {
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
    view! {
        <div class="notice error" role="alert" data-test="error">
            <strong>"This page could not be shown."</strong>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
