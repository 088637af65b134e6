//! Reads by key: entities by ref and relations by source, each as one `IN (...)` query.

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::model::StatusItem;
use super::CatalogError;
use entity::{entities, relations};

/// A stored entity as the rest of the server sees it (not the DB row).
#[derive(Clone, Debug)]
pub struct StoredEntity {
    pub entity_ref: String,
    /// Lowercase kind, namespace and name, as in the ref.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The stored document, parsed on first use (many queries never need it).
    body_json: String,
    body: OnceLock<Value>,
    pub status: Vec<StatusItem>,
    pub owner_ref: Option<String>,
    pub system_ref: Option<String>,
    /// Backstage's `metadata.uid` and `metadata.etag` (see [`super::uid`]).
    pub uid: String,
    pub etag: String,
    /// The source (location key) and file the entity was read from.
    pub location_key: String,
    pub source_file: Option<String>,
}

impl StoredEntity {
    /// Estimated memory this entity takes once its document is parsed (the parsed JSON counts about
    /// three times its text), for the read cache's byte budget.
    pub fn approx_bytes(&self) -> usize {
        let strings = [
            &self.entity_ref,
            &self.kind,
            &self.namespace,
            &self.name,
            &self.uid,
            &self.etag,
        ]
        .iter()
        .map(|s| s.len())
        .sum::<usize>()
            + self.location_key.len()
            + self.owner_ref.as_ref().map_or(0, String::len)
            + self.system_ref.as_ref().map_or(0, String::len)
            + self.source_file.as_ref().map_or(0, String::len);
        256 + strings + self.body_json.len() * 4 + self.status.len() * 128
    }

    pub fn from_row(row: entities::Model) -> Self {
        let status = row
            .errors
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let uid = row
            .uid
            .unwrap_or_else(|| super::uid::entity_uid(&row.entity_ref));
        let etag = super::uid::etag(&row.hash, row.derived_hash.as_deref());
        Self {
            uid,
            etag,
            location_key: row.location_key,
            source_file: row.source_file,
            entity_ref: row.entity_ref,
            kind: row.kind,
            namespace: row.namespace,
            name: row.name,
            body_json: row.body,
            body: OnceLock::new(),
            status,
            owner_ref: row.owner_ref,
            system_ref: row.system_ref,
        }
    }

    /// The whole document (apiVersion, kind, metadata, spec).
    pub fn body(&self) -> &Value {
        self.body
            .get_or_init(|| serde_json::from_str(&self.body_json).unwrap_or(Value::Null))
    }

    pub fn metadata(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body().get("metadata").and_then(Value::as_object)
    }
    pub fn spec(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body().get("spec").and_then(Value::as_object)
    }
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata()?.get(key)?.as_str()
    }
    pub fn spec_str(&self, key: &str) -> Option<&str> {
        self.spec()?.get(key)?.as_str()
    }
    /// The kind as written in the document (e.g. `Component`); built-in kinds need no parse.
    pub fn kind_display(&self) -> &str {
        builtin_kind(&self.kind)
            .or_else(|| self.body().get("kind").and_then(Value::as_str))
            .unwrap_or(&self.kind)
    }
}

/// Canonical spelling of a built-in kind given in lowercase.
pub fn builtin_kind(lower: &str) -> Option<&'static str> {
    Some(match lower {
        "component" => "Component",
        "api" => "API",
        "resource" => "Resource",
        "system" => "System",
        "domain" => "Domain",
        "group" => "Group",
        "user" => "User",
        "location" => "Location",
        "template" => "Template",
        _ => return None,
    })
}

/// A relation edge as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRelation {
    pub source_ref: String,
    pub rel_type: String,
    pub target_ref: String,
}

/// Entities for the given canonical refs (any order; missing refs are simply absent).
pub async fn entities_by_refs(
    db: &impl ConnectionTrait,
    refs: &[String],
) -> Result<Vec<StoredEntity>, CatalogError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = entities::Entity::find()
        .filter(entities::Column::EntityRef.is_in(refs.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(StoredEntity::from_row).collect())
}

/// Relation type that stands for "every type" in [`relations_from`] keys.
pub const ANY_TYPE: &str = "*";

/// Outgoing relations for `(source, type)` keys (type [`ANY_TYPE`] = all types), deduplicated, ordered by
/// source, type and target; one query whatever the number of keys.
pub async fn relations_from(
    db: &impl ConnectionTrait,
    keys: &[(String, String)],
) -> Result<Vec<StoredRelation>, CatalogError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut all_sources = BTreeSet::new();
    let mut typed_sources = BTreeSet::new();
    let mut types = BTreeSet::new();
    for (source, ty) in keys {
        if ty == ANY_TYPE {
            all_sources.insert(source.clone());
        } else {
            typed_sources.insert(source.clone());
            types.insert(ty.clone());
        }
    }
    let mut cond = Condition::any();
    if !all_sources.is_empty() {
        cond = cond.add(relations::Column::SourceRef.is_in(all_sources));
    }
    if !typed_sources.is_empty() {
        cond = cond.add(
            Condition::all()
                .add(relations::Column::SourceRef.is_in(typed_sources))
                .add(relations::Column::RelType.is_in(types)),
        );
    }
    let rows = relations::Entity::find()
        .filter(cond)
        .order_by_asc(relations::Column::SourceRef)
        .order_by_asc(relations::Column::RelType)
        .order_by_asc(relations::Column::TargetRef)
        .all(db)
        .await?;
    let mut out: Vec<StoredRelation> = rows
        .into_iter()
        .map(|r| StoredRelation {
            source_ref: r.source_ref,
            rel_type: r.rel_type,
            target_ref: r.target_ref,
        })
        .collect();
    out.dedup();
    Ok(out)
}
