//! A task's lifecycle as callers drive it: finding a template, starting a task (scope rules, values,
//! secrets), dry runs, who may read or change a task, and following its event log live. Both the API
//! and tools call these; the storage is in [`super::tasks`].

use futures_util::Stream;
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::time::Duration;

use super::actions::Registry;
use super::run::{self, DryRun};
use super::tasks::{self, Event, Task};
use super::template::Template;
use super::{ScaffolderError, TaskStatus};
use crate::auth::{Caller, Scope};
use crate::catalog::cache::EntityCache;
use crate::catalog::refs::EntityRef;

type Res<T> = Result<T, ScaffolderError>;

/// How often a live task log looks for new events (they come from any replica's worker).
const POLL: Duration = Duration::from_millis(200);

/// How many events one read of a live log takes.
const EVENT_BATCH: u64 = 500;

/// The canonical ref of a template (`kind` defaults to `template`, the namespace to `default`).
pub fn template_ref(r: &str) -> Res<String> {
    EntityRef::parse(r, Some("template"), "default")
        .map(|r| r.to_string())
        .map_err(|e| ScaffolderError::Invalid(format!("invalid template ref '{r}': {e}")))
}

/// The template entity `r`, parsed (`NotFound` when the catalog has none).
pub async fn template(db: &DatabaseConnection, cache: &EntityCache, r: &str) -> Res<Template> {
    let r = template_ref(r)?;
    let found = cache
        .entities_by_refs(db, std::slice::from_ref(&r))
        .await
        .map_err(|e| ScaffolderError::Internal(e.to_string()))?;
    let entity = found
        .iter()
        .find(|e| e.entity_ref == r)
        .ok_or_else(|| ScaffolderError::NotFound(format!("no template {r}")))?;
    Template::from_entity(entity)
}

/// The scopes a run of `template` needs beyond `scaffolder:run`: each of its steps' actions may need
/// one (registering sources is a catalog write).
pub fn scopes_needed(actions: &Registry, template: &Template) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = template
        .steps
        .iter()
        .filter_map(|s| actions.get(&s.action).and_then(|a| a.scope()))
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// The scopes a dry run of `template` needs: those of the actions it runs (it skips publishing ones),
/// e.g. `catalog:read` for `catalog:fetch`.
pub fn dry_run_scopes(actions: &Registry, template: &Template) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = template
        .steps
        .iter()
        .filter_map(|s| actions.get(&s.action))
        .filter(|a| !a.publishes())
        .filter_map(|a| a.scope())
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Starts a task: `caller` holds every scope the template's actions need, `values` pass the template's
/// parameter schema, and `secrets` are in place (this process's memory) before any worker can see the
/// task. Nothing is stored when a check fails.
pub async fn start(
    db: &DatabaseConnection,
    actions: &Registry,
    template: &Template,
    values: &Value,
    secrets: Map<String, Value>,
    caller: &Caller,
) -> Res<Task> {
    for scope in scopes_needed(actions, template) {
        caller.require(scope)?;
    }
    template.validate(values)?;
    let pinned = (!secrets.is_empty()).then(super::secrets::process);
    let id = tasks::new_id();
    if !secrets.is_empty() {
        super::secrets::put(&id, secrets);
    }
    let acting = template.acting_as(caller);
    let task = tasks::create(db, &acting, values, &caller.subject, pinned, &id)
        .await
        .inspect_err(|_| {
            super::secrets::take(&id);
        })?;
    super::worker::wake();
    Ok(task)
}

/// Runs `template`'s steps with publishing actions skipped; nothing is stored.
pub async fn dry_run(
    db: &DatabaseConnection,
    actions: &Registry,
    template: &Template,
    values: &Value,
    secrets: &Map<String, Value>,
    caller: &Caller,
) -> Res<DryRun> {
    for scope in dry_run_scopes(actions, template) {
        caller.require(scope)?;
    }
    template.validate(values)?;
    let spec = template.acting_as(caller).stored_spec();
    run::dry_run(db, actions, &spec, values, secrets, &caller.subject).await
}

/// `Ok` when `caller` created `task` or is an admin: a task's values, output and events (which may show
/// what its steps did with secrets) are theirs only.
pub fn may_read(caller: &Caller, task: &Task) -> Res<()> {
    if is_theirs(caller, task) {
        return Ok(());
    }
    Err(ScaffolderError::Forbidden(format!(
        "task {} belongs to {}; only they or an admin may read its values, output and events",
        task.id, task.created_by
    )))
}

/// The task `id` when `caller` may change it: its creator or an admin (`NotFound` for an unknown task,
/// `Forbidden` otherwise).
async fn owned(db: &DatabaseConnection, caller: &Caller, id: &str) -> Res<Task> {
    let task = tasks::get(db, id)
        .await?
        .ok_or_else(|| ScaffolderError::NotFound(format!("no task {id}")))?;
    if !is_theirs(caller, &task) {
        return Err(ScaffolderError::Forbidden(format!(
            "task {id} belongs to {}; only they or an admin may change it",
            task.created_by
        )));
    }
    Ok(task)
}

fn is_theirs(caller: &Caller, task: &Task) -> bool {
    task.created_by == caller.subject || caller.has(Scope::Admin)
}

/// Cancels task `id` on behalf of `caller` (its creator or an admin).
pub async fn cancel(db: &DatabaseConnection, caller: &Caller, id: &str) -> Res<Task> {
    owned(db, caller, id).await?;
    tasks::cancel(db, id).await
}

/// Runs a failed or cancelled task `id` again from its first step, on behalf of `caller` (its creator
/// or an admin).
pub async fn retry(db: &DatabaseConnection, caller: &Caller, id: &str) -> Res<Task> {
    owned(db, caller, id).await?;
    let task = tasks::retry(db, id).await?;
    super::worker::wake();
    Ok(task)
}

/// Task `id`'s events after `after` (from the start when absent), then each new one as it happens,
/// for `caller` (who must be allowed to read it). The stream ends when the task is finished and nothing
/// is left to read: not at the first `completion` event (a retried task has an older one), and only
/// after one more read, since on PostgreSQL an event id can become visible after a larger one.
pub async fn follow(
    db: DatabaseConnection,
    caller: &Caller,
    id: &str,
    after: Option<i64>,
) -> Res<impl Stream<Item = Event> + Send + 'static> {
    let Some(task) = tasks::get(&db, id).await? else {
        return Err(ScaffolderError::NotFound(format!("no task {id}")));
    };
    may_read(caller, &task)?;
    let start = Follow {
        db,
        id: id.to_string(),
        cursor: after,
        pending: VecDeque::new(),
        last_read: false,
    };
    Ok(futures_util::stream::unfold(start, Follow::next))
}

/// Where a live log is: the last event id read, events read but not yet sent, and whether the read
/// that found the task finished has happened.
struct Follow {
    db: DatabaseConnection,
    id: String,
    cursor: Option<i64>,
    pending: VecDeque<Event>,
    last_read: bool,
}

impl Follow {
    /// The next event, waiting for one while the task runs; `None` at the end (or when the store
    /// cannot be read, which is logged).
    async fn next(mut self) -> Option<(Event, Self)> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some((e, self));
            }
            if self.last_read {
                return None;
            }
            let finished = match tasks::get(&self.db, &self.id).await {
                Ok(t) => t.is_none_or(|t| {
                    TaskStatus::parse(&t.status).is_some_and(TaskStatus::is_finished)
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "task could not be read");
                    return None;
                }
            };
            match tasks::events(&self.db, &self.id, self.cursor, EVENT_BATCH).await {
                Ok(new) if !new.is_empty() => {
                    self.cursor = new.last().map(|e| e.id);
                    self.pending.extend(new);
                }
                Ok(_) if finished => self.last_read = true,
                Ok(_) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::warn!(error = %e, "task events could not be read");
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffolder::template::StepSpec;
    use std::sync::Arc;

    fn template(actions: &[&str]) -> Template {
        let steps = actions
            .iter()
            .enumerate()
            .map(|(i, a)| StepSpec {
                id: format!("s{i}"),
                name: format!("step {i}"),
                action: a.to_string(),
                input: Value::Null,
                condition: None,
                each: None,
            })
            .collect();
        Template {
            entity_ref: "template:default/t".into(),
            spec: Value::Null,
            steps,
            base_dir: None,
            source: None,
            base_url: None,
            acting: None,
        }
    }

    fn caller(subject: &str, scopes: &[Scope]) -> Caller {
        let mut c = Caller::anonymous(scopes.iter().copied().collect());
        c.subject = subject.into();
        c
    }

    #[test]
    fn the_scopes_a_template_needs_come_from_its_actions() {
        let actions = Registry::reading(&Arc::default());
        let plain = template(&["debug:log", "fetch:template"]);
        assert!(scopes_needed(&actions, &plain).is_empty());
        let registers = template(&["debug:log", "catalog:register", "catalog:register"]);
        assert_eq!(
            scopes_needed(&actions, &registers),
            vec![Scope::CatalogWrite]
        );
        // An action the registry does not know needs nothing here (the run fails on it instead).
        assert!(scopes_needed(&actions, &template(&["custom:thing"])).is_empty());
        // A dry run skips registering but reads the catalog for catalog:fetch.
        let both = template(&["catalog:fetch", "catalog:register"]);
        assert_eq!(dry_run_scopes(&actions, &both), vec![Scope::CatalogRead]);
        assert!(dry_run_scopes(&actions, &registers).is_empty());
    }

    #[test]
    fn a_task_is_readable_by_its_creator_and_admins_only() {
        let task = Task {
            id: "t1".into(),
            template_ref: "template:default/t".into(),
            spec: "{}".into(),
            values: "{}".into(),
            status: "open".into(),
            created_by: "user:default/jane".into(),
            created_at: 0,
            started_at: None,
            finished_at: None,
            claimed_by: None,
            heartbeat_at: None,
            cancel_requested: false,
            steps: "[]".into(),
            output: None,
            attempts: 0,
            pinned_to: None,
        };
        assert!(may_read(&caller("user:default/jane", &[]), &task).is_ok());
        assert!(may_read(&caller("bot:ci", &[Scope::Admin]), &task).is_ok());
        let other = may_read(&caller("user:default/joe", &[Scope::CatalogRead]), &task);
        assert!(matches!(other, Err(ScaffolderError::Forbidden(m)) if m.contains("t1")));
    }
}
