//! Berth's Prometheus metrics: one process-wide registry of the families below, every name
//! prefixed `berth_`, rendered in Prometheus's text format by `GET /metrics`
//! (`http/health.rs`).
//!
//! The families are counted where the thing happens: HTTP requests by the router's layer
//! ([`track_request`]), the sandbox's queue, jobs and worker starts by its pool
//! (`sandbox/pool.rs`), plan executions and moves by the executor, captures by
//! `capture::capture`, sign-in failures by `Auth::sign_in`; the database pool's use is read
//! when scraped ([`render`]).
//!
//! Labels take values from short fixed sets only (methods, statuses, route *templates* such as
//! `/api/v1/plans/{id}`, pool names, outcomes): never a raw path, an id, a username or anything
//! a client chooses, so neither a scraper's storage nor this process's memory grows with
//! requests, and no user data leaves through the metrics.
//!
//! One registry per process, not per router: the executor, the sandbox and sign-ins live below
//! the HTTP layer and several routers (tests) share one process; counters only ever grow, so a
//! scrape before and after an action tells what the action did.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::core::Collector;
use prometheus::{
    exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::db::Store;

/// The route label of a request no route matched: static files and the 404 page.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The sandbox pools' names, as their label (`sandbox/pools.rs`).
pub const POOLS: [&str; 2] = ["authors", "plans"];

/// Every family Berth exports.
pub struct Metrics {
    registry: Registry,
    /// The names of the families, whether or not any series of theirs has a value yet.
    names: Vec<String>,
    /// `berth_http_requests_total{method, route, status}`.
    pub http_requests: IntCounterVec,
    /// `berth_http_request_duration_seconds{method, route}`: until the response's head.
    pub http_duration: HistogramVec,
    /// `berth_sandbox_queue_depth{pool}`: jobs waiting for a free worker.
    pub sandbox_queue_depth: IntGaugeVec,
    /// `berth_sandbox_queue_wait_seconds{pool}`: how long a job waited for a worker.
    pub sandbox_queue_wait: HistogramVec,
    /// `berth_sandbox_workers_busy{pool}`: workers running a job now.
    pub sandbox_workers_busy: IntGaugeVec,
    /// `berth_sandbox_workers_max{pool}`: workers a pool may run at once.
    pub sandbox_workers_max: IntGaugeVec,
    /// `berth_sandbox_job_duration_seconds{pool, job, outcome}`: a job's run time on a worker
    /// (`/readyz`'s probes are `check` jobs, at most one per pool every 2 s).
    pub sandbox_job_duration: HistogramVec,
    /// `berth_sandbox_worker_starts_total{pool}`: worker processes started.
    pub sandbox_worker_starts: IntCounterVec,
    /// `berth_sandbox_worker_restarts_total{pool, reason}`: workers given up (`died`: killed
    /// at a limit or crashed; `retired`: near its CPU-time limit; `error`: a protocol error),
    /// the next job starting a fresh one.
    pub sandbox_worker_restarts: IntCounterVec,
    /// `berth_plan_executions_total{outcome}`: runs of a plan that ended in this process.
    pub plan_executions: IntCounterVec,
    /// `berth_plan_moves_total{outcome}`: moves that ended (`succeeded`, `failed`, `skipped`).
    pub plan_moves: IntCounterVec,
    /// `berth_capture_duration_seconds{outcome}`: reading a cluster into a snapshot.
    pub capture_duration: HistogramVec,
    /// `berth_login_failures_total{reason}`: sign-ins refused.
    pub login_failures: IntCounterVec,
    /// `berth_db_pool_connections{state}`: the store's open connections, `idle` or `in_use`.
    pub db_pool_connections: IntGaugeVec,
    /// `berth_db_pool_max_connections`: the most the pool opens.
    pub db_pool_max_connections: IntGauge,
}

/// How a plan's run ended, as `berth_plan_executions_total` labels it.
pub const PLAN_EXECUTION_OUTCOMES: [&str; 5] =
    ["succeeded", "failed", "superseded", "interrupted", "lease_lost"];
/// How a move ended, as `berth_plan_moves_total` labels it.
pub const MOVE_OUTCOMES: [&str; 3] = ["succeeded", "failed", "skipped"];
/// Why a sign-in was refused, as `berth_login_failures_total` labels it.
pub const LOGIN_FAILURE_REASONS: [&str; 5] = [
    "bad_credentials",
    "rate_limited",
    "busy",
    "unusable_username",
    // A single sign-on refused (`auth/oidc/`; the audit log has its reason).
    "oidc",
];

impl Metrics {
    fn new() -> Metrics {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("a valid family")
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid family")
        };
        // From 5 ms to about 2 minutes: a page, a simulation, a capture of a large cluster.
        let seconds = |name: &str, help: &str, labels: &[&str]| {
            let buckets = exponential_buckets(0.005, 2.5, 12).expect("valid buckets");
            HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                .expect("a valid family")
        };
        let mut metrics = Metrics {
            registry: Registry::new(),
            names: Vec::new(),
            http_requests: counter(
                "berth_http_requests_total",
                "HTTP requests answered, by method, route template and status.",
                &["method", "route", "status"],
            ),
            http_duration: seconds(
                "berth_http_request_duration_seconds",
                "Time to the response's head, by method and route template.",
                &["method", "route"],
            ),
            sandbox_queue_depth: gauge(
                "berth_sandbox_queue_depth",
                "Scriptlet jobs waiting for a free worker.",
                &["pool"],
            ),
            sandbox_queue_wait: seconds(
                "berth_sandbox_queue_wait_seconds",
                "Time a scriptlet job waited for a free worker.",
                &["pool"],
            ),
            sandbox_workers_busy: gauge(
                "berth_sandbox_workers_busy",
                "Scriptlet workers running a job.",
                &["pool"],
            ),
            sandbox_workers_max: gauge(
                "berth_sandbox_workers_max",
                "Scriptlet workers a pool may run at once.",
                &["pool"],
            ),
            sandbox_job_duration: seconds(
                "berth_sandbox_job_duration_seconds",
                "Run time of a scriptlet job on a worker, by job kind and outcome.",
                &["pool", "job", "outcome"],
            ),
            sandbox_worker_starts: counter(
                "berth_sandbox_worker_starts_total",
                "Scriptlet worker processes started.",
                &["pool"],
            ),
            sandbox_worker_restarts: counter(
                "berth_sandbox_worker_restarts_total",
                "Scriptlet workers given up (died, retired, protocol error); the next job starts a fresh one.",
                &["pool", "reason"],
            ),
            plan_executions: counter(
                "berth_plan_executions_total",
                "Runs of a plan that ended in this process, by outcome.",
                &["outcome"],
            ),
            plan_moves: counter(
                "berth_plan_moves_total",
                "Plan moves that ended, by outcome.",
                &["outcome"],
            ),
            capture_duration: seconds(
                "berth_capture_duration_seconds",
                "Time to read a cluster into a snapshot, by outcome.",
                &["outcome"],
            ),
            login_failures: counter(
                "berth_login_failures_total",
                "Sign-ins refused, by reason.",
                &["reason"],
            ),
            db_pool_connections: gauge(
                "berth_db_pool_connections",
                "The store's open database connections, idle or in use.",
                &["state"],
            ),
            db_pool_max_connections: IntGauge::new(
                "berth_db_pool_max_connections",
                "The most connections the store's pool opens.",
            )
            .expect("a valid family"),
        };
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(metrics.http_requests.clone()),
            Box::new(metrics.http_duration.clone()),
            Box::new(metrics.sandbox_queue_depth.clone()),
            Box::new(metrics.sandbox_queue_wait.clone()),
            Box::new(metrics.sandbox_workers_busy.clone()),
            Box::new(metrics.sandbox_workers_max.clone()),
            Box::new(metrics.sandbox_job_duration.clone()),
            Box::new(metrics.sandbox_worker_starts.clone()),
            Box::new(metrics.sandbox_worker_restarts.clone()),
            Box::new(metrics.plan_executions.clone()),
            Box::new(metrics.plan_moves.clone()),
            Box::new(metrics.capture_duration.clone()),
            Box::new(metrics.login_failures.clone()),
            Box::new(metrics.db_pool_connections.clone()),
            Box::new(metrics.db_pool_max_connections.clone()),
        ];
        for collector in collectors {
            let names = collector
                .desc()
                .iter()
                .map(|desc| desc.fq_name.clone())
                .collect::<Vec<_>>();
            metrics.names.extend(names);
            metrics
                .registry
                .register(collector)
                .expect("each family registered once");
        }
        // Known label values start at zero: a rate over a counter that appears only at its
        // first event misses that event, and a dashboard shows 0 rather than "no data".
        for outcome in PLAN_EXECUTION_OUTCOMES {
            metrics.plan_executions.with_label_values(&[outcome]);
        }
        for outcome in MOVE_OUTCOMES {
            metrics.plan_moves.with_label_values(&[outcome]);
        }
        for reason in LOGIN_FAILURE_REASONS {
            metrics.login_failures.with_label_values(&[reason]);
        }
        for pool in POOLS {
            metrics.sandbox_queue_depth.with_label_values(&[pool]);
            metrics.sandbox_workers_busy.with_label_values(&[pool]);
            metrics.sandbox_worker_starts.with_label_values(&[pool]);
        }
        metrics
    }

    /// The names of every family (histograms without their `_bucket`, `_sum`, `_count`).
    pub fn family_names(&self) -> &[String] {
        &self.names
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The metrics in Prometheus's text format, with the database pool's use read from `store` now.
pub fn render(store: &Store) -> String {
    let metrics = metrics();
    let pool = store.pool_use();
    let connections = &metrics.db_pool_connections;
    connections.with_label_values(&["idle"]).set(i64::from(pool.idle));
    connections
        .with_label_values(&["in_use"])
        .set(i64::from(pool.size.saturating_sub(pool.idle)));
    metrics
        .db_pool_max_connections
        .set(i64::from(pool.max_connections));
    TextEncoder::new()
        .encode_to_string(&metrics.registry.gather())
        .expect("the text format encodes any family")
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The router's layer: counts each request under its method, the route template axum matched
/// (never the raw path) and its status, and times it to the response's head.
pub async fn track_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    let metrics = metrics();
    metrics
        .http_requests
        .with_label_values(&[method, route, response.status().as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[method, route])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// A method as a label: the standard ones by name, any other (a client may send any token)
/// as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A gauge raised for as long as this lives: lowered however the holder ends (a job's future
/// dropped while it waits included).
pub struct Raised(IntGauge);

impl Raised {
    pub fn new(gauge: IntGauge) -> Raised {
        gauge.inc();
        Raised(gauge)
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_prefixed_and_known_labels_start_at_zero() {
        let metrics = metrics();
        assert!(metrics.family_names().len() >= 15);
        for name in metrics.family_names() {
            assert!(name.starts_with("berth_"), "{name}");
        }
        let text = TextEncoder::new()
            .encode_to_string(&metrics.registry.gather())
            .unwrap();
        assert!(
            text.contains("berth_plan_moves_total{outcome=\"skipped\"}"),
            "{text}"
        );
        assert!(
            text.contains("berth_login_failures_total{reason=\"rate_limited\"}"),
            "{text}"
        );
    }

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
