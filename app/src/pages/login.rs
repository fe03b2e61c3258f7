//! `/login`: a plain HTML form posted to `POST /login`, so signing in works without
//! JavaScript. The server answers with a redirect: to `next` on success, back here with the
//! reason (`?error=…`) otherwise. With single sign-on configured, "Sign in with NAME" beside
//! it: a plain link to `/login/oidc` (carrying `next`), also without JavaScript.
//!
//! `/no-access`: where a single sign-on whose groups give no role in Berth ends.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::get_sign_in_options;
use crate::query::query_string;
use crate::resource::page_resource;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read_untracked().get(name).unwrap_or_default();
    let (next, error, username) = (param("next"), param("error"), param("username"));
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let options = page_resource(|| (), |()| get_sign_in_options());
    let single_sign_on_next = next.clone();
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
            <Suspense fallback=|| ()>
                {move || {
                    let next = single_sign_on_next.clone();
                    Suspend::new(async move {
                        let name = options.await.ok()?.single_sign_on?;
                        let href = format!(
                            "/login/oidc{}",
                            query_string(if next.is_empty() { vec![] } else { vec![("next", next)] })
                        );
                        // `rel="external"`: a full navigation (the server redirects to the
                        // provider), not the router's client-side one, which knows no such page.
                        Some(view! {
                            <p class="single-sign-on">
                                <a class="button" href=href rel="external" data-test="login-oidc">"Sign in with " {name}</a>
                            </p>
                        })
                    })
                }}
            </Suspense>
            <p class="muted small">
                "No account? An admin adds one under Settings → Users, or on the server with "
                <code>"berth user add NAME --role ROLE"</code>"."
            </p>
        </section>
    }
}

/// A single sign-on that worked at the identity provider, but whose groups map to no role in
/// Berth: no session was opened.
#[component]
pub fn NoAccessPage() -> impl IntoView {
    let options = page_resource(|| (), |()| get_sign_in_options());
    view! {
        <Title text="No access"/>
        <section class="page narrow login" data-test="no-access-page">
            <h1>"No access to Berth"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let name = options
                        .await
                        .ok()
                        .and_then(|options| options.single_sign_on)
                        .unwrap_or_else(|| "the identity provider".to_owned());
                    view! {
                        <p class="notice error" role="alert" data-test="no-access">
                            "You signed in with " {name} ", but none of your groups there gives a role in Berth, so you were not signed in."
                        </p>
                    }
                })}
            </Suspense>
            <p>"Ask an admin of Berth or of your identity provider to add you to a group that Berth maps to a role, then sign in again."</p>
            <p><a href="/login" data-test="no-access-login">"Back to sign-in"</a></p>
        </section>
    }
}
