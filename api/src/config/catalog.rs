//! `catalog`: the configured sources and their schedules, HTTP limits, what else may be read (the read
//! policy), file limits and the read cache.

use super::duration::DurationSetting;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct CatalogConfig {
    pub locations: Vec<LocationConfig>,
    /// Which kinds locations may provide (Backstage's `catalog.rules`); absent: Component, API and
    /// Location only, as in Backstage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<super::rules::RuleConfig>>,
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
    /// Most bytes (estimated) the read cache holds, entities and relations together.
    pub cache_max_bytes: usize,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            locations: Vec::new(),
            rules: None,
            providers: Vec::new(),
            refresh: RefreshConfig::default(),
            http: HttpConfig::default(),
            allow: AllowConfig::default(),
            limits: CatalogLimitsConfig::default(),
            cache_ttl_seconds: 5,
            cache_max_entries: 20_000,
            cache_max_bytes: crate::catalog::cache::DEFAULT_MAX_BYTES,
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
        .with_max_bytes(self.cache_max_bytes)
    }
}

/// How often configured locations are re-read (`500ms`, `30s`, `5m`, `1h`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct RefreshConfig {
    pub interval: DurationSetting,
    pub timeout: DurationSetting,
    /// How long a source's lease outlives its holder's last heartbeat during a run (renewed every third
    /// of it): a killed server's sources are read again, by a restart or another replica, after this.
    pub lease_ttl: DurationSetting,
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
        use crate::providers::scheduler::Schedule;
        let field = |name: &str, v: &DurationSetting| v.get(&format!("catalog.refresh.{name}"));
        Ok(Schedule {
            interval: field("interval", &self.interval)?,
            timeout: field("timeout", &self.timeout)?,
        })
    }

    /// `leaseTtl`, at least one second (heartbeats run every third of it).
    pub fn lease_ttl(&self) -> Result<std::time::Duration, ConfigError> {
        let ttl = self.lease_ttl.get("catalog.refresh.leaseTtl")?;
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
    /// More kinds this location may provide (its own Backstage `rules`), on top of `catalog.rules`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<super::rules::LocationRuleConfig>,
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
    pub frequency: Option<DurationSetting>,
    pub timeout: Option<DurationSetting>,
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
    pub connect_timeout: DurationSetting,
    pub read_timeout: DurationSetting,
    /// Longest one whole response may take.
    pub timeout: DurationSetting,
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
    pub fn limits(&self) -> Result<crate::providers::fetch::HttpLimits, ConfigError> {
        let field = |name: &str, v: &DurationSetting| v.get(&format!("catalog.http.{name}"));
        if self.max_bytes == 0 {
            return Err(ConfigError::Invalid(
                "catalog.http.maxBytes must be at least 1".into(),
            ));
        }
        Ok(crate::providers::fetch::HttpLimits {
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
        use crate::providers::{
            self, fetch::Fetcher, placeholders::PlaceholderResolver, Scheduled,
        };
        let default = self.refresh.schedule()?;
        let policy = self.policy()?.shared();
        let resolver = PlaceholderResolver::new(Fetcher::new(self.http.limits()?, policy));
        let rules = std::sync::Arc::new(super::rules::kind_rules(&self.rules)?);
        let mut configured = Vec::new();
        for (i, loc) in self.locations.iter().enumerate() {
            let provider = providers::configured_location(&loc.kind, &loc.target, &resolver)
                .map_err(|source| ConfigError::Location { index: i, source })?;
            configured.push(Scheduled {
                provider,
                schedule: default,
                rules: rules.for_source(&super::rules::own_rules(&loc.rules)),
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
            let parse = |name: &str, v: &Option<DurationSetting>, fallback| match v {
                Some(setting) => setting
                    .value()
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
                rules: rules.for_source(&[]),
            });
        }
        Ok(providers::Registry {
            configured,
            resolver,
            default_schedule: Some(default),
            lease_ttl: Some(self.refresh.lease_ttl()?),
            rules,
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
