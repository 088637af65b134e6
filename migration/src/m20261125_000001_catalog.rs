//! Catalog tables: entities, their derived relations, their search rows, and locations.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entities {
    Table,
    Id,
    EntityRef,
    Kind,
    Namespace,
    Name,
    Title,
    Description,
    OwnerRef,
    Lifecycle,
    SpecType,
    SystemRef,
    SearchText,
    Body,
    Errors,
    HasErrors,
    LocationKey,
    Hash,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Relations {
    Table,
    Id,
    OriginRef,
    SourceRef,
    RelType,
    TargetRef,
}

#[derive(DeriveIden)]
enum EntitySearch {
    Table,
    Id,
    EntityRef,
    Key,
    Value,
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
    LocationKey,
    LocationType,
    Target,
    Origin,
    LastError,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Entities::Table)
                    .col(
                        ColumnDef::new(Entities::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Entities::EntityRef).string().not_null())
                    .col(ColumnDef::new(Entities::Kind).string().not_null())
                    .col(ColumnDef::new(Entities::Namespace).string().not_null())
                    .col(ColumnDef::new(Entities::Name).string().not_null())
                    .col(ColumnDef::new(Entities::Title).string().null())
                    .col(ColumnDef::new(Entities::Description).text().null())
                    .col(ColumnDef::new(Entities::OwnerRef).string().null())
                    .col(ColumnDef::new(Entities::Lifecycle).string().null())
                    .col(ColumnDef::new(Entities::SpecType).string().null())
                    .col(ColumnDef::new(Entities::SystemRef).string().null())
                    .col(ColumnDef::new(Entities::SearchText).text().not_null())
                    .col(ColumnDef::new(Entities::Body).text().not_null())
                    .col(ColumnDef::new(Entities::Errors).text().null())
                    .col(
                        ColumnDef::new(Entities::HasErrors)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Entities::LocationKey).string().not_null())
                    .col(ColumnDef::new(Entities::Hash).string().not_null())
                    .col(ColumnDef::new(Entities::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let entity_indexes: [(&str, Vec<Entities>, bool); 7] = [
            ("ux_entities_ref", vec![Entities::EntityRef], true),
            (
                "ix_entities_kind_ref",
                vec![Entities::Kind, Entities::EntityRef],
                false,
            ),
            (
                "ix_entities_name_ref",
                vec![Entities::Name, Entities::EntityRef],
                false,
            ),
            (
                "ix_entities_owner",
                vec![Entities::OwnerRef, Entities::EntityRef],
                false,
            ),
            (
                "ix_entities_system",
                vec![Entities::SystemRef, Entities::EntityRef],
                false,
            ),
            ("ix_entities_location", vec![Entities::LocationKey], false),
            (
                "ix_entities_kind_type",
                vec![Entities::Kind, Entities::SpecType, Entities::EntityRef],
                false,
            ),
        ];
        for (name, cols, unique) in entity_indexes {
            create_index(manager, Entities::Table, name, cols, unique).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Relations::Table)
                    .col(
                        ColumnDef::new(Relations::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Relations::OriginRef).string().not_null())
                    .col(ColumnDef::new(Relations::SourceRef).string().not_null())
                    .col(ColumnDef::new(Relations::RelType).string().not_null())
                    .col(ColumnDef::new(Relations::TargetRef).string().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_relations_source",
                vec![Relations::SourceRef, Relations::RelType],
            ),
            ("ix_relations_origin", vec![Relations::OriginRef]),
        ] {
            create_index(manager, Relations::Table, name, cols, false).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(EntitySearch::Table)
                    .col(
                        ColumnDef::new(EntitySearch::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(EntitySearch::EntityRef).string().not_null())
                    .col(ColumnDef::new(EntitySearch::Key).string().not_null())
                    .col(ColumnDef::new(EntitySearch::Value).string().null())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_entity_search_key_value",
                vec![
                    EntitySearch::Key,
                    EntitySearch::Value,
                    EntitySearch::EntityRef,
                ],
            ),
            ("ix_entity_search_entity", vec![EntitySearch::EntityRef]),
        ] {
            create_index(manager, EntitySearch::Table, name, cols, false).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Locations::Table)
                    .col(
                        ColumnDef::new(Locations::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Locations::LocationKey).string().not_null())
                    .col(ColumnDef::new(Locations::LocationType).string().not_null())
                    .col(ColumnDef::new(Locations::Target).text().not_null())
                    .col(ColumnDef::new(Locations::Origin).string().not_null())
                    .col(ColumnDef::new(Locations::LastError).text().null())
                    .col(
                        ColumnDef::new(Locations::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_locations_key")
                    .table(Locations::Table)
                    .col(Locations::LocationKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Table::drop().table(EntitySearch::Table).to_owned(),
            Table::drop().table(Relations::Table).to_owned(),
            Table::drop().table(Locations::Table).to_owned(),
            Table::drop().table(Entities::Table).to_owned(),
        ] {
            manager.drop_table(t).await?;
        }
        Ok(())
    }
}

async fn create_index<T, C>(
    manager: &SchemaManager<'_>,
    table: T,
    name: &str,
    cols: Vec<C>,
    unique: bool,
) -> Result<(), DbErr>
where
    T: IntoTableRef,
    C: IntoIndexColumn,
{
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(c);
    }
    if unique {
        idx.unique();
    }
    manager.create_index(idx.to_owned()).await
}
