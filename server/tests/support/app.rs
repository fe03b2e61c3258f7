//! `TestApp`: Berth's router over a fresh SQLite store in a temporary directory, driven
//! through `tower::ServiceExt::oneshot` (no socket). Requests go through public routes only.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use berth_app::backend::SharedBackend;
use berth_server::db::Store;
use berth_server::http::{router, AppState};
use berth_server::sandbox::{Sandbox, SandboxConfig};
use berth_server::services::Services;
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

pub struct TestApp {
    pub store: Store,
    router: Router,
    // Kept for the lifetime of the app: dropping it deletes the database and site.
    _dir: tempfile::TempDir,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl TestApp {
    /// An app with an empty store.
    pub async fn empty() -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&dir.path().join("data")).await.expect("store opens");
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        std::fs::write(site.join("pkg/berth.css"), "body {}").unwrap();
        let leptos_options = LeptosOptions::builder()
            .output_name(berth_app::OUTPUT_NAME)
            .site_root(site.to_string_lossy().into_owned())
            .build();
        let backend: SharedBackend = Arc::new(Services::new(store.clone()));
        let mut sandbox = SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into());
        sandbox.time_limit = std::time::Duration::from_millis(1500);
        sandbox.memory_bytes = 512 << 20;
        sandbox.limits.max_heap_bytes = 128 << 20;
        let sandbox = Arc::new(Sandbox::new(sandbox));
        let router = router(AppState {
            leptos_options,
            backend,
            store: store.clone(),
            sandbox,
        });
        TestApp {
            store,
            router,
            _dir: dir,
        }
    }

    /// An app whose store holds the demo snapshot.
    pub async fn with_demo() -> TestApp {
        let app = TestApp::empty().await;
        app.store
            .insert_snapshot(&berth_core::demo::demo_snapshot())
            .await
            .expect("demo stores");
        app
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    /// POST a JSON body.
    pub async fn post_json(&self, uri: &str, body: &serde_json::Value) -> TestResponse {
        let request = Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// POST raw bytes, with a `Content-Type` or none.
    pub async fn post_bytes(&self, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> TestResponse {
        let mut request = Request::post(uri);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// The router, e.g. to serve it on a real socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}
