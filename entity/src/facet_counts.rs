//! `facet_counts`: how many entities of a kind have each value of a facet field, kept by every write.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "facet_counts")]
pub struct Model {
    /// The counted field (`c:<column>`, `s:<search key>` or `d:<document path>`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: String,
    /// The entities' kind, lowercase (as `entities.kind`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: String,
    /// How many entities of `kind` have `value` (rows at zero are deleted).
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
