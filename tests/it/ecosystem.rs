//! The ecosystem's own tools against a real server on an ephemeral port: the `graphql-http` audit suite
//! (every MUST passes; SHOULDs are printed) and GraphiQL driven in Debian's headless Chromium through
//! playwright-core (a query typed, run, and its result seen; the screenshot is kept in
//! `tests/js/out/graphiql.png`). Both need `npm ci` in `tests/js` (`.ci/run` does it); without it, or
//! without node or chromium, the tests say so and skip (under CI they fail: see `greenroom_tests::js`).

use greenroom_tests::js::{self, node};
use greenroom_tests::{TestApp, TestDb, TestServer};

async fn server() -> (TestDb, TestServer) {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestApp::new(&t).serve().await;
    (t, s)
}

#[tokio::test]
async fn the_graphql_over_http_audit_passes_every_must() {
    if js::skip("the_graphql_over_http_audit_passes_every_must", false) {
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
    if js::skip("graphiql_runs_a_query_in_a_real_browser", true) {
        return;
    }
    let (_t, s) = server().await;
    let shot = js::dir().join("out").join("graphiql.png");
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

/// What the live server says about itself through introspection is exactly `schema.graphql`, as
/// graphql-inspector compares them (the check a frontend team runs before a release).
#[tokio::test]
async fn live_introspection_is_the_checked_in_sdl() {
    if js::skip("live_introspection_is_the_checked_in_sdl", false) {
        return;
    }
    let (_t, s) = server().await;
    let sdl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let (ok, out) = node(
        "introspection-diff.mjs",
        vec![s.url("/graphql"), sdl.display().to_string()],
    )
    .await;
    println!("{out}");
    assert!(ok, "introspection differs from schema.graphql:\n{out}");
    assert!(out.contains("0 difference(s)"), "{out}");
}
