//! Whole-response cache for identical read-only GraphQL requests (same query, operation name and variables).
//! It shares the catalog's change generation, so it is cleared the moment an ingest commits, and it also
//! expires after the read cache's TTL. Only successful query responses are stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::catalog::cache::generation;

/// Fields whose data changes without a catalog change (deployments, tasks, source status, the audit log):
/// a query that mentions any of them is never cached. A name that merely contains one is skipped too,
/// which costs only a cache miss.
pub(crate) const VOLATILE: &[&str] =
    &["auditLog", "deployment", "doraMetrics", "task", "locations"];

/// True when `query` reads data that changes without a catalog change (see [`VOLATILE`]).
pub fn volatile(query: &str) -> bool {
    let lower = query.to_ascii_lowercase();
    VOLATILE
        .iter()
        .any(|v| lower.contains(&v.to_ascii_lowercase()))
}

pub struct ResponseCache {
    map: RwLock<(HashMap<String, Arc<str>>, usize)>,
    epoch: Mutex<(u64, Instant)>,
    ttl: Duration,
    max_bytes: usize,
}

impl ResponseCache {
    /// The cache `config` asks for: the read cache's TTL, at most `server.responseCacheBytes`.
    pub fn configured(config: &crate::config::Config) -> Self {
        Self::new(
            Duration::from_secs(config.catalog.cache_ttl_seconds),
            config.server.response_cache_bytes,
        )
    }

    /// How long an answer stays valid while the catalog is unchanged (`catalog.cacheTtlSeconds`).
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn new(ttl: Duration, max_bytes: usize) -> Self {
        Self {
            map: RwLock::new((HashMap::new(), 0)),
            epoch: Mutex::new((generation(), Instant::now())),
            ttl,
            max_bytes,
        }
    }

    fn enabled(&self) -> bool {
        self.max_bytes > 0 && !self.ttl.is_zero()
    }

    /// The cache key of a request, or `None` when it must not be cached.
    pub fn key(&self, req: &async_graphql::Request) -> Option<String> {
        if !self.enabled() {
            return None;
        }
        let vars = serde_json::to_string(&req.variables).ok()?;
        let op = req.operation_name.as_deref().unwrap_or("");
        Some(format!("{op}\u{0}{vars}\u{0}{}", req.query))
    }

    fn current(&self) -> u64 {
        let g = generation();
        let mut epoch = self.epoch.lock().unwrap_or_else(|p| p.into_inner());
        if epoch.0 != g || epoch.1.elapsed() > self.ttl {
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            map.0.clear();
            map.1 = 0;
            *epoch = (g, Instant::now());
        }
        g
    }

    /// A cached body and the generation it is valid for (pass it to [`put`](Self::put) on a miss).
    pub fn get(&self, key: &str) -> (Option<Arc<str>>, u64) {
        let g = self.current();
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        (map.0.get(key).cloned(), g)
    }

    /// Stores a successful response computed under generation `g`; only a query's (`query` is what the
    /// request's [`Shape`](super::document::Shape) says of it: the caller has already parsed it).
    pub fn put(&self, key: String, query: bool, body: &str, g: u64) {
        if generation() != g || !query {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        let size = key.len() + body.len();
        if size > self.max_bytes {
            return;
        }
        if map.1 + size > self.max_bytes {
            map.0.clear();
            map.1 = 0;
        }
        map.1 += size;
        map.0.insert(key, Arc::from(body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_of_live_data_are_not_cacheable() {
        assert!(volatile("{ task(id: \"1\") { status } }"));
        assert!(volatile(
            "{ entity(ref: \"c\") { ... on Component { currentDeployments { version } } } }"
        ));
        assert!(volatile("{ locations { lastRefreshAt } }"));
        assert!(!volatile(
            "{ entities(first: 10) { nodes { ref owner { ref } } } }"
        ));
    }

    fn shape(query: &str) -> crate::http::document::Shape {
        crate::http::document::shape(&mut async_graphql::Request::new(query))
    }

    #[test]
    fn only_queries_are_stored_and_a_catalog_change_clears_everything() {
        let c = ResponseCache::new(Duration::from_secs(60), 1 << 20);
        let req = async_graphql::Request::new("{ a }");
        let key = c.key(&req).unwrap();
        let (hit, g) = c.get(&key);
        assert!(hit.is_none());
        c.put(key.clone(), shape("{ a }").is_query(), "{\"data\":{}}", g);
        assert_eq!(c.get(&key).0.as_deref(), Some("{\"data\":{}}"));
        crate::catalog::cache::invalidate_all();
        assert!(c.get(&key).0.is_none());

        let m = "mutation { x }";
        let mkey = c.key(&async_graphql::Request::new(m)).unwrap();
        let (_, g) = c.get(&mkey);
        c.put(mkey.clone(), shape(m).is_query(), "{}", g);
        assert!(c.get(&mkey).0.is_none());
    }
}
