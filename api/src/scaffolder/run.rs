//! Running a template's steps in a fresh workspace: conditions, rendered inputs, actions, outputs. Events
//! and step states go to a [`Sink`] (see [`super::sinks`]): the task's rows for real runs, memory for dry
//! runs. Step outputs are masked before later steps see them. Rendering runs on blocking threads, so a heavy template never stalls the runtime and a
//! cancellation or timeout stops waiting for it at once.

use minijinja::Value as J;
use sea_orm::DatabaseConnection;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

use super::actions::{ActionContext, Logger, Registry, Sink};
use super::expr;
use super::sinks::{redact_value, secret_values, MemorySink};
use super::template::{steps as parse_steps, StepSpec};
use super::{now_ms, StepState, StepStatus};

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

/// The creator's entity when the catalog has it (`${{ user.entity }}`; null otherwise).
async fn user_entity(db: &DatabaseConnection, subject: &str) -> Value {
    let Ok(r) = crate::catalog::refs::EntityRef::parse(subject, Some("user"), "default") else {
        return Value::Null;
    };
    match crate::catalog::store::entities_by_refs(db, &[r.to_string()]).await {
        Ok(found) => found
            .first()
            .map(|e| e.body().clone())
            .unwrap_or(Value::Null),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the task creator's entity");
            Value::Null
        }
    }
}

/// Runs the steps in order in `workspace`; returns how the run ended and its rendered `spec.output`.
pub async fn steps(
    input: RunInput<'_>,
    sink: Arc<dyn Sink>,
    workspace: &std::path::Path,
    cancel: watch::Receiver<bool>,
) -> (End, Option<Value>) {
    let specs = match parse_steps(input.spec) {
        Ok(s) => s,
        Err(e) => {
            sink.event(None, "log", &e.to_string()).await;
            return (End::Failed, None);
        }
    };
    let user = user_entity(input.db, input.created_by).await;
    let checkout =
        match super::checkout::of_template(input.db, input.actions, input.spec, &specs).await {
            Ok(c) => c,
            Err(e) => {
                sink.event(None, "log", &e).await;
                return (End::Failed, None);
            }
        };
    let mut run = Run::new(input, &specs, sink, workspace, cancel);
    run.user_entity = user;
    if let Some(c) = &checkout {
        run.base_dir = Some(c.base.clone());
        run.template_root = Some(c.root.clone());
    }
    for (i, step) in specs.iter().enumerate() {
        if let Some(end) = run.step(i, step).await {
            return (end, None);
        }
    }
    run.output().await
}

/// A run in progress: its input, where its events go, and the outputs of the steps so far.
struct Run<'a> {
    input: RunInput<'a>,
    sink: Arc<dyn Sink>,
    workspace: &'a std::path::Path,
    cancel: watch::Receiver<bool>,
    /// The directory of the template's file (`fetch:*` reads from it).
    base_dir: Option<PathBuf>,
    /// A git-sourced template's checkout root (`fetch:*` may read anywhere in it).
    template_root: Option<PathBuf>,
    /// The URL a template from a url source was read from.
    template_url: Option<String>,
    /// Who the run acts as (its creator, with the scopes stored with the task).
    caller: crate::auth::Caller,
    env: Arc<minijinja::Environment<'static>>,
    /// The secret values masked in step outputs.
    masked: Vec<String>,
    outputs: Map<String, Value>,
    /// The creator's entity (null when the catalog has none).
    user_entity: Value,
}

/// What a step's `if` decided.
enum Gate {
    Run,
    Skip,
    End(End),
}

impl<'a> Run<'a> {
    /// A run of `specs`, resuming from `input.state` when it matches them (else every step open).
    fn new(
        mut input: RunInput<'a>,
        specs: &[StepSpec],
        sink: Arc<dyn Sink>,
        workspace: &'a std::path::Path,
        cancel: watch::Receiver<bool>,
    ) -> Self {
        let stored = |key: &str| {
            input
                .spec
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let base_dir = stored(super::template::BASE_DIR_KEY).map(PathBuf::from);
        let template_url = stored(super::template::BASE_URL_KEY);
        let caller = super::template::acting(input.spec, input.created_by);
        let env = Arc::new(expr::environment());
        let masked = secret_values(input.secrets);
        if input.state.len() != specs.len() {
            input.state = specs.iter().map(StepState::open).collect();
        }
        Self {
            input,
            sink,
            workspace,
            cancel,
            base_dir,
            template_root: None,
            template_url,
            caller,
            env,
            masked,
            outputs: Map::new(),
            user_entity: Value::Null,
        }
    }

    /// The rendering context: parameters, step outputs so far, user. `secrets` is not in it:
    /// `${{ secrets.NAME }}` is put in after rendering (`secrets::Refs`).
    fn context(&self) -> J {
        J::from_serialize(json!({
            "parameters": self.input.values,
            "steps": &self.outputs,
            "user": { "ref": self.input.created_by, "entity": &self.user_entity },
            "context": { "task": { "id": self.input.task_id } },
        }))
    }

    /// Sets step `i`'s status and its start or finish time.
    fn set(&mut self, i: usize, status: StepStatus) {
        if let Some(s) = self.input.state.get_mut(i) {
            s.status = status;
            match status {
                StepStatus::Processing => s.started_at = Some(now_ms()),
                _ => s.finished_at = Some(now_ms()),
            }
        }
    }

    /// Marks step `i` and every later one cancelled.
    async fn cancelled_from(&mut self, i: usize) -> End {
        for s in self.input.state.iter_mut().skip(i) {
            s.status = StepStatus::Cancelled;
        }
        self.sink.steps(&self.input.state).await;
        End::Cancelled
    }

    /// Runs step `i`; `Some` is the end of the run.
    async fn step(&mut self, i: usize, step: &StepSpec) -> Option<End> {
        if self.resumed(i, step).await {
            return None;
        }
        let ctx = self.context();
        if *self.cancel.borrow() {
            return Some(self.cancelled_from(i).await);
        }
        match self.condition(i, step, &ctx).await {
            Gate::Run => {}
            Gate::Skip => return None,
            Gate::End(end) => return Some(end),
        }
        self.set(i, StepStatus::Processing);
        self.sink.steps(&self.input.state).await;
        self.sink
            .event(Some(&step.id), "step_start", &step.name)
            .await;
        let ran = run_step(
            Step {
                db: self.input.db,
                actions: self.input.actions,
                task_id: self.input.task_id,
                step,
                env: &self.env,
                ctx: &ctx,
                secrets: self.input.secrets,
                workspace: self.workspace,
                base_dir: &self.base_dir,
                template_root: &self.template_root,
                template_url: &self.template_url,
                caller: &self.caller,
                created_by: self.input.created_by,
                dry_run: self.input.dry_run,
            },
            self.sink.clone(),
            &mut self.cancel,
        )
        .await;
        self.record(i, step, ran).await
    }

    /// A resumed task skips a step that completed before, keeping its output.
    async fn resumed(&mut self, i: usize, step: &StepSpec) -> bool {
        let Some(done) = self
            .input
            .state
            .get(i)
            .filter(|s| s.status == StepStatus::Completed && s.id == step.id)
        else {
            return false;
        };
        let output = done.output.clone().unwrap_or_default();
        self.outputs
            .insert(step.id.clone(), json!({ "output": output }));
        self.sink
            .event(Some(&step.id), "log", "completed before; skipped on resume")
            .await;
        true
    }

    /// Step `i`'s `if`, as Backstage's runner reads it: `false` skips the step, a string is rendered and
    /// skips it when not truthy (JavaScript's truthiness: `"false"` runs), anything else runs it; a
    /// failing rendering fails the run.
    async fn condition(&mut self, i: usize, step: &StepSpec, ctx: &J) -> Gate {
        let holds = match &step.condition {
            None => return Gate::Run,
            Some(Value::Bool(b)) => Ok(*b),
            Some(cond @ Value::String(_)) => {
                let rendered =
                    render_or_cancel(&self.env, cond, ctx, self.input.secrets, &mut self.cancel)
                        .await;
                let Some(rendered) = rendered else {
                    return Gate::End(self.cancelled_from(i).await);
                };
                rendered.map(|v| expr::truthy(&v))
            }
            Some(_) => return Gate::Run,
        };
        match holds {
            Ok(false) => {
                self.set(i, StepStatus::Skipped);
                self.sink.steps(&self.input.state).await;
                self.sink
                    .event(Some(&step.id), "step_skipped", &step.name)
                    .await;
                Gate::Skip
            }
            Ok(true) => Gate::Run,
            Err(e) => {
                self.set(i, StepStatus::Failed);
                self.sink.steps(&self.input.state).await;
                self.sink
                    .event(Some(&step.id), "log", &format!("step {}: if: {e}", step.id))
                    .await;
                Gate::End(End::Failed)
            }
        }
    }

    /// Records how step `i` ended: its output for later steps, or (failed, cancelled) the end of the run.
    async fn record(&mut self, i: usize, step: &StepSpec, ran: StepEnd) -> Option<End> {
        match ran {
            StepEnd::Done(output) => {
                // Later steps see outputs masked: a secret an action echoed cannot be transformed.
                let output = match redact_value(Value::Object(output), &self.masked) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                self.outputs
                    .insert(step.id.clone(), json!({ "output": output.clone() }));
                self.set(i, StepStatus::Completed);
                if let Some(s) = self.input.state.get_mut(i) {
                    s.output = Some(output);
                }
                self.sink.steps(&self.input.state).await;
                self.sink
                    .event(Some(&step.id), "step_end", "completed")
                    .await;
                None
            }
            StepEnd::Failed(msg) => {
                self.sink.event(Some(&step.id), "log", &msg).await;
                self.set(i, StepStatus::Failed);
                self.sink.steps(&self.input.state).await;
                self.sink.event(Some(&step.id), "step_end", "failed").await;
                Some(End::Failed)
            }
            StepEnd::Cancelled => {
                self.set(i, StepStatus::Cancelled);
                for s in self.input.state.iter_mut().skip(i + 1) {
                    s.status = StepStatus::Cancelled;
                }
                self.sink.steps(&self.input.state).await;
                self.sink
                    .event(Some(&step.id), "step_end", "cancelled")
                    .await;
                Some(End::Cancelled)
            }
        }
    }

    /// Renders `spec.output` once every step has run.
    async fn output(mut self) -> (End, Option<Value>) {
        let rendered = match self.input.spec.get("output") {
            Some(o) => {
                let ctx = self.context();
                match render_or_cancel(&self.env, o, &ctx, self.input.secrets, &mut self.cancel)
                    .await
                {
                    Some(r) => Some(r),
                    None => return (End::Cancelled, None),
                }
            }
            None => None,
        };
        match rendered {
            Some(Err(e)) => {
                self.sink.event(None, "log", &format!("output: {e}")).await;
                (End::Failed, None)
            }
            Some(Ok(o)) => (End::Completed, Some(o)),
            None => (End::Completed, None),
        }
    }
}

/// How one step's action ended.
enum StepEnd {
    Done(Map<String, Value>),
    Failed(String),
    Cancelled,
}

/// What one step's action needs.
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
    template_root: &'a Option<PathBuf>,
    template_url: &'a Option<String>,
    caller: &'a crate::auth::Caller,
    created_by: &'a str,
    dry_run: bool,
}

/// Renders a step's input and runs its action (a dry run skips publishing actions); with `each`, once per
/// entry, each output name then collecting the iterations' values in a list (as Backstage does).
async fn run_step(s: Step<'_>, sink: Arc<dyn Sink>, cancel: &mut watch::Receiver<bool>) -> StepEnd {
    let step = s.step;
    let action = s.actions.get(&step.action);
    if action.is_none() && !s.dry_run {
        return StepEnd::Failed(format!(
            "step {}: unknown action '{}' (known: {})",
            step.id,
            step.action,
            s.actions.ids().join(", ")
        ));
    }
    let iterations = match iterations(&s, cancel).await {
        Ok(i) => i,
        Err(end) => return end,
    };
    let mut inputs = Vec::new();
    for ctx in &iterations {
        match render_or_cancel(s.env, &step.input, ctx, s.secrets, cancel).await {
            None => return StepEnd::Cancelled,
            Some(Ok(i)) => inputs.push(i),
            Some(Err(e)) => return StepEnd::Failed(format!("step {}: input: {e}", step.id)),
        }
    }
    // A dry run skips an action this server does not have (an ArgoCD, Jenkins or webhook module's),
    // as it skips the actions that need a service: its input still renders, it outputs nothing.
    let Some(action) = action else {
        let skipped = format!(
            "dry run: {} skipped (no such action on this server; a task with it fails)",
            step.action
        );
        sink.event(Some(&step.id), "log", &skipped).await;
        return StepEnd::Done(Map::new());
    };
    if s.dry_run && action.publishes() {
        let skipped = format!("dry run: {} skipped", step.action);
        sink.event(Some(&step.id), "log", &skipped).await;
        let outputs = inputs.iter().map(|i| action.dry_run_output(i));
        return StepEnd::Done(super::actions::collect_outputs(
            step.each.is_some(),
            outputs,
        ));
    }
    let mut outputs = Vec::new();
    for input in inputs {
        let mut cx = ActionContext {
            input,
            workspace: s.workspace.to_path_buf(),
            template_dir: s.base_dir.clone(),
            template_root: s.template_root.clone(),
            template_url: s.template_url.clone(),
            output: Map::new(),
            log: Logger {
                sink: sink.clone(),
                step_id: step.id.clone(),
            },
            task_id: s.task_id.to_string(),
            db: s.db.clone(),
            subject: s.created_by.to_string(),
            caller: s.caller.clone(),
            dry_run: s.dry_run,
        };
        // Dropping the action's future stops it: a cancellation ends a running action at once.
        let ran = tokio::select! {
            r = action.run(&mut cx) => Some(r),
            _ = cancel.wait_for(|c| *c) => None,
        };
        match ran {
            None => return StepEnd::Cancelled,
            Some(Err(msg)) => {
                return StepEnd::Failed(format!("step {} ({}) failed: {msg}", step.id, step.action))
            }
            Some(Ok(())) => outputs.push(cx.output),
        }
    }
    StepEnd::Done(super::actions::collect_outputs(
        step.each.is_some(),
        outputs,
    ))
}

/// The rendering context of each run of a step's action: the step's own, or with `each` one per entry
/// of what it renders (`each.key`, `each.value`: an object's entries, a list's items by index).
async fn iterations(s: &Step<'_>, cancel: &mut watch::Receiver<bool>) -> Result<Vec<J>, StepEnd> {
    let Some(each) = &s.step.each else {
        return Ok(vec![s.ctx.clone()]);
    };
    let rendered = match render_or_cancel(s.env, each, s.ctx, s.secrets, cancel).await {
        None => return Err(StepEnd::Cancelled),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(StepEnd::Failed(format!("step {}: each: {e}", s.step.id))),
    };
    let entries: Vec<(String, Value)> = match rendered {
        Value::Object(m) => m.into_iter().collect(),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        Value::String(text) => text
            .chars()
            .enumerate()
            .map(|(i, c)| (i.to_string(), Value::String(c.to_string())))
            .collect(),
        _ => Vec::new(),
    };
    Ok(entries
        .into_iter()
        .map(|(key, value)| {
            let each = J::from_serialize(json!({ "key": key, "value": value }));
            minijinja::context! { each => each, ..s.ctx.clone() }
        })
        .collect())
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
) -> Result<DryRun, super::ScaffolderError> {
    let workspace = tempfile::Builder::new()
        .prefix("greenroom-dry-run-")
        .tempdir()
        .map_err(|e| super::ScaffolderError::Internal(format!("cannot create a workspace: {e}")))?;
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
    super::sinks::collect(workspace.path(), workspace.path(), &mut files);
    files.sort();
    let log = sink.lines.lock().map(|l| l.clone()).unwrap_or_default();
    Ok(DryRun {
        end,
        files,
        log,
        output,
    })
}
