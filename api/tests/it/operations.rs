//! Operating the real binary: `/metrics` after real traffic, JSON request logs, SIGTERM under load losing no
//! accepted request, `healthcheck`, `config check`, `--help` everywhere, and the Dockerfile's paths.

use crate::bin;
use greenroom_tests::process::listening;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts `serve` on the README's example catalog on port 0 (no rate limit: the load comes from one
/// subject); returns the child and its base URL.
fn serve(db: &Path) -> (Child, String) {
    let cfg = db.with_extension("yaml");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  limits:\n    rateLimitPerSecond: 0\ncatalog:\n  rules:\n    - allow: [Component, API, Location, Template, System, Domain, Resource, Group, User]\n  locations:\n    - type: file\n      target: {}\n    - type: file\n      target: {}\n",
            repo().join("examples/catalog-info.yaml").display(),
            repo().join("tests/fixtures/scaffolder/secret.yaml").display()
        ),
    )
    .unwrap();
    let mut child = bin()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(repo())
        .env(
            "GREENROOM_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening(&mut child);
    (child, addr)
}

/// SIGKILLs a process when dropped (a no-op once it has exited).
struct Reap(u32);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

async fn wait_for_catalog(client: &reqwest::Client, addr: &str) {
    let started = Instant::now();
    loop {
        let resp: serde_json::Value = client
            .post(format!("{addr}/graphql"))
            .json(&serde_json::json!({ "query": "{ entity(ref: \"component:stream-service\") { ref } }" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !resp["data"]["entity"].is_null() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "catalog never loaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const LOAD: &str =
    "query Load { entities(first: 50) { totalCount nodes { ref name owner { ref } } } }";

#[test]
fn metrics_logs_and_sigterm_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(&dir.path().join("ops.db"));
    // A failed assertion must not leave the server running (it would keep the test's files open).
    let _reap = Reap(child.id());
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let failures = rt.block_on(async {
        let client = reqwest::Client::new();
        wait_for_catalog(&client, &addr).await;

        // Real traffic: a named query, a recorded deployment, then the series it produced.
        let r: serde_json::Value = client
            .post(format!("{addr}/graphql"))
            .json(&serde_json::json!({ "query": LOAD, "operationName": "Load" }))
            .send().await.unwrap().json().await.unwrap();
        assert!(r["errors"].is_null(), "{r}");
        let r: serde_json::Value = client
            .post(format!("{addr}/graphql"))
            .json(&serde_json::json!({ "query": "mutation Ship { recordDeployment(input: {entityRef: \"component:stream-service\", environment: \"production\", version: \"1.0.0\", status: SUCCEEDED}) { id } }" }))
            .send().await.unwrap().json().await.unwrap();
        assert!(r["errors"].is_null(), "{r}");
        // A scaffolder task, run to its end.
        let started = Instant::now();
        let task = loop {
            let r: serde_json::Value = client
                .post(format!("{addr}/graphql"))
                .json(&serde_json::json!({ "query": "mutation { createTask(input: {templateRef: \"template:with-secret\", values: {name: \"ops\"}}) { id } }" }))
                .send().await.unwrap().json().await.unwrap();
            if let Some(id) = r["data"]["createTask"]["id"].as_str() {
                break id.to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{r}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        loop {
            let r: serde_json::Value = client
                .post(format!("{addr}/graphql"))
                .json(&serde_json::json!({ "query": "query($id: ID!) { task(id: $id) { status } }", "variables": {"id": task} }))
                .send().await.unwrap().json().await.unwrap();
            if r["data"]["task"]["status"] == "COMPLETED" {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{r}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let metrics = client.get(format!("{addr}/metrics")).send().await.unwrap();
        assert_eq!(metrics.status(), 200);
        assert!(metrics.headers()["content-type"].to_str().unwrap().contains("openmetrics"));
        let text = metrics.text().await.unwrap();
        for series in [
            r#"greenroom_graphql_requests_total{operation="Load",outcome="ok"} 1"#,
            r#"greenroom_graphql_request_duration_seconds_bucket{le="+Inf",operation="Load",outcome="ok"} 1"#,
            r#"greenroom_graphql_requests_total{operation="Ship",outcome="ok"} 1"#,
            r#"greenroom_deployments_recorded_total{environment="production",status="SUCCEEDED"} 1"#,
            "greenroom_db_pool_connections ",
            "greenroom_db_pool_idle_connections ",
            "greenroom_provider_runs_total{source=",
            "greenroom_provider_run_duration_seconds_count{source=",
            "greenroom_provider_entities_written_total{source=",
            "greenroom_scaffolder_queue_depth 0",
            "greenroom_scaffolder_tasks_running 0",
            r#"greenroom_scaffolder_tasks_finished_total{outcome="completed"} 1"#,
        ] {
            assert!(text.contains(series), "missing {series} in:\n{text}");
        }

        // healthcheck answers 0 while the server runs.
        let ok = bin().args(["healthcheck", "--url", &addr]).status().unwrap();
        assert!(ok.success());

        // Load from 8 clients, each request on a new connection; SIGTERM once 100 have completed.
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut workers = Vec::new();
        for _ in 0..8 {
            let (addr, done, stop) = (addr.clone(), done.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
                let mut failures = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let sent = client
                        .post(format!("{addr}/graphql"))
                        .json(&serde_json::json!({ "query": LOAD, "operationName": "Load" }))
                        .send()
                        .await;
                    match sent {
                        Ok(resp) => {
                            let status = resp.status();
                            match resp.json::<serde_json::Value>().await {
                                Ok(v) if status == 200 && v["errors"].is_null() => {
                                    done.fetch_add(1, Ordering::SeqCst);
                                }
                                Ok(v) => failures.push(format!("{status}: {v}")),
                                Err(e) => failures.push(format!("{status}: body lost: {e}")),
                            }
                        }
                        // Refused: the listener is closed. That is the one failure allowed.
                        Err(e) if e.is_connect() => break,
                        Err(e) => {
                            let mut chain = format!("{e}");
                            let mut src = std::error::Error::source(&e);
                            while let Some(s) = src {
                                chain.push_str(&format!(" <- {s}"));
                                src = s.source();
                            }
                            // A connection the server accepted (or left in its backlog) but closed before
                            // reading a request is reset or closed: refused too. That no request the server executed was lost
                            // is checked against its log below.
                            if chain.contains("Connection reset by peer")
                                || chain.contains("connection closed before message completed")
                            {
                                break;
                            }
                            failures.push(format!("request failed: {chain}"))
                        }
                    }
                }
                failures
            }));
        }
        let started = Instant::now();
        while done.load(Ordering::SeqCst) < 100 {
            assert!(started.elapsed() < Duration::from_secs(30), "load never reached 100 requests");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let exited = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(exited.elapsed() < Duration::from_secs(20), "server did not stop after SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        stop.store(true, Ordering::SeqCst);
        assert!(status.success(), "exit status after SIGTERM: {status}");
        let mut failures = Vec::new();
        for w in workers {
            failures.extend(w.await.unwrap());
        }
        // After shutdown the health check fails.
        let down = bin().args(["healthcheck", "--url", &addr]).status().unwrap();
        assert!(!down.success());
        (failures, done.load(Ordering::SeqCst))
    });
    let (failures, succeeded) = failures;
    assert!(
        failures.is_empty(),
        "requests failed during shutdown: {failures:?}"
    );

    // stderr is not a terminal: JSON lines, one per request with its operation, subject, duration and id.
    let logs = logs.join().unwrap();
    let request = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "graphql request" && v["operation"] == "Load")
        .unwrap_or_else(|| panic!("no JSON request log line in:\n{logs}"));
    assert_eq!(request["subject"], "dev", "{request}");
    assert_eq!(request["status"], 200, "{request}");
    assert!(request["duration_ms"].is_number(), "{request}");
    assert_eq!(
        request["request_id"].as_str().map(str::len),
        Some(32),
        "{request}"
    );
    assert!(logs.contains("shutting down"), "{logs}");
    // Every request the server executed reached its client: the load's successes plus the first query.
    let executed = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "graphql request" && v["operation"] == "Load")
        .count();
    assert_eq!(executed, succeeded + 1, "requests executed vs answered");
}

#[test]
fn config_check_prints_effective_values_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("greenroom.yaml");
    std::fs::write(
        &cfg,
        "server:\n  listen: 0.0.0.0:9000\n  logFormat: json\ndatabase:\n  url: postgres://app:hunter2-password@db:5432/greenroom\nauth:\n  jwt:\n    secret: a-secret-that-is-at-least-32-bytes-long\n",
    )
    .unwrap();
    let out = bin()
        .args(["config", "check", cfg.to_str().unwrap()])
        .env("GREENROOM_LISTEN", "127.0.0.1:9001")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("listen: 127.0.0.1:9001"),
        "environment overrides apply: {stdout}"
    );
    assert!(stdout.contains("logFormat: json"), "{stdout}");
    assert!(
        stdout.contains("postgres://app:********@db:5432/greenroom"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(!stdout.contains("a-secret-that"), "{stdout}");
    assert!(
        stdout.contains("rateLimitPerSecond"),
        "defaults are shown: {stdout}"
    );

    std::fs::write(&cfg, "server:\n  logFormat: xml\n").unwrap();
    let out = bin()
        .args(["config", "check", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.logFormat must be auto, json or text"),
        "{stderr}"
    );
}

#[test]
fn every_subcommand_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["schema", "--help"],
        vec!["validate", "--help"],
        vec!["token", "--help"],
        vec!["token", "issue", "--help"],
        vec!["token", "revoke", "--help"],
        vec!["bench", "--help"],
        vec!["config", "--help"],
        vec!["config", "check", "--help"],
        vec!["healthcheck", "--help"],
    ] {
        let out = bin().args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}");
        assert!(stdout.contains("Usage: greenroom"), "{args:?}: {stdout}");
    }
}

#[test]
fn the_dockerfile_and_compose_file_use_what_the_build_produces() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("--bin greenroom"));
    assert_eq!(
        env!("CARGO_BIN_EXE_greenroom").rsplit('/').next(),
        Some("greenroom")
    );
    // Every file copied out of the build stage exists in the source tree (or is the binary).
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY --from=builder"))
    {
        let src = line.split_whitespace().nth(2).unwrap();
        let rel = src.strip_prefix("/src/").expect("copied from /src");
        if rel != "target/release/greenroom" {
            assert!(
                repo().join(rel).exists(),
                "{rel} is copied but does not exist"
            );
        }
    }
    // The runtime user is not root, the data volume holds the SQLite file, the health check calls the
    // binary's own subcommand, and the default command is a real subcommand.
    assert!(dockerfile.contains("USER greenroom"));
    assert!(dockerfile.contains(r#"VOLUME ["/data"]"#));
    assert!(dockerfile.contains("sqlite:///data/"));
    assert!(dockerfile.contains(r#"CMD ["greenroom", "healthcheck""#));
    assert!(
        dockerfile.contains(r#"ENTRYPOINT ["greenroom"]"#)
            && dockerfile.contains(r#"CMD ["serve"]"#)
    );
    let compose = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    for needed in [
        "GREENROOM_DATABASE_URL",
        "GREENROOM_JWT_SECRET",
        "postgres",
        "healthcheck",
    ] {
        assert!(
            compose.contains(needed),
            "docker-compose.yml lacks {needed}"
        );
    }
    // The image's default config is valid as the container runs it.
    let out = bin()
        .args(["config", "check", "greenroom.yaml"])
        .current_dir(repo())
        .env("GREENROOM_LISTEN", "0.0.0.0:8080")
        .env(
            "GREENROOM_DATABASE_URL",
            "sqlite:///data/greenroom.db?mode=rwc",
        )
        .env(
            "GREENROOM_JWT_SECRET",
            "a-container-secret-of-at-least-32-bytes",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The benchmark runs end to end on a small catalog: every kind it generates is loaded (a catalog the
/// server's rules refused would never become queryable) and every table is printed without failures;
/// with GREENROOM_TEST_POSTGRES_URL set, on PostgreSQL too, with the comparison table.
#[test]
fn the_benchmark_runs_on_a_small_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = std::env::var("GREENROOM_TEST_POSTGRES_URL").ok();
    let mut command = bin();
    command
        .args([
            "bench",
            "--entities",
            "200",
            "--seconds",
            "1",
            "--connections",
            "2",
        ])
        .arg("--dir")
        .arg(dir.path());
    if let Some(url) = &postgres {
        command.args(["--postgres", url]);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for table in [
        "REST by-name",
        "facets of spec.lifecycle over components",
        "| `pay` | `paym` |",
        "Mixed read load",
        "RSS min / max / last",
        "unchanged re-read",
        "recordDeployment",
        "dependencyCycles",
    ] {
        assert!(stdout.contains(table), "no {table} table:\n{stdout}");
    }
    assert!(stdout.contains("| 200 |"), "{stdout}");
    assert!(!stdout.contains("requests failed"), "{stdout}");
    assert!(stdout.contains("filter kind + owner"), "{stdout}");
    if postgres.is_some() {
        for part in [
            "## PostgreSQL",
            "| PG / SQLite |",
            "| 200 | REST by-query page of 100 |",
        ] {
            assert!(stdout.contains(part), "no {part}:\n{stdout}");
        }
    }
}
