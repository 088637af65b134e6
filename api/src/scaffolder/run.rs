//! Running a template's steps in a fresh workspace: conditions, rendered inputs, actions, outputs. Events
//! and step states go to a [`Sink`]: the task's rows for real runs, memory for dry runs. Secret values
//! are masked in every event (and in step outputs before later steps see them); events are capped in
//! size. Rendering runs on blocking threads, so a heavy template never stalls the runtime and a
//! cancellation or timeout stops waiting for it at once.

use minijinja::Value as J;
use sea_orm::DatabaseConnection;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

use super::actions::{ActionContext, Logger, Registry};
use super::expr;
use super::template::{steps as parse_steps, StepSpec};
use super::{now_ms, tasks, StepState, StepStatus};

/// Where a run's events and step states go.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    async fn event(&self, step: Option<&str>, kind: &str, message: &str);
    async fn steps(&self, state: &[StepState]);
}

/// A task's rows, written under its claim; nothing is written once the claim is lost.
pub struct DbSink {
    pub db: DatabaseConnection,
    pub task_id: String,
    pub claim: tasks::Claim,
    /// Values replaced by `***` in every event and stored step output.
    pub secrets: Vec<String>,
    /// Set when the task is no longer this run's (recovered by another worker, handed back).
    pub lost: std::sync::atomic::AtomicBool,
}

impl DbSink {
    fn lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `message` with every secret value masked.
pub fn redact(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// Longest event message stored; longer ones are cut (after masking) with a note.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// `message` masked and cut to [`MAX_EVENT_BYTES`].
fn event_text(message: &str, secrets: &[String]) -> String {
    let mut out = redact(message, secrets);
    if out.len() > MAX_EVENT_BYTES {
        let total = out.len();
        let mut cut = MAX_EVENT_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(&format!("… [cut: {total} bytes]"));
    }
    out
}

/// A JSON value with every secret masked in its strings.
fn redact_value(value: Value, secrets: &[String]) -> Value {
    if secrets.is_empty() {
        return value;
    }
    serde_json::to_string(&value)
        .ok()
        .map(|t| redact(&t, secrets))
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Renders `input` on a blocking thread (its fuel bounds the work there; awaiting it can be dropped).
async fn render_off(
    env: &Arc<minijinja::Environment<'static>>,
    input: &Value,
    ctx: &J,
    secrets: &Map<String, Value>,
) -> Result<Value, String> {
    let (env, input, ctx, secrets) = (env.clone(), input.clone(), ctx.clone(), secrets.clone());
    tokio::task::spawn_blocking(move || expr::render(&env, &input, &ctx, &secrets))
        .await
        .map_err(|_| "the rendering stopped".to_string())?
        .map_err(|e| e.to_string())
}

/// [`render_off`], or `None` when the run is cancelled first.
async fn render_or_cancel(
    env: &Arc<minijinja::Environment<'static>>,
    input: &Value,
    ctx: &J,
    secrets: &Map<String, Value>,
    cancel: &mut watch::Receiver<bool>,
) -> Option<Result<Value, String>> {
    tokio::select! {
        r = render_off(env, input, ctx, secrets) => Some(r),
        _ = cancel.wait_for(|c| *c) => None,
    }
}

#[async_trait::async_trait]
impl Sink for DbSink {
    async fn event(&self, step: Option<&str>, kind: &str, message: &str) {
        if self.lost() {
            return;
        }
        let message = event_text(message, &self.secrets);
        if let Err(e) = tasks::event(&self.db, &self.task_id, step, kind, &message).await {
            tracing::warn!(error = %e, task = %self.task_id, "could not write a task event");
        }
    }

    async fn steps(&self, state: &[StepState]) {
        if self.lost() {
            return;
        }
        // Step outputs are stored (for resuming): mask secrets in them too.
        let state: Vec<StepState> = if self.secrets.is_empty() {
            state.to_vec()
        } else {
            serde_json::to_string(state)
                .ok()
                .map(|t| redact(&t, &self.secrets))
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default()
        };
        if let Err(e) = tasks::save_steps(&self.db, &self.task_id, &self.claim, &state).await {
            tracing::warn!(error = %e, task = %self.task_id, "could not save step states");
        }
    }
}

/// A dry run's log, in memory.
#[derive(Default)]
pub struct MemorySink {
    pub lines: Mutex<Vec<String>>,
    pub secrets: Vec<String>,
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    async fn event(&self, step: Option<&str>, kind: &str, message: &str) {
        let line = match step {
            Some(s) => format!("[{s}] {kind}: {message}"),
            None => format!("{kind}: {message}"),
        };
        if let Ok(mut l) = self.lines.lock() {
            l.push(event_text(&line, &self.secrets));
        }
    }

    async fn steps(&self, _state: &[StepState]) {}
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Completed,
    Failed,
    Cancelled,
}

/// What a run needs besides its steps.
pub struct RunInput<'a> {
    pub db: &'a DatabaseConnection,
    pub actions: &'a Registry,
    pub task_id: &'a str,
    pub spec: &'a Value,
    pub values: &'a Value,
    pub secrets: &'a Map<String, Value>,
    pub created_by: &'a str,
    /// Step states so far (a new run: every step open).
    pub state: Vec<StepState>,
    /// Skip actions that publish (a dry run).
    pub dry_run: bool,
}

/// Runs the steps in order in `workspace`; returns how the run ended and its rendered `spec.output`.
pub async fn steps(
    input: RunInput<'_>,
    sink: Arc<dyn Sink>,
    workspace: &std::path::Path,
    mut cancel: watch::Receiver<bool>,
) -> (End, Option<Value>) {
    let RunInput {
        db,
        actions,
        task_id,
        spec,
        values,
        secrets,
        created_by,
        mut state,
        dry_run,
    } = input;
    let specs = match parse_steps(spec) {
        Ok(s) => s,
        Err(e) => {
            sink.event(None, "log", &e.to_string()).await;
            return (End::Failed, None);
        }
    };
    let base_dir = spec
        .get(super::template::BASE_DIR_KEY)
        .and_then(Value::as_str)
        .map(PathBuf::from);
    let env = Arc::new(expr::environment());
    let masked = secret_values(secrets);
    let mut outputs = Map::new();
    // `secrets` is not in the context: `${{ secrets.NAME }}` is put in after rendering (`secrets::Refs`).
    let context = |outputs: &Map<String, Value>| {
        J::from_serialize(json!({
            "parameters": values,
            "steps": outputs,
            "user": { "ref": created_by },
        }))
    };
    if state.len() != specs.len() {
        state = specs.iter().map(StepState::open).collect();
    }
    for (i, step) in specs.iter().enumerate() {
        // A resumed task skips the steps that completed before, with their outputs.
        if let Some(done) = state
            .get(i)
            .filter(|s| s.status == StepStatus::Completed && s.id == step.id)
        {
            let output = done.output.clone().unwrap_or_default();
            outputs.insert(step.id.clone(), json!({ "output": output }));
            sink.event(Some(&step.id), "log", "completed before; skipped on resume")
                .await;
            continue;
        }
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
            sink.steps(&state).await;
            return (End::Cancelled, None);
        }
        if let Some(cond) = &step.condition {
            let Some(rendered) = render_or_cancel(&env, cond, &ctx, secrets, &mut cancel).await
            else {
                for s in state.iter_mut().skip(i) {
                    s.status = StepStatus::Cancelled;
                }
                sink.steps(&state).await;
                return (End::Cancelled, None);
            };
            match rendered {
                Ok(v) if !expr::truthy(&v) => {
                    set(&mut state, StepStatus::Skipped);
                    sink.steps(&state).await;
                    sink.event(Some(&step.id), "step_skipped", &step.name).await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    set(&mut state, StepStatus::Failed);
                    sink.steps(&state).await;
                    sink.event(Some(&step.id), "log", &format!("step {}: if: {e}", step.id))
                        .await;
                    return (End::Failed, None);
                }
            }
        }
        set(&mut state, StepStatus::Processing);
        sink.steps(&state).await;
        sink.event(Some(&step.id), "step_start", &step.name).await;
        let ran = run_step(
            Step {
                db,
                actions,
                task_id,
                step,
                env: &env,
                ctx: &ctx,
                secrets,
                workspace,
                base_dir: &base_dir,
                created_by,
                dry_run,
            },
            sink.clone(),
            &mut cancel,
        )
        .await;
        match ran {
            StepEnd::Done(output) => {
                // Later steps see outputs masked: a secret an action echoed cannot be transformed.
                let output = match redact_value(Value::Object(output), &masked) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                outputs.insert(step.id.clone(), json!({ "output": output.clone() }));
                set(&mut state, StepStatus::Completed);
                if let Some(s) = state.get_mut(i) {
                    s.output = Some(output);
                }
                sink.steps(&state).await;
                sink.event(Some(&step.id), "step_end", "completed").await;
            }
            StepEnd::Failed(msg) => {
                sink.event(Some(&step.id), "log", &msg).await;
                set(&mut state, StepStatus::Failed);
                sink.steps(&state).await;
                sink.event(Some(&step.id), "step_end", "failed").await;
                return (End::Failed, None);
            }
            StepEnd::Cancelled => {
                set(&mut state, StepStatus::Cancelled);
                for s in state.iter_mut().skip(i + 1) {
                    s.status = StepStatus::Cancelled;
                }
                sink.steps(&state).await;
                sink.event(Some(&step.id), "step_end", "cancelled").await;
                return (End::Cancelled, None);
            }
        }
    }
    let rendered = match spec.get("output") {
        Some(o) => {
            match render_or_cancel(&env, o, &context(&outputs), secrets, &mut cancel).await {
                Some(r) => Some(r),
                None => return (End::Cancelled, None),
            }
        }
        None => None,
    };
    match rendered {
        Some(Err(e)) => {
            sink.event(None, "log", &format!("output: {e}")).await;
            (End::Failed, None)
        }
        Some(Ok(o)) => (End::Completed, Some(o)),
        None => (End::Completed, None),
    }
}

enum StepEnd {
    Done(Map<String, Value>),
    Failed(String),
    Cancelled,
}

struct Step<'a> {
    db: &'a DatabaseConnection,
    actions: &'a Registry,
    task_id: &'a str,
    step: &'a StepSpec,
    env: &'a Arc<minijinja::Environment<'static>>,
    ctx: &'a J,
    secrets: &'a Map<String, Value>,
    workspace: &'a std::path::Path,
    base_dir: &'a Option<PathBuf>,
    created_by: &'a str,
    dry_run: bool,
}

async fn run_step(s: Step<'_>, sink: Arc<dyn Sink>, cancel: &mut watch::Receiver<bool>) -> StepEnd {
    let step = s.step;
    let Some(action) = s.actions.get(&step.action) else {
        return StepEnd::Failed(format!(
            "step {}: unknown action '{}' (known: {})",
            step.id,
            step.action,
            s.actions.ids().join(", ")
        ));
    };
    let input = match render_or_cancel(s.env, &step.input, s.ctx, s.secrets, cancel).await {
        None => return StepEnd::Cancelled,
        Some(Ok(i)) => i,
        Some(Err(e)) => return StepEnd::Failed(format!("step {}: input: {e}", step.id)),
    };
    if s.dry_run && action.publishes() {
        sink.event(
            Some(&step.id),
            "log",
            &format!("dry run: {} skipped", step.action),
        )
        .await;
        return StepEnd::Done(Map::new());
    }
    let mut cx = ActionContext {
        input,
        workspace: s.workspace.to_path_buf(),
        template_dir: s.base_dir.clone(),
        output: Map::new(),
        log: Logger {
            sink,
            step_id: step.id.clone(),
        },
        task_id: s.task_id.to_string(),
        db: s.db.clone(),
        subject: s.created_by.to_string(),
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

/// What a dry run produced.
pub struct DryRun {
    pub end: End,
    /// Files the steps left in the workspace: (path relative to it, UTF-8 content or null for binary).
    pub files: Vec<(String, Option<String>)>,
    pub log: Vec<String>,
    pub output: Option<Value>,
}

/// Runs a template's steps with publishing actions skipped, in a temp workspace that is removed after.
pub async fn dry_run(
    db: &DatabaseConnection,
    actions: &Registry,
    spec: &Value,
    values: &Value,
    secrets: &Map<String, Value>,
    created_by: &str,
) -> Result<DryRun, String> {
    let workspace = tempfile::Builder::new()
        .prefix("greenroom-dry-run-")
        .tempdir()
        .map_err(|e| format!("cannot create a workspace: {e}"))?;
    let sink = Arc::new(MemorySink {
        secrets: secret_values(secrets),
        ..MemorySink::default()
    });
    let (_cancel_tx, cancel) = watch::channel(false);
    let (end, output) = steps(
        RunInput {
            db,
            actions,
            task_id: "dry-run",
            spec,
            values,
            secrets,
            created_by,
            state: Vec::new(),
            dry_run: true,
        },
        sink.clone(),
        workspace.path(),
        cancel,
    )
    .await;
    let mut files = Vec::new();
    collect(workspace.path(), workspace.path(), &mut files);
    files.sort();
    let log = sink.lines.lock().map(|l| l.clone()).unwrap_or_default();
    Ok(DryRun {
        end,
        files,
        log,
        output,
    })
}

/// The string values of a task's secrets (what events must never show), also as they look inside JSON
/// text (escaped), longest first.
pub fn secret_values(secrets: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = secrets
        .values()
        .filter_map(Value::as_str)
        .filter(|s| s.len() >= 3)
        .flat_map(|s| {
            let escaped = serde_json::to_string(s).unwrap_or_default();
            let escaped = escaped.trim_matches('"').to_string();
            [s.to_string(), escaped]
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn collect(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, Option<String>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if e.file_name() != ".git" {
                collect(root, &p, out);
            }
        } else if let Ok(rel) = p.strip_prefix(root) {
            let content = std::fs::read(&p)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            out.push((rel.display().to_string(), content));
        }
    }
}
