//! The scaffolder in the API: `createTask`, `cancelTask`, `retryTask`, `task`, `tasks`, and the live
//! `taskEvents` subscription. Logic lives in `crate::scaffolder`.

use async_graphql::{Context, InputObject, Json, Object, SimpleObject, Subscription, ID};
use futures_util::Stream;
use serde_json::Value;

use super::connection::PageArgs;
use super::context;
use super::errors::{ApiError, GqlResultExt};
use super::guard::{require, READ};
use super::ids::{self, Kind};
use super::task::{
    parse_event_id, task_connection, task_key, GqlTaskStatus, Task, TaskConnection, TaskEvent,
};
use crate::auth::Scope;
use crate::scaffolder::lifecycle;
use crate::scaffolder::tasks::{self, Filter};

type Res<T> = async_graphql::Result<T>;

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
    /// One task by its global ID; null when there is none.
    async fn task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task's `id` (its global ID).")] id: ID,
    ) -> Res<Option<Task>> {
        require(ctx, READ)?;
        let key = ids::expect(&id, Kind::Task)?;
        let db = context::database(ctx)?;
        Ok(tasks::get(db, &key).await.gql()?.map(Task))
    }

    /// Tasks, newest first (Relay connection; `first` 1 to 100, default 20).
    #[allow(clippy::too_many_arguments)]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tasks matching every given field; default: all.")] filter: Option<
            TaskFilter,
        >,
        #[graphql(desc = "Page size, newest first from `after` (1 to 100; default 20).")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): older tasks follow."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Page size, back from `before` (1 to 100); used only when `first` is absent."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): newer tasks."
        )]
        before: Option<String>,
    ) -> Res<TaskConnection> {
        require(ctx, READ)?;
        let db = context::database(ctx)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let w = args.window(Kind::Task, 20, 100, task_key)?;
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
        Ok(task_connection(tasks::page(db, &filter, &w).await.gql()?))
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
        let key = ids::expect(&id, Kind::Task)?;
        Ok(Task(lifecycle::cancel(db, &caller, &key).await.gql()?))
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
        let key = ids::expect(&id, Kind::Task)?;
        Ok(Task(lifecycle::retry(db, &caller, &key).await.gql()?))
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
        #[graphql(desc = "The `id` (global ID) of the task to follow.")] task_id: ID,
        #[graphql(
            desc = "Only events after this event (a `TaskEvent` `id`); default: from the first event."
        )]
        after: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = TaskEvent>> {
        let caller = require(ctx, READ)?;
        let db = context::database(ctx)?.clone();
        let after = parse_event_id(after)?;
        let key = ids::expect(&task_id, Kind::Task)?;
        let events = lifecycle::follow(db, &caller, &key, after).await.gql()?;
        Ok(futures_util::StreamExt::map(events, TaskEvent::from))
    }
}
