//! Listing: composable filters, text search, keyset pagination with opaque cursors, counts and facets.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, RelationTrait,
};

use super::refs::{EntityRef, DEFAULT_NAMESPACE};
use super::store::builtin_kind;
pub(crate) use super::text_match::text_condition;
pub use super::text_match::Text;
use super::CatalogError;
use entity::{entities, entity_search};

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 500;

/// A filter over entities; every list is any-of, fields are all-of, and `and`/`or`/`not` compose.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kind: Vec<String>,
    pub namespace: Vec<String>,
    pub owner: Vec<String>,
    pub lifecycle: Vec<String>,
    pub spec_type: Vec<String>,
    pub tag: Vec<String>,
    pub system: Vec<String>,
    pub label: Vec<String>,
    pub annotation: Vec<String>,
    pub has_errors: Option<bool>,
    pub and: Vec<Filter>,
    pub or: Vec<Filter>,
    pub not: Option<Box<Filter>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrderField {
    #[default]
    Ref,
    Name,
    Kind,
    /// Word search relevance (see [`super::word_search`]); needs a word query.
    Relevance,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Ordering {
    pub field: OrderField,
    pub descending: bool,
}

#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    pub first: Option<i64>,
    pub after: Option<String>,
    pub last: Option<i64>,
    pub before: Option<String>,
}

#[derive(Debug)]
/// A page of refs with their cursors; callers fetch the entities (through the read cache).
pub struct Page {
    pub items: Vec<(String, String)>,
    pub has_next: bool,
    pub has_previous: bool,
    /// The bounded count of every match ([`count_bounded`] up to [`MAX_EXACT_COUNT`]), when the
    /// listing learned it on the way (a word query and no filter, on SQLite).
    pub count: Option<(u64, bool)>,
}

fn bad(msg: impl Into<String>) -> CatalogError {
    CatalogError::InvalidInput(msg.into())
}

fn lowered(v: &[String]) -> Vec<String> {
    v.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
}

fn refs(v: &[String], default_kind: &str) -> Result<Vec<String>, CatalogError> {
    v.iter()
        .map(|s| {
            EntityRef::parse(s, Some(default_kind), DEFAULT_NAMESPACE)
                .map(|r| r.to_string())
                .map_err(CatalogError::from)
        })
        .collect()
}

fn search_exists(key: String, value: Option<Vec<String>>) -> SimpleExpr {
    let mut sub = Query::select();
    sub.expr(Expr::val(1))
        .from(entity_search::Entity)
        .and_where(
            Expr::col((entity_search::Entity, entity_search::Column::EntityRef))
                .equals((entities::Entity, entities::Column::EntityRef)),
        )
        .and_where(entity_search::Column::Key.eq(key));
    if let Some(values) = value {
        sub.and_where(entity_search::Column::Value.is_in(values));
    }
    Expr::exists(sub)
}

fn key_value_filters(items: &[String], prefix: &str) -> Result<Condition, CatalogError> {
    let mut any = Condition::any();
    for item in items {
        let (k, v) = match item.split_once('=') {
            Some((k, v)) => (k.trim(), Some(vec![v.trim().to_string()])),
            None => (item.trim(), None),
        };
        if k.is_empty() {
            return Err(bad(format!(
                "{prefix} filter '{item}' needs a key: use 'key' or 'key=value'"
            )));
        }
        let column = super::rows::MANAGED_BY
            .iter()
            .find(|(key, _)| prefix == "annotation" && *key == k)
            .map(|(_, col)| *col);
        any = match (column, v) {
            (Some(col), Some(v)) => any.add(col.is_in(v)),
            (Some(col), None) => any.add(col.is_not_null()),
            (None, v) => any.add(search_exists(format!("{prefix}:{k}"), v)),
        };
    }
    Ok(any)
}

impl Filter {
    /// The SQL condition for this filter over the `entities` table.
    pub fn condition(&self) -> Result<Condition, CatalogError> {
        let mut all = Condition::all();
        let cols = [
            (&self.kind, entities::Column::Kind),
            (&self.namespace, entities::Column::Namespace),
            (&self.lifecycle, entities::Column::Lifecycle),
            (&self.spec_type, entities::Column::SpecType),
        ];
        for (values, col) in cols {
            if !values.is_empty() {
                all = all.add(col.is_in(lowered(values)));
            }
        }
        if !self.owner.is_empty() {
            all = all.add(entities::Column::OwnerRef.is_in(refs(&self.owner, "group")?));
        }
        if !self.system.is_empty() {
            all = all.add(entities::Column::SystemRef.is_in(refs(&self.system, "system")?));
        }
        if !self.tag.is_empty() {
            all = all.add(search_exists("tag".into(), Some(lowered(&self.tag))));
        }
        if !self.label.is_empty() {
            all = all.add(key_value_filters(&self.label, "label")?);
        }
        if !self.annotation.is_empty() {
            all = all.add(key_value_filters(&self.annotation, "annotation")?);
        }
        if let Some(h) = self.has_errors {
            all = all.add(entities::Column::HasErrors.eq(h));
        }
        for f in &self.and {
            all = all.add(f.condition()?);
        }
        if !self.or.is_empty() {
            let mut any = Condition::any();
            for f in &self.or {
                any = any.add(f.condition()?);
            }
            all = all.add(any);
        }
        if let Some(n) = &self.not {
            all = all.add(n.condition()?.not());
        }
        Ok(all)
    }
}

fn order_column(field: OrderField) -> Option<entities::Column> {
    match field {
        OrderField::Ref => None,
        OrderField::Name => Some(entities::Column::Name),
        OrderField::Kind => Some(entities::Column::Kind),
        OrderField::Relevance => Some(entities::Column::Name),
    }
}

/// Cursor = base64url(JSON [sortValue?, ref]).
fn encode_cursor(sort_value: Option<&str>, entity_ref: &str) -> String {
    let v = match sort_value {
        Some(s) => serde_json::json!([s, entity_ref]),
        None => serde_json::json!([entity_ref]),
    };
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn decode_cursor(
    field: OrderField,
    cursor: &str,
) -> Result<(Option<String>, String), CatalogError> {
    let invalid = || bad(format!("invalid cursor '{cursor}' for this ordering"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let v: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match (field, v.as_slice()) {
        (OrderField::Ref, [r]) => Ok((None, r.clone())),
        (OrderField::Name | OrderField::Kind | OrderField::Relevance, [s, r]) => {
            Ok((Some(s.clone()), r.clone()))
        }
        _ => Err(invalid()),
    }
}

/// Rows strictly after (`forward`) or before the cursor position in ascending (col, ref) order.
fn keyset(field: OrderField, cursor: &str, greater: bool) -> Result<Condition, CatalogError> {
    let (sv, r) = decode_cursor(field, cursor)?;
    let ref_cmp = |r: String| {
        if greater {
            entities::Column::EntityRef.gt(r)
        } else {
            entities::Column::EntityRef.lt(r)
        }
    };
    Ok(match (order_column(field), sv) {
        (Some(col), Some(v)) => {
            let strict = if greater {
                col.gt(v.clone())
            } else {
                col.lt(v.clone())
            };
            Condition::any()
                .add(strict)
                .add(Condition::all().add(col.eq(v)).add(ref_cmp(r)))
        }
        _ => Condition::all().add(ref_cmp(r)),
    })
}

fn page_size(v: Option<i64>, name: &str) -> Result<Option<u64>, CatalogError> {
    match v {
        None => Ok(None),
        Some(n) if n < 0 => Err(bad(format!("'{name}' must not be negative"))),
        Some(n) if n as u64 > MAX_PAGE => {
            Err(bad(format!("'{name}' must be at most {MAX_PAGE}, got {n}")))
        }
        Some(n) => Ok(Some(n as u64)),
    }
}

/// One page of entities matching `filter` and `text`, in `ordering`, positioned by `page`.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    text: &Text,
    ordering: Ordering,
    page: &PageRequest,
) -> Result<Page, CatalogError> {
    let first = page_size(page.first, "first")?;
    let last = page_size(page.last, "last")?;
    let backwards = last.is_some() && first.is_none();
    let limit = if backwards { last } else { first }.unwrap_or(DEFAULT_PAGE);
    let filtered = filter.condition()?;
    // Without a filter, the text's match count (when the listing learns it) is the count.
    let unfiltered = filtered.is_empty();
    let count_of = |n: Option<u64>| n.filter(|_| unfiltered).map(bounded);
    if ordering.field == OrderField::Relevance {
        let (rows, n) =
            by_relevance(db, filtered, text, ordering, page, (limit, backwards)).await?;
        return Ok(Page::from_rows(rows, limit, backwards, page).counted(count_of(n)));
    }
    let (text_cond, n) = text.listing(db).await?;
    let mut cond = filtered.add(text_cond);
    // In storage order (ascending), "after" means greater unless the ordering is descending.
    let asc = !ordering.descending;
    if let Some(a) = &page.after {
        cond = cond.add(keyset(ordering.field, a, asc)?);
    }
    if let Some(b) = &page.before {
        cond = cond.add(keyset(ordering.field, b, !asc)?);
    }
    let scan_asc = asc != backwards;
    let dir = if scan_asc { Order::Asc } else { Order::Desc };
    // Keys only: the (kind, ref) and (name, ref) indexes cover these, and rows come from the cache.
    let sort_col = order_column(ordering.field).unwrap_or(entities::Column::EntityRef);
    let mut q = entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .column_as(sort_col, "sort_value")
        .filter(cond);
    if let Some(col) = order_column(ordering.field) {
        q = q.order_by(col, dir.clone());
    }
    q = q
        .order_by(entities::Column::EntityRef, dir)
        .limit(limit + 1);
    let rows: Vec<(String, String)> = q.into_tuple().all(db).await?;
    let with_sort = order_column(ordering.field).is_some();
    let rows = rows
        .into_iter()
        .map(|(r, sv)| (encode_cursor(with_sort.then_some(sv.as_str()), &r), r))
        .collect();
    Ok(Page::from_rows(rows, limit, backwards, page).counted(count_of(n)))
}

impl Page {
    /// The page from up to `limit + 1` rows `(cursor, ref)` as read (`backwards`: in reverse, so
    /// they are put back in order), the extra row telling whether more lie that way.
    fn from_rows(
        mut rows: Vec<(String, String)>,
        limit: u64,
        backwards: bool,
        page: &PageRequest,
    ) -> Page {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        if backwards {
            rows.reverse();
        }
        Page {
            items: rows,
            has_next: if backwards {
                page.before.is_some()
            } else {
                more
            },
            has_previous: if backwards {
                more
            } else {
                page.after.is_some()
            },
            count: None,
        }
    }

    fn counted(self, count: Option<(u64, bool)>) -> Page {
        Page { count, ..self }
    }
}

/// Up to `limit + 1` rows `(cursor, ref)` in relevance order (see [`super::word_search`]), as read,
/// and the text's match count when the pages learned it.
async fn by_relevance(
    db: &impl ConnectionTrait,
    filter: Condition,
    text: &Text,
    ordering: Ordering,
    page: &PageRequest,
    (limit, backwards): (u64, bool),
) -> Result<(Vec<(String, String)>, Option<u64>), CatalogError> {
    let Some(q) = text.words() else {
        return Err(bad(
            "ordering by RELEVANCE needs a word query: pass `query` with a letter or digit (and not queryMatch: SUBSTRING)",
        ));
    };
    let asc = !ordering.descending;
    let (lo, hi) = if asc {
        (page.after.clone(), page.before.clone())
    } else {
        (page.before.clone(), page.after.clone())
    };
    let want = super::word_search::RelevancePage {
        lo,
        hi,
        limit,
        ascending: asc != backwards,
    };
    let (rows, n) = super::word_search::relevance_rows(db, filter, q, &want).await?;
    Ok((super::word_search::with_cursors(rows), n))
}

/// How far `totalCount` counts: past it, a count stops (and says it is not exact).
pub const MAX_EXACT_COUNT: u64 = 10_000;

/// Entities matching `filter` and `query`, counted up to `cap`: `(n, true)` when `n` is every match,
/// `(cap, false)` when there are more (at most `cap + 1` rows are read, whatever the match set).
pub async fn count_bounded(
    db: &impl ConnectionTrait,
    filter: &Filter,
    text: &Text,
    cap: u64,
) -> Result<(u64, bool), CatalogError> {
    let filtered = filter.condition()?;
    if let (Some(q), true) = (text.words(), filtered.is_empty()) {
        if let Some(n) = super::word_search::unfiltered_count(db, q, cap).await? {
            return Ok(capped(n, cap));
        }
    }
    let cond = filtered.add(text.condition(db.get_database_backend()));
    let inner = entities::Entity::find()
        .select_only()
        .column(entities::Column::EntityRef)
        .filter(cond)
        .limit(cap + 1)
        .into_query();
    let outer = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from_subquery(inner, Alias::new("bounded"))
        .to_owned();
    let row = db
        .query_one_raw(db.get_database_backend().build(&outer))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(capped(u64::try_from(n).unwrap_or(0), cap))
}

/// `n` matches as a count bounded by `cap`: `(n, true)`, or `(cap, false)` past it.
fn capped(n: u64, cap: u64) -> (u64, bool) {
    if n > cap {
        (cap, false)
    } else {
        (n, true)
    }
}

/// `n` matches as `totalCount` counts them (up to [`MAX_EXACT_COUNT`]).
fn bounded(n: u64) -> (u64, bool) {
    capped(n, MAX_EXACT_COUNT)
}

/// The facet source for a field name: a column of `entities`, or a key of `entity_search`.
enum FacetSource {
    Column(entities::Column),
    Search(String),
}

fn facet_source(field: &str) -> Result<FacetSource, CatalogError> {
    use entities::Column as C;
    Ok(match field {
        "kind" => FacetSource::Column(C::Kind),
        "namespace" | "metadata.namespace" => FacetSource::Column(C::Namespace),
        "type" | "spec.type" => FacetSource::Column(C::SpecType),
        "lifecycle" | "spec.lifecycle" => FacetSource::Column(C::Lifecycle),
        "owner" | "spec.owner" => FacetSource::Column(C::OwnerRef),
        "system" | "spec.system" => FacetSource::Column(C::SystemRef),
        "tag" | "tags" | "metadata.tags" => FacetSource::Search("tag".into()),
        other => {
            if let Some(k) = other
                .strip_prefix("metadata.labels.")
                .or_else(|| other.strip_prefix("label:"))
            {
                FacetSource::Search(format!("label:{k}"))
            } else if let Some(k) = other
                .strip_prefix("metadata.annotations.")
                .or_else(|| other.strip_prefix("annotation:"))
            {
                match super::rows::MANAGED_BY.iter().find(|(key, _)| *key == k) {
                    Some((_, col)) => FacetSource::Column(*col),
                    None => FacetSource::Search(format!("annotation:{k}")),
                }
            } else {
                return Err(bad(format!(
                    "unknown facet field '{other}'; use kind, namespace, type, lifecycle, owner, system, tag, metadata.labels.<key> or metadata.annotations.<key>"
                )));
            }
        }
    })
}

/// The kinds `filter` allows when it constrains nothing else (lowercase; empty: every kind), or `None`.
fn kinds_only(filter: &Filter) -> Option<Vec<String>> {
    let Filter {
        kind,
        namespace,
        owner,
        lifecycle,
        spec_type,
        tag,
        system,
        label,
        annotation,
        has_errors,
        and,
        or,
        not,
    } = filter;
    let others = [
        namespace, owner, lifecycle, spec_type, tag, system, label, annotation,
    ];
    let constrained = others.iter().any(|v| !v.is_empty())
        || has_errors.is_some()
        || !and.is_empty()
        || !or.is_empty()
        || not.is_some();
    (!constrained).then(|| lowered(kind))
}

/// Distinct values of `field` among entities matching `filter`, with counts, most frequent first. A
/// filter on the kind alone (or none) is answered from the counts ingest keeps
/// ([`super::facet_counts`]); any other filter groups the matching rows.
pub async fn facets(
    db: &impl ConnectionTrait,
    field: &str,
    filter: &Filter,
) -> Result<Vec<(String, u64)>, CatalogError> {
    let source = facet_source(field)?;
    let counted = match &source {
        FacetSource::Column(col) => super::facet_counts::column_field(*col),
        FacetSource::Search(key) => super::facet_counts::search_field(key),
    };
    let rows = match (counted, kinds_only(filter)) {
        (Some(counted), Some(kinds)) => super::facet_counts::counts(db, &counted, &kinds)
            .await?
            .into_iter()
            .map(|(v, n)| (Some(v), i64::try_from(n).unwrap_or(i64::MAX)))
            .collect(),
        _ => grouped(db, source, filter).await?,
    };
    let is_kind = field == "kind";
    let mut out: Vec<(String, u64)> = rows
        .into_iter()
        .filter_map(|(v, c)| {
            v.map(|v| {
                (
                    if is_kind {
                        builtin_kind(&v).map(str::to_string).unwrap_or(v)
                    } else {
                        v
                    },
                    u64::try_from(c).unwrap_or(0),
                )
            })
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// `(value, count)` of a facet source among the rows matching `filter`, by GROUP BY.
async fn grouped(
    db: &impl ConnectionTrait,
    source: FacetSource,
    filter: &Filter,
) -> Result<Vec<(Option<String>, i64)>, CatalogError> {
    let cond = filter.condition()?;
    let value = "facet_value";
    let n = "facet_count";
    Ok(match source {
        FacetSource::Column(col) => {
            entities::Entity::find()
                .select_only()
                .column_as(col, value)
                .column_as(Expr::cust("COUNT(*)"), n)
                .filter(cond)
                .filter(col.is_not_null())
                .group_by(col)
                .into_tuple()
                .all(db)
                .await?
        }
        FacetSource::Search(key) => {
            entity_search::Entity::find()
                .select_only()
                .column_as(entity_search::Column::Value, value)
                .column_as(Expr::cust("COUNT(*)"), n)
                .join(JoinType::InnerJoin, search_to_entity())
                .filter(entity_search::Column::Key.eq(key))
                .filter(entity_search::Column::Value.is_not_null())
                .filter(cond)
                .group_by(entity_search::Column::Value)
                .into_tuple()
                .all(db)
                .await?
        }
    })
}

fn search_to_entity() -> sea_orm::RelationDef {
    entity_search::Relation::Entity.def()
}
