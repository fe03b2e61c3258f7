//! `berth plan create|preview|submit|approve|execute|status|reverse|list`: migration plans for
//! scripts and CI. The command line has the data directory, so it acts locally (like `incus` on
//! the unix socket) as the user named with `--as`, whose role must allow the step; the audit
//! log records that user and that it came from the command line. Exit codes: 0 done, 1 refused
//! (a wrong state, self-approval, a role that may not, a plan whose moves are all blocked, a
//! superseded plan), 2 usage or an unreadable file.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use berth_app::types::{MoveSpec, NewPlan, PlanAction, PlanView, RolloutSpec};
use berth_core::plan::Review;
use clap::Subcommand;

use crate::audit::Actor;
use crate::auth::{Auth, AuthConfig};
use crate::clock::Clock;
use crate::db::{Store, StoreArgs};
use crate::error::AppError;
use crate::executor::{Executor, RunEnd};
use crate::sandbox::{PlanSandboxArgs, SandboxArgs, SandboxPools, SimulationArgs};
use crate::services::plans::{self, Acting, PlanContext};

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Create a draft plan from a JSON file `[{"project","name","target_project","target"}]`
    /// (`target`: empty for automatic, a member, or `@group`); prints the plan's id.
    Create {
        /// The connection it executes on (and, without `--snapshot`, is previewed against
        /// fresh captures of).
        #[arg(long, required_unless_present = "snapshot")]
        connection: Option<String>,
        /// A stored snapshot (its id) to draft, preview and review the plan on; executing it
        /// still needs `--connection`.
        #[arg(long)]
        snapshot: Option<i64>,
        #[arg(long)]
        name: String,
        /// The moves: `[{"project","name","target_project","target"}]`.
        #[arg(long, required_unless_present = "scriptlet", conflicts_with = "scriptlet")]
        moves: Option<PathBuf>,
        /// Instead of moves: roll out revision `--revision` of this scriptlet (its id) to the
        /// connection's cluster (`instances.placement.scriptlet`).
        #[arg(long, requires = "revision")]
        scriptlet: Option<i64>,
        #[arg(long, requires = "scriptlet")]
        revision: Option<i64>,
        /// Go on with the other moves when one fails (default: stop).
        #[arg(long)]
        continue_on_failure: bool,
        #[command(flatten)]
        user: AsUser,
        #[command(flatten)]
        context: CommandContext,
    },
    /// Preview every move against a fresh capture of the cluster: verdict, reasons, decision.
    Preview {
        id: i64,
        #[arg(long)]
        json: bool,
        /// Who previews (default: the plan's author).
        #[arg(id = "as_user", long = "as", value_name = "USER")]
        user: Option<String>,
        #[command(flatten)]
        context: CommandContext,
    },
    /// Send a plan to review (with a fresh preview).
    Submit {
        id: i64,
        #[command(flatten)]
        user: AsUser,
        #[command(flatten)]
        context: CommandContext,
    },
    /// Approve a version of a plan in review (never one you contributed to).
    Approve {
        id: i64,
        /// The version reviewed (`berth plan status ID`): a plan changed since is refused.
        #[arg(long)]
        version: i64,
        #[command(flatten)]
        user: AsUser,
        #[command(flatten)]
        context: CommandContext,
    },
    /// Execute an approved plan. With `--wait`, this process runs it to the end (or waits for
    /// the replica that runs it) and prints its status; it also resumes a plan left executing.
    Execute {
        id: i64,
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        user: AsUser,
        #[command(flatten)]
        context: CommandContext,
    },
    /// Show a plan: its state and each move's.
    Status {
        id: i64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        context: CommandContext,
    },
    /// Make the reverse of a finished plan as a new draft; prints its id.
    Reverse {
        id: i64,
        #[command(flatten)]
        user: AsUser,
        #[command(flatten)]
        context: CommandContext,
    },
    /// List plans: id, state, name.
    List {
        #[command(flatten)]
        context: CommandContext,
    },
}

/// How many approvals a new plan needs (`berth serve` and `berth plan create` alike).
#[derive(Debug, Clone, clap::Args)]
pub struct PlanApprovals {
    /// Approvals a new plan needs before it can execute; its author's never counts.
    #[arg(long, env = "BERTH_PLAN_APPROVALS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub plan_approvals: u32,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AsUser {
    /// The Berth user acting (recorded in the audit log); their role must allow the step.
    #[arg(id = "as_user", long = "as", value_name = "USER")]
    pub username: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CommandContext {
    #[command(flatten)]
    pub data_dir: StoreArgs,
    #[command(flatten)]
    pub secret_key: crate::secrets::SecretKeyArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub plan_sandbox: PlanSandboxArgs,
    #[command(flatten)]
    pub simulation: SimulationArgs,
    #[command(flatten)]
    pub approvals: PlanApprovals,
}

impl PlanCommand {
    fn context(&self) -> &CommandContext {
        match self {
            PlanCommand::Create { context, .. }
            | PlanCommand::Preview { context, .. }
            | PlanCommand::Submit { context, .. }
            | PlanCommand::Approve { context, .. }
            | PlanCommand::Execute { context, .. }
            | PlanCommand::Status { context, .. }
            | PlanCommand::Reverse { context, .. }
            | PlanCommand::List { context } => context,
        }
    }
}

/// The user named with `--as`, as an acting user on the command line.
async fn acting_as(store: &Store, name: &str) -> Result<Acting, AppError> {
    let user = store
        .user_by_name(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no user {name:?}")))?;
    if user.disabled {
        return Err(AppError::Forbidden(format!("user {name} is disabled")));
    }
    Ok(Acting::new(
        Actor::user_on_command_line(user.id, &user.username),
        &user.username,
        user.role,
    ))
}

/// Runs the command; `Ok(1)` when Berth refuses it (the reason on stderr).
pub async fn run(command: PlanCommand) -> anyhow::Result<u8> {
    let context = command.context().clone();
    let store = context
        .data_dir
        .open()
        .await
        .with_context(|| format!("cannot open the store in {}", context.data_dir.describe()))?;
    // A key that does not open is reported where a plan needs it (`client_for`).
    let (store, _) =
        crate::connection_cli::open_secret_key(store, &context.data_dir, &context.secret_key).await?;
    let auth = Auth::new(store.clone(), Clock::system(), AuthConfig::default());
    let program = std::env::current_exe().context("cannot find the berth executable")?;
    // Plan commands preview and execute: the plans' workers, as a server has them.
    let sandbox = SandboxPools::new(
        context.sandbox.config_with(program, &context.simulation),
        context.plan_sandbox.plan_workers,
    )
    .plans;
    let plans = PlanContext {
        executor: Executor::new(auth.clone(), sandbox.clone()),
        auth: auth.clone(),
        sandbox,
        executes: false,
        review: Review {
            required: context.approvals.plan_approvals,
        },
    };
    let outcome = dispatch(&plans, command).await;
    store.close().await;
    match outcome {
        Ok(()) => Ok(0),
        Err(AppError::Store(error)) => Err(error.into()),
        Err(AppError::Sandbox(error)) => Err(error.into()),
        Err(refused) => {
            eprintln!("berth: {refused}");
            Ok(1)
        }
    }
}

fn read_moves(path: &std::path::Path) -> Result<Vec<MoveSpec>, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| AppError::BadRequest(format!("cannot read {}: {error}", path.display())))?;
    serde_json::from_str(&text).map_err(|error| {
        AppError::BadRequest(format!(
            "{}: not a list of {{\"project\",\"name\",\"target_project\",\"target\"}}: {error}",
            path.display()
        ))
    })
}

async fn dispatch(context: &PlanContext, command: PlanCommand) -> Result<(), AppError> {
    let auth = &context.auth;
    let store = auth.store();
    match command {
        PlanCommand::Create {
            connection,
            snapshot,
            name,
            moves,
            scriptlet,
            revision,
            continue_on_failure,
            user,
            ..
        } => {
            let moves = match moves {
                Some(moves) => read_moves(&moves)?,
                None => Vec::new(),
            };
            let rollout = scriptlet
                .zip(revision)
                .map(|(scriptlet, revision)| RolloutSpec { scriptlet, revision });
            let acting = acting_as(store, &user.username).await?;
            let new = NewPlan {
                name,
                connection: connection.unwrap_or_default(),
                snapshot_id: snapshot,
                moves,
                rollout,
                stop_on_failure: !continue_on_failure,
            };
            let created = plans::create(context, &acting, &new).await?;
            println!("{}", created.id);
        }
        PlanCommand::Preview { id, json, user, .. } => {
            let name = match user {
                Some(name) => name,
                None => plans::view(store, id).await?.author,
            };
            let acting = acting_as(store, &name).await?;
            let view = plans::act(context, &acting, id, PlanAction::Preview).await?;
            print_plan(&view, json);
        }
        PlanCommand::Submit { id, user, .. } => {
            let view = plans::act(
                context,
                &acting_as(store, &user.username).await?,
                id,
                PlanAction::Submit,
            )
            .await?;
            println!("plan {id} is {}", view.state.replace('_', " "));
        }
        PlanCommand::Approve {
            id, version, user, ..
        } => {
            let view = plans::act(
                context,
                &acting_as(store, &user.username).await?,
                id,
                PlanAction::Approve {
                    version: Some(version),
                },
            )
            .await?;
            println!(
                "plan {id} is {} ({} of {} approvals)",
                view.state.replace('_', " "),
                view.approvals.len(),
                view.required_approvals
            );
        }
        PlanCommand::Execute { id, wait, user, .. } => {
            let acting = acting_as(store, &user.username).await?;
            let view = plans::view(store, id).await?;
            // An executing plan (left by a crash, or running on a replica) is resumed or
            // followed with --wait; otherwise it must be approved.
            if view.state != "executing" || !wait {
                plans::act(context, &acting, id, PlanAction::Execute).await?;
                if wait {
                    println!("plan {id} is executing");
                } else {
                    println!("plan {id} is executing: a running `berth serve` on this store carries it out");
                }
            }
            if wait {
                let view = run_to_end(context, id).await?;
                print_plan(&view, false);
                if view.state != "succeeded" {
                    return Err(AppError::Conflict(format!("plan {id} ended {}", view.state)));
                }
            }
        }
        PlanCommand::Status { id, json, .. } => print_plan(&plans::view(store, id).await?, json),
        PlanCommand::Reverse { id, user, .. } => {
            let created = plans::act(
                context,
                &acting_as(store, &user.username).await?,
                id,
                PlanAction::Reverse,
            )
            .await?;
            println!("{}", created.id);
        }
        PlanCommand::List { .. } => {
            for plan in plans::list(store).await? {
                println!("{}\t{}\t{}", plan.id, plan.state, plan.name);
            }
        }
    }
    Ok(())
}

/// Runs the plan here when its lease is free, else waits for the holder, until it leaves
/// `executing`.
async fn run_to_end(context: &PlanContext, id: i64) -> Result<PlanView, AppError> {
    loop {
        let view = plans::view(context.auth.store(), id).await?;
        if view.state != "executing" {
            return Ok(view);
        }
        match context.executor.run(id).await? {
            RunEnd::Done => {}
            RunEnd::HeldElsewhere | RunEnd::LeaseLost => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

fn print_plan(view: &PlanView, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(view).expect("a plan view serializes")
        );
        return;
    }
    println!(
        "plan {} \"{}\": {} (version {})",
        view.id,
        view.name,
        view.state.replace('_', " "),
        view.version
    );
    if let Some(reason) = &view.superseded {
        println!("superseded: {reason}");
    }
    if let Some(rollout) = &view.rollout {
        println!(
            "  set scriptlet {} revision {} on {}: {}{}",
            rollout.scriptlet_name,
            rollout.revision,
            view.connection,
            rollout.state,
            rollout
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        if let Some(impact) = &rollout.impact {
            println!("  impact: {}", impact.summary);
        }
    }
    for (index, planned) in view.moves.iter().enumerate() {
        let target = if planned.target.is_empty() {
            "auto"
        } else {
            &planned.target
        };
        println!(
            "{:>3}. {}/{} -> {} ({target}): {} {} -> {}{}",
            index + 1,
            planned.project,
            planned.name,
            planned.target_project,
            planned.verdict.as_deref().unwrap_or("not previewed"),
            planned.decision.as_deref().unwrap_or("-"),
            planned.state,
            planned
                .error
                .as_deref()
                .or(planned.skipped.as_deref())
                .map(|detail| format!(": {detail}"))
                .unwrap_or_default(),
        );
        for reason in &planned.reasons {
            println!("       {reason}");
        }
    }
}
