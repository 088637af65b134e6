//! Applying a location's snapshot of entities: one transaction, unchanged entities write nothing.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QuerySelect,
};
use std::collections::{HashMap, HashSet};

use super::bulk::BulkLoad;
use super::facet_counts::{delete_entity_rows, delete_search_rows, Deltas};
use super::model::Entity;
use super::rows::{content_hash, entity_row, Prepared};
use super::CatalogError;
use entity::{entities, entity_search, locations, relations};

/// What one apply changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    /// Entities skipped because another location already provides the same ref.
    pub conflicts: Vec<String>,
}

impl ApplyReport {
    pub fn changed(&self) -> bool {
        self.inserted + self.updated + self.deleted > 0
    }
}

/// Rows per multi-row INSERT, kept under SQLite's and PostgreSQL's bind-parameter limits.
const ENTITY_CHUNK: usize = 400;
const ROW_CHUNK: usize = 2000;
/// Values per `IN (...)` list.
const IN_CHUNK: usize = 1000;

/// What [`Applier::finish`] records about the source.
pub struct SourceMeta<'a> {
    pub source_type: &'a str,
    pub target: &'a str,
    /// Registered at run time: if it was unregistered meanwhile, nothing is written.
    pub registered: bool,
    /// The read saw everything: entities it did not see are deleted.
    pub complete: bool,
    /// The provider's new cursor, when it changed.
    pub cursor: Option<String>,
}

/// Applies a location's entities batch by batch inside one transaction, so a large location never has to
/// be held in memory whole: new entities are inserted, changed ones replaced, unchanged ones skipped, and on
/// [`finish`](Applier::finish) the ones no longer present are deleted (only when the read was complete: a
/// partial read deletes nothing). Relations and search rows follow their entity. Dropping an unfinished
/// applier rolls everything back.
pub struct Applier {
    txn: DatabaseTransaction,
    location_key: String,
    /// ref -> (id, content hash, relation/search rows hash) of what this location stored before.
    existing: HashMap<String, (i32, String, Option<String>)>,
    /// ref -> the file it was stored from.
    stored_file: HashMap<String, String>,
    /// Files whose entities moved to another file in this read (their records must not be trusted).
    moved_from: HashSet<String>,
    /// source file -> refs stored from it.
    by_file: HashMap<String, Vec<String>>,
    /// document digest -> the ref stored from it.
    by_doc: HashMap<String, String>,
    seen: HashSet<String>,
    report: ApplyReport,
    /// Facet count changes of this transaction, applied before it commits.
    facets: Deltas,
    /// A first load into the empty catalog (PostgreSQL): its indexes are built before the commit.
    bulk: Option<BulkLoad>,
    now: i64,
}

impl Applier {
    pub async fn begin(db: &DatabaseConnection, location_key: &str) -> Result<Self, CatalogError> {
        Self::begin_sized(db, location_key, 0).await
    }

    /// [`begin`](Self::begin) for a read that has `expected` entities ready to apply: on PostgreSQL, a
    /// large first load into an empty catalog is written as a [`BulkLoad`].
    pub async fn begin_sized(
        db: &DatabaseConnection,
        location_key: &str,
        expected: usize,
    ) -> Result<Self, CatalogError> {
        let txn = crate::db::begin_write(db).await?;
        crate::db::widen_cache(&txn).await?;
        let bulk = BulkLoad::begin(&txn, expected).await?;
        let rows = entities::Entity::find()
            .select_only()
            .columns([
                entities::Column::EntityRef,
                entities::Column::Id,
                entities::Column::Hash,
                entities::Column::SourceFile,
                entities::Column::DocHash,
                entities::Column::DerivedHash,
            ])
            .filter(entities::Column::LocationKey.eq(location_key))
            .into_tuple::<(
                String,
                i32,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            )>()
            .all(&txn)
            .await?;
        let mut existing = HashMap::with_capacity(rows.len());
        let mut by_file: HashMap<String, Vec<String>> = HashMap::new();
        let mut by_doc = HashMap::with_capacity(rows.len());
        let mut stored_file = HashMap::with_capacity(rows.len());
        for (r, id, h, file, doc, derived) in rows {
            if let Some(f) = file {
                by_file.entry(f.clone()).or_default().push(r.clone());
                stored_file.insert(r.clone(), f);
            }
            if let Some(d) = doc {
                by_doc.insert(d, r.clone());
            }
            existing.insert(r, (id, h, derived));
        }
        Ok(Self {
            txn,
            location_key: location_key.to_string(),
            existing,
            stored_file,
            moved_from: HashSet::new(),
            by_file,
            by_doc,
            seen: HashSet::new(),
            report: ApplyReport::default(),
            facets: Deltas::default(),
            bulk,
            now: chrono::Utc::now().timestamp_millis(),
        })
    }

    /// Keeps what `file` provided at the last read (the file has not changed).
    pub fn keep_file(&mut self, file: &str) {
        for r in self.by_file.get(file).into_iter().flatten() {
            if self.seen.insert(r.clone()) {
                self.report.unchanged += 1;
            }
        }
    }

    /// Keeps the entity stored from the document with digest `doc` (unchanged, not parsed again).
    /// False when no stored entity has that digest.
    pub fn keep_doc(&mut self, doc: &str) -> bool {
        let Some(r) = self.by_doc.get(doc) else {
            return false;
        };
        if self.seen.insert(r.clone()) {
            self.report.unchanged += 1;
        }
        true
    }

    /// Applies the entities read from `file`; returns how many were refused as conflicts.
    pub async fn add(&mut self, file: &str, batch: &[Entity]) -> Result<usize, CatalogError> {
        let conflicts_before = self.report.conflicts.len();
        // Refs this location does not own yet may belong to another location: those are conflicts (a
        // bulk load holds the catalog, which was empty: no other location stores anything).
        let foreign: Vec<String> = batch
            .iter()
            .map(|e| e.entity_ref.to_string())
            .filter(|r| !self.existing.contains_key(r) && !self.seen.contains(r))
            .filter(|_| self.bulk.is_none())
            .collect();
        // ref -> the location that already provides it
        let mut taken: HashMap<String, String> = HashMap::new();
        for chunk in foreign.chunks(IN_CHUNK) {
            let rows: Vec<(String, String)> = entities::Entity::find()
                .select_only()
                .column(entities::Column::EntityRef)
                .column(entities::Column::LocationKey)
                .filter(entities::Column::EntityRef.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&self.txn)
                .await?;
            taken.extend(rows);
        }
        let mut replaced_ids: Vec<i32> = Vec::new();
        let mut replaced_refs: Vec<String> = Vec::new();
        let mut to_write: Vec<Prepared<'_>> = Vec::new();
        for e in batch {
            let r = e.entity_ref.to_string();
            if let Some(owner) = taken.get(&r) {
                self.report.conflicts.push(format!(
                    "{}: CONFLICT: {r} is already provided by {owner}; ignored for {}",
                    e.source, self.location_key
                ));
                continue;
            }
            if !self.seen.insert(r.clone()) {
                continue;
            }
            let body = e.body.to_string();
            let hash = content_hash(&body, e, file);
            match self.existing.get(&r) {
                Some((_, h, _)) if *h == hash => self.report.unchanged += 1,
                Some((id, _, derived)) => {
                    self.report.updated += 1;
                    if let Some(old) = self.stored_file.get(&r).filter(|f| *f != file) {
                        self.moved_from.insert(old.clone());
                    }
                    replaced_ids.push(*id);
                    let p = Prepared::new(e, body, hash, derived.as_deref());
                    // Relation and search rows are keyed by ref: they stay when they did not change.
                    if p.write_rows {
                        replaced_refs.push(r);
                    }
                    to_write.push(p);
                }
                None => {
                    self.report.inserted += 1;
                    to_write.push(Prepared::new(e, body, hash, None));
                }
            }
        }
        let facets = &mut self.facets;
        delete_entities(&self.txn, &replaced_ids, &replaced_refs, facets).await?;
        let at = (self.location_key.as_str(), file, self.now);
        insert_entities(&self.txn, &to_write, at, facets).await?;
        Ok(self.report.conflicts.len() - conflicts_before)
    }

    /// Files whose entities were claimed by another file of the source in this read (a moved or
    /// duplicated entity): their cursor records must not be trusted next time.
    pub fn moved_from(&self) -> &HashSet<String> {
        &self.moved_from
    }

    /// Deletes the location row first (on PostgreSQL this waits for a refresh of it that is committing),
    /// then every entity of the location, with their relation and search rows, selected by location key
    /// rather than by what this applier saw; then commits.
    pub async fn remove_location(mut self) -> Result<usize, CatalogError> {
        locations::Entity::delete_many()
            .filter(locations::Column::LocationKey.eq(&self.location_key))
            .exec(&self.txn)
            .await?;
        let rows: Vec<(i32, String)> = entities::Entity::find()
            .select_only()
            .column(entities::Column::Id)
            .column(entities::Column::EntityRef)
            .filter(entities::Column::LocationKey.eq(&self.location_key))
            .into_tuple()
            .all(&self.txn)
            .await?;
        let (ids, refs): (Vec<i32>, Vec<String>) = rows.into_iter().unzip();
        delete_entities(&self.txn, &ids, &refs, &mut self.facets).await?;
        self.facets.flush(&self.txn).await?;
        crate::pause::point(crate::pause::UNREGISTER_WRITE, || {
            format!("location={} entities={}", self.location_key, refs.len())
        })
        .await;
        crate::db::narrow_cache(&self.txn).await?;
        self.txn.commit().await?;
        if !refs.is_empty() {
            super::cache::invalidate_all();
        }
        Ok(refs.len())
    }

    /// The write transaction (for checks that must commit or roll back with the snapshot).
    pub fn transaction(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The bulk load this applier writes, if it is one.
    pub fn bulk(&self) -> Option<&BulkLoad> {
        self.bulk.as_ref()
    }

    /// Deletes what the location no longer has (when the read was complete), records the location and
    /// its cursor, and commits. A registered location that was unregistered meanwhile is not re-created:
    /// everything rolls back and the result is `NotFound`.
    pub async fn finish(mut self, meta: &SourceMeta<'_>) -> Result<ApplyReport, CatalogError> {
        if let Some(bulk) = self.bulk.take() {
            bulk.finish(&self.txn).await?;
        }
        if meta.complete {
            let mut ids = Vec::new();
            let mut refs = Vec::new();
            for (r, (id, _, _)) in &self.existing {
                if !self.seen.contains(r) {
                    ids.push(*id);
                    refs.push(r.clone());
                }
            }
            self.report.deleted = ids.len();
            delete_entities(&self.txn, &ids, &refs, &mut self.facets).await?;
        }
        // Locks the row on PostgreSQL (a no-op on SQLite, where writers are serialized anyway), so an
        // unregister cannot slip in between this check and the commit.
        let exists = locations::Entity::find()
            .filter(locations::Column::LocationKey.eq(&self.location_key))
            .lock_exclusive()
            .one(&self.txn)
            .await?
            .is_some();
        if !exists && meta.registered {
            return Err(CatalogError::NotFound(format!(
                "location {} was unregistered",
                self.location_key
            )));
        }
        self.facets.flush(&self.txn).await?;
        if !exists {
            insert_location(&self.txn, &self.location_key, meta, self.now).await?;
        } else if let Some(cursor) = &meta.cursor {
            locations::Entity::update_many()
                .col_expr(locations::Column::Cursor, Expr::value(cursor.clone()))
                .filter(locations::Column::LocationKey.eq(&self.location_key))
                .exec(&self.txn)
                .await?;
        }
        if self.report.changed() {
            let r = &self.report;
            let detail = || {
                format!(
                    "location={} inserted={} updated={} deleted={}",
                    self.location_key, r.inserted, r.updated, r.deleted
                )
            };
            crate::pause::point(crate::pause::CATALOG_WRITE, detail).await;
        }
        crate::db::narrow_cache(&self.txn).await?;
        self.txn.commit().await?;
        if self.report.changed() {
            super::cache::invalidate_all();
        }
        Ok(self.report)
    }
}

/// Digests of the documents a source's stored entities were parsed from (read before a refresh, so its
/// write transaction starts only when there is something to apply).
pub async fn doc_hashes(
    db: &impl ConnectionTrait,
    location_key: &str,
) -> Result<HashSet<String>, CatalogError> {
    let rows: Vec<Option<String>> = entities::Entity::find()
        .select_only()
        .column(entities::Column::DocHash)
        .filter(entities::Column::LocationKey.eq(location_key))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().flatten().collect())
}

/// Deletes the entity rows `ids` and the relation and search rows of `refs`, counting what the facets
/// lose in `facets`.
async fn delete_entities(
    txn: &impl ConnectionTrait,
    ids: &[i32],
    refs: &[String],
    facets: &mut Deltas,
) -> Result<(), CatalogError> {
    for chunk in refs.chunks(IN_CHUNK) {
        relations::Entity::delete_many()
            .filter(relations::Column::OriginRef.is_in(chunk.iter().cloned()))
            .exec(txn)
            .await?;
        delete_search_rows(txn, chunk, facets).await?;
    }
    for chunk in ids.chunks(IN_CHUNK) {
        delete_entity_rows(txn, chunk, facets).await?;
    }
    Ok(())
}

/// Inserts `items` read from `file` of a location, `at` = (location key, file, time), counting what the
/// facets gain in `facets`.
async fn insert_entities(
    txn: &impl ConnectionTrait,
    items: &[Prepared<'_>],
    at: (&str, &str, i64),
    facets: &mut Deltas,
) -> Result<(), CatalogError> {
    let (location_key, file, now) = at;
    let mut rels = Vec::new();
    let mut search = Vec::new();
    for chunk in items.chunks(ENTITY_CHUNK) {
        let mut rows = Vec::with_capacity(chunk.len());
        for p in chunk {
            let row = entity_row(p, location_key, file, now);
            facets.inserted(&row, &p.entity.body);
            rows.push(row);
            if !p.write_rows {
                continue;
            }
            let r = p.entity.entity_ref.to_string();
            for edge in &p.relations {
                rels.push(relations::ActiveModel {
                    id: NotSet,
                    origin_ref: Set(r.clone()),
                    source_ref: Set(edge.source.clone()),
                    rel_type: Set(edge.rel_type.to_string()),
                    target_ref: Set(edge.target.clone()),
                });
            }
            for (key, value) in &p.search {
                facets.search(1, &r, key, value.as_deref());
                search.push(entity_search::ActiveModel {
                    id: NotSet,
                    entity_ref: Set(r.clone()),
                    key: Set(key.clone()),
                    value: Set(value.clone()),
                });
            }
        }
        entities::Entity::insert_many(rows).exec(txn).await?;
        if rels.len() >= ROW_CHUNK {
            flush(txn, &mut rels).await?;
        }
        if search.len() >= ROW_CHUNK {
            flush(txn, &mut search).await?;
        }
    }
    flush(txn, &mut rels).await?;
    flush(txn, &mut search).await?;
    Ok(())
}

/// Inserts and empties `rows`, at most `ROW_CHUNK` rows per statement.
async fn flush<A>(txn: &impl ConnectionTrait, rows: &mut Vec<A>) -> Result<(), CatalogError>
where
    A: ActiveModelTrait + Send,
{
    while !rows.is_empty() {
        let n = rows.len().min(ROW_CHUNK);
        let batch: Vec<A> = rows.drain(..n).collect();
        A::Entity::insert_many(batch).exec(txn).await?;
    }
    Ok(())
}

async fn insert_location(
    txn: &impl ConnectionTrait,
    key: &str,
    meta: &SourceMeta<'_>,
    now: i64,
) -> Result<(), CatalogError> {
    locations::Entity::insert(locations::ActiveModel {
        id: NotSet,
        location_key: Set(key.to_string()),
        location_type: Set(meta.source_type.to_string()),
        target: Set(meta.target.to_string()),
        origin: Set("config".to_string()),
        last_error: Set(None),
        updated_at: Set(now),
        last_refresh_at: NotSet,
        last_success_at: NotSet,
        next_refresh_at: NotSet,
        entity_count: NotSet,
        cursor: Set(meta.cursor.clone()),
    })
    .exec(txn)
    .await?;
    Ok(())
}

/// The ref of the stored entity with `uid`.
pub async fn ref_of_uid(
    db: &impl ConnectionTrait,
    uid: &str,
) -> Result<Option<String>, CatalogError> {
    Ok(entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .filter(entities::Column::Uid.eq(uid.trim().to_ascii_lowercase()))
        .into_tuple()
        .one(db)
        .await?)
}

/// Deletes one stored entity with its relation and search rows (false when it was already gone).
pub async fn remove_entity(
    db: &DatabaseConnection,
    entity_ref: &str,
) -> Result<bool, CatalogError> {
    let txn = crate::db::begin_write(db).await?;
    let id: Option<i32> = entities::Entity::find()
        .select_only()
        .column(entities::Column::Id)
        .filter(entities::Column::EntityRef.eq(entity_ref))
        .into_tuple()
        .one(&txn)
        .await?;
    let Some(id) = id else { return Ok(false) };
    let mut facets = Deltas::default();
    delete_entities(&txn, &[id], &[entity_ref.to_string()], &mut facets).await?;
    facets.flush(&txn).await?;
    txn.commit().await?;
    super::cache::invalidate_all();
    Ok(true)
}
