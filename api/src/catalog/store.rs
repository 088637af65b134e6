//! Reads by key: entities by ref and relations by source, each as one `IN (...)` query.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

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
    pub body: Value,
    pub status: Vec<StatusItem>,
    pub owner_ref: Option<String>,
    pub system_ref: Option<String>,
}

impl StoredEntity {
    pub fn from_row(row: entities::Model) -> Self {
        let body = serde_json::from_str(&row.body).unwrap_or(Value::Null);
        let status = row
            .errors
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        Self {
            entity_ref: row.entity_ref,
            kind: row.kind,
            namespace: row.namespace,
            name: row.name,
            body,
            status,
            owner_ref: row.owner_ref,
            system_ref: row.system_ref,
        }
    }

    pub fn metadata(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body.get("metadata").and_then(Value::as_object)
    }
    pub fn spec(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body.get("spec").and_then(Value::as_object)
    }
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata()?.get(key)?.as_str()
    }
    pub fn spec_str(&self, key: &str) -> Option<&str> {
        self.spec()?.get(key)?.as_str()
    }
    /// The kind as written in the document (e.g. `Component`).
    pub fn kind_display(&self) -> &str {
        self.body
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or(&self.kind)
    }
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

/// Outgoing relations of the given sources, deduplicated, ordered by source, type and target.
pub async fn relations_from(
    db: &impl ConnectionTrait,
    sources: &[String],
) -> Result<Vec<StoredRelation>, CatalogError> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let rows = relations::Entity::find()
        .filter(relations::Column::SourceRef.is_in(sources.iter().cloned()))
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
