//! Dependency-graph questions across the catalog: `impact`, `path` and `dependencyCycles` (the types and
//! `Entity.graph` are in `types::graph`). Resolvers check arguments and shape results; the walks live in
//! `catalog::graph` and `catalog::cycles`.

use async_graphql::{Context, Object};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::context;
use super::errors::{ApiError, GqlResultExt};
use super::guard::{require, READ};
use super::inputs::EntityFilter;
use super::loaders;
use super::types::graph::{
    bounded, node, relation_types, Cycle, GraphPath, Impact, ImpactedEntity, ImpactedOwner,
};
use super::types::Entity;
use crate::catalog::graph::{self, Walk};
use crate::catalog::refs::EntityRef;
use crate::catalog::search::Filter;
use crate::catalog::store::StoredEntity;

type Res<T> = async_graphql::Result<T>;

fn canonical_ref(r: &str) -> Res<String> {
    EntityRef::parse(r, Some("component"), "default")
        .map(|r| r.to_string())
        .map_err(|e| ApiError::BadUserInput(format!("invalid entity ref '{r}': {e}")).into())
}

/// The stored start entity, or `NOT_FOUND`.
async fn start(ctx: &Context<'_>, entity_ref: &str) -> Res<Arc<StoredEntity>> {
    loaders::load_entities(ctx, &[entity_ref.to_string()])
        .await?
        .remove(entity_ref)
        .ok_or_else(|| ApiError::NotFound(format!("no entity {entity_ref}")).into())
}

fn path(w: &Walk, i: usize, found: &HashMap<String, Arc<StoredEntity>>) -> GraphPath {
    let mut at = Some(i);
    let mut nodes = Vec::new();
    while let Some(j) = at {
        nodes.push(node(&w.nodes[j], found));
        at = w.nodes[j].parent;
    }
    nodes.reverse();
    GraphPath { nodes }
}

/// Graph questions across the catalog (every field needs `catalog:read`).
#[derive(Default)]
pub struct GraphQuery;

/// Graph questions across the catalog (every field needs `catalog:read`).
#[Object]
impl GraphQuery {
    /// Everything that transitively needs the entity `ref` (through `dependsOn`, and through the APIs it
    /// provides to their consumers) within `maxDepth` steps, grouped by owner, with a shortest path to each.
    async fn impact(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            name = "ref",
            desc = "The changed entity: `kind:namespace/name`, any case; kind defaults to `component`, namespace to `default` (`NOT_FOUND` when it is not in the catalog)."
        )]
        entity_ref: String,
        #[graphql(
            default = 5,
            desc = "Most steps from the changed entity (0 to 10; default 5)."
        )]
        max_depth: Option<i32>,
        #[graphql(
            default = 5000,
            desc = "Most affected entities (0 to 5000; default 5000); `truncated` says when some were left out."
        )]
        first: Option<i32>,
    ) -> Res<Impact> {
        require(ctx, READ)?;
        let entity_ref = canonical_ref(&entity_ref)?;
        let max_depth = bounded(
            "maxDepth",
            max_depth.unwrap_or(5),
            graph::MAX_DEPTH as usize,
        )? as u32;
        let first = bounded("first", first.unwrap_or(5000), graph::MAX_NODES)?;
        crate::graphql::types::lists::charge(ctx, first)?;
        start(ctx, &entity_ref).await?;
        let db = context::database(ctx)?;
        let w = graph::impact(db, &entity_ref, max_depth, first)
            .await
            .map_err(ApiError::from)
            .gql()?;
        let mut refs: Vec<String> = w.nodes.iter().map(|n| n.entity_ref.clone()).collect();
        refs.extend(w.nodes.iter().filter_map(|n| n.owner_ref.clone()));
        refs.sort();
        refs.dedup();
        let found = loaders::load_entities(ctx, &refs).await?;
        let entities: Vec<ImpactedEntity> = (1..w.nodes.len())
            .map(|i| ImpactedEntity {
                entity_ref: w.nodes[i].entity_ref.clone(),
                stored: found.get(&w.nodes[i].entity_ref).cloned(),
                depth: w.nodes[i].depth as i32,
                path: path(&w, i, &found),
            })
            .collect();
        let mut by_owner: BTreeMap<(bool, Option<String>), Vec<ImpactedEntity>> = BTreeMap::new();
        for (i, e) in entities.iter().enumerate() {
            let owner = w.nodes[i + 1].owner_ref.clone();
            by_owner
                .entry((owner.is_none(), owner))
                .or_default()
                .push(e.clone());
        }
        let owners = by_owner
            .into_iter()
            .map(|((_, owner_ref), entities)| ImpactedOwner {
                owner: owner_ref
                    .as_ref()
                    .and_then(|o| found.get(o).cloned())
                    .map(Entity::from_stored),
                owner_ref,
                entities,
            })
            .collect();
        Ok(Impact {
            entity_ref,
            count: entities.len() as i32,
            paths: entities.iter().map(|e| e.path.clone()).collect(),
            entities,
            owners,
            truncated: w.truncated,
        })
    }

    /// A shortest path from `from` to `to` following `relations` (default: dependsOn, consumesApi,
    /// providesApi, partOf) within 10 steps, both ends included; null when there is none.
    async fn path(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The start: `kind:namespace/name`, any case; kind defaults to `component`, namespace to `default` (`NOT_FOUND` when it is not in the catalog)."
        )]
        from: String,
        #[graphql(
            desc = "The end: `kind:namespace/name`, any case; kind defaults to `component`, namespace to `default` (`NOT_FOUND` when it is not in the catalog)."
        )]
        to: String,
        #[graphql(
            desc = "Relation types to follow outwards, any case: at least one (default dependsOn, consumesApi, providesApi, partOf)."
        )]
        relations: Option<Vec<String>>,
    ) -> Res<Option<Vec<Entity>>> {
        require(ctx, READ)?;
        let (from, to) = (canonical_ref(&from)?, canonical_ref(&to)?);
        let types = relation_types(relations)?;
        start(ctx, &from).await?;
        start(ctx, &to).await?;
        let db = context::database(ctx)?;
        let Some(refs) = graph::shortest_path(db, &from, &to, types)
            .await
            .map_err(ApiError::from)
            .gql()?
        else {
            return Ok(None);
        };
        let found = loaders::load_entities(ctx, &refs).await?;
        // A step through a reference to a missing entity is no path between entities.
        let entities: Option<Vec<Entity>> = refs
            .iter()
            .map(|r| found.get(r).cloned().map(Entity::from_stored))
            .collect();
        Ok(entities)
    }

    /// Cycles in `dependsOn` among the entities matching `filter` (default: all), one per strongly connected
    /// group, ordered by their first ref.
    async fn dependency_cycles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only look among entities matching this filter; default: all.")]
        filter: Option<EntityFilter>,
        #[graphql(default = 100, desc = "Most cycles (0 to 1000; default 100).")] first: Option<
            i32,
        >,
    ) -> Res<Vec<Cycle>> {
        require(ctx, READ)?;
        let first = bounded("first", first.unwrap_or(100), 1000)?;
        let cond = filter
            .map(Filter::from)
            .unwrap_or_default()
            .condition()
            .map_err(ApiError::from)
            .gql()?;
        let db = context::database(ctx)?;
        let found = crate::catalog::cycles::dependency_cycles(db, &cond, first)
            .await
            .map_err(ApiError::from)
            .gql()?;
        Ok(found
            .into_iter()
            .map(|c| Cycle {
                refs: c.refs,
                component_size: c.component_size as i32,
            })
            .collect())
    }
}
