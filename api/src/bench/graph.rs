//! Graph query latencies on a loaded catalog (one client, `Cache-Control: no-cache`): a neighbourhood at
//! depth 3 from a component, the impact of the most used resource of a sample, and the dependency cycles
//! among all components.

use anyhow::Context as _;
use serde_json::{json, Value};
use std::time::Duration;

use super::load::{self, LoadReport};

pub struct GraphFigures {
    pub graph: LoadReport,
    pub graph_nodes: u64,
    pub impact: LoadReport,
    pub impact_count: u64,
    pub cycles: LoadReport,
    pub cycle_count: u64,
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
    let v: Value = client.post(url).json(body).send().await?.json().await?;
    anyhow::ensure!(v["errors"].is_null(), "query failed: {v}");
    Ok(v)
}

/// The resource with the most dependents among the first 500.
async fn most_used_resource(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let q = json!({ "query": r#"{ entities(filter: {kind: ["Resource"]}, first: 500) { nodes { ref relations(type: "dependencyOf") { targetRef } } } }"# });
    let v = post(client, url, &q).await?;
    v["data"]["entities"]["nodes"]
        .as_array()
        .and_then(|nodes| {
            nodes
                .iter()
                .max_by_key(|n| n["relations"].as_array().map(Vec::len).unwrap_or_default())
        })
        .and_then(|n| n["ref"].as_str())
        .map(str::to_string)
        .context("the catalog has no resources")
}

pub async fn measure(
    client: &reqwest::Client,
    url: &str,
    component: &str,
    seconds: u64,
) -> anyhow::Result<GraphFigures> {
    let no_cache = [("Cache-Control", "no-cache")];
    let duration = Duration::from_secs(seconds.clamp(1, 5));
    let graph = json!({
        "query": "query($r: String!) { entity(ref: $r) { graph(maxDepth: 3) { nodes { ref depth } edges { source type target } truncated } } }",
        "variables": { "r": component }
    });
    let graph_nodes = post(client, url, &graph).await?["data"]["entity"]["graph"]["nodes"]
        .as_array()
        .map(|a| a.len() as u64)
        .unwrap_or_default();
    let resource = most_used_resource(client, url).await?;
    let impact = json!({
        "query": "query($r: String!) { impact(ref: $r) { count truncated owners { ownerRef entities { ref depth } } } }",
        "variables": { "r": resource }
    });
    let impact_count = post(client, url, &impact).await?["data"]["impact"]["count"]
        .as_u64()
        .unwrap_or_default();
    let cycles = json!({ "query": r#"{ dependencyCycles(filter: {kind: ["Component"]}, first: 1000) { refs } }"# });
    let cycle_count = post(client, url, &cycles).await?["data"]["dependencyCycles"]
        .as_array()
        .map(|a| a.len() as u64)
        .unwrap_or_default();
    Ok(GraphFigures {
        graph: load::run_with_headers(url, graph, &no_cache, 1, duration).await?,
        graph_nodes,
        impact: load::run_with_headers(url, impact, &no_cache, 1, duration).await?,
        impact_count,
        cycles: load::run_with_headers(url, cycles, &no_cache, 1, duration).await?,
        cycle_count,
    })
}
