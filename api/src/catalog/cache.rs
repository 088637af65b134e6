//! A process-wide read cache of entities by ref and of relations by (source, type). Every ingest that commits a change clears it (exact for a
//! single server); entries also expire after a TTL, which bounds staleness when other replicas write to the
//! same PostgreSQL database.

use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

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

/// The cache's maps, for byte accounting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Entities,
    Relations,
    Views,
}

/// What the read cache may hold by default (`catalog.cacheMaxBytes`), as estimated by
/// [`StoredEntity::approx_bytes`] and [`approx_relation_bytes`].
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// How many listing counts the cache keeps (each a key of at most a few hundred bytes).
const MAX_COUNTS: usize = 1024;

/// The maps' hash: seeded per process, and several times faster than the standard one on refs (every
/// entity and relation a response reads is looked up here).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A map with the estimated bytes of what it holds.
type Budgeted<K, V> = RwLock<(FastMap<K, V>, usize)>;

pub struct EntityCache {
    map: Budgeted<String, Arc<StoredEntity>>,
    rels: Budgeted<RelKey, Arc<Vec<StoredRelation>>>,
    /// Rendered JSON of an entity with its relations (Backstage's serialisation), by ref; filled by
    /// whoever renders it under the generation its parts were read in.
    views: Budgeted<String, Arc<RawValue>>,
    /// Counts of listings by a key naming the listing (e.g. a REST `by-query` spec), at most
    /// [`MAX_COUNTS`]; cleared with the maps.
    counts: Mutex<HashMap<String, u64>>,
    /// (generation the map was filled under, when that epoch started)
    epoch: Mutex<(u64, Instant)>,
    ttl: Duration,
    max_entries: usize,
    /// Estimated bytes both maps may hold together; a fill that would pass it starts its map afresh.
    max_bytes: usize,
}

/// Estimated memory of a cached relation list.
fn approx_relation_bytes(key: &RelKey, list: &[StoredRelation]) -> usize {
    let one = |r: &StoredRelation| 64 + r.source_ref.len() + r.rel_type.len() + r.target_ref.len();
    64 + key.0.len() + key.1.len() + list.iter().map(one).sum::<usize>()
}

impl EntityCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            map: RwLock::new((FastMap::default(), 0)),
            rels: RwLock::new((FastMap::default(), 0)),
            views: RwLock::new((FastMap::default(), 0)),
            counts: Mutex::new(HashMap::new()),
            epoch: Mutex::new((GENERATION.load(Ordering::SeqCst), Instant::now())),
            ttl,
            max_entries,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// This cache with a byte budget other than [`DEFAULT_MAX_BYTES`].
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// (entries, estimated bytes) held now, entities, relation lists and rendered views together.
    pub fn held(&self) -> (usize, usize) {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let rels = self.rels.read().unwrap_or_else(|p| p.into_inner());
        let views = self.views.read().unwrap_or_else(|p| p.into_inner());
        (
            map.0.len() + rels.0.len() + views.0.len(),
            map.1 + rels.1 + views.1,
        )
    }

    /// Estimated bytes held by the maps other than the one being filled (`except`).
    fn others(&self, except: Which) -> usize {
        let bytes = |w: Which| match w {
            Which::Entities => self.map.read().map(|m| m.1).unwrap_or(0),
            Which::Relations => self.rels.read().map(|m| m.1).unwrap_or(0),
            Which::Views => self.views.read().map(|m| m.1).unwrap_or(0),
        };
        [Which::Entities, Which::Relations, Which::Views]
            .into_iter()
            .filter(|w| *w != except)
            .map(bytes)
            .sum()
    }

    /// Keeps `items` (key, value, estimated bytes) in `map` within the entry budget and, together with
    /// the other maps' bytes, the byte budget: a fill that would pass either starts `map` afresh, and one
    /// larger than the whole byte budget is not kept at all.
    fn fill<K: std::hash::Hash + Eq, V>(
        &self,
        map: &Budgeted<K, V>,
        which: Which,
        items: Vec<(K, V, usize)>,
    ) {
        let added: usize = items.iter().map(|(_, _, b)| b).sum();
        let others = self.others(which);
        if others + added > self.max_bytes {
            return; // larger than the whole budget: served, not kept
        }
        let mut map = map.write().unwrap_or_else(|p| p.into_inner());
        if map.0.len() + items.len() > self.max_entries || others + map.1 + added > self.max_bytes {
            *map = (FastMap::default(), 0);
        }
        for (k, v, bytes) in items {
            if map.0.insert(k, v).is_some() {
                // Keys are filled with the same value they had (both read under one generation).
                map.1 = map.1.saturating_sub(bytes);
            }
            map.1 += bytes;
        }
    }

    /// Clears the map when the catalog changed or the TTL passed; returns the current generation.
    fn current(&self) -> u64 {
        let generation = GENERATION.load(Ordering::SeqCst);
        let mut epoch = self.epoch.lock().unwrap_or_else(|p| p.into_inner());
        if epoch.0 != generation || epoch.1.elapsed() > self.ttl {
            *self.map.write().unwrap_or_else(|p| p.into_inner()) = (FastMap::default(), 0);
            *self.rels.write().unwrap_or_else(|p| p.into_inner()) = (FastMap::default(), 0);
            *self.views.write().unwrap_or_else(|p| p.into_inner()) = (FastMap::default(), 0);
            self.counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            *epoch = (generation, Instant::now());
        }
        generation
    }

    /// The current generation: what a caller that renders from this cache's entities passes to
    /// [`Self::put_views`].
    pub fn generation(&self) -> u64 {
        self.current()
    }

    /// Rendered views kept for `refs`, in their order (`None` where none is kept).
    pub fn views(&self, refs: &[&str]) -> Vec<Option<Arc<RawValue>>> {
        self.current();
        let views = self.views.read().unwrap_or_else(|p| p.into_inner());
        refs.iter().map(|r| views.0.get(*r).cloned()).collect()
    }

    /// Keeps views rendered from entities and relations read under `generation` (dropped if the
    /// catalog changed since).
    pub fn put_views(&self, generation: u64, items: Vec<(String, Arc<RawValue>)>) {
        if items.is_empty()
            || self.max_entries == 0
            || GENERATION.load(Ordering::SeqCst) != generation
        {
            return;
        }
        let items = items
            .into_iter()
            .map(|(k, v)| {
                let bytes = 64 + k.len() + v.get().len();
                (k, v, bytes)
            })
            .collect();
        self.fill(&self.views, Which::Views, items);
    }

    /// The count kept for `key` under the current generation, and that generation (to pass to
    /// [`Self::put_count`] after counting).
    pub fn count(&self, key: &str) -> (Option<u64>, u64) {
        let generation = self.current();
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        (counts.get(key).copied(), generation)
    }

    /// Keeps a count made under `generation` (dropped if the catalog changed since).
    pub fn put_count(&self, generation: u64, key: String, n: u64) {
        if self.max_entries == 0 || GENERATION.load(Ordering::SeqCst) != generation {
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= MAX_COUNTS {
            counts.clear();
        }
        counts.insert(key, n);
    }

    fn put(&self, generation: u64, items: &[Arc<StoredEntity>]) {
        if items.is_empty()
            || self.max_entries == 0
            || GENERATION.load(Ordering::SeqCst) != generation
        {
            return; // read before a change committed: do not cache what may be stale
        }
        let items = items
            .iter()
            .map(|e| (e.entity_ref.clone(), e.clone(), e.approx_bytes()))
            .collect();
        self.fill(&self.map, Which::Entities, items);
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
                match map.0.get(r) {
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
                match rels.0.get(k) {
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
            let items = loaded
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), approx_relation_bytes(k, v)))
                .collect();
            self.fill(&self.rels, Which::Relations, items);
        }
        found.extend(loaded);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_count_lasts_until_the_catalog_changes() {
        let cache = EntityCache::new(Duration::from_secs(60), 100);
        // Other tests in this process may bump the generation at any time: retry until undisturbed.
        loop {
            let (_, g) = cache.count("kind=component");
            cache.put_count(g, "kind=component".into(), 13);
            let kept = cache.count("kind=component").0;
            if generation() == g {
                assert_eq!(kept, Some(13));
                break;
            }
        }
        invalidate_all();
        assert_eq!(cache.count("kind=component").0, None);
        // A count made before a change committed is not kept.
        let (_, before) = cache.count("kind=api");
        invalidate_all();
        cache.put_count(before, "kind=api".into(), 5);
        assert_eq!(cache.count("kind=api").0, None);
    }
}
