//! Git for the publish actions that talk to a host's API: pushes with a token sent as an
//! `http.extraHeader` through the environment (never in a URL, an argument or a log line), a fresh
//! repository of the workspace (`publish:github`, `publish:gitlab`), or a commit on a new branch of a
//! clone (`publish:github:pull-request`, `publish:gitlab:merge-request`).

use base64::Engine;
use std::path::Path;

use super::files::{list, write_tree, Content, Out};
use super::{ActionContext, ActionError};
use crate::confine::Policy;
use crate::providers::git::git_with;

/// HTTP Basic credentials for git, and the texts that must never be shown.
pub struct GitAuth {
    header: String,
    basic: String,
    token: String,
}

impl GitAuth {
    /// `user:token` as Basic credentials (`x-access-token` for GitHub, `oauth2` for GitLab).
    pub fn basic(user: &str, token: &str) -> Self {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
        Self {
            header: format!("Authorization: Basic {basic}"),
            basic,
            token: token.to_string(),
        }
    }

    /// `git` in `dir` with the credentials; neither the token, its encoding nor `dir` (a server path)
    /// appear in its errors.
    pub async fn git(&self, dir: &Path, args: &[&str]) -> Result<String, ActionError> {
        git_with(Some(dir), args, &self.env()).await.map_err(|e| {
            let text = self
                .scrub(&e.to_string())
                .replace(dir.to_string_lossy().as_ref(), "<workdir>");
            ActionError::Failed(crate::confine::mask_text(&text))
        })
    }

    /// The environment that hands git the credentials (never an argument).
    pub fn env(&self) -> [(&'static str, &str); 3] {
        [
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "http.extraHeader"),
            ("GIT_CONFIG_VALUE_0", self.header.as_str()),
        ]
    }

    /// `text` with the token and its encoding replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for s in [self.token.as_str(), self.basic.as_str()] {
            if !s.is_empty() {
                text = text.replace(s, "********");
            }
        }
        text
    }
}

/// Who commits, and with what message.
pub struct Commit<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub message: &'a str,
}

impl Commit<'_> {
    /// Commits everything in `dir` (also when nothing changed) and returns the new commit's hash.
    async fn all(&self, dir: &Path, auth: &GitAuth) -> Result<String, ActionError> {
        auth.git(dir, &["add", "--all"]).await?;
        let name = format!("user.name={}", self.name);
        let mail = format!("user.email={}", self.email);
        let args = [
            "-c",
            &name,
            "-c",
            &mail,
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            self.message,
        ];
        auth.git(dir, &args).await?;
        Ok(auth
            .git(dir, &["rev-parse", "HEAD"])
            .await?
            .trim()
            .to_string())
    }
}

/// Refuses a remote git could read as an option, or one the policy does not allow.
async fn check_remote(policy: &Policy, remote: &str) -> Result<(), ActionError> {
    if remote.starts_with('-') {
        return Err(ActionError::input("the repository's git URL is not a URL"));
    }
    policy
        .check_git_remote(remote)
        .await
        .map(|_| ())
        .map_err(|e| ActionError::Failed(format!("git URL: {e}")))
}

/// Makes `dir` a repository with one commit of its files on `branch` and pushes it to `remote`.
pub async fn init_and_push(
    cx: &ActionContext,
    policy: &Policy,
    dir: &Path,
    remote: &str,
    branch: &str,
    commit: &Commit<'_>,
    auth: &GitAuth,
) -> Result<String, ActionError> {
    check_remote(policy, remote).await?;
    auth.git(dir, &["init", "--quiet", "-b", branch]).await?;
    let hash = commit.all(dir, auth).await?;
    let refspec = format!("HEAD:refs/heads/{branch}");
    auth.git(dir, &["push", "--quiet", "--", remote, &refspec])
        .await?;
    cx.log
        .log(&format!(
            "pushed {hash} to {} ({branch})",
            crate::confine::mask_userinfo(remote)
        ))
        .await;
    Ok(hash)
}

/// A change to an existing repository: `source`'s files copied under `target_path` onto `base`,
/// committed on the new branch `branch`.
pub struct Change<'a> {
    pub remote: &'a str,
    pub base: &'a str,
    pub branch: &'a str,
    pub source: &'a Path,
    pub target_path: Option<&'a str>,
    /// Whether to commit and push when the files change nothing (else nothing is pushed).
    pub when_empty: bool,
}

/// Clones `change.base` of `change.remote`, applies the change, commits and pushes `change.branch`
/// (which must not exist yet on the remote: else the step fails naming it). Returns the commit,
/// or `None` when nothing changed and `change.when_empty` is false.
pub async fn push_change(
    cx: &ActionContext,
    policy: &Policy,
    change: &Change<'_>,
    commit: &Commit<'_>,
    auth: &GitAuth,
) -> Result<Option<String>, ActionError> {
    check_remote(policy, change.remote).await?;
    let tmp = tempfile::Builder::new()
        .prefix("greenroom-change-")
        .tempdir()
        .map_err(|e| ActionError::Failed(format!("a clone directory: {e}")))?;
    let clone = tmp.path().join("clone");
    let clone_text = clone.to_string_lossy().to_string();
    let args = [
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--single-branch",
        "--branch",
        change.base,
        "--",
        change.remote,
        clone_text.as_str(),
    ];
    auth.git(tmp.path(), &args).await?;
    let head = format!("refs/heads/{}", change.branch);
    let remote_heads = ["ls-remote", "--heads", "--", change.remote, head.as_str()];
    if !auth.git(&clone, &remote_heads).await?.trim().is_empty() {
        return Err(ActionError::Input(format!(
            "the branch '{}' already exists in the repository",
            change.branch
        )));
    }
    auth.git(&clone, &["checkout", "--quiet", "-b", change.branch])
        .await?;
    copy_into(change.source, &clone, change.target_path).await?;
    if !change.when_empty
        && auth
            .git(&clone, &["status", "--porcelain"])
            .await?
            .trim()
            .is_empty()
    {
        return Ok(None);
    }
    let hash = commit.all(&clone, auth).await?;
    let refspec = format!("HEAD:{head}");
    auth.git(&clone, &["push", "--quiet", "--", change.remote, &refspec])
        .await?;
    cx.log
        .log(&format!(
            "pushed {hash} to {} ({})",
            crate::confine::mask_userinfo(change.remote),
            change.branch
        ))
        .await;
    Ok(Some(hash))
}

/// Copies `source`'s entries (modes kept, links as links, existing files replaced, any `.git` left out)
/// into `clone` under `target_path`.
async fn copy_into(
    source: &Path,
    clone: &Path,
    target_path: Option<&str>,
) -> Result<(), ActionError> {
    let (source, clone) = (source.to_path_buf(), clone.to_path_buf());
    let prefix = target_path
        .map(|t| t.trim_matches('/').to_string())
        .filter(|t| !t.is_empty() && t != ".");
    if prefix
        .as_deref()
        .is_some_and(|p| p.split('/').any(|c| c == ".git"))
    {
        return Err(ActionError::input(
            "input.targetPath must not be inside .git",
        ));
    }
    tokio::task::spawn_blocking(move || {
        let dst = match &prefix {
            Some(p) => super::inside(&clone, p)?,
            None => clone.clone(),
        };
        let out = Out::new(&clone, true)?;
        out.dir(&dst)?;
        let entries = list(&source)?;
        let place = |e: &super::files::Entry| {
            let git = e.rel.split('/').any(|c| c == ".git");
            Ok((!git).then(|| e.rel.clone()))
        };
        write_tree(&source, &entries, &dst, &out, &place, &|_, f| {
            Ok(Content::File(f))
        })
    })
    .await
    .map_err(|e| ActionError::Failed(e.to_string()))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn git_errors_show_neither_the_token_nor_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let auth = GitAuth::basic("oauth2", "glpat-secret-token");
        auth.git(dir.path(), &["init", "--quiet"]).await.unwrap();
        let err = auth
            .git(dir.path(), &["checkout", "glpat-secret-token"])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("********") && !err.contains("glpat-secret"),
            "{err}"
        );
        let err = auth
            .git(dir.path(), &["add", "/nonexistent-outside"])
            .await
            .unwrap_err()
            .to_string();
        let shown = dir.path().to_string_lossy().to_string();
        assert!(!err.contains(&shown) && err.contains("<workdir>"), "{err}");
    }
}
