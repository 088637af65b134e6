//! Look-ahead prefetch for lists of entities: per nesting level, one relations query and one entities query
//! for the whole list, whatever its size. Per-item resolvers then hit the request-scoped loader cache, so the
//! statement count of a nested page query does not depend on timing or page size.

use async_graphql::{Context, Lookahead};
use futures_util::future::BoxFuture;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::context::{database, read_cache};
use super::errors::GqlResultExt;
use super::loaders::{self, RelKey};
use super::types::fields::RELATION_FIELDS;
use super::types::spec_ref;
use crate::catalog::store::{StoredEntity, StoredRelation, ANY_TYPE};

/// GraphQL fields resolved from a spec ref: (field, spec key, default kind).
const SPEC_FIELDS: &[(&str, &str, &str)] = &[
    ("domain", "domain", "domain"),
    ("subcomponentOf", "subcomponentOf", "component"),
    ("subdomainOf", "subdomainOf", "domain"),
    ("parent", "parent", "group"),
];

/// Target refs to load for the next level, by the field that reaches them.
type Targets = HashMap<&'static str, Vec<String>>;

/// Loads entities by ref directly (no batching delay at the root), seeds the request cache, and prefetches
/// what the selection needs from them.
pub async fn fetch_refs(
    ctx: &Context<'_>,
    refs: &[String],
) -> async_graphql::Result<Vec<Arc<StoredEntity>>> {
    let found = loaders::load_entities(ctx, refs).await?;
    let rows: Vec<Arc<StoredEntity>> = refs.iter().filter_map(|r| found.get(r).cloned()).collect();
    prefetch(ctx, ctx.look_ahead(), rows.clone()).await?;
    Ok(rows)
}

/// Warms the loaders for `items` and everything `selection` asks of them, level by level.
pub fn prefetch<'a>(
    ctx: &'a Context<'a>,
    selection: Lookahead<'a>,
    items: Vec<Arc<StoredEntity>>,
) -> BoxFuture<'a, async_graphql::Result<()>> {
    Box::pin(async move {
        if items.is_empty() {
            return Ok(());
        }
        let wanted = Wanted::of(&selection);
        let mut per_field = relation_targets(ctx, &wanted, &items).await?;
        ref_targets(&selection, &items, &mut per_field);
        next_level(ctx, selection, per_field).await
    })
}

/// What a selection asks of relations.
struct Wanted {
    /// The relation fields selected, with the relation type each follows.
    fields: Vec<(&'static str, &'static str)>,
    /// `relations` is selected (every type is loaded) ...
    relations: bool,
    /// ... with its `target`.
    relation_targets: bool,
}

impl Wanted {
    /// The relation fields and `relations` that `selection` selects.
    fn of(selection: &Lookahead<'_>) -> Self {
        let relations = selection.field("relations");
        Self {
            fields: RELATION_FIELDS
                .iter()
                .copied()
                .filter(|(f, _)| selection.field(f).exists())
                .collect(),
            relations: relations.exists(),
            relation_targets: relations.field("target").exists(),
        }
    }
}

/// Loads the relations `wanted` of `items` in one query, seeds the relations loader with them, and
/// returns the targets of each selected relation field (and of `relations { target }`).
async fn relation_targets(
    ctx: &Context<'_>,
    wanted: &Wanted,
    items: &[Arc<StoredEntity>],
) -> async_graphql::Result<Targets> {
    let mut per_field = Targets::new();
    if wanted.fields.is_empty() && !wanted.relations {
        return Ok(per_field);
    }
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut types: BTreeSet<&str> = wanted.fields.iter().map(|(_, t)| *t).collect();
    if wanted.relations {
        types = BTreeSet::from([ANY_TYPE]);
    }
    for e in items {
        for t in &types {
            keys.push((e.entity_ref.clone(), t.to_string()));
        }
    }
    // Straight to the read cache (no loader delay), then seeded into the request's loader.
    let rels = read_cache(ctx)?
        .relations(database(ctx)?, &keys)
        .await
        .gql()?;
    loaders::relations(ctx)?
        .feed_many(rels.iter().map(|(k, v)| (k.clone(), v.clone())))
        .await;
    for r in rels.values().flat_map(|v| v.iter()) {
        for (field, ty) in &wanted.fields {
            if *ty == r.rel_type {
                per_field
                    .entry(field)
                    .or_default()
                    .push(r.target_ref.clone());
            }
        }
        if wanted.relation_targets {
            per_field
                .entry("relations")
                .or_default()
                .push(r.target_ref.clone());
        }
    }
    if wanted.relations {
        seed_typed(ctx, items, &rels, &wanted.fields).await?;
    }
    Ok(per_field)
}

/// Seeds the per-type relation lookups of `items` from their ANY_TYPE rows, so the relation fields
/// selected beside `relations` are answered without a query.
async fn seed_typed(
    ctx: &Context<'_>,
    items: &[Arc<StoredEntity>],
    rels: &HashMap<RelKey, Arc<Vec<StoredRelation>>>,
    fields: &[(&'static str, &'static str)],
) -> async_graphql::Result<()> {
    let mut seed: Vec<(RelKey, Arc<Vec<StoredRelation>>)> = Vec::new();
    for e in items {
        let Some(list) = rels.get(&(e.entity_ref.clone(), ANY_TYPE.to_string())) else {
            continue;
        };
        for (_, ty) in fields {
            let typed: Vec<StoredRelation> =
                list.iter().filter(|r| r.rel_type == *ty).cloned().collect();
            seed.push(((e.entity_ref.clone(), ty.to_string()), Arc::new(typed)));
        }
    }
    loaders::relations(ctx)?.feed_many(seed).await;
    Ok(())
}

/// Adds the targets of the selected ref fields: `owner`, `system` (columns) and the spec refs.
fn ref_targets(selection: &Lookahead<'_>, items: &[Arc<StoredEntity>], per_field: &mut Targets) {
    for (field, col) in [("owner", true), ("system", false)] {
        if selection.field(field).exists() {
            let refs = items.iter().filter_map(|e| {
                if col {
                    e.owner_ref.clone()
                } else {
                    e.system_ref.clone()
                }
            });
            per_field.entry(field).or_default().extend(refs);
        }
    }
    for (field, key, kind) in SPEC_FIELDS {
        if selection.field(field).exists() {
            let refs = items.iter().filter_map(|e| spec_ref(e, key, kind));
            per_field.entry(field).or_default().extend(refs);
        }
    }
}

/// Loads every target in one batch, then prefetches each field's targets with that field's own
/// sub-selection (when it asks for more than the targets' own columns).
async fn next_level<'a>(
    ctx: &'a Context<'a>,
    selection: Lookahead<'a>,
    per_field: Targets,
) -> async_graphql::Result<()> {
    let mut all_targets: Vec<&String> = per_field.values().flatten().collect();
    if all_targets.is_empty() {
        return Ok(());
    }
    all_targets.sort_unstable();
    all_targets.dedup();
    let all_targets: Vec<String> = all_targets.into_iter().cloned().collect();
    let found = loaders::load_entities(ctx, &all_targets).await?;
    for (field, refs) in per_field {
        let sub = if field == "relations" {
            selection.field("relations").field("target")
        } else {
            selection.field(field)
        };
        if !reaches_further(&sub) {
            continue;
        }
        let unique: BTreeSet<&String> = refs.iter().collect();
        let next: Vec<Arc<StoredEntity>> = unique
            .into_iter()
            .filter_map(|r| found.get(r).cloned())
            .collect();
        prefetch(ctx, sub, next).await?;
    }
    Ok(())
}

/// True when `selection` asks for relations or for entities by ref (what [`prefetch`] loads); a
/// selection of columns only (`{ ref name }`) needs nothing more.
fn reaches_further(selection: &Lookahead<'_>) -> bool {
    selection.field("relations").exists()
        || RELATION_FIELDS
            .iter()
            .any(|(f, _)| selection.field(f).exists())
        || ["owner", "system"]
            .iter()
            .chain(SPEC_FIELDS.iter().map(|(f, _, _)| f))
            .any(|f| selection.field(f).exists())
}
