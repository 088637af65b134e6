//! Small value types shared by every entity: key/values, links, relations, status, profiles.

use async_graphql::{Context, Object, SimpleObject};
use std::sync::Arc;

use super::Entity;
use crate::catalog::store::StoredEntity;
use crate::graphql::errors::GqlResultExt;
use crate::graphql::loaders;

#[derive(SimpleObject, Clone)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(SimpleObject, Clone)]
pub struct Link {
    pub url: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    #[graphql(name = "type")]
    pub link_type: Option<String>,
}

#[derive(SimpleObject, Clone)]
pub struct StatusItem {
    #[graphql(name = "type")]
    pub item_type: String,
    pub level: String,
    pub message: String,
}

#[derive(SimpleObject, Clone)]
pub struct EntityStatus {
    pub items: Vec<StatusItem>,
    /// True when any status item has level `error`.
    pub has_errors: bool,
}

#[derive(SimpleObject, Clone)]
pub struct Profile {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

/// A typed edge from this entity to another; the target is null while that entity does not exist.
pub struct Relation {
    pub rel_type: String,
    pub target_ref: String,
}

#[Object]
impl Relation {
    #[graphql(name = "type")]
    async fn rel_type(&self) -> &str {
        &self.rel_type
    }
    async fn target_ref(&self) -> &str {
        &self.target_ref
    }
    async fn target(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Entity>> {
        let loader = loaders::entities(ctx)?;
        let found: Option<Arc<StoredEntity>> =
            loader.load_one(self.target_ref.clone()).await.gql()?;
        Ok(found.map(Entity::from_stored))
    }
}
