//! A fresh set of request-scoped loaders, attached to a request (or a WebSocket connection's data).

use async_graphql::dataloader::{DataLoader, HashMapCache};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

use super::{Current, CurrentLoader, Entities, EntityLoader, ListLoader, Lists};
use super::{RelationLoader, Relations};
use crate::catalog::cache::EntityCache;

/// A request's loader cache: hashed with foldhash (seeded per process), several times faster than the
/// standard hash on the refs a page feeds and looks up (hundreds of each per page of 100).
pub type RequestCache = HashMapCache<foldhash::fast::RandomState>;

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
) -> (Entities, Relations, Current, Lists) {
    let entities: Entities = DataLoader::with_cache(
        EntityLoader {
            db: db.clone(),
            cache: cache.clone(),
        },
        tokio::spawn,
        RequestCache::new(),
    )
    .max_batch_size(MAX_BATCH);
    let relations: Relations = DataLoader::with_cache(
        RelationLoader {
            db: db.clone(),
            cache: cache.clone(),
        },
        tokio::spawn,
        RequestCache::new(),
    )
    .max_batch_size(MAX_BATCH);
    let current: Current = DataLoader::with_cache(
        CurrentLoader { db: db.clone() },
        tokio::spawn,
        RequestCache::new(),
    )
    .max_batch_size(MAX_BATCH);
    let lists: Lists = DataLoader::with_cache(
        ListLoader { db: db.clone() },
        tokio::spawn,
        RequestCache::new(),
    )
    .max_batch_size(200);
    (entities, relations, current, lists)
}
