//! Dependency-graph queries: `Entity.graph`, `impact`, `path` and `dependencyCycles`. Resolvers check
//! arguments and shape results; the walks live in `catalog::graph` and `catalog::cycles`.

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::context;
use super::errors::{ApiError, GqlResultExt};
use super::guard::{require, READ};
use super::inputs::EntityFilter;
use super::loaders;
use super::types::Entity;
use crate::catalog::graph::{self, Direction, Walk, WalkSpec};
use crate::catalog::refs::EntityRef;
use crate::catalog::search::Filter;
use crate::catalog::store::StoredEntity;

type Res<T> = async_graphql::Result<T>;

/// Which way a graph walk follows relations.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphDirection {
    /// From the entity along each relation (what it depends on, provides, is part of).
    Outgoing,
    /// Towards the entity (what depends on it, consumes it, is part of it).
    Incoming,
    /// Both ways.
    Both,
}

impl From<GraphDirection> for Direction {
    fn from(d: GraphDirection) -> Self {
        match d {
            GraphDirection::Outgoing => Direction::Outgoing,
            GraphDirection::Incoming => Direction::Incoming,
            GraphDirection::Both => Direction::Both,
        }
    }
}

/// An entity reached by a walk. `entity` is null for a reference to an entity that is not in the catalog.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct GraphNode {
    /// Canonical ref `kind:namespace/name` of the entity.
    #[graphql(name = "ref")]
    pub entity_ref: String,
    /// Steps from the start (0 for the start itself).
    pub depth: i32,
    #[graphql(skip)]
    stored: Option<Arc<StoredEntity>>,
}

#[ComplexObject]
impl GraphNode {
    /// The entity, or null when it is not in the catalog.
    async fn entity(&self) -> Option<Entity> {
        self.stored.clone().map(Entity::from_stored)
    }
}

/// A relation between two nodes of a walk, in the direction of its type.
#[derive(SimpleObject, Clone)]
pub struct GraphEdge {
    /// Ref of the entity the relation starts from.
    pub source: String,
    /// Ref of the entity the relation points to.
    pub target: String,
    /// The relation type, e.g. `dependsOn`.
    #[graphql(name = "type")]
    pub rel_type: String,
}

/// The subgraph reached from an entity.
#[derive(SimpleObject)]
pub struct EntityGraph {
    /// Breadth-first order, the start first; each entity once.
    pub nodes: Vec<GraphNode>,
    /// Every relation found between the nodes, sorted by source, type and target.
    pub edges: Vec<GraphEdge>,
    /// True when the `first` limit left nodes out.
    pub truncated: bool,
}

/// The refs from the changed entity to an affected one, both included.
#[derive(SimpleObject, Clone)]
pub struct GraphPath {
    /// The nodes of the path in order, from the changed entity to the affected one.
    pub nodes: Vec<GraphNode>,
}

/// An entity that transitively needs the changed one.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct ImpactedEntity {
    /// Canonical ref `kind:namespace/name` of the affected entity.
    #[graphql(name = "ref")]
    pub entity_ref: String,
    /// Steps from the changed entity.
    pub depth: i32,
    /// A shortest path from the changed entity to this one.
    pub path: GraphPath,
    #[graphql(skip)]
    stored: Option<Arc<StoredEntity>>,
}

#[ComplexObject]
impl ImpactedEntity {
    /// Null for a reference to an entity that is not in the catalog.
    async fn entity(&self) -> Option<Entity> {
        self.stored.clone().map(Entity::from_stored)
    }
}

/// The affected entities one owner (a Group or User) holds.
#[derive(SimpleObject)]
pub struct ImpactedOwner {
    /// Null for entities without an owner.
    pub owner_ref: Option<String>,
    /// The owning Group or User; null when unowned or not in the catalog.
    pub owner: Option<Entity>,
    /// The affected entities this owner holds, nearest first.
    pub entities: Vec<ImpactedEntity>,
}

/// What breaks if an entity goes down.
#[derive(SimpleObject)]
pub struct Impact {
    /// Canonical ref of the changed entity.
    #[graphql(name = "ref")]
    pub entity_ref: String,
    /// Affected entities, nearest first.
    pub entities: Vec<ImpactedEntity>,
    /// The same entities grouped by owner, owners in ref order (unowned last).
    pub owners: Vec<ImpactedOwner>,
    /// The shortest path to each affected entity, in the order of `entities`.
    pub paths: Vec<GraphPath>,
    /// How many entities are affected (the length of `entities`).
    pub count: i32,
    /// True when the `first` limit left affected entities out.
    pub truncated: bool,
}

/// A cycle in `dependsOn`: each entity depends on the next, the last on the first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Cycle {
    /// Refs in order, starting at the smallest.
    pub refs: Vec<String>,
    /// Entities in its strongly connected component (more than `refs` when cycles interlock).
    pub component_size: i32,
}

#[ComplexObject]
impl Cycle {
    /// The entities of `refs` in the same order; those not in the catalog are left out.
    async fn entities(&self, ctx: &Context<'_>) -> Res<Vec<Entity>> {
        let found = loaders::load_entities(ctx, &self.refs).await?;
        Ok(self
            .refs
            .iter()
            .filter_map(|r| found.get(r).cloned().map(Entity::from_stored))
            .collect())
    }
}

fn bad(message: String) -> async_graphql::Error {
    Err::<(), _>(ApiError::BadUserInput(message))
        .gql()
        .unwrap_err()
}

fn canonical_ref(r: &str) -> Res<String> {
    EntityRef::parse(r, Some("component"), "default")
        .map(|r| r.to_string())
        .map_err(|e| bad(format!("invalid entity ref '{r}': {e}")))
}

fn relation_types(names: Option<Vec<String>>) -> Res<Vec<&'static str>> {
    match names {
        None => Ok(graph::DEFAULT_RELATIONS.to_vec()),
        Some(v) if v.is_empty() => Err(bad("relations must name at least one type".into())),
        Some(v) => v
            .iter()
            .map(|n| graph::relation_type(n).map_err(ApiError::from).gql())
            .collect(),
    }
}

fn bounded(name: &str, value: i32, max: usize) -> Res<usize> {
    if value < 0 || value as usize > max {
        return Err(bad(format!("{name} must be between 0 and {max}")));
    }
    Ok(value as usize)
}

/// The stored start entity, or `NOT_FOUND`.
async fn start(ctx: &Context<'_>, entity_ref: &str) -> Res<Arc<StoredEntity>> {
    loaders::load_entities(ctx, &[entity_ref.to_string()])
        .await?
        .remove(entity_ref)
        .ok_or_else(|| {
            Err::<(), _>(ApiError::NotFound(format!("no entity {entity_ref}")))
                .gql()
                .unwrap_err()
        })
}

fn node(n: &graph::Node, found: &HashMap<String, Arc<StoredEntity>>) -> GraphNode {
    GraphNode {
        entity_ref: n.entity_ref.clone(),
        depth: n.depth as i32,
        stored: found.get(&n.entity_ref).cloned(),
    }
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

/// `Entity.graph`: the subgraph reached from `entity_ref`.
pub async fn entity_graph(
    ctx: &Context<'_>,
    entity_ref: &str,
    direction: Option<GraphDirection>,
    relations: Option<Vec<String>>,
    max_depth: Option<i32>,
    kinds: Option<Vec<String>>,
    first: Option<i32>,
) -> Res<EntityGraph> {
    let direction = direction.unwrap_or(GraphDirection::Outgoing);
    let types = relation_types(relations)?;
    let max_depth = bounded(
        "maxDepth",
        max_depth.unwrap_or(3),
        graph::MAX_DEPTH as usize,
    )? as u32;
    let first = bounded("first", first.unwrap_or(5000), graph::MAX_NODES)?;
    if first == 0 {
        return Err(bad("first must be between 1 and 5000".into()));
    }
    let kinds = kinds
        .unwrap_or_default()
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    // The walk may visit `first` nodes: reserve them from the operation's item budget before walking,
    // so graphs nested in graphs are refused instead of multiplied.
    crate::graphql::types::lists::charge(ctx, first)?;
    let db = context::database(ctx)?;
    let w = graph::walk(
        db,
        &WalkSpec {
            start: entity_ref,
            types,
            direction: direction.into(),
            max_depth,
            max_nodes: first,
            kinds,
            until: None,
        },
    )
    .await
    .map_err(ApiError::from)
    .gql()?;
    let refs: Vec<String> = w.nodes.iter().map(|n| n.entity_ref.clone()).collect();
    let found = loaders::load_entities(ctx, &refs).await?;
    Ok(EntityGraph {
        nodes: w.nodes.iter().map(|n| node(n, &found)).collect(),
        edges: w
            .edges
            .iter()
            .map(|e| GraphEdge {
                source: e.source.clone(),
                target: e.target.clone(),
                rel_type: e.rel_type.to_string(),
            })
            .collect(),
        truncated: w.truncated,
    })
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
        #[graphql(name = "ref")] entity_ref: String,
        #[graphql(default = 5)] max_depth: Option<i32>,
        #[graphql(default = 5000)] first: Option<i32>,
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
        from: String,
        to: String,
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
        filter: Option<EntityFilter>,
        #[graphql(default = 100)] first: Option<i32>,
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
