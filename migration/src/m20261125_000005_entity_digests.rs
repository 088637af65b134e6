//! Two digests per entity: of the YAML document it was parsed from (with its file), so a changed file's
//! unchanged documents are recognised without parsing them again; and of its relation and search rows, so
//! an update that leaves those alone rewrites only the entity row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entities {
    Table,
    DocHash,
    DerivedHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Entities::DocHash, Entities::DerivedHash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Entities::Table)
                        .add_column(ColumnDef::new(col).string().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Entities::DerivedHash, Entities::DocHash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Entities::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
