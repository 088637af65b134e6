//! The configured `integrations.gitlab` hosts as the `publish:gitlab*` actions use them: which host,
//! namespace and project a `repoUrl` names, the token to use, and calls to the host's REST API (v4).

use super::github_api::valid_name;
use super::inputs::Inputs;
use super::rest::{Api, Client};
use super::ActionError;
use crate::confine::Policy;

/// One `integrations.gitlab` entry: the host `repoUrl` names, its REST API and web base URLs, its token.
#[derive(Clone, PartialEq, Eq)]
pub struct GitlabIntegration {
    pub host: String,
    pub api_base_url: String,
    pub base_url: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for GitlabIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabIntegration")
            .field("host", &self.host)
            .field("api_base_url", &self.api_base_url)
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "********"))
            .finish()
    }
}

/// The GitLab hosts one action may reach, and its client.
pub struct Gitlab {
    pub client: Client,
    integrations: Vec<GitlabIntegration>,
}

/// A `repoUrl` resolved: its integration, namespace (`owner`, may hold subgroups), project name or
/// `project` id/path, and the token (from the input, sent as an OAuth bearer token, as Backstage does;
/// else the integration's, sent as `PRIVATE-TOKEN`).
pub struct Target<'a> {
    pub integration: &'a GitlabIntegration,
    pub owner: Option<String>,
    pub repo: Option<String>,
    pub project: Option<String>,
    pub token: String,
    pub oauth: bool,
}

impl Gitlab {
    /// The hosts of `integrations` (validated by the configuration), connecting through `policy` with
    /// each integration's host, API and web base URLs allowed.
    pub fn new(policy: &Policy, integrations: &[GitlabIntegration]) -> Self {
        let urls = integrations
            .iter()
            .flat_map(|i| [i.api_base_url.as_str(), i.base_url.as_str()]);
        let client = Client::new(policy, integrations.iter().map(|i| i.host.as_str()), urls);
        Self {
            client,
            integrations: integrations.to_vec(),
        }
    }

    /// What `input.repoUrl` names, with the token to use.
    pub fn target(&self, input: &Inputs<'_>) -> Result<Target<'_>, ActionError> {
        let find = |host: &str| {
            self.integrations
                .iter()
                .find(|i| i.host.eq_ignore_ascii_case(host))
        };
        let kind_of = |host: &str| find(host).map(|_| "gitlab".to_string());
        let repo_url = input.required("repoUrl")?;
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
                .filter(|v| !v.is_empty())
        };
        let host = part("host").unwrap_or_default();
        let integration = find(&host)
            .ok_or_else(|| ActionError::input("input.repoUrl: no matching integration"))?;
        let (owner, repo, project) = (part("owner"), part("repo"), part("project"));
        if let Some(o) = &owner {
            if !o.split('/').all(valid_name) {
                return Err(ActionError::Input(format!(
                    "input.repoUrl: '{o}' is not a GitLab namespace"
                )));
            }
        }
        if let Some(r) = repo.as_deref().filter(|r| !valid_name(r)) {
            return Err(ActionError::Input(format!(
                "input.repoUrl: '{r}' is not a GitLab project name"
            )));
        }
        let (token, oauth) = match input.str("token")? {
            Some(t) => (t.to_string(), true),
            None => (
                integration.token.clone().ok_or_else(|| {
                    ActionError::Input(format!(
                        "No token available for host {host}: set integrations.gitlab[].token (or GREENROOM_INTEGRATIONS_GITLAB_TOKEN), or input.token"
                    ))
                })?,
                false,
            ),
        };
        Ok(Target {
            integration,
            owner,
            repo,
            project,
            token,
            oauth,
        })
    }
}

impl Target<'_> {
    /// REST calls to the target's host with its token.
    pub fn api<'a>(&'a self, gitlab: &'a Gitlab) -> Api<'a> {
        let auth = if self.oauth {
            ("authorization", format!("Bearer {}", self.token))
        } else {
            ("private-token", self.token.clone())
        };
        Api {
            client: &gitlab.client,
            base: &self.integration.api_base_url,
            token: &self.token,
            auth,
            headers: &[("accept", "application/json")],
        }
    }

    /// The namespace, or Backstage's error without one.
    pub fn owner(&self) -> Result<&str, ActionError> {
        self.owner.as_deref().ok_or_else(|| {
            ActionError::Input(format!(
                "No owner provided for host: {}, and repo {}",
                self.integration.host,
                self.repo.as_deref().unwrap_or("undefined")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gitlab() -> Gitlab {
        let i = GitlabIntegration {
            host: "127.0.0.1:9".into(),
            api_base_url: "http://127.0.0.1:9/api/v4".into(),
            base_url: "http://127.0.0.1:9".into(),
            token: Some("glpat_secret".into()),
        };
        Gitlab::new(&Policy::default(), &[i])
    }

    #[test]
    fn repo_urls_name_a_configured_host_and_a_namespace() {
        let g = gitlab();
        let input = json!({"repoUrl": "127.0.0.1:9?owner=group/sub&repo=svc"});
        let t = g
            .target(&Inputs::new("t", &input, "repoUrl").unwrap())
            .unwrap();
        assert_eq!(t.owner.as_deref(), Some("group/sub"));
        assert_eq!(t.repo.as_deref(), Some("svc"));
        assert!(!t.oauth);
        for (url, expected) in [
            (
                "gitlab.com?owner=g&repo=r",
                "No matching integration configuration for host gitlab.com",
            ),
            ("127.0.0.1:9?owner=g/..&repo=r", "is not a GitLab namespace"),
            (
                "127.0.0.1:9?owner=g&repo=r%20x",
                "is not a GitLab project name",
            ),
        ] {
            let input = json!({ "repoUrl": url });
            let err = g
                .target(&Inputs::new("t", &input, "repoUrl").unwrap())
                .err();
            let err = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(expected), "{url}: {err}");
        }
        assert!(!format!("{:?}", g.integrations[0]).contains("glpat_secret"));
    }
}
