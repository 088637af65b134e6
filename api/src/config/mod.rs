//! `greenroom.yaml` (Backstage app-config style) plus `GREENROOM_*` environment overrides; unknown keys are errors.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use duration::DurationSetting;

mod access;
mod catalog;
pub mod duration;
mod integrations;
mod rules;
mod scaffolder;
mod server;
mod values;
pub use access::{AuthConfig, DeploymentsConfig, EnvironmentConfig, JwtConfig, PolicyConfig};
pub use catalog::{
    AllowConfig, CatalogConfig, CatalogLimitsConfig, HttpConfig, LocationConfig, ProviderConfig,
    RefreshConfig, ScheduleConfig,
};
pub use integrations::{
    GithubConfig, GitlabConfig, IntegrationsConfig, GITHUB_TOKEN_ENV, GITLAB_TOKEN_ENV,
};
pub use scaffolder::ScaffolderConfig;
pub use server::ServerConfig;
pub use values::{ConnectionTimeouts, OperationLimits, MAX_LIST_SIZE};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub catalog: CatalogConfig,
    pub auth: AuthConfig,
    pub deployments: DeploymentsConfig,
    pub scaffolder: ScaffolderConfig,
    pub integrations: IntegrationsConfig,
}

/// `server.limits`: what one request may ask for.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct LimitsConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Longest a request may run (then `TIMEOUT`, HTTP 503).
    pub request_timeout: DurationSetting,
    pub introspection: bool,
    /// Origins allowed to call from a browser (`*` for any); empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Request headers a browser page may send (CORS preflight `Access-Control-Allow-Headers`).
    pub cors_headers: Vec<String>,
    /// Requests per second per subject (0 disables), and the burst allowed.
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    /// What a list field without `first` counts for complexity and returns at most (1 to 500).
    pub default_list_size: usize,
    /// Largest serialised response; a larger one gets `RESPONSE_TOO_LARGE` instead of its body.
    pub max_response_bytes: usize,
    /// Most subscriptions running at once on one WebSocket.
    pub max_subscriptions_per_connection: usize,
}

/// What browser clients send: auth and content negotiation, Apollo Client's client awareness headers and
/// W3C trace context.
pub fn default_cors_headers() -> Vec<String> {
    [
        "authorization",
        "content-type",
        "accept",
        "apollographql-client-name",
        "apollographql-client-version",
        "traceparent",
        "tracestate",
    ]
    .map(str::to_string)
    .to_vec()
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = OperationLimits::default();
        Self {
            max_depth: l.max_depth,
            max_complexity: l.max_complexity,
            max_aliases: l.max_aliases,
            max_root_fields: l.max_root_fields,
            request_timeout: "30s".into(),
            introspection: l.introspection,
            cors_origins: Vec::new(),
            cors_headers: default_cors_headers(),
            rate_limit_per_second: 50.0,
            rate_limit_burst: 100.0,
            default_list_size: l.default_list_size,
            max_response_bytes: 16 << 20,
            max_subscriptions_per_connection: 100,
        }
    }
}

impl Eq for LimitsConfig {}

impl LimitsConfig {
    pub fn schema_limits(&self) -> OperationLimits {
        OperationLimits {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            max_aliases: self.max_aliases,
            max_root_fields: self.max_root_fields,
            introspection: self.introspection,
            default_list_size: self.default_list_size,
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let rate = self.rate_limit_per_second;
        if !rate.is_finite() || rate < 0.0 {
            return Err(ConfigError::Invalid(
                "server.limits.rateLimitPerSecond must be 0 (off) or a positive number".into(),
            ));
        }
        if rate > 0.0 && (!self.rate_limit_burst.is_finite() || self.rate_limit_burst < 1.0) {
            return Err(ConfigError::Invalid(
                "server.limits.rateLimitBurst must be at least 1".into(),
            ));
        }
        if rate > 0.0 && rate < 0.001 {
            return Err(ConfigError::Invalid(
                "server.limits.rateLimitPerSecond is too small (at least 0.001)".into(),
            ));
        }
        self.request_timeout()?;
        if !(1..=MAX_LIST_SIZE).contains(&self.default_list_size) {
            return Err(ConfigError::Invalid(format!(
                "server.limits.defaultListSize must be 1 to {}",
                MAX_LIST_SIZE
            )));
        }
        if self.max_response_bytes == 0 || self.max_subscriptions_per_connection == 0 {
            return Err(ConfigError::Invalid(
                "server.limits.maxResponseBytes and maxSubscriptionsPerConnection must be at least 1"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Result<std::time::Duration, ConfigError> {
        self.request_timeout.get("server.limits.requestTimeout")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct DatabaseConfig {
    /// `sqlite://FILE?mode=rwc` or `postgres://user:pass@host/db`.
    pub url: String,
    /// Pool size; default 8 (SQLite readers share one writer lock).
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://greenroom.db?mode=rwc".into(),
            max_connections: 8,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
    #[error("invalid config: {0}")]
    Jwt(#[from] crate::auth::jwt::JwtError),
    #[error("invalid config: {0}")]
    Proxies(#[from] crate::auth::client::CidrError),
    /// A `catalog.locations` entry no provider can be built for.
    #[error("invalid config: catalog.locations[{index}]: {source}")]
    Location {
        index: usize,
        source: crate::providers::ProviderError,
    },
}

/// `scheme://user:password@host…` with the password replaced by `********`.
fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_string(),
    }
}

impl Config {
    /// Loads `path` (or `greenroom.yaml` in the working directory when it exists, or defaults),
    /// then applies `GREENROOM_LISTEN` and `GREENROOM_DATABASE_URL`. Relative file location targets are
    /// resolved against the config file's directory.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let default_path = PathBuf::from("greenroom.yaml");
        let path = match path {
            Some(p) => Some(p.to_path_buf()),
            None if default_path.exists() => Some(default_path),
            None => None,
        };
        let mut cfg = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                let mut cfg = Self::from_yaml(&text).map_err(|e| ConfigError::Parse {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?;
                let base = p.parent().unwrap_or(Path::new("."));
                for loc in &mut cfg.catalog.locations {
                    if loc.kind == "file" && Path::new(&loc.target).is_relative() {
                        loc.target = base.join(&loc.target).display().to_string();
                    }
                }
                for r in cfg.catalog.rules.iter_mut().flatten() {
                    for l in r.locations.iter_mut().flatten() {
                        match &mut l.exact {
                            Some(x) if l.kind == "file" && Path::new(x.as_str()).is_relative() => {
                                *x = base.join(x.as_str()).display().to_string();
                            }
                            _ => {}
                        }
                    }
                }
                for dir in &mut cfg.catalog.allow.files {
                    if Path::new(dir.as_str()).is_relative() {
                        *dir = base.join(dir.as_str()).display().to_string();
                    }
                }
                cfg
            }
            None => Self::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok());
        cfg.check()?;
        Ok(cfg)
    }

    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml_ng::Error> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml_ng::from_str(text)
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("GREENROOM_LISTEN") {
            self.server.listen = v;
        }
        if let Some(v) = get("GREENROOM_DATABASE_URL") {
            self.database.url = v;
        }
        if let Some(v) = get("GREENROOM_JWT_SECRET") {
            self.auth.jwt.secret = Some(v);
        }
        if let Some(v) = get("GREENROOM_LOG_FORMAT") {
            self.server.log_format = v;
        }
        if let Some(v) = get(GITHUB_TOKEN_ENV).filter(|v| !v.is_empty()) {
            self.integrations.apply_github_token(v);
        }
        if let Some(v) = get(GITLAB_TOKEN_ENV).filter(|v| !v.is_empty()) {
            self.integrations.apply_gitlab_token(v);
        }
    }

    /// The effective configuration as YAML, with secrets masked (`config check`).
    pub fn to_masked_yaml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        if shown.auth.jwt.secret.is_some() {
            shown.auth.jwt.secret = Some("********".into());
        }
        shown.database.url = mask_url_password(&shown.database.url);
        shown.integrations = shown.integrations.masked();
        serde_yaml_ng::to_string(&shown).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// Graceful shutdown's bound (`server.shutdownGrace`).
    pub fn shutdown_grace(&self) -> Result<std::time::Duration, ConfigError> {
        self.server.shutdown_grace.get("server.shutdownGrace")
    }

    fn check(&self) -> Result<(), ConfigError> {
        if !["auto", "json", "text"].contains(&self.server.log_format.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "server.logFormat must be auto, json or text, not '{}'",
                self.server.log_format
            )));
        }
        self.shutdown_grace()?;
        self.server.timeouts()?;
        self.scaffolder.settings()?;
        self.integrations.github()?;
        self.integrations.gitlab()?;
        self.catalog.registry()?;
        self.auth.authenticator()?;
        self.server.limits.check()?;
        crate::auth::client::TrustedProxies::parse(&self.server.trusted_proxies)?;
        if self.server.max_batch == 0 {
            return Err(ConfigError::Invalid(
                "server.maxBatch must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_overrides() {
        let mut cfg = Config::from_yaml(
            "server:\n  listen: 0.0.0.0:9000\ncatalog:\n  locations:\n    - type: file\n      target: a.yaml\n",
        )
        .unwrap();
        assert_eq!(cfg.server.listen, "0.0.0.0:9000");
        assert_eq!(cfg.database.url, "sqlite://greenroom.db?mode=rwc");
        cfg.apply_env(|k| (k == "GREENROOM_DATABASE_URL").then(|| "postgres://x/y".to_string()));
        assert_eq!(cfg.database.url, "postgres://x/y");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_yaml("server:\n  listn: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `listn`"), "{err}");
        let err = Config::from_yaml("catalgo: {}\n").unwrap_err().to_string();
        assert!(err.contains("catalgo"), "{err}");
    }

    fn registry_error(yaml: &str) -> String {
        match Config::from_yaml(yaml).map(|c| c.catalog.registry()) {
            Ok(Ok(_)) => panic!("accepted: {yaml}"),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn sources_and_http_limits_parse_and_bad_entries_are_named() {
        let cfg = Config::from_yaml(
            "catalog:\n  locations:\n    - {type: url, target: 'https://example.com/a.yaml'}\n  providers:\n    - {id: p, type: git, url: 'file:///tmp/r', branch: main, schedule: {frequency: 5m}}\n  http: {maxBytes: 1000}\n",
        )
        .unwrap();
        let registry = cfg.catalog.registry().unwrap();
        let keys: Vec<&str> = registry
            .configured
            .iter()
            .map(|s| s.provider.key())
            .collect();
        assert_eq!(keys, ["url:https://example.com/a.yaml", "git:p"]);
        assert_eq!(
            registry.lease_ttl,
            Some(std::time::Duration::from_secs(15)),
            "the default lease ttl"
        );
        let git = &registry.configured[1].schedule;
        assert_eq!(git.interval, std::time::Duration::from_secs(300));
        assert_eq!(
            git.timeout,
            std::time::Duration::from_secs(300),
            "the default timeout"
        );
        for (yaml, expected) in [
            ("catalog:\n  providers:\n    - {id: p, type: svn, url: x}\n", "type 'svn' is not supported"),
            ("catalog:\n  providers:\n    - {id: p, type: git, url: x}\n    - {id: p, type: git, url: y}\n", "id 'p' must be non-empty and unique"),
            ("catalog:\n  providers:\n    - {id: p, type: git, url: x, schedule: {frequency: soon}}\n", "providers[0]: schedule.frequency"),
            ("catalog:\n  providers:\n    - {id: p, type: git, url: x, depth: 1}\n", "unknown field `depth`"),
            ("catalog:\n  locations:\n    - {type: ftp, target: x}\n", "location type 'ftp' is not supported"),
            ("catalog:\n  locations:\n    - {type: url, target: 'ftp://x/y'}\n", "scheme 'ftp' is not supported"),
            ("catalog:\n  http: {readTimeout: 0s}\n", "catalog.http.readTimeout"),
            ("catalog:\n  refresh: {leaseTtl: 500ms}\n", "leaseTtl must be at least 1s"),
            ("catalog:\n  refresh: {leaseTtl: soon}\n", "catalog.refresh.leaseTtl"),
        ] {
            let err = registry_error(yaml);
            assert!(err.contains(expected), "{yaml} -> {err}");
        }
    }
}
