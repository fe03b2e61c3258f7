//! `--coverage` and `--lcov OUT`, shared by the commands that run a scriptlet many times
//! (`berth check --cases`, `berth impact`, `berth fuzz`): the summary line, and lcov for CI
//! coverage tools.

use std::path::PathBuf;

use anyhow::Context;
use berth_core::coverage::Coverage;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct CoverageArgs {
    /// Print which share of the scriptlet's lines ran: `coverage: P% of lines (L of M)`.
    #[arg(long)]
    pub coverage: bool,
    /// Write the lines and branches that ran as lcov to OUT (`SF`, `DA:LINE,HITS`, `BRDA`,
    /// `LF`, `LH`, `end_of_record`), as CI coverage tools read it.
    #[arg(long, value_name = "OUT")]
    pub lcov: Option<PathBuf>,
}

impl CoverageArgs {
    /// Whether the runs must count lines at all.
    pub fn wanted(&self) -> bool {
        self.coverage || self.lcov.is_some()
    }

    /// Prints the summary (on stdout, or stderr when stdout carries JSON) and writes the lcov
    /// file, naming the scriptlet `file` in it.
    pub fn report(&self, coverage: &Coverage, file: &str, json: bool) -> anyhow::Result<()> {
        if self.coverage {
            if json {
                eprintln!("{}", coverage.summary());
            } else {
                println!("{}", coverage.summary());
            }
        }
        if let Some(out) = &self.lcov {
            std::fs::write(out, coverage.lcov(file))
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        Ok(())
    }
}
