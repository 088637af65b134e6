//! Scaffolder tasks and their event log. A task is claimed by one worker at a time (`claimed_by`, with
//! `heartbeat_at` telling others it is alive); events are ordered by their id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    TemplateRef,
    Spec,
    Values,
    Status,
    CreatedBy,
    CreatedAt,
    StartedAt,
    FinishedAt,
    ClaimedBy,
    HeartbeatAt,
    CancelRequested,
    Steps,
    Output,
    Attempts,
}

#[derive(DeriveIden)]
enum TaskEvents {
    Table,
    Id,
    TaskId,
    At,
    StepId,
    Kind,
    Message,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Tasks as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(ColumnDef::new(T::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(T::TemplateRef).string().not_null())
                    // The template's spec as it was when the task was created, so a later change to the
                    // template does not change a running task.
                    .col(ColumnDef::new(T::Spec).text().not_null())
                    .col(ColumnDef::new(T::Values).text().not_null())
                    .col(ColumnDef::new(T::Status).string().not_null())
                    .col(ColumnDef::new(T::CreatedBy).string().not_null())
                    .col(ColumnDef::new(T::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(T::StartedAt).big_integer().null())
                    .col(ColumnDef::new(T::FinishedAt).big_integer().null())
                    .col(ColumnDef::new(T::ClaimedBy).string().null())
                    .col(ColumnDef::new(T::HeartbeatAt).big_integer().null())
                    .col(
                        ColumnDef::new(T::CancelRequested)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(T::Steps).text().not_null())
                    .col(ColumnDef::new(T::Output).text().null())
                    .col(ColumnDef::new(T::Attempts).integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_tasks_status_created", vec![T::Status, T::CreatedAt]),
            ("ix_tasks_created_by", vec![T::CreatedBy, T::CreatedAt]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(T::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }
        use TaskEvents as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(
                        ColumnDef::new(E::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(E::TaskId).string().not_null())
                    .col(ColumnDef::new(E::At).big_integer().not_null())
                    .col(ColumnDef::new(E::StepId).string().null())
                    .col(ColumnDef::new(E::Kind).string().not_null())
                    .col(ColumnDef::new(E::Message).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_task_events_task")
                    .table(E::Table)
                    .col(E::TaskId)
                    .col(E::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TaskEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await
    }
}
