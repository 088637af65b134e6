//! Text search figures of `greenroom bench`: `entities(query:, first: 20) { totalCount nodes { ref } }`
//! without the response cache, for what a search box sends as someone types (`pay`, `paym`, …) and
//! for whole words.

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

/// One catalog size's search figures, one per query of [`QUERIES`].
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
    Ok(SearchFigures(out))
}

/// Prints the search table.
pub(super) fn print(rows: &[(usize, SearchFigures)], connections: usize) {
    let heads: Vec<String> = QUERIES.iter().map(|q| format!("`{q}`")).collect();
    println!("Text search, `entities(query: …, first: 20) {{ totalCount nodes {{ ref }} }}`, no-cache, {connections} connections: req/s (p99 ms)");
    println!();
    println!("| N entities | {} |", heads.join(" | "));
    println!("|---:|{}", "---:|".repeat(QUERIES.len()));
    for (n, f) in rows {
        let cells: Vec<String> = f.0.iter().map(cell).collect();
        println!("| {n} | {} |", cells.join(" | "));
        let failed: u64 = f.0.iter().map(|r| r.errors).sum();
        if failed > 0 {
            println!("  ({failed} requests failed)");
        }
    }
}
