//! `/login`: a plain HTML form posted to `POST /login`, so signing in works without
//! JavaScript. The server answers with a redirect: to `next` on success, back here with the
//! reason (`?error=…`) otherwise.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read_untracked().get(name).unwrap_or_default();
    let (next, error, username) = (param("next"), param("error"), param("username"));
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="Sign in"/>
        <section class="page narrow login" data-test="login-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Sign in to Berth"</h1>
            {(!error.is_empty())
                .then(|| view! { <p class="notice error" role="alert" data-test="login-error">{error}</p> })}
            <form class="form" method="post" action="/login">
                <input type="hidden" name="next" value=next/>
                <label>
                    "Username"
                    <input
                        type="text"
                        name="username"
                        autocomplete="username"
                        required
                        autofocus
                        value=username
                        data-test="login-username"
                    />
                </label>
                <label>
                    "Password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                        data-test="login-password"
                    />
                </label>
                <button type="submit" class="button primary" data-test="login-submit">"Sign in"</button>
            </form>
            <p class="muted small">
                "No account? An admin adds one under Settings → Users, or on the server with "
                <code>"berth user add NAME --role ROLE"</code>"."
            </p>
        </section>
    }
}
