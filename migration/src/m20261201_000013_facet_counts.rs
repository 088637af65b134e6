//! `facet_counts (field, kind, value, n)`: facet counts kept by the catalog's write transactions, so a
//! facet over all entities or over some kinds reads a few rows instead of scanning `entities`. A
//! database that already holds entities gets a marker row; the server rebuilds the counts from the
//! stored entities once at start-up (the counted document fields need the entity bodies parsed).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FacetCounts {
    Table,
    Field,
    Kind,
    Value,
    N,
}

/// The marker's field: "rebuild every count from the entities".
pub const REBUILD_MARKER: &str = "!rebuild";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FacetCounts::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(FacetCounts::Field).string().not_null())
                    .col(ColumnDef::new(FacetCounts::Kind).string().not_null())
                    .col(ColumnDef::new(FacetCounts::Value).string().not_null())
                    .col(ColumnDef::new(FacetCounts::N).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(FacetCounts::Field)
                            .col(FacetCounts::Kind)
                            .col(FacetCounts::Value),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let marker = Query::insert()
            .into_table(FacetCounts::Table)
            .columns([
                FacetCounts::Field,
                FacetCounts::Kind,
                FacetCounts::Value,
                FacetCounts::N,
            ])
            .select_from(
                Query::select()
                    .expr(Expr::val(REBUILD_MARKER))
                    .expr(Expr::val(""))
                    .expr(Expr::val(""))
                    .expr(Expr::val(1))
                    .and_where(Expr::exists(
                        Query::select()
                            .expr(Expr::val(1))
                            .from(Alias::new("entities"))
                            .to_owned(),
                    ))
                    .to_owned(),
            )
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        db.execute(&marker).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FacetCounts::Table).to_owned())
            .await
    }
}
