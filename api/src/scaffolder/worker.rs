//! Workers: every replica claims open tasks (up to `scaffolder.concurrency` at once), runs their steps,
//! heartbeats while it does, stops an action promptly on cancellation, and fails tasks whose worker died.

use minijinja::Value as J;
use sea_orm::DatabaseConnection;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use tracing::Instrument;

use super::actions::{ActionContext, Logger, Registry};
use super::expr;
use super::tasks::{self, Task};
use super::template::steps as parse_steps;
use super::{now_ms, StepState, StepStatus, TaskStatus};

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

/// How a task's run ended.
enum End {
    Completed,
    Failed,
    Cancelled,
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
    let _ = tasks::event(db, &task.id, None, "log", &format!("started by {holder}")).await;
    let outcome = tokio::time::timeout(
        settings.task_timeout,
        steps(db, actions, holder, &task, cancel),
    )
    .await;
    beat.abort();
    let (end, output) = match outcome {
        Ok(r) => r,
        Err(_) => {
            let _ = tasks::event(
                db,
                &task.id,
                None,
                "log",
                &format!("timed out after {:?}", settings.task_timeout),
            )
            .await;
            (End::Failed, None)
        }
    };
    let status = match end {
        End::Completed => TaskStatus::Completed,
        End::Failed => TaskStatus::Failed,
        End::Cancelled => TaskStatus::Cancelled,
    };
    match tasks::finish(db, &task.id, holder, status, output.as_ref()).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(task = %task.id, "the task was no longer ours when it ended"),
        Err(e) => tracing::error!(task = %task.id, error = %e, "could not record the task's end"),
    }
}

/// Runs the steps in order; returns how the task ended and its rendered `spec.output`.
async fn steps(
    db: &DatabaseConnection,
    actions: &Registry,
    holder: &str,
    task: &Task,
    mut cancel: watch::Receiver<bool>,
) -> (End, Option<Value>) {
    let fail = |msg: String| async move {
        let _ = tasks::event(db, &task.id, None, "log", &msg).await;
        (End::Failed, None)
    };
    let spec: Value = match serde_json::from_str(&task.spec) {
        Ok(s) => s,
        Err(e) => return fail(format!("stored spec is unreadable: {e}")).await,
    };
    let values: Value = serde_json::from_str(&task.values).unwrap_or_else(|_| json!({}));
    let specs = match parse_steps(&spec) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()).await,
    };
    let base_dir = spec
        .get("__greenroomBaseDir")
        .and_then(Value::as_str)
        .map(PathBuf::from);
    let workspace = match tempfile::Builder::new().prefix("greenroom-task-").tempdir() {
        Ok(w) => w,
        Err(e) => return fail(format!("cannot create a workspace: {e}")).await,
    };
    let env = expr::environment();
    let mut state: Vec<StepState> = serde_json::from_str(&task.steps).unwrap_or_default();
    let mut outputs = Map::new();
    let context = |outputs: &Map<String, Value>| {
        J::from_serialize(json!({
            "parameters": values,
            "steps": outputs,
            "user": { "ref": task.created_by },
        }))
    };
    for (i, step) in specs.iter().enumerate() {
        let ctx = context(&outputs);
        let set = |state: &mut Vec<StepState>, status: StepStatus| {
            if let Some(s) = state.get_mut(i) {
                s.status = status;
                match status {
                    StepStatus::Processing => s.started_at = Some(now_ms()),
                    _ => s.finished_at = Some(now_ms()),
                }
            }
        };
        if *cancel.borrow() {
            for s in state.iter_mut().skip(i) {
                s.status = StepStatus::Cancelled;
            }
            let _ = tasks::save_steps(db, &task.id, holder, &state).await;
            return (End::Cancelled, None);
        }
        if let Some(cond) = &step.condition {
            match expr::render(&env, cond, &ctx) {
                Ok(v) if !expr::truthy(&v) => {
                    set(&mut state, StepStatus::Skipped);
                    let _ = tasks::save_steps(db, &task.id, holder, &state).await;
                    let _ = tasks::event(db, &task.id, Some(&step.id), "step_skipped", &step.name)
                        .await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    set(&mut state, StepStatus::Failed);
                    let _ = tasks::save_steps(db, &task.id, holder, &state).await;
                    return fail(format!("step {}: if: {e}", step.id)).await;
                }
            }
        }
        set(&mut state, StepStatus::Processing);
        let _ = tasks::save_steps(db, &task.id, holder, &state).await;
        let _ = tasks::event(db, &task.id, Some(&step.id), "step_start", &step.name).await;
        let result = run_step(
            db,
            actions,
            task,
            step,
            &env,
            &ctx,
            &workspace,
            &base_dir,
            &mut cancel,
        )
        .await;
        match result {
            StepEnd::Done(output) => {
                outputs.insert(step.id.clone(), json!({ "output": output }));
                set(&mut state, StepStatus::Completed);
                let _ = tasks::save_steps(db, &task.id, holder, &state).await;
                let _ = tasks::event(db, &task.id, Some(&step.id), "step_end", "completed").await;
            }
            StepEnd::Failed(msg) => {
                let _ = tasks::event(db, &task.id, Some(&step.id), "log", &msg).await;
                set(&mut state, StepStatus::Failed);
                let _ = tasks::save_steps(db, &task.id, holder, &state).await;
                let _ = tasks::event(db, &task.id, Some(&step.id), "step_end", "failed").await;
                return (End::Failed, None);
            }
            StepEnd::Cancelled => {
                set(&mut state, StepStatus::Cancelled);
                for s in state.iter_mut().skip(i + 1) {
                    s.status = StepStatus::Cancelled;
                }
                let _ = tasks::save_steps(db, &task.id, holder, &state).await;
                let _ = tasks::event(db, &task.id, Some(&step.id), "step_end", "cancelled").await;
                return (End::Cancelled, None);
            }
        }
    }
    let output = spec
        .get("output")
        .map(|o| expr::render(&env, o, &context(&outputs)));
    match output {
        Some(Err(e)) => fail(format!("output: {e}")).await,
        Some(Ok(o)) => (End::Completed, Some(o)),
        None => (End::Completed, None),
    }
}

enum StepEnd {
    Done(Map<String, Value>),
    Failed(String),
    Cancelled,
}

#[allow(clippy::too_many_arguments)]
async fn run_step(
    db: &DatabaseConnection,
    actions: &Registry,
    task: &Task,
    step: &super::template::StepSpec,
    env: &minijinja::Environment<'_>,
    ctx: &J,
    workspace: &tempfile::TempDir,
    base_dir: &Option<PathBuf>,
    cancel: &mut watch::Receiver<bool>,
) -> StepEnd {
    let Some(action) = actions.get(&step.action) else {
        return StepEnd::Failed(format!(
            "step {}: unknown action '{}' (known: {})",
            step.id,
            step.action,
            actions.ids().join(", ")
        ));
    };
    let input = match expr::render(env, &step.input, ctx) {
        Ok(i) => i,
        Err(e) => return StepEnd::Failed(format!("step {}: input: {e}", step.id)),
    };
    let mut cx = ActionContext {
        input,
        workspace: workspace.path().to_path_buf(),
        template_dir: base_dir.clone(),
        output: Map::new(),
        log: Logger {
            db: db.clone(),
            task_id: task.id.clone(),
            step_id: step.id.clone(),
        },
        subject: task.created_by.clone(),
    };
    // Dropping the action's future stops it: a cancellation ends a running action at once.
    let ran = tokio::select! {
        r = action.run(&mut cx) => Some(r),
        _ = cancel.wait_for(|c| *c) => None,
    };
    match ran {
        None => StepEnd::Cancelled,
        Some(Ok(())) => StepEnd::Done(cx.output),
        Some(Err(msg)) => {
            StepEnd::Failed(format!("step {} ({}) failed: {msg}", step.id, step.action))
        }
    }
}
