//! Builds the schema. Building needs no database, so the SDL can be printed and snapshot-tested offline.

use async_graphql::{EmptyMutation, EmptySubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use super::query::QueryRoot;
use super::types::Node;

pub type GreenroomSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 16;

/// The schema's shape, without data.
pub fn builder() -> SchemaBuilder<QueryRoot, EmptyMutation, EmptySubscription> {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .register_output_type::<Node>()
        .limit_depth(MAX_DEPTH)
}

/// The SDL the server serves (what `greenroom schema` prints and `schema.graphql` holds).
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The schema with its data (the pool). Loaders are per request: see [`prepare`].
pub fn build(db: DatabaseConnection) -> GreenroomSchema {
    builder().data(db).finish()
}

/// Readies a request for execution: attaches request-scoped loaders over `db`.
pub fn prepare(request: async_graphql::Request, db: &DatabaseConnection) -> async_graphql::Request {
    super::loaders::attach(request, db)
}
