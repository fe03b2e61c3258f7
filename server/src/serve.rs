//! `berth serve`: open the store, build the router, listen until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use berth_app::backend::SharedBackend;
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;

use crate::db::DataDir;
use crate::http::{router, AppState};
use crate::sandbox::{Sandbox, SandboxArgs, SimulationArgs};
use crate::services::Services;
use crate::site::locate_site_root;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Berth has no TLS of its own: keep it on loopback or behind a proxy.
    #[arg(long, env = "BERTH_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub data_dir: DataDir,

    /// Load the built-in demo snapshot into the store (once; it is identified by its hash).
    #[arg(long, env = "BERTH_DEMO")]
    pub demo: bool,

    /// Directory with the built web assets (`pkg/berth.js`, …). Default: `site/` beside the
    /// executable, or `../site/` (the layout of a cargo target directory).
    #[arg(long, env = "BERTH_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    #[command(flatten)]
    pub sandbox: SandboxArgs,

    #[command(flatten)]
    pub simulation: SimulationArgs,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let site_root = locate_site_root(args.site_root.as_deref())?;
    let data_dir = &args.data_dir.path;
    let store = args
        .data_dir
        .open()
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    if args.demo {
        let snapshot = berth_core::demo::demo_snapshot();
        let (id, inserted) = store
            .insert_snapshot(&snapshot)
            .await
            .context("cannot store the demo snapshot")?;
        tracing::info!(snapshot.id = id, snapshot.new = inserted, "demo snapshot loaded");
    }

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name(berth_app::OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(address)
        .build();
    let backend: SharedBackend = Arc::new(Services::new(store.clone()));
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    let sandbox = Arc::new(Sandbox::new(args.sandbox.config_with(program, &args.simulation)));
    let app = router(AppState {
        leptos_options,
        backend,
        store: store.clone(),
        sandbox,
    });

    tracing::info!(
        listen = %address,
        data_dir = %data_dir.display(),
        site_root = %site_root.display(),
        "Berth is listening"
    );
    println!("Berth is running at http://{address}/");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    store.close().await;
    tracing::info!("Berth stopped");
    Ok(())
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
