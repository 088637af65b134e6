//! Mixed read load of `greenroom bench`: lookups by ref, pages of components, facets and text searches
//! at once (the connections shared between them, no response cache), with the server's resident set
//! sampled every second (min, max and last printed).

use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::facets::cell;
use super::load::{self, LoadReport};
use super::server::{first_component, Server};

/// What each part of the mix sends.
const PARTS: [&str; 4] = ["entity(ref)", "100-component page", "facets", "search"];

/// One catalog size's mixed-load figures.
pub(super) struct Mixed {
    reports: Vec<LoadReport>,
    /// RSS samples in MiB, one a second.
    rss: Vec<f64>,
}

/// Runs the four loads at once for `duration`, sampling the server's RSS every second.
pub(super) async fn measure(
    server: &Server,
    n: usize,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Mixed> {
    let no_cache = [("Cache-Control", "no-cache")];
    let url = server.url.as_str();
    let each = (connections / PARTS.len()).max(1);
    let bodies = [
        json!({ "query": "query($r: String!) { entity(ref: $r) { ref name } }", "variables": { "r": first_component(n) } }),
        json!({ "query": "{ entities(filter: {kind: [\"Component\"]}, first: 100) { nodes { ref name } } }" }),
        json!({ "query": "{ facets(field: \"spec.lifecycle\", filter: {kind: [\"Component\"]}) { value count } }" }),
        json!({ "query": "{ entities(query: \"paym\", first: 20) { totalCount nodes { ref } } }" }),
    ];
    let done = AtomicBool::new(false);
    let loads = async {
        let [a, b, c, d] = bodies;
        let out = tokio::join!(
            load::run_with_headers(url, a, &no_cache, each, duration),
            load::run_with_headers(url, b, &no_cache, each, duration),
            load::run_with_headers(url, c, &no_cache, each, duration),
            load::run_with_headers(url, d, &no_cache, each, duration),
        );
        done.store(true, Ordering::SeqCst);
        out
    };
    let sampler = async {
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        while !done.load(Ordering::SeqCst) {
            tick.tick().await;
            samples.extend(server.rss_mib());
        }
        samples
    };
    let ((a, b, c, d), rss) = tokio::join!(loads, sampler);
    Ok(Mixed {
        reports: vec![a?, b?, c?, d?],
        rss,
    })
}

/// Prints the mixed-load table.
pub(super) fn print(rows: &[(usize, Mixed)], connections: usize) {
    let each = (connections / PARTS.len()).max(1);
    println!("Mixed read load, {each} connections on each part at once, no-cache: req/s (p99 ms); the server's RSS sampled every second");
    println!();
    println!(
        "| N entities | {} | RSS min / max / last (MiB) |",
        PARTS.join(" | ")
    );
    println!("|---:|{}---:|", "---:|".repeat(PARTS.len()));
    for (n, m) in rows {
        let cells: Vec<String> = m.reports.iter().map(cell).collect();
        let rss = match (m.rss.iter().copied().reduce(f64::min), m.rss.last()) {
            (Some(min), Some(last)) => {
                let max = m.rss.iter().copied().fold(f64::MIN, f64::max);
                format!("{min:.0} / {max:.0} / {last:.0}")
            }
            _ => "n/a".into(),
        };
        println!("| {n} | {} | {rss} |", cells.join(" | "));
        let failed: u64 = m.reports.iter().map(|r| r.errors).sum();
        if failed > 0 {
            println!("  ({failed} requests failed)");
        }
    }
}
