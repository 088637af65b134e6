//! The configured `integrations.github` hosts as the `publish:github*` actions use them: which host,
//! owner and repository a `repoUrl` names, the token to use, and REST calls to the host's API.

use super::inputs::Inputs;
use super::rest::{Api, Client};
use super::ActionError;
use crate::confine::Policy;

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

/// The GitHub hosts one action may reach, and its client.
pub struct Github {
    pub client: Client,
    integrations: Vec<GithubIntegration>,
}

/// A `repoUrl` resolved: its integration, owner and repository, and the token to use.
pub struct Target<'a> {
    pub integration: &'a GithubIntegration,
    pub owner: String,
    pub repo: String,
    pub token: String,
}

const HEADERS: &[(&str, &str)] = &[
    ("accept", "application/vnd.github+json"),
    ("x-github-api-version", "2022-11-28"),
];

impl Github {
    /// The hosts of `integrations` (validated by the configuration), connecting through `policy` with
    /// each integration's host and API base URL allowed.
    pub fn new(policy: &Policy, integrations: &[GithubIntegration]) -> Self {
        let client = Client::new(
            policy,
            integrations.iter().map(|i| i.host.as_str()),
            integrations.iter().map(|i| i.api_base_url.as_str()),
        );
        Self {
            client,
            integrations: integrations.to_vec(),
        }
    }

    /// The integration, owner and repository `repo_url` names (parsed as the `parseRepoUrl` filter
    /// does), with `input.token` or else the integration's token.
    pub fn target(&self, input: &Inputs<'_>) -> Result<Target<'_>, ActionError> {
        let (integration, owner, repo) = self.parse(input.required("repoUrl")?)?;
        let token = match input.str("token")? {
            Some(t) => t.to_string(),
            None => integration.token.clone().ok_or_else(|| {
                ActionError::Input(format!(
                    "no token for {}: set integrations.github[].token (or GREENROOM_INTEGRATIONS_GITHUB_TOKEN), or input.token",
                    integration.host
                ))
            })?,
        };
        Ok(Target {
            integration,
            owner,
            repo,
            token,
        })
    }

    pub(super) fn parse(
        &self,
        repo_url: &str,
    ) -> Result<(&GithubIntegration, String, String), ActionError> {
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

impl Target<'_> {
    /// REST calls to the target's host with its token.
    pub fn api<'a>(&'a self, github: &'a Github) -> Api<'a> {
        Api {
            client: &github.client,
            base: &self.integration.api_base_url,
            token: &self.token,
            auth: ("authorization", format!("token {}", self.token)),
            headers: HEADERS,
        }
    }
}

/// GitHub's owner and repository names: letters, digits, `-`, `_`, `.` (not `.` or `..`).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A branch name safe to give git and to put in an API path.
pub fn valid_branch(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['-', '/'])
        && !s.ends_with('/')
        && !s.ends_with(".lock")
        && !s.contains("..")
        && !s.contains("//")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// `branch`, or an error naming `key` when it is not a branch name.
pub fn branch<'a>(key: &str, branch: &'a str) -> Result<&'a str, ActionError> {
    if valid_branch(branch) {
        Ok(branch)
    } else {
        Err(ActionError::Input(format!(
            "input.{key}: '{branch}' is not a branch name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Url;

    #[test]
    fn names_and_branches_are_checked() {
        assert!(valid_name("svc.api-2_x"));
        assert!(!valid_name(".."));
        assert!(!valid_name("a/b"));
        assert!(valid_branch("feature/x"));
        assert!(!valid_branch("-x"));
        assert!(!valid_branch("a..b"));
        assert!(!valid_branch("a.lock"));
    }

    #[test]
    fn integration_hosts_are_allowed_for_the_action_only() {
        let i = GithubIntegration {
            host: "127.0.0.1:9".into(),
            api_base_url: "http://127.0.0.1:9/api/v3".into(),
            token: None,
        };
        let a = Github::new(&Policy::default(), &[i]);
        let ok = |u: &str| a.client.policy.check_url(&Url::parse(u).unwrap()).is_ok();
        assert!(ok("http://127.0.0.1:9/api/v3/user/repos"));
        assert!(ok("http://127.0.0.1:9/acme/svc.git/info/refs"));
        assert!(!ok("http://127.0.0.1:10/api/v3/user/repos"));
        assert!(!ok("https://api.github.com/user/repos"));
        let err = a
            .parse("github.com?owner=o&repo=r")
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
