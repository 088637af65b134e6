//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format (prometheus-client): GraphQL
//! requests by operation and outcome, the database pool, source refreshes, and recorded deployments.
//! One registry per process, like the process's logs.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;
use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Distinct operation names kept as labels; later ones are counted as `other` (names come from clients).
const MAX_OPERATIONS: usize = 200;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceOutcome {
    pub source: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabels {
    pub environment: String,
    pub status: String,
}

type Timing<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 1 ms … ~33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Timing<RequestLabels>,
    provider_runs: Family<SourceOutcome, Counter>,
    provider_seconds: Timing<SourceLabels>,
    provider_entities: Family<SourceLabels, Counter>,
    deployments: Family<DeploymentLabels, Counter>,
    pool_size: Gauge,
    pool_idle: Gauge,
    tasks_finished: Family<OutcomeLabels, Counter>,
    tasks_queued: Gauge,
    tasks_running: Gauge,
    operations: Mutex<HashSet<String>>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("greenroom");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = Timing::<RequestLabels>::new_with_constructor(seconds as fn() -> _);
        let provider_runs = Family::<SourceOutcome, Counter>::default();
        let provider_seconds = Timing::<SourceLabels>::new_with_constructor(seconds as fn() -> _);
        let provider_entities = Family::<SourceLabels, Counter>::default();
        let deployments = Family::<DeploymentLabels, Counter>::default();
        let (pool_size, pool_idle) = (Gauge::default(), Gauge::default());
        let tasks_finished = Family::<OutcomeLabels, Counter>::default();
        let (tasks_queued, tasks_running) = (Gauge::default(), Gauge::default());
        registry.register(
            "scaffolder_tasks_finished",
            "Scaffolder tasks this server finished, by outcome (completed, failed, cancelled)",
            tasks_finished.clone(),
        );
        registry.register(
            "scaffolder_queue_depth",
            "Scaffolder tasks waiting for a worker (all replicas)",
            tasks_queued.clone(),
        );
        registry.register(
            "scaffolder_tasks_running",
            "Scaffolder tasks being run (all replicas)",
            tasks_running.clone(),
        );
        registry.register(
            "graphql_requests",
            "GraphQL requests by operation name and outcome (ok, error, or the HTTP status)",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL request latency by operation name and outcome",
            request_seconds.clone(),
        );
        registry.register(
            "provider_runs",
            "Source refreshes by source and outcome (changed, unchanged, failed)",
            provider_runs.clone(),
        );
        registry.register(
            "provider_run_duration_seconds",
            "Source refresh duration",
            provider_seconds.clone(),
        );
        registry.register(
            "provider_entities_written",
            "Entities inserted, updated or deleted by source refreshes",
            provider_entities.clone(),
        );
        registry.register(
            "deployments_recorded",
            "Deployments recorded, by environment and initial status",
            deployments.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections in the pool",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections in the pool",
            pool_idle.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            provider_runs,
            provider_seconds,
            provider_entities,
            deployments,
            pool_size,
            pool_idle,
            tasks_finished,
            tasks_queued,
            tasks_running,
            operations: Mutex::new(HashSet::new()),
        }
    }

    /// The label for a client-sent operation name: letters, digits and `_` only, at most 64 characters, and
    /// one of the first [`MAX_OPERATIONS`] distinct names (else `other`).
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return "anonymous".into();
        };
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        let Ok(mut seen) = self.operations.lock() else {
            return "other".into();
        };
        if seen.contains(&clean) {
            return clean;
        }
        if seen.len() >= MAX_OPERATIONS {
            return "other".into();
        }
        seen.insert(clean.clone());
        clean
    }

    pub fn request(&self, operation: Option<&str>, outcome: &str, took: Duration) {
        let labels = RequestLabels {
            operation: self.operation_label(operation),
            outcome: outcome.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn provider_run(&self, source: &str, outcome: &str, took: Duration, written: u64) {
        let s = SourceLabels {
            source: source.to_string(),
        };
        self.provider_runs
            .get_or_create(&SourceOutcome {
                source: source.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.provider_seconds
            .get_or_create(&s)
            .observe(took.as_secs_f64());
        self.provider_entities.get_or_create(&s).inc_by(written);
    }

    pub fn deployment_recorded(&self, environment: &str, status: &str) {
        self.deployments
            .get_or_create(&DeploymentLabels {
                environment: environment.to_string(),
                status: status.to_string(),
            })
            .inc();
    }

    pub fn task_finished(&self, outcome: &str) {
        self.tasks_finished
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Sets the scaffolder queue gauges (tasks waiting, tasks running), read by the caller just before
    /// [`render`](Self::render): metrics knows no domain, the domains report to it.
    pub fn tasks_waiting(&self, queued: i64, running: i64) {
        self.tasks_queued.set(queued);
        self.tasks_running.set(running);
    }

    /// The exposition text, with the pool gauges read now.
    pub fn render(&self, db: &DatabaseConnection) -> String {
        let (size, idle) = pool_usage(db);
        self.pool_size.set(size);
        self.pool_idle.set(idle);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

fn pool_usage(db: &DatabaseConnection) -> (i64, i64) {
    use sea_orm::DatabaseConnectionType as T;
    match &db.inner {
        T::SqlxSqlitePoolConnection(_) => {
            let p = db.get_sqlite_connection_pool();
            (i64::from(p.size()), p.num_idle() as i64)
        }
        T::SqlxPostgresPoolConnection(_) => {
            let p = db.get_postgres_connection_pool();
            (i64::from(p.size()), p.num_idle() as i64)
        }
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_cleaned_and_capped() {
        let m = Metrics::new();
        assert_eq!(m.operation_label(None), "anonymous");
        assert_eq!(m.operation_label(Some("Get Things!")), "GetThings");
        for i in 0..MAX_OPERATIONS {
            m.operation_label(Some(&format!("op{i}")));
        }
        assert_eq!(m.operation_label(Some("late")), "other");
        assert_eq!(m.operation_label(Some("op1")), "op1");
    }
}
