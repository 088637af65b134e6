//! Small value types shared by every entity: key/values, links, relations, status, profiles.

use async_graphql::{Context, Object, SimpleObject};
use std::sync::Arc;

use super::Entity;
use crate::catalog::store::StoredEntity;
use crate::graphql::errors::GqlResultExt;
use crate::graphql::loaders;

/// One key/value pair of an entity's labels or annotations.
#[derive(SimpleObject, Clone)]
pub struct KeyValue {
    /// The key, e.g. `backstage.io/techdocs-ref`.
    pub key: String,
    /// The value; a non-string value is given as JSON text.
    pub value: String,
}

/// An external link from an entity's `metadata.links`.
#[derive(SimpleObject, Clone)]
pub struct Link {
    /// The link target URL.
    pub url: String,
    /// Display text for the link.
    pub title: Option<String>,
    /// Icon name to show next to the link.
    pub icon: Option<String>,
    /// Optional category for grouping links, e.g. `runbook` or `dashboard`.
    #[graphql(name = "type")]
    pub link_type: Option<String>,
}

/// One status item attached to an entity (Backstage's `status.items`).
#[derive(SimpleObject, Clone)]
pub struct StatusItem {
    /// The kind of status item, e.g. `backstage.io/catalog-processing`.
    #[graphql(name = "type")]
    pub item_type: String,
    /// Severity, e.g. `error`.
    pub level: String,
    /// Human-readable explanation.
    pub message: String,
}

/// The status of an entity: problems found while reading it, such as processing errors.
#[derive(SimpleObject, Clone)]
pub struct EntityStatus {
    /// All status items of the entity (empty when it has none).
    pub items: Vec<StatusItem>,
    /// True when any status item has level `error`.
    pub has_errors: bool,
}

/// Contact details of a Group or User, from `spec.profile`.
#[derive(SimpleObject, Clone)]
pub struct Profile {
    /// Name to display instead of the entity name.
    pub display_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// URL of an avatar image.
    pub picture: Option<String>,
}

/// A typed edge from this entity to another; the target is null while that entity does not exist.
pub struct Relation {
    pub rel_type: String,
    pub target_ref: String,
}

/// A typed edge from this entity to another; the target is null while that entity does not exist.
#[Object]
impl Relation {
    /// The relation type, e.g. `ownedBy`, `dependsOn` or `partOf`.
    #[graphql(name = "type")]
    async fn rel_type(&self) -> &str {
        &self.rel_type
    }
    /// Canonical ref `kind:namespace/name` of the target entity.
    async fn target_ref(&self) -> &str {
        &self.target_ref
    }
    /// The target entity, or null when it is not in the catalog.
    async fn target(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Entity>> {
        let loader = loaders::entities(ctx)?;
        let found: Option<Arc<StoredEntity>> =
            loader.load_one(self.target_ref.clone()).await.gql()?;
        Ok(found.map(Entity::from_stored))
    }
}
