//! A process-wide read cache of entities by ref and of relations by (source, type). Every ingest that commits a change clears it (exact for a
//! single server); entries also expire after a TTL, which bounds staleness when other replicas write to the
//! same PostgreSQL database.

use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::store::{self, StoredEntity, StoredRelation};
use super::CatalogError;

/// Bumped after every committed change to the catalog in this process.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current change generation (caches compare it to know they are stale).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// Marks every cache stale (called after an ingest commits a change).
pub fn invalidate_all() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

type RelKey = (String, String);

pub struct EntityCache {
    map: RwLock<HashMap<String, Arc<StoredEntity>>>,
    rels: RwLock<HashMap<RelKey, Arc<Vec<StoredRelation>>>>,
    /// (generation the map was filled under, when that epoch started)
    epoch: Mutex<(u64, Instant)>,
    ttl: Duration,
    max_entries: usize,
}

impl EntityCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            rels: RwLock::new(HashMap::new()),
            epoch: Mutex::new((GENERATION.load(Ordering::SeqCst), Instant::now())),
            ttl,
            max_entries,
        }
    }

    /// Clears the map when the catalog changed or the TTL passed; returns the current generation.
    fn current(&self) -> u64 {
        let generation = GENERATION.load(Ordering::SeqCst);
        let mut epoch = self.epoch.lock().unwrap_or_else(|p| p.into_inner());
        if epoch.0 != generation || epoch.1.elapsed() > self.ttl {
            self.map.write().unwrap_or_else(|p| p.into_inner()).clear();
            self.rels.write().unwrap_or_else(|p| p.into_inner()).clear();
            *epoch = (generation, Instant::now());
        }
        generation
    }

    fn put(&self, generation: u64, items: &[Arc<StoredEntity>]) {
        if items.is_empty()
            || self.max_entries == 0
            || GENERATION.load(Ordering::SeqCst) != generation
        {
            return; // read before a change committed: do not cache what may be stale
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() + items.len() > self.max_entries {
            map.clear();
        }
        for e in items {
            map.insert(e.entity_ref.clone(), e.clone());
        }
    }

    /// Entities for `refs` (any order, missing ones absent): cached ones from memory, the rest in one query.
    pub async fn entities_by_refs(
        &self,
        db: &impl ConnectionTrait,
        refs: &[String],
    ) -> Result<Vec<Arc<StoredEntity>>, CatalogError> {
        let generation = self.current();
        let mut found = Vec::with_capacity(refs.len());
        let mut missing = Vec::new();
        {
            let map = self.map.read().unwrap_or_else(|p| p.into_inner());
            for r in refs {
                match map.get(r) {
                    Some(e) => found.push(e.clone()),
                    None => missing.push(r.clone()),
                }
            }
        }
        if !missing.is_empty() {
            let loaded: Vec<Arc<StoredEntity>> = store::entities_by_refs(db, &missing)
                .await?
                .into_iter()
                .map(Arc::new)
                .collect();
            self.put(generation, &loaded);
            found.extend(loaded);
        }
        Ok(found)
    }

    /// Relations for `(source, type)` keys ([`store::ANY_TYPE`] = every type): cached ones from memory, the
    /// rest in one query. Every key is in the result (an empty list when it has no relations).
    pub async fn relations(
        &self,
        db: &impl ConnectionTrait,
        keys: &[RelKey],
    ) -> Result<HashMap<RelKey, Arc<Vec<StoredRelation>>>, CatalogError> {
        let generation = self.current();
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        {
            let rels = self.rels.read().unwrap_or_else(|p| p.into_inner());
            for k in keys {
                match rels.get(k) {
                    Some(v) => {
                        found.insert(k.clone(), v.clone());
                    }
                    None => missing.push(k.clone()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let rows = store::relations_from(db, &missing).await?;
        let mut by_source: HashMap<&str, Vec<&StoredRelation>> = HashMap::new();
        for r in &rows {
            by_source.entry(r.source_ref.as_str()).or_default().push(r);
        }
        let mut loaded = Vec::with_capacity(missing.len());
        for (source, ty) in missing {
            let list: Vec<StoredRelation> = by_source
                .get(source.as_str())
                .into_iter()
                .flatten()
                .filter(|r| ty == store::ANY_TYPE || r.rel_type == ty)
                .map(|r| (*r).clone())
                .collect();
            loaded.push(((source, ty), Arc::new(list)));
        }
        if self.max_entries > 0 && GENERATION.load(Ordering::SeqCst) == generation {
            let mut rels = self.rels.write().unwrap_or_else(|p| p.into_inner());
            if rels.len() + loaded.len() > self.max_entries {
                rels.clear();
            }
            for (k, v) in &loaded {
                rels.insert(k.clone(), v.clone());
            }
        }
        found.extend(loaded);
        Ok(found)
    }
}
