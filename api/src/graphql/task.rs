//! The `Task` type and its parts: task and step states, steps (of a task and of a template), the event
//! log and the task and event connections. Every `id` is a global ID (see `ids`).

use async_graphql::{Context, Enum, Json, Object, SimpleObject, ID};
use serde_json::Value;

use super::connection::{connection, Page, PageArgs};
use super::context;
use super::errors::GqlResultExt;
use super::ids::{self, Kind};
use crate::keyset::Slice;
use crate::scaffolder::lifecycle;
use crate::scaffolder::tasks::{self, Event as EventRow, Task as Row};
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
    /// Opaque global ID of this step of this template, accepted by `node(id:)`.
    #[graphql(owned)]
    pub id: ID,
    /// The step's id in the template (`step-N` when the template gives none).
    pub step_id: String,
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

impl TemplateStep {
    /// The step `s`, at `index` among the steps of the template `template_ref` (step ids may repeat).
    pub fn of(template_ref: &str, index: usize, s: crate::scaffolder::template::StepSpec) -> Self {
        Self {
            id: ids::encode(
                Kind::TemplateStep,
                &ids::pair(template_ref, &index.to_string()),
            ),
            step_id: s.id,
            name: s.name,
            action: s.action,
            input: Json(s.input),
            condition: s.condition.map(Json),
        }
    }
}

/// One step of a task.
#[derive(SimpleObject, Clone)]
pub struct TaskStep {
    /// Opaque global ID of this step of this task, accepted by `node(id:)`.
    #[graphql(owned)]
    pub id: ID,
    /// The step's id in the template (what `TaskEvent.stepId` names).
    pub step_id: String,
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

impl TaskStep {
    /// The step `s`, at `index` among the steps of the task `task_id` (step ids may repeat).
    pub fn of(task_id: &str, index: usize, s: StepState) -> Self {
        Self {
            id: ids::encode(Kind::TaskStep, &ids::pair(task_id, &index.to_string())),
            step_id: s.id,
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
    /// Opaque global ID, accepted by `node(id:)` and by `taskEvents(after:)` to stream what follows.
    #[graphql(owned)]
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
            id: ids::encode(Kind::TaskEvent, &e.id.to_string()),
            at: time(Some(e.at)),
            step_id: e.step_id,
            kind: e.kind,
            message: e.message,
        }
    }
}

/// A run of a template.
#[derive(Clone)]
pub struct Task(pub Row);

/// A run of a template: its values, steps, output and event log.
#[Object]
impl Task {
    /// Opaque global ID of the task, for `task(id:)`, `node(id:)`, `cancelTask` and `retryTask`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::Task, &self.0.id)
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
        steps(&self.0)
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
    /// Its event log, oldest first (Relay connection; its creator and admins only, `FORBIDDEN` otherwise).
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, oldest first from `after` (1 to 1000; default 1000).")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): later events follow."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Page size, back from `before` (1 to 1000); used only when `first` is absent."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): earlier events."
        )]
        before: Option<String>,
    ) -> Res<TaskEventConnection> {
        may_read(ctx, &self.0)?;
        let db = context::database(ctx)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let w = args.window(Kind::TaskEvent, 1000, 1000, |k| k.parse().ok())?;
        let slice = tasks::events_page(db, &self.0.id, &w).await.gql()?;
        let page = Page::of(
            slice,
            Kind::TaskEvent,
            |e| e.id.to_string(),
            TaskEvent::from,
        );
        if ctx.look_ahead().field("totalCount").exists() {
            let n = tasks::event_count(db, &self.0.id).await.gql()?;
            return Ok(TaskEventConnection(page.counted(n as i64)));
        }
        Ok(TaskEventConnection(page))
    }
}

/// The steps of a task as it stored them (none when they cannot be read).
pub fn steps(task: &Row) -> Vec<TaskStep> {
    serde_json::from_str::<Vec<StepState>>(&task.steps)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, s)| TaskStep::of(&task.id, i, s))
        .collect()
}

connection!(
    TaskConnection,
    TaskEdge,
    Task,
    "A page of tasks, newest first (Relay connection).",
    "One task in a page, with its cursor."
);

connection!(
    TaskEventConnection,
    TaskEventEdge,
    TaskEvent,
    "A page of a task's event log, oldest first (Relay connection).",
    "One event in a page, with its cursor.",
    counted
);

/// The connection of a slice of tasks (cursor: creation time and id).
pub fn task_connection(slice: Slice<Row>) -> TaskConnection {
    TaskConnection(Page::of(
        slice,
        Kind::Task,
        |t| format!("{}:{}", t.created_at, t.id),
        Task,
    ))
}

/// The task key of a task cursor: `(created_at, id)`.
pub fn task_key(k: &str) -> Option<(i64, String)> {
    let (at, id) = k.split_once(':')?;
    Some((at.parse().ok()?, id.to_string()))
}

/// `Ok` when the caller may read `task`'s values, output and events (see [`lifecycle::may_read`]).
pub fn may_read(ctx: &Context<'_>, task: &Row) -> Res<()> {
    lifecycle::may_read(&context::caller(ctx)?, task).gql()
}

/// The event row id of a `TaskEvent` global ID, if one is given.
pub fn parse_event_id(after: Option<ID>) -> Res<Option<i64>> {
    after
        .map(|a| ids::expect_number(&a, Kind::TaskEvent))
        .transpose()
}
