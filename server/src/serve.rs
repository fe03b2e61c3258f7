//! `berth serve`: open the store and its secret key file (refusing to start when a stored
//! client key does not open with it), make sure an admin exists, build the router, listen
//! (plain HTTP or TLS) until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_app::backend::SharedBackend;
use berth_core::access::Role;
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;

use crate::audit::Actor;
use crate::auth::oidc::{Oidc, OidcArgs};
use crate::auth::{secret, Auth, AuthConfig, AuthError};
use crate::clock::Clock;
use crate::connection_cli::open_secret_key;
use crate::db::{Store, StoreArgs};
use crate::decisions::{DecisionArgs, DecisionLog};
use crate::http::streams::OpenStreams;
use crate::http::{router, AppState, WebConfig};
use crate::sandbox::{PlanSandboxArgs, SandboxArgs, SandboxPools, SimulationArgs};
use crate::secrets::SecretKeyArgs;
use crate::services::Services;
use crate::site::locate_site_root;
use crate::tls::{PeerAddress, TlsListener};

/// How often sessions past their expiry, and sign-in counters of past windows, are removed
/// from the store.
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; elsewhere, serve TLS (`--tls-cert`) or put
    /// Berth behind a TLS proxy.
    #[arg(long, env = "BERTH_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// A second address that serves `GET /metrics` (Prometheus's text format) without
    /// authentication, for a scraper: keep it on loopback or a network only the scraper
    /// reaches. Without it, `/metrics` on the main address needs an admin's API token.
    #[arg(long, env = "BERTH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// PEM certificate chain: Berth serves HTTPS itself (with `--tls-key`); cookies are secure
    /// (as with `--secure-cookies`).
    #[arg(long, env = "BERTH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "BERTH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Berth is reached over HTTPS through a TLS proxy: cookies get `Secure` and the
    /// `__Host-` name, responses `Strict-Transport-Security`, and the page's own origin is
    /// `https://` (implied by `--tls-cert`).
    #[arg(long, env = "BERTH_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// An origin (`https://berth.example.com`) accepted for writes besides the request's own
    /// `Host`: for a proxy that rewrites `Host`. Repeatable; comma-separated in the variable.
    #[arg(long = "origin", env = "BERTH_ORIGINS", value_delimiter = ',')]
    pub origins: Vec<String>,

    /// A proxy (load balancer) address whose `X-Forwarded-For` names the client, for the
    /// per-address login limit and the audit log. Repeatable; comma-separated in the variable.
    #[arg(long = "trusted-proxy", env = "BERTH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// A session unused this long ends (e.g. `8h`, `30m`).
    #[arg(long, env = "BERTH_SESSION_IDLE_TIMEOUT", default_value = "8h", value_parser = humantime::parse_duration)]
    pub session_idle_timeout: Duration,

    /// A session this old ends, however busy (e.g. `7d`).
    #[arg(long, env = "BERTH_SESSION_MAX_AGE", default_value = "7d", value_parser = humantime::parse_duration)]
    pub session_max_age: Duration,

    #[command(flatten)]
    pub data_dir: StoreArgs,

    #[command(flatten)]
    pub secret_key: SecretKeyArgs,

    /// Load the built-in demo snapshot (once; it is identified by its hash) and the scriptlet
    /// templates (each once, by name) into the store, and if there is no admin yet, create
    /// `admin` with a random password printed once.
    #[arg(long, env = "BERTH_DEMO")]
    pub demo: bool,

    /// Directory with the built web assets (`pkg/berth.js`, …). Default: `site/` beside the
    /// executable, or `../site/` (the layout of a cargo target directory).
    #[arg(long, env = "BERTH_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    #[command(flatten)]
    pub sandbox: SandboxArgs,

    #[command(flatten)]
    pub plan_sandbox: PlanSandboxArgs,

    #[command(flatten)]
    pub simulation: SimulationArgs,

    #[command(flatten)]
    pub approvals: crate::plan_cli::PlanApprovals,

    #[command(flatten)]
    pub decisions: DecisionArgs,

    #[command(flatten)]
    pub oidc: OidcArgs,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let site_root = locate_site_root(args.site_root.as_deref())?;
    let store = args
        .data_dir
        .open()
        .await
        .with_context(|| format!("cannot open the store in {}", args.data_dir.describe()))?;
    let (store, check) = open_secret_key(store, &args.data_dir, &args.secret_key).await?;
    if !check.unreadable.is_empty() {
        let reasons: Vec<String> = check.unreadable.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}", reasons.join("\n"));
    }
    let clock = Clock::system();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    let config = AuthConfig {
        idle_timeout: args.session_idle_timeout,
        max_age: args.session_max_age,
        secure_cookies: tls.is_some() || args.secure_cookies,
        ..AuthConfig::default()
    };
    let auth = Auth::new(store.clone(), clock, config);
    if args.demo {
        let stored = crate::demo::store_demo(&auth).await?;
        tracing::info!(
            snapshot.id = stored.snapshot_id,
            snapshot.new = stored.snapshot_new,
            scriptlets.new = stored.scriptlets_new,
            "demo snapshot and scriptlet templates loaded"
        );
    }
    ensure_admin(&auth, &store, args.demo, &args.data_dir).await?;
    spawn_pruning(auth.clone());

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let oidc = match args
        .oidc
        .settings(&format!("{scheme}://{address}/login/oidc/callback"))?
    {
        Some(settings) => {
            tracing::info!(
                issuer = settings.issuer.as_str(),
                redirect = settings.redirect_url.as_str(),
                "single sign-on is on"
            );
            Some(Oidc::new(
                settings,
                args.oidc.oidc_ca_file.as_deref(),
                auth.clone(),
            )?)
        }
        None => None,
    };
    let metrics_server = match args.metrics_listen {
        Some(metrics_address) => Some(serve_metrics(metrics_address, store.clone()).await?),
        None => None,
    };
    let leptos_options = LeptosOptions::builder()
        .output_name(berth_app::OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(address)
        .build();
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    let pools = SandboxPools::new(
        args.sandbox.config_with(program, &args.simulation),
        args.plan_sandbox.plan_workers,
    );
    // A worker now: the log says at start how scriptlets are confined, and a kernel that
    // cannot confine them under `--sandbox-confinement required` stops Berth here.
    let confinement = pools
        .start()
        .await
        .context("cannot start the scriptlet sandbox")?;
    tracing::info!(confinement = %confinement.summary(), "scriptlet workers started");
    let services =
        Services::new(store.clone(), auth.clone(), &pools).with_plan_approvals(args.approvals.plan_approvals);
    let plans = services.plan_context().clone();
    // Plans left executing (a restart, a replica that died) are taken up again.
    let executor_poller = services.executor().spawn_poller();
    // Each connection with the decision log on gets one listener across the replicas.
    let decision_log = DecisionLog::new(auth.clone(), pools.authors.clone(), args.decisions.clone());
    let decision_supervisor = decision_log.spawn();
    let backend: SharedBackend = Arc::new(services);
    let app = router(AppState {
        leptos_options,
        backend,
        plans,
        store: store.clone(),
        sandbox: pools.authors.clone(),
        auth,
        web: Arc::new(web_config(&args)?),
        streams: OpenStreams::default(),
        oidc,
    });

    tracing::info!(
        listen = %address,
        tls = tls.is_some(),
        store = %args.data_dir.describe(),
        site_root = %site_root.display(),
        "Berth is listening"
    );
    if !address.ip().is_loopback() && tls.is_none() && !args.secure_cookies {
        tracing::warn!(listen = %address, "serving plain HTTP beyond loopback: passwords and sessions cross the network in the clear unless a TLS proxy is in front");
    }
    println!("Berth is running at {scheme}://{address}/");
    let app = app.into_make_service_with_connect_info::<PeerAddress>();
    match tls {
        Some(config) => {
            axum::serve(TlsListener::new(listener, config)?, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?
        }
    }
    executor_poller.abort();
    decision_supervisor.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    // Each listener records that it stopped: the next start knows where its gap begins.
    decision_log.shutdown().await;
    store.close().await;
    tracing::info!("Berth stopped");
    Ok(())
}

/// Serves `GET /metrics` on `--metrics-listen`, unauthenticated, until Berth stops; says where.
async fn serve_metrics(address: SocketAddr, store: Store) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (--metrics-listen)"))?;
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() {
        tracing::warn!(listen = %address, "serving the metrics without authentication beyond loopback: anyone who reaches this address reads them");
    }
    tracing::info!(listen = %address, "metrics are served at /metrics");
    println!("Metrics are served at http://{address}/metrics");
    let app = crate::http::health::metrics_router(store);
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    }))
}

/// `--origin` and `--trusted-proxy`; empty entries (an empty variable) are no entries.
fn web_config(args: &ServeArgs) -> anyhow::Result<WebConfig> {
    let given = |values: &[String]| -> Vec<String> {
        values
            .iter()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .collect()
    };
    let trusted_proxies = given(&args.trusted_proxies)
        .iter()
        .map(|proxy| {
            proxy
                .parse()
                .with_context(|| format!("--trusted-proxy {proxy}: not an IP address"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(WebConfig {
        extra_origins: given(&args.origins),
        trusted_proxies,
    })
}

/// `berth serve` needs an admin to manage users. With `--demo` one is made (`admin`, a
/// random password printed once on stdout); otherwise Berth refuses to start and says how to
/// create one. There is no default password.
async fn ensure_admin(auth: &Auth, store: &Store, demo: bool, location: &StoreArgs) -> anyhow::Result<()> {
    let (dir, option) = (location.describe(), location.as_option());
    if store.enabled_admins().await? > 0 {
        if demo {
            println!(
                "Sign in as an admin. Forgot the password? Set a new one with: berth user passwd admin {option}"
            );
        }
        return Ok(());
    }
    anyhow::ensure!(
        demo,
        "there is no admin account in {dir}: create one with\n  berth user add NAME --role admin {option}\nthen start Berth again"
    );
    let password = secret::random_password();
    match auth
        .add_user(&Actor::command_line(), "admin", Role::Admin, &password)
        .await
    {
        Ok(_) => {
            println!("Sign in as admin with the password {password} (shown this once; change it in the user menu).");
            Ok(())
        }
        // Another replica starting with --demo on the same database made it first.
        Err(AuthError::UserExists(_)) if store.enabled_admins().await? > 0 => Ok(()),
        Err(error) => Err(error).with_context(|| format!("cannot create the demo admin in {dir}")),
    }
}

fn spawn_pruning(auth: Auth) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PRUNE_INTERVAL);
        loop {
            interval.tick().await;
            match auth.prune().await {
                Ok((0, 0)) => {}
                Ok((sessions, counters)) => {
                    tracing::debug!(
                        sessions,
                        counters,
                        "expired sessions and sign-in counters removed"
                    )
                }
                Err(error) => tracing::warn!(error = %error, "cannot remove expired sessions"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.expect("cannot listen for Ctrl-C");
    };
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("cannot listen for SIGTERM")
            .recv()
            .await;
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
