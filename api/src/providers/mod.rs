//! Where entities come from. This issue has static file locations; scheduled and remote sources plug in here.

pub mod file;
pub mod leases;
pub mod placeholders;
pub mod scheduler;

use sea_orm::DatabaseConnection;
use std::path::Path;

use crate::catalog::ingest::{self, ApplyReport};
use crate::catalog::validate::InvalidEntity;
use crate::catalog::CatalogError;
use file::FileWalker;
use placeholders::PlaceholderResolver;
use tracing::Instrument;

/// The result of refreshing one location.
#[derive(Debug)]
pub struct RefreshOutcome {
    pub location_key: String,
    /// Valid entities read (stored, unchanged or conflicting).
    pub valid: usize,
    pub invalid: Vec<InvalidEntity>,
    /// Problems that are not about one entity: unreadable files, bad YAML, unsupported targets.
    pub errors: Vec<String>,
    pub report: ApplyReport,
}

/// The key a file location is stored under: `file:` and its canonical path.
pub fn file_location_key(target: &str) -> String {
    let path = std::fs::canonicalize(target).unwrap_or_else(|_| Path::new(target).to_path_buf());
    format!("file:{}", path.display())
}

/// Reads a file location tree file by file, storing each file's entities as it goes, in one transaction.
/// When anything in the tree could not be read or was invalid, entities missing from this read are kept
/// rather than deleted (a broken file never wipes data).
pub async fn refresh_file_location(
    db: &DatabaseConnection,
    target: &str,
    resolver: &PlaceholderResolver,
) -> Result<RefreshOutcome, CatalogError> {
    let span = tracing::info_span!("provider_run", provider = "file", target = %target);
    let started = std::time::Instant::now();
    let path = std::fs::canonicalize(target).unwrap_or_else(|_| Path::new(target).to_path_buf());
    let location_key = file_location_key(target);
    let mut out = RefreshOutcome {
        location_key,
        valid: 0,
        invalid: Vec::new(),
        errors: Vec::new(),
        report: ApplyReport::default(),
    };
    let mut applier = ingest::Applier::begin(db, &out.location_key)
        .instrument(span.clone())
        .await?;
    // Files are read and parsed in their own task while the previous file's rows are written.
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let (walk_path, walk_resolver) = (path.clone(), resolver.clone());
    let reader = tokio::spawn(
        async move {
            let mut walker = FileWalker::new(&walk_path, &walk_resolver);
            while let Some(file) = walker.next_file().await {
                if tx.send(file).await.is_err() {
                    break;
                }
            }
        }
        .instrument(span.clone()),
    );
    while let Some(file) = rx.recv().await {
        out.valid += file.entities.len();
        applier.add(&file.entities).instrument(span.clone()).await?;
        out.invalid.extend(file.invalid);
        out.errors.extend(file.errors);
    }
    if let Err(e) = reader.await {
        out.errors.push(format!("{target}: reading stopped: {e}"));
    }
    let complete = out.errors.is_empty() && out.invalid.is_empty();
    out.report = applier
        .finish("file", target, complete)
        .instrument(span.clone())
        .await?;
    // Conflicts do not make a read incomplete (nothing is deleted for them) but are reported on the source.
    let problems = out.errors.len() + out.invalid.len() + out.report.conflicts.len();
    let error = (problems > 0).then(|| {
        let first = out
            .errors
            .first()
            .cloned()
            .or_else(|| out.invalid.first().map(|e| e.to_string()))
            .or_else(|| out.report.conflicts.first().cloned());
        let more = problems - 1;
        match (first, more) {
            (Some(f), 0) => f,
            (Some(f), n) => format!("{f} (and {n} more)"),
            (None, _) => "incomplete read".to_string(),
        }
    });
    crate::catalog::sources::record_refresh(db, &out.location_key, error).await?;
    let _enter = span.enter();
    tracing::info!(
        inserted = out.report.inserted,
        updated = out.report.updated,
        unchanged = out.report.unchanged,
        deleted = out.report.deleted,
        invalid = out.invalid.len(),
        errors = out.errors.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "location refreshed"
    );
    for e in &out.invalid {
        tracing::warn!("rejected entity: {e}");
    }
    for e in out.errors.iter().chain(out.report.conflicts.iter()) {
        tracing::warn!("{e}");
    }
    Ok(out)
}
