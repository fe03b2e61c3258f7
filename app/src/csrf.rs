//! Server functions that change something send the session's CSRF token: the server refuses
//! a cookie-authenticated write without it (`server/src/http/access.rs`).
//!
//! The token is in the page's `<meta name="csrf-token">`, rendered by [`crate::shell`] for the
//! signed-in session; [`CsrfClient`] is the browser client with the header added. Forms that
//! must work without JavaScript carry it as a hidden `csrf_token` field instead ([`CsrfField`]).

use std::future::Future;

use leptos::prelude::*;
use leptos::server_fn::client::browser::BrowserClient;
use leptos::server_fn::client::Client;
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::request::browser::BrowserRequest;
use leptos::server_fn::response::browser::BrowserResponse;

/// The header the server reads the token from.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// The meta tag's name.
pub const CSRF_META: &str = "csrf-token";

/// The browser's `fetch` client, adding the page's CSRF token to every request.
pub struct CsrfClient;

impl<E, IS, OS> Client<E, IS, OS> for CsrfClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(request: BrowserRequest) -> impl Future<Output = Result<BrowserResponse, E>> + Send {
        if let Some(token) = meta_token() {
            request.headers().set(CSRF_HEADER, &token);
        }
        <BrowserClient as Client<E, IS, OS>>::send(request)
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<Item = Result<bytes::Bytes, bytes::Bytes>> + Send + 'static,
                impl futures::Sink<bytes::Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}

/// The CSRF token of the page: the session's on the server, the meta tag's in the browser.
pub fn page_token() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        crate::backend::caller().and_then(|caller| caller.csrf_token)
    }
    #[cfg(not(feature = "ssr"))]
    {
        meta_token()
    }
}

#[cfg_attr(feature = "ssr", allow(dead_code))]
fn meta_token() -> Option<String> {
    let document = leptos::web_sys::window()?.document()?;
    let meta = document
        .query_selector(&format!("meta[name=\"{CSRF_META}\"]"))
        .ok()??;
    meta.get_attribute("content")
}

/// The hidden field that carries the token in a form posted without JavaScript.
#[component]
pub fn CsrfField() -> impl IntoView {
    page_token().map(|token| view! { <input type="hidden" name="csrf_token" value=token/> })
}
