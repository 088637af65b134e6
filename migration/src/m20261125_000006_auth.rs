//! Authentication state shared by replicas: revoked token ids, and the audit log of mutations.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RevokedTokens {
    Table,
    Jti,
    RevokedBy,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Subject,
    Operation,
    Target,
    Outcome,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RevokedTokens::Table)
                    .col(
                        ColumnDef::new(RevokedTokens::Jti)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RevokedTokens::RevokedBy).string().not_null())
                    .col(
                        ColumnDef::new(RevokedTokens::RevokedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(
                        ColumnDef::new(AuditLog::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditLog::At).big_integer().not_null())
                    .col(ColumnDef::new(AuditLog::Subject).string().not_null())
                    .col(ColumnDef::new(AuditLog::Operation).string().not_null())
                    .col(ColumnDef::new(AuditLog::Target).text().null())
                    .col(ColumnDef::new(AuditLog::Outcome).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_subject")
                    .table(AuditLog::Table)
                    .col(AuditLog::Subject)
                    .col(AuditLog::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RevokedTokens::Table).to_owned())
            .await
    }
}
