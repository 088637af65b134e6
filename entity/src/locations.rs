//! `locations`: the sources entities were read from (config locations, later registered ones).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "locations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub location_key: String,
    pub location_type: String,
    #[sea_orm(column_type = "Text")]
    pub target: String,
    pub origin: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub updated_at: i64,
    pub last_refresh_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub next_refresh_at: Option<i64>,
    pub entity_count: i32,
    /// The provider's position after its last complete read (ETag, commit, file digests).
    #[sea_orm(column_type = "Text", nullable)]
    pub cursor: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
