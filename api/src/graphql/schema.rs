//! Builds the schema. Building needs no database, so the SDL can be printed and snapshot-tested offline.

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

use crate::catalog::cache::EntityCache;

use super::query::QueryRoot;
use super::sources::MutationRoot;
use super::types::Node;

pub type GreenroomSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 16;

/// The schema's shape, without data.
pub fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .register_output_type::<Node>()
        .register_output_type::<EntityImplementsNode>()
        .limit_depth(MAX_DEPTH)
}

/// The SDL the server serves (what `greenroom schema` prints and `schema.graphql` holds).
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The schema with its data (the pool and the read cache). Loaders are per request: see [`prepare`].
pub fn build(db: DatabaseConnection, cache: Arc<EntityCache>) -> GreenroomSchema {
    build_with(db, cache, Arc::default())
}

/// [`build`] with the configured sources, so `refreshLocation` reads git providers with their settings.
pub fn build_with(
    db: DatabaseConnection,
    cache: Arc<EntityCache>,
    sources: Arc<crate::providers::Registry>,
) -> GreenroomSchema {
    builder().data(db).data(cache).data(sources).finish()
}

/// Readies a request for execution: attaches request-scoped loaders over `db` and `cache`.
pub fn prepare(
    request: async_graphql::Request,
    db: &DatabaseConnection,
    cache: &Arc<EntityCache>,
) -> async_graphql::Request {
    super::loaders::attach(request, db, cache)
}

/// Declares `interface Entity implements Node` in the registry (async-graphql's `Interface` derive has no
/// `implements`). Registering this marker only adds the edge; it is never resolved.
struct EntityImplementsNode;

impl async_graphql::OutputType for EntityImplementsNode {
    fn type_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Entity")
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        registry.add_implements("Entity", "Node");
        "Entity".to_string()
    }

    async fn resolve(
        &self,
        _ctx: &async_graphql::ContextSelectionSet<'_>,
        _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    ) -> async_graphql::ServerResult<async_graphql::Value> {
        Ok(async_graphql::Value::Null)
    }
}
