//! Task rows and their event log: create, read, list, cancel, retry; and for workers: claim (one worker
//! per task: `FOR UPDATE SKIP LOCKED` on PostgreSQL, one conditional update on SQLite), heartbeat,
//! finish, and recovery of tasks whose worker stopped heartbeating.

use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::Value;

use super::template::Template;
use super::{now_ms, ScaffolderError, StepState, TaskStatus};
use crate::keyset::{Slice, Window};
use entity::{task_events, tasks};

pub type Task = tasks::Model;
pub type Event = task_events::Model;

type Res<T> = Result<T, ScaffolderError>;

/// Stores a new `open` task for `template` with `values` (already validated), by `subject`.
pub async fn create(
    db: &impl ConnectionTrait,
    template: &Template,
    values: &Value,
    subject: &str,
    pinned_to: Option<&str>,
    id: &str,
) -> Res<Task> {
    let steps: Vec<StepState> = template.steps.iter().map(StepState::open).collect();
    let row = tasks::ActiveModel {
        id: Set(id.to_string()),
        template_ref: Set(template.entity_ref.clone()),
        spec: Set(serde_json::to_string(&template.stored_spec()).unwrap_or_default()),
        values: Set(values.to_string()),
        status: Set(TaskStatus::Open.as_str().into()),
        created_by: Set(subject.to_string()),
        created_at: Set(now_ms()),
        started_at: Set(None),
        finished_at: Set(None),
        claimed_by: Set(None),
        heartbeat_at: Set(None),
        cancel_requested: Set(false),
        steps: Set(serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into())),
        output: Set(None),
        attempts: Set(0),
        pinned_to: Set(pinned_to.map(str::to_string)),
    };
    Ok(tasks::Entity::insert(row).exec_with_returning(db).await?)
}

/// A new task id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Res<Option<Task>> {
    Ok(tasks::Entity::find_by_id(id.to_string()).one(db).await?)
}

/// Which tasks to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub status: Option<TaskStatus>,
    pub created_by: Option<String>,
    pub template_ref: Option<String>,
}

/// The page of tasks matching `f` that `w` selects, newest first (keyed by `(created_at, id)`).
pub async fn page(
    db: &impl ConnectionTrait,
    f: &Filter,
    w: &Window<(i64, String)>,
) -> Res<Slice<Task>> {
    let mut cond = Condition::all();
    if let Some(s) = f.status {
        cond = cond.add(tasks::Column::Status.eq(s.as_str()));
    }
    if let Some(c) = &f.created_by {
        cond = cond.add(tasks::Column::CreatedBy.eq(c.clone()));
    }
    if let Some(t) = &f.template_ref {
        cond = cond.add(tasks::Column::TemplateRef.eq(t.clone()));
    }
    // Newest first: "after" a key is older than it, "before" one is newer.
    if let Some(k) = &w.after {
        cond = cond.add(older_than(k));
    }
    if let Some(k) = &w.before {
        cond = cond.add(older_than(k).not());
        cond = cond.add(
            Condition::any()
                .add(tasks::Column::CreatedAt.ne(k.0))
                .add(tasks::Column::Id.ne(k.1.clone())),
        );
    }
    let q = tasks::Entity::find().filter(cond);
    let q = if w.reversed() {
        q.order_by_asc(tasks::Column::CreatedAt)
            .order_by_asc(tasks::Column::Id)
    } else {
        q.order_by_desc(tasks::Column::CreatedAt)
            .order_by_desc(tasks::Column::Id)
    };
    Ok(Slice::of(q.limit(w.fetch()).all(db).await?, w))
}

/// Tasks that come after the key `(at, id)` newest first.
fn older_than((at, id): &(i64, String)) -> Condition {
    Condition::any().add(tasks::Column::CreatedAt.lt(*at)).add(
        Condition::all()
            .add(tasks::Column::CreatedAt.eq(*at))
            .add(tasks::Column::Id.lt(id.clone())),
    )
}

/// Appends an event to a task's log.
pub async fn event(
    db: &impl ConnectionTrait,
    task_id: &str,
    step_id: Option<&str>,
    kind: &str,
    message: &str,
) -> Res<Event> {
    Ok(task_events::Entity::insert(task_events::ActiveModel {
        id: NotSet,
        task_id: Set(task_id.to_string()),
        at: Set(now_ms()),
        step_id: Set(step_id.map(str::to_string)),
        kind: Set(kind.to_string()),
        message: Set(message.to_string()),
    })
    .exec_with_returning(db)
    .await?)
}

/// A task's events after the event id `after`, in order; at most `limit`.
pub async fn events(
    db: &impl ConnectionTrait,
    task_id: &str,
    after: Option<i64>,
    limit: u64,
) -> Res<Vec<Event>> {
    let mut q = task_events::Entity::find().filter(task_events::Column::TaskId.eq(task_id));
    if let Some(a) = after {
        q = q.filter(task_events::Column::Id.gt(a));
    }
    Ok(q.order_by_asc(task_events::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The page of a task's events that `w` selects, oldest first (keyed by event id).
pub async fn events_page(
    db: &impl ConnectionTrait,
    task_id: &str,
    w: &Window<i64>,
) -> Res<Slice<Event>> {
    let q = task_events::Entity::find().filter(task_events::Column::TaskId.eq(task_id));
    let rows = w.apply(q, task_events::Column::Id, false).all(db).await?;
    Ok(Slice::of(rows, w))
}

/// How many events a task's log holds.
pub async fn event_count(db: &impl ConnectionTrait, task_id: &str) -> Res<u64> {
    Ok(task_events::Entity::find()
        .filter(task_events::Column::TaskId.eq(task_id))
        .count(db)
        .await?)
}

/// One event by its id.
pub async fn event_by_id(db: &impl ConnectionTrait, id: i64) -> Res<Option<Event>> {
    Ok(task_events::Entity::find_by_id(id).one(db).await?)
}

/// Cancels a task: an open one at once, a running one by asking its worker (which stops the running
/// action); a finished one is a conflict.
pub async fn cancel(db: &DatabaseConnection, id: &str) -> Res<Task> {
    let now = now_ms();
    let gate = crate::db::write_gate(db).await;
    let txn = crate::db::begin_write(db).await?;
    let opened = tasks::Entity::update_many()
        .col_expr(
            tasks::Column::Status,
            Expr::value(TaskStatus::Cancelled.as_str()),
        )
        .col_expr(tasks::Column::FinishedAt, Expr::value(now))
        .filter(tasks::Column::Id.eq(id))
        .filter(tasks::Column::Status.eq(TaskStatus::Open.as_str()))
        .exec(&txn)
        .await?;
    if opened.rows_affected == 1 {
        event(&txn, id, None, "cancelled", "cancelled before it started").await?;
        super::secrets::take(id);
        event(&txn, id, None, "completion", TaskStatus::Cancelled.as_str()).await?;
        txn.commit().await?;
        drop(gate);
    } else {
        txn.commit().await?;
        drop(gate);
        let running = tasks::Entity::update_many()
            .col_expr(tasks::Column::CancelRequested, Expr::value(true))
            .filter(tasks::Column::Id.eq(id))
            .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
            .exec(db)
            .await?;
        if running.rows_affected == 0 {
            return match get(db, id).await? {
                None => Err(ScaffolderError::NotFound(format!("no task {id}"))),
                Some(t) => Err(ScaffolderError::Conflict(format!(
                    "task {id} is {} and cannot be cancelled",
                    t.status
                ))),
            };
        }
        event(db, id, None, "log", "cancellation requested").await?;
    }
    get(db, id)
        .await?
        .ok_or_else(|| ScaffolderError::NotFound(format!("no task {id}")))
}

/// Runs a failed or cancelled task again from its first step.
pub async fn retry(db: &impl ConnectionTrait, id: &str) -> Res<Task> {
    let Some(task) = get(db, id).await? else {
        return Err(ScaffolderError::NotFound(format!("no task {id}")));
    };
    let status = TaskStatus::parse(&task.status).unwrap_or(TaskStatus::Failed);
    if task.pinned_to.is_some() {
        return Err(ScaffolderError::Conflict(format!(
            "task {id} ran with secrets, which are not kept; create a new task"
        )));
    }
    if !matches!(status, TaskStatus::Failed | TaskStatus::Cancelled) {
        return Err(ScaffolderError::Conflict(format!(
            "task {id} is {status}; only failed or cancelled tasks can be retried"
        )));
    }
    let steps = super::reopen(&task.steps, false);
    let reset = tasks::Entity::update_many()
        .col_expr(
            tasks::Column::Status,
            Expr::value(TaskStatus::Open.as_str()),
        )
        .col_expr(
            tasks::Column::ClaimedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(tasks::Column::HeartbeatAt, Expr::value(Option::<i64>::None))
        .col_expr(tasks::Column::FinishedAt, Expr::value(Option::<i64>::None))
        .col_expr(tasks::Column::CancelRequested, Expr::value(false))
        .col_expr(tasks::Column::Output, Expr::value(Option::<String>::None))
        .col_expr(tasks::Column::Steps, Expr::value(steps.clone()))
        .filter(tasks::Column::Id.eq(id))
        .filter(tasks::Column::Status.eq(task.status.clone()))
        .exec(db)
        .await?;
    if reset.rows_affected == 0 {
        return Err(ScaffolderError::Conflict(format!(
            "task {id} changed meanwhile"
        )));
    }
    event(db, id, None, "log", "retried").await?;
    // The task as the retry left it: re-reading it could race a worker that already claimed it.
    Ok(Task {
        status: TaskStatus::Open.as_str().to_string(),
        claimed_by: None,
        heartbeat_at: None,
        finished_at: None,
        cancel_requested: false,
        output: None,
        steps,
        ..task
    })
}

/// Claims the oldest open task for `holder`, if any: unpinned ones, or ones pinned to this process. Two
/// workers never claim the same task.
pub async fn claim(db: &impl ConnectionTrait, holder: &str) -> Res<Option<Task>> {
    let process = super::secrets::process();
    let backend = db.get_database_backend();
    let now = now_ms();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "UPDATE tasks SET status = 'processing', claimed_by = $1, heartbeat_at = $2, \
             started_at = COALESCE(started_at, $2), attempts = attempts + 1 \
             WHERE id = (SELECT id FROM tasks WHERE status = 'open' \
             AND (pinned_to IS NULL OR pinned_to = $3) ORDER BY created_at, id \
             LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *"
        }
        _ => {
            "UPDATE tasks SET status = 'processing', claimed_by = ?, heartbeat_at = ?, \
             started_at = COALESCE(started_at, ?), attempts = attempts + 1 \
             WHERE id = (SELECT id FROM tasks WHERE status = 'open' \
             AND (pinned_to IS NULL OR pinned_to = ?) ORDER BY created_at, id LIMIT 1) \
             AND status = 'open' RETURNING *"
        }
    };
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => vec![holder.into(), now.into(), process.into()],
        _ => vec![holder.into(), now.into(), now.into(), process.into()],
    };
    Ok(tasks::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .one(db)
        .await?)
}

/// Renews `holder`'s claim on a running task; `None` when the task is no longer this holder's (finished,
/// or recovered by another worker), else whether a cancellation was requested.
pub async fn heartbeat(db: &impl ConnectionTrait, id: &str, claim: &Claim) -> Res<Option<bool>> {
    let done = tasks::Entity::update_many()
        .col_expr(tasks::Column::HeartbeatAt, Expr::value(now_ms()))
        .filter(tasks::Column::Id.eq(id))
        .filter(tasks::Column::ClaimedBy.eq(claim.holder.as_str()))
        .filter(tasks::Column::Attempts.eq(claim.attempt))
        .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    Ok(get(db, id).await?.map(|t| t.cancel_requested))
}

/// Tasks waiting for a worker, and tasks running (for metrics).
pub async fn counts(db: &impl ConnectionTrait) -> Res<(i64, i64)> {
    let rows: Vec<(String, i64)> = tasks::Entity::find()
        .select_only()
        .column(tasks::Column::Status)
        .column_as(tasks::Column::Id.count(), "n")
        .filter(
            tasks::Column::Status
                .is_in([TaskStatus::Open.as_str(), TaskStatus::Processing.as_str()]),
        )
        .group_by(tasks::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let get = |s: TaskStatus| {
        rows.iter()
            .find(|(st, _)| st == s.as_str())
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    Ok((get(TaskStatus::Open), get(TaskStatus::Processing)))
}

/// Whether a cancellation of the task was requested.
pub async fn cancel_requested(db: &impl ConnectionTrait, id: &str) -> Res<bool> {
    Ok(tasks::Entity::find_by_id(id.to_string())
        .select_only()
        .column(tasks::Column::CancelRequested)
        .into_tuple::<bool>()
        .one(db)
        .await?
        .unwrap_or(false))
}

/// One claim of a task: the worker and the attempt it claimed (a task claimed again by the same worker
/// is another claim, so a stale run cannot write over the new one).
#[derive(Clone, Debug)]
pub struct Claim {
    pub holder: String,
    pub attempt: i32,
}

/// Stores the step states of a running task under `claim`.
pub async fn save_steps(
    db: &impl ConnectionTrait,
    id: &str,
    claim: &Claim,
    steps: &[StepState],
) -> Res<()> {
    tasks::Entity::update_many()
        .col_expr(
            tasks::Column::Steps,
            Expr::value(serde_json::to_string(steps).unwrap_or_else(|_| "[]".into())),
        )
        .filter(tasks::Column::Id.eq(id))
        .filter(tasks::Column::ClaimedBy.eq(claim.holder.as_str()))
        .filter(tasks::Column::Attempts.eq(claim.attempt))
        .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends `holder`'s running task with `status` and its rendered `output`, with its `completion` event in
/// the same transaction; false when it was not ours.
pub async fn finish(
    db: &DatabaseConnection,
    id: &str,
    claim: &Claim,
    status: TaskStatus,
    output: Option<&Value>,
) -> Res<bool> {
    let _gate = crate::db::write_gate(db).await;
    let txn = crate::db::begin_write(db).await?;
    let done = tasks::Entity::update_many()
        .col_expr(tasks::Column::Status, Expr::value(status.as_str()))
        .col_expr(tasks::Column::FinishedAt, Expr::value(now_ms()))
        .col_expr(
            tasks::Column::Output,
            Expr::value(output.map(Value::to_string)),
        )
        .filter(tasks::Column::Id.eq(id))
        .filter(tasks::Column::ClaimedBy.eq(claim.holder.as_str()))
        .filter(tasks::Column::Attempts.eq(claim.attempt))
        .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
        .exec(&txn)
        .await?;
    if done.rows_affected == 1 {
        event(&txn, id, None, "completion", status.as_str()).await?;
    }
    txn.commit().await?;
    Ok(done.rows_affected == 1)
}

/// What a template asks for when its task's worker dies (`spec.EXPERIMENTAL_recovery.EXPERIMENTAL_strategy`):
/// `startOver` (Backstage's) runs it again from the first step; `resume` runs it again from the first
/// step that had not completed, with the completed steps' outputs (a fresh workspace: the steps it skips
/// must not leave files the later ones need). Anything else: the task fails.
fn recovery(spec: &str) -> Option<&'static str> {
    let spec = serde_json::from_str::<Value>(spec).ok()?;
    match spec
        .pointer("/EXPERIMENTAL_recovery/EXPERIMENTAL_strategy")
        .and_then(Value::as_str)
    {
        Some("startOver") => Some("startOver"),
        Some("resume") => Some("resume"),
        _ => None,
    }
}

/// (id, claimed by, spec, steps, pinned to) of a task found stale.
type StaleRow = (String, Option<String>, String, String, Option<String>);

/// Recovers every running task whose worker has not heartbeated since `stale_before` (ms): it fails with
/// a `recovered` event, or, when its template opted in, goes back to the queue to start over. Returns the
/// ids. A task whose heartbeat arrives meanwhile is left alone.
pub async fn recover_stale(db: &DatabaseConnection, stale_before: i64) -> Res<Vec<String>> {
    let stale: Vec<StaleRow> = tasks::Entity::find()
        .select_only()
        .column(tasks::Column::Id)
        .column(tasks::Column::ClaimedBy)
        .column(tasks::Column::Spec)
        .column(tasks::Column::Steps)
        .column(tasks::Column::PinnedTo)
        .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
        .filter(tasks::Column::HeartbeatAt.lt(stale_before))
        .into_tuple()
        .all(db)
        .await?;
    let mut recovered = Vec::new();
    for (id, holder, spec, steps, pinned) in stale {
        // A task pinned to a dead server lost its secrets with it: it cannot run again.
        let strategy = recovery(&spec).filter(|_| pinned.is_none());
        let again = strategy.is_some();
        // startOver: every step open again; resume: completed steps stay completed.
        let states = super::reopen(&steps, strategy == Some("resume"));
        let _gate = crate::db::write_gate(db).await;
        let txn = crate::db::begin_write(db).await?;
        let mut update = tasks::Entity::update_many();
        update = if again {
            update
                .col_expr(
                    tasks::Column::Status,
                    Expr::value(TaskStatus::Open.as_str()),
                )
                .col_expr(
                    tasks::Column::ClaimedBy,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(tasks::Column::HeartbeatAt, Expr::value(Option::<i64>::None))
                .col_expr(tasks::Column::Steps, Expr::value(states))
        } else {
            update
                .col_expr(
                    tasks::Column::Status,
                    Expr::value(TaskStatus::Failed.as_str()),
                )
                .col_expr(tasks::Column::FinishedAt, Expr::value(now_ms()))
        };
        let done = update
            .filter(tasks::Column::Id.eq(id.clone()))
            .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
            .filter(tasks::Column::HeartbeatAt.lt(stale_before))
            .exec(&txn)
            .await?;
        if done.rows_affected == 1 {
            let who = holder.unwrap_or_else(|| "?".into());
            let what = match strategy {
                Some("resume") => {
                    "the task resumes at its first unfinished step (its template opted in)"
                }
                Some(_) => "the task starts over (its template opted in)",
                None => "the task failed",
            };
            event(
                &txn,
                &id,
                None,
                "recovered",
                &format!("the worker running this task ({who}) stopped; {what}"),
            )
            .await?;
            if !again {
                event(&txn, &id, None, "completion", "failed").await?;
            }
            recovered.push(id);
        }
        txn.commit().await?;
    }
    Ok(recovered)
}

/// Hands `holder`'s running tasks back (on shutdown): they become open again and another worker runs
/// them from the first step.
pub async fn release_all(db: &DatabaseConnection, holder: &str) -> Res<u64> {
    let running: Vec<(String, String, Option<String>)> = tasks::Entity::find()
        .select_only()
        .column(tasks::Column::Id)
        .column(tasks::Column::Steps)
        .column(tasks::Column::PinnedTo)
        .filter(tasks::Column::ClaimedBy.eq(holder))
        .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    let mut n = 0;
    for (id, steps, pinned) in running {
        let _gate = crate::db::write_gate(db).await;
        let txn = crate::db::begin_write(db).await?;
        // Handed back tasks start over; one pinned to this server for its secrets cannot run elsewhere.
        let update = if pinned.is_some() {
            tasks::Entity::update_many()
                .col_expr(
                    tasks::Column::Status,
                    Expr::value(TaskStatus::Failed.as_str()),
                )
                .col_expr(tasks::Column::FinishedAt, Expr::value(now_ms()))
        } else {
            tasks::Entity::update_many()
                .col_expr(
                    tasks::Column::Steps,
                    Expr::value(super::reopen(&steps, false)),
                )
                .col_expr(
                    tasks::Column::Status,
                    Expr::value(TaskStatus::Open.as_str()),
                )
                .col_expr(
                    tasks::Column::ClaimedBy,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(tasks::Column::HeartbeatAt, Expr::value(Option::<i64>::None))
        };
        let done = update
            .filter(tasks::Column::Id.eq(id.clone()))
            .filter(tasks::Column::ClaimedBy.eq(holder))
            .filter(tasks::Column::Status.eq(TaskStatus::Processing.as_str()))
            .exec(&txn)
            .await?;
        if done.rows_affected == 1 {
            if pinned.is_some() {
                let msg = format!("{holder} shut down; the task's secrets were only there");
                event(&txn, &id, None, "log", &msg).await?;
                event(&txn, &id, None, "completion", TaskStatus::Failed.as_str()).await?;
            } else {
                let msg = format!("handed back by {holder} (shutdown)");
                event(&txn, &id, None, "log", &msg).await?;
            }
            n += 1;
        }
        txn.commit().await?;
    }
    Ok(n)
}
