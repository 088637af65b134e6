//! Text search figures of `greenroom bench`: `entities(query:, first: 20) { totalCount nodes { ref } }`
//! without the response cache, for what a search box sends as someone types (`pay`, `paym`, …) and
//! for whole words; then the same in relevance order with highlights, as a result list asks.

use serde_json::json;
use std::time::Duration;

use super::facets::cell;
use super::load::{self, LoadReport};

/// The queries measured, in order: prefixes as typed, then whole words (the generator's vocabulary).
pub(super) const QUERIES: &[&str] = &[
    "pay",
    "paym",
    "payme",
    "payment",
    "payments",
    "checkout",
    "billing search",
];

/// Queries measured again in `RELEVANCE` order with each edge's `highlight`.
pub(super) const RANKED: &[&str] = &["pay", "payments"];

/// One catalog size's search figures, one per query of [`QUERIES`] and then of [`RANKED`].
pub(super) struct SearchFigures(Vec<LoadReport>);

/// Runs one load per query against the server at `graphql_url`.
pub(super) async fn measure(
    graphql_url: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<SearchFigures> {
    let no_cache = [("Cache-Control", "no-cache")];
    let mut out = Vec::with_capacity(QUERIES.len());
    for q in QUERIES {
        let body = json!({
            "query": "query($q: String) { entities(query: $q, first: 20) { totalCount nodes { ref } } }",
            "variables": { "q": q }
        });
        out.push(
            load::run_with_headers(graphql_url, body, &no_cache, connections, duration).await?,
        );
    }
    for q in RANKED {
        let body = json!({
            "query": "query($q: String) { entities(query: $q, orderBy: {field: RELEVANCE}, first: 20) { totalCount edges { node { ref } highlight { field parts { text matched } } } } }",
            "variables": { "q": q }
        });
        out.push(
            load::run_with_headers(graphql_url, body, &no_cache, connections, duration).await?,
        );
    }
    Ok(SearchFigures(out))
}

/// Prints the search table.
pub(super) fn print(rows: &[(usize, SearchFigures)], connections: usize) {
    let mut heads: Vec<String> = QUERIES.iter().map(|q| format!("`{q}`")).collect();
    heads.extend(
        RANKED
            .iter()
            .map(|q| format!("`{q}`, RELEVANCE + highlight")),
    );
    println!("Word search, `entities(query: …, first: 20) {{ totalCount nodes {{ ref }} }}` (then in RELEVANCE order with highlights), no-cache, {connections} connections: req/s (p99 ms)");
    println!();
    println!("| N entities | {} |", heads.join(" | "));
    println!("|---:|{}", "---:|".repeat(heads.len()));
    for (n, f) in rows {
        let cells: Vec<String> = f.0.iter().map(cell).collect();
        println!("| {n} | {} |", cells.join(" | "));
        let failed: u64 = f.0.iter().map(|r| r.errors).sum();
        if failed > 0 {
            println!("  ({failed} requests failed)");
        }
    }
}
