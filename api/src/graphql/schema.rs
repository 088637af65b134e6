//! Builds the schema. Building needs no database, so the SDL can be printed and snapshot-tested offline.

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptyMutation, EmptySubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use super::loaders::{EntityLoader, RelationLoader};
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

/// The schema with its data: the pool and one DataLoader per key type.
pub fn build(db: DatabaseConnection) -> GreenroomSchema {
    let entities =
        DataLoader::new(EntityLoader { db: db.clone() }, tokio::spawn).max_batch_size(2000);
    let relations =
        DataLoader::new(RelationLoader { db: db.clone() }, tokio::spawn).max_batch_size(2000);
    builder().data(db).data(entities).data(relations).finish()
}
