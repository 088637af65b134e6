//! Entities by canonical ref (key: `String`), through the read cache.

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::cache::EntityCache;
use crate::catalog::store::StoredEntity;
use crate::catalog::CatalogError;
use crate::graphql::context;
use crate::graphql::errors::GqlResultExt;

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

pub type Entities = DataLoader<EntityLoader, super::request::RequestCache>;

/// This request's entity loader.
pub fn entities<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Entities> {
    context::data(ctx, "the entity loader")
}

/// Entities by ref straight from the read cache (no loader delay), seeded into this request's loader.
pub async fn load_entities(
    ctx: &Context<'_>,
    refs: &[String],
) -> async_graphql::Result<HashMap<String, Arc<StoredEntity>>> {
    let found: HashMap<String, Arc<StoredEntity>> = context::read_cache(ctx)?
        .entities_by_refs(context::database(ctx)?, refs)
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
