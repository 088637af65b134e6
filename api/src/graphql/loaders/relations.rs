//! Outgoing relations by (source ref, relation type) (key: [`RelKey`]), through the read cache.

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::cache::EntityCache;
use crate::catalog::store::StoredRelation;
use crate::catalog::CatalogError;
use crate::graphql::context;

/// Key of the relation loader: (source ref, relation type or [`crate::catalog::store::ANY_TYPE`]).
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

pub type Relations = DataLoader<RelationLoader, super::request::RequestCache>;

/// This request's relation loader.
pub fn relations<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Relations> {
    context::data(ctx, "the relation loader")
}
