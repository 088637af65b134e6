//! The JavaScript reference implementations in `tests/js` (pinned in its lockfile): where they live,
//! whether they can run here, and running one of their scripts. Without `npm ci` (or node, or Chromium) a
//! test says so and skips; under CI (`CI` set) that is a failure, so CI always runs them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/js`.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// `None` when the JS tools can run; otherwise why not. Panics under CI, where they must run.
pub fn missing_tools(needs_browser: bool) -> Option<String> {
    let why = if !dir().join("node_modules").exists() {
        Some(format!(
            "{} has no node_modules (run `npm ci` there)",
            dir().display()
        ))
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node is not installed".into())
    } else if needs_browser && !Path::new("/usr/bin/chromium").exists() {
        Some("/usr/bin/chromium is not installed".into())
    } else {
        None
    };
    if let (Some(why), Ok(_)) = (&why, std::env::var("CI")) {
        panic!("CI must run the JavaScript reference checks, but {why}");
    }
    why
}

/// Skips the calling test loudly (returns true) when the JS tools cannot run here.
pub fn skip(test: &str, needs_browser: bool) -> bool {
    match missing_tools(needs_browser) {
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            true
        }
        None => false,
    }
}

/// Runs `node script args…` in `tests/js` off the async runtime; returns (success, stdout + stderr).
pub async fn node(script: &str, args: Vec<String>) -> (bool, String) {
    let (dir, script) = (dir(), script.to_string());
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
    .expect("the node runner")
}

/// Runs the reference `script` over `cases` (written as JSON to a temp file, its one argument); its
/// JSON output lines by their `id`. Panics when the script fails.
pub async fn oracle(
    script: &str,
    cases: &[serde_json::Value],
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let file = tempfile::NamedTempFile::new().expect("a temp file");
    std::fs::write(file.path(), serde_json::to_vec(cases).expect("JSON")).expect("write cases");
    let (ok, out) = node(script, vec![file.path().display().to_string()]).await;
    assert!(ok, "the oracle {script} failed:\n{out}");
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["id"].as_str()?.to_string(), v)))
        .collect()
}
