//! Walking a location tree: read each file or URL once, parse its documents, resolve placeholders,
//! validate, and follow `kind: Location` targets (relative to their file, cycle-safe, depth-limited, never
//! outside the provider's root). Files unchanged since the last read are skipped without parsing.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use super::error::ProviderError;
use super::fetch::Fetched;
use super::place::{digest, Place};
use super::placeholders::{Deps, PlaceholderResolver};
use crate::catalog::model::{
    parse_document_within, split_documents, Entity, SourcePos, YamlError, MANAGED_BY_LOCATION,
    MANAGED_BY_ORIGIN_LOCATION,
};
use crate::catalog::rules::SourceRules;
use crate::catalog::validate::{validate, FieldError, InvalidEntity};
use std::sync::Arc;

/// How many `kind: Location` hops a tree may have below its root.
pub const MAX_DEPTH: usize = 10;

/// What a provider's read knows about one file, kept in the source's cursor so the next read can skip
/// the file when neither it nor the local files its placeholders read have changed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileRecord {
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Local files read by placeholders -> their hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deps: BTreeMap<String, String>,
    /// Location refs this file's `kind: Location` entities point at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follows: Vec<String>,
}

/// The entities of one file, or the news that the file is unchanged.
#[derive(Debug, Default)]
pub struct Batch {
    /// The place's location ref (the key of its record in the cursor).
    pub key: String,
    /// The file as entities record it (their `source_file`).
    pub file: String,
    pub entities: Vec<Entity>,
    pub invalid: Vec<InvalidEntity>,
    /// Problems that are not about one entity: unreadable files, bad YAML, refused targets.
    pub errors: Vec<String>,
    /// The file is as it was at the last read: keep what it provided.
    pub unchanged: bool,
    /// Digests of documents that are as they were at the last read (not parsed again): keep their entities.
    pub kept_docs: Vec<String>,
}

impl Batch {
    /// The batch without the entities `rules` refuse from its file; they become invalid entities.
    pub fn enforce(mut self, rules: &SourceRules) -> Self {
        let (allowed, refused): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entities)
            .into_iter()
            .partition(|e| rules.allows(e, &self.key));
        self.entities = allowed;
        self.invalid
            .extend(refused.into_iter().map(|e| InvalidEntity {
                entity: e.entity_ref.to_string(),
                errors: vec![FieldError {
                    field: "kind".into(),
                    message: SourceRules::refusal(&e),
                }],
                pos: e.source,
            }));
        self
    }
}

/// Where a tree may read and how its entities are labelled.
#[derive(Clone)]
pub struct Scope {
    /// Local files (targets and placeholders) must lie inside this directory; `None` allows no local file.
    pub root: Option<PathBuf>,
    /// `managed-by-origin-location` of every entity.
    pub origin: String,
    /// Shows local paths under the first path as the second string plus the relative path (git checkouts).
    pub label: Option<(PathBuf, String)>,
}

impl Scope {
    fn shown(&self, place: &Place) -> String {
        match (place, &self.label) {
            (Place::File(p), Some((root, prefix))) => match p.strip_prefix(root) {
                Ok(rel) => format!("{prefix}{}", rel.display()),
                Err(_) => p.display().to_string(),
            },
            (Place::File(p), None) => p.display().to_string(),
            (Place::Url(u), _) => crate::confine::mask_userinfo(u.as_str()),
        }
    }

    fn shown_ref(&self, place: &Place) -> String {
        match (place, &self.label) {
            (Place::File(_), Some(_)) => format!("url:{}", self.shown(place)),
            (Place::Url(_), _) => format!("url:{}", self.shown(place)),
            _ => place.location_ref(),
        }
    }
}

/// Reads a tree one file at a time, so callers can store each file's entities before reading the next.
pub struct Walker {
    scope: Scope,
    resolver: PlaceholderResolver,
    queue: VecDeque<(Place, usize)>,
    visited: HashSet<Place>,
    /// ref -> where it was first defined, to report duplicates.
    seen: HashMap<String, String>,
    previous: BTreeMap<String, FileRecord>,
    /// Digests of the documents the source's stored entities were parsed from.
    known_docs: Arc<HashSet<String>>,
    /// Records of the files read cleanly in this walk (the next cursor).
    pub records: BTreeMap<String, FileRecord>,
}

impl Walker {
    /// A walk from `roots`. `previous` is the source's cursor: its file records (to skip unchanged
    /// files) and the digests of stored documents (to skip unchanged documents of changed files).
    pub fn new(
        roots: Vec<Place>,
        scope: Scope,
        resolver: PlaceholderResolver,
        previous: super::Cursor,
    ) -> Self {
        Self {
            scope,
            resolver,
            queue: roots.into_iter().map(|p| (p, 0)).collect(),
            visited: HashSet::new(),
            seen: HashMap::new(),
            previous: previous.files,
            known_docs: previous.known_docs,
            records: BTreeMap::new(),
        }
    }

    /// Reads the next file of the tree, or `None` when every reachable file has been read.
    pub async fn next_file(&mut self) -> Option<Batch> {
        let (place, written, depth) = self.next_place()?;
        let mut out = self.batch_for(&place, &written);
        let key = out.key.clone();
        let previous = self.previous.get(&key).cloned();
        let Some((text, etag)) = self.read_text(&place, previous.as_ref(), &mut out).await else {
            return Some(out);
        };
        let hash = text.as_deref().map(digest);
        if let Some(rec) = previous {
            let same = hash.as_ref().is_none_or(|h| *h == rec.hash);
            if same && self.deps_unchanged(&rec).await {
                self.keep_unchanged(key, rec, depth, &mut out);
                return Some(out);
            }
        }
        let Some(text) = text else {
            // Not modified, but a placeholder's file changed: read it again in full.
            self.previous.remove(&key);
            self.visited.remove(&place);
            self.queue.push_front((place, depth));
            return Some(out);
        };
        let mut deps = Deps::default();
        let mut follows = Vec::new();
        self.parse(&place, &text, depth, &mut out, &mut deps, &mut follows)
            .await;
        // Only a file that read cleanly is recorded: an entity whose placeholder failed (say, a file not
        // generated yet) must be read again.
        if read_cleanly(&out, &deps) {
            let record = FileRecord {
                hash: hash.unwrap_or_default(),
                etag,
                deps: deps.files,
                follows,
            };
            self.records.insert(key, record);
        }
        Some(out)
    }

    /// Pops the next place not visited yet: as resolved (a canonical path), as written, and its depth.
    fn next_place(&mut self) -> Option<(Place, Place, usize)> {
        loop {
            let (written, depth) = self.queue.pop_front()?;
            let p = match &written {
                // A path that cannot be resolved stays as given; reading it then fails (see read_text).
                Place::File(f) => Place::File(std::fs::canonicalize(f).unwrap_or(f.clone())),
                u => u.clone(),
            };
            if self.visited.insert(p.clone()) {
                return Some((p, written, depth));
            }
        }
    }

    /// An empty batch for `place`, under its location ref and the name it is shown by.
    fn batch_for(&self, place: &Place, written: &Place) -> Batch {
        // A path that resolves outside the root is shown as written: never where a symlink points.
        let inside = match (place, self.scope.root.as_deref()) {
            (Place::File(p), Some(root)) => p.starts_with(root),
            _ => true,
        };
        Batch {
            key: place.location_ref(),
            file: self.scope.shown(if inside { place } else { written }),
            ..Batch::default()
        }
    }

    /// The place's text (`None`: not modified since its recorded ETag) and ETag, read through the
    /// policy; `None`, with the reason added to `out.errors`, when it cannot be read.
    async fn read_text(
        &self,
        place: &Place,
        previous: Option<&FileRecord>,
        out: &mut Batch,
    ) -> Option<(Option<String>, Option<String>)> {
        let shown = out.file.clone();
        match place {
            Place::File(path) => {
                let Some(root) = self.scope.root.as_deref() else {
                    out.errors.push(format!(
                        "{shown}: refused: a local file in a remote location"
                    ));
                    return None;
                };
                match self.resolver.policy().read_file(path, root, &shown).await {
                    Ok((_, t)) => Some((Some(t), None)),
                    Err(e) => {
                        out.errors.push(e.to_string());
                        None
                    }
                }
            }
            Place::Url(url) => {
                let etag = previous.and_then(|r| r.etag.as_deref());
                match self.resolver.fetcher().get(url, etag).await {
                    Ok(Fetched::NotModified) if etag.is_some() => {
                        Some((None, etag.map(str::to_string)))
                    }
                    Ok(Fetched::NotModified) => {
                        out.errors.push(format!(
                            "{shown}: cannot read: 304 Not Modified to an unconditional request"
                        ));
                        None
                    }
                    Ok(Fetched::Body { text, etag }) => Some((Some(text), etag)),
                    Err(e) => {
                        out.errors.push(format!("{shown}: cannot read: {e}"));
                        None
                    }
                }
            }
        }
    }

    /// Marks the batch unchanged: keeps the file's record and queues the targets it pointed at.
    fn keep_unchanged(&mut self, key: String, rec: FileRecord, depth: usize, out: &mut Batch) {
        out.unchanged = true;
        for target in &rec.follows {
            if let Some(p) = Place::parse_ref(target) {
                self.queue.push_back((p, depth + 1));
            }
        }
        self.records.insert(key, rec);
    }

    /// Parses a file's documents into `out`: placeholders resolved, validated, duplicates skipped,
    /// labelled, and the targets of its `kind: Location` entities queued.
    async fn parse(
        &mut self,
        place: &Place,
        text: &str,
        depth: usize,
        out: &mut Batch,
        deps: &mut Deps,
        follows: &mut Vec<String>,
    ) {
        let managed_by = self.scope.shown_ref(place);
        for doc in self.split_and_parse(&out.file, text).await {
            let Some(mut entity) = self.entity_of(doc, place, out, deps).await else {
                continue;
            };
            annotate(&mut entity, &managed_by, &self.scope.origin);
            if entity.kind().eq_ignore_ascii_case("location") {
                self.follow(place, &entity, depth, out, deps, follows).await;
            }
            out.entities.push(entity);
        }
    }

    /// Splits and parses the file's documents on a blocking thread (parsing is CPU work: off the async
    /// runtime).
    async fn split_and_parse(&self, file: &str, text: &str) -> Vec<Doc> {
        let (known, max_depth) = (
            self.known_docs.clone(),
            self.resolver.policy().max_yaml_depth(),
        );
        let (file, text) = (file.to_string(), text.to_string());
        tokio::task::spawn_blocking(move || parse_file(&file, &text, &known, max_depth))
            .await
            .unwrap_or_default()
    }

    /// The valid, first-defined entity of one document, its placeholders resolved and its digest set;
    /// `None` when the document is kept, empty, unparsable, invalid or a duplicate (noted in `out`).
    async fn entity_of(
        &mut self,
        doc: Doc,
        place: &Place,
        out: &mut Batch,
        deps: &mut Deps,
    ) -> Option<Entity> {
        let (doc_hash, parsed) = match doc {
            Doc::Kept(hash) => {
                out.kept_docs.push(hash);
                return None;
            }
            Doc::Parsed(hash, parsed) => (hash, parsed),
        };
        let (pos, mut value) = match parsed {
            Ok(d) => d,
            Err(e) => {
                out.errors.push(e.to_string());
                return None;
            }
        };
        // A null document (`~`, or `---` with nothing after it) holds no entity, as in Backstage.
        if value.is_null() {
            return None;
        }
        let status = self
            .resolver
            .resolve(&mut value, place, self.scope.root.as_deref(), deps)
            .await;
        let mut entity = match validate(pos, value, status) {
            Ok(e) => e,
            Err(invalid) => {
                out.invalid.push(invalid);
                return None;
            }
        };
        let key = entity.entity_ref.to_string();
        if let Some(first) = self.seen.get(&key) {
            out.errors.push(format!(
                "{}: {key} is defined again (first at {first}); ignored",
                entity.source
            ));
            return None;
        }
        self.seen.insert(key, entity.source.to_string());
        entity.doc_hash = Some(doc_hash);
        Some(entity)
    }

    /// Queues the targets of a `kind: Location` entity (globs expanded; too deep, refused or bad targets
    /// noted in `out`) and lists the followed ones in `follows`.
    async fn follow(
        &mut self,
        place: &Place,
        entity: &Entity,
        depth: usize,
        out: &mut Batch,
        deps: &mut Deps,
        follows: &mut Vec<String>,
    ) {
        for target in location_targets(entity) {
            match place.join(entity.spec_str("type"), target) {
                Ok(_) if depth + 1 > MAX_DEPTH => out.errors.push(format!(
                    "{}: {}: target '{target}' is deeper than {MAX_DEPTH} locations; not followed",
                    entity.source, entity.entity_ref
                )),
                Ok(Place::File(p)) if super::glob::is_glob(target) => {
                    // What a glob matches can change while this file does not: read it again.
                    deps.remote = true;
                    match self.expand_target(&p, target).await {
                        Ok(files) => self
                            .queue
                            .extend(files.into_iter().map(|f| (Place::File(f), depth + 1))),
                        Err(e) => out
                            .errors
                            .push(format!("{}: {}: {e}", entity.source, entity.entity_ref)),
                    }
                }
                Ok(p) => {
                    follows.push(p.location_ref());
                    self.queue.push_back((p, depth + 1));
                }
                Err(e) => out
                    .errors
                    .push(format!("{}: {}: {e}", entity.source, entity.entity_ref)),
            }
        }
    }
}

impl Walker {
    /// The files a glob Location target (`./plugins/**/catalog-info.yaml`, already joined to its file's
    /// directory) matches, as Backstage expands them: the glob's literal prefix must lie inside the root.
    async fn expand_target(
        &self,
        pattern: &Path,
        target: &str,
    ) -> Result<Vec<PathBuf>, ProviderError> {
        let text = pattern.display().to_string();
        let root = super::glob::root_of(&text);
        let Some(within) = self.scope.root.as_deref().filter(|r| root.starts_with(r)) else {
            return Err(crate::confine::Refused::OutsideLocation(target.to_string()).into());
        };
        let files =
            super::glob::expand(&super::glob::pattern_below(&text, &root), &root, target).await?;
        Ok(files
            .into_iter()
            .filter(|f| f.starts_with(within))
            .collect())
    }

    /// Whether every local file the record's placeholders read is as it was.
    async fn deps_unchanged(&self, rec: &FileRecord) -> bool {
        let Some(root) = self.scope.root.as_deref() else {
            return rec.deps.is_empty();
        };
        for (path, hash) in &rec.deps {
            let read = self
                .resolver
                .policy()
                .read_file(Path::new(path), root, path);
            match read.await {
                Ok((_, t)) if digest(&t) == *hash => {}
                _ => return false,
            }
        }
        true
    }
}

/// One document of a file: kept unparsed (unchanged since the last read), or parsed.
enum Doc {
    Kept(String),
    Parsed(String, Result<(SourcePos, Value), YamlError>),
}

/// Whether a parsed file read cleanly enough to be recorded: no error, no invalid entity, no remote or
/// glob dependency, no placeholder that failed.
fn read_cleanly(out: &Batch, deps: &Deps) -> bool {
    let failed_placeholder = out
        .entities
        .iter()
        .any(|e| e.status.iter().any(|s| s.level == "error"));
    out.errors.is_empty() && out.invalid.is_empty() && !deps.remote && !failed_placeholder
}

/// Splits and parses a file's documents (documents stored before and unchanged are not parsed again).
fn parse_file(file: &str, text: &str, known: &HashSet<String>, max_depth: usize) -> Vec<Doc> {
    split_documents(text)
        .into_iter()
        .map(|doc| {
            let hash = doc_digest(file, &doc.text);
            if skippable(&doc.text) && known.contains(&hash) {
                Doc::Kept(hash)
            } else {
                let parsed = parse_document_within(file, &doc, max_depth);
                Doc::Parsed(hash, parsed)
            }
        })
        .collect()
}

fn location_targets(loc: &Entity) -> Vec<&str> {
    let mut targets: Vec<&str> = loc.spec_str("target").into_iter().collect();
    if let Some(Value::Array(items)) = loc.spec().get("targets") {
        targets.extend(items.iter().filter_map(Value::as_str));
    }
    targets
}

/// Sets Backstage's `managed-by-location` and `managed-by-origin-location` annotations. They always name
/// where the entity was really read (a file cannot claim another origin: the scaffolder trusts them).
fn annotate(entity: &mut Entity, location: &str, origin: &str) {
    let Some(meta) = entity
        .body
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(map) = annotations.as_object_mut() {
        map.insert(
            MANAGED_BY_LOCATION.into(),
            Value::String(location.to_string()),
        );
        map.insert(
            MANAGED_BY_ORIGIN_LOCATION.into(),
            Value::String(origin.to_string()),
        );
    }
}

/// Digest of one document of `file` (the file is part of it: the entity records where it came from).
fn doc_digest(file: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(file.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    format!("{:x}", h.finalize())[..32].to_string()
}

/// A document can be kept unparsed when its entity depends on nothing but its text: no placeholders
/// (which read other files) and no `Location` (whose targets must be followed). The test is
/// conservative: any `$` or the word "location" anywhere means the document is parsed.
fn skippable(text: &str) -> bool {
    !text.contains('$')
        && !text
            .as_bytes()
            .windows(8)
            .any(|w| w.eq_ignore_ascii_case(b"location"))
}
