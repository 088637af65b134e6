//! `greenroom.yaml` (Backstage app-config style) plus `GREENROOM_*` environment overrides; unknown keys are errors.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod access;
mod values;
pub use access::{AuthConfig, DeploymentsConfig, EnvironmentConfig, JwtConfig, PolicyConfig};
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
}

/// `scaffolder`: the task workers every server runs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ScaffolderConfig {
    /// Tasks one server runs at once (0: this server runs no tasks).
    pub concurrency: usize,
    /// A running task whose worker has not heartbeated for this long is recovered (failed).
    #[serde(alias = "stale_after")]
    pub stale_after: String,
    /// How often a worker renews its claim on a running task.
    pub heartbeat: String,
    /// Longest a task may run.
    #[serde(alias = "task_timeout")]
    pub task_timeout: String,
    /// Instructions one rendering (one `${{ }}` string, one skeleton file) may execute.
    pub render_fuel: u64,
    /// Bytes one expression or string, and one step's whole input, may render to.
    pub max_render_bytes: usize,
    /// Bytes one skeleton file rendered by `fetch:template` may have.
    pub max_file_bytes: usize,
}

impl Default for ScaffolderConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            stale_after: "30s".into(),
            heartbeat: "2s".into(),
            task_timeout: "1h".into(),
            render_fuel: crate::scaffolder::expr::DEFAULT_LIMITS.fuel,
            max_render_bytes: crate::scaffolder::expr::DEFAULT_LIMITS.max_render_bytes,
            max_file_bytes: crate::scaffolder::expr::DEFAULT_LIMITS.max_file_bytes,
        }
    }
}

impl ScaffolderConfig {
    pub fn settings(&self) -> Result<crate::scaffolder::worker::WorkerSettings, ConfigError> {
        let d = |key: &str, v: &str| {
            crate::providers::scheduler::parse_duration(v)
                .map_err(|e| ConfigError::Invalid(format!("scaffolder.{key}: {e}")))
        };
        let settings = crate::scaffolder::worker::WorkerSettings {
            concurrency: self.concurrency,
            heartbeat: d("heartbeat", &self.heartbeat)?,
            stale_after: d("staleAfter", &self.stale_after)?,
            task_timeout: d("taskTimeout", &self.task_timeout)?,
            render: crate::scaffolder::expr::Limits {
                fuel: self.render_fuel,
                max_render_bytes: self.max_render_bytes,
                max_file_bytes: self.max_file_bytes,
            },
            ..Default::default()
        };
        if self.render_fuel == 0 || self.max_render_bytes == 0 || self.max_file_bytes == 0 {
            return Err(ConfigError::Invalid(
                "scaffolder.renderFuel, maxRenderBytes and maxFileBytes must be at least 1".into(),
            ));
        }
        if settings.stale_after < settings.heartbeat * 3 {
            return Err(ConfigError::Invalid(
                "scaffolder.staleAfter must be at least three heartbeats".into(),
            ));
        }
        Ok(settings)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ServerConfig {
    /// Address to listen on, `host:port`.
    pub listen: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most operations accepted in one JSON batch request.
    pub max_batch: usize,
    /// Bytes of whole responses kept for identical queries (0 disables); cleared on every catalog change.
    pub response_cache_bytes: usize,
    pub limits: LimitsConfig,
    /// Log lines: `auto` (human on a terminal, JSON lines otherwise), `json` or `text`.
    /// `GREENROOM_LOG_FORMAT` overrides it.
    pub log_format: String,
    /// Serve Prometheus metrics at `GET /metrics`.
    pub metrics: bool,
    /// After SIGTERM/SIGINT, how long in-flight requests may run before the server stops anyway.
    pub shutdown_grace: String,
    /// A connection that has not sent a whole request head within this long is closed.
    pub header_read_timeout: String,
    /// A request whose body has not arrived within this long gets HTTP 408.
    pub body_read_timeout: String,
    /// A WebSocket that has not sent `connection_init` within this long is closed (code 4408).
    pub websocket_init_timeout: String,
    /// Proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<String>,
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
    pub request_timeout: String,
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
        crate::providers::scheduler::parse_duration(&self.request_timeout)
            .map_err(|e| ConfigError::Invalid(format!("server.limits.requestTimeout: {e}")))
    }
}

impl ServerConfig {
    /// `headerReadTimeout`, `bodyReadTimeout` and `websocketInitTimeout`, parsed.
    pub fn timeouts(&self) -> Result<ConnectionTimeouts, ConfigError> {
        let d = |key: &str, v: &str| match crate::providers::scheduler::parse_duration(v) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(ConfigError::Invalid(format!("server.{key} must not be 0"))),
            Err(e) => Err(ConfigError::Invalid(format!("server.{key}: {e}"))),
        };
        Ok(ConnectionTimeouts {
            header_read: d("headerReadTimeout", &self.header_read_timeout)?,
            body_read: d("bodyReadTimeout", &self.body_read_timeout)?,
            websocket_init: d("websocketInitTimeout", &self.websocket_init_timeout)?,
        })
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 1 << 20,
            max_batch: 10,
            response_cache_bytes: 16 << 20,
            limits: LimitsConfig::default(),
            log_format: "auto".into(),
            metrics: true,
            shutdown_grace: "10s".into(),
            header_read_timeout: "10s".into(),
            body_read_timeout: "30s".into(),
            websocket_init_timeout: "5s".into(),
            trusted_proxies: Vec::new(),
        }
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct CatalogConfig {
    pub locations: Vec<LocationConfig>,
    /// Sources other than locations (`type: git`).
    pub providers: Vec<ProviderConfig>,
    pub refresh: RefreshConfig,
    /// Limits for every HTTP read (url locations and placeholders).
    pub http: HttpConfig,
    /// What registered locations, placeholders, `catalog:register` and `publish:git` may read and
    /// connect to beyond the configured sources.
    pub allow: AllowConfig,
    /// Limits for every catalog file read.
    pub limits: CatalogLimitsConfig,
    /// Seconds an entity may be served from the in-memory read cache (changes made by this server clear
    /// it at once; the TTL bounds staleness from other replicas). 0 disables the cache.
    pub cache_ttl_seconds: u64,
    /// Most entities held in the read cache.
    pub cache_max_entries: usize,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            locations: Vec::new(),
            providers: Vec::new(),
            refresh: RefreshConfig::default(),
            http: HttpConfig::default(),
            allow: AllowConfig::default(),
            limits: CatalogLimitsConfig::default(),
            cache_ttl_seconds: 5,
            cache_max_entries: 20_000,
        }
    }
}

impl CatalogConfig {
    pub fn cache(&self) -> crate::catalog::cache::EntityCache {
        let max = if self.cache_ttl_seconds == 0 {
            0
        } else {
            self.cache_max_entries
        };
        crate::catalog::cache::EntityCache::new(
            std::time::Duration::from_secs(self.cache_ttl_seconds),
            max,
        )
    }
}

/// How often configured locations are re-read (`500ms`, `30s`, `5m`, `1h`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct RefreshConfig {
    pub interval: String,
    pub timeout: String,
    /// How long a source's lease outlives its holder's last heartbeat during a run (renewed every third
    /// of it): a killed server's sources are read again, by a restart or another replica, after this.
    pub lease_ttl: String,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            interval: "60s".into(),
            timeout: "5m".into(),
            lease_ttl: "15s".into(),
        }
    }
}

impl RefreshConfig {
    pub fn schedule(&self) -> Result<crate::providers::scheduler::Schedule, ConfigError> {
        use crate::providers::scheduler::{parse_duration, Schedule};
        let field = |name: &str, v: &str| {
            parse_duration(v)
                .map_err(|e| ConfigError::Invalid(format!("catalog.refresh.{name}: {e}")))
        };
        Ok(Schedule {
            interval: field("interval", &self.interval)?,
            timeout: field("timeout", &self.timeout)?,
        })
    }

    /// `leaseTtl`, at least one second (heartbeats run every third of it).
    pub fn lease_ttl(&self) -> Result<std::time::Duration, ConfigError> {
        let ttl = crate::providers::scheduler::parse_duration(&self.lease_ttl)
            .map_err(|e| ConfigError::Invalid(format!("catalog.refresh.leaseTtl: {e}")))?;
        if ttl < std::time::Duration::from_secs(1) {
            return Err(ConfigError::Invalid(
                "catalog.refresh.leaseTtl must be at least 1s".into(),
            ));
        }
        Ok(ttl)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocationConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
}

/// A provider entry: `{id, type: git, url, branch, glob, schedule: {frequency, timeout}}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderConfig {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    /// Default: the repository's default branch.
    pub branch: Option<String>,
    /// Default: `**/catalog-info.yaml`.
    pub glob: Option<String>,
    #[serde(default)]
    pub schedule: ScheduleConfig,
}

/// A provider's own schedule; unset fields take `catalog.refresh`'s.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleConfig {
    pub frequency: Option<String>,
    pub timeout: Option<String>,
}

/// `catalog.allow`: directories and hosts beyond those of the configured sources (always allowed).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct AllowConfig {
    /// Directories registered file locations may read (relative to the config file's directory).
    pub files: Vec<String>,
    /// Hosts URL sources, placeholders, registered git sources and `publish:git` may connect to:
    /// `host`, `host:port`, `host/path-prefix`, `host:port/path-prefix`.
    pub hosts: Vec<String>,
    /// Private or loopback networks (CIDR) that allowed host names may resolve to.
    pub private_networks: Vec<String>,
}

/// `catalog.limits`: bounds on every catalog file read.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct CatalogLimitsConfig {
    /// Largest local file read (catalog files and placeholder targets), in bytes.
    pub max_file_bytes: u64,
    /// Deepest nesting of a YAML or JSON document (checked before parsing).
    pub max_yaml_depth: usize,
}

impl Default for CatalogLimitsConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: crate::confine::DEFAULT_MAX_FILE_BYTES,
            max_yaml_depth: crate::catalog::model::DEFAULT_MAX_DEPTH,
        }
    }
}

/// `catalog.http`: connect, read and total timeouts and the largest body accepted.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct HttpConfig {
    pub connect_timeout: String,
    pub read_timeout: String,
    /// Longest one whole response may take.
    pub timeout: String,
    pub max_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: "5s".into(),
            read_timeout: "30s".into(),
            timeout: "60s".into(),
            max_bytes: 8 << 20,
        }
    }
}

impl HttpConfig {
    pub fn limits(&self) -> Result<crate::providers::url::HttpLimits, ConfigError> {
        use crate::providers::scheduler::parse_duration;
        let field = |name: &str, v: &str| {
            parse_duration(v).map_err(|e| ConfigError::Invalid(format!("catalog.http.{name}: {e}")))
        };
        if self.max_bytes == 0 {
            return Err(ConfigError::Invalid(
                "catalog.http.maxBytes must be at least 1".into(),
            ));
        }
        Ok(crate::providers::url::HttpLimits {
            connect_timeout: field("connectTimeout", &self.connect_timeout)?,
            read_timeout: field("readTimeout", &self.read_timeout)?,
            total_timeout: field("timeout", &self.timeout)?,
            max_bytes: self.max_bytes,
        })
    }
}

impl CatalogConfig {
    /// Builds every configured source with its schedule.
    pub fn registry(&self) -> Result<crate::providers::Registry, ConfigError> {
        use crate::providers::{self, placeholders::PlaceholderResolver, url::Fetcher, Scheduled};
        let default = self.refresh.schedule()?;
        let policy = self.policy()?.shared();
        let resolver = PlaceholderResolver::new(Fetcher::new(self.http.limits()?, policy));
        let mut configured = Vec::new();
        for (i, loc) in self.locations.iter().enumerate() {
            let provider = providers::configured_location(&loc.kind, &loc.target, &resolver)
                .map_err(|e| ConfigError::Invalid(format!("catalog.locations[{i}]: {e}")))?;
            configured.push(Scheduled {
                provider,
                schedule: default,
            });
        }
        let mut ids = std::collections::HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            let at = |msg: String| ConfigError::Invalid(format!("catalog.providers[{i}]: {msg}"));
            if p.kind != "git" {
                return Err(at(format!(
                    "type '{}' is not supported (supported: git)",
                    p.kind
                )));
            }
            if p.id.trim().is_empty() || !ids.insert(p.id.clone()) {
                return Err(at(format!("id '{}' must be non-empty and unique", p.id)));
            }
            if p.url.trim().is_empty() {
                return Err(at("url must be set".into()));
            }
            let parse = |name: &str, v: &Option<String>, fallback| match v {
                Some(text) => crate::providers::scheduler::parse_duration(text)
                    .map_err(|e| at(format!("schedule.{name}: {e}"))),
                None => Ok(fallback),
            };
            let schedule = crate::providers::scheduler::Schedule {
                interval: parse("frequency", &p.schedule.frequency, default.interval)?,
                timeout: parse("timeout", &p.schedule.timeout, default.timeout)?,
            };
            let provider = providers::git::GitProvider::new(
                &p.id,
                &p.url,
                p.branch.as_deref(),
                p.glob.as_deref(),
                resolver.clone(),
            );
            configured.push(Scheduled {
                provider: std::sync::Arc::new(provider),
                schedule,
            });
        }
        Ok(providers::Registry {
            configured,
            resolver,
            default_schedule: Some(default),
            lease_ttl: Some(self.refresh.lease_ttl()?),
        })
    }
}

impl CatalogConfig {
    /// The read policy: `catalog.allow` plus the directories of the configured file locations and the
    /// hosts of the configured url locations and git providers.
    pub fn policy(&self) -> Result<crate::confine::Policy, ConfigError> {
        let roots: Vec<PathBuf> = self.allow.files.iter().map(PathBuf::from).collect();
        let mut policy = crate::confine::Policy::new(
            &roots,
            &self.allow.hosts,
            &self.allow.private_networks,
            self.limits.max_file_bytes,
        )
        .map_err(|e| ConfigError::Invalid(format!("catalog.allow: {e}")))?
        .with_max_yaml_depth(self.limits.max_yaml_depth);
        for loc in &self.locations {
            match loc.kind.as_str() {
                "file" => policy.allow_dir(&crate::providers::glob::root_of(&loc.target)),
                _ => policy.allow_host_of(&loc.target),
            }
        }
        for p in &self.providers {
            policy.allow_host_of(&p.url);
        }
        if self.limits.max_file_bytes == 0 || self.limits.max_yaml_depth == 0 {
            return Err(ConfigError::Invalid(
                "catalog.limits.maxFileBytes and maxYamlDepth must be at least 1".into(),
            ));
        }
        Ok(policy)
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
                let mut cfg = Self::from_yaml(&text).map_err(|message| ConfigError::Parse {
                    path: p.display().to_string(),
                    message,
                })?;
                let base = p.parent().unwrap_or(Path::new("."));
                for loc in &mut cfg.catalog.locations {
                    if loc.kind == "file" && Path::new(&loc.target).is_relative() {
                        loc.target = base.join(&loc.target).display().to_string();
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

    pub fn from_yaml(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
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
    }

    /// The effective configuration as YAML, with secrets masked (`config check`).
    pub fn to_masked_yaml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        if shown.auth.jwt.secret.is_some() {
            shown.auth.jwt.secret = Some("********".into());
        }
        shown.database.url = mask_url_password(&shown.database.url);
        serde_yaml_ng::to_string(&shown).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// Graceful shutdown's bound (`server.shutdownGrace`).
    pub fn shutdown_grace(&self) -> Result<std::time::Duration, ConfigError> {
        crate::providers::scheduler::parse_duration(&self.server.shutdown_grace)
            .map_err(|e| ConfigError::Invalid(format!("server.shutdownGrace: {e}")))
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
        self.catalog.registry()?;
        self.auth.authenticator()?;
        self.server.limits.check()?;
        crate::auth::client::TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(ConfigError::Invalid)?;
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
        let err = Config::from_yaml("server:\n  listn: x\n").unwrap_err();
        assert!(err.contains("unknown field `listn`"), "{err}");
        let err = Config::from_yaml("catalgo: {}\n").unwrap_err();
        assert!(err.contains("catalgo"), "{err}");
    }

    fn registry_error(yaml: &str) -> String {
        match Config::from_yaml(yaml).map(|c| c.catalog.registry()) {
            Ok(Ok(_)) => panic!("accepted: {yaml}"),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e,
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
