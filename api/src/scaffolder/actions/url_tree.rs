//! Skeletons named by URL, read as Backstage's UrlReader `readTree` reads them: an absolute `url:` of
//! `fetch:plain`/`fetch:template` (`https://host/org/repo/tree/<ref>/<path>`, a `/blob/` URL, GitLab's
//! `/-/tree/<ref>/<path>`), and a relative one of a template read from such a URL. The repository is
//! fetched shallowly over git smart HTTP into a temporary directory (after the read policy allowed the
//! remote, bounded in time and bytes, with the integration's token when the host has one) and the named
//! subdirectory is the skeleton.

use reqwest::Url;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

use super::git_push::GitAuth;
use super::{ActionContext, ActionError};
use crate::confine::{mask_userinfo, Policy};

/// Most bytes one fetched tree may take on disk (its git objects and checked-out files together).
pub const MAX_TREE_BYTES: u64 = 100 << 20;

/// How often a running fetch's size is measured.
const TICK: Duration = Duration::from_millis(100);

/// A tree named by URL: the repository to clone, the ref, the path inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeUrl {
    /// `scheme://host[:port]/owner/repo.git`.
    pub clone: String,
    /// The branch, tag or commit (`None`: the remote's default branch).
    pub reference: Option<String>,
    /// `/`-separated, relative to the repository's root (empty: the root).
    pub path: String,
    /// The URL as given (credentials masked), for messages.
    pub shown: String,
}

/// Where a URL names a tree: `(repository segments, ref, path segments)`.
fn split(segs: &[String]) -> Option<(&[String], Option<&String>, &[String])> {
    let marker = |s: &String| s == "tree" || s == "blob";
    // GitLab: group[/subgroup]/repo/-/tree/<ref>/<path>
    if let Some(i) = segs.iter().position(|s| s == "-") {
        if i >= 2 && segs.get(i + 1).is_some_and(marker) && segs.len() > i + 2 {
            return Some((&segs[..i], segs.get(i + 2), &segs[i + 3..]));
        }
        return None;
    }
    // GitHub and alike: owner/repo/tree/<ref>/<path>
    if segs.len() >= 4 && marker(&segs[2]) {
        return Some((&segs[..2], segs.get(3), &segs[4..]));
    }
    (segs.len() == 2).then(|| (segs, None, &segs[2..]))
}

impl TreeUrl {
    /// Parses a repository URL of GitHub's or GitLab's shape.
    pub fn parse(text: &str) -> Result<Self, ActionError> {
        let shown = mask_userinfo(text);
        let url =
            Url::parse(text).map_err(|_| ActionError::Input(format!("'{shown}' is not a URL")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ActionError::Input(format!(
                "'{shown}': only http(s) URLs name skeletons"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ActionError::Input(format!(
                "'{shown}': credentials in URLs are not accepted here"
            )));
        }
        let segs: Vec<String> = url
            .path_segments()
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let Some((repo, reference, path)) = split(&segs) else {
            return Err(ActionError::Input(format!(
                "'{shown}' names no repository tree: use https://HOST/OWNER/REPO/tree/REF/PATH \
                 (or /blob/, or GitLab's /-/tree/)"
            )));
        };
        let host = url.host_str().unwrap_or_default();
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let mut repo = repo.join("/");
        if let Some(stem) = repo.strip_suffix(".git") {
            repo = stem.to_string();
        }
        Ok(Self {
            clone: format!("{}://{host}{port}/{repo}.git", url.scheme()),
            reference: reference.cloned(),
            path: path.join("/"),
            shown,
        })
    }

    /// `relative` (a skeleton path of the template this URL names) in the same repository and ref:
    /// relative to the template file's directory, climbing at most to the repository's root.
    pub fn relative(&self, relative: &str) -> Result<Self, ActionError> {
        if relative.starts_with('/') {
            return Err(ActionError::Escapes(relative.to_string()));
        }
        let mut parts: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        parts.pop(); // the template's file
        for seg in relative.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(ActionError::Input(format!(
                            "'{relative}' leaves the template's repository"
                        )));
                    }
                }
                s => parts.push(s),
            }
        }
        Ok(Self {
            path: parts.join("/"),
            shown: format!("{} ({relative})", self.shown),
            ..self.clone()
        })
    }
}

/// `host[:port]` of a repository URL (the token goes only to the host git connects to).
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    rest.split('/').next().unwrap_or_default()
}

/// The URL git fetches for `remote` once the machine's git configuration has rewritten it
/// (`git ls-remote --get-url`, which connects to nothing).
async fn effective_remote(remote: &str) -> Result<String, ActionError> {
    let args = ["ls-remote", "--get-url", remote];
    let out = crate::providers::git::command(None, &args, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| ActionError::Failed(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(crate::providers::git::failed(&args, &out.stderr).into());
    }
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(if url.is_empty() {
        remote.to_string()
    } else {
        url
    })
}

/// A fetched tree, removed when dropped.
pub struct Fetched {
    _dir: tempfile::TempDir,
    /// The skeleton: the named path in it.
    pub src: PathBuf,
}

/// Reads trees through the policy (with the integrations' hosts allowed), with their tokens.
pub struct Trees {
    policy: Arc<Policy>,
    /// `(host[:port], user, token)` of each integration with a token.
    tokens: Vec<(String, &'static str, String)>,
    timeout: Duration,
    max_bytes: u64,
}

impl Trees {
    /// `integrations`: `(host, git user, token)`; `timeout`: a whole fetch's.
    pub fn new(
        policy: &Policy,
        integrations: &[(String, &'static str, Option<String>)],
        timeout: Duration,
    ) -> Self {
        let mut policy = policy.clone();
        for (host, _, _) in integrations {
            let _ = policy.allow_host(host); // validated with the configuration
        }
        let tokens = integrations
            .iter()
            .filter_map(|(h, u, t)| t.clone().map(|t| (h.to_ascii_lowercase(), *u, t)))
            .collect();
        Self {
            policy: Arc::new(policy),
            tokens,
            timeout,
            max_bytes: MAX_TREE_BYTES,
        }
    }

    /// The remote git will fetch `tree` from, once the policy allowed it: the machine's git
    /// configuration may send the URL elsewhere (`url.<base>.insteadOf`, an internal mirror), so the
    /// URL as named must be allowed, and where git really connects is checked.
    async fn check(&self, tree: &TreeUrl) -> Result<String, ActionError> {
        let refused =
            |e: crate::confine::Refused| ActionError::Input(format!("'{}': {e}", tree.shown));
        let remote = effective_remote(&tree.clone).await?;
        if remote != tree.clone {
            self.policy
                .check_git_remote_name(&tree.clone)
                .map_err(refused)?;
        }
        // A refusal of the rewritten remote names only the URL the template gave, not the mirror.
        self.policy.check_git_remote(&remote).await.map_err(|e| {
            if remote == tree.clone {
                return refused(e);
            }
            ActionError::Input(format!(
                "'{}': the machine's git configuration sends it to a remote the read policy \
                     does not allow",
                tree.shown
            ))
        })?;
        Ok(remote)
    }

    /// Fetches `tree` (the policy checks the remote first: nothing connects before it allows it).
    pub async fn fetch(&self, tree: &TreeUrl) -> Result<Fetched, ActionError> {
        let remote = self.check(tree).await?;
        let dir = tempfile::Builder::new()
            .prefix("greenroom-tree-")
            .tempdir()
            .map_err(|e| ActionError::Failed(format!("cannot create a directory: {e}")))?;
        let root = dir.path().join("tree");
        std::fs::create_dir(&root).map_err(|e| ActionError::Failed(e.to_string()))?;
        let auth = self
            .tokens
            .iter()
            .find(|(h, _, _)| h == &authority(&remote).to_ascii_lowercase())
            .map(|(_, user, token)| GitAuth::basic(user, token));
        let reference = tree.reference.as_deref().unwrap_or("HEAD");
        if reference.starts_with('-') {
            return Err(ActionError::Input(format!("'{reference}' is not a ref")));
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let env: Vec<(&str, &str)> = auth.as_ref().map(|a| a.env().to_vec()).unwrap_or_default();
        let fetch = [
            "fetch",
            "--quiet",
            "--depth",
            "1",
            "--no-tags",
            "--",
            &tree.clone,
            reference,
        ];
        let steps: [&[&str]; 3] = [
            &["init", "--quiet"],
            &fetch,
            &[
                "-c",
                "advice.detachedHead=false",
                "checkout",
                "--quiet",
                "FETCH_HEAD",
            ],
        ];
        for args in steps {
            self.bounded(&root, args, &env, deadline, tree)
                .await
                .map_err(|e| match &auth {
                    Some(a) => ActionError::Failed(a.scrub(&e.to_string())),
                    None => e,
                })?;
        }
        let _ = std::fs::remove_dir_all(root.join(".git"));
        let root = root
            .canonicalize()
            .map_err(|e| ActionError::Failed(e.to_string()))?;
        let missing = || {
            ActionError::Input(format!(
                "'{}': no '{}' in the repository at {reference}",
                tree.shown, tree.path
            ))
        };
        let src = super::inside(&root, &tree.path)
            .map_err(|_| missing())?
            .canonicalize()
            .map_err(|_| missing())?;
        if !src.starts_with(&root) {
            return Err(ActionError::Escapes(tree.shown.clone()));
        }
        Ok(Fetched { _dir: dir, src })
    }

    /// Runs `git args` in `dir`, stopping it at `deadline` or once `dir` holds more than the byte bound.
    async fn bounded(
        &self,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        deadline: tokio::time::Instant,
        tree: &TreeUrl,
    ) -> Result<(), ActionError> {
        let mut child = crate::providers::git::command(Some(dir), args, env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ActionError::Failed(format!("cannot run git: {e}")))?;
        let mut stderr = child.stderr.take();
        let errors = tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(64 * 1024).read_to_end(&mut buf).await;
            }
            buf
        });
        let too_large = || {
            ActionError::Failed(format!(
                "'{}': the repository is larger than {} bytes",
                tree.shown, self.max_bytes
            ))
        };
        loop {
            tokio::select! {
                status = child.wait() => {
                    let ok = status.is_ok_and(|s| s.success());
                    let err = errors.await.unwrap_or_default();
                    if !ok {
                        return Err(crate::providers::git::failed(args, &err).into());
                    }
                    // A run quicker than a tick is measured once it is done.
                    return if size(dir).await > self.max_bytes { Err(too_large()) } else { Ok(()) };
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = child.kill().await;
                    return Err(ActionError::Failed(format!(
                        "'{}': fetching took longer than {:?}", tree.shown, self.timeout
                    )));
                }
                _ = tokio::time::sleep(TICK) => {
                    if size(dir).await > self.max_bytes {
                        let _ = child.kill().await;
                        return Err(too_large());
                    }
                }
            }
        }
    }
}

/// Bytes under `dir` (links not followed), measured on a blocking thread.
async fn size(dir: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| match e.path().symlink_metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || walk(&dir))
        .await
        .unwrap_or(u64::MAX)
}

/// Where a `fetch:*` step reads: a local directory of the template, or a fetched tree (kept alive with
/// this value).
pub(super) enum Source {
    Local(PathBuf),
    Remote(Fetched),
}

impl Source {
    /// The skeleton (a directory or a file).
    pub fn src(&self) -> &Path {
        match self {
            Source::Local(p) => p,
            Source::Remote(f) => &f.src,
        }
    }
}

/// The skeleton `input.url` names: an absolute http(s) URL is fetched; a relative one is the template's
/// own (its directory, its git checkout, or the tree of the URL it was read from).
pub(super) async fn source(cx: &ActionContext, trees: &Trees) -> Result<Source, ActionError> {
    let url = cx.input.get("url").and_then(Value::as_str).unwrap_or(".");
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Source::Remote(trees.fetch(&TreeUrl::parse(url)?).await?));
    }
    if let (None, Some(base)) = (&cx.template_dir, &cx.template_url) {
        let tree = TreeUrl::parse(base).map_err(|_| {
            ActionError::Input(format!(
                "this template was read from '{}', which names no repository tree \
                 (…/tree/REF/… or …/blob/REF/…), so '{url}' cannot be fetched relative to it",
                mask_userinfo(base)
            ))
        })?;
        return Ok(Source::Remote(trees.fetch(&tree.relative(url)?).await?));
    }
    let (_, src) = super::files::source(cx)?;
    Ok(Source::Local(src))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> (String, Option<String>, String) {
        let t = TreeUrl::parse(url).unwrap();
        (t.clone, t.reference, t.path)
    }

    #[test]
    fn github_and_gitlab_urls_name_repository_ref_and_path() {
        assert_eq!(
            parsed("https://github.com/org/repo/tree/main/templates/skeleton"),
            (
                "https://github.com/org/repo.git".into(),
                Some("main".into()),
                "templates/skeleton".into()
            )
        );
        assert_eq!(
            parsed("http://127.0.0.1:8080/org/repo/blob/v1.2/x/template.yaml"),
            (
                "http://127.0.0.1:8080/org/repo.git".into(),
                Some("v1.2".into()),
                "x/template.yaml".into()
            )
        );
        assert_eq!(
            parsed("https://gitlab.example/grp/sub/repo/-/tree/dev/sk"),
            (
                "https://gitlab.example/grp/sub/repo.git".into(),
                Some("dev".into()),
                "sk".into()
            )
        );
        assert_eq!(
            parsed("https://github.com/org/repo.git"),
            ("https://github.com/org/repo.git".into(), None, "".into())
        );
        for bad in [
            "https://github.com/org",
            "https://github.com/org/repo/pulls/1",
            "ftp://github.com/org/repo",
            "https://u:p@github.com/org/repo",
        ] {
            assert!(TreeUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_stay_in_the_repository() {
        let t = TreeUrl::parse("https://h/o/r/blob/main/templates/svc/template.yaml").unwrap();
        assert_eq!(
            t.relative("./skeleton").unwrap().path,
            "templates/svc/skeleton"
        );
        assert_eq!(t.relative("../../shared").unwrap().path, "shared");
        assert_eq!(t.relative("..").unwrap().path, "templates");
        assert!(t.relative("../../../x").is_err());
        assert!(t.relative("/etc").is_err());
        assert_eq!(t.relative(".").unwrap().reference.as_deref(), Some("main"));
    }

    /// A bare repository under `root` whose `main` holds one file of `bytes` bytes.
    fn repository(root: &Path, bytes: usize) -> String {
        let run = |dir: &Path, args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .arg("-C")
                .arg(dir)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let work = root.join("work");
        std::fs::create_dir_all(work.join("sk")).unwrap();
        // Random bytes do not compress: the fetched objects are as large as the file.
        let noise: Vec<u8> = (0..bytes)
            .map(|i| (i * 7919 % 251) as u8 ^ (i >> 8) as u8)
            .collect();
        std::fs::write(work.join("sk/big.bin"), noise).unwrap();
        run(&work, &["init", "-q", "-b", "main"]);
        run(&work, &["add", "."]);
        run(&work, &["commit", "-q", "-m", "x"]);
        let bare = root.join("r.git");
        run(root, &["clone", "-q", "--bare", "work", "r.git"]);
        format!("file://{}", bare.display())
    }

    fn trees(root: &Path, timeout: Duration, max_bytes: u64) -> Trees {
        let policy = Policy::new(&[root.to_path_buf()], &[], &[], 1 << 20).unwrap();
        Trees {
            max_bytes,
            ..Trees::new(&policy, &[], timeout)
        }
    }

    #[tokio::test]
    async fn fetches_are_bounded_in_bytes_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let tree = TreeUrl {
            clone: repository(&root, 2 << 20),
            reference: Some("main".into()),
            path: "sk".into(),
            shown: "the repository".into(),
        };
        let ok = trees(&root, Duration::from_secs(60), 64 << 20)
            .fetch(&tree)
            .await;
        let fetched = ok.unwrap_or_else(|e| panic!("{e}"));
        assert!(fetched.src.join("big.bin").is_file());
        assert!(
            !fetched.src.join("../.git").exists(),
            "no git metadata in a skeleton"
        );
        let small = trees(&root, Duration::from_secs(60), 1 << 20)
            .fetch(&tree)
            .await;
        let err = small.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("larger than 1048576 bytes"), "{err}");
        let quick = trees(&root, Duration::ZERO, 64 << 20).fetch(&tree).await;
        let err = quick.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("took longer than"), "{err}");
        let outside = trees(&root.join("work"), Duration::from_secs(60), 64 << 20);
        let err = outside.fetch(&tree).await.err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("outside the directories"));
    }
}
