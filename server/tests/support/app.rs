//! `TestApp`: Berth's router over a fresh SQLite store in a temporary directory, driven
//! through `tower::ServiceExt::oneshot` (no socket). Requests go through public routes only,
//! signed in as a real user would be: `get`, `post_json` and `post_bytes` carry the session
//! cookie of an admin, its CSRF token and a same-origin `Origin`; `send_as` takes any
//! [`Client`] (anonymous, another role, an API token).
//!
//! The app's clock is manual ([`TestApp::time`]): session expiry and rate-limit windows are
//! tested by moving it, never by sleeping.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use berth_app::backend::SharedBackend;
use berth_core::access::Role;
use berth_server::audit::Actor;
use berth_server::auth::{Auth, AuthConfig};
use berth_server::clock::{Clock, ManualTime};
use berth_server::db::Store;
use berth_server::http::access::{SECURE_SESSION_COOKIE, SESSION_COOKIE};

use super::database::{Backend, TestDatabase};
use berth_server::http::streams::{OpenStreams, StreamLimits};
use berth_server::http::{router, AppState, WebConfig};
use berth_server::sandbox::{SandboxConfig, SandboxPools};
use berth_server::services::Services;
use http_body_util::BodyExt;
use leptos::prelude::LeptosOptions;
use tower::ServiceExt;

/// The host tests send requests to, and the origin of Berth's own pages there.
pub const HOST: &str = "berth.test";
pub const ORIGIN: &str = "http://berth.test";

/// Every test user's password is this followed by the user's name.
pub const PASSWORD_PREFIX: &str = "correct horse battery ";

pub struct TestApp {
    pub store: Store,
    pub auth: Auth,
    pub time: ManualTime,
    /// The state the router was built from (to list its routes).
    pub state: AppState,
    router: Router,
    /// The admin the default requests are made as.
    pub admin: Client,
    /// The origin of Berth's pages: [`ORIGIN`], or its `https` twin when cookies are secure.
    pub origin: String,
    /// The session cookie's name: `berth_session`, or `__Host-berth_session` when secure.
    pub cookie_name: &'static str,
    // Kept for the lifetime of the app: dropping them deletes the database and site.
    _dir: tempfile::TempDir,
    _database: TestDatabase,
}

/// Who sends a request, and with which credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum Client {
    Anonymous,
    Session { cookie: String, csrf_token: String },
    Token(String),
}

impl Client {
    /// Notes the client's secrets for the check over the logs (`logs.rs`).
    pub fn record_secrets(&self) {
        match self {
            Client::Anonymous => {}
            Client::Session { cookie, csrf_token } => {
                super::logs::secret(cookie);
                super::logs::secret(csrf_token);
            }
            Client::Token(token) => super::logs::secret(token),
        }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    /// The session cookie this response sets, under either name, if any (`Some("")` when it
    /// clears it).
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| {
                value
                    .strip_prefix(&format!("{SESSION_COOKIE}="))
                    .or_else(|| value.strip_prefix(&format!("{SECURE_SESSION_COOKIE}=")))
            })
            .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
    }
}

pub fn password_of(username: &str) -> String {
    format!("{PASSWORD_PREFIX}{username}")
}

impl TestApp {
    /// An app with an empty store (but an admin, signed in).
    pub async fn empty() -> TestApp {
        TestApp::with_config(AuthConfig::default()).await
    }

    pub async fn with_config(config: AuthConfig) -> TestApp {
        TestApp::build(config, WebConfig::default(), StreamLimits::default()).await
    }

    /// An app whose event streams have these limits (e.g. checked every few milliseconds).
    pub async fn with_stream_limits(limits: StreamLimits) -> TestApp {
        TestApp::build(AuthConfig::default(), WebConfig::default(), limits).await
    }

    /// An app behind a load balancer at `proxy` (trusted for `X-Forwarded-For`).
    pub async fn behind_proxy(proxy: &str) -> TestApp {
        let web = WebConfig {
            trusted_proxies: vec![proxy.parse().unwrap()],
            ..WebConfig::default()
        };
        TestApp::build(AuthConfig::default(), web, StreamLimits::default()).await
    }

    async fn build(config: AuthConfig, web: WebConfig, streams: StreamLimits) -> TestApp {
        super::logs::capture();
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = TestDatabase::fresh(Backend::from_env()).await;
        // Connections' client keys are sealed with a key of the app's own, as `serve`'s
        // would be with its key file.
        let store = database
            .open()
            .await
            .with_sealing_key(berth_server::secrets::SecretKey::generate());
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        std::fs::write(site.join("pkg/berth.css"), "body {}").unwrap();
        let leptos_options = LeptosOptions::builder()
            .output_name(berth_app::OUTPUT_NAME)
            .site_root(site.to_string_lossy().into_owned())
            .build();
        let (origin, cookie_name) = if config.secure_cookies {
            (ORIGIN.replace("http:", "https:"), SECURE_SESSION_COOKIE)
        } else {
            (ORIGIN.to_owned(), SESSION_COOKIE)
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        let (clock, time) = Clock::manual(now);
        let auth = Auth::new(store.clone(), clock, config);
        let mut sandbox = SandboxConfig::new(env!("CARGO_BIN_EXE_berth").into());
        sandbox.time_limit = Duration::from_millis(1500);
        sandbox.memory_bytes = 512 << 20;
        sandbox.limits.max_heap_bytes = 128 << 20;
        let pools = SandboxPools::new(sandbox, 1);
        let services = Services::new(store.clone(), auth.clone(), &pools);
        let plans = services.plan_context().clone();
        let backend: SharedBackend = Arc::new(services);
        let state = AppState {
            leptos_options,
            backend,
            plans,
            store: store.clone(),
            sandbox: pools.authors.clone(),
            auth: auth.clone(),
            web: Arc::new(web),
            streams: OpenStreams::new(streams),
            oidc: None,
        };
        let router = router(state.clone());
        let mut app = TestApp {
            store,
            auth,
            time,
            state,
            router,
            admin: Client::Anonymous,
            origin,
            cookie_name,
            _dir: dir,
            _database: database,
        };
        app.admin = app.user("admin", Role::Admin).await;
        app
    }

    /// The app with single sign-on configured as `settings` say (its router rebuilt).
    pub fn with_single_sign_on(mut self, settings: berth_server::auth::oidc::OidcSettings) -> TestApp {
        let oidc = berth_server::auth::oidc::Oidc::new(settings, None, self.auth.clone())
            .expect("the provider's client builds");
        self.state.oidc = Some(oidc);
        self.router = router(self.state.clone());
        self
    }

    /// An app whose store holds the demo snapshot.
    pub async fn with_demo() -> TestApp {
        let app = TestApp::empty().await;
        app.insert_snapshot(&berth_core::demo::demo_snapshot()).await;
        app
    }

    /// Stores a snapshot as the command line does (audited); its id.
    pub async fn insert_snapshot(&self, snapshot: &berth_core::Snapshot) -> i64 {
        let added = self.auth.audit().snapshot_added(&Actor::command_line(), snapshot);
        let (id, _) = self
            .store
            .insert_snapshot(snapshot, &added)
            .await
            .expect("the snapshot stores");
        id
    }

    /// Adds a user with this role (password: [`password_of`]) and signs them in.
    pub async fn user(&self, username: &str, role: Role) -> Client {
        super::logs::secret(&password_of(username));
        self.auth
            .add_user(&Actor::command_line(), username, role, &password_of(username))
            .await
            .expect("user added");
        self.sign_in(username, &password_of(username)).await
    }

    /// Signs in through `POST /api/v1/session`; panics unless it succeeds.
    pub async fn sign_in(&self, username: &str, password: &str) -> Client {
        let response = self.try_sign_in(username, password, None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let client = Client::Session {
            cookie: response.session_cookie().expect("a session cookie"),
            csrf_token: response.json()["csrf_token"].as_str().unwrap().to_owned(),
        };
        client.record_secrets();
        client
    }

    /// `POST /api/v1/session` from an address (`None`: no socket, as oneshot has none).
    pub async fn try_sign_in(&self, username: &str, password: &str, address: Option<&str>) -> TestResponse {
        self.try_sign_in_forwarded(username, password, address, None)
            .await
    }

    /// `POST /api/v1/session` from a peer address with an `X-Forwarded-For` header.
    pub async fn try_sign_in_forwarded(
        &self,
        username: &str,
        password: &str,
        address: Option<&str>,
        forwarded_for: Option<&str>,
    ) -> TestResponse {
        let mut request = Request::post("/api/v1/session")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, &self.origin)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"username": username, "password": password}).to_string(),
            ))
            .unwrap();
        if let Some(forwarded_for) = forwarded_for {
            request
                .headers_mut()
                .insert("x-forwarded-for", forwarded_for.parse().unwrap());
        }
        if let Some(address) = address {
            let peer = berth_server::tls::PeerAddress(format!("{address}:40000").parse().unwrap());
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        }
        self.send(request).await
    }

    /// An API token for this client (via `POST /api/v1/tokens`).
    pub async fn token_for(&self, client: &Client, name: &str) -> Client {
        let response = self
            .send_as(
                client,
                Method::POST,
                "/api/v1/tokens",
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        let client = Client::Token(response.json()["token"].as_str().unwrap().to_owned());
        client.record_secrets();
        client
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send_as(&self.admin, Method::GET, uri, None).await
    }

    /// POST a JSON body as the admin.
    pub async fn post_json(&self, uri: &str, body: &serde_json::Value) -> TestResponse {
        self.send_as(&self.admin, Method::POST, uri, Some(body.clone()))
            .await
    }

    /// POST raw bytes as the admin, with a `Content-Type` or none.
    pub async fn post_bytes(&self, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> TestResponse {
        let mut request = self.request(&self.admin, Method::POST, uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// A request as `client`, with a JSON body or none.
    pub async fn send_as(
        &self,
        client: &Client,
        method: Method,
        uri: &str,
        body: Option<serde_json::Value>,
    ) -> TestResponse {
        let request = self.request(client, method, uri);
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    /// A request builder with the client's credentials, `Host` and (for writes) the same-origin
    /// `Origin` a browser sends.
    pub fn request(&self, client: &Client, method: Method, uri: &str) -> axum::http::request::Builder {
        let writes = !method.is_safe();
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, HOST);
        if writes {
            request = request.header(header::ORIGIN, &self.origin);
        }
        match client {
            Client::Anonymous => request,
            Client::Session { cookie, csrf_token } => {
                let request = request.header(header::COOKIE, format!("{}={cookie}", self.cookie_name));
                if writes {
                    request.header("x-csrf-token", csrf_token)
                } else {
                    request
                }
            }
            Client::Token(token) => request.header(header::AUTHORIZATION, format!("Bearer {token}")),
        }
    }

    /// The router, e.g. to serve it on a real socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Sends a request and answers as soon as the head is there, the body unread (an event
    /// stream: it stays open as long as the body is held).
    pub async fn open(&self, request: Request<Body>) -> axum::response::Response {
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers")
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.open(request).await;
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
