//! `server`: where the server listens and how it bounds connections, bodies and batches (its
//! `limits` are [`super::LimitsConfig`]).

use super::duration::DurationSetting;
use serde::{Deserialize, Serialize};

use super::{ConfigError, LimitsConfig};

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
    pub shutdown_grace: DurationSetting,
    /// A connection that has not sent a whole request head within this long is closed.
    pub header_read_timeout: DurationSetting,
    /// A request whose body has not arrived within this long gets HTTP 408.
    pub body_read_timeout: DurationSetting,
    /// A WebSocket that has not sent `connection_init` within this long is closed (code 4408).
    pub websocket_init_timeout: DurationSetting,
    /// Proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<String>,
}

impl ServerConfig {
    /// `headerReadTimeout`, `bodyReadTimeout` and `websocketInitTimeout`, parsed.
    pub fn timeouts(&self) -> Result<super::ConnectionTimeouts, ConfigError> {
        let d = |key: &str, v: &DurationSetting| match v.value() {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(ConfigError::Invalid(format!("server.{key} must not be 0"))),
            Err(e) => Err(ConfigError::Invalid(format!("server.{key}: {e}"))),
        };
        Ok(super::ConnectionTimeouts {
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
