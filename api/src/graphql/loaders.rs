//! DataLoaders: one per relation key type, each an empty-key-guarded single `IN (...)` query.
//! They are created per request with a request-scoped cache, so prefetched rows are reused and never stale.

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::Context;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;

use super::errors::{ApiError, GqlResultExt};
use crate::catalog::cache::EntityCache;
use crate::catalog::store::{StoredEntity, StoredRelation};
use crate::catalog::CatalogError;

/// Entities by canonical ref, through the read cache.
pub struct EntityLoader {
    pub db: DatabaseConnection,
    pub cache: Arc<EntityCache>,
}

impl Loader<String> for EntityLoader {
    type Value = Arc<StoredEntity>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let rows = self
            .cache
            .entities_by_refs(&self.db, keys)
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .map(|e| (e.entity_ref.clone(), e))
            .collect())
    }
}

/// Key of the relation loader: (source ref, relation type or [`store::ANY_TYPE`]).
pub type RelKey = (String, String);

/// Outgoing relations by (source ref, type), through the read cache; a key without relations maps to an
/// empty list.
pub struct RelationLoader {
    pub db: DatabaseConnection,
    pub cache: Arc<EntityCache>,
}

impl Loader<RelKey> for RelationLoader {
    type Value = Arc<Vec<StoredRelation>>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[RelKey]) -> Result<HashMap<RelKey, Self::Value>, Self::Error> {
        self.cache.relations(&self.db, keys).await.map_err(Arc::new)
    }
}

pub type Entities = DataLoader<EntityLoader, HashMapCache>;
pub type Relations = DataLoader<RelationLoader, HashMapCache>;

/// Largest number of keys in one `IN (...)` query.
const MAX_BATCH: usize = 2000;

/// Adds fresh loaders to a WebSocket connection's data.
pub fn insert(data: &mut async_graphql::Data, db: &DatabaseConnection, cache: &Arc<EntityCache>) {
    let (entities, relations, current, lists) = make(db, cache);
    data.insert(entities);
    data.insert(relations);
    data.insert(current);
    data.insert(lists);
}

/// Adds fresh request-scoped loaders to a request.
pub fn attach(
    request: async_graphql::Request,
    db: &DatabaseConnection,
    cache: &Arc<EntityCache>,
) -> async_graphql::Request {
    let (entities, relations, current, lists) = make(db, cache);
    request
        .data(entities)
        .data(relations)
        .data(current)
        .data(lists)
}

fn make(
    db: &DatabaseConnection,
    cache: &Arc<EntityCache>,
) -> (
    Entities,
    Relations,
    super::deployments::Current,
    super::deployments::Lists,
) {
    let entities: Entities = DataLoader::with_cache(
        EntityLoader {
            db: db.clone(),
            cache: cache.clone(),
        },
        tokio::spawn,
        HashMapCache::default(),
    )
    .max_batch_size(MAX_BATCH);
    let relations: Relations = DataLoader::with_cache(
        RelationLoader {
            db: db.clone(),
            cache: cache.clone(),
        },
        tokio::spawn,
        HashMapCache::default(),
    )
    .max_batch_size(MAX_BATCH);
    let current: super::deployments::Current = DataLoader::with_cache(
        super::deployments::CurrentLoader { db: db.clone() },
        tokio::spawn,
        HashMapCache::default(),
    )
    .max_batch_size(MAX_BATCH);
    let lists: super::deployments::Lists = DataLoader::with_cache(
        super::deployments::ListLoader { db: db.clone() },
        tokio::spawn,
        HashMapCache::default(),
    )
    .max_batch_size(200);
    (entities, relations, current, lists)
}

fn missing() -> async_graphql::Error {
    ApiError::Internal("request has no loaders attached".into()).into()
}

pub fn entities<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Entities> {
    ctx.data_opt::<Entities>().ok_or_else(missing)
}

pub fn relations<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Relations> {
    ctx.data_opt::<Relations>().ok_or_else(missing)
}

/// The pool from schema data.
pub fn database<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DatabaseConnection> {
    ctx.data_opt::<DatabaseConnection>()
        .ok_or_else(|| ApiError::Internal("schema has no database".into()))
        .gql()
}

/// The read cache from schema data.
pub fn read_cache<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<EntityCache>> {
    ctx.data_opt::<Arc<EntityCache>>()
        .ok_or_else(|| ApiError::Internal("schema has no cache".into()))
        .gql()
}

/// Entities by ref straight from the read cache (no loader delay), seeded into this request's loader.
pub async fn load_entities(
    ctx: &Context<'_>,
    refs: &[String],
) -> async_graphql::Result<HashMap<String, Arc<StoredEntity>>> {
    let found: HashMap<String, Arc<StoredEntity>> = read_cache(ctx)?
        .entities_by_refs(database(ctx)?, refs)
        .await
        .gql()?
        .into_iter()
        .map(|e| (e.entity_ref.clone(), e))
        .collect();
    entities(ctx)?
        .feed_many(found.iter().map(|(k, v)| (k.clone(), v.clone())))
        .await;
    Ok(found)
}
