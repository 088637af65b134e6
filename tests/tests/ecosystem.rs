//! The ecosystem's own tools against a real server on an ephemeral port: the `graphql-http` audit suite
//! (every MUST passes; SHOULDs are printed) and GraphiQL driven in Debian's headless Chromium through
//! playwright-core (a query typed, run, and its result seen; the screenshot is kept in
//! `tests/js/out/graphiql.png`). Both need `npm ci` in `tests/js` (`.ci/run` does it); without it, or
//! without node or chromium, the tests say so and skip.

use greenroom_tests::{TestDb, TestServer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Why the JS checks cannot run here, if they cannot.
fn missing_tools(needs_browser: bool) -> Option<String> {
    if !js_dir().join("node_modules").exists() {
        return Some(format!(
            "{} has no node_modules (run `npm ci` there)",
            js_dir().display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    if needs_browser && !Path::new("/usr/bin/chromium").exists() {
        return Some("/usr/bin/chromium is not installed".into());
    }
    None
}

async fn server() -> (TestDb, TestServer) {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestServer::start(&t.db).await;
    (t, s)
}

/// Runs `node script args…` off the async runtime; returns (success, stdout + stderr).
async fn node(script: &str, args: Vec<String>) -> (bool, String) {
    let dir = js_dir();
    let script = script.to_string();
    tokio::task::spawn_blocking(move || {
        let out = Command::new("node")
            .arg(&script)
            .args(&args)
            .current_dir(&dir)
            .output()
            .expect("run node");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_graphql_over_http_audit_passes_every_must() {
    if let Some(why) = missing_tools(false) {
        eprintln!("SKIPPED the_graphql_over_http_audit_passes_every_must: {why}");
        return;
    }
    let (_t, s) = server().await;
    let (ok, out) = node("audit.mjs", vec![s.url("/graphql")]).await;
    // Printed in full so the SHOULD results are visible in the test output.
    println!("{out}");
    assert!(ok, "a MUST audit failed:\n{out}");
    assert!(out.contains("0 MUST failure(s)"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("FAIL")), "{out}");
}

#[tokio::test]
async fn graphiql_runs_a_query_in_a_real_browser() {
    if let Some(why) = missing_tools(true) {
        eprintln!("SKIPPED graphiql_runs_a_query_in_a_real_browser: {why}");
        return;
    }
    let (_t, s) = server().await;
    let shot = js_dir().join("out").join("graphiql.png");
    let _ = std::fs::remove_file(&shot);
    let (ok, out) = node(
        "graphiql.mjs",
        vec![s.url("/graphql"), shot.display().to_string()],
    )
    .await;
    println!("{out}");
    assert!(ok, "GraphiQL did not show the result:\n{out}");
    assert!(out.contains("totalCount"), "{out}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    println!("screenshot: {}", shot.display());
}
