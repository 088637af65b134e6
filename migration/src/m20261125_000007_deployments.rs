//! Deployments recorded by CI: what version of which entity went to which environment, and how it ended.
//! A unique (subject, idempotency key) makes retries from concurrent writers create exactly one row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Id,
    EntityRef,
    Environment,
    Version,
    Status,
    CommitSha,
    CommitTime,
    Url,
    Description,
    IdempotencyKey,
    RecordedBy,
    StartedAt,
    FinishedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Deployments as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(
                        ColumnDef::new(D::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(D::EntityRef).string().not_null())
                    .col(ColumnDef::new(D::Environment).string().not_null())
                    .col(ColumnDef::new(D::Version).string().not_null())
                    .col(ColumnDef::new(D::Status).string().not_null())
                    .col(ColumnDef::new(D::CommitSha).string().null())
                    .col(ColumnDef::new(D::CommitTime).big_integer().null())
                    .col(ColumnDef::new(D::Url).text().null())
                    .col(ColumnDef::new(D::Description).text().null())
                    .col(ColumnDef::new(D::IdempotencyKey).string().null())
                    .col(ColumnDef::new(D::RecordedBy).string().not_null())
                    .col(ColumnDef::new(D::StartedAt).big_integer().null())
                    .col(ColumnDef::new(D::FinishedAt).big_integer().null())
                    .col(ColumnDef::new(D::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(D::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_deployments_idempotency",
                vec![D::RecordedBy, D::IdempotencyKey],
                true,
            ),
            (
                "ix_deployments_entity",
                vec![D::EntityRef, D::Environment, D::Id],
                false,
            ),
            (
                "ix_deployments_environment",
                vec![D::Environment, D::Id],
                false,
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(D::Table);
            for c in cols {
                idx.col(c);
            }
            if unique {
                idx.unique();
            }
            manager.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Deployments::Table).to_owned())
            .await
    }
}
