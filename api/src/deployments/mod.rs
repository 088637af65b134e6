//! Deployments: what CI deployed where. Statuses and their legal transitions, environments, and the
//! service that records them (`service`).

pub mod dora;
pub mod events;
pub mod service;
pub mod writer;

use std::fmt;

/// A deployment's status. `Pending` and `InProgress` are running; the rest are finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
    RolledBack,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::InProgress,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
        Status::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::InProgress => "IN_PROGRESS",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
            Status::RolledBack => "ROLLED_BACK",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Status::Pending | Status::InProgress)
    }

    /// Legal moves: running → later running or finished; a success may be rolled back; finished
    /// deployments never run again. Staying in the same status is allowed (a retried update).
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        self == next
            || matches!(
                (self, next),
                (Pending, InProgress | Succeeded | Failed | Cancelled)
                    | (InProgress, Succeeded | Failed | Cancelled)
                    | (Succeeded, RolledBack)
            )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Catalog(#[from] crate::catalog::CatalogError),
}

/// The environments deployments may name, in order (dev < staging < production).
#[derive(Clone, Debug, Default)]
pub struct Environments {
    pub configured: Vec<String>,
    /// Accept environments that are neither configured nor `kind: Environment` entities.
    pub allow_unknown: bool,
}

impl Environments {
    /// Sort key of an environment: configured ones in their order, then the others by name.
    pub fn order(&self, name: &str) -> (usize, String) {
        let i = self
            .configured
            .iter()
            .position(|e| e.eq_ignore_ascii_case(name))
            .unwrap_or(usize::MAX);
        (i, name.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn transitions() {
        assert!(Pending.can_become(InProgress));
        assert!(InProgress.can_become(Succeeded));
        assert!(Succeeded.can_become(RolledBack));
        assert!(Succeeded.can_become(Succeeded));
        assert!(!Succeeded.can_become(InProgress));
        assert!(!Failed.can_become(Succeeded));
        assert!(!InProgress.can_become(Pending));
        assert!(!RolledBack.can_become(Succeeded));
    }
}
