//! `entities`: one row per catalog entity, with denormalised columns for filtering.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub owner_ref: Option<String>,
    pub lifecycle: Option<String>,
    pub spec_type: Option<String>,
    pub system_ref: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub search_text: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub errors: Option<String>,
    pub has_errors: bool,
    pub location_key: String,
    pub hash: String,
    pub updated_at: i64,
    /// The file or URL the entity was read from.
    #[sea_orm(column_type = "Text", nullable)]
    pub source_file: Option<String>,
    /// Digest of the YAML document (and its file) the entity was parsed from.
    pub doc_hash: Option<String>,
    /// Digest of the entity's relation and search rows.
    pub derived_hash: Option<String>,
    /// The `backstage.io/managed-by-location` annotation.
    #[sea_orm(column_type = "Text", nullable)]
    pub managed_by_location: Option<String>,
    /// The `backstage.io/managed-by-origin-location` annotation.
    #[sea_orm(column_type = "Text", nullable)]
    pub managed_by_origin: Option<String>,
    /// Backstage's `metadata.uid`: derived from the ref, so it survives updates (see `catalog::uid`).
    pub uid: Option<String>,
    /// The words of the name, title, tags and description as word search indexes them (see
    /// `catalog::words`); NULL for rows stored before word search, until the server fills them in.
    #[sea_orm(column_type = "Text", nullable)]
    pub words_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub words_title: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub words_tags: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub words_description: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
