//! Automatic persisted queries (Apollo's APQ protocol): a client sends `extensions.persistedQuery
//! {version: 1, sha256Hash}` without the query; when the hash is unknown the answer is
//! `PERSISTED_QUERY_NOT_FOUND` and the client sends query and hash once, which stores it.

use async_graphql::{Request, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::errors::Code;

/// Bytes of queries kept (oldest dropped first), and the largest query stored: storing needs no token,
/// so what anyone can make the server hold is bounded.
const MAX_TOTAL_BYTES: usize = 16 << 20;
const MAX_QUERY_BYTES: usize = 64 << 10;

#[derive(Default)]
pub struct PersistedQueries {
    inner: Mutex<(HashMap<String, String>, VecDeque<String>, usize)>,
}

/// Why a request's persisted query could not be used: (code, message).
pub type Refusal = (Code, String);

impl PersistedQueries {
    /// Fills in or records `r`'s query when it carries the APQ extension.
    pub fn resolve(&self, r: &mut Request) -> Result<(), Refusal> {
        let Some(pq) = r.extensions.get("persistedQuery") else {
            return Ok(());
        };
        let Value::Object(pq) = pq else {
            return Err((Code::BadRequest, "persistedQuery must be an object".into()));
        };
        if !matches!(pq.get("version"), Some(Value::Number(n)) if n.as_i64() == Some(1)) {
            return Err((Code::BadRequest, "persistedQuery.version must be 1".into()));
        }
        let Some(Value::String(hash)) = pq.get("sha256Hash") else {
            return Err((
                Code::BadRequest,
                "persistedQuery.sha256Hash is missing".into(),
            ));
        };
        let hash = hash.to_ascii_lowercase();
        let Ok(mut guard) = self.inner.lock() else {
            return Err((Code::Internal, "internal error".into()));
        };
        let (map, order, bytes) = &mut *guard;
        if r.query.is_empty() {
            return match map.get(&hash) {
                Some(q) => {
                    r.query = q.clone();
                    Ok(())
                }
                None => Err((
                    Code::PersistedQueryNotFound,
                    "PersistedQueryNotFound".into(),
                )),
            };
        }
        let actual = hex(&Sha256::digest(r.query.as_bytes()));
        if actual != hash {
            return Err((
                Code::BadRequest,
                "provided sha256Hash does not match the query".into(),
            ));
        }
        // Only documents that parse, and not too large, are kept (the request still runs, on this parse).
        let storable = r.query.len() <= MAX_QUERY_BYTES && r.parsed_query().is_ok();
        if storable && !map.contains_key(&hash) {
            while *bytes + r.query.len() > MAX_TOTAL_BYTES {
                let Some(old) = order.pop_front() else { break };
                if let Some(q) = map.remove(&old) {
                    *bytes -= q.len();
                }
            }
            *bytes += r.query.len();
            map.insert(hash.clone(), r.query.clone());
            order.push_back(hash);
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut r = Request::new(query);
        r.extensions.insert(
            "persistedQuery".into(),
            Value::from_json(serde_json::json!({"version": 1, "sha256Hash": hash})).unwrap(),
        );
        r
    }

    #[test]
    fn unknown_hash_then_register_then_hash_alone() {
        let apq = PersistedQueries::default();
        let q = "{ entities { totalCount } }";
        let h = hex(&Sha256::digest(q.as_bytes()));
        let mut r = with_hash("", &h);
        assert_eq!(
            apq.resolve(&mut r).unwrap_err().0,
            Code::PersistedQueryNotFound
        );
        let mut bad = with_hash(q, &"0".repeat(64));
        assert_eq!(apq.resolve(&mut bad).unwrap_err().0, Code::BadRequest);
        apq.resolve(&mut with_hash(q, &h)).unwrap();
        let mut r = with_hash("", &h);
        apq.resolve(&mut r).unwrap();
        assert_eq!(r.query, q);
        let mut plain = Request::new(q);
        apq.resolve(&mut plain).unwrap();
    }
}
