//! Where entities come from: the `Provider` trait, the built-in providers (`file`, `url`, `git`), the
//! registry of configured sources, and [`refresh`], which applies one provider's snapshot in one
//! transaction.

pub mod error;
pub mod fetch;
pub mod file;
pub mod git;
pub mod glob;
pub mod leases;
pub mod place;
pub mod placeholders;
pub mod readiness;
pub mod scheduler;
pub mod sources;
pub mod url;
pub mod walk;

use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::catalog::ingest::{self, ApplyReport};
use crate::catalog::rules::{KindRules, SourceRules};
use crate::catalog::sources as stored;
use crate::catalog::validate::InvalidEntity;
use crate::catalog::CatalogError;
pub use error::ProviderError;
pub use file::file_location_key;
use placeholders::PlaceholderResolver;
use scheduler::Schedule;
use walk::{Batch, FileRecord, Walker};

/// Where a provider's next read starts: the commit it read (git) and what it knows about each file
/// (digest, ETag, placeholder files, targets), so unchanged files are skipped without parsing.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, FileRecord>,
    /// Digests of the documents the source's stored entities came from (loaded from the database for
    /// each read, never stored in the cursor).
    #[serde(skip)]
    pub known_docs: Arc<HashSet<String>>,
}

/// How a read ended.
#[derive(Debug)]
pub enum ReadEnd {
    /// Nothing changed since the previous cursor (e.g. the same commit); no batch was sent.
    Unchanged,
    /// The full snapshot was sent, batch by batch; `cursor` is where the next read starts.
    Snapshot { cursor: Cursor },
}

/// A source of entities. A read sends its full snapshot file by file (a file that has not changed is
/// sent as `unchanged`, meaning "keep what it provided"), and [`refresh`] applies it in one transaction:
/// added, changed and removed entities are written, unchanged ones are not.
///
/// A delta-style provider (one that learns of changes by events) fits the same shape: it would send only
/// changed files and end with a further `ReadEnd` variant that tells `refresh` not to delete what was not
/// sent; the applier already supports incomplete reads that delete nothing.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// Stable id: the key the source's status, lease and entities are stored under.
    fn key(&self) -> &str;
    /// `file`, `url` or `git`.
    fn source_type(&self) -> &'static str;
    /// What the source reads (path, glob or URL), as `locations` shows it.
    fn target(&self) -> &str;
    /// Reads the snapshot, starting from `previous`, and sends it to `out`. An `Err` means the source
    /// could not be read at all (unreachable repository): nothing it provided is removed.
    async fn read(
        &self,
        previous: Cursor,
        out: mpsc::Sender<Batch>,
    ) -> Result<ReadEnd, ProviderError>;
    /// A working copy of what the source reads, made in the empty directory `into` (a template's
    /// skeleton files come from it), and the path in it of the file its entities name `shown`; `None`
    /// for sources without one (files are read where they are; urls are single documents).
    async fn checkout(&self, _into: &Path, _shown: &str) -> Result<Option<PathBuf>, ProviderError> {
        Ok(None)
    }
}

/// Sends every file of a walk; returns the walk's file records for the next cursor.
pub(crate) async fn walk_into(
    mut walker: Walker,
    out: &mpsc::Sender<Batch>,
) -> BTreeMap<String, FileRecord> {
    while let Some(batch) = walker.next_file().await {
        if out.send(batch).await.is_err() {
            break;
        }
    }
    walker.records
}

/// Builds the provider of a location registered at run time (`registerLocation`, `catalog:register`):
/// its directory, host or remote must be one the policy allows.
pub fn location_provider(
    source_type: &str,
    target: &str,
    resolver: &PlaceholderResolver,
) -> Result<Arc<dyn Provider>, ProviderError> {
    keyed_location_provider(None, source_type, target, resolver)
}

/// Builds the provider of a configured `file` or `url` location (trusted: it may read its own directory
/// or URL; the policy's defaults include them).
pub fn configured_location(
    source_type: &str,
    target: &str,
    resolver: &PlaceholderResolver,
) -> Result<Arc<dyn Provider>, ProviderError> {
    match source_type {
        "file" => Ok(Arc::new(file::FileProvider::new(target, resolver.clone()))),
        "url" => Ok(Arc::new(url::UrlProvider::new(target, resolver.clone())?)),
        other => Err(ProviderError::Target(format!(
            "location type '{other}' is not supported (supported: file, url)"
        ))),
    }
}

/// [`location_provider`] under a stored key (a registered source keeps the key it was registered with,
/// even if its target path later resolves elsewhere).
fn keyed_location_provider(
    key: Option<&str>,
    source_type: &str,
    target: &str,
    resolver: &PlaceholderResolver,
) -> Result<Arc<dyn Provider>, ProviderError> {
    match source_type {
        "file" => {
            let mut p = file::FileProvider::registered(target, resolver.clone())?;
            if let Some(k) = key {
                p.set_key(k);
            }
            Ok(Arc::new(p))
        }
        "url" => {
            let mut p = url::UrlProvider::registered(target, resolver.clone())?;
            if let Some(k) = key {
                p.set_key(k);
            }
            Ok(Arc::new(p))
        }
        "git" => Ok(Arc::new(git::GitProvider::registered(
            target,
            resolver.clone(),
        )?)),
        other => Err(ProviderError::Target(format!(
            "location type '{other}' is not supported (supported: file, url, git)"
        ))),
    }
}

/// A configured source and how often to read it.
#[derive(Clone)]
pub struct Scheduled {
    pub provider: Arc<dyn Provider>,
    pub schedule: Schedule,
    /// The kinds it may provide (`catalog.rules`, plus a configured location's own `rules`).
    pub rules: SourceRules,
}

/// The sources of the config file, plus what is needed to build providers for registered locations.
#[derive(Clone, Default)]
pub struct Registry {
    pub configured: Vec<Scheduled>,
    pub resolver: PlaceholderResolver,
    /// Frequency of registered locations.
    pub default_schedule: Option<Schedule>,
    /// How long a source's lease outlives its holder's last heartbeat while a run is in progress
    /// (`catalog.refresh.leaseTtl`; `None`: [`scheduler::DEFAULT_LEASE_TTL`]).
    pub lease_ttl: Option<std::time::Duration>,
    /// `catalog.rules` (a registry built in code allows every kind; the server's comes from the config,
    /// where no `catalog.rules` means Backstage's default).
    pub rules: Arc<KindRules>,
}

impl Registry {
    /// The rules the source `key` reads with: a configured one's own, else those of the catalog.
    pub fn rules_for(&self, key: &str) -> SourceRules {
        self.configured
            .iter()
            .find(|s| s.provider.key() == key)
            .map(|s| s.rules.clone())
            .unwrap_or_else(|| self.rules.for_source(&[]))
    }

    /// The provider of a stored source: the configured one with that key, or one built from its type and
    /// target (registered locations).
    /// A source stored as coming from the config file but no longer configured is read as configured
    /// (its target was trusted when it was written); a registered one goes through the policy.
    pub fn provider_for(
        &self,
        key: &str,
        source_type: &str,
        target: &str,
        origin: Origin,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        if let Some(s) = self.configured.iter().find(|s| s.provider.key() == key) {
            return Ok(s.provider.clone());
        }
        match origin {
            Origin::Registered => {
                keyed_location_provider(Some(key), source_type, target, &self.resolver)
            }
            Origin::Config => configured_location(source_type, target, &self.resolver),
        }
    }

    /// How long a read of the source with `key` may take (its schedule's timeout).
    pub fn timeout_for(&self, key: &str) -> std::time::Duration {
        self.configured
            .iter()
            .find(|s| s.provider.key() == key)
            .map(|s| s.schedule.timeout)
            .or(self.default_schedule.map(|s| s.timeout))
            .unwrap_or(std::time::Duration::from_secs(300))
    }
}

/// Whether a source came from the config file or was registered at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Config,
    Registered,
}

/// The result of refreshing one source.
#[derive(Debug)]
pub struct RefreshOutcome {
    pub location_key: String,
    /// Valid entities read from changed files (stored, unchanged or conflicting).
    pub valid: usize,
    /// Files skipped because they had not changed.
    pub unchanged_files: usize,
    /// The provider reported nothing new (same commit): nothing was applied.
    pub unchanged_source: bool,
    pub invalid: Vec<InvalidEntity>,
    /// Problems that are not about one entity: unreadable files, bad YAML, refused targets.
    pub errors: Vec<String>,
    pub report: ApplyReport,
}

/// Reads a provider and applies its snapshot in one transaction. When anything could not be read or
/// was invalid, entities missing from this read are kept rather than deleted (a broken source never
/// wipes data). The first problem is recorded as the source's `lastError`.
pub async fn refresh(
    db: &DatabaseConnection,
    provider: Arc<dyn Provider>,
    origin: Origin,
    rules: &SourceRules,
) -> Result<RefreshOutcome, CatalogError> {
    refresh_fenced(db, provider, origin, rules, None).await
}

/// [`refresh`] by the holder of the source's lease: the write commits only if `fence` still holds
/// (checked in the write transaction), else nothing is written and the result is `LeaseLost`.
pub async fn refresh_fenced(
    db: &DatabaseConnection,
    provider: Arc<dyn Provider>,
    origin: Origin,
    rules: &SourceRules,
    fence: Option<&leases::Fence>,
) -> Result<RefreshOutcome, CatalogError> {
    let key = provider.key().to_string();
    let span =
        tracing::info_span!("provider_run", provider = provider.source_type(), source = %key);
    let started = std::time::Instant::now();
    let result = run(db, provider, origin, rules, key.clone(), fence)
        .instrument(span)
        .await;
    let (outcome, written) = match &result {
        Ok(o) if !o.errors.is_empty() || !o.invalid.is_empty() => (
            "failed",
            (o.report.inserted + o.report.updated + o.report.deleted) as u64,
        ),
        Ok(o) if o.unchanged_source || !o.report.changed() => ("unchanged", 0),
        Ok(o) => (
            "changed",
            (o.report.inserted + o.report.updated + o.report.deleted) as u64,
        ),
        Err(_) => ("failed", 0),
    };
    crate::metrics::get().provider_run(&key, outcome, started.elapsed(), written);
    result
}

/// One refresh, step by step: load the previous cursor, start the read, apply what it sends, then either
/// record an unchanged source or finish the snapshot (cursor, fence, write) and record its status.
async fn run(
    db: &DatabaseConnection,
    provider: Arc<dyn Provider>,
    origin: Origin,
    rules: &SourceRules,
    key: String,
    fence: Option<&leases::Fence>,
) -> Result<RefreshOutcome, CatalogError> {
    let started = std::time::Instant::now();
    let (previous_text, previous) = previous_cursor(db, &key).await?;
    let (mut reader, rx) = spawn_reader(provider.clone(), previous);
    let Apply {
        mut out,
        conflicted,
        missed,
        keys,
        parsed,
        applier,
        ..
    } = apply_batches(db, &key, rules, rx).await?;
    let end = read_end(&mut reader, &key, &mut out.errors).await;
    if applier.is_none() && matches!(end, Some(ReadEnd::Unchanged)) {
        out.unchanged_source = true;
        stored::record_unchanged(db, &key).await?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "source unchanged"
        );
        return Ok(out);
    }
    let applier = match applier {
        Some(a) => a,
        None => ingest::Applier::begin(db, &key).await?,
    };
    let complete = end.is_some() && !missed && out.errors.is_empty() && out.invalid.is_empty();
    let cursor = next_cursor(end, &applier, &conflicted, &keys, &parsed, complete)
        .filter(|c| previous_text.as_deref() != Some(c.as_str()));
    if let Some(f) = fence {
        // Dropping the applier rolls the whole snapshot back.
        if !f.holds(applier.transaction()).await? {
            tracing::warn!("lease lost during the run; nothing written");
            return Err(CatalogError::LeaseLost(key));
        }
    }
    out.report = applier
        .finish(&ingest::SourceMeta {
            source_type: provider.source_type(),
            target: provider.target(),
            registered: origin == Origin::Registered,
            complete,
            cursor,
        })
        .await?;
    stored::record_refresh(db, &key, last_error(&out)).await?;
    log_refreshed(&out, started);
    let r = &out.report;
    crate::db::analyze_after_write(db, r.inserted + r.updated + r.deleted);
    Ok(out)
}

/// The stored cursor of the source (its text, to tell later whether it changed, and parsed), with the
/// digests of the documents its stored entities came from.
async fn previous_cursor(
    db: &DatabaseConnection,
    key: &str,
) -> Result<(Option<String>, Cursor), CatalogError> {
    let previous_text = stored::cursor(db, key).await?;
    let mut previous: Cursor = previous_text
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    // The write transaction (which on SQLite holds the write lock) starts with the first batch; a
    // document skipped here but gone from the store by then makes the read incomplete (`missed`).
    previous.known_docs = Arc::new(ingest::doc_hashes(db, key).await?);
    Ok((previous_text, previous))
}

/// What a read task ends with.
type ReadResult = Result<ReadEnd, ProviderError>;

/// Starts the provider's read on its own task; its batches arrive on the returned channel.
fn spawn_reader(
    provider: Arc<dyn Provider>,
    previous: Cursor,
) -> (AbortOnDrop<ReadResult>, mpsc::Receiver<Batch>) {
    let (tx, rx) = mpsc::channel(4);
    // Aborted when this refresh is dropped (its timeout), so a hung read never outlives it.
    let reader = AbortOnDrop(tokio::spawn(
        async move { provider.read(previous, tx).await }.instrument(tracing::Span::current()),
    ));
    (reader, rx)
}

/// Applies every batch the read sends, until it ends.
async fn apply_batches(
    db: &DatabaseConnection,
    key: &str,
    rules: &SourceRules,
    mut rx: mpsc::Receiver<Batch>,
) -> Result<Apply, CatalogError> {
    let mut apply = Apply::new(key);
    // Read first: the write transaction (on SQLite, the write lock) opens only when the read has ended,
    // or once it has buffered READ_AHEAD entities (a large tree then streams into it), so a slow source
    // never holds the lock while it is read.
    let mut pending = Vec::new();
    let mut buffered = 0usize;
    while buffered < READ_AHEAD {
        let Some(batch) = rx.recv().await else { break };
        buffered += batch.entities.len().max(1);
        pending.push(batch);
    }
    apply.expected = buffered;
    for batch in pending {
        apply.batch(db, key, batch.enforce(rules)).await?;
    }
    while let Some(batch) = rx.recv().await {
        apply.batch(db, key, batch.enforce(rules)).await?;
    }
    Ok(apply)
}

/// How the read ended: `None`, with the reason added to `errors`, when it failed or stopped.
async fn read_end(
    reader: &mut AbortOnDrop<ReadResult>,
    key: &str,
    errors: &mut Vec<String>,
) -> Option<ReadEnd> {
    match (&mut reader.0).await {
        Ok(Ok(end)) => Some(end),
        Ok(Err(e)) => {
            errors.push(e.to_string());
            None
        }
        Err(e) => {
            errors.push(format!("{key}: reading stopped: {e}"));
            None
        }
    }
}

/// The cursor to store (JSON): a snapshot's, without the files that conflicted or moved, and after an
/// incomplete read also without the parsed files and the commit, so they are read in full next time.
fn next_cursor(
    end: Option<ReadEnd>,
    applier: &ingest::Applier,
    conflicted: &HashSet<String>,
    keys: &HashMap<String, String>,
    parsed: &HashSet<String>,
    complete: bool,
) -> Option<String> {
    let Some(ReadEnd::Snapshot { mut cursor }) = end else {
        return None;
    };
    let moved: HashSet<&String> = applier
        .moved_from()
        .iter()
        .filter_map(|f| keys.get(f))
        .collect();
    cursor
        .files
        .retain(|k, _| !conflicted.contains(k) && !moved.contains(k));
    if !complete {
        // Nothing was deleted, so a changed file may still have stored entities it no longer
        // provides: read it in full next time. Read the same commit again too.
        cursor.files.retain(|k, _| !parsed.contains(k));
        cursor.commit = None;
    }
    serde_json::to_string(&cursor).ok()
}

/// The source's `lastError`: the first problem of the run and how many more there were (`None`: none).
fn last_error(out: &RefreshOutcome) -> Option<String> {
    let problems = out.errors.len() + out.invalid.len() + out.report.conflicts.len();
    (problems > 0).then(|| {
        let first = out
            .errors
            .first()
            .cloned()
            .or_else(|| out.invalid.first().map(|e| e.to_string()))
            .or_else(|| out.report.conflicts.first().cloned())
            .unwrap_or_else(|| "incomplete read".into());
        match problems - 1 {
            0 => first,
            n => format!("{first} (and {n} more)"),
        }
    })
}

/// Logs what a refresh wrote, and each rejected entity, error and conflict.
fn log_refreshed(out: &RefreshOutcome, started: std::time::Instant) {
    tracing::info!(
        inserted = out.report.inserted,
        updated = out.report.updated,
        unchanged = out.report.unchanged,
        deleted = out.report.deleted,
        unchanged_files = out.unchanged_files,
        invalid = out.invalid.len(),
        errors = out.errors.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "source refreshed"
    );
    for e in &out.invalid {
        tracing::warn!("rejected entity: {e}");
    }
    for e in out.errors.iter().chain(out.report.conflicts.iter()) {
        tracing::warn!("{e}");
    }
}

/// Entities a refresh reads ahead before it opens its write transaction.
const READ_AHEAD: usize = 20_000;

/// A refresh's state while it applies batches.
struct Apply {
    out: RefreshOutcome,
    /// Files whose entities conflicted with another source (never skipped, so it stays reported).
    conflicted: HashSet<String>,
    /// A kept document was gone from the store (another refresh ran in between): delete nothing.
    missed: bool,
    /// Every file of this read: its shown name -> its cursor key; the keys of files parsed again.
    keys: HashMap<String, String>,
    parsed: HashSet<String>,
    applier: Option<ingest::Applier>,
    /// Entities read ahead before the write transaction opened (a large first load is a bulk load).
    expected: usize,
}

impl Apply {
    /// Nothing applied yet for the source with `key`.
    fn new(key: &str) -> Self {
        Self {
            out: RefreshOutcome {
                location_key: key.to_string(),
                valid: 0,
                unchanged_files: 0,
                unchanged_source: false,
                invalid: Vec::new(),
                errors: Vec::new(),
                report: ApplyReport::default(),
            },
            conflicted: HashSet::new(),
            missed: false,
            keys: HashMap::new(),
            parsed: HashSet::new(),
            applier: None,
            expected: 0,
        }
    }

    /// Applies one file's batch (opening the write transaction with the first).
    async fn batch(
        &mut self,
        db: &DatabaseConnection,
        key: &str,
        batch: Batch,
    ) -> Result<(), CatalogError> {
        self.keys.insert(batch.file.clone(), batch.key.clone());
        if !batch.unchanged {
            self.parsed.insert(batch.key.clone());
        }
        if self.applier.is_none() {
            self.applier = Some(ingest::Applier::begin_sized(db, key, self.expected).await?);
        }
        let Some(a) = self.applier.as_mut() else {
            return Ok(());
        };
        for doc in &batch.kept_docs {
            self.missed |= !a.keep_doc(doc);
        }
        if batch.unchanged {
            self.out.unchanged_files += 1;
            a.keep_file(&batch.file);
        } else {
            self.out.valid += batch.entities.len();
            if a.add(&batch.file, &batch.entities).await? > 0 {
                self.conflicted.insert(batch.key.clone());
            }
        }
        self.out.invalid.extend(batch.invalid);
        self.out.errors.extend(batch.errors);
        Ok(())
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads the file location `target` now (a config source).
pub async fn refresh_file_location(
    db: &DatabaseConnection,
    target: &str,
    resolver: &PlaceholderResolver,
) -> Result<RefreshOutcome, CatalogError> {
    let provider = Arc::new(file::FileProvider::new(target, resolver.clone()));
    refresh(db, provider, Origin::Config, &SourceRules::allow_all()).await
}
