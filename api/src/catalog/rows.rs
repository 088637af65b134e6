//! What one entity is stored as: its `entities` row, its search and relation rows, and the digests
//! that tell an apply whether any of them changed.

use sea_orm::ActiveValue::{NotSet, Set};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::Entity;
use super::relations::{relations_of, single_ref, RelationEdge};
use entity::entities;

/// `v` in lower case.
fn lower(v: Option<&str>) -> Option<String> {
    v.map(str::to_ascii_lowercase)
}

/// The `entities` row of a prepared entity read from `file` of the location `location_key`.
pub(super) fn entity_row(
    p: &Prepared<'_>,
    location_key: &str,
    file: &str,
    now: i64,
) -> entities::ActiveModel {
    let (e, hash) = (p.entity, &p.hash);
    let r = &e.entity_ref;
    let title = e.meta_str("title").map(str::to_string);
    let description = e.meta_str("description").map(str::to_string);
    let mut search_text = r.name.clone();
    for part in [title.as_deref(), description.as_deref()]
        .into_iter()
        .flatten()
    {
        search_text.push(' ');
        search_text.push_str(&part.to_lowercase());
    }
    for tag in tags(e) {
        search_text.push(' ');
        search_text.push_str(&tag.to_lowercase());
    }
    let words = |t: Option<&str>| Some(t.map(super::words::normalize).unwrap_or_default());
    let tag_text = tags(e).collect::<Vec<_>>().join(" ");
    let errors = if e.status.is_empty() {
        None
    } else {
        serde_json::to_string(&e.status).ok()
    };
    entities::ActiveModel {
        id: NotSet,
        entity_ref: Set(r.to_string()),
        kind: Set(r.kind.clone()),
        namespace: Set(r.namespace.clone()),
        name: Set(r.name.clone()),
        words_name: Set(words(e.meta_str("name"))),
        words_title: Set(words(title.as_deref())),
        words_tags: Set(words(Some(&tag_text))),
        words_description: Set(words(description.as_deref())),
        title: Set(title),
        description: Set(description),
        owner_ref: Set(single_ref(e, "owner")),
        lifecycle: Set(lower(e.spec_str("lifecycle"))),
        spec_type: Set(lower(e.spec_str("type"))),
        system_ref: Set(single_ref(e, "system")),
        search_text: Set(search_text),
        body: Set(p.body.clone()),
        has_errors: Set(errors.is_some()),
        errors: Set(errors),
        location_key: Set(location_key.to_string()),
        hash: Set(hash.to_string()),
        updated_at: Set(now),
        source_file: Set(Some(file.to_string())),
        doc_hash: Set(e.doc_hash.clone()),
        derived_hash: Set(Some(p.derived.clone())),
        managed_by_location: Set(annotation(e, MANAGED_BY[0].0)),
        managed_by_origin: Set(annotation(e, MANAGED_BY[1].0)),
        uid: Set(Some(super::uid::entity_uid(&r.to_string()))),
    }
}

/// Annotations stored as `entities` columns instead of `entity_search` rows.
pub const MANAGED_BY: [(&str, entities::Column); 2] = [
    (
        super::model::MANAGED_BY_LOCATION,
        entities::Column::ManagedByLocation,
    ),
    (
        super::model::MANAGED_BY_ORIGIN_LOCATION,
        entities::Column::ManagedByOrigin,
    ),
];

/// The string annotation `key` of `e`.
fn annotation(e: &Entity, key: &str) -> Option<String> {
    e.metadata()
        .get("annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The string tags of `e`.
fn tags(e: &Entity) -> impl Iterator<Item = &str> {
    e.metadata()
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Key/value rows for indexed filters: `tag`, `label:<key>`, `annotation:<key>`.
fn search_rows(e: &Entity) -> Vec<(String, Option<String>)> {
    let mut rows: Vec<(String, Option<String>)> = tags(e)
        .map(|t| ("tag".to_string(), Some(t.to_ascii_lowercase())))
        .collect();
    for (field, prefix) in [("labels", "label:"), ("annotations", "annotation:")] {
        if let Some(map) = e.metadata().get(field).and_then(Value::as_object) {
            for (k, v) in map {
                // Every entity has these two; they are columns (see `MANAGED_BY`).
                if prefix == "annotation:" && MANAGED_BY.iter().any(|(key, _)| key == k) {
                    continue;
                }
                // Long annotation values (e.g. embedded documents) are not indexed, only their key.
                let value = v.as_str().filter(|s| s.len() <= 512).map(str::to_string);
                rows.push((format!("{prefix}{k}"), value));
            }
        }
    }
    rows.sort();
    rows.dedup();
    rows
}

/// An entity to write: its serialized body, content hash, and the relation and search rows it implies.
pub(super) struct Prepared<'a> {
    pub(super) entity: &'a Entity,
    body: String,
    hash: String,
    pub(super) relations: Vec<RelationEdge>,
    pub(super) search: Vec<(String, Option<String>)>,
    /// Digest of `relations` and `search`.
    derived: String,
    /// The rows differ from what is stored (or nothing is stored): write them.
    pub(super) write_rows: bool,
}

impl<'a> Prepared<'a> {
    /// `entity` with its body and content hash; its rows are written unless their digest is
    /// `stored_rows`.
    pub(super) fn new(
        entity: &'a Entity,
        body: String,
        hash: String,
        stored_rows: Option<&str>,
    ) -> Self {
        let relations = relations_of(entity);
        let search = search_rows(entity);
        let mut h = Sha256::new();
        for edge in &relations {
            for part in [edge.source.as_str(), edge.rel_type, edge.target.as_str()] {
                h.update(part.as_bytes());
                h.update([0]);
            }
        }
        h.update([1]);
        for (k, v) in &search {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_deref().unwrap_or("\u{1}").as_bytes());
            h.update([0]);
        }
        let derived = format!("{:x}", h.finalize())[..32].to_string();
        let write_rows = stored_rows != Some(derived.as_str());
        Self {
            entity,
            body,
            hash,
            relations,
            search,
            derived,
            write_rows,
        }
    }
}

/// A stable digest of everything stored for an entity (`body` is its serialized document, `file` where
/// it was read from).
pub(super) fn content_hash(body: &str, e: &Entity, file: &str) -> String {
    let mut h = Sha256::new();
    h.update(body.as_bytes());
    h.update(file.as_bytes());
    h.update(e.doc_hash.as_deref().unwrap_or_default().as_bytes());
    for s in &e.status {
        h.update(s.message.as_bytes());
    }
    format!("{:x}", h.finalize())
}
