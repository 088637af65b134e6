//! `greenroom validate` and the server agree on every document (issue 16): each fixture, and each
//! document `catalog-gen.mjs` generates (names, kinds, specs, YAML edge cases), is judged by
//! `api::cli::validate_report` and by the server's own refresh of it as a file location into a real
//! database (every kind allowed, as validate reads); the refs each accepts, and whether each found a
//! problem, must be the same. The generated half needs `npm ci` in `tests/js` (skipped loudly without
//! it, a failure under `CI`).

use greenroom_tests::{js, TestDb};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every catalog file among the fixtures.
fn fixture_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![greenroom_tests::fixtures()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let (p, name) = (e.path(), e.file_name().to_string_lossy().to_string());
            if p.is_dir() && !name.contains("skeleton") && name != "keys" {
                dirs.push(p);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(p.canonicalize().unwrap());
            }
        }
    }
    out.sort();
    out
}

/// What the server stores from `file` and whether it reported a problem; the store is emptied again.
async fn server_verdict(t: &TestDb, file: &Path) -> (BTreeSet<String>, bool) {
    let out = t.refresh(file).await;
    let r = t
        .exec("{ entities(first: 500) { nodes { ref } } }", json!({}))
        .await;
    let refs = r["data"]["entities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ref"].as_str().unwrap().to_string())
        .collect();
    let applier = api::catalog::ingest::Applier::begin(&t.db, &out.location_key)
        .await
        .unwrap();
    applier.remove_location().await.unwrap();
    (refs, !out.invalid.is_empty() || !out.errors.is_empty())
}

async fn disagreements(t: &TestDb, files: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let report = api::cli::validate_report(std::slice::from_ref(f)).await;
        let validate: BTreeSet<String> = report.files.values().flatten().cloned().collect();
        let (server, problems) = server_verdict(t, f).await;
        let validate_found = !report.problems.is_empty();
        if validate != server || problems != validate_found {
            out.push(format!(
                "{}\n  validate accepts {validate:?} ({} problems)\n  server stores {server:?} (problems: {problems})",
                f.display(),
                report.problems.len()
            ));
        }
    }
    out
}

#[tokio::test]
async fn validate_and_the_server_agree_on_every_fixture() {
    let t = TestDb::new().await;
    let files = fixture_files();
    assert!(files.len() > 40, "fixtures not found");
    let wrong = disagreements(&t, &files).await;
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn validate_and_the_server_agree_on_every_generated_document() {
    if js::skip(
        "validate_and_the_server_agree_on_every_generated_document",
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gen = dir.path().canonicalize().unwrap().join("gen");
    let (ok, log) = js::node("catalog-gen.mjs", vec![gen.display().to_string()]).await;
    assert!(ok, "{log}");
    let cases: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(gen.join("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 500, "only {} generated cases", cases.len());
    let files: Vec<PathBuf> = cases.keys().map(|f| gen.join(f)).collect();
    let t = TestDb::new().await;
    let wrong = disagreements(&t, &files).await;
    println!(
        "{} generated documents, {} disagreements",
        files.len(),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
