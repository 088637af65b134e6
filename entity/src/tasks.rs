//! `tasks`: one row per scaffolder task (a template run).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub template_ref: String,
    /// The template's spec (JSON) when the task was created.
    #[sea_orm(column_type = "Text")]
    pub spec: String,
    /// The parameter values (JSON).
    #[sea_orm(column_type = "Text")]
    pub values: String,
    pub status: String,
    pub created_by: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub claimed_by: Option<String>,
    pub heartbeat_at: Option<i64>,
    pub cancel_requested: bool,
    /// Step states (JSON list).
    #[sea_orm(column_type = "Text")]
    pub steps: String,
    /// `spec.output` rendered at the end (JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub output: Option<String>,
    pub attempts: i32,
    /// The server process holding this task's secrets; only its workers claim it.
    pub pinned_to: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
