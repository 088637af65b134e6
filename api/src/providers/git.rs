//! `git` providers: a repository (`file://`, `https://` or ssh URL) at a branch; every file matching a
//! glob (default `**/catalog-info.yaml`) is read. Uses the `git` CLI rather than a library: it speaks every
//! transport and uses the machine's existing credentials (ssh keys, credential helpers) with no extra
//! configuration, and it adds nothing to the build. `git ls-remote` finds the branch's commit first, so an
//! unchanged branch costs one round trip and no clone.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;
use tokio::sync::mpsc;

use super::error::ProviderError;
use super::place::Place;
use super::placeholders::PlaceholderResolver;
use super::walk::{Batch, Scope, Walker};
use super::{Cursor, Provider, ReadEnd};

pub const DEFAULT_GLOB: &str = "**/catalog-info.yaml";

/// A configured git provider.
pub struct GitProvider {
    key: String,
    url: String,
    branch: Option<String>,
    glob: String,
    resolver: PlaceholderResolver,
    /// Registered at run time: the remote is checked against the policy before every read.
    checked: bool,
    /// The URL as shown (credentials masked).
    shown: String,
}

impl GitProvider {
    /// A registered git location: `target` is `URL#BRANCH` or `URL#BRANCH:GLOB` (default glob
    /// `catalog-info.yaml`, at the repository's root).
    pub fn registered(target: &str, resolver: PlaceholderResolver) -> Result<Self, ProviderError> {
        let shape = || ProviderError::Target(format!("'{target}' is not URL#BRANCH[:PATH]"));
        let (url, rest) = target.rsplit_once('#').ok_or_else(shape)?;
        let (branch, glob) = rest.split_once(':').unwrap_or((rest, "catalog-info.yaml"));
        if url.is_empty() || branch.is_empty() {
            return Err(shape());
        }
        if glob.split('/').any(|part| part == "..") {
            return Err(ProviderError::Target(format!(
                "'{glob}' must stay inside the repository"
            )));
        }
        resolver.policy().check_git_remote_name(url)?;
        let mut p = Self::new(
            target,
            url,
            Some(branch),
            Some(glob.trim_start_matches('/')),
            resolver,
        );
        p.key = format!("git:{}", crate::confine::mask_userinfo(target));
        p.checked = true;
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
            checked: false,
            shown: crate::confine::mask_userinfo(url),
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
        super::place::digest(&text)[..12].to_string()
    }

    /// The commit the branch (or the remote HEAD) points at.
    async fn remote_commit(&self) -> Result<String, ProviderError> {
        let reference = match &self.branch {
            Some(b) => format!("refs/heads/{b}"),
            None => "HEAD".to_string(),
        };
        let out = git(None, &["ls-remote", "--", &self.url, &reference]).await?;
        let url = &self.shown;
        out.split_whitespace()
            .next()
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::Git(match &self.branch {
                    Some(b) => format!("{url}: branch '{b}' not found"),
                    None => format!("{url}: repository has no HEAD"),
                })
            })
    }

    /// Shallow-clones the branch into `dir`; returns the commit checked out.
    async fn clone_into(&self, dir: &Path) -> Result<String, ProviderError> {
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

    /// The files of the checkout the glob matches (walked on a blocking thread, symlinks not followed;
    /// `.git` skipped).
    async fn files(&self, checkout: &Path) -> Result<Vec<PathBuf>, ProviderError> {
        let pattern = format!(
            "{}/{}",
            ::glob::Pattern::escape(&checkout.display().to_string()),
            self.glob
        );
        super::glob::expand(&pattern, checkout, &self.glob).await
    }
}

#[async_trait::async_trait]
impl Provider for GitProvider {
    async fn checkout(&self, into: &Path, shown: &str) -> Result<Option<PathBuf>, ProviderError> {
        let Some(rel) = shown.strip_prefix(&self.label()) else {
            return Ok(None);
        };
        if Path::new(rel)
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Ok(None);
        }
        if self.checked {
            self.resolver.policy().check_git_remote(&self.url).await?;
        }
        self.clone_into(into).await?;
        Ok(Some(into.join(rel)))
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn source_type(&self) -> &'static str {
        "git"
    }
    fn target(&self) -> &str {
        &self.shown
    }
    async fn read(
        &self,
        previous: Cursor,
        out: mpsc::Sender<Batch>,
    ) -> Result<ReadEnd, ProviderError> {
        if self.checked {
            self.resolver.policy().check_git_remote(&self.url).await?;
        }
        // The commit and the settings that read it: a changed branch or glob reads the commit again.
        let head = format!("{}@{}", self.remote_commit().await?, self.settings());
        if previous.commit.as_deref() == Some(head.as_str()) {
            return Ok(ReadEnd::Unchanged);
        }
        let tmp = tempfile::Builder::new()
            .prefix("greenroom-git-")
            .tempdir()
            .map_err(ProviderError::Checkout)?;
        let checkout = tmp.path().join("checkout");
        let commit = self.clone_into(&checkout).await?;
        let read_as = format!("{commit}@{}", self.settings());
        let checkout = std::fs::canonicalize(&checkout).unwrap_or(checkout);
        let files = self.files(&checkout).await?;
        if files.is_empty() {
            // An empty match is far more often a wrong glob or branch than an emptied repository:
            // keep what the source provided.
            return Err(ProviderError::NoMatch(format!(
                "{}: no file matches '{}' at {commit}",
                self.shown, self.glob
            )));
        }
        let scope = Scope {
            root: Some(checkout.clone()),
            origin: format!("url:{}", self.shown),
            label: Some((checkout, self.label())),
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

impl GitProvider {
    /// `{base}/blob/{branch}/`: how the files of a checkout are named (as GitHub shows them).
    fn label(&self) -> String {
        let base = self.shown.trim_end_matches('/').trim_end_matches(".git");
        let branch = self.branch.as_deref().unwrap_or("HEAD");
        format!("{base}/blob/{branch}/")
    }
}

/// Runs `git` (never prompting for credentials, never following HTTP redirects, with only the file,
/// http(s) and ssh transports: no `ext::` helpers); returns stdout, or stderr (credentials masked) as
/// the error.
pub(crate) async fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, ProviderError> {
    git_with(dir, args, &[]).await
}

/// [`git`] with extra environment variables (`GIT_CONFIG_*` settings that must not show in the process
/// list, such as an `http.extraHeader` carrying a token).
pub(crate) async fn git_with(
    dir: Option<&Path>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, ProviderError> {
    let out = command(dir, args, env)
        .output()
        .await
        .map_err(|e| ProviderError::Git(format!("cannot run git: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(args, &out.stderr))
    }
}

/// The hardened `git` command [`git_with`] runs (no prompts, no redirects, no `ext::`, no system
/// config, killed when dropped), for callers that watch it while it runs.
pub(crate) fn command(dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("git");
    cmd.envs(env.iter().copied());
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    cmd.args([
        "-c",
        "http.followRedirects=false",
        "-c",
        "core.symlinks=false",
    ])
    .env("GIT_ALLOW_PROTOCOL", "file:http:https:ssh")
    .env("GIT_CONFIG_NOSYSTEM", "1");
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// The error of a failed `git` run: its last line of stderr, credentials masked.
pub(crate) fn failed(args: &[&str], stderr: &[u8]) -> ProviderError {
    let err = String::from_utf8_lossy(stderr);
    let msg = crate::confine::mask_text(err.trim().lines().last().unwrap_or("failed"));
    ProviderError::Git(format!(
        "git {}: {msg}",
        args.first().copied().unwrap_or("")
    ))
}
