//! Time limits of a simulation. `core` has no clock, so the caller supplies the deadlines: each
//! scriptlet call gets its own cancellation (the per-call time limit, as in Incus), and the
//! simulation as a whole has a budget checked before every call.

use std::time::Duration;

pub trait Deadlines {
    /// Starts one scriptlet call's time limit; the returned check says whether it is over
    /// (the engine then fails that call, and only that call, with its timeout error).
    fn start_call(&self) -> Box<dyn Fn() -> bool + '_>;
    /// Whether the whole simulation has used up its budget. Checked before each call: a spent
    /// budget stops the simulation (see `Simulation::stopped`).
    fn budget_spent(&self) -> bool;
    /// The budget, for the message.
    fn budget(&self) -> Duration;
}

/// Never cancels a call, never spends the budget (tests, and callers without a clock).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDeadlines;

impl Deadlines for NoDeadlines {
    fn start_call(&self) -> Box<dyn Fn() -> bool + '_> {
        Box::new(|| false)
    }

    fn budget_spent(&self) -> bool {
        false
    }

    fn budget(&self) -> Duration {
        Duration::MAX
    }
}

/// `simulation stopped after N of M calls: budget of S s`.
pub(super) fn stopped_message(made: usize, planned: usize, budget: Duration) -> String {
    format!(
        "simulation stopped after {made} of {planned} calls: budget of {} s",
        budget.as_secs_f64()
    )
}
