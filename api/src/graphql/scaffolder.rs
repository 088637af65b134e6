//! The scaffolder in the API: `createTask`, `cancelTask`, `retryTask`, `task`, `tasks`, and the live
//! `taskEvents` subscription. Logic lives in `crate::scaffolder`.

use async_graphql::{Context, Enum, InputObject, Json, Object, SimpleObject, Subscription, ID};
use futures_util::Stream;
use serde_json::Value;

use super::context;
use super::errors::{ApiError, GqlResultExt};
use super::guard::{require, READ};
use crate::auth::Scope;
use crate::scaffolder::lifecycle;
use crate::scaffolder::tasks::{self, Event as EventRow, Filter, Task as Row};
use crate::scaffolder::{StepState, StepStatus, TaskStatus};

type Res<T> = async_graphql::Result<T>;

use super::time::{timestamp as time, DateTime};

/// A task's state.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum GqlTaskStatus {
    /// Waiting for a worker.
    Open,
    /// A worker is running it.
    Processing,
    /// Every step ran (or was skipped).
    Completed,
    /// A step failed, the task timed out, or its worker stopped.
    Failed,
    /// Cancelled on request.
    Cancelled,
}

impl From<TaskStatus> for GqlTaskStatus {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Open => Self::Open,
            TaskStatus::Processing => Self::Processing,
            TaskStatus::Completed => Self::Completed,
            TaskStatus::Failed => Self::Failed,
            TaskStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<GqlTaskStatus> for TaskStatus {
    fn from(s: GqlTaskStatus) -> Self {
        match s {
            GqlTaskStatus::Open => Self::Open,
            GqlTaskStatus::Processing => Self::Processing,
            GqlTaskStatus::Completed => Self::Completed,
            GqlTaskStatus::Failed => Self::Failed,
            GqlTaskStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A step's state within a task.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum GqlStepStatus {
    /// Not started yet.
    Open,
    /// Running.
    Processing,
    /// Finished successfully.
    Completed,
    /// Failed (the task failed with it).
    Failed,
    /// Its `if` did not hold.
    Skipped,
    /// Stopped or never run because the task was cancelled.
    Cancelled,
}

impl From<StepStatus> for GqlStepStatus {
    fn from(s: StepStatus) -> Self {
        match s {
            StepStatus::Open => Self::Open,
            StepStatus::Processing => Self::Processing,
            StepStatus::Completed => Self::Completed,
            StepStatus::Failed => Self::Failed,
            StepStatus::Skipped => Self::Skipped,
            StepStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// One step of a template, as written.
#[derive(SimpleObject)]
pub struct TemplateStep {
    /// The step's id (`step-N` when the template gives none).
    pub id: String,
    /// Its display name (the id when the template gives none).
    pub name: String,
    /// The action it runs, e.g. `fetch:template`.
    pub action: String,
    /// Its input, with `${{ }}` expressions unrendered.
    pub input: Json<Value>,
    /// Its condition (`if`), unrendered; null when it always runs.
    #[graphql(name = "if")]
    pub condition: Option<Json<Value>>,
}

impl From<crate::scaffolder::template::StepSpec> for TemplateStep {
    fn from(s: crate::scaffolder::template::StepSpec) -> Self {
        Self {
            id: s.id,
            name: s.name,
            action: s.action,
            input: Json(s.input),
            condition: s.condition.map(Json),
        }
    }
}

/// One step of a task.
#[derive(SimpleObject)]
pub struct TaskStep {
    /// The step's id in the template.
    pub id: String,
    /// The step's display name.
    pub name: String,
    /// The action it runs, e.g. `fetch:template`.
    pub action: String,
    /// Its state.
    pub status: GqlStepStatus,
    /// When it started (RFC 3339).
    pub started_at: Option<DateTime>,
    /// When it ended (RFC 3339).
    pub finished_at: Option<DateTime>,
}

impl From<StepState> for TaskStep {
    fn from(s: StepState) -> Self {
        Self {
            id: s.id,
            name: s.name,
            action: s.action,
            status: s.status.into(),
            started_at: time(s.started_at),
            finished_at: time(s.finished_at),
        }
    }
}

/// One entry of a task's event log.
#[derive(SimpleObject, Clone)]
pub struct TaskEvent {
    /// Ordered id: pass it as `after` to read or stream what follows.
    pub id: ID,
    /// When it happened (RFC 3339).
    pub at: Option<DateTime>,
    /// The step it belongs to, if any.
    pub step_id: Option<String>,
    /// `log`, `step_start`, `step_end`, `step_skipped`, `cancelled`, `recovered` or `completion` (whose
    /// message is the final status).
    pub kind: String,
    /// The text.
    pub message: String,
}

impl From<EventRow> for TaskEvent {
    fn from(e: EventRow) -> Self {
        Self {
            id: ID(e.id.to_string()),
            at: time(Some(e.at)),
            step_id: e.step_id,
            kind: e.kind,
            message: e.message,
        }
    }
}

/// A run of a template.
pub struct Task(pub Row);

/// A run of a template: its values, steps, output and event log.
#[Object]
impl Task {
    /// The task's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Its state.
    async fn status(&self) -> GqlTaskStatus {
        TaskStatus::parse(&self.0.status)
            .unwrap_or(TaskStatus::Failed)
            .into()
    }
    /// The template it runs.
    async fn template_ref(&self) -> &str {
        &self.0.template_ref
    }
    /// The parameter values it was created with (its creator and admins only; `FORBIDDEN` otherwise).
    async fn values(&self, ctx: &Context<'_>) -> Res<Json<Value>> {
        may_read(ctx, &self.0)?;
        Ok(Json(
            serde_json::from_str(&self.0.values).unwrap_or(Value::Null),
        ))
    }
    /// The token subject that created it.
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    /// When it was created (RFC 3339).
    async fn created_at(&self) -> Option<DateTime> {
        time(Some(self.0.created_at))
    }
    /// When a worker first started it (RFC 3339).
    async fn started_at(&self) -> Option<DateTime> {
        time(self.0.started_at)
    }
    /// When it ended (RFC 3339).
    async fn finished_at(&self) -> Option<DateTime> {
        time(self.0.finished_at)
    }
    /// Its steps, in order.
    async fn steps(&self) -> Vec<TaskStep> {
        serde_json::from_str::<Vec<StepState>>(&self.0.steps)
            .unwrap_or_default()
            .into_iter()
            .map(TaskStep::from)
            .collect()
    }
    /// The template's `spec.output` (links, text), rendered when the task completed (its creator and
    /// admins only; `FORBIDDEN` otherwise).
    async fn output(&self, ctx: &Context<'_>) -> Res<Option<Json<Value>>> {
        may_read(ctx, &self.0)?;
        Ok(self
            .0
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .map(Json))
    }
    /// Its event log after the event id `after` (up to 1,000 entries; its creator and admins only,
    /// `FORBIDDEN` otherwise).
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events after this event `id`; default: from the first event.")]
        after: Option<ID>,
    ) -> Res<Vec<TaskEvent>> {
        may_read(ctx, &self.0)?;
        let db = context::database(ctx)?;
        let after = parse_event_id(after)?;
        Ok(tasks::events(db, &self.0.id, after, 1000)
            .await
            .gql()?
            .into_iter()
            .map(TaskEvent::from)
            .collect())
    }
}

fn parse_event_id(after: Option<ID>) -> Res<Option<i64>> {
    after
        .map(|a| {
            a.parse::<i64>()
                .map_err(|_| ApiError::BadUserInput(format!("'{}' is not an event id", a.as_str())))
                .gql()
        })
        .transpose()
}

/// What `createTask` needs.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// The template, e.g. `template:default/service`.
    pub template_ref: String,
    /// Parameter values; validated against the template's parameter schema.
    pub values: Json<Value>,
    /// Secrets (an object of strings) for `${{ secrets.* }}`: kept in this server's memory only, never
    /// stored or logged (masked as `***` in events); the task runs on this server.
    pub secrets: Option<Json<Value>>,
}

/// What `dryRunTemplate` needs.
#[derive(InputObject)]
pub struct DryRunInput {
    /// The template, e.g. `template:default/service`.
    pub template_ref: String,
    /// Parameter values; validated against the template's parameter schema.
    pub values: Json<Value>,
    /// Secrets for `${{ secrets.* }}` (masked in the log).
    pub secrets: Option<Json<Value>>,
}

/// A file a dry run would have written.
#[derive(SimpleObject)]
pub struct DryRunFile {
    /// Path relative to the workspace.
    pub path: String,
    /// The content, when it is UTF-8 text.
    pub content: Option<String>,
}

/// What a dry run did.
#[derive(SimpleObject)]
pub struct DryRunResult {
    /// `COMPLETED`, `FAILED` or `CANCELLED`.
    pub status: GqlTaskStatus,
    /// The files the steps left in the workspace.
    pub files: Vec<DryRunFile>,
    /// The run's log, one line per event.
    pub log: Vec<String>,
    /// The rendered `spec.output`.
    pub output: Option<Json<Value>>,
}

/// Secrets from an input: an object of strings.
fn secrets(v: Option<Json<Value>>) -> Res<serde_json::Map<String, Value>> {
    match v.map(|j| j.0) {
        None | Some(Value::Null) => Ok(Default::default()),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => Ok(m),
        Some(_) => {
            Err(ApiError::BadUserInput("secrets must be an object of strings".into()).into())
        }
    }
}

/// Which tasks `tasks` lists.
#[derive(InputObject, Default)]
pub struct TaskFilter {
    /// Only tasks in this state.
    pub status: Option<GqlTaskStatus>,
    /// Only tasks created by this subject.
    pub created_by: Option<String>,
    /// Only runs of this template.
    pub template_ref: Option<String>,
}

/// A page of tasks, newest first.
#[derive(SimpleObject)]
pub struct TaskPage {
    /// The tasks.
    pub nodes: Vec<Task>,
    /// Pass as `after` for the next page (null on the last page).
    pub end_cursor: Option<String>,
    /// True when more tasks follow.
    pub has_next_page: bool,
}

/// `Ok` when the caller may read `task`'s values, output and events (see [`lifecycle::may_read`]).
fn may_read(ctx: &Context<'_>, task: &Row) -> Res<()> {
    lifecycle::may_read(&context::caller(ctx)?, task).gql()
}

/// The template `r` from the catalog (through the read cache).
async fn template(ctx: &Context<'_>, r: &str) -> Res<crate::scaffolder::template::Template> {
    let (db, cache) = (context::database(ctx)?, context::read_cache(ctx)?);
    lifecycle::template(db, cache, r).await.gql()
}

/// Scaffolder reads (need `catalog:read`).
#[derive(Default)]
pub struct ScaffolderQuery;

#[Object]
impl ScaffolderQuery {
    /// One task by id.
    async fn task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task's `id`.")] id: ID,
    ) -> Res<Option<Task>> {
        require(ctx, READ)?;
        let db = context::database(ctx)?;
        Ok(tasks::get(db, &id).await.gql()?.map(Task))
    }

    /// Tasks, newest first (`first` 1 to 100, default 20).
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tasks matching every given field; default: all.")] filter: Option<
            TaskFilter,
        >,
        #[graphql(desc = "Page size (1 to 100; default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page; default: the newest tasks.")]
        after: Option<String>,
    ) -> Res<TaskPage> {
        require(ctx, READ)?;
        let db = context::database(ctx)?;
        let limit = super::paging::page_size(first, 20, 100)?;
        let after = match after {
            Some(c) => Some(
                c.split_once(':')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                    .ok_or_else(|| ApiError::BadUserInput(format!("'{c}' is not a task cursor")))
                    .gql()?,
            ),
            None => None,
        };
        let f = filter.unwrap_or_default();
        let filter = Filter {
            status: f.status.map(Into::into),
            created_by: f.created_by,
            template_ref: f
                .template_ref
                .as_deref()
                .map(lifecycle::template_ref)
                .transpose()
                .gql()?,
        };
        let mut rows = tasks::list(db, &filter, limit as u64 + 1, after)
            .await
            .gql()?;
        let has_next_page = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(TaskPage {
            end_cursor: has_next_page
                .then(|| rows.last().map(|t| format!("{}:{}", t.created_at, t.id)))
                .flatten(),
            has_next_page,
            nodes: rows.into_iter().map(Task).collect(),
        })
    }
}

/// Scaffolder writes (need `scaffolder:run`).
#[derive(Default)]
pub struct ScaffolderMutation;

#[Object]
impl ScaffolderMutation {
    /// Starts a task from a template; values failing its parameter schema are `BAD_USER_INPUT` with every
    /// failing field in `extensions.fields`, and no task is created.
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template to run, its parameter values and secrets.")]
        input: CreateTaskInput,
    ) -> Res<Task> {
        let caller = require(ctx, Scope::ScaffolderRun)?;
        let db = context::database(ctx)?;
        let template = template(ctx, &input.template_ref).await?;
        let secrets = secrets(input.secrets)?;
        let started = lifecycle::start(
            db,
            context::actions(ctx)?,
            &template,
            &input.values.0,
            secrets,
            &caller,
        );
        Ok(Task(started.await.gql()?))
    }

    /// Runs a template's steps with publishing actions (`publish:*`, `catalog:register`) skipped, and
    /// returns the files it would write, its log and its output; nothing is stored.
    async fn dry_run_template(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The template to try, its parameter values and secrets.")]
        input: DryRunInput,
    ) -> Res<DryRunResult> {
        let caller = require(ctx, Scope::ScaffolderRun)?;
        let db = context::database(ctx)?;
        let template = template(ctx, &input.template_ref).await?;
        let secrets = secrets(input.secrets)?;
        let run = lifecycle::dry_run(
            db,
            context::actions(ctx)?,
            &template,
            &input.values.0,
            &secrets,
            &caller,
        )
        .await
        .gql()?;
        let status = match run.end {
            crate::scaffolder::run::End::Completed => GqlTaskStatus::Completed,
            crate::scaffolder::run::End::Failed => GqlTaskStatus::Failed,
            crate::scaffolder::run::End::Cancelled => GqlTaskStatus::Cancelled,
        };
        Ok(DryRunResult {
            status,
            files: run
                .files
                .into_iter()
                .map(|(path, content)| DryRunFile { path, content })
                .collect(),
            log: run.log,
            output: run.output.map(Json),
        })
    }

    /// Cancels a task: an open one at once, a running one within a second (its running action stops).
    /// Only its creator or an admin may.
    async fn cancel_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `id` of the task to cancel.")] id: ID,
    ) -> Res<Task> {
        let caller = require(ctx, Scope::ScaffolderRun)?;
        let db = context::database(ctx)?;
        Ok(Task(lifecycle::cancel(db, &caller, &id).await.gql()?))
    }

    /// Runs a failed or cancelled task again from its first step (`CONFLICT` otherwise). Only its creator
    /// or an admin may.
    async fn retry_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `id` of the failed or cancelled task to run again.")] id: ID,
    ) -> Res<Task> {
        let caller = require(ctx, Scope::ScaffolderRun)?;
        let db = context::database(ctx)?;
        Ok(Task(lifecycle::retry(db, &caller, &id).await.gql()?))
    }
}

/// Live task logs.
#[derive(Default)]
pub struct ScaffolderSubscription;

#[Subscription]
impl ScaffolderSubscription {
    /// A task's events after `after` (from the start when absent), then each new one as it happens; ends
    /// after the task's `completion` event (needs `catalog:read`, and to be its creator or an admin).
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `id` of the task to follow.")] task_id: ID,
        #[graphql(desc = "Only events after this event `id`; default: from the first event.")]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = TaskEvent>> {
        let caller = require(ctx, READ)?;
        let db = context::database(ctx)?.clone();
        let after = parse_event_id(after)?;
        let events = lifecycle::follow(db, &caller, &task_id, after)
            .await
            .gql()?;
        Ok(futures_util::StreamExt::map(events, TaskEvent::from))
    }
}
