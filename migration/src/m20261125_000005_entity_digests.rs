//! Two digests per entity: of the YAML document it was parsed from (with its file), so a changed file's
//! unchanged documents are recognised without parsing them again; and of its relation and search rows, so
//! an update that leaves those alone rewrites only the entity row. Also the two `managed-by` annotations as
//! columns: every entity has them, and filtering on them through `entity_search` rows would double that
//! table's size.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entities {
    Table,
    DocHash,
    DerivedHash,
    ManagedByLocation,
    ManagedByOrigin,
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
        for col in [Entities::ManagedByLocation, Entities::ManagedByOrigin] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Entities::Table)
                        .add_column(ColumnDef::new(col).text().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Entities::ManagedByOrigin,
            Entities::ManagedByLocation,
            Entities::DerivedHash,
            Entities::DocHash,
        ] {
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
