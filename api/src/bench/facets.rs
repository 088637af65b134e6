//! Facet figures of `greenroom bench`: the facets of `spec.lifecycle` over components, without the
//! response cache, through GraphQL (`facets(field:, filter: {kind:})`) and the REST API
//! (`GET /api/catalog/entity-facets?facet=spec.lifecycle&filter=kind=component`), and the GraphQL facet
//! under a filter the counts table does not answer (kind and owner: a scan of the matching rows).

use serde_json::json;
use std::time::Duration;

use super::load::{self, LoadReport};

/// One catalog size's facet figures.
pub(super) struct FacetFigures {
    pub(super) graphql: LoadReport,
    pub(super) rest: LoadReport,
    pub(super) filtered: LoadReport,
}

/// Runs the three facet loads, on the catalog of `n` entities, against the server at `graphql_url`.
pub(super) async fn measure(
    graphql_url: &str,
    n: usize,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<FacetFigures> {
    let no_cache = [("Cache-Control", "no-cache")];
    let body = json!({ "query": "{ facets(field: \"spec.lifecycle\", filter: {kind: [\"Component\"]}) { value count } }" });
    let graphql =
        load::run_with_headers(graphql_url, body, &no_cache, connections, duration).await?;
    let base = graphql_url.trim_end_matches("/graphql");
    let url =
        format!("{base}/api/catalog/entity-facets?facet=spec.lifecycle&filter=kind=component");
    let rest = load::run_get(&url, &no_cache, connections, duration).await?;
    let body = json!({
        "query": "query($o: String!) { facets(field: \"spec.lifecycle\", filter: {kind: [\"Component\"], owner: [$o]}) { value count } }",
        "variables": { "o": super::server::first_group(n) }
    });
    let filtered =
        load::run_with_headers(graphql_url, body, &no_cache, connections, duration).await?;
    Ok(FacetFigures {
        graphql,
        rest,
        filtered,
    })
}

/// Prints the facet table.
pub(super) fn print(rows: &[(usize, FacetFigures)], connections: usize) {
    println!("| N entities | facets of spec.lifecycle over components, GraphQL, no-cache: req/s (p99 ms), {connections} connections | same, REST entity-facets | GraphQL, filter kind + owner |");
    println!("|---:|---:|---:|---:|");
    for (n, f) in rows {
        println!(
            "| {n} | {} | {} | {} |",
            cell(&f.graphql),
            cell(&f.rest),
            cell(&f.filtered)
        );
        let failed = f.graphql.errors + f.rest.errors + f.filtered.errors;
        if failed > 0 {
            println!("  ({failed} requests failed)");
        }
    }
}

/// `req/s (p99 ms)`.
pub(super) fn cell(r: &LoadReport) -> String {
    format!("{:.0} ({:.1})", r.rps, r.p99_ms)
}
