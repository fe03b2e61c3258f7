//! The page for any path no route matches; answers with HTTP 404 when rendered on the server.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <section class="page narrow">
            <h1>"Not found"</h1>
            <p>"There is no page at this address. " <a href="/">"Back to the cluster"</a></p>
        </section>
    }
}
