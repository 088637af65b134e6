//! `publish:github`: creates a repository through the REST API of a configured `integrations.github` host,
//! sets its topics and access, pushes the workspace (or `sourcePath`) to its `clone_url` over git smart
//! HTTP, and protects its default branch, as Backstage's action does. Every connection goes through the
//! read policy, with the configured integration hosts allowed.

use base64::Engine;
use reqwest::{Method, Url};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

use super::{Action, ActionContext, ActionError};
use crate::confine::Policy;
use crate::providers::git::git_with;

/// One `integrations.github` entry: the host `repoUrl` names, its REST API base URL and its token.
#[derive(Clone, PartialEq, Eq)]
pub struct GithubIntegration {
    pub host: String,
    pub api_base_url: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for GithubIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubIntegration")
            .field("host", &self.host)
            .field("api_base_url", &self.api_base_url)
            .field("token", &self.token.as_ref().map(|_| "********"))
            .finish()
    }
}

/// The inputs this action takes (Backstage's others are refused by name).
const SUPPORTED: &str = "repoUrl description homepage access repoVisibility defaultBranch \
    protectDefaultBranch protectEnforceAdmins requireCodeOwnerReviews dismissStaleReviews \
    requiredApprovingReviewCount requiredStatusCheckContexts requireBranchesToBeUpToDate \
    requiredConversationResolution deleteBranchOnMerge allowMergeCommit allowSquashMerge \
    squashMergeCommitTitle squashMergeCommitMessage allowRebaseMerge allowAutoMerge hasProjects hasWiki \
    hasIssues gitCommitMessage gitAuthorName gitAuthorEmail sourcePath token topics";

/// Creates repositories on the configured GitHub hosts only.
pub struct PublishGithub {
    policy: Arc<Policy>,
    http: reqwest::Client,
    integrations: Vec<GithubIntegration>,
}

impl PublishGithub {
    /// The action for `integrations` (validated by the configuration), connecting through `policy` with
    /// each integration's host and API base URL allowed.
    pub fn new(policy: &Policy, integrations: &[GithubIntegration]) -> Self {
        let mut policy = policy.clone();
        for i in integrations {
            // The configuration refuses hosts that are not host[:port]; a bad one is simply not allowed.
            let _ = policy.allow_host(&i.host);
            policy.allow_host_of(&i.api_base_url);
        }
        let policy = Arc::new(policy);
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("greenroom/", env!("CARGO_PKG_VERSION")));
        Self {
            http: policy.client(builder),
            policy,
            integrations: integrations.to_vec(),
        }
    }

    /// The integration, owner and repository `repoUrl` names (parsed as the `parseRepoUrl` filter does).
    fn target(&self, repo_url: &str) -> Result<(&GithubIntegration, String, String), ActionError> {
        let find = |host: &str| {
            self.integrations
                .iter()
                .find(|i| i.host.eq_ignore_ascii_case(host))
        };
        let kind_of = |host: &str| find(host).map(|_| "github".to_string());
        let parsed = crate::scaffolder::expr::filters::parse_repo_url_with(repo_url, &kind_of)
            .map_err(|e| {
                ActionError::Input(format!(
                    "input.repoUrl: {}",
                    e.detail().unwrap_or("invalid")
                ))
            })?;
        let part = |k: &str| {
            parsed
                .get_attr(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let integration = find(&part("host"))
            .ok_or_else(|| ActionError::input("input.repoUrl: no matching integration"))?;
        let (owner, repo) = (part("owner"), part("repo"));
        for (name, v) in [("owner", &owner), ("repo", &repo)] {
            if !valid_name(v) {
                return Err(ActionError::Input(format!(
                    "input.repoUrl: '{v}' is not a GitHub {name} name"
                )));
            }
        }
        Ok((integration, owner, repo))
    }
}

/// GitHub's owner and repository names: letters, digits, `-`, `_`, `.` (not `.` or `..`).
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A branch name safe to give git and to put in an API path.
fn valid_branch(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['-', '/'])
        && !s.ends_with('/')
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// The action's input, read with Backstage's defaults.
struct Inputs<'a> {
    input: &'a Value,
}

impl<'a> Inputs<'a> {
    fn new(input: &'a Value) -> Result<Self, ActionError> {
        let object = input
            .as_object()
            .ok_or_else(|| ActionError::input("publish:github takes an object input"))?;
        let unsupported: Vec<String> = object
            .keys()
            .filter(|k| !SUPPORTED.split_whitespace().any(|s| s == k.as_str()))
            .map(|k| format!("input.{k}"))
            .collect();
        if !unsupported.is_empty() {
            return Err(ActionError::Input(format!(
                "publish:github does not support {} (see the README for the inputs it takes)",
                unsupported.join(", ")
            )));
        }
        Ok(Self { input })
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>, ActionError> {
        match self.input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ActionError::Input(format!("input.{key} must be a string"))),
        }
    }

    fn str_or(&self, key: &str, default: &'a str) -> Result<&'a str, ActionError> {
        Ok(self.str(key)?.unwrap_or(default))
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ActionError> {
        match self.input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ActionError::Input(format!("input.{key} must be a boolean"))),
        }
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool, ActionError> {
        Ok(self.bool(key)?.unwrap_or(default))
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ActionError> {
        let bad = || ActionError::Input(format!("input.{key} must be a list of strings"));
        match self.input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// The `POST …/repos` body (only what the input sets, plus Backstage's defaults).
    fn create_body(&self, name: &str, org: bool) -> Result<Value, ActionError> {
        let visibility = self.str_or("repoVisibility", "private")?;
        if !["private", "internal", "public"].contains(&visibility) {
            return Err(ActionError::Input(format!(
                "input.repoVisibility must be private, internal or public, not '{visibility}'"
            )));
        }
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        body.insert("private".into(), json!(visibility == "private"));
        if org {
            body.insert("visibility".into(), json!(visibility));
        }
        for (key, field) in [
            ("description", "description"),
            ("homepage", "homepage"),
            ("squashMergeCommitTitle", "squash_merge_commit_title"),
            ("squashMergeCommitMessage", "squash_merge_commit_message"),
        ] {
            if let Some(v) = self.str(key)? {
                body.insert(field.into(), json!(v));
            }
        }
        for (key, field, default) in [
            ("deleteBranchOnMerge", "delete_branch_on_merge", Some(false)),
            ("allowMergeCommit", "allow_merge_commit", Some(true)),
            ("allowSquashMerge", "allow_squash_merge", Some(true)),
            ("allowRebaseMerge", "allow_rebase_merge", Some(true)),
            ("allowAutoMerge", "allow_auto_merge", Some(false)),
            ("hasProjects", "has_projects", None),
            ("hasWiki", "has_wiki", None),
            ("hasIssues", "has_issues", None),
        ] {
            if let Some(v) = self.bool(key)?.or(default) {
                body.insert(field.into(), json!(v));
            }
        }
        Ok(Value::Object(body))
    }

    /// The `PUT …/branches/{branch}/protection` body.
    fn protection_body(&self) -> Result<Value, ActionError> {
        let reviews = match self.input.get("requiredApprovingReviewCount") {
            None | Some(Value::Null) => 1,
            Some(v) => v.as_u64().filter(|n| *n <= 6).ok_or_else(|| {
                ActionError::input("input.requiredApprovingReviewCount must be 0 to 6")
            })?,
        };
        Ok(json!({
            "required_status_checks": {
                "strict": self.bool_or("requireBranchesToBeUpToDate", true)?,
                "contexts": self.strings("requiredStatusCheckContexts")?.unwrap_or_default(),
            },
            "enforce_admins": self.bool_or("protectEnforceAdmins", true)?,
            "required_pull_request_reviews": {
                "required_approving_review_count": reviews,
                "require_code_owner_reviews": self.bool_or("requireCodeOwnerReviews", false)?,
                "dismiss_stale_reviews": self.bool_or("dismissStaleReviews", false)?,
            },
            "restrictions": null,
            "required_conversation_resolution": self.bool_or("requiredConversationResolution", false)?,
        }))
    }
}

/// Calls to one integration's REST API with one token (never shown: every error text is scrubbed).
struct Api<'a> {
    action: &'a PublishGithub,
    base: &'a str,
    token: &'a str,
}

impl Api<'_> {
    /// `method path` with `body`; the response's JSON, or an error with GitHub's `message`.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let shown = format!("{method} {path}");
        let url = Url::parse(&format!("{}{path}", self.base.trim_end_matches('/')))
            .map_err(|_| format!("{shown}: not a URL"))?;
        self.action
            .policy
            .check_url(&url)
            .map_err(|e| e.to_string())?;
        let mut req = self
            .action
            .http
            .request(method, url)
            .header("authorization", format!("token {}", self.token))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out"
            } else {
                "cannot connect"
            };
            format!("{shown}: {why}")
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|_| format!("{shown}: cannot read the response"))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value["message"]
            .as_str()
            .unwrap_or_else(|| status.canonical_reason().unwrap_or(""));
        Err(self.scrub(&format!("{shown}: HTTP {} {message}", status.as_u16())))
    }

    fn scrub(&self, text: &str) -> String {
        crate::confine::mask_text(&text.replace(self.token, "********"))
    }

    /// Creates `owner/repo` in the organisation, or for the authenticated user when `owner` is a user
    /// (as Backstage decides it: `GET /users/{owner}`'s `type`).
    async fn create(
        &self,
        owner: &str,
        repo: &str,
        input: &Inputs<'_>,
    ) -> Result<Value, ActionError> {
        let user = self
            .call(Method::GET, &format!("/users/{owner}"), None)
            .await
            .map_err(ActionError::Failed)?;
        let kind = user["type"].as_str().unwrap_or("User").to_string();
        let org = kind == "Organization";
        let path = if org {
            format!("/orgs/{owner}/repos")
        } else {
            "/user/repos".to_string()
        };
        let body = input.create_body(repo, org)?;
        self.call(Method::POST, &path, Some(body))
            .await
            .map_err(|e| {
                ActionError::Failed(format!(
                    "Failed to create the {kind} repository {owner}/{repo}, {e}"
                ))
            })
    }

    /// `access`: `owner/team` gets admin on the repository as a team, another user as a collaborator.
    async fn grant(&self, owner: &str, repo: &str, access: &str) -> Result<(), ActionError> {
        let path = match access.strip_prefix(&format!("{owner}/")) {
            Some(team) if valid_name(team) => {
                format!("/orgs/{owner}/teams/{team}/repos/{owner}/{repo}")
            }
            None if access == owner => return Ok(()),
            None if valid_name(access) => format!("/repos/{owner}/{repo}/collaborators/{access}"),
            _ => {
                return Err(ActionError::Input(format!(
                    "input.access: '{access}' is not a user or {owner}/team"
                )))
            }
        };
        self.call(Method::PUT, &path, Some(json!({ "permission": "admin" })))
            .await
            .map(|_| ())
            .map_err(ActionError::Failed)
    }
}

#[async_trait::async_trait]
impl Action for PublishGithub {
    fn id(&self) -> &'static str {
        "publish:github"
    }

    fn publishes(&self) -> bool {
        true
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let input_value = cx.input.clone();
        let input = Inputs::new(&input_value)?;
        let repo_url = input
            .str("repoUrl")?
            .ok_or_else(|| ActionError::input("input.repoUrl is required (a string)"))?;
        let (integration, owner, repo) = self.target(repo_url)?;
        let token = match input.str("token")? {
            Some(t) => t.to_string(),
            None => integration.token.clone().ok_or_else(|| {
                ActionError::Input(format!(
                    "no token for {}: set integrations.github[].token (or GREENROOM_INTEGRATIONS_GITHUB_TOKEN), or input.token",
                    integration.host
                ))
            })?,
        };
        let branch = input.str_or("defaultBranch", "master")?;
        if !valid_branch(branch) {
            return Err(ActionError::Input(format!(
                "'{branch}' is not a branch name"
            )));
        }
        let api = Api {
            action: self,
            base: &integration.api_base_url,
            token: &token,
        };
        let created = api.create(&owner, &repo, &input).await?;
        let field = |k: &str| {
            created[k]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ActionError::Failed(format!("the created repository has no {k}")))
        };
        let (clone_url, html_url) = (field("clone_url")?, field("html_url")?);
        cx.log.log(&format!("created {html_url}")).await;
        if let Some(access) = input.str("access")? {
            api.grant(&owner, &repo, access).await?;
        }
        if let Some(topics) = input.strings("topics")? {
            let names: Vec<String> = topics.iter().map(|t| t.to_lowercase()).collect();
            let path = format!("/repos/{owner}/{repo}/topics");
            if let Err(e) = api
                .call(Method::PUT, &path, Some(json!({ "names": names })))
                .await
            {
                cx.log
                    .log(&format!(
                        "warning: skipping topics {}, {e}",
                        names.join(" ")
                    ))
                    .await;
            }
        }
        let commit = self.push(cx, &input, &clone_url, branch, &api).await?;
        if input.bool_or("protectDefaultBranch", true)? {
            let path = format!("/repos/{owner}/{repo}/branches/{branch}/protection");
            let body = input.protection_body()?;
            if let Err(e) = api.call(Method::PUT, &path, Some(body)).await {
                cx.log
                    .log(&format!(
                        "warning: skipping default branch protection on '{repo}', {e}"
                    ))
                    .await;
            }
        }
        cx.output.insert("remoteUrl".into(), json!(clone_url));
        cx.output.insert(
            "repoContentsUrl".into(),
            json!(format!("{html_url}/blob/{branch}")),
        );
        cx.output.insert("commitHash".into(), json!(commit));
        Ok(())
    }
}

impl PublishGithub {
    /// Commits the source directory and pushes it to `remote` as `x-access-token:<token>` (sent in an
    /// `http.extraHeader` set through the environment: never in a URL, an argument or a log line).
    async fn push(
        &self,
        cx: &ActionContext,
        input: &Inputs<'_>,
        remote: &str,
        branch: &str,
        api: &Api<'_>,
    ) -> Result<String, ActionError> {
        if remote.starts_with('-') {
            return Err(ActionError::input(
                "the created repository's clone_url is not a URL",
            ));
        }
        self.policy
            .check_git_remote(remote)
            .await
            .map_err(|e| ActionError::Failed(format!("clone_url: {e}")))?;
        let dir = cx.workspace_path(input.str_or("sourcePath", ".")?)?;
        let name = format!("user.name={}", input.str_or("gitAuthorName", "Greenroom")?);
        let mail = format!(
            "user.email={}",
            input.str_or("gitAuthorEmail", "scaffolder@greenroom.invalid")?
        );
        let message = input.str_or("gitCommitMessage", "initial commit")?;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("x-access-token:{}", api.token));
        let header = format!("Authorization: Basic {basic}");
        let env = [
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "http.extraHeader"),
            ("GIT_CONFIG_VALUE_0", header.as_str()),
        ];
        let secrets = [api.token, basic.as_str()];
        let dir = dir.as_path();
        git_hidden(dir, &["init", "--quiet", "-b", branch], &env, &secrets).await?;
        git_hidden(dir, &["add", "--all"], &env, &secrets).await?;
        let commit_args = [
            "-c",
            &name,
            "-c",
            &mail,
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            message,
        ];
        git_hidden(dir, &commit_args, &env, &secrets).await?;
        let refspec = format!("HEAD:refs/heads/{branch}");
        let push = ["push", "--quiet", "--", remote, &refspec];
        git_hidden(dir, &push, &env, &secrets).await?;
        let commit = git_hidden(dir, &["rev-parse", "HEAD"], &env, &secrets)
            .await?
            .trim()
            .to_string();
        cx.log
            .log(&format!(
                "pushed {commit} to {} ({branch})",
                crate::confine::mask_userinfo(remote)
            ))
            .await;
        Ok(commit)
    }
}

/// `git` with `env`; `secrets` never appear in its error text.
async fn git_hidden(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    secrets: &[&str],
) -> Result<String, ActionError> {
    git_with(Some(dir), args, env).await.map_err(|e| {
        let mut text = e.to_string();
        for s in secrets {
            text = text.replace(s, "********");
        }
        ActionError::Failed(crate::confine::mask_text(&text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_branches_are_checked() {
        assert!(valid_name("svc.api-2_x"));
        assert!(!valid_name(".."));
        assert!(!valid_name("a/b"));
        assert!(valid_branch("feature/x"));
        assert!(!valid_branch("-x"));
        assert!(!valid_branch("a..b"));
    }

    #[test]
    fn unsupported_inputs_are_named() {
        let input =
            json!({"repoUrl": "github.com?owner=o&repo=r", "secrets": {}, "collaborators": []});
        let err = Inputs::new(&input)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("input.secrets") && err.contains("input.collaborators"),
            "{err}"
        );
    }

    #[test]
    fn integration_hosts_are_allowed_for_the_action_only() {
        let i = GithubIntegration {
            host: "127.0.0.1:9".into(),
            api_base_url: "http://127.0.0.1:9/api/v3".into(),
            token: None,
        };
        let a = PublishGithub::new(&Policy::default(), &[i]);
        let ok = |u: &str| a.policy.check_url(&Url::parse(u).unwrap()).is_ok();
        assert!(ok("http://127.0.0.1:9/api/v3/user/repos"));
        assert!(ok("http://127.0.0.1:9/acme/svc.git/info/refs"));
        assert!(!ok("http://127.0.0.1:10/api/v3/user/repos"));
        assert!(!ok("https://api.github.com/user/repos"));
        let err = a
            .target("github.com?owner=o&repo=r")
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("host github.com"));
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let i = GithubIntegration {
            host: "github.com".into(),
            api_base_url: "https://api.github.com".into(),
            token: Some("ghp_secret".into()),
        };
        assert!(!format!("{i:?}").contains("ghp_secret"));
    }
}
