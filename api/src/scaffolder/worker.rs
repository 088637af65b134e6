//! Workers: every replica claims open tasks (up to `scaffolder.concurrency` at once), runs their steps,
//! heartbeats while it does, stops an action promptly on cancellation, and fails tasks whose worker died.

use sea_orm::DatabaseConnection;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tracing::Instrument;

use super::actions::{Registry, Sink};
use super::run::{self, End, RunInput};
use super::sinks::{self, DbSink};
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
    /// Bounds on every rendering this process does (set process-wide by [`spawn`]).
    pub render: super::expr::Limits,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            poll: Duration::from_millis(500),
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_secs(30),
            task_timeout: Duration::from_secs(3600),
            render: super::expr::Limits::default(),
        }
    }
}

/// Running workers; dropping it stops them claiming (see [`Workers::shutdown`] to also stop their runs).
pub struct Workers {
    stop: watch::Sender<bool>,
    running: Arc<std::sync::atomic::AtomicUsize>,
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

impl Workers {
    /// Stops claiming, stops the running actions, and waits (at most `grace`) for the runs to end. Their
    /// tasks stay `PROCESSING` for [`tasks::release_all`] to hand back.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = std::time::Instant::now() + grace;
        while self.running.load(std::sync::atomic::Ordering::SeqCst) > 0
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Counts a run while it lives.
struct Running(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Starts the workers of this process as `holder`.
pub fn spawn(
    db: DatabaseConnection,
    actions: Arc<Registry>,
    holder: String,
    settings: WorkerSettings,
) -> Workers {
    super::expr::set_limits(settings.render);
    let (stop, mut stopped) = watch::channel(false);
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = running.clone();
    let stopping = stopped.clone();
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
                    let (db, actions, holder, settings, stopping) = (
                        db.clone(),
                        actions.clone(),
                        holder.clone(),
                        settings.clone(),
                        stopping.clone(),
                    );
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let alive = Running(counter.clone());
                    let span = tracing::info_span!("scaffolder_task", task = %task.id, template = %task.template_ref);
                    tokio::spawn(
                        async move {
                            run(&db, &actions, &holder, &settings, task, stopping).await;
                            drop(permit);
                            drop(alive);
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
    Workers { stop, running }
}

/// Runs a claimed task to its end, keeping its heartbeat. A run whose claim is lost (another worker
/// recovered the task, or heartbeats failed for longer than `stale_after`) stops and writes nothing more;
/// a run stopped by shutdown leaves its task `PROCESSING` for the hand-back.
async fn run(
    db: &DatabaseConnection,
    actions: &Registry,
    holder: &str,
    settings: &WorkerSettings,
    task: Task,
    stopping: watch::Receiver<bool>,
) {
    let claim = tasks::Claim {
        holder: holder.to_string(),
        attempt: task.attempts,
    };
    let secrets = super::secrets::take(&task.id);
    let sink = Arc::new(DbSink {
        db: db.clone(),
        task_id: task.id.clone(),
        claim: claim.clone(),
        secrets: secrets
            .as_ref()
            .map(sinks::secret_values)
            .unwrap_or_default(),
        lost: std::sync::atomic::AtomicBool::new(false),
    });
    let (cancel_tx, cancel) = watch::channel(false);
    let shutting_down = stopping.clone();
    let beat = Heartbeat {
        db: db.clone(),
        task_id: task.id.clone(),
        claim: claim.clone(),
        every: settings.heartbeat,
        give_up: settings.stale_after.saturating_sub(settings.heartbeat),
        sink: sink.clone(),
    }
    .spawn(stopping, cancel_tx);
    // A task pinned to this server for its secrets runs only with them.
    if task.pinned_to.is_some() && secrets.is_none() {
        beat.abort();
        sink.event(
            None,
            "log",
            "its secrets are gone (they live only in the memory of the server that received them)",
        )
        .await;
        end(db, &task, &claim, TaskStatus::Failed, None).await;
        return;
    }
    let secrets = secrets.unwrap_or_default();
    sink.event(None, "log", &format!("started by {holder}"))
        .await;
    let (ended, output) = match tokio::time::timeout(
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
    conclude(db, &task, &claim, &sink, &shutting_down, ended, output).await;
}

/// Settles a run that has stopped: nothing more when the task is no longer ours, a log line when the
/// shutdown cancelled it (the task stays `PROCESSING`), else its end with the output (secrets masked).
async fn conclude(
    db: &DatabaseConnection,
    task: &Task,
    claim: &tasks::Claim,
    sink: &DbSink,
    shutting_down: &watch::Receiver<bool>,
    ended: End,
    output: Option<Value>,
) {
    if sink.lost.load(std::sync::atomic::Ordering::SeqCst) {
        tracing::warn!(task = %task.id, "the task was no longer ours; its run stopped");
        return;
    }
    if ended == End::Cancelled && *shutting_down.borrow() {
        let holder = &claim.holder;
        sink.event(None, "log", &format!("stopped by the shutdown of {holder}"))
            .await;
        return;
    }
    let status = match ended {
        End::Completed => TaskStatus::Completed,
        End::Failed => TaskStatus::Failed,
        End::Cancelled => TaskStatus::Cancelled,
    };
    let output = output
        .map(|o| serde_json::from_str(&sinks::redact(&o.to_string(), &sink.secrets)).unwrap_or(o));
    end(db, task, claim, status, output.as_ref()).await;
}

/// A running task's heartbeat, on a task of its own.
struct Heartbeat {
    db: DatabaseConnection,
    task_id: String,
    claim: tasks::Claim,
    /// How often the claim is renewed.
    every: Duration,
    /// How long renewals may fail before the run stops (others will soon take the task for dead).
    give_up: Duration,
    sink: Arc<DbSink>,
}

impl Heartbeat {
    /// Every 250 ms: is a cancellation requested? Every `every`: renew the claim. Cancels the run (through
    /// `cancel`) when a cancellation is requested, the claim is lost (the sink then writes nothing more),
    /// or the server shuts down.
    fn spawn(
        self,
        mut stopping: watch::Receiver<bool>,
        cancel: watch::Sender<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut last = std::time::Instant::now();
            let mut last_ok = std::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(CANCEL_CHECK.min(self.every)) => {}
                    _ = stopping.wait_for(|s| *s) => {
                        let _ = cancel.send(true);
                        return;
                    }
                }
                let (stop, lost) = if last.elapsed() >= self.every {
                    last = std::time::Instant::now();
                    self.renew(&mut last_ok).await
                } else {
                    let asked = tasks::cancel_requested(&self.db, &self.task_id).await;
                    (asked.unwrap_or(false), false)
                };
                if lost {
                    self.sink
                        .lost
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
                if stop {
                    let _ = cancel.send(true);
                    return;
                }
            }
        })
    }

    /// Renews the claim: (stop the run, the claim is lost).
    async fn renew(&self, last_ok: &mut std::time::Instant) -> (bool, bool) {
        match tasks::heartbeat(&self.db, &self.task_id, &self.claim).await {
            Ok(Some(cancel)) => {
                *last_ok = std::time::Instant::now();
                (cancel, false)
            }
            Ok(None) => (true, true),
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed");
                // Others will soon take the task for dead: stop before they do.
                let gone = last_ok.elapsed() >= self.give_up;
                (gone, gone)
            }
        }
    }
}

/// Records a run's end (with its `completion` event) under its claim.
async fn end(
    db: &DatabaseConnection,
    task: &Task,
    claim: &tasks::Claim,
    status: TaskStatus,
    output: Option<&Value>,
) {
    match tasks::finish(db, &task.id, claim, status, output).await {
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
