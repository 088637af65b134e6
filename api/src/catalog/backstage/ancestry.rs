//! Ancestry: the Location entities whose targets named the file an entity was read from, up to a root
//! (an entity no Location of its source points at). Paths are compared as text, nothing is read.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;
use std::collections::HashSet;

use super::query::{load, Loaded};
use crate::catalog::cache::EntityCache;
use crate::catalog::CatalogError;
use entity::entities;

const MAX_DEPTH: usize = 32;

/// `start` and its ancestors, each with the refs of its parents; `start` first.
pub async fn of(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    start: Loaded,
) -> Result<Vec<(Loaded, Vec<String>)>, CatalogError> {
    let refs: Vec<String> = entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .filter(entities::Column::Kind.eq("location"))
        .filter(entities::Column::LocationKey.eq(start.0.location_key.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    let locations = load(db, cache, &refs).await?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = vec![start];
    while let Some(current) = queue.pop() {
        if !seen.insert(current.0.entity_ref.clone()) || out.len() >= MAX_DEPTH {
            continue;
        }
        let file = current.0.source_file.clone().unwrap_or_default();
        let parents: Vec<&Loaded> = locations
            .iter()
            .filter(|l| l.0.entity_ref != current.0.entity_ref && targets_file(l, &file))
            .collect();
        let parent_refs = parents.iter().map(|l| l.0.entity_ref.clone()).collect();
        queue.extend(parents.into_iter().cloned());
        out.push((current, parent_refs));
    }
    Ok(out)
}

/// Whether the Location entity `l` has a target that resolves to `file`.
fn targets_file(l: &Loaded, file: &str) -> bool {
    let base = l.0.source_file.as_deref().unwrap_or_default();
    let spec = l.0.spec();
    let one = spec.and_then(|s| s.get("target")).and_then(Value::as_str);
    let many = spec
        .and_then(|s| s.get("targets"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    one.into_iter()
        .chain(many)
        .any(|t| resolve(base, t) == normalize(file))
}

/// `target` relative to the directory of `base` (absolute targets and URLs as they are).
fn resolve(base: &str, target: &str) -> String {
    if target.starts_with('/') || target.contains("://") {
        return normalize(target);
    }
    let dir = base.rsplit_once('/').map_or("", |(d, _)| d);
    normalize(&format!("{dir}/{target}"))
}

/// `.` and `..` segments folded away.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for (i, seg) in path.split('/').enumerate() {
        match seg {
            "." => {}
            "" if i > 0 => {}
            ".." if parts.len() > 1 => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_targets() {
        assert_eq!(resolve("/a/b/root.yaml", "./all.yaml"), "/a/b/all.yaml");
        assert_eq!(resolve("/a/b/root.yaml", "../c/x.yaml"), "/a/c/x.yaml");
        assert_eq!(normalize("/a/./b//c.yaml"), "/a/b/c.yaml");
    }
}
