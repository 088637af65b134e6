//! Refresh status on locations: when a source was last read, last read cleanly, will next be read, and how
//! many entities it provides.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Locations {
    Table,
    LastRefreshAt,
    LastSuccessAt,
    NextRefreshAt,
    EntityCount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column per statement.
        for col in [
            ColumnDef::new(Locations::LastRefreshAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Locations::LastSuccessAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Locations::NextRefreshAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Locations::EntityCount)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Locations::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Locations::LastRefreshAt,
            Locations::LastSuccessAt,
            Locations::NextRefreshAt,
            Locations::EntityCount,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Locations::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
