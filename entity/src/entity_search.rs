//! `entity_search`: key/value rows (tags, labels, annotations) for indexed filtering and facets.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entity_search")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub entity_ref: String,
    pub key: String,
    pub value: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::entities::Entity",
        from = "Column::EntityRef",
        to = "super::entities::Column::EntityRef"
    )]
    Entity,
}

impl ActiveModelBehavior for ActiveModel {}
