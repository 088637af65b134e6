//! Where entities come from. This issue has static file locations; scheduled and remote sources plug in here.

pub mod file;
pub mod placeholders;

use sea_orm::DatabaseConnection;
use std::path::Path;

use crate::catalog::ingest::{self, ApplyReport};
use crate::catalog::CatalogError;
use file::LocationRead;
use placeholders::PlaceholderResolver;

/// The result of refreshing one location.
#[derive(Debug)]
pub struct RefreshOutcome {
    pub location_key: String,
    pub read: LocationRead,
    pub report: ApplyReport,
}

/// Reads a file location tree and applies it. When anything in the tree could not be read or was
/// invalid, entities missing from this read are kept rather than deleted (a broken file never wipes data).
pub async fn refresh_file_location(
    db: &DatabaseConnection,
    target: &str,
    resolver: &PlaceholderResolver,
) -> Result<RefreshOutcome, CatalogError> {
    let span = tracing::info_span!("provider_run", provider = "file", target = %target);
    let _enter = span.enter();
    let path = std::fs::canonicalize(target).unwrap_or_else(|_| Path::new(target).to_path_buf());
    let location_key = format!("file:{}", path.display());
    drop(_enter);
    let read = file::read_file_location(&path, resolver).await;
    let complete = read.errors.is_empty() && read.invalid.is_empty();
    let report = ingest::apply(db, &location_key, "file", target, &read.entities, complete).await?;
    tracing::info!(
        target = %target,
        inserted = report.inserted,
        updated = report.updated,
        unchanged = report.unchanged,
        deleted = report.deleted,
        invalid = read.invalid.len(),
        errors = read.errors.len(),
        "location refreshed"
    );
    for e in &read.invalid {
        tracing::warn!("rejected entity: {e}");
    }
    for e in read.errors.iter().chain(report.conflicts.iter()) {
        tracing::warn!("{e}");
    }
    Ok(RefreshOutcome {
        location_key,
        read,
        report,
    })
}
