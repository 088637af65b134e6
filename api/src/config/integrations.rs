//! `integrations`: the source-control hosts scaffolder actions publish to, as Backstage's app-config has
//! them (`integrations.github: [{host, token, apiBaseUrl}]`, `integrations.gitlab: [{host, token,
//! apiBaseUrl, baseUrl}]`). Their hosts are allowed for those actions only.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::scaffolder::actions::github_api::GithubIntegration;
use crate::scaffolder::actions::gitlab_api::GitlabIntegration;

/// The environment variable that sets the token of every `integrations.github` entry without one.
pub const GITHUB_TOKEN_ENV: &str = "GREENROOM_INTEGRATIONS_GITHUB_TOKEN";
/// The environment variable that sets the token of every `integrations.gitlab` entry without one.
pub const GITLAB_TOKEN_ENV: &str = "GREENROOM_INTEGRATIONS_GITLAB_TOKEN";

/// `integrations`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct IntegrationsConfig {
    pub github: Vec<GithubConfig>,
    pub gitlab: Vec<GitlabConfig>,
}

/// `integrations.github[]`: one GitHub (or GitHub Enterprise Server) host.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct GithubConfig {
    /// The host `repoUrl` names (`host` or `host:port`).
    pub host: String,
    /// The token the REST API and git pushes use (keep it in the environment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The REST API's base URL; default `https://api.github.com` for github.com, else
    /// `https://HOST/api/v3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            host: "github.com".into(),
            token: None,
            api_base_url: None,
        }
    }
}

impl std::fmt::Debug for GithubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubConfig")
            .field("host", &self.host)
            .field("token", &self.token.as_ref().map(|_| "********"))
            .field("api_base_url", &self.api_base_url)
            .finish()
    }
}

/// `integrations.gitlab[]`: one GitLab (gitlab.com or self-managed) host.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct GitlabConfig {
    /// The host `repoUrl` names (`host` or `host:port`).
    pub host: String,
    /// The token the REST API and git pushes use (keep it in the environment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The REST API's base URL; default `https://gitlab.com/api/v4` for gitlab.com, else
    /// `BASEURL/api/v4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// The web UI's base URL; default the origin of `apiBaseUrl` when set, else `https://HOST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl Default for GitlabConfig {
    fn default() -> Self {
        Self {
            host: "gitlab.com".into(),
            token: None,
            api_base_url: None,
            base_url: None,
        }
    }
}

impl std::fmt::Debug for GitlabConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabConfig")
            .field("host", &self.host)
            .field("token", &self.token.as_ref().map(|_| "********"))
            .field("api_base_url", &self.api_base_url)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// `host` lowercased, or an error when it is not `host[:port]`.
fn check_host(host: &str, at: &dyn Fn(String) -> ConfigError) -> Result<String, ConfigError> {
    let lower = host.trim().to_ascii_lowercase();
    if lower.is_empty() || lower.contains(['/', '@', '?', '#']) {
        return Err(at(format!("host '{host}' is not host[:port]")));
    }
    crate::confine::HostRule::parse(&lower).map_err(|e| at(e.to_string()))?;
    Ok(lower)
}

/// `url` without a trailing `/`, or an error naming `key` when it is not an http(s) URL.
fn check_url(
    key: &str,
    url: &str,
    at: &dyn Fn(String) -> ConfigError,
) -> Result<String, ConfigError> {
    let url = url.trim_end_matches('/').to_string();
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(url),
        _ => Err(at(format!("{key} '{url}' is not an http(s) URL"))),
    }
}

impl IntegrationsConfig {
    /// The GitLab integrations, checked: each host once, `host[:port]`, http(s) `apiBaseUrl` and
    /// `baseUrl`, with Backstage's defaults.
    pub fn gitlab(&self) -> Result<Vec<GitlabIntegration>, ConfigError> {
        let mut out: Vec<GitlabIntegration> = Vec::new();
        for (i, g) in self.gitlab.iter().enumerate() {
            let at = |msg: String| ConfigError::Invalid(format!("integrations.gitlab[{i}]: {msg}"));
            let host = check_host(&g.host, &at)?;
            if out.iter().any(|o| o.host == host) {
                return Err(at(format!("host '{host}' is configured twice")));
            }
            let api = g
                .api_base_url
                .as_deref()
                .map(|u| check_url("apiBaseUrl", u, &at));
            let api = api.transpose()?;
            let base_url = match (&g.base_url, &api) {
                (Some(b), _) => check_url("baseUrl", b, &at)?,
                (None, Some(a)) => reqwest::Url::parse(a)
                    .map(|u| u.origin().ascii_serialization())
                    .map_err(|_| at(format!("apiBaseUrl '{a}' is not an http(s) URL")))?,
                (None, None) => format!("https://{host}"),
            };
            let api_base_url = match api {
                Some(a) => a,
                None if host == "gitlab.com" => "https://gitlab.com/api/v4".into(),
                None => format!("{base_url}/api/v4"),
            };
            out.push(GitlabIntegration {
                host,
                api_base_url,
                base_url,
                token: g.token.clone().filter(|t| !t.is_empty()),
            });
        }
        Ok(out)
    }

    /// [`GITLAB_TOKEN_ENV`]: the token of every GitLab entry without one (with no entry, a `gitlab.com`
    /// entry with it).
    pub(super) fn apply_gitlab_token(&mut self, token: String) {
        if self.gitlab.is_empty() {
            self.gitlab.push(GitlabConfig::default());
        }
        for g in &mut self.gitlab {
            if g.token.as_deref().is_none_or(str::is_empty) {
                g.token = Some(token.clone());
            }
        }
    }

    /// The GitHub integrations, checked: each host once, `host[:port]`, an http(s) `apiBaseUrl`.
    pub fn github(&self) -> Result<Vec<GithubIntegration>, ConfigError> {
        let mut out: Vec<GithubIntegration> = Vec::new();
        for (i, g) in self.github.iter().enumerate() {
            let at = |msg: String| ConfigError::Invalid(format!("integrations.github[{i}]: {msg}"));
            let host = check_host(&g.host, &at)?;
            if out.iter().any(|o| o.host == host) {
                return Err(at(format!("host '{host}' is configured twice")));
            }
            let api_base_url = match &g.api_base_url {
                Some(u) => u.clone(),
                None if host == "github.com" => "https://api.github.com".into(),
                None => format!("https://{host}/api/v3"),
            };
            let api_base_url = check_url("apiBaseUrl", &api_base_url, &at)?;
            out.push(GithubIntegration {
                host,
                api_base_url,
                token: g.token.clone().filter(|t| !t.is_empty()),
            });
        }
        Ok(out)
    }

    /// [`GITHUB_TOKEN_ENV`]: the token of every GitHub entry without one (with no entry, a `github.com`
    /// entry with it).
    pub(super) fn apply_github_token(&mut self, token: String) {
        if self.github.is_empty() {
            self.github.push(GithubConfig::default());
        }
        for g in &mut self.github {
            if g.token.as_deref().is_none_or(str::is_empty) {
                g.token = Some(token.clone());
            }
        }
    }

    /// The same settings with every token shown as `********` (`config check`).
    pub(super) fn masked(&self) -> Self {
        let mut shown = self.clone();
        for g in &mut shown.github {
            if g.token.is_some() {
                g.token = Some("********".into());
            }
        }
        for g in &mut shown.gitlab {
            if g.token.is_some() {
                g.token = Some("********".into());
            }
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn github_entries_get_backstage_defaults_and_bad_ones_are_named() {
        let cfg = Config::from_yaml(
            "integrations:\n  github:\n    - token: t1\n    - host: ghe.example.com\n    - {host: '127.0.0.1:9', apiBaseUrl: 'http://127.0.0.1:9/api/v3/'}\n",
        )
        .unwrap();
        let g = cfg.integrations.github().unwrap();
        assert_eq!(g[0].host, "github.com");
        assert_eq!(g[0].api_base_url, "https://api.github.com");
        assert_eq!(g[0].token.as_deref(), Some("t1"));
        assert_eq!(g[1].api_base_url, "https://ghe.example.com/api/v3");
        assert_eq!(g[2].api_base_url, "http://127.0.0.1:9/api/v3");
        for (yaml, expected) in [
            (
                "integrations:\n  github:\n    - {host: a}\n    - {host: A}\n",
                "configured twice",
            ),
            (
                "integrations:\n  github:\n    - {host: 'https://x'}\n",
                "is not host[:port]",
            ),
            (
                "integrations:\n  github:\n    - {host: x, apiBaseUrl: 'ftp://x'}\n",
                "apiBaseUrl",
            ),
        ] {
            let err = Config::from_yaml(yaml)
                .unwrap()
                .integrations
                .github()
                .unwrap_err();
            assert!(err.to_string().contains(expected), "{yaml} -> {err}");
        }
        let err = Config::from_yaml("integrations:\n  github:\n    - {hots: x}\n").unwrap_err();
        assert!(err.to_string().contains("hots"), "{err}");
    }

    #[test]
    fn the_token_comes_from_the_environment_and_is_masked() {
        let mut cfg =
            Config::from_yaml("integrations:\n  github:\n    - host: ghe.example.com\n").unwrap();
        cfg.apply_env(|k| (k == super::GITHUB_TOKEN_ENV).then(|| "ghp_env".to_string()));
        assert_eq!(
            cfg.integrations.github().unwrap()[0].token.as_deref(),
            Some("ghp_env")
        );
        let shown = cfg.to_masked_yaml().unwrap();
        assert!(
            !shown.contains("ghp_env") && shown.contains("********"),
            "{shown}"
        );
        let mut empty = Config::default();
        empty.apply_env(|k| (k == super::GITHUB_TOKEN_ENV).then(|| "t".to_string()));
        assert_eq!(empty.integrations.github().unwrap()[0].host, "github.com");
    }

    #[test]
    fn gitlab_entries_get_backstage_defaults_and_bad_ones_are_named() {
        let cfg = Config::from_yaml(
            "integrations:\n  gitlab:\n    - token: t1\n    - host: git.example.com\n    - {host: '127.0.0.1:9', apiBaseUrl: 'http://127.0.0.1:9/api/v4/'}\n    - {host: code.example.com, baseUrl: 'https://code.example.com/gl/'}\n",
        )
        .unwrap();
        let g = cfg.integrations.gitlab().unwrap();
        assert_eq!(g[0].host, "gitlab.com");
        assert_eq!(g[0].api_base_url, "https://gitlab.com/api/v4");
        assert_eq!(g[0].base_url, "https://gitlab.com");
        assert_eq!(g[0].token.as_deref(), Some("t1"));
        assert_eq!(g[1].api_base_url, "https://git.example.com/api/v4");
        assert_eq!(g[1].base_url, "https://git.example.com");
        assert_eq!(g[2].api_base_url, "http://127.0.0.1:9/api/v4");
        assert_eq!(g[2].base_url, "http://127.0.0.1:9");
        assert_eq!(g[3].api_base_url, "https://code.example.com/gl/api/v4");
        for (yaml, expected) in [
            (
                "integrations:\n  gitlab:\n    - {host: a}\n    - {host: A}\n",
                "configured twice",
            ),
            (
                "integrations:\n  gitlab:\n    - {host: 'https://x'}\n",
                "is not host[:port]",
            ),
            (
                "integrations:\n  gitlab:\n    - {host: x, baseUrl: 'ftp://x'}\n",
                "gitlab[0]: baseUrl",
            ),
        ] {
            let err = Config::from_yaml(yaml)
                .unwrap()
                .integrations
                .gitlab()
                .unwrap_err();
            assert!(err.to_string().contains(expected), "{yaml} -> {err}");
        }
        let err = Config::from_yaml("integrations:\n  gitlab:\n    - {hots: x}\n").unwrap_err();
        assert!(err.to_string().contains("hots"), "{err}");
    }

    #[test]
    fn the_gitlab_token_comes_from_the_environment_and_is_masked() {
        let mut cfg =
            Config::from_yaml("integrations:\n  gitlab:\n    - host: git.example.com\n").unwrap();
        cfg.apply_env(|k| (k == super::GITLAB_TOKEN_ENV).then(|| "glpat_env".to_string()));
        assert_eq!(
            cfg.integrations.gitlab().unwrap()[0].token.as_deref(),
            Some("glpat_env")
        );
        let shown = cfg.to_masked_yaml().unwrap();
        assert!(
            !shown.contains("glpat_env") && shown.contains("********"),
            "{shown}"
        );
        assert!(cfg.integrations.github().unwrap().is_empty());
        let mut empty = Config::default();
        empty.apply_env(|k| (k == super::GITLAB_TOKEN_ENV).then(|| "t".to_string()));
        assert_eq!(empty.integrations.gitlab().unwrap()[0].host, "gitlab.com");
    }
}
