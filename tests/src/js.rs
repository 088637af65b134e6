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
