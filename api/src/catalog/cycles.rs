//! Dependency cycles: the `dependsOn` edges among a set of entities are read in one statement, split into
//! strongly connected components (Tarjan, iterative), and each component that loops reports its shortest
//! cycle through its smallest ref.

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{Condition, ConnectionTrait};
use std::collections::{BTreeMap, HashMap, VecDeque};

use super::relations::DEPENDS_ON;
use super::CatalogError;
use entity::{entities, relations};

/// A cycle: refs in order, starting at the smallest; the last depends on the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    pub refs: Vec<String>,
    /// Entities in its strongly connected component (more than `refs` when cycles interlock).
    pub component_size: usize,
}

fn refs_matching(cond: &Condition) -> SelectStatement {
    Query::select()
        .column(entities::Column::EntityRef)
        .from(entities::Entity)
        .cond_where(cond.clone())
        .to_owned()
}

/// Cycles in `dependsOn` among the entities matching `cond`, ordered by their first ref; at most `first`.
pub async fn dependency_cycles(
    db: &impl ConnectionTrait,
    cond: &Condition,
    first: usize,
) -> Result<Vec<Cycle>, CatalogError> {
    let mut q = Query::select();
    q.distinct()
        .column(relations::Column::SourceRef)
        .column(relations::Column::TargetRef)
        .from(relations::Entity)
        .and_where(Expr::col(relations::Column::RelType).eq(DEPENDS_ON))
        .and_where(Expr::col(relations::Column::SourceRef).in_subquery(refs_matching(cond)))
        .and_where(Expr::col(relations::Column::TargetRef).in_subquery(refs_matching(cond)))
        .order_by(relations::Column::SourceRef, Order::Asc)
        .order_by(relations::Column::TargetRef, Order::Asc);
    let mut edges = Vec::new();
    for row in db.query_all(&q).await? {
        let s: String = row.try_get("", "source_ref")?;
        let t: String = row.try_get("", "target_ref")?;
        edges.push((s, t));
    }
    Ok(cycles(&edges, first))
}

/// The cycles of a directed graph given as edges (see [`dependency_cycles`]).
pub fn cycles(edges: &[(String, String)], first: usize) -> Vec<Cycle> {
    // Nodes numbered in ref order, so the output is deterministic.
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (s, t) in edges {
        ids.insert(s, 0);
        ids.insert(t, 0);
    }
    let names: Vec<&str> = ids.keys().copied().collect();
    for (i, n) in names.iter().enumerate() {
        ids.insert(n, i);
    }
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (s, t) in edges {
        adj[ids[s.as_str()]].push(ids[t.as_str()]);
    }
    for a in &mut adj {
        a.sort_unstable();
        a.dedup();
    }
    let mut out: Vec<Cycle> = Vec::new();
    for comp in components(&adj) {
        let looping = comp.len() > 1 || adj[comp[0]].contains(&comp[0]);
        if !looping {
            continue;
        }
        let start = comp.iter().copied().min().unwrap_or(comp[0]);
        let members: HashMap<usize, ()> = comp.iter().map(|&c| (c, ())).collect();
        let path = shortest_cycle(&adj, start, &members);
        out.push(Cycle {
            refs: path.into_iter().map(|i| names[i].to_string()).collect(),
            component_size: comp.len(),
        });
    }
    out.sort_by(|a, b| a.refs.cmp(&b.refs));
    out.truncate(first);
    out
}

/// Strongly connected components (Tarjan's algorithm without recursion).
fn components(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = adj.len();
    let (mut index, mut low) = (vec![UNSEEN; n], vec![0; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut out, mut next) = (Vec::new(), Vec::new(), 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, position in its adjacency list)
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if let Some(&w) = adj[v].get(*pos) {
                *pos += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

/// The shortest cycle through `start` inside one component (breadth first back to `start`).
fn shortest_cycle(adj: &[Vec<usize>], start: usize, members: &HashMap<usize, ()>) -> Vec<usize> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &adj[v] {
            if w == start {
                let mut path = vec![v];
                let mut at = v;
                while at != start {
                    at = parent[&at];
                    path.push(at);
                }
                path.reverse();
                return path;
            }
            if members.contains_key(&w) && !parent.contains_key(&w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn finds_each_looping_component_once_starting_at_its_smallest_ref() {
        let edges = e(&[
            ("c", "a"),
            ("a", "b"),
            ("b", "c"),
            ("b", "x"), // leaves the cycle
            ("x", "y"),
            ("s", "s"), // self-loop
            ("d1", "d2"),
            ("d1", "d3"),
            ("d2", "d4"),
            ("d3", "d4"), // a diamond is no cycle
        ]);
        let found = cycles(&edges, 10);
        let refs: Vec<Vec<String>> = found.iter().map(|c| c.refs.clone()).collect();
        assert_eq!(
            refs,
            vec![
                vec!["a".to_string(), "b".into(), "c".into()],
                vec!["s".to_string()]
            ]
        );
        assert_eq!(found[0].component_size, 3);
        assert_eq!(cycles(&edges, 1).len(), 1);
    }

    #[test]
    fn interlocking_cycles_report_the_shortest_through_the_smallest_ref() {
        let edges = e(&[("a", "b"), ("b", "c"), ("c", "a"), ("b", "a")]);
        let found = cycles(&edges, 10);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].refs, vec!["a".to_string(), "b".into()]);
        assert_eq!(found[0].component_size, 3);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let mut edges: Vec<(String, String)> = (0..n)
            .map(|i| (format!("n{i:06}"), format!("n{:06}", i + 1)))
            .collect();
        edges.push((format!("n{n:06}"), "n000000".to_string()));
        let found = cycles(&edges, 10);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].refs.len(), n + 1);
    }
}
