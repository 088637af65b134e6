//! The scaffolder: `kind: Template` entities whose tasks run as jobs on workers in every replica, with an
//! event log in the database, cancellation, and recovery of tasks whose worker died.

pub mod actions;
mod checkout;
pub mod expr;
pub mod jsonata;
pub mod lifecycle;
pub mod run;
pub mod secrets;
pub mod sinks;
pub mod tasks;
pub mod template;
pub mod worker;

use std::fmt;

/// One value that failed its parameter schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer into the values (`/name`), or the missing property's name for `required`.
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffolderError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("invalid values: {}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    InvalidValues(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    /// The caller may not read or change this task, or lacks a scope its template's actions need.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// A failure of the server's own (the cause is logged, never sent).
    #[error("{0}")]
    Internal(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// A task's lifecycle: `Open → Processing → Completed | Failed | Cancelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Open,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Open,
            Self::Processing,
            Self::Completed,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step's state within a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Open,
    Processing,
    Completed,
    Failed,
    Skipped,
    Cancelled,
}

/// A step's state as stored in `tasks.steps`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepState {
    pub id: String,
    pub name: String,
    pub action: String,
    pub status: StepStatus,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// A completed step's output, kept so a resumed task can skip it (see `tasks::recover_stale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Map<String, serde_json::Value>>,
}

impl StepState {
    /// The state of a step not started yet.
    pub fn open(step: &template::StepSpec) -> Self {
        Self {
            id: step.id.clone(),
            name: step.name.clone(),
            action: step.action.clone(),
            status: StepStatus::Open,
            started_at: None,
            finished_at: None,
            output: None,
        }
    }
}

/// Stored step states (JSON) made open again; with `keep_completed`, completed steps stay as they are.
pub fn reopen(steps_json: &str, keep_completed: bool) -> String {
    let mut states: Vec<StepState> = serde_json::from_str(steps_json).unwrap_or_default();
    for s in &mut states {
        if !(keep_completed && s.status == StepStatus::Completed) {
            s.status = StepStatus::Open;
            s.started_at = None;
            s.finished_at = None;
            s.output = None;
        }
    }
    serde_json::to_string(&states).unwrap_or_else(|_| "[]".into())
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
