//! Recording and reading deployments. Idempotency is a unique constraint on (subject, key): concurrent
//! retries create one row, and every retry returns it.

use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::collections::HashMap;

use super::writer::Writer;
use super::{DeploymentError, Environments, Status};
use crate::auth::audit::AuditDraft;
use crate::keyset::{Slice, Window};
use entity::{deployments, entities};

pub type Deployment = deployments::Model;

/// What CI reports.
#[derive(Clone, Debug, Default)]
pub struct NewDeployment {
    pub entity_ref: String,
    pub environment: String,
    pub version: String,
    pub status: Option<Status>,
    pub commit_sha: Option<String>,
    pub commit_time: Option<i64>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub idempotency_key: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

async fn check_environment(
    db: &impl ConnectionTrait,
    envs: &Environments,
    name: &str,
) -> Result<(), DeploymentError> {
    if envs.allow_unknown || envs.configured.iter().any(|e| e.eq_ignore_ascii_case(name)) {
        return Ok(());
    }
    let as_entity = crate::catalog::refs::EntityRef::new(
        "environment",
        crate::catalog::refs::DEFAULT_NAMESPACE,
        name,
    )
    .to_string();
    let found = entities::Entity::find()
        .select_only()
        .column(entities::Column::Id)
        .filter(entities::Column::EntityRef.eq(as_entity))
        .into_tuple::<i32>()
        .one(db)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(DeploymentError::Invalid(format!(
            "unknown environment '{name}' (configured: {})",
            envs.configured.join(", ")
        ))),
    }
}

async fn by_key(
    db: &impl ConnectionTrait,
    subject: &str,
    key: &str,
) -> Result<Option<Deployment>, DeploymentError> {
    Ok(deployments::Entity::find()
        .filter(deployments::Column::RecordedBy.eq(subject))
        .filter(deployments::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// Records a deployment by `subject`, with its `audit` row in the same transaction; the flag is false when
/// an idempotency key already used by the same subject returned the first deployment (nothing changed).
pub async fn record(
    db: &DatabaseConnection,
    envs: &Environments,
    subject: &str,
    writer: &Writer,
    d: NewDeployment,
    audit: Option<&AuditDraft>,
) -> Result<(Deployment, bool), DeploymentError> {
    if let Some(key) = &d.idempotency_key {
        if let Some(first) = by_key(db, subject, key).await? {
            return Ok((first, false));
        }
    }
    let entity_ref =
        crate::catalog::refs::EntityRef::parse(&d.entity_ref, Some("component"), "default")
            .map_err(|e| {
                DeploymentError::Invalid(format!("invalid entity ref '{}': {e}", d.entity_ref))
            })?
            .to_string();
    let exists =
        crate::catalog::store::entities_by_refs(db, std::slice::from_ref(&entity_ref)).await?;
    if exists.is_empty() {
        return Err(DeploymentError::NotFound(format!("no entity {entity_ref}")));
    }
    check_environment(db, envs, &d.environment).await?;
    for (field, value) in [("version", &d.version), ("environment", &d.environment)] {
        if value.trim().is_empty() || value.len() > 200 {
            return Err(DeploymentError::Invalid(format!(
                "{field} must be 1 to 200 characters"
            )));
        }
    }
    let now = chrono::Utc::now().timestamp_millis();
    let status = d.status.unwrap_or(Status::Pending);
    let row = deployments::ActiveModel {
        id: NotSet,
        entity_ref: Set(entity_ref),
        environment: Set(d.environment.trim().to_string()),
        version: Set(d.version.trim().to_string()),
        status: Set(status.as_str().to_string()),
        commit_sha: Set(d.commit_sha),
        commit_time: Set(d.commit_time),
        url: Set(d.url),
        description: Set(d.description),
        idempotency_key: Set(d.idempotency_key.clone()),
        recorded_by: Set(subject.to_string()),
        started_at: Set(d.started_at.or(Some(now))),
        finished_at: Set(d.finished_at.or(status.is_finished().then_some(now))),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let inserted = writer.insert(row, audit.cloned()).await;
    match (inserted?, &d.idempotency_key) {
        (Some(saved), _) => {
            crate::metrics::get().deployment_recorded(&saved.environment, &saved.status);
            Ok((saved, true))
        }
        // A concurrent retry won the race: return its row.
        (None, Some(key)) => by_key(db, subject, key)
            .await?
            .map(|first| (first, false))
            .ok_or_else(|| DeploymentError::Conflict("idempotency key race".into())),
        (None, None) => Err(DeploymentError::Conflict("deployment not recorded".into())),
    }
}

/// Moves a deployment to `status` when that is a legal transition (`Conflict` otherwise).
pub async fn update_status(
    db: &DatabaseConnection,
    id: i64,
    status: Status,
    finished_at: Option<i64>,
    description: Option<String>,
) -> Result<Deployment, DeploymentError> {
    let _gate = crate::db::write_gate(db).await;
    let txn = crate::db::begin_write(db).await?;
    let Some(current) = deployments::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Err(DeploymentError::NotFound(format!("no deployment {id}")));
    };
    let from = Status::parse(&current.status).unwrap_or(Status::Pending);
    if !from.can_become(status) {
        return Err(DeploymentError::Conflict(format!(
            "deployment {id} is {from} and cannot become {status}"
        )));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut update = deployments::Entity::update_many()
        .col_expr(deployments::Column::Status, Expr::value(status.as_str()))
        .col_expr(deployments::Column::UpdatedAt, Expr::value(now))
        .filter(deployments::Column::Id.eq(id));
    if status.is_finished() {
        let at = finished_at.or(current.finished_at).unwrap_or(now);
        update = update.col_expr(deployments::Column::FinishedAt, Expr::value(at));
    }
    if let Some(desc) = description {
        update = update.col_expr(deployments::Column::Description, Expr::value(desc));
    }
    update.exec(&txn).await?;
    let saved = deployments::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| DeploymentError::NotFound(format!("no deployment {id}")))?;
    txn.commit().await?;
    Ok(saved)
}

/// Which deployments to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub entity_refs: Option<Vec<String>>,
    /// Entities owned by this group ref.
    pub owner: Option<String>,
    /// Entities of this system ref.
    pub system: Option<String>,
    pub environment: Option<String>,
    pub status: Option<Status>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// Up to `limit` deployments matching `f`, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    f: &Filter,
    limit: u64,
) -> Result<Vec<Deployment>, DeploymentError> {
    Ok(deployments::Entity::find()
        .filter(condition(f))
        .order_by_desc(deployments::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The page of deployments matching `f` that `w` selects, newest first (keyed by id).
pub async fn page(
    db: &impl ConnectionTrait,
    f: &Filter,
    w: &Window<i64>,
) -> Result<Slice<Deployment>, DeploymentError> {
    let q = deployments::Entity::find().filter(condition(f));
    let rows = w.apply(q, deployments::Column::Id, true).all(db).await?;
    Ok(Slice::of(rows, w))
}

/// What a deployment must match to pass `f`.
fn condition(f: &Filter) -> Condition {
    use sea_orm::sea_query::Query;
    let mut cond = Condition::all();
    if let Some(refs) = &f.entity_refs {
        cond = cond.add(deployments::Column::EntityRef.is_in(refs.iter().cloned()));
    }
    for (value, col) in [
        (&f.owner, entities::Column::OwnerRef),
        (&f.system, entities::Column::SystemRef),
    ] {
        if let Some(v) = value {
            cond = cond.add(
                deployments::Column::EntityRef.in_subquery(
                    Query::select()
                        .column(entities::Column::EntityRef)
                        .from(entities::Entity)
                        .and_where(col.eq(v.clone()))
                        .to_owned(),
                ),
            );
        }
    }
    if let Some(env) = &f.environment {
        cond = cond.add(deployments::Column::Environment.eq(env.clone()));
    }
    if let Some(s) = f.status {
        cond = cond.add(deployments::Column::Status.eq(s.as_str()));
    }
    if let Some(t) = f.since {
        cond = cond.add(deployments::Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.until {
        cond = cond.add(deployments::Column::CreatedAt.lt(t));
    }
    cond
}

/// The latest successful deployment per environment of each entity: two queries whatever the count.
pub async fn current(
    db: &impl ConnectionTrait,
    refs: &[String],
) -> Result<HashMap<String, Vec<Deployment>>, DeploymentError> {
    let mut out: HashMap<String, Vec<Deployment>> = HashMap::new();
    if refs.is_empty() {
        return Ok(out);
    }
    let ids: Vec<Option<i64>> = deployments::Entity::find()
        .select_only()
        .column_as(deployments::Column::Id.max(), "id")
        .filter(deployments::Column::EntityRef.is_in(refs.iter().cloned()))
        .filter(deployments::Column::Status.eq(Status::Succeeded.as_str()))
        .group_by(deployments::Column::EntityRef)
        .group_by(deployments::Column::Environment)
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<i64> = ids.into_iter().flatten().collect();
    if ids.is_empty() {
        return Ok(out);
    }
    for d in deployments::Entity::find()
        .filter(deployments::Column::Id.is_in(ids))
        .all(db)
        .await?
    {
        out.entry(d.entity_ref.clone()).or_default().push(d);
    }
    Ok(out)
}

pub async fn by_id(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<Deployment>, DeploymentError> {
    Ok(deployments::Entity::find_by_id(id).one(db).await?)
}

/// Whose deployments a list shows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Entity(String),
    /// Entities of a system.
    System(String),
    /// Entities owned by a group.
    Owner(String),
}

/// One page request of a list, per scope: what a dataloader batches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListKey {
    pub scope: Scope,
    pub environment: Option<String>,
    pub status: Option<Status>,
    pub limit: u64,
}

/// (scope kind, environment, status, limit): what the keys one query answers share.
type ListGroup = (u8, Option<String>, Option<Status>, u64);

/// The newest `limit` deployments of each key's scope, with one query per distinct (scope kind,
/// environment, status, limit): `ROW_NUMBER()` over each scope (SQLite and PostgreSQL both have it).
pub async fn lists(
    db: &impl ConnectionTrait,
    keys: &[ListKey],
) -> Result<HashMap<ListKey, Vec<Deployment>>, DeploymentError> {
    use sea_orm::FromQueryResult;
    let groups = group_list_keys(keys);
    let mut out: HashMap<ListKey, Vec<Deployment>> =
        keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    let backend = db.get_database_backend();
    for (group, members) in groups {
        let rows = db
            .query_all_raw(ranked_statement(backend, group, &members))
            .await?;
        let by_scope: HashMap<String, &ListKey> = members
            .iter()
            .map(|k| match &k.scope {
                Scope::Entity(r) | Scope::System(r) | Scope::Owner(r) => (r.clone(), *k),
            })
            .collect();
        for row in rows {
            let scope: String = row.try_get("", "scope_key")?;
            let d = Deployment::from_query_result(&row, "")?;
            if let Some(k) = by_scope.get(&scope) {
                if let Some(v) = out.get_mut(*k) {
                    v.push(d);
                }
            }
        }
    }
    Ok(out)
}

/// The keys grouped by what one query can answer together.
fn group_list_keys(keys: &[ListKey]) -> HashMap<ListGroup, Vec<&ListKey>> {
    let mut groups: HashMap<ListGroup, Vec<&ListKey>> = HashMap::new();
    for k in keys {
        let kind = match k.scope {
            Scope::Entity(_) => 0,
            Scope::System(_) => 1,
            Scope::Owner(_) => 2,
        };
        groups
            .entry((kind, k.environment.clone(), k.status, k.limit))
            .or_default()
            .push(k);
    }
    groups
}

/// The query of one group: the newest `limit` deployments of each member's scope, ranked per scope.
fn ranked_statement(
    backend: sea_orm::DatabaseBackend,
    (kind, environment, status, limit): ListGroup,
    members: &[&ListKey],
) -> sea_orm::Statement {
    use sea_orm::{DatabaseBackend, Statement, Value};
    let scope_col = match kind {
        0 => "d.entity_ref",
        1 => "e.system_ref",
        _ => "e.owner_ref",
    };
    let mut values: Vec<Value> = Vec::new();
    let mut n = 0;
    let mut param = |v: Value, values: &mut Vec<Value>| {
        values.push(v);
        n += 1;
        match backend {
            DatabaseBackend::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    };
    let scopes: Vec<String> = members
        .iter()
        .map(|k| match &k.scope {
            Scope::Entity(r) | Scope::System(r) | Scope::Owner(r) => r.clone(),
        })
        .collect();
    let list: Vec<String> = scopes
        .iter()
        .map(|s| param(s.clone().into(), &mut values))
        .collect();
    let mut filters = format!("{scope_col} IN ({})", list.join(", "));
    if let Some(env) = &environment {
        filters.push_str(&format!(
            " AND d.environment = {}",
            param(env.clone().into(), &mut values)
        ));
    }
    if let Some(s) = status {
        filters.push_str(&format!(
            " AND d.status = {}",
            param(s.as_str().into(), &mut values)
        ));
    }
    let join = if kind == 0 {
        ""
    } else {
        " JOIN entities e ON e.entity_ref = d.entity_ref"
    };
    let limit_param = param((limit as i64).into(), &mut values);
    let sql = format!(
        "SELECT * FROM (SELECT d.*, {scope_col} AS scope_key, \
         ROW_NUMBER() OVER (PARTITION BY {scope_col} ORDER BY d.id DESC) AS rn \
         FROM deployments d{join} WHERE {filters}) ranked WHERE rn <= {limit_param} ORDER BY id DESC"
    );
    Statement::from_sql_and_values(backend, sql, values)
}
