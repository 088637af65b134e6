//! `auth` and `deployments`: who may call, and which environments deployments name.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `auth`: how callers are authenticated. With no key configured the server runs in dev mode.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct AuthConfig {
    pub jwt: JwtConfig,
    /// Requests without a token may read the catalog.
    #[serde(alias = "allow_anonymous_read")]
    pub allow_anonymous_read: bool,
    /// Dev mode (no authentication) on a non-loopback address. Off: dev mode refuses to listen there.
    pub dev_mode_any_address: bool,
    pub policy: PolicyConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct JwtConfig {
    /// HS256 shared secret (at least 32 bytes). Prefer `GREENROOM_JWT_SECRET`.
    pub secret: Option<String>,
    /// Public keys (RSA, EC P-256, Ed25519): PEM text, or a path to a PEM file.
    pub public_keys: Vec<String>,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: super::duration::DurationSetting,
    /// Refuse tokens without a `jti` (they could never be revoked).
    pub require_jti: bool,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            secret: None,
            public_keys: Vec::new(),
            jwks_url: None,
            issuer: None,
            audience: None,
            leeway: "30s".into(),
            require_jti: true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct PolicyConfig {
    /// Writes that touch an entity need its owner group (token `groups`, or User membership).
    pub ownership: bool,
}

impl AuthConfig {
    pub fn authenticator(&self) -> Result<crate::auth::Authenticator, ConfigError> {
        use crate::auth::jwt::{Verifier, VerifierSettings};
        let mut public_keys = Vec::new();
        for (i, k) in self.jwt.public_keys.iter().enumerate() {
            if k.contains("-----BEGIN") {
                public_keys.push(k.clone());
            } else {
                let text = std::fs::read_to_string(k).map_err(|e| {
                    ConfigError::Invalid(format!("auth.jwt.publicKeys[{i}]: {k}: {e}"))
                })?;
                public_keys.push(text);
            }
        }
        let leeway = self.jwt.leeway.get("auth.jwt.leeway")?;
        let verifier = Verifier::new(VerifierSettings {
            secret: self.jwt.secret.clone(),
            public_keys,
            jwks_url: self.jwt.jwks_url.clone(),
            issuer: self.jwt.issuer.clone(),
            audience: self.jwt.audience.clone(),
            leeway,
            require_jti: self.jwt.require_jti,
        })?;
        Ok(crate::auth::Authenticator {
            verifier,
            anonymous_read: self.allow_anonymous_read,
            revocations: Default::default(),
            ownership_policy: self.policy.ownership,
        })
    }
}

/// `deployments`: the environments deployments may name, in order.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct DeploymentsConfig {
    /// Names in order (`[dev, staging, production]`), or `{name, order}` entries.
    pub environments: Vec<EnvironmentConfig>,
    /// Accept environments that are neither listed nor `kind: Environment` entities.
    #[serde(alias = "allow_unknown_environments")]
    pub allow_unknown_environments: bool,
}

impl Default for DeploymentsConfig {
    fn default() -> Self {
        Self {
            environments: ["development", "staging", "production"]
                .into_iter()
                .map(|n| EnvironmentConfig::Name(n.to_string()))
                .collect(),
            allow_unknown_environments: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum EnvironmentConfig {
    Name(String),
    Entry { name: String, order: i64 },
}

impl DeploymentsConfig {
    pub fn environments(&self) -> crate::deployments::Environments {
        let mut items: Vec<(i64, String)> = self
            .environments
            .iter()
            .enumerate()
            .map(|(i, e)| match e {
                EnvironmentConfig::Name(n) => (i as i64, n.clone()),
                EnvironmentConfig::Entry { name, order } => (*order, name.clone()),
            })
            .collect();
        items.sort();
        crate::deployments::Environments {
            configured: items.into_iter().map(|(_, n)| n).collect(),
            allow_unknown: self.allow_unknown_environments,
        }
    }
}
