//! Backstage's entity filters (`filter=kind=component,spec.type=service`): each `filter` parameter is a
//! set of conditions that must all hold, sets are alternatives; keys and values compare
//! case-insensitively; a bare key means "exists"; array items also match as `key.item=true`;
//! `relations.<type>=<ref>` matches relation targets. Conditions on indexed columns run in SQL, the rest
//! (any other field path) are checked on the documents.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

use crate::catalog::store::{StoredEntity, StoredRelation};
use crate::catalog::CatalogError;
use entity::{entities, entity_search, relations};

/// One condition: the (lowercase) key, and the values any of which it must equal (`None`: the key exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    pub key: String,
    pub values: Option<Vec<String>>,
}

/// Alternatives of condition sets. No sets: everything matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntityFilter {
    pub sets: Vec<Vec<Cond>>,
}

impl EntityFilter {
    /// Parses `filter` query parameters (each `k=v,k2,k3=v3`).
    pub fn parse<S: AsRef<str>>(params: &[S]) -> Result<Self, CatalogError> {
        let mut sets = Vec::new();
        for p in params {
            let p = p.as_ref();
            let mut by_key: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
            for part in p.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (k, v) = match part.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().to_lowercase())),
                    None => (part, None),
                };
                if k.is_empty() {
                    return Err(CatalogError::InvalidInput(format!(
                        "invalid filter '{p}': every condition needs a key (key or key=value)"
                    )));
                }
                let slot = by_key.entry(k.to_lowercase()).or_insert(None);
                if let Some(v) = v {
                    slot.get_or_insert_with(Vec::new).push(v);
                }
            }
            if !by_key.is_empty() {
                sets.push(
                    by_key
                        .into_iter()
                        .map(|(key, values)| Cond { key, values })
                        .collect(),
                );
            }
        }
        Ok(Self { sets })
    }

    /// The SQL condition over `entities`, and whether it is exact (`false`: it admits a superset, and
    /// [`Self::matches`] must check each candidate).
    pub fn condition(&self) -> (Condition, bool) {
        if self.sets.is_empty() {
            return (Condition::all(), true);
        }
        let mut exact = true;
        let mut any = Condition::any();
        for set in &self.sets {
            let mut all = Condition::all();
            for c in set {
                match pushdown(c) {
                    Some(e) => all = all.add(e),
                    None => exact = false,
                }
            }
            any = any.add(all);
        }
        (any, exact)
    }

    /// Whether the entity (with its outgoing relations) matches.
    pub fn matches(&self, e: &StoredEntity, rels: &[StoredRelation]) -> bool {
        if self.sets.is_empty() {
            return true;
        }
        let fields = flatten(e.body(), rels);
        self.sets.iter().any(|set| {
            set.iter().all(|c| match (fields.get(&c.key), &c.values) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(have), Some(want)) => have.iter().any(|h| want.contains(h)),
            })
        })
    }
}

/// Every searchable (key, value) of a document, keys and values lowercase, as Backstage indexes them.
pub fn flatten(body: &Value, rels: &[StoredRelation]) -> HashMap<String, Vec<String>> {
    flatten_with(body, rels, true)
}

/// The values at `key` (lowercase) as written in the document (for facets).
pub fn original_values(body: &Value, rels: &[StoredRelation], key: &str) -> Vec<String> {
    flatten_with(body, rels, false)
        .remove(key)
        .unwrap_or_default()
}

/// Every (lowercase) key of a document with its values as written (what [`original_values`] picks from).
pub fn original_fields(body: &Value) -> HashMap<String, Vec<String>> {
    flatten_with(body, &[], false)
}

fn flatten_with(
    body: &Value,
    rels: &[StoredRelation],
    lower: bool,
) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            if k != "relations" && k != "status" {
                walk(&k.to_lowercase(), v, lower, &mut out);
            }
        }
    }
    for r in rels {
        out.entry(format!("relations.{}", r.rel_type.to_lowercase()))
            .or_default()
            .push(r.target_ref.to_lowercase());
    }
    out
}

fn scalar(v: &Value, lower: bool) -> Option<String> {
    match v {
        Value::String(s) if lower => Some(s.to_lowercase()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn walk(path: &str, v: &Value, lower: bool, out: &mut HashMap<String, Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                walk(&format!("{path}.{}", k.to_lowercase()), v, lower, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Some(s) = scalar(item, lower) {
                    out.entry(format!("{path}.{}", s.to_lowercase()))
                        .or_default()
                        .push("true".into());
                    out.entry(path.to_string()).or_default().push(s);
                } else {
                    walk(path, item, lower, out);
                }
            }
        }
        Value::Null => {}
        other => {
            if let Some(s) = scalar(other, lower) {
                out.entry(path.to_string()).or_default().push(s);
            }
        }
    }
}

/// The SQL for a condition on an indexed column, or `None` when it must be checked on the document.
fn pushdown(c: &Cond) -> Option<SimpleExpr> {
    use entities::Column as C;
    let column = match c.key.as_str() {
        "kind" => Some(C::Kind),
        "metadata.namespace" => Some(C::Namespace),
        "metadata.name" => Some(C::Name),
        "metadata.uid" => Some(C::Uid),
        "spec.type" => Some(C::SpecType),
        "spec.lifecycle" => Some(C::Lifecycle),
        _ => None,
    };
    if let Some(col) = column {
        return Some(match &c.values {
            Some(v) => col.is_in(v.clone()),
            None => col.is_not_null(),
        });
    }
    if c.key == "metadata.tags" {
        let mut sub = Query::select();
        sub.expr(Expr::val(1))
            .from(entity_search::Entity)
            .and_where(
                Expr::col((entity_search::Entity, entity_search::Column::EntityRef))
                    .equals((entities::Entity, entities::Column::EntityRef)),
            )
            .and_where(entity_search::Column::Key.eq("tag"));
        if let Some(v) = &c.values {
            sub.and_where(entity_search::Column::Value.is_in(v.clone()));
        }
        return Some(Expr::exists(sub));
    }
    let rel = c.key.strip_prefix("relations.")?;
    let rel_type = crate::catalog::graph::relation_type(rel).ok()?;
    let mut sub = Query::select();
    sub.expr(Expr::val(1))
        .from(relations::Entity)
        .and_where(
            Expr::col((relations::Entity, relations::Column::SourceRef))
                .equals((entities::Entity, entities::Column::EntityRef)),
        )
        .and_where(relations::Column::RelType.eq(rel_type));
    if let Some(v) = &c.values {
        sub.and_where(relations::Column::TargetRef.is_in(v.clone()));
    }
    Some(Expr::exists(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sets_and_merges_repeated_keys() {
        let f =
            EntityFilter::parse(&["Kind=Component,kind=API,spec.type", "metadata.name=x"]).unwrap();
        assert_eq!(f.sets.len(), 2);
        assert_eq!(
            f.sets[0][0],
            Cond {
                key: "kind".into(),
                values: Some(vec!["component".into(), "api".into()])
            }
        );
        assert_eq!(f.sets[0][1].values, None);
        assert!(EntityFilter::parse(&["=x"]).is_err());
    }

    #[test]
    fn flattens_arrays_as_items_and_key_true() {
        let body = serde_json::json!({"metadata": {"tags": ["Java"], "labels": {"Tier": "One"}}});
        let f = flatten(&body, &[]);
        assert_eq!(f["metadata.tags"], vec!["java"]);
        assert_eq!(f["metadata.tags.java"], vec!["true"]);
        assert_eq!(f["metadata.labels.tier"], vec!["one"]);
    }
}
