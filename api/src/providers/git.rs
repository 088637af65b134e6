//! `git` providers: a repository (`file://`, `https://` or ssh URL) at a branch; every file matching a
//! glob (default `**/catalog-info.yaml`) is read. Uses the `git` CLI rather than a library: it speaks every
//! transport and uses the machine's existing credentials (ssh keys, credential helpers) with no extra
//! configuration, and it adds nothing to the build. `git ls-remote` finds the branch's commit first, so an
//! unchanged branch costs one round trip and no clone.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;
use tokio::sync::mpsc;

use super::placeholders::PlaceholderResolver;
use super::walk::{Batch, Place, Scope, Walker};
use super::{Cursor, Provider, ReadEnd};

pub const DEFAULT_GLOB: &str = "**/catalog-info.yaml";

/// A configured git provider.
pub struct GitProvider {
    key: String,
    url: String,
    branch: Option<String>,
    glob: String,
    resolver: PlaceholderResolver,
}

impl GitProvider {
    /// A registered git location: `target` is `URL#BRANCH` or `URL#BRANCH:GLOB` (default glob
    /// `catalog-info.yaml`, at the repository's root).
    pub fn registered(target: &str, resolver: PlaceholderResolver) -> Result<Self, String> {
        let (url, rest) = target
            .rsplit_once('#')
            .ok_or_else(|| format!("'{target}' is not URL#BRANCH[:PATH]"))?;
        let (branch, glob) = rest.split_once(':').unwrap_or((rest, "catalog-info.yaml"));
        if url.is_empty() || branch.is_empty() {
            return Err(format!("'{target}' is not URL#BRANCH[:PATH]"));
        }
        if glob.split('/').any(|part| part == "..") {
            return Err(format!("'{glob}' must stay inside the repository"));
        }
        let mut p = Self::new(
            target,
            url,
            Some(branch),
            Some(glob.trim_start_matches('/')),
            resolver,
        );
        p.key = format!("git:{target}");
        Ok(p)
    }

    pub fn new(
        id: &str,
        url: &str,
        branch: Option<&str>,
        glob: Option<&str>,
        resolver: PlaceholderResolver,
    ) -> Self {
        Self {
            key: format!("git:{id}"),
            url: url.to_string(),
            branch: branch.map(str::to_string),
            glob: glob.unwrap_or(DEFAULT_GLOB).to_string(),
            resolver,
        }
    }

    /// A digest of what the provider reads (url, branch, glob).
    fn settings(&self) -> String {
        let text = format!(
            "{}\n{}\n{}",
            self.url,
            self.branch.as_deref().unwrap_or(""),
            self.glob
        );
        super::walk::digest(&text)[..12].to_string()
    }

    /// The commit the branch (or the remote HEAD) points at.
    async fn remote_commit(&self) -> Result<String, String> {
        let reference = match &self.branch {
            Some(b) => format!("refs/heads/{b}"),
            None => "HEAD".to_string(),
        };
        let out = git(None, &["ls-remote", "--", &self.url, &reference]).await?;
        out.split_whitespace()
            .next()
            .map(str::to_string)
            .ok_or_else(|| match &self.branch {
                Some(b) => format!("{}: branch '{b}' not found", self.url),
                None => format!("{}: repository has no HEAD", self.url),
            })
    }

    /// Shallow-clones the branch into `dir`; returns the commit checked out.
    async fn clone_into(&self, dir: &Path) -> Result<String, String> {
        let dir_text = dir.display().to_string();
        let mut args = vec!["clone", "--quiet", "--depth", "1", "--no-tags"];
        if let Some(b) = &self.branch {
            args.extend(["--branch", b.as_str()]);
        }
        args.extend(["--", self.url.as_str(), dir_text.as_str()]);
        git(None, &args).await?;
        Ok(git(Some(dir), &["rev-parse", "HEAD"])
            .await?
            .trim()
            .to_string())
    }

    fn files(&self, checkout: &Path) -> Result<Vec<PathBuf>, String> {
        let pattern = checkout.join(&self.glob).display().to_string();
        let paths = glob::glob(&pattern).map_err(|e| format!("glob '{}': {e}", self.glob))?;
        let mut files: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .filter(|p| {
                !p.strip_prefix(checkout)
                    .is_ok_and(|rel| rel.components().any(|c| c.as_os_str() == ".git"))
            })
            .collect();
        files.sort();
        Ok(files)
    }
}

#[async_trait::async_trait]
impl Provider for GitProvider {
    fn key(&self) -> &str {
        &self.key
    }
    fn source_type(&self) -> &'static str {
        "git"
    }
    fn target(&self) -> &str {
        &self.url
    }
    async fn read(&self, previous: Cursor, out: mpsc::Sender<Batch>) -> Result<ReadEnd, String> {
        // The commit and the settings that read it: a changed branch or glob reads the commit again.
        let head = format!("{}@{}", self.remote_commit().await?, self.settings());
        if previous.commit.as_deref() == Some(head.as_str()) {
            return Ok(ReadEnd::Unchanged);
        }
        let tmp = tempfile::Builder::new()
            .prefix("greenroom-git-")
            .tempdir()
            .map_err(|e| format!("cannot create a checkout directory: {e}"))?;
        let checkout = tmp.path().join("checkout");
        let commit = self.clone_into(&checkout).await?;
        let read_as = format!("{commit}@{}", self.settings());
        let checkout = std::fs::canonicalize(&checkout).unwrap_or(checkout);
        let files = self.files(&checkout)?;
        if files.is_empty() {
            // An empty match is far more often a wrong glob or branch than an emptied repository:
            // keep what the source provided.
            return Err(format!(
                "{}: no file matches '{}' at {commit}",
                self.url, self.glob
            ));
        }
        let base = self.url.trim_end_matches('/').trim_end_matches(".git");
        let branch = self.branch.as_deref().unwrap_or("HEAD");
        let scope = Scope {
            root: Some(checkout.clone()),
            origin: format!("url:{}", self.url),
            label: Some((checkout, format!("{base}/blob/{branch}/"))),
        };
        let walker = Walker::new(
            files.into_iter().map(Place::File).collect(),
            scope,
            self.resolver.clone(),
            // Checkouts are fresh directories, so file records never match; document digests do.
            Cursor {
                known_docs: previous.known_docs,
                ..Cursor::default()
            },
        );
        super::walk_into(walker, &out).await;
        Ok(ReadEnd::Snapshot {
            cursor: Cursor {
                commit: Some(read_as),
                ..Cursor::default()
            },
        })
    }
}

/// Runs `git` (never prompting for credentials); returns stdout, or stderr as the error.
pub(crate) async fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    let out = cmd
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let msg = err.trim().lines().last().unwrap_or("failed").to_string();
        Err(format!(
            "git {}: {msg}",
            args.first().copied().unwrap_or("")
        ))
    }
}
