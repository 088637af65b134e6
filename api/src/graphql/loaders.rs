//! DataLoaders: one per relation key type, each an empty-key-guarded single `IN (...)` query.

use async_graphql::dataloader::Loader;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::store::{self, StoredEntity, StoredRelation};
use crate::catalog::CatalogError;

/// Entities by canonical ref.
pub struct EntityLoader {
    pub db: DatabaseConnection,
}

impl Loader<String> for EntityLoader {
    type Value = Arc<StoredEntity>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let rows = store::entities_by_refs(&self.db, keys)
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .map(|e| (e.entity_ref.clone(), Arc::new(e)))
            .collect())
    }
}

/// Outgoing relations by source ref.
pub struct RelationLoader {
    pub db: DatabaseConnection,
}

impl Loader<String> for RelationLoader {
    type Value = Arc<Vec<StoredRelation>>;
    type Error = Arc<CatalogError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let rows = store::relations_from(&self.db, keys)
            .await
            .map_err(Arc::new)?;
        let mut grouped: HashMap<String, Vec<StoredRelation>> = HashMap::new();
        for r in rows {
            grouped.entry(r.source_ref.clone()).or_default().push(r);
        }
        Ok(grouped.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}
