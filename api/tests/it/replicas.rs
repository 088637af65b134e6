//! Two real `greenroom serve` processes on one PostgreSQL database: a url source is read once per
//! interval between them (the leases), counted at the local HTTP server that serves it.

use crate::serve as start;
use greenroom_tests::pg;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_read_a_source_once_per_interval() {
    let Some(admin_url) = pg::admin_url() else {
        eprintln!(
            "SKIPPED: {} is not set; the two-replica PostgreSQL test did not run",
            pg::PG_ENV
        );
        return;
    };
    let name = format!("gr_replicas_{}", std::process::id());
    let db_url = pg::create(&admin_url, &name).await;

    // The source: one YAML file over HTTP, no ETag, so every read is one GET.
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = reads.clone();
    let app = axum::Router::new().route(
        "/catalog.yaml",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: shared}\nspec: {type: service, lifecycle: production, owner: team-a}\n" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let source = format!("http://{}/catalog.yaml", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("greenroom.yaml");
    std::fs::write(
        &config,
        format!("server:\n  listen: 127.0.0.1:0\ndatabase:\n  url: {db_url}\ncatalog:\n  refresh:\n    interval: 1s\n  locations:\n    - type: url\n      target: {source}\n"),
    )
    .unwrap();
    // The first migrates; the second starts once the schema exists.
    let one = start(&config);
    let two = start(&config);

    let client = reqwest::Client::new();
    let started = Instant::now();
    for server in [&one, &two] {
        loop {
            let r: serde_json::Value = client
                .post(format!("{}/graphql", server.addr))
                .json(
                    &serde_json::json!({"query": "{ entity(ref: \"component:shared\") { ref } }"}),
                )
                .send()
                .await
                .expect("query")
                .json()
                .await
                .expect("json");
            if !r["data"]["entity"].is_null() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never loaded: {r}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Count the reads over a window of 6 intervals. Both processes try every interval; the lease lets
    // one read per interval (without it this would be about 12).
    let window = Duration::from_secs(6);
    let before = reads.load(Ordering::SeqCst);
    tokio::time::sleep(window).await;
    let during = reads.load(Ordering::SeqCst) - before;
    eprintln!("reads of the shared source in {window:?} by two servers: {during}");
    drop(one);
    drop(two);
    pg::drop(&admin_url, &name).await;
    assert!(
        (4..=7).contains(&during),
        "expected one read per 1s interval over 6 s, got {during}"
    );
}

/// Two real servers on one PostgreSQL share the scaffolder queue: 200 tasks, created on both, each run
/// exactly once, by workers of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_never_run_a_task_twice() {
    let Some(admin_url) = pg::admin_url() else {
        eprintln!(
            "SKIPPED: {} is not set; the two-replica scaffolder test did not run",
            pg::PG_ENV
        );
        return;
    };
    let name = format!("gr_tasks_{}", std::process::id());
    let db_url = pg::create(&admin_url, &name).await;
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/scaffolder/secret.yaml");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("greenroom.yaml");
    std::fs::write(
        &config,
        format!(
            "server:\n  listen: 127.0.0.1:0\n  limits:\n    rateLimitPerSecond: 0\ndatabase:\n  url: {db_url}\ncatalog:\n  rules:\n    - allow: [Component, API, Location, Template, System, Domain, Resource, Group, User]\n  locations:\n    - type: file\n      target: {}\nscaffolder:\n  concurrency: 4\n",
            template.display()
        ),
    )
    .unwrap();
    let one = start(&config);
    let two = start(&config);
    let client = reqwest::Client::new();
    let post = |addr: String, body: serde_json::Value| {
        let client = client.clone();
        async move {
            client
                .post(format!("{addr}/graphql"))
                .json(&body)
                .send()
                .await
                .expect("post")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let create = serde_json::json!({"query": "mutation { createTask(input: {templateRef: \"template:with-secret\", values: {name: \"x\"}}) { id } }"});
    let mut ids = Vec::new();
    let started = Instant::now();
    while ids.len() < 200 {
        let server = if ids.len() % 2 == 0 { &one } else { &two };
        let r = post(server.addr.clone(), create.clone()).await;
        match r["data"]["createTask"]["id"].as_str() {
            Some(id) => ids.push(id.to_string()),
            // The template is read at start-up.
            None => {
                assert!(started.elapsed() < Duration::from_secs(30), "{r}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let mut holders = std::collections::HashMap::new();
    for id in &ids {
        loop {
            let r = post(
                one.addr.clone(),
                serde_json::json!({"query": "query($id: ID!) { task(id: $id) { status events { nodes { message } } } }", "variables": {"id": id}}),
            )
            .await;
            let task = &r["data"]["task"];
            if task["status"] == "COMPLETED" {
                let starts: Vec<String> = task["events"]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|e| e["message"].as_str())
                    .filter(|m| m.starts_with("started by"))
                    .map(str::to_string)
                    .collect();
                assert_eq!(starts.len(), 1, "{id}: {task}");
                *holders.entry(starts[0].clone()).or_insert(0) += 1;
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{id} not done: {r}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("tasks per worker: {holders:?}");
    drop(one);
    drop(two);
    pg::drop(&admin_url, &name).await;
    assert_eq!(holders.len(), 2, "both servers ran tasks: {holders:?}");
}
