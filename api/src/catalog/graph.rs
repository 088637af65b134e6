//! Graph traversals over stored relations (neighbourhoods, impact, shortest paths), breadth first with one
//! SQL statement per depth level, whatever the number of nodes. Each node is visited once, so cycles in
//! the data end the walk instead of looping it.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query};
use sea_orm::ConnectionTrait;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::relations as rel;
use super::CatalogError;
use entity::{entities, relations};

/// Deepest walk a caller may ask for.
pub const MAX_DEPTH: u32 = 10;
/// Most nodes a neighbourhood or an impact returns.
pub const MAX_NODES: usize = 5000;
/// Most refs in one statement's `IN (...)`: only a path search's frontier grows past [`MAX_NODES`].
const CHUNK: usize = 10_000;
/// Most nodes a path search visits before it gives up.
const PATH_MAX_VISITED: usize = 200_000;

/// Relations a neighbourhood follows when the caller names none.
pub const DEFAULT_RELATIONS: &[&str] = &[
    rel::DEPENDS_ON,
    rel::CONSUMES_API,
    rel::PROVIDES_API,
    rel::PART_OF,
];

/// Relations an impact follows, from the entity towards what needs it: who depends on it, the APIs it
/// provides, and their consumers.
const IMPACT_RELATIONS: &[&str] = &[rel::DEPENDENCY_OF, rel::PROVIDES_API, rel::API_CONSUMED_BY];

/// Every relation type with its reverse; both directions are stored.
const PAIRS: [(&str, &str); 7] = [
    (rel::OWNED_BY, rel::OWNER_OF),
    (rel::PART_OF, rel::HAS_PART),
    (rel::PROVIDES_API, rel::API_PROVIDED_BY),
    (rel::CONSUMES_API, rel::API_CONSUMED_BY),
    (rel::DEPENDS_ON, rel::DEPENDENCY_OF),
    (rel::PARENT_OF, rel::CHILD_OF),
    (rel::MEMBER_OF, rel::HAS_MEMBER),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Outgoing,
    Incoming,
    Both,
}

/// The canonical spelling of a relation type (any case), or a user error naming the known ones.
pub fn relation_type(name: &str) -> Result<&'static str, CatalogError> {
    PAIRS
        .iter()
        .flat_map(|(a, b)| [*a, *b])
        .find(|t| t.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let known: Vec<&str> = PAIRS.iter().flat_map(|(a, b)| [*a, *b]).collect();
            CatalogError::InvalidInput(format!(
                "unknown relation type '{name}' (known: {})",
                known.join(", ")
            ))
        })
}

fn reverse(t: &str) -> &'static str {
    PAIRS
        .iter()
        .find_map(|(a, b)| {
            if *a == t {
                Some(*b)
            } else if *b == t {
                Some(*a)
            } else {
                None
            }
        })
        .unwrap_or(rel::DEPENDS_ON)
}

/// An edge as the caller asked for it: `source` has relation `rel_type` to `target`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    pub source: String,
    pub rel_type: &'static str,
    pub target: String,
}

/// A node a walk reached.
#[derive(Clone, Debug)]
pub struct Node {
    pub entity_ref: String,
    pub depth: u32,
    /// False for a reference to an entity that is not in the catalog.
    pub exists: bool,
    pub owner_ref: Option<String>,
    /// The node it was first reached from (index into the walk's nodes); `None` for the start.
    pub parent: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct Walk {
    /// Breadth-first order; the start is first.
    pub nodes: Vec<Node>,
    /// Sorted, without duplicates; both ends are nodes of the walk.
    pub edges: Vec<Edge>,
    /// True when the node limit cut the walk short.
    pub truncated: bool,
}

impl Walk {
    /// The refs from the start to node `i`, both included.
    pub fn path_to(&self, mut i: usize) -> Vec<String> {
        let mut path = vec![self.nodes[i].entity_ref.clone()];
        while let Some(p) = self.nodes[i].parent {
            path.push(self.nodes[p].entity_ref.clone());
            i = p;
        }
        path.reverse();
        path
    }
}

/// How stored rows are followed: stored type → the (requested type, reversed) it reports.
type Follow = BTreeMap<&'static str, Vec<(&'static str, bool)>>;

fn follow(types: &[&'static str], direction: Direction) -> Follow {
    let mut f: Follow = BTreeMap::new();
    for &t in types {
        if direction != Direction::Incoming {
            f.entry(t).or_default().push((t, false));
        }
        if direction != Direction::Outgoing {
            f.entry(reverse(t)).or_default().push((t, true));
        }
    }
    f
}

/// What to walk.
pub struct WalkSpec<'a> {
    pub start: &'a str,
    pub types: Vec<&'static str>,
    pub direction: Direction,
    pub max_depth: u32,
    pub max_nodes: usize,
    /// Lowercase kinds a node must have to be included and walked through (empty: any).
    pub kinds: Vec<String>,
    /// Stop as soon as this ref is reached.
    pub until: Option<&'a str>,
}

/// One stored relation leaving the frontier, with what is known of its target.
struct Step {
    source: String,
    rel_type: String,
    target: String,
    target_exists: bool,
    target_owner: Option<String>,
}

/// Stored relations of `types` leaving `sources`, in (source, type, target) order: one statement per
/// [`CHUNK`] sources.
async fn step(
    db: &impl ConnectionTrait,
    sources: &[String],
    types: &[&'static str],
) -> Result<Vec<Step>, CatalogError> {
    let mut out = Vec::new();
    for chunk in sources.chunks(CHUNK) {
        let mut q = Query::select();
        q.distinct()
            .column((relations::Entity, relations::Column::SourceRef))
            .column((relations::Entity, relations::Column::RelType))
            .column((relations::Entity, relations::Column::TargetRef))
            .column((entities::Entity, entities::Column::OwnerRef))
            .expr_as(
                Expr::col((entities::Entity, entities::Column::EntityRef)),
                Alias::new("found"),
            )
            .from(relations::Entity)
            .join(
                JoinType::LeftJoin,
                entities::Entity,
                Expr::col((entities::Entity, entities::Column::EntityRef))
                    .equals((relations::Entity, relations::Column::TargetRef)),
            )
            .and_where(
                Expr::col((relations::Entity, relations::Column::SourceRef))
                    .is_in(chunk.iter().cloned()),
            )
            .and_where(
                Expr::col((relations::Entity, relations::Column::RelType))
                    .is_in(types.iter().copied()),
            )
            .order_by(
                (relations::Entity, relations::Column::SourceRef),
                Order::Asc,
            )
            .order_by((relations::Entity, relations::Column::RelType), Order::Asc)
            .order_by(
                (relations::Entity, relations::Column::TargetRef),
                Order::Asc,
            );
        for row in db.query_all(&q).await? {
            out.push(Step {
                source: row.try_get("", "source_ref")?,
                rel_type: row.try_get("", "rel_type")?,
                target: row.try_get("", "target_ref")?,
                target_owner: row.try_get("", "owner_ref")?,
                target_exists: row.try_get::<Option<String>>("", "found")?.is_some(),
            });
        }
    }
    Ok(out)
}

fn kind_of(entity_ref: &str) -> &str {
    entity_ref.split(':').next().unwrap_or("")
}

/// Walks breadth first from `spec.start` (which the caller has checked exists); within a level, nodes are
/// in ref order.
pub async fn walk(db: &impl ConnectionTrait, spec: &WalkSpec<'_>) -> Result<Walk, CatalogError> {
    let follow = follow(&spec.types, spec.direction);
    let stored: Vec<&'static str> = follow.keys().copied().collect();
    let mut w = Walk {
        nodes: vec![Node {
            entity_ref: spec.start.to_string(),
            depth: 0,
            exists: true,
            owner_ref: None,
            parent: None,
        }],
        ..Walk::default()
    };
    let mut index: HashMap<String, usize> = HashMap::from([(spec.start.to_string(), 0)]);
    let mut edges: HashSet<Edge> = HashSet::new();
    let mut frontier = vec![0usize];
    let mut depth = 0;
    'levels: while depth < spec.max_depth && !frontier.is_empty() {
        depth += 1;
        let sources: Vec<String> = frontier
            .iter()
            .map(|&i| w.nodes[i].entity_ref.clone())
            .collect();
        let mut next = Vec::new();
        for s in step(db, &sources, &stored).await? {
            let Some(reports) = follow.get(s.rel_type.as_str()) else {
                continue;
            };
            if !spec.kinds.is_empty() && !spec.kinds.iter().any(|k| k == kind_of(&s.target)) {
                continue;
            }
            let Some(&from) = index.get(&s.source) else {
                continue;
            };
            if !index.contains_key(&s.target) {
                if w.nodes.len() >= spec.max_nodes {
                    w.truncated = true;
                    continue;
                }
                index.insert(s.target.clone(), w.nodes.len());
                next.push(w.nodes.len());
                w.nodes.push(Node {
                    entity_ref: s.target.clone(),
                    depth,
                    exists: s.target_exists,
                    owner_ref: s.target_owner.clone(),
                    parent: Some(from),
                });
            }
            for &(t, reversed) in reports {
                let (a, b) = if reversed {
                    (&s.target, &s.source)
                } else {
                    (&s.source, &s.target)
                };
                edges.insert(Edge {
                    source: a.clone(),
                    rel_type: t,
                    target: b.clone(),
                });
            }
            if spec.until == Some(s.target.as_str()) {
                break 'levels;
            }
        }
        // Within a level, nodes in ref order.
        let level = w.nodes.len() - next.len();
        w.nodes[level..].sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
        for (i, n) in w.nodes.iter().enumerate().skip(level) {
            index.insert(n.entity_ref.clone(), i);
        }
        if w.nodes.len() > PATH_MAX_VISITED {
            w.truncated = true;
            break;
        }
        frontier = (level..w.nodes.len()).collect();
    }
    w.edges = edges.into_iter().collect();
    w.edges.sort();
    Ok(w)
}

/// Everything that transitively needs `start` within `max_depth`: what depends on it, the APIs it provides
/// and their consumers, each with its shortest path (node 0 is `start` itself).
pub async fn impact(
    db: &impl ConnectionTrait,
    start: &str,
    max_depth: u32,
    max_nodes: usize,
) -> Result<Walk, CatalogError> {
    walk(
        db,
        &WalkSpec {
            start,
            types: IMPACT_RELATIONS.to_vec(),
            direction: Direction::Outgoing,
            max_depth,
            max_nodes: max_nodes.saturating_add(1),
            kinds: Vec::new(),
            until: None,
        },
    )
    .await
}

/// A shortest path from `from` to `to` along `types` (outgoing), both included; `None` when there is none
/// within [`MAX_DEPTH`] steps.
pub async fn shortest_path(
    db: &impl ConnectionTrait,
    from: &str,
    to: &str,
    types: Vec<&'static str>,
) -> Result<Option<Vec<String>>, CatalogError> {
    if from == to {
        return Ok(Some(vec![from.to_string()]));
    }
    let w = walk(
        db,
        &WalkSpec {
            start: from,
            types,
            direction: Direction::Outgoing,
            max_depth: MAX_DEPTH,
            max_nodes: usize::MAX,
            kinds: Vec::new(),
            until: Some(to),
        },
    )
    .await?;
    Ok(w.nodes
        .iter()
        .position(|n| n.entity_ref == to)
        .map(|i| w.path_to(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_types_are_canonical_and_unknown_ones_are_refused() {
        assert_eq!(relation_type("DEPENDSON").unwrap(), "dependsOn");
        assert_eq!(reverse("providesApi"), "apiProvidedBy");
        assert!(matches!(
            relation_type("likes"),
            Err(CatalogError::InvalidInput(m)) if m.contains("dependsOn")
        ));
    }

    #[test]
    fn both_directions_follow_a_type_and_its_reverse() {
        let f = follow(&[rel::DEPENDS_ON], Direction::Both);
        assert_eq!(f[rel::DEPENDS_ON], vec![(rel::DEPENDS_ON, false)]);
        assert_eq!(f[rel::DEPENDENCY_OF], vec![(rel::DEPENDS_ON, true)]);
        let f = follow(&[rel::DEPENDS_ON], Direction::Incoming);
        assert!(!f.contains_key(rel::DEPENDS_ON));
    }
}
