//! `@backstage/catalog-client`'s `CatalogClient` (pinned in `tests/js`) against a real server on the
//! Backstage example catalog: every read method (`tests/js/catalog-client.mjs`). Without `npm ci` in
//! `tests/js` or without node it says so and skips; with `CI` set, a missing tool fails the test.

use greenroom_tests::{TestDb, TestServer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

fn missing_tools() -> Option<String> {
    if !js_dir()
        .join("node_modules/@backstage/catalog-client")
        .exists()
    {
        return Some(format!(
            "{} has no @backstage/catalog-client (run `npm ci` there)",
            js_dir().display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    None
}

#[tokio::test]
async fn catalog_client_read_methods_work_against_the_server() {
    if let Some(why) = missing_tools() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but {why}");
        eprintln!("SKIPPED catalog_client_read_methods_work_against_the_server: {why}");
        return;
    }
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestServer::start(&t.db).await;
    let (dir, base) = (js_dir(), s.base.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("catalog-client.mjs")
            .arg(base)
            .current_dir(dir)
            .output()
    })
    .await
    .unwrap()
    .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "catalog-client checks failed:\n{text}"
    );
    assert!(text.contains("8 catalog-client checks passed"), "{text}");
}
