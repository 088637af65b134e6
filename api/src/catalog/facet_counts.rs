//! Facet counts kept by ingest: `facet_counts (field, kind, value, n)` says how many entities of a kind
//! have each value of a counted field. Every write of `entities` and `entity_search` (ingest, refresh,
//! unregister, removal by ref or uid) goes through [`Deltas`] and applies them in its own transaction,
//! so a facet whose filter is empty or constrains only the kind reads a few rows, whatever the size of
//! the catalog. Three families of fields are counted, each exactly as its read path derives values:
//! `c:<column>` (the `entities` columns GraphQL facets group by), `s:<key>` (the `entity_search` rows
//! of tags and labels) and `d:<path>` (values as written in the documents, for the REST API's facets).

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, IdenStatic, JoinType,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, RelationTrait,
};
use serde_json::Value;
use std::collections::BTreeMap;

use super::backstage::filter::{original_fields, EntityFilter};
use super::CatalogError;
use entity::facet_counts as table;
use entity::{entities, entity_search};

/// The `entities` columns counted (GraphQL's column facets).
const COLUMNS: [entities::Column; 8] = [
    entities::Column::Kind,
    entities::Column::Namespace,
    entities::Column::SpecType,
    entities::Column::Lifecycle,
    entities::Column::OwnerRef,
    entities::Column::SystemRef,
    entities::Column::ManagedByLocation,
    entities::Column::ManagedByOrigin,
];

/// Document paths counted (the REST API's facets), besides every `metadata.labels.<key>`.
const DOC_FIELDS: [&str; 7] = [
    "kind",
    "metadata.namespace",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
    "spec.system",
    "metadata.tags",
];

/// Rows per upsert (4 values each) and keys per delete.
const UPSERT_CHUNK: usize = 200;
const DELETE_CHUNK: usize = 100;

/// The counted field of an `entities` column, if it is counted.
pub fn column_field(col: entities::Column) -> Option<String> {
    let name = col.as_str();
    COLUMNS
        .iter()
        .any(|c| c.as_str() == name)
        .then(|| format!("c:{name}"))
}

/// The counted field of an `entity_search` key (`tag`, `label:<key>`), if it is counted.
pub fn search_field(key: &str) -> Option<String> {
    (key == "tag" || key.starts_with("label:")).then(|| format!("s:{key}"))
}

/// The counted field of a (lowercase) document path, if it is counted.
pub fn doc_field(path: &str) -> Option<String> {
    (DOC_FIELDS.contains(&path) || path.starts_with("metadata.labels."))
        .then(|| format!("d:{path}"))
}

/// The kind of a ref (`kind:namespace/name`).
fn kind_of(entity_ref: &str) -> &str {
    entity_ref.split(':').next().unwrap_or_default()
}

/// Count changes of one write transaction, by (field, kind, value); applied in key order, so concurrent
/// writers on PostgreSQL lock the rows they share in the same order.
#[derive(Default)]
pub(super) struct Deltas(BTreeMap<(String, String, String), i64>);

impl Deltas {
    fn add(&mut self, field: String, kind: &str, value: String, delta: i64) {
        *self.0.entry((field, kind.to_string(), value)).or_default() += delta;
    }

    /// Counts an entity row written (`sign` 1) or deleted (-1): its columns and its document.
    fn entity(&mut self, sign: i64, columns: &[(entities::Column, Option<String>)], body: &Value) {
        let kind = columns
            .iter()
            .find(|(c, _)| matches!(c, entities::Column::Kind))
            .and_then(|(_, v)| v.clone())
            .unwrap_or_default();
        for (col, value) in columns {
            if let (Some(field), Some(v)) = (column_field(*col), value) {
                self.add(field, &kind, v.clone(), sign);
            }
        }
        for (path, mut values) in original_fields(body) {
            if let Some(field) = doc_field(&path) {
                values.sort();
                values.dedup();
                for v in values {
                    self.add(field.clone(), &kind, v, sign);
                }
            }
        }
    }

    /// Counts an inserted `entities` row with its document.
    pub(super) fn inserted(&mut self, row: &entities::ActiveModel, body: &Value) {
        use sea_orm::ActiveModelTrait;
        let columns: Vec<(entities::Column, Option<String>)> = COLUMNS
            .iter()
            .map(|c| {
                let v = match row.get(*c).into_value() {
                    Some(sea_orm::Value::String(Some(s))) => Some(s),
                    _ => None,
                };
                (*c, v)
            })
            .collect();
        self.entity(1, &columns, body);
    }

    /// Counts an `entity_search` row written (`sign` 1) or deleted (-1).
    pub(super) fn search(&mut self, sign: i64, entity_ref: &str, key: &str, value: Option<&str>) {
        if let (Some(field), Some(v)) = (search_field(key), value) {
            self.add(field, kind_of(entity_ref), v.to_string(), sign);
        }
    }

    /// Applies the changes (in the caller's transaction) and forgets them.
    pub(super) async fn flush(&mut self, txn: &impl ConnectionTrait) -> Result<(), CatalogError> {
        let changes: Vec<((String, String, String), i64)> = std::mem::take(&mut self.0)
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .collect();
        for chunk in changes.chunks(UPSERT_CHUNK) {
            let mut insert = Query::insert();
            insert.into_table(table::Entity).columns([
                table::Column::Field,
                table::Column::Kind,
                table::Column::Value,
                table::Column::N,
            ]);
            for ((field, kind, value), d) in chunk {
                insert.values_panic([
                    field.clone().into(),
                    kind.clone().into(),
                    value.clone().into(),
                    (*d).into(),
                ]);
            }
            insert.on_conflict(
                OnConflict::columns([
                    table::Column::Field,
                    table::Column::Kind,
                    table::Column::Value,
                ])
                .value(table::Column::N, Expr::cust("facet_counts.n + excluded.n"))
                .to_owned(),
            );
            txn.execute(&insert).await?;
        }
        let lowered: Vec<&(String, String, String)> = changes
            .iter()
            .filter(|(_, d)| *d < 0)
            .map(|(k, _)| k)
            .collect();
        for chunk in lowered.chunks(DELETE_CHUNK) {
            let mut any = Condition::any();
            for (field, kind, value) in chunk {
                any = any.add(
                    Condition::all()
                        .add(table::Column::Field.eq(field.as_str()))
                        .add(table::Column::Kind.eq(kind.as_str()))
                        .add(table::Column::Value.eq(value.as_str())),
                );
            }
            table::Entity::delete_many()
                .filter(any)
                .filter(table::Column::N.lte(0))
                .exec(txn)
                .await?;
        }
        Ok(())
    }
}

/// Deletes the `entity_search` rows of `refs`, counting what they held.
pub(super) async fn delete_search_rows(
    txn: &impl ConnectionTrait,
    refs: &[String],
    deltas: &mut Deltas,
) -> Result<(), CatalogError> {
    let mut delete = Query::delete();
    delete
        .from_table(entity_search::Entity)
        .and_where(entity_search::Column::EntityRef.is_in(refs.iter().cloned()))
        .returning(Query::returning().columns([
            entity_search::Column::EntityRef,
            entity_search::Column::Key,
            entity_search::Column::Value,
        ]));
    let backend = txn.get_database_backend();
    for row in txn.query_all_raw(backend.build(&delete)).await? {
        let r: String = row.try_get("", "entity_ref")?;
        let key: String = row.try_get("", "key")?;
        let value: Option<String> = row.try_get("", "value")?;
        deltas.search(-1, &r, &key, value.as_deref());
    }
    Ok(())
}

/// Deletes the `entities` rows with `ids`, counting what they held.
pub(super) async fn delete_entity_rows(
    txn: &impl ConnectionTrait,
    ids: &[i32],
    deltas: &mut Deltas,
) -> Result<(), CatalogError> {
    let mut returning: Vec<entities::Column> = COLUMNS.to_vec();
    returning.push(entities::Column::Body);
    let mut delete = Query::delete();
    delete
        .from_table(entities::Entity)
        .and_where(entities::Column::Id.is_in(ids.iter().copied()))
        .returning(Query::returning().columns(returning));
    let backend = txn.get_database_backend();
    for row in txn.query_all_raw(backend.build(&delete)).await? {
        count_entity_row(&row, -1, deltas)?;
    }
    Ok(())
}

/// Counts a read `entities` row (its counted columns and `body`).
fn count_entity_row(row: &QueryResult, sign: i64, deltas: &mut Deltas) -> Result<(), CatalogError> {
    let mut columns = Vec::with_capacity(COLUMNS.len());
    for c in COLUMNS {
        let v: Option<String> = row.try_get("", c.as_str())?;
        columns.push((c, v));
    }
    let body: String = row.try_get("", "body")?;
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    deltas.entity(sign, &columns, &body);
    Ok(())
}

/// `(value, count)` of `field` (a counted field) among entities of `kinds` (lowercase; empty: every
/// kind), unordered.
pub async fn counts(
    db: &impl ConnectionTrait,
    field: &str,
    kinds: &[String],
) -> Result<Vec<(String, u64)>, CatalogError> {
    let mut q = table::Entity::find()
        .select_only()
        .column(table::Column::Value)
        .column_as(Expr::cust("CAST(SUM(n) AS BIGINT)"), "total")
        .filter(table::Column::Field.eq(field));
    if !kinds.is_empty() {
        q = q.filter(table::Column::Kind.is_in(kinds.iter().cloned()));
    }
    let rows: Vec<(String, i64)> = q
        .group_by(table::Column::Value)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| (v, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// Most frequent first, then by value.
fn sorted(mut list: Vec<(String, u64)>) -> Vec<(String, u64)> {
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

/// The REST API's facets from the counts, when they can answer: no text, no predicate, a filter that
/// constrains only the kind, and counted fields only. `None`: the caller counts the matching entities.
pub async fn for_rest(
    db: &impl ConnectionTrait,
    filter: &[String],
    text: Option<&str>,
    has_predicate: bool,
    facets: &[String],
) -> Result<Option<BTreeMap<String, Vec<(String, u64)>>>, CatalogError> {
    if has_predicate || text.is_some_and(|t| !t.trim().is_empty()) {
        return Ok(None);
    }
    let Some(kinds) = rest_kinds(&EntityFilter::parse(filter)?) else {
        return Ok(None);
    };
    let Some(fields) = facets
        .iter()
        .map(|f| doc_field(&f.to_lowercase()))
        .collect::<Option<Vec<String>>>()
    else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    for (facet, field) in facets.iter().zip(fields) {
        out.insert(facet.clone(), sorted(counts(db, &field, &kinds).await?));
    }
    Ok(Some(out))
}

/// The kinds a REST filter allows when it constrains nothing else (empty: every kind).
fn rest_kinds(filter: &EntityFilter) -> Option<Vec<String>> {
    let mut kinds = Vec::new();
    for set in &filter.sets {
        match set.as_slice() {
            [c] if c.key == "kind" => match &c.values {
                Some(v) => kinds.extend(v.iter().cloned()),
                // `kind` exists on every entity: this set admits them all.
                None => return Some(Vec::new()),
            },
            _ => return None,
        }
    }
    kinds.sort();
    kinds.dedup();
    Some(kinds)
}

/// Rebuilds the counts from the stored entities when the migration asked for it (a database that held
/// entities before the counts existed); true when it did.
pub async fn rebuild_if_marked(db: &DatabaseConnection) -> Result<bool, CatalogError> {
    let marked = table::Entity::find()
        .filter(table::Column::Field.eq(migration::FACET_REBUILD_MARKER))
        .one(db)
        .await?
        .is_some();
    if !marked {
        return Ok(false);
    }
    let txn = crate::db::begin_write(db).await?;
    rebuild(&txn).await?;
    txn.commit().await?;
    Ok(true)
}

/// Replaces every count by one computed from the stored entities and search rows.
pub async fn rebuild(txn: &impl ConnectionTrait) -> Result<(), CatalogError> {
    table::Entity::delete_many().exec(txn).await?;
    let mut deltas = Deltas::default();
    let mut last = 0;
    let mut select: Vec<entities::Column> = COLUMNS.to_vec();
    select.extend([entities::Column::Body, entities::Column::Id]);
    loop {
        let q = entities::Entity::find()
            .select_only()
            .columns(select.clone())
            .filter(entities::Column::Id.gt(last))
            .order_by_asc(entities::Column::Id)
            .limit(500)
            .build(txn.get_database_backend());
        let rows = txn.query_all_raw(q).await?;
        let Some(end) = rows.last() else { break };
        last = end.try_get::<i32>("", "id")?;
        for row in &rows {
            count_entity_row(row, 1, &mut deltas)?;
        }
    }
    let mut last = 0;
    loop {
        let rows: Vec<(i32, String, String, Option<String>)> = entity_search::Entity::find()
            .select_only()
            .columns([
                entity_search::Column::Id,
                entity_search::Column::EntityRef,
                entity_search::Column::Key,
                entity_search::Column::Value,
            ])
            .join(JoinType::InnerJoin, entity_search::Relation::Entity.def())
            .filter(entity_search::Column::Id.gt(last))
            .order_by_asc(entity_search::Column::Id)
            .limit(2000)
            .into_tuple()
            .all(txn)
            .await?;
        let Some(end) = rows.last() else { break };
        last = end.0;
        for (_, r, key, value) in &rows {
            deltas.search(1, r, key, value.as_deref());
        }
    }
    deltas.flush(txn).await
}
