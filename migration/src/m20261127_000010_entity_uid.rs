//! `entities.uid`: Backstage's `metadata.uid`, stable for the life of an entity (derived from its ref by
//! the server, filled for existing rows at start-up), indexed for `GET /api/catalog/entities/by-uid/{uid}`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entities {
    Table,
    Uid,
}

const INDEX: &str = "ix_entities_uid";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Entities::Table)
                    .add_column(ColumnDef::new(Entities::Uid).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Entities::Table)
                    .col(Entities::Uid)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Entities::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Entities::Table)
                    .drop_column(Entities::Uid)
                    .to_owned(),
            )
            .await
    }
}
