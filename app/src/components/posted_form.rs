//! Forms posted to server functions that all answer the same type, sent by one client.
//!
//! `ActionForm` compiles a whole client per server function: its arguments decoded from the
//! form and encoded again (serde_qs), the request, the answer and the action's reactive state.
//! The plan page has ten actions that all answer a `PlanView`, and paid for ten clients (about
//! 80 KB of its wasm before optimisation, measured). A [`PostedForm`] sends the form as the
//! browser encodes it, to the server function's own path, through one client per answer type
//! ([`FormPosts`]). The server sees what it sees from a form posted without JavaScript, plus
//! the CSRF header: every endpoint, and the access table that authorises it, stay as they are.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::server::ServerActionError;
use leptos::server_fn::error::ServerFnUrlError;
use serde::de::DeserializeOwned;

use crate::csrf::CsrfField;
use crate::error::BerthError;

/// How a post ended: the path it was posted to and the server's answer.
pub type Posted<T> = Option<(String, Result<T, BerthError>)>;

/// The posts of a page's forms that answer a `T`: whether one is under way, and how the last
/// one ended.
pub struct FormPosts<T: Send + Sync + 'static> {
    pending: RwSignal<bool>,
    version: RwSignal<usize>,
    outcome: RwSignal<Posted<T>>,
}

impl<T: Send + Sync + 'static> Clone for FormPosts<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for FormPosts<T> {}

impl<T: Send + Sync + 'static> FormPosts<T> {
    /// Starts with the error of a form the browser posted itself (before the page was
    /// hydrated, or without JavaScript), when leptos_axum sent the browser back with it in the
    /// URL, which the router reads (`ServerActionError`), on the server as in the browser; as
    /// `ServerAction` does. (An error `backend::answered` gave a status of its own is answered
    /// there and then instead: the status replaces the redirect.)
    pub fn new() -> Self {
        let refused = use_context::<ServerActionError>().map(|refused| {
            let error = ServerFnUrlError::<BerthError>::decode_err(refused.err());
            (refused.path().to_owned(), Err(error))
        });
        FormPosts {
            pending: RwSignal::new(false),
            version: RwSignal::new(0),
            outcome: RwSignal::new(refused),
        }
    }

    /// Whether a post is under way (tracked).
    pub fn pending(&self) -> bool {
        self.pending.get()
    }

    /// Changes whenever a post completes, well or not (tracked).
    pub fn version(&self) -> usize {
        self.version.get()
    }

    /// How the last post ended (tracked).
    pub fn outcome(&self) -> ReadSignal<Posted<T>> {
        self.outcome.read_only()
    }

    /// Records a call's end: for a call made without a form (a JSON body, say), so that the
    /// page learns of it the way it learns of a post.
    pub fn finish(&self, path: &'static str, result: Result<T, BerthError>) {
        self.pending.set(false);
        self.outcome.set(Some((path.to_owned(), result)));
        self.version.update(|version| *version += 1);
    }

    /// Marks a call as started (see [`FormPosts::finish`]).
    pub fn start(&self) {
        self.pending.set(true);
    }
}

#[cfg(feature = "hydrate")]
impl<T: DeserializeOwned + Send + Sync + 'static> FormPosts<T> {
    /// Posts `body` (`application/x-www-form-urlencoded`) to `path`, in the background.
    #[cfg(feature = "hydrate")]
    fn post(self, path: &'static str, body: String) {
        self.start();
        leptos::task::spawn_local(async move {
            let result = client::post_form::<T>(path, body).await;
            self.finish(path, result);
        });
    }
}

/// A form posted to the server function at `path` (`<ServerFn>::PATH`), answered with a `T`.
/// Without JavaScript the browser posts it (its `csrf_token` field included) and the server
/// sends the browser back; with it, [`FormPosts`] sends it and records the answer.
#[component]
pub fn PostedForm<T>(
    posts: FormPosts<T>,
    path: &'static str,
    #[prop(optional)] class: &'static str,
    children: Children,
) -> impl IntoView
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        #[cfg(feature = "hydrate")]
        if let Some(body) = client::form_body(&event) {
            posts.post(path, body);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = posts;
    };
    view! {
        <form method="post" action=path class=class on:submit=on_submit>
            <CsrfField/>
            {children()}
        </form>
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use gloo_net::http::Request;
    use leptos::ev::SubmitEvent;
    use leptos::server_fn::error::FromServerFnError;
    use leptos::wasm_bindgen::JsCast;
    use serde::de::DeserializeOwned;
    use web_sys::{FormData, HtmlFormElement, UrlSearchParams};

    use crate::csrf::{page_token, CSRF_HEADER};
    use crate::error::BerthError;

    /// The submitted form's fields, URL-encoded as the browser would post them.
    pub fn form_body(event: &SubmitEvent) -> Option<String> {
        let form: HtmlFormElement = event.target()?.dyn_into().ok()?;
        let fields = FormData::new_with_form(&form).ok()?;
        let encoded = UrlSearchParams::new_with_str_sequence_sequence(&fields).ok()?;
        Some(String::from(encoded.to_string()))
    }

    /// Posts a form to a server function and reads its answer as a server function client
    /// does: an error status carries a `BerthError`, anything else the JSON of a `T`.
    pub async fn post_form<T: DeserializeOwned>(path: &str, body: String) -> Result<T, BerthError> {
        let call = |error: gloo_net::Error| BerthError::Call(error.to_string());
        let mut request = Request::post(path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            // What a server function client asks for: the answer, not a redirect back.
            .header("Accept", "application/json");
        if let Some(token) = page_token() {
            request = request.header(CSRF_HEADER, &token);
        }
        let response = request.body(body).map_err(call)?.send().await.map_err(call)?;
        let bytes = response.binary().await.map_err(call)?;
        if (400..=599).contains(&response.status()) {
            return Err(BerthError::de(bytes.into()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|error| BerthError::Call(format!("the answer could not be read: {error}")))
    }
}
