//! The dependency-graph types (`EntityGraph`, `Impact`, `Cycle`, ...) and `Entity.graph`, the subgraph
//! reached from an entity. The root questions (`impact`, `path`, `dependencyCycles`) are in
//! `graphql::graph`; the walks live in `catalog::graph` and `catalog::cycles`.

use async_graphql::{ComplexObject, Context, Enum, SimpleObject};
use std::collections::HashMap;
use std::sync::Arc;

use super::Entity;
use crate::catalog::graph::{self, Direction, WalkSpec};
use crate::catalog::store::StoredEntity;
use crate::graphql::context;
use crate::graphql::errors::{ApiError, GqlResultExt};
use crate::graphql::loaders;

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
    pub(crate) stored: Option<Arc<StoredEntity>>,
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
    pub(crate) stored: Option<Arc<StoredEntity>>,
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

pub(crate) fn bad(message: String) -> async_graphql::Error {
    ApiError::BadUserInput(message).into()
}

pub(crate) fn relation_types(names: Option<Vec<String>>) -> Res<Vec<&'static str>> {
    match names {
        None => Ok(graph::DEFAULT_RELATIONS.to_vec()),
        Some(v) if v.is_empty() => Err(bad("relations must name at least one type".into())),
        Some(v) => v
            .iter()
            .map(|n| graph::relation_type(n).map_err(ApiError::from).gql())
            .collect(),
    }
}

pub(crate) fn bounded(name: &str, value: i32, max: usize) -> Res<usize> {
    if value < 0 || value as usize > max {
        return Err(bad(format!("{name} must be between 0 and {max}")));
    }
    Ok(value as usize)
}

pub(crate) fn node(n: &graph::Node, found: &HashMap<String, Arc<StoredEntity>>) -> GraphNode {
    GraphNode {
        entity_ref: n.entity_ref.clone(),
        depth: n.depth as i32,
        stored: found.get(&n.entity_ref).cloned(),
    }
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
    super::lists::charge(ctx, first)?;
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
