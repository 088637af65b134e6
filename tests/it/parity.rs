//! Backstage's own validator as the oracle: `@backstage/catalog-model` and
//! `@backstage/plugin-scaffolder-common` (pinned in `tests/js`, driven by `catalog-oracle.mjs`) judge every
//! fixture and every document `catalog-gen.mjs` generates; `greenroom validate --json` (`api::cli`) judges
//! the same files. Each file's accepted entity refs must agree, except where `tests/js/parity-allow.json`
//! lists the case with its reason. Needs `npm ci` in `tests/js`: skipped loudly without it, a failure under
//! `CI`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Why node cannot run the oracle here, if it cannot; under `CI` that is a failure.
fn oracle_missing() -> Option<String> {
    let why = if !js_dir()
        .join("node_modules/@backstage/catalog-model")
        .exists()
    {
        format!(
            "{} has no node_modules (run `npm ci` there)",
            js_dir().display()
        )
    } else if Command::new("node").arg("--version").output().is_err() {
        "node is not installed".to_string()
    } else {
        return None;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the Backstage oracle: {why}"
    );
    Some(why)
}

fn node(args: &[&str]) -> String {
    let out = Command::new("node")
        .args(args)
        .current_dir(js_dir())
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Every catalog file among the fixtures (skeletons and keys are not catalog files).
fn fixture_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() && !name.contains("skeleton") && name != "keys" {
                dirs.push(p);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(std::fs::canonicalize(p).unwrap());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn greenroom_validate_agrees_with_backstage_on_fixtures_and_generated_documents() {
    if let Some(why) = oracle_missing() {
        eprintln!("SKIPPED greenroom_validate_agrees_with_backstage: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gen = std::fs::canonicalize(dir.path()).unwrap().join("gen");
    node(&["catalog-gen.mjs", gen.to_str().unwrap()]);
    let cases: BTreeMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(gen.join("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 500, "only {} generated cases", cases.len());
    let mut files: Vec<PathBuf> = cases.keys().map(|f| gen.join(f)).collect();
    let fixtures = fixture_files();
    assert!(fixtures.len() > 40, "fixtures not found");
    files.extend(fixtures);
    let list = dir.path().join("files.json");
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    std::fs::write(&list, serde_json::to_string(&shown).unwrap()).unwrap();
    let backstage: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&node(&["catalog-oracle.mjs", list.to_str().unwrap()])).unwrap();
    let greenroom = api::cli::validate_report(&files).await;
    let allow: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(js_dir().join("parity-allow.json")).unwrap())
            .unwrap();
    let mut used = vec![0usize; allow.len()];
    let mut allowed = |what: &str| {
        let hit = allow
            .iter()
            .position(|a| what.contains(a["match"].as_str().unwrap_or("\u{0}")));
        if let Some(i) = hit {
            used[i] += 1;
        }
        hit.is_some()
    };
    let (mut agreed, mut listed, mut disagreements) = (0, 0, Vec::new());
    for (file, verdict) in &backstage {
        let theirs: Vec<String> = verdict["accepted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let ours = greenroom.files.get(file).cloned().unwrap_or_default();
        let name = Path::new(file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let what = cases.get(&name).cloned().unwrap_or_else(|| file.clone());
        if theirs == ours {
            agreed += 1;
        } else if allowed(&what) {
            listed += 1;
        } else {
            disagreements.push(format!(
                "{what}\n  Backstage accepts {theirs:?} ({})\n  Greenroom accepts {ours:?}",
                verdict["rejected"]
            ));
        }
    }
    println!(
        "{} files: {agreed} agree, {listed} differ as allow-listed, {} disagree",
        backstage.len(),
        disagreements.len()
    );
    assert_eq!(backstage.len(), files.len());
    // Each allow-list entry must still be needed: a stale entry hides nothing and says something untrue.
    for (a, n) in allow.iter().zip(&used) {
        let m = a["match"].as_str().unwrap();
        assert!(
            *n > 0,
            "allow-list entry {m} matches no disagreement: remove it"
        );
        assert!(
            a["reason"].as_str().is_some_and(|r| r.len() > 20),
            "entry {m} has no reason"
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s) with Backstage:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
