//! `greenroom bench`: generates catalogs, starts the real server on each, and prints ingest time,
//! throughput, latency, peak memory and the recovery time after a SIGKILL. Prints figures; it is not a
//! timed test.

mod compare;
mod database;
mod facets;
pub mod generate;
pub mod graph;
pub mod load;
mod mixed;
mod recovery;
mod search;
mod server;
mod yaml;

use anyhow::Context as _;
use database::Backend;
use serde_json::json;
use server::{first_component, wait_queryable, Loaded, Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// Also run every load on PostgreSQL, after SQLite, through this admin URL (e.g.
    /// `postgres://postgres:pw@127.0.0.1:5432/postgres?sslmode=disable`): a fresh database is created
    /// and dropped per catalog size, and a last table compares the uncached reads.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

/// Runs the benchmark on SQLite (then on PostgreSQL with `--postgres`) and prints Markdown tables.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let tmp = tempfile_dir(args.dir.as_deref())?;
    let mut backends = vec![Backend::Sqlite];
    if let Some(url) = &args.postgres {
        backends.push(Backend::postgres(url)?);
    }
    let mut runs = Vec::new();
    for backend in &backends {
        if backends.len() > 1 {
            println!("## {}", backend.label());
            println!();
        }
        runs.push(run_on(&args, &tmp, backend).await?);
        println!();
    }
    if let [sqlite, postgres] = runs.as_slice() {
        compare::print(&sqlite.reads, &postgres.reads);
    }
    Ok(())
}

/// Every catalog size on one backend; prints its tables and returns its figures.
async fn run_on(args: &BenchArgs, tmp: &Path, backend: &Backend) -> anyhow::Result<Figures> {
    let client = reqwest::Client::new();
    let mut figures = Figures::default();
    println!("| N entities | start → queryable (s) | peak RSS (MiB) | entity(ref) req/s (p99 ms) | same, no-cache | 100-component page req/s (p99 ms) | same, no-cache | filter kind + owner, first 50, no-cache |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &args.entities {
        let loaded = start_catalog(tmp, backend, &client, n).await?;
        measure(args, &client, loaded, &mut figures).await?;
    }
    figures.print(args.connections);
    Ok(figures)
}

/// The figures of every catalog size that are printed after the first table.
#[derive(Default)]
struct Figures {
    rest: Vec<(usize, [load::LoadReport; 2])>,
    rereads: Vec<(usize, [f64; 3])>,
    deploys: Vec<(usize, load::LoadReport)>,
    graphs: Vec<(usize, graph::GraphFigures)>,
    recoveries: Vec<(usize, recovery::Recovery)>,
    facets: Vec<(usize, facets::FacetFigures)>,
    searches: Vec<(usize, search::SearchFigures)>,
    mixed: Vec<(usize, mixed::Mixed)>,
    /// The uncached reads again, for the comparison of backends.
    reads: Vec<(usize, compare::Reads)>,
}

/// A generated catalog of `n` entities under `tmp`, served by the real server on `backend` once it is
/// queryable.
async fn start_catalog(
    tmp: &Path,
    backend: &Backend,
    client: &reqwest::Client,
    n: usize,
) -> anyhow::Result<Loaded> {
    let dir = tmp.join(format!("{}-n{n}", backend.tag()));
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
    let db = backend.database(&dir, n);
    db.reset().await?;
    let started = Instant::now();
    let server = Server::spawn(&db, &dir, &summary.root, None).await?;
    wait_queryable(client, &server.url, n).await?;
    Ok(Loaded {
        server,
        dir,
        db,
        catalog,
        root: summary.root,
        n,
        ingest: started.elapsed().as_secs_f64(),
    })
}

/// Measures one catalog size: prints its row of the first table, and keeps its other figures.
async fn measure(
    args: &BenchArgs,
    client: &reqwest::Client,
    loaded: Loaded,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let (server, n) = (&loaded.server, loaded.n);
    let duration = Duration::from_secs(args.seconds);
    let (c, url) = (args.connections, server.url.as_str());
    let mut reads = first_row(args, &loaded).await?;
    let rest = rest_figures(url, &first_component(n), c, duration).await?;
    let facets = facets::measure(url, n, c, duration).await?;
    reads.loads.extend([
        ("REST by-name", rest[0]),
        ("REST by-query page of 100", rest[1]),
        ("facets, GraphQL (counts table)", facets.graphql),
        ("facets, REST (counts table)", facets.rest),
        ("facets, GraphQL, filter kind + owner", facets.filtered),
    ]);
    figures.reads.push((n, reads));
    figures.rest.push((n, rest));
    figures.facets.push((n, facets));
    figures
        .searches
        .push((n, search::measure(url, c, duration).await?));
    figures
        .mixed
        .push((n, mixed::measure(server, n, c, duration).await?));
    figures
        .rereads
        .push((n, reread(client, url, &loaded.catalog).await?));
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
    figures
        .recoveries
        .push((n, recovery::measure(client, loaded).await?));
    Ok(())
}

/// The loads of the first table (by ref and the page, cached and not; the filtered list), printed as
/// its row; returns the uncached ones.
async fn first_row(args: &BenchArgs, loaded: &Loaded) -> anyhow::Result<compare::Reads> {
    let (n, ingest) = (loaded.n, loaded.ingest);
    let duration = Duration::from_secs(args.seconds);
    let by_ref_body = json!({
        "query": "query($r: String!) { entity(ref: $r) { ref name ... on Component { lifecycle } } }",
        "variables": { "r": first_component(n) }
    });
    let page_body = json!({ "query": "{ entities(filter: {kind: [\"Component\"]}, first: 100) { nodes { ref name ... on Component { owner { ref } system { ref } dependsOn { ref } } } } }" });
    let no_cache = [("Cache-Control", "no-cache")];
    let (c, url) = (args.connections, loaded.server.url.as_str());
    let by_ref = load::run(url, by_ref_body.clone(), c, duration).await?;
    let by_ref_uncached = load::run_with_headers(url, by_ref_body, &no_cache, c, duration).await?;
    let page = load::run(url, page_body.clone(), c, duration).await?;
    let page_uncached = load::run_with_headers(url, page_body, &no_cache, c, duration).await?;
    let filter = compare::filter_kind_owner(url, n, c, duration).await?;
    let rss = loaded
        .server
        .peak_rss_mib()
        .map(|m| format!("{m:.0}"))
        .unwrap_or_else(|| "n/a".into());
    let cell = facets::cell;
    println!(
        "| {n} | {ingest:.2} | {rss} | {} | {} | {} | {} | {} |",
        cell(&by_ref),
        cell(&by_ref_uncached),
        cell(&page),
        cell(&page_uncached),
        cell(&filter)
    );
    let errors: u64 = [&by_ref, &by_ref_uncached, &page, &page_uncached, &filter]
        .iter()
        .map(|r| r.errors)
        .sum();
    if errors > 0 {
        println!("  ({errors} requests failed)");
    }
    Ok(compare::Reads {
        ingest,
        loads: vec![
            ("entity(ref)", by_ref_uncached),
            ("page of 100 components with relations", page_uncached),
            ("filter kind + owner, first 50", filter),
        ],
    })
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
        facets::print(&self.facets, connections);
        println!();
        search::print(&self.searches, connections);
        println!();
        mixed::print(&self.mixed, connections);
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
        println!();
        recovery::print(&self.recoveries);
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

fn tempfile_dir(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let d = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("greenroom-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
