//! Workers: every replica claims open tasks (up to `scaffolder.concurrency` at once), runs their steps,
//! heartbeats while it does, stops an action promptly on cancellation, and fails tasks whose worker died.

use sea_orm::DatabaseConnection;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tracing::Instrument;

use super::actions::Registry;
use super::run::{self, DbSink, End, RunInput, Sink};
use super::tasks::{self, Task};
use super::{now_ms, TaskStatus};

/// How often a running task checks for a cancellation request.
const CANCEL_CHECK: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub concurrency: usize,
    /// How often an idle worker looks for open tasks (a local `createTask` wakes it at once).
    pub poll: Duration,
    pub heartbeat: Duration,
    /// A running task whose heartbeat is older than this is recovered (failed).
    pub stale_after: Duration,
    pub task_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            poll: Duration::from_millis(500),
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_secs(30),
            task_timeout: Duration::from_secs(3600),
        }
    }
}

/// Running workers; dropping it stops them.
pub struct Workers {
    stop: watch::Sender<bool>,
}

/// Wakes this process's idle workers (a task was just created here).
static WAKE: Notify = Notify::const_new();

pub fn wake() {
    WAKE.notify_waiters();
}

impl Drop for Workers {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the workers of this process as `holder`.
pub fn spawn(
    db: DatabaseConnection,
    actions: Arc<Registry>,
    holder: String,
    settings: WorkerSettings,
) -> Workers {
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let mut last_recovery = std::time::Instant::now() - settings.heartbeat;
        loop {
            if *stopped.borrow() {
                return;
            }
            if last_recovery.elapsed() >= settings.heartbeat {
                last_recovery = std::time::Instant::now();
                let before = now_ms() - settings.stale_after.as_millis() as i64;
                match tasks::recover_stale(&db, before).await {
                    Ok(ids) if !ids.is_empty() => {
                        tracing::warn!(?ids, "recovered tasks of a stopped worker")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "task recovery failed"),
                }
            }
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            match tasks::claim(&db, &holder).await {
                Ok(Some(task)) => {
                    let (db, actions, holder, settings) = (
                        db.clone(),
                        actions.clone(),
                        holder.clone(),
                        settings.clone(),
                    );
                    let span = tracing::info_span!("scaffolder_task", task = %task.id, template = %task.template_ref);
                    tokio::spawn(
                        async move {
                            run(&db, &actions, &holder, &settings, task).await;
                            drop(permit);
                        }
                        .instrument(span),
                    );
                    continue;
                }
                Ok(None) => drop(permit),
                Err(e) => {
                    drop(permit);
                    tracing::warn!(error = %e, "could not claim a task");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(settings.poll) => {}
                _ = WAKE.notified() => {}
                _ = stopped.changed() => {}
            }
        }
    });
    Workers { stop }
}

/// Runs a claimed task to its end, keeping its heartbeat.
async fn run(
    db: &DatabaseConnection,
    actions: &Registry,
    holder: &str,
    settings: &WorkerSettings,
    task: Task,
) {
    let (cancel_tx, cancel) = watch::channel(false);
    // Every 250 ms: is a cancellation requested? Every `heartbeat`: renew the claim (and stop when the
    // task is no longer ours).
    let beat = {
        let (db, id, holder, every) = (
            db.clone(),
            task.id.clone(),
            holder.to_string(),
            settings.heartbeat,
        );
        tokio::spawn(async move {
            let mut last = std::time::Instant::now();
            loop {
                tokio::time::sleep(CANCEL_CHECK.min(every)).await;
                let stop = if last.elapsed() >= every {
                    last = std::time::Instant::now();
                    match tasks::heartbeat(&db, &id, &holder).await {
                        Ok(Some(cancel)) => cancel,
                        Ok(None) => true,
                        Err(e) => {
                            tracing::warn!(error = %e, "heartbeat failed");
                            false
                        }
                    }
                } else {
                    tasks::cancel_requested(&db, &id).await.unwrap_or(false)
                };
                if stop {
                    let _ = cancel_tx.send(true);
                    return;
                }
            }
        })
    };
    let secrets = super::secrets::take(&task.id).unwrap_or_default();
    let sink = Arc::new(DbSink {
        db: db.clone(),
        task_id: task.id.clone(),
        holder: holder.to_string(),
        secrets: run::secret_values(&secrets),
    });
    sink.event(None, "log", &format!("started by {holder}"))
        .await;
    let (end, output) = match tokio::time::timeout(
        settings.task_timeout,
        execute(db, actions, &task, &secrets, sink.clone(), cancel),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => {
            let msg = format!("timed out after {:?}", settings.task_timeout);
            sink.event(None, "log", &msg).await;
            (End::Failed, None)
        }
    };
    beat.abort();
    let status = match end {
        End::Completed => TaskStatus::Completed,
        End::Failed => TaskStatus::Failed,
        End::Cancelled => TaskStatus::Cancelled,
    };
    match tasks::finish(db, &task.id, holder, status, output.as_ref()).await {
        Ok(true) => crate::metrics::get().task_finished(status.as_str()),
        Ok(false) => tracing::warn!(task = %task.id, "the task was no longer ours when it ended"),
        Err(e) => tracing::error!(task = %task.id, error = %e, "could not record the task's end"),
    }
}

/// A task's steps in a fresh workspace (removed afterwards).
async fn execute(
    db: &DatabaseConnection,
    actions: &Registry,
    task: &Task,
    secrets: &Map<String, Value>,
    sink: Arc<DbSink>,
    cancel: watch::Receiver<bool>,
) -> (End, Option<Value>) {
    let spec: Value = match serde_json::from_str(&task.spec) {
        Ok(s) => s,
        Err(e) => {
            sink.event(None, "log", &format!("stored spec is unreadable: {e}"))
                .await;
            return (End::Failed, None);
        }
    };
    let values: Value = serde_json::from_str(&task.values).unwrap_or_else(|_| json!({}));
    let workspace = match tempfile::Builder::new().prefix("greenroom-task-").tempdir() {
        Ok(w) => w,
        Err(e) => {
            sink.event(None, "log", &format!("cannot create a workspace: {e}"))
                .await;
            return (End::Failed, None);
        }
    };
    let input = RunInput {
        db,
        actions,
        task_id: &task.id,
        spec: &spec,
        values: &values,
        secrets,
        created_by: &task.created_by,
        state: serde_json::from_str(&task.steps).unwrap_or_default(),
        dry_run: false,
    };
    run::steps(input, sink, workspace.path(), cancel).await
}
