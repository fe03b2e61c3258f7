//! The `berth` binary: parses the command line and runs the chosen command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = berth_server::cli::Cli::parse();
    berth_server::cli::init_logging(cli.log_format);
    match berth_server::cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("berth: {error:#}");
            // 2: usage or IO errors (`berth check` reserves 1 for "Incus would refuse").
            std::process::ExitCode::from(2)
        }
    }
}
