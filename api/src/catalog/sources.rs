//! Refresh status of catalog sources (the `locations` table): what was read when, with what result.

use sea_orm::sea_query::Expr;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::CatalogError;
use entity::{entities, locations};

/// A source as the API shows it.
#[derive(Clone, Debug)]
pub struct SourceStatus {
    pub id: i32,
    pub key: String,
    pub source_type: String,
    pub target: String,
    /// `config` or `registered`.
    pub origin: String,
    pub last_refresh_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub next_refresh_at: Option<i64>,
    pub last_error: Option<String>,
    pub entity_count: i64,
}

impl From<locations::Model> for SourceStatus {
    fn from(m: locations::Model) -> Self {
        Self {
            id: m.id,
            key: m.location_key,
            source_type: m.location_type,
            target: m.target,
            origin: m.origin,
            last_refresh_at: m.last_refresh_at,
            last_success_at: m.last_success_at,
            next_refresh_at: m.next_refresh_at,
            last_error: m.last_error,
            entity_count: i64::from(m.entity_count),
        }
    }
}

/// Records the result of one refresh: when, whether it read cleanly (`error` None), and the entity count.
pub async fn record_refresh(
    db: &impl ConnectionTrait,
    key: &str,
    error: Option<String>,
) -> Result<(), CatalogError> {
    let now = chrono::Utc::now().timestamp_millis();
    let count = entities::Entity::find()
        .filter(entities::Column::LocationKey.eq(key))
        .count(db)
        .await?;
    let mut update = locations::Entity::update_many()
        .col_expr(locations::Column::LastRefreshAt, Expr::value(now))
        .col_expr(locations::Column::EntityCount, Expr::value(count as i32))
        .col_expr(locations::Column::LastError, Expr::value(error.clone()));
    if error.is_none() {
        update = update.col_expr(locations::Column::LastSuccessAt, Expr::value(now));
    }
    update
        .filter(locations::Column::LocationKey.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a read that found nothing new (same commit): the time, and success only if the last real read
/// was clean.
pub async fn record_unchanged(db: &impl ConnectionTrait, key: &str) -> Result<(), CatalogError> {
    let now = chrono::Utc::now().timestamp_millis();
    locations::Entity::update_many()
        .col_expr(locations::Column::LastRefreshAt, Expr::value(now))
        .filter(locations::Column::LocationKey.eq(key))
        .exec(db)
        .await?;
    locations::Entity::update_many()
        .col_expr(locations::Column::LastSuccessAt, Expr::value(now))
        .filter(locations::Column::LocationKey.eq(key))
        .filter(locations::Column::LastError.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The provider cursor stored after the source's last read.
pub async fn cursor(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, CatalogError> {
    use sea_orm::QuerySelect;
    let found: Option<Option<String>> = locations::Entity::find()
        .select_only()
        .column(locations::Column::Cursor)
        .filter(locations::Column::LocationKey.eq(key))
        .into_tuple()
        .one(db)
        .await?;
    Ok(found.flatten())
}

/// Records when the scheduler will next read the source.
pub async fn set_next_refresh(
    db: &impl ConnectionTrait,
    key: &str,
    at: i64,
) -> Result<(), CatalogError> {
    locations::Entity::update_many()
        .col_expr(locations::Column::NextRefreshAt, Expr::value(at))
        .filter(locations::Column::LocationKey.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Adds a source registered at run time (a duplicate key violates `ux_locations_key`).
pub async fn register(
    db: &impl ConnectionTrait,
    key: &str,
    source_type: &str,
    target: &str,
) -> Result<SourceStatus, CatalogError> {
    let model = locations::ActiveModel {
        id: NotSet,
        location_key: Set(key.to_string()),
        location_type: Set(source_type.to_string()),
        target: Set(target.to_string()),
        origin: Set("registered".to_string()),
        last_error: Set(None),
        updated_at: Set(chrono::Utc::now().timestamp_millis()),
        last_refresh_at: NotSet,
        last_success_at: NotSet,
        next_refresh_at: NotSet,
        entity_count: NotSet,
        cursor: NotSet,
    };
    let saved = locations::Entity::insert(model)
        .exec_with_returning(db)
        .await?;
    Ok(saved.into())
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<SourceStatus>, CatalogError> {
    let rows = locations::Entity::find()
        .order_by_asc(locations::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(SourceStatus::from).collect())
}

pub async fn exists(db: &impl ConnectionTrait, key: &str) -> Result<bool, CatalogError> {
    Ok(locations::Entity::find()
        .filter(locations::Column::LocationKey.eq(key))
        .count(db)
        .await?
        > 0)
}

/// The source that provides the entity `entity_ref`, if the entity exists.
pub async fn of_entity(
    db: &impl ConnectionTrait,
    entity_ref: &str,
) -> Result<Option<SourceStatus>, CatalogError> {
    use sea_orm::QuerySelect;
    let key: Option<String> = entities::Entity::find()
        .select_only()
        .column(entities::Column::LocationKey)
        .filter(entities::Column::EntityRef.eq(entity_ref))
        .into_tuple()
        .one(db)
        .await?;
    let Some(key) = key else { return Ok(None) };
    Ok(locations::Entity::find()
        .filter(locations::Column::LocationKey.eq(key))
        .one(db)
        .await?
        .map(SourceStatus::from))
}

pub async fn by_id(
    db: &impl ConnectionTrait,
    id: i32,
) -> Result<Option<SourceStatus>, CatalogError> {
    Ok(locations::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(SourceStatus::from))
}

/// Points the source `id` (stored under `old_key`) at another location: its key, type and target change
/// and its cursor is dropped (so the next read is a full one); the entities it provided move with it, in
/// one transaction, so a read of the new location keeps those it still provides (same uids).
pub async fn retarget(
    db: &sea_orm::DatabaseConnection,
    id: i32,
    old_key: &str,
    new: (&str, &str, &str),
) -> Result<(), CatalogError> {
    use sea_orm::TransactionTrait;
    let (key, source_type, target) = new;
    let txn = db.begin().await?;
    locations::Entity::update_many()
        .col_expr(locations::Column::LocationKey, Expr::value(key))
        .col_expr(locations::Column::LocationType, Expr::value(source_type))
        .col_expr(locations::Column::Target, Expr::value(target))
        .col_expr(locations::Column::Cursor, Expr::value(None::<String>))
        .col_expr(
            locations::Column::UpdatedAt,
            Expr::value(chrono::Utc::now().timestamp_millis()),
        )
        .filter(locations::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    entities::Entity::update_many()
        .col_expr(entities::Column::LocationKey, Expr::value(key))
        .filter(entities::Column::LocationKey.eq(old_key))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    super::cache::invalidate_all();
    Ok(())
}
