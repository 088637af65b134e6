//! `greenroom bench`: generates catalogs, starts the real server on each, and prints ingest time,
//! throughput, latency and peak memory. Prints figures; it is not a timed test.

pub mod generate;
pub mod graph;
pub mod load;
mod yaml;

use anyhow::Context as _;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Catalog sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub entities: Vec<usize>,
    /// Concurrent connections for the throughput runs.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Seconds per throughput run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Working directory for generated catalogs and databases (default: a temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(dir: &Path, catalog_root: &Path) -> anyhow::Result<Self> {
        let db = dir.join("bench.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let cfg = dir.join("greenroom.yaml");
        std::fs::write(
            &cfg,
            format!(
                "server:\n  listen: 127.0.0.1:0\n  limits:\n    rateLimitPerSecond: 0\ndatabase:\n  url: sqlite://{}?mode=rwc\ncatalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location]\n  refresh:\n    interval: 1h\n  locations:\n    - type: file\n      target: {}\n",
                db.display(),
                catalog_root.display()
            ),
        )?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--config", &cfg.display().to_string(), "serve"])
            .env("RUST_LOG", "warn")
            .env_remove("GREENROOM_DATABASE_URL")
            .env_remove("GREENROOM_LISTEN")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .context("server did not start")??
                .context("server exited")?;
            if let Some(addr) = line.strip_prefix("listening on ") {
                break format!("{addr}/graphql");
            }
        };
        Ok(Self { child, url })
    }

    /// Peak resident set size (VmHWM) in MiB, from /proc.
    fn peak_rss_mib(&self) -> Option<f64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }
}

/// How many entities the sources have stored (`totalCount` stops counting at 10,000, so it cannot tell).
async fn total_count(client: &reqwest::Client, url: &str) -> Option<u64> {
    let body = json!({ "query": "{ locations { nodes { entityCount } } }" });
    let resp = client.post(url).json(&body).send().await.ok()?;
    let v: serde_json::Value = resp.json().await.ok()?;
    v["data"]["locations"]["nodes"]
        .as_array()?
        .iter()
        .map(|n| n["entityCount"].as_u64())
        .sum()
}

/// The first error a source reported for its last read, if any (a refused or invalid entity).
async fn source_error(client: &reqwest::Client, url: &str) -> Option<String> {
    let body = json!({ "query": "{ locations { nodes { lastError } } }" });
    let resp = client.post(url).json(&body).send().await.ok()?;
    let v: serde_json::Value = resp.json().await.ok()?;
    v["data"]["locations"]["nodes"]
        .as_array()?
        .iter()
        .find_map(|n| n["lastError"].as_str().map(str::to_string))
}

/// Runs the benchmark and prints a Markdown table.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let tmp = tempfile_dir(args.dir.as_deref())?;
    let client = reqwest::Client::new();
    let mut figures = Figures::default();
    println!("| N entities | start → queryable (s) | peak RSS (MiB) | entity(ref) req/s (p99 ms) | same, no-cache | 100-component page req/s (p99 ms) | same, no-cache |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &args.entities {
        measure(&args, &tmp, &client, n, &mut figures).await?;
    }
    figures.print(args.connections);
    Ok(())
}

/// The figures of every catalog size that are printed after the first table.
#[derive(Default)]
struct Figures {
    rest: Vec<(usize, [load::LoadReport; 2])>,
    rereads: Vec<(usize, [f64; 3])>,
    deploys: Vec<(usize, load::LoadReport)>,
    graphs: Vec<(usize, graph::GraphFigures)>,
}

/// A generated catalog of `n` entities under `tmp`, served by the real server once it is queryable;
/// returns the server, the catalog's directory and the seconds from start to queryable.
async fn start_catalog(
    tmp: &Path,
    client: &reqwest::Client,
    n: usize,
) -> anyhow::Result<(Server, PathBuf, f64)> {
    let dir = tmp.join(format!("n{n}"));
    let catalog = dir.join("catalog");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&catalog)?;
    let summary = generate::generate(
        &generate::GenOptions {
            entities: n,
            seed: 1,
            per_file: 100,
        },
        &catalog,
    )?;
    let expected = summary.entities as u64 + 1; // + the root Location
    let started = Instant::now();
    let server = Server::start(&dir, &summary.root).await?;
    loop {
        if total_count(client, &server.url).await == Some(expected) {
            break;
        }
        if let Some(e) = source_error(client, &server.url).await {
            anyhow::bail!("the generated catalog of {n} entities did not load: {e}");
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("catalog of {n} entities not queryable after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((server, catalog, started.elapsed().as_secs_f64()))
}

/// Measures one catalog size: prints its row of the first table, and keeps its other figures.
async fn measure(
    args: &BenchArgs,
    tmp: &Path,
    client: &reqwest::Client,
    n: usize,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let (server, catalog, ingest) = start_catalog(tmp, client, n).await?;
    let duration = Duration::from_secs(args.seconds);
    let by_ref_body = json!({
        "query": "query($r: String!) { entity(ref: $r) { ref name ... on Component { lifecycle } } }",
        "variables": { "r": first_component(n) }
    });
    let page_body = json!({ "query": "{ entities(filter: {kind: [\"Component\"]}, first: 100) { nodes { ref name ... on Component { owner { ref } system { ref } dependsOn { ref } } } } }" });
    let no_cache = [("Cache-Control", "no-cache")];
    let (c, url) = (args.connections, server.url.as_str());
    let by_ref = load::run(url, by_ref_body.clone(), c, duration).await?;
    let by_ref_uncached = load::run_with_headers(url, by_ref_body, &no_cache, c, duration).await?;
    let page = load::run(url, page_body.clone(), c, duration).await?;
    let page_uncached = load::run_with_headers(url, page_body, &no_cache, c, duration).await?;
    let rss = server
        .peak_rss_mib()
        .map(|m| format!("{m:.0}"))
        .unwrap_or_else(|| "n/a".into());
    let cell = |r: &load::LoadReport| format!("{:.0} ({:.1})", r.rps, r.p99_ms);
    println!(
        "| {n} | {ingest:.2} | {rss} | {} | {} | {} | {} |",
        cell(&by_ref),
        cell(&by_ref_uncached),
        cell(&page),
        cell(&page_uncached)
    );
    let errors: u64 = [&by_ref, &by_ref_uncached, &page, &page_uncached]
        .iter()
        .map(|r| r.errors)
        .sum();
    if errors > 0 {
        println!("  ({errors} requests failed)");
    }
    figures.rest.push((
        n,
        rest_figures(url, &first_component(n), c, duration).await?,
    ));
    figures
        .rereads
        .push((n, reread(client, &server.url, &catalog).await?));
    let record = json!({
        "query": "mutation($e: String!) { recordDeployment(input: {entityRef: $e, environment: \"production\", version: \"1.0.0\", status: SUCCEEDED}) { id } }",
        "variables": { "e": first_component(n) }
    });
    let recorded = load::run(url, record, c, duration).await?;
    figures.deploys.push((n, recorded));
    figures.graphs.push((
        n,
        graph::measure(client, url, &first_component(n), args.seconds).await?,
    ));
    drop(server);
    Ok(())
}

impl Figures {
    /// Prints the REST, re-read, deployment and graph tables.
    fn print(&self, connections: usize) {
        println!();
        println!("| N entities | REST by-name req/s (p99 ms) | REST by-query page of 100 components req/s (p99 ms) |");
        println!("|---:|---:|---:|");
        for (n, [by_name, page]) in &self.rest {
            let cell = |r: &load::LoadReport| format!("{:.0} ({:.1})", r.rps, r.p99_ms);
            println!("| {n} | {} | {} |", cell(by_name), cell(page));
            if by_name.errors + page.errors > 0 {
                println!("  ({} requests failed)", by_name.errors + page.errors);
            }
        }
        println!();
        println!("| N entities | unchanged re-read (s) | 10% changed, in 10% of the files (s) | 10% changed, spread over every file (s) |");
        println!("|---:|---:|---:|---:|");
        for (n, r) in &self.rereads {
            println!("| {n} | {:.2} | {:.2} | {:.2} |", r[0], r[1], r[2]);
        }
        println!();
        println!(
            "| N entities | recordDeployment mutations/s (p99 ms), {connections} connections |"
        );
        println!("|---:|---:|");
        for (n, r) in &self.deploys {
            println!(
                "| {n} | {:.0} ({:.1}){} |",
                r.rps,
                r.p99_ms,
                if r.errors > 0 {
                    format!(", {} failed", r.errors)
                } else {
                    String::new()
                }
            );
        }
        println!();
        self.print_graphs();
    }

    /// Prints the graph table.
    fn print_graphs(&self) {
        println!("| N entities | graph, depth 3 (nodes): p50 / p99 ms | impact of the most used resource (affected): p50 / p99 ms | dependencyCycles of all components (cycles): p50 / p99 ms |");
        println!("|---:|---:|---:|---:|");
        for (n, g) in &self.graphs {
            println!(
                "| {n} | ({}) {:.1} / {:.1} | ({}) {:.1} / {:.1} | ({}) {:.0} / {:.0} |",
                g.graph_nodes,
                g.graph.p50_ms,
                g.graph.p99_ms,
                g.impact_count,
                g.impact.p50_ms,
                g.impact.p99_ms,
                g.cycle_count,
                g.cycles.p50_ms,
                g.cycles.p99_ms
            );
        }
    }
}

/// Times `refreshLocation` on the loaded catalog: unchanged, then 10% of the entities changed in 10% of
/// the files, then 10% changed spread over every file (every 10th entity's description).
/// Backstage REST reads, without the response cache: `GET /entities/by-name/…` of one component, and
/// the first `by-query` page of 100 components (with `totalItems`).
async fn rest_figures(
    graphql_url: &str,
    component: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<[load::LoadReport; 2]> {
    let base = graphql_url.trim_end_matches("/graphql");
    let name = component.rsplit('/').next().unwrap_or(component);
    let no_cache = [("Cache-Control", "no-cache")];
    let by_name = format!("{base}/api/catalog/entities/by-name/component/default/{name}");
    let by_name = load::run_get(&by_name, &no_cache, connections, duration).await?;
    let page = format!(
        "{base}/api/catalog/entities/by-query?filter=kind=component&limit=100&orderField=metadata.name,asc"
    );
    let page = load::run_get(&page, &no_cache, connections, duration).await?;
    Ok([by_name, page])
}

async fn reread(client: &reqwest::Client, url: &str, catalog: &Path) -> anyhow::Result<[f64; 3]> {
    let locs: serde_json::Value = client
        .post(url)
        .json(&json!({ "query": "{ locations { nodes { id } } }" }))
        .send()
        .await?
        .json()
        .await?;
    let id = locs["data"]["locations"]["nodes"][0]["id"]
        .as_str()
        .context("no location")?
        .to_string();
    let refresh = || async {
        let started = Instant::now();
        let r: serde_json::Value = client
            .post(url)
            .json(&json!({ "query": "mutation($id: ID!) { refreshLocation(id: $id) { lastError } }", "variables": {"id": id} }))
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(r["errors"].is_null(), "refresh failed: {r}");
        Ok::<f64, anyhow::Error>(started.elapsed().as_secs_f64())
    };
    let unchanged = refresh().await?;
    let mut files = Vec::new();
    for kind_dir in std::fs::read_dir(catalog)? {
        let dir = kind_dir?.path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir)? {
                files.push(f?.path());
            }
        }
    }
    files.sort();
    for f in files.iter().step_by(10) {
        let text = std::fs::read_to_string(f)?;
        std::fs::write(
            f,
            text.replace("description: \"Synthetic", "description: \"Changed"),
        )?;
    }
    let some_files = refresh().await?;
    for f in &files {
        let text = std::fs::read_to_string(f)?;
        let mut out = String::with_capacity(text.len());
        for (i, part) in text.split("description: ").enumerate() {
            if i > 0 {
                out.push_str(if i % 10 == 0 {
                    "description: Spread "
                } else {
                    "description: "
                });
            }
            out.push_str(part);
        }
        std::fs::write(f, out)?;
    }
    let spread = refresh().await?;
    Ok([unchanged, some_files, spread])
}

/// Ref of the first generated component (names are zero-padded to max(5, digits of N)).
fn first_component(n: usize) -> String {
    let width = n.to_string().len().max(5);
    format!("component:default/component-{:0width$}", 1)
}

fn tempfile_dir(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let d = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("greenroom-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
