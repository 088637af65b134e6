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
use super::types::spec_ref;
use crate::catalog::relations as rel;
use crate::catalog::store::{StoredEntity, StoredRelation, ANY_TYPE};

/// GraphQL fields resolved through relations, and the relation type each follows.
const RELATION_FIELDS: &[(&str, &str)] = &[
    ("dependsOn", rel::DEPENDS_ON),
    ("dependencyOf", rel::DEPENDENCY_OF),
    ("providesApis", rel::PROVIDES_API),
    ("consumesApis", rel::CONSUMES_API),
    ("providers", rel::API_PROVIDED_BY),
    ("consumers", rel::API_CONSUMED_BY),
    ("components", rel::HAS_PART),
    ("apis", rel::HAS_PART),
    ("resources", rel::HAS_PART),
    ("systems", rel::HAS_PART),
    ("subcomponents", rel::HAS_PART),
    ("subdomains", rel::HAS_PART),
    ("members", rel::HAS_MEMBER),
    ("memberOf", rel::MEMBER_OF),
    ("ownerOf", rel::OWNER_OF),
    ("children", rel::PARENT_OF),
    ("parent", rel::CHILD_OF),
];

/// GraphQL fields resolved from a spec ref: (field, spec key, default kind).
const SPEC_FIELDS: &[(&str, &str, &str)] = &[
    ("domain", "domain", "domain"),
    ("subcomponentOf", "subcomponentOf", "component"),
    ("subdomainOf", "subdomainOf", "domain"),
    ("parent", "parent", "group"),
];

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
        let rel_fields: Vec<(&str, &str)> = RELATION_FIELDS
            .iter()
            .copied()
            .filter(|(f, _)| selection.field(f).exists())
            .collect();
        let relations_wanted = selection.field("relations");
        let mut per_field: HashMap<&str, Vec<String>> = HashMap::new();

        if !rel_fields.is_empty() || relations_wanted.exists() {
            let mut keys: Vec<(String, String)> = Vec::new();
            let mut types: BTreeSet<&str> = rel_fields.iter().map(|(_, t)| *t).collect();
            if relations_wanted.exists() {
                types = BTreeSet::from([ANY_TYPE]);
            }
            for e in &items {
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
            let all = relations_wanted.field("target").exists();
            for r in rels.values().flat_map(|v| v.iter()) {
                for (field, ty) in &rel_fields {
                    if *ty == r.rel_type {
                        per_field
                            .entry(field)
                            .or_default()
                            .push(r.target_ref.clone());
                    }
                }
                if all {
                    per_field
                        .entry("relations")
                        .or_default()
                        .push(r.target_ref.clone());
                }
            }
            if relations_wanted.exists() {
                // Per-type lookups of the same entities are answered from the ANY_TYPE rows.
                let mut seed: Vec<(RelKey, Arc<Vec<StoredRelation>>)> = Vec::new();
                for e in &items {
                    let Some(list) = rels.get(&(e.entity_ref.clone(), ANY_TYPE.to_string())) else {
                        continue;
                    };
                    for (_, ty) in &rel_fields {
                        let typed: Vec<StoredRelation> =
                            list.iter().filter(|r| r.rel_type == *ty).cloned().collect();
                        seed.push(((e.entity_ref.clone(), ty.to_string()), Arc::new(typed)));
                    }
                }
                loaders::relations(ctx)?.feed_many(seed).await;
            }
        }
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
        let all_targets: BTreeSet<String> = per_field.values().flatten().cloned().collect();
        if all_targets.is_empty() {
            return Ok(());
        }
        let all_targets: Vec<String> = all_targets.into_iter().collect();
        let found = loaders::load_entities(ctx, &all_targets).await?;

        // Next level: each field's targets with that field's own sub-selection.
        for (field, refs) in per_field {
            let sub = if field == "relations" {
                selection.field("relations").field("target")
            } else {
                selection.field(field)
            };
            let unique: BTreeSet<&String> = refs.iter().collect();
            let next: Vec<Arc<StoredEntity>> = unique
                .into_iter()
                .filter_map(|r| found.get(r).cloned())
                .collect();
            prefetch(ctx, sub, next).await?;
        }
        Ok(())
    })
}
