//! A reason × version matrix on the sandbox (`berth check --matrix`, `POST
//! /api/v1/scriptlets/matrix`, the editor's Matrix tab): the plan made here
//! (`berth_core::matrix::plan`, no scriptlet runs in it), each planned simulation a
//! `Job::Matrix` on the pool's workers (as many at once as it has), the runs merged as they
//! come back. The whole matrix has the simulation budget (`--simulation-time-limit-ms`): each
//! simulation gets what is left of it when a worker takes it up, so a slow scriptlet stops
//! the matrix, cell by cell, rather than holding the workers for eight times the budget.

use std::time::Instant;

use berth_core::matrix::{merge, Matrix, Plan};
use futures::future::try_join_all;

use crate::sandbox::pool::SandboxError;
use crate::sandbox::{JobSnapshot, Sandbox};

/// Runs every simulation of `plan` with `source` on `snapshot` and merges them.
pub async fn run(
    sandbox: &Sandbox,
    snapshot: JobSnapshot<'_>,
    source: &str,
    plan: &Plan,
) -> Result<Matrix, SandboxError> {
    let started = Instant::now();
    let runs = try_join_all(
        plan.simulations
            .iter()
            .map(|simulation| sandbox.matrix_simulation(snapshot, source, simulation, started)),
    )
    .await?;
    Ok(merge(plan, runs))
}
