//! The `berth` binary: parses the command line and runs the chosen command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = berth_server::cli::Cli::parse();
    berth_server::cli::init_logging(cli.log_format);
    match berth_server::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            tracing::error!("{error:#}");
            eprintln!("berth: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
