//! The decision log's options on `berth serve`.

use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct DecisionArgs {
    /// How often the decision log captures each cluster it listens to (besides when it starts
    /// and after each gap): predictions start from the newest capture before a placement (with
    /// the placements recorded since applied), so a longer interval means more of them to
    /// apply. A capture that finds nothing new stores nothing.
    #[arg(long, env = "BERTH_DECISION_CAPTURE_INTERVAL", default_value = "10m", value_parser = humantime::parse_duration)]
    pub decision_capture_interval: Duration,

    /// How long decisions and gaps are kept; older ones are removed every 10 minutes.
    #[arg(long, env = "BERTH_DECISION_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub decision_retention: Duration,
}

impl Default for DecisionArgs {
    fn default() -> DecisionArgs {
        DecisionArgs {
            decision_capture_interval: Duration::from_secs(600),
            decision_retention: Duration::from_secs(30 * 86_400),
        }
    }
}
