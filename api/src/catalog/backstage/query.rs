//! Listing for the Backstage API: filtered, ordered pages positioned by keyset cursors (stable while
//! the catalog changes), offsets, counts, lookups by ref and uid, and facets.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::filter::EntityFilter;
use super::predicate::Predicate;
use crate::catalog::cache::EntityCache;
use crate::catalog::store::{StoredEntity, StoredRelation, ANY_TYPE};
use crate::catalog::CatalogError;
use entity::entities;

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 1000;

/// An entity with its outgoing relations.
pub type Loaded = (Arc<StoredEntity>, Arc<Vec<StoredRelation>>);

fn bad(msg: impl Into<String>) -> CatalogError {
    CatalogError::InvalidInput(msg.into())
}

/// The column a listing is ordered by (then by ref).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortField {
    #[default]
    Ref,
    Name,
    Kind,
    Namespace,
}

impl SortField {
    /// Backstage's field name for an ordering (`metadata.name`, `kind`, `metadata.namespace`).
    pub fn parse(field: &str) -> Result<Self, CatalogError> {
        Ok(match field.trim().to_ascii_lowercase().as_str() {
            "metadata.name" => SortField::Name,
            "kind" => SortField::Kind,
            "metadata.namespace" => SortField::Namespace,
            "ref" | "entityref" => SortField::Ref,
            other => {
                return Err(bad(format!(
                    "cannot order by '{other}'; use metadata.name, metadata.namespace or kind"
                )))
            }
        })
    }

    fn column(self) -> entities::Column {
        match self {
            SortField::Ref => entities::Column::EntityRef,
            SortField::Name => entities::Column::Name,
            SortField::Kind => entities::Column::Kind,
            SortField::Namespace => entities::Column::Namespace,
        }
    }
}

/// What to list: the filter (as its parameters, so cursors can carry it), the full-text term and order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Spec {
    #[serde(rename = "f", default)]
    pub filter: Vec<String>,
    #[serde(rename = "t", default)]
    pub text: Option<String>,
    #[serde(rename = "s", default)]
    pub sort: SortField,
    #[serde(rename = "d", default)]
    pub descending: bool,
    /// A filter predicate (`POST /entities/by-query`), validated by [`Predicate::parse`].
    #[serde(rename = "q", default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

/// A position between rows: (sort value, ref) of the row it follows or precedes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    Start,
    After(String, String),
    Before(String, String),
}

/// A `by-query` cursor: the listing and where the next page starts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "l")]
    pub spec: Spec,
    #[serde(rename = "p")]
    pub position: Position,
}

/// How a predicate listing's cursor is written: `@backstage/catalog-client` decodes a cursor with
/// `atob` and sends it to `POST /entities/by-query` when the JSON has a `query` key.
#[derive(Serialize)]
struct PredicateCursor<'a> {
    query: bool,
    #[serde(flatten)]
    cursor: &'a Cursor,
}

impl Cursor {
    pub fn encode(&self) -> String {
        if self.spec.predicate.is_some() {
            let c = PredicateCursor {
                query: true,
                cursor: self,
            };
            return STANDARD.encode(serde_json::to_vec(&c).unwrap_or_default());
        }
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(text: &str) -> Result<Self, CatalogError> {
        let invalid = || bad("invalid cursor");
        let text = text.trim();
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .or_else(|_| STANDARD.decode(text))
            .map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

/// One page: the entities in listing order, and whether more rows lie beyond it in its scan direction.
pub struct Page {
    pub items: Vec<Loaded>,
    pub more: bool,
}

/// The (sort value, ref) of an entity under `sort`.
pub fn key_of(e: &StoredEntity, sort: SortField) -> (String, String) {
    let v = match sort {
        SortField::Ref => &e.entity_ref,
        SortField::Name => &e.name,
        SortField::Kind => &e.kind,
        SortField::Namespace => &e.namespace,
    };
    (v.clone(), e.entity_ref.clone())
}

fn keyset(sort: SortField, value: &str, r: &str, greater: bool) -> Condition {
    let col = sort.column();
    let (strict, tie) = if greater {
        (col.gt(value), entities::Column::EntityRef.gt(r))
    } else {
        (col.lt(value), entities::Column::EntityRef.lt(r))
    };
    Condition::any()
        .add(strict)
        .add(Condition::all().add(col.eq(value)).add(tie))
}

/// What a candidate row must also satisfy when the SQL condition is not exact.
struct Checks {
    filter: EntityFilter,
    predicate: Option<Predicate>,
}

impl Checks {
    fn matches(&self, e: &StoredEntity, rels: &[StoredRelation]) -> bool {
        self.filter.matches(e, rels)
            && self
                .predicate
                .as_ref()
                .is_none_or(|p| p.matches(&super::view::entity_json(e, rels)))
    }
}

/// The filter's SQL condition plus the text term, and whether it is exact. A predicate narrows the rows
/// by the kinds, namespaces and names it requires, and is checked on each.
fn base_condition(
    backend: sea_orm::DbBackend,
    spec: &Spec,
) -> Result<(Checks, Condition, bool), CatalogError> {
    let filter = EntityFilter::parse(&spec.filter)?;
    let (cond, mut exact) = filter.condition();
    let mut cond = Condition::all()
        .add(cond)
        .add(crate::catalog::search::text_condition(
            backend,
            spec.text.as_deref(),
        ));
    let predicate = spec.predicate.as_ref().map(Predicate::parse).transpose()?;
    if let Some(p) = &predicate {
        exact = false;
        for (key, col) in [
            ("kind", entities::Column::Kind),
            ("metadata.namespace", entities::Column::Namespace),
            ("metadata.name", entities::Column::Name),
        ] {
            if let Some(values) = p.required_values(key) {
                cond = cond.add(col.is_in(values));
            }
        }
    }
    Ok((Checks { filter, predicate }, cond, exact))
}

/// Entities and their relations for `refs`, in the order of `refs` (missing ones skipped).
pub async fn load(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    refs: &[String],
) -> Result<Vec<Loaded>, CatalogError> {
    let found = cache.entities_by_refs(db, refs).await?;
    let by_ref: BTreeMap<&str, &Arc<StoredEntity>> =
        found.iter().map(|e| (e.entity_ref.as_str(), e)).collect();
    let keys: Vec<(String, String)> = refs
        .iter()
        .filter(|r| by_ref.contains_key(r.as_str()))
        .map(|r| (r.clone(), ANY_TYPE.to_string()))
        .collect();
    let rels = cache.relations(db, &keys).await?;
    Ok(refs
        .iter()
        .filter_map(|r| {
            let e = by_ref.get(r.as_str())?;
            let rel = rels
                .get(&(r.clone(), ANY_TYPE.to_string()))
                .cloned()
                .unwrap_or_default();
            Some(((*e).clone(), rel))
        })
        .collect())
}

/// Up to `limit` matching entities from `position` (skipping `offset` matches first).
pub async fn page(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    spec: &Spec,
    position: &Position,
    limit: u64,
    offset: u64,
) -> Result<Page, CatalogError> {
    let (checks, base, exact) = base_condition(db.get_database_backend(), spec)?;
    let backwards = matches!(position, Position::Before(..));
    let ascending = spec.descending == backwards;
    let dir = if ascending { Order::Asc } else { Order::Desc };
    let mut from = match position {
        Position::Start => None,
        Position::After(v, r) | Position::Before(v, r) => Some((v.clone(), r.clone())),
    };
    let batch = if exact {
        limit + 1
    } else {
        (limit + 1).max(200)
    };
    let mut skip = offset;
    let mut items = Vec::new();
    loop {
        let mut cond = base.clone();
        if let Some((v, r)) = &from {
            cond = cond.add(keyset(spec.sort, v, r, ascending));
        }
        let mut q = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .filter(cond)
            .order_by(spec.sort.column(), dir.clone())
            .order_by(entities::Column::EntityRef, dir.clone())
            .limit(batch);
        if exact && skip > 0 {
            q = q.offset(skip);
            skip = 0;
        }
        let refs: Vec<String> = q.into_tuple().all(db).await?;
        let done = (refs.len() as u64) < batch;
        let loaded = load(db, cache, &refs).await?;
        let stalled = loaded.is_empty();
        for (e, rels) in loaded {
            from = Some(key_of(&e, spec.sort));
            if !exact && !checks.matches(&e, &rels) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            items.push((e, rels));
        }
        if exact || done || stalled || items.len() as u64 > limit {
            break;
        }
    }
    let more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    if backwards {
        items.reverse();
    }
    Ok(Page { items, more })
}

/// How many entities match `spec`: counted once per catalog change (the read cache keeps the count).
pub async fn count(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    spec: &Spec,
) -> Result<u64, CatalogError> {
    let key =
        serde_json::to_string(&(&spec.filter, &spec.text, &spec.predicate)).unwrap_or_default();
    let (kept, generation) = cache.count(&key);
    if let Some(n) = kept {
        return Ok(n);
    }
    let n = count_now(db, cache, spec).await?;
    cache.put_count(generation, key, n);
    Ok(n)
}

async fn count_now(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    spec: &Spec,
) -> Result<u64, CatalogError> {
    let (_, cond, exact) = base_condition(db.get_database_backend(), spec)?;
    if exact {
        return Ok(entities::Entity::find().filter(cond).count(db).await?);
    }
    let mut n = 0;
    let mut position = Position::Start;
    loop {
        let p = page(db, cache, spec, &position, MAX_LIMIT, 0).await?;
        n += p.items.len() as u64;
        match p.items.last() {
            Some((e, _)) if p.more => {
                let (v, r) = key_of(e, spec.sort);
                position = Position::After(v, r);
            }
            _ => return Ok(n),
        }
    }
}

/// Every matching entity, in order (`GET /entities` without a limit).
pub async fn all(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    spec: &Spec,
    mut position: Position,
    mut offset: u64,
) -> Result<Vec<Loaded>, CatalogError> {
    let mut out = Vec::new();
    loop {
        let p = page(db, cache, spec, &position, MAX_LIMIT, offset).await?;
        offset = 0;
        let next = p.items.last().map(|(e, _)| key_of(e, spec.sort));
        out.extend(p.items);
        match next {
            Some((v, r)) if p.more => position = Position::After(v, r),
            _ => return Ok(out),
        }
    }
}

/// The entity with this `metadata.uid`.
pub async fn by_uid(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    uid: &str,
) -> Result<Option<Loaded>, CatalogError> {
    let r: Option<String> = entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .filter(entities::Column::Uid.eq(uid.trim().to_ascii_lowercase()))
        .into_tuple()
        .one(db)
        .await?;
    match r {
        Some(r) => Ok(load(db, cache, &[r]).await?.into_iter().next()),
        None => Ok(None),
    }
}

/// Counts of each value of `facet` (a field path) among the entities matching `spec`, most frequent
/// first. Values are reported as written in the documents.
pub async fn facet_counts(
    db: &impl ConnectionTrait,
    cache: &EntityCache,
    spec: &Spec,
    facets: &[String],
) -> Result<BTreeMap<String, Vec<(String, u64)>>, CatalogError> {
    let (f, text, q) = (&spec.filter, spec.text.as_deref(), spec.predicate.is_some());
    if let Some(counted) = crate::catalog::facet_counts::for_rest(db, f, text, q, facets).await? {
        return Ok(counted);
    }
    let entities = all(db, cache, spec, Position::Start, 0).await?;
    let mut out = BTreeMap::new();
    for facet in facets {
        let key = facet.to_lowercase();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (e, rels) in &entities {
            let mut values = super::filter::original_values(e.body(), rels, &key);
            values.sort();
            values.dedup();
            for v in values {
                *counts.entry(v).or_default() += 1;
            }
        }
        let mut list: Vec<(String, u64)> = counts.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.insert(facet.clone(), list);
    }
    Ok(out)
}
