//! An index on `(kind, name, entity_ref)`: a listing of one kind ordered by name (Backstage's REST
//! `by-query` default, `orderField=metadata.name`) reads its page from the index instead of sorting
//! every entity of the kind.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_entities_kind_name_ref")
                    .table(Alias::new("entities"))
                    .col(Alias::new("kind"))
                    .col(Alias::new("name"))
                    .col(Alias::new("entity_ref"))
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_entities_kind_name_ref")
                    .table(Alias::new("entities"))
                    .to_owned(),
            )
            .await
    }
}
