//! Entities as Backstage serialises them: the stored document plus `metadata.uid`, `metadata.etag`,
//! `relations` (`{type, targetRef, target}`) and `status.items` for processing errors; and `fields`
//! pruning (`fields=kind,metadata.name`: only those paths are kept).

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use crate::catalog::cache::EntityCache;
use crate::catalog::store::{StoredEntity, StoredRelation};

/// JSON already written out, embedded as it is in a response.
#[derive(Clone, Debug)]
pub struct Raw(pub Arc<RawValue>);

impl serde::Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl Raw {
    /// `value` written out.
    pub fn of(value: &Value) -> Self {
        // A `Value` always serialises (its keys are strings); the default (`null`) is never taken.
        Self(Arc::from(
            serde_json::value::to_raw_value(value).unwrap_or_default(),
        ))
    }
}

/// The Backstage JSON of each of `items` (entities with their relations) with only `fields` kept.
/// Without `fields`, the whole rendering is kept in `cache` (under `generation`, the cache generation
/// read before the items were), so an entity is rendered once per catalog change.
pub fn render_all(
    cache: &EntityCache,
    generation: u64,
    items: &[(Arc<StoredEntity>, Arc<Vec<StoredRelation>>)],
    fields: &Fields,
) -> Vec<Raw> {
    if !fields.is_empty() {
        return items
            .iter()
            .map(|(e, rels)| Raw::of(&fields.apply(entity_json(e, rels))))
            .collect();
    }
    let refs: Vec<&str> = items.iter().map(|(e, _)| e.entity_ref.as_str()).collect();
    let kept = cache.views(&refs);
    let mut fresh = Vec::new();
    let out = items
        .iter()
        .zip(kept)
        .map(|((e, rels), kept)| match kept {
            Some(v) => Raw(v),
            None => {
                let raw = Raw::of(&entity_json(e, rels));
                fresh.push((e.entity_ref.clone(), raw.0.clone()));
                raw
            }
        })
        .collect();
    cache.put_views(generation, fresh);
    out
}

/// The Backstage JSON of `e` with its outgoing relations.
pub fn entity_json(e: &StoredEntity, rels: &[StoredRelation]) -> Value {
    let mut doc = match e.body() {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let meta = doc
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = meta {
        m.insert("uid".into(), Value::String(e.uid.clone()));
        m.insert("etag".into(), Value::String(e.etag.clone()));
    }
    let relations: Vec<Value> = rels
        .iter()
        .map(|r| {
            let target = crate::catalog::refs::EntityRef::parse_full(&r.target_ref).ok();
            let mut v = json!({"type": r.rel_type, "targetRef": r.target_ref});
            if let Some(t) = target {
                v["target"] = json!({"kind": t.kind, "namespace": t.namespace, "name": t.name});
            }
            v
        })
        .collect();
    doc.insert("relations".into(), Value::Array(relations));
    if !e.status.is_empty() {
        let items: Vec<Value> = e
            .status
            .iter()
            .map(|s| {
                json!({
                    "type": s.kind,
                    "level": s.level,
                    "message": s.message,
                    "error": {"name": "InputError", "message": s.message},
                })
            })
            .collect();
        doc.insert("status".into(), json!({ "items": items }));
    }
    Value::Object(doc)
}

/// Parsed `fields` parameters (each comma-separated); empty: keep everything.
#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<String>);

impl Fields {
    pub fn parse<S: AsRef<str>>(params: &[S]) -> Self {
        Self(
            params
                .iter()
                .flat_map(|p| p.as_ref().split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `doc` with only the selected paths (unchanged when no fields were given).
    pub fn apply(&self, doc: Value) -> Value {
        if self.0.is_empty() {
            return doc;
        }
        let mut out = Value::Object(Map::new());
        for path in &self.0 {
            copy_path(&doc, &mut out, path);
        }
        out
    }
}

/// Copies the value at `path` (dot-separated; a key that itself contains dots, such as an annotation
/// name, is matched as a whole) from `src` into `dst`.
fn copy_path(src: &Value, dst: &mut Value, path: &str) {
    let (Value::Object(s), Value::Object(d)) = (src, dst) else {
        return;
    };
    // The longest key of `s` that `path` starts with (followed by a dot or the end).
    let key = s
        .keys()
        .filter(|k| {
            path == k.as_str()
                || (path.starts_with(k.as_str()) && path.as_bytes().get(k.len()) == Some(&b'.'))
        })
        .max_by_key(|k| k.len());
    let Some(key) = key else { return };
    let Some(value) = s.get(key) else { return };
    if path.len() == key.len() {
        d.insert(key.clone(), value.clone());
        return;
    }
    let rest = &path[key.len() + 1..];
    let slot = d
        .entry(key.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if slot.is_object() && value.is_object() {
        copy_path(value, slot, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_selected_paths_with_dotted_keys() {
        let doc = json!({
            "kind": "Component",
            "metadata": {"name": "a", "annotations": {"backstage.io/x": "1", "y": "2"}},
            "spec": {"type": "service"}
        });
        let f = Fields::parse(&[
            "kind,metadata.annotations.backstage.io/x",
            "metadata.missing",
        ]);
        assert_eq!(
            f.apply(doc.clone()),
            json!({"kind": "Component", "metadata": {"annotations": {"backstage.io/x": "1"}}})
        );
        assert_eq!(Fields::parse::<&str>(&[]).apply(doc.clone()), doc);
    }
}
