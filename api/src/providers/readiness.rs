//! Readiness: the configured sources not yet read since this process started, so `/readyz` answers
//! "not ready" until the catalog is loaded. A source the store already held from an earlier run counts as
//! loaded (the server serves that catalog while it refreshes).

use sea_orm::ConnectionTrait;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::catalog::{sources, CatalogError};

/// The sources a process waits for before it is ready; once none is left it stays ready.
#[derive(Debug, Default)]
pub struct Readiness {
    /// Epoch ms of the start: a read recorded at or after it counts (by any replica).
    started_ms: i64,
    pending: Mutex<Vec<String>>,
    ready: AtomicBool,
}

impl Readiness {
    /// Nothing to wait for (no configured sources: tests and tools).
    pub fn ready() -> Self {
        Self {
            ready: AtomicBool::new(true),
            ..Self::default()
        }
    }

    /// Waits for the sources `keys` except those the store already holds (their snapshot was committed
    /// by an earlier run). Call before the refresh loops start.
    pub async fn at_start(
        db: &impl ConnectionTrait,
        keys: Vec<String>,
    ) -> Result<Self, CatalogError> {
        let started_ms = chrono::Utc::now().timestamp_millis();
        let stored: HashSet<String> = sources::list(db)
            .await?
            .into_iter()
            .map(|s| s.key)
            .collect();
        let pending: Vec<String> = keys.into_iter().filter(|k| !stored.contains(k)).collect();
        Ok(Self {
            started_ms,
            ready: AtomicBool::new(pending.is_empty()),
            pending: Mutex::new(pending),
        })
    }

    /// The sources still waited for (empty: ready).
    pub async fn pending(&self, db: &impl ConnectionTrait) -> Result<Vec<String>, CatalogError> {
        if self.ready.load(Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        let read: HashSet<String> = sources::list(db)
            .await?
            .into_iter()
            .filter(|s| s.last_refresh_at.is_some_and(|t| t >= self.started_ms))
            .map(|s| s.key)
            .collect();
        let Ok(mut pending) = self.pending.lock() else {
            return Ok(Vec::new());
        };
        pending.retain(|k| !read.contains(k));
        if pending.is_empty() {
            self.ready.store(true, Ordering::SeqCst);
        }
        Ok(pending.clone())
    }
}
