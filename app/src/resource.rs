//! The pages' resources: `Resource::new` with one change, how the browser decodes what the
//! server rendered with the page.
//!
//! Leptos's default codec decodes a resource's JSON with `serde_json::from_str`, while server
//! functions decode their answers with `serde_json::from_slice`: the same types, read through two
//! different readers, so the wasm bundle carried each type's deserializer twice (the largest
//! item in it, measured with twiggy). [`Json`] reads the resource's JSON with `json::from_json`,
//! as bytes, the way server functions do, and the browser shares one deserializer per type.

use std::future::Future;

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, written as Leptos writes it and read with `serde_json::from_slice` (see the module).
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(json: &str) -> Result<T, serde_json::Error> {
        crate::json::from_json(json)
    }
}

/// A resource of the page, encoded with [`Json`].
pub type PageResource<T> = Resource<T, Json>;

/// `Resource::new`, encoded with [`Json`]: loads `fetcher(source())` on the server and sends
/// the value with the page; the browser decodes it instead of fetching it again.
#[track_caller]
pub fn page_resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> PageResource<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
