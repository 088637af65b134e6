//! `relations`: directed, typed edges derived from entity specs; both directions are stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "relations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The entity whose spec produced this edge; its re-ingest replaces the edge.
    pub origin_ref: String,
    pub source_ref: String,
    pub rel_type: String,
    pub target_ref: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
