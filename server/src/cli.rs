//! The command line. Every option can also come from a `BERTH_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Berth: author, preview and safely execute Incus placement decisions.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr. Verbosity is set with `RUST_LOG` (default: `info`).
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web UI and API.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Berth has no TLS of its own: keep it on loopback or behind a proxy.
    #[arg(long, env = "BERTH_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory for Berth's data (the SQLite database `berth.db`); created if missing.
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "berth-data")]
    pub data_dir: PathBuf,

    /// Load the built-in demo snapshot into the store (once; it is identified by its hash).
    #[arg(long, env = "BERTH_DEMO")]
    pub demo: bool,

    /// Directory with the built web assets (`pkg/berth.js`, …). Default: `site/` beside the
    /// executable, or `../site/` (the layout of a cargo target directory).
    #[arg(long, env = "BERTH_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(crate::serve::serve(args)),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_to_loopback() {
        let cli = Cli::try_parse_from(["berth", "serve"]).unwrap();
        let Command::Serve(args) = cli.command;
        assert!(args.listen.ip().is_loopback());
        assert!(!args.demo);
    }

    #[test]
    fn help_documents_every_serve_option() {
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        for option in [
            "--listen",
            "--data-dir",
            "--demo",
            "--site-root",
            "BERTH_DATA_DIR",
        ] {
            assert!(help.contains(option), "`berth serve --help` lacks {option}");
        }
    }
}
