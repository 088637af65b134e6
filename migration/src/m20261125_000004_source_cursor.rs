//! Incremental reads: a provider's cursor on its location (ETag, git commit, per-file digests) and the
//! file each entity was read from, so an unchanged source or file is skipped without parsing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Locations {
    Table,
    Cursor,
}

#[derive(DeriveIden)]
enum Entities {
    Table,
    SourceFile,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Locations::Table)
                    .add_column(ColumnDef::new(Locations::Cursor).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Entities::Table)
                    .add_column(ColumnDef::new(Entities::SourceFile).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Entities::Table)
                    .drop_column(Entities::SourceFile)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Locations::Table)
                    .drop_column(Locations::Cursor)
                    .to_owned(),
            )
            .await
    }
}
