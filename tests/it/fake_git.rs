//! Git for the fake forges (tests/it/fake_github.rs, tests/it/fake_gitlab.rs): smart HTTP through
//! `git-http-backend` as CGI, bare repositories seeded with files, and a clone's files read back.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Seed",
            "-c",
            "user.email=seed@example.invalid",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Makes `bare` a bare repository whose `main` holds `files` (path, content) in one commit.
pub fn seed(bare: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(bare).unwrap();
    git(bare, &["init", "--quiet", "--bare", "-b", "main"]);
    let work = tempfile::tempdir().unwrap();
    git(work.path(), &["init", "--quiet", "-b", "main"]);
    for (path, content) in files {
        let to = work.path().join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, content).unwrap();
    }
    git(work.path(), &["add", "--all"]);
    git(work.path(), &["commit", "--quiet", "-m", "seed"]);
    let remote = bare.to_string_lossy().to_string();
    git(work.path(), &["push", "--quiet", &remote, "main"]);
}

/// Whether `bare` has the branch `name`.
pub fn has_branch(bare: &Path, name: &str) -> bool {
    Command::new("git")
        .arg("--git-dir")
        .arg(bare)
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{name}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every file of `branch` of `bare`, cloned: path → content (the `.git` directory left out).
pub fn clone_files(bare: &Path, branch: &str) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("c");
    let url = format!("file://{}", bare.display());
    let into_text = into.to_string_lossy().to_string();
    git(
        dir.path(),
        &["clone", "--quiet", "--branch", branch, &url, &into_text],
    );
    let mut out = BTreeMap::new();
    for e in walk(&into) {
        let rel = e.strip_prefix(&into).unwrap().to_string_lossy().to_string();
        if !rel.starts_with(".git/") {
            out.insert(rel, std::fs::read_to_string(&e).unwrap_or_default());
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Git smart HTTP: `git-http-backend` as a CGI program over the bare repositories under `root`.
pub async fn cgi(
    root: &Path,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut child = tokio::process::Command::new("/usr/lib/git-core/git-http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "x-access-token")
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&body).await;
    });
    let out = child.wait_with_output().await.unwrap();
    writer.await.unwrap();
    let raw = out.stdout;
    let (head_end, skip) = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (i, 4),
        None => (
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .unwrap_or(raw.len()),
            2,
        ),
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut builder = Response::builder().status(200);
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.eq_ignore_ascii_case("status") {
            let code = v
                .trim()
                .split(' ')
                .next()
                .unwrap_or("200")
                .parse()
                .unwrap_or(500);
            builder = builder.status(code);
        } else {
            builder = builder.header(k.trim(), v.trim());
        }
    }
    let rest = raw.get(head_end + skip..).unwrap_or_default().to_vec();
    builder.body(axum::body::Body::from(rest)).unwrap()
}
