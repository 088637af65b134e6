//! The uncached reads of `greenroom bench` side by side when it runs on SQLite and PostgreSQL in the
//! same run (`--postgres`): each backend's req/s (p99 ms) and the ratio PostgreSQL / SQLite, plus
//! the first load's time. Also the filtered-list workload both backends run (kind + owner, first 50).

use serde_json::json;
use std::time::Duration;

use super::facets::cell;
use super::load::{self, LoadReport};
use super::server::first_group;

/// One catalog size's figures on one backend, for the comparison.
pub(super) struct Reads {
    /// Seconds from start to queryable.
    pub(super) ingest: f64,
    /// (workload, figures), in the order printed.
    pub(super) loads: Vec<(&'static str, LoadReport)>,
}

/// `entities(filter: {kind: [Component], owner: [<first group>]}, first: 50)` without the response
/// cache, on the catalog of `n` entities.
pub(super) async fn filter_kind_owner(
    graphql_url: &str,
    n: usize,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    let body = json!({
        "query": "query($o: String!) { entities(filter: {kind: [\"Component\"], owner: [$o]}, first: 50) { nodes { ref name } } }",
        "variables": { "o": first_group(n) }
    });
    let no_cache = [("Cache-Control", "no-cache")];
    load::run_with_headers(graphql_url, body, &no_cache, connections, duration).await
}

/// Prints the comparison of `sqlite` and `postgres` (same sizes, same order).
pub(super) fn print(sqlite: &[(usize, Reads)], postgres: &[(usize, Reads)]) {
    println!("Uncached reads, SQLite and PostgreSQL in this run: req/s (p99 ms), and PostgreSQL / SQLite");
    println!();
    println!("| N entities | workload | SQLite | PostgreSQL | PG / SQLite |");
    println!("|---:|---|---:|---:|---:|");
    for ((n, s), (_, p)) in sqlite.iter().zip(postgres) {
        println!(
            "| {n} | start → queryable (s) | {:.2} | {:.2} | {:.2} |",
            s.ingest,
            p.ingest,
            p.ingest / s.ingest.max(f64::EPSILON)
        );
        for ((name, s), (_, p)) in s.loads.iter().zip(&p.loads) {
            println!(
                "| {n} | {name} | {} | {} | {:.2} |",
                cell(s),
                cell(p),
                p.rps / s.rps.max(f64::EPSILON)
            );
        }
    }
}
