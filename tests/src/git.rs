//! Git repositories made for a test: an empty bare repository (branch `main`) to publish to.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An empty bare repository `name` in `dir`, whose branch is `main`: its path and its `file://` URL.
pub fn bare_repo(dir: &Path, name: &str) -> (PathBuf, String) {
    let bare = dir.join(name);
    let init = Command::new("git")
        .args(["init", "--quiet", "--bare", "-b", "main"])
        .arg(&bare)
        .status()
        .expect("git runs");
    assert!(init.success(), "git init --bare {}", bare.display());
    let url = format!("file://{}", bare.display());
    (bare, url)
}
