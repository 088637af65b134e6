//! Who is calling and what they may do: bearer JWTs (`jwt`), scopes, revoked token ids (`revocation`),
//! per-subject rate limits (`limits`), client addresses (`client`), the ownership policy (`policy`) and the
//! audit log (`audit`).

pub mod audit;
pub mod client;
pub mod jwt;
pub mod limits;
pub mod policy;
pub mod revocation;

use sea_orm::DatabaseConnection;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// What a token may do (the space-separated `scope` claim). `admin` implies every other scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    CatalogRead,
    CatalogWrite,
    DeploymentsWrite,
    ScaffolderRun,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::CatalogRead,
        Scope::CatalogWrite,
        Scope::DeploymentsWrite,
        Scope::ScaffolderRun,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CatalogRead => "catalog:read",
            Scope::CatalogWrite => "catalog:write",
            Scope::DeploymentsWrite => "deployments:write",
            Scope::ScaffolderRun => "scaffolder:run",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller of a request, available to every resolver (request data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub` (`user:default/jane`, `bot:ci`), `anonymous`, or `dev` in dev mode.
    pub subject: String,
    pub scopes: BTreeSet<Scope>,
    /// The token's `groups` claim (entity refs of groups), for the ownership policy.
    pub groups: Vec<String>,
    pub jti: Option<String>,
    /// False for requests without a token.
    pub authenticated: bool,
}

impl Caller {
    pub fn anonymous(scopes: BTreeSet<Scope>) -> Self {
        Self {
            subject: "anonymous".into(),
            scopes,
            groups: Vec::new(),
            jti: None,
            authenticated: false,
        }
    }

    /// The caller in dev mode (no authentication configured): every scope.
    pub fn dev() -> Self {
        Self {
            subject: "dev".into(),
            scopes: Scope::ALL.into_iter().collect(),
            groups: Vec::new(),
            jti: None,
            authenticated: false,
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// `Ok` when the caller holds `scope`; otherwise UNAUTHENTICATED for anonymous callers, FORBIDDEN
    /// for the others.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        if self.has(scope) {
            Ok(())
        } else if !self.authenticated && self.subject == "anonymous" {
            Err(AuthError::Unauthenticated(format!(
                "this needs a token with scope {scope}"
            )))
        } else {
            Err(AuthError::Forbidden(format!(
                "{} lacks scope {scope}",
                self.subject
            )))
        }
    }

    /// A stable description of what the caller may read (part of response cache keys).
    pub fn read_key(&self) -> String {
        self.scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// A failure of ours (the database, a key server): logged, never shown.
    #[error("{0}")]
    Internal(String),
}

/// How requests are authenticated, built once from the config.
pub struct Authenticator {
    /// `None`: dev mode (no authentication configured): every request is the `dev` caller.
    pub verifier: Option<jwt::Verifier>,
    pub anonymous_read: bool,
    pub revocations: revocation::Revocations,
    pub ownership_policy: bool,
}

impl Authenticator {
    /// No authentication: every caller is `dev` with every scope.
    pub fn dev_mode() -> Self {
        Self {
            verifier: None,
            anonymous_read: false,
            revocations: revocation::Revocations::default(),
            ownership_policy: false,
        }
    }

    pub fn is_dev_mode(&self) -> bool {
        self.verifier.is_none()
    }

    /// The caller of a request with this `Authorization` header value.
    pub async fn caller(
        &self,
        db: &DatabaseConnection,
        authorization: Option<&str>,
    ) -> Result<Caller, AuthError> {
        self.authenticate(db, authorization).await.map(|(c, _)| c)
    }

    /// The caller, and what a long-lived connection must check again later (see [`Self::recheck`]).
    pub async fn authenticate(
        &self,
        db: &DatabaseConnection,
        authorization: Option<&str>,
    ) -> Result<(Caller, Session), AuthError> {
        let Some(verifier) = &self.verifier else {
            return Ok((Caller::dev(), Session::default()));
        };
        let Some(value) = authorization else {
            let scopes = if self.anonymous_read {
                BTreeSet::from([Scope::CatalogRead])
            } else {
                BTreeSet::new()
            };
            return Ok((Caller::anonymous(scopes), Session::default()));
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AuthError::Unauthenticated("Authorization must be 'Bearer <token>'".into())
            })?;
        let claims = verifier.verify(token).await?;
        if let Some(jti) = &claims.jti {
            if self.revocations.is_revoked(db, jti).await? {
                return Err(AuthError::Unauthenticated("the token was revoked".into()));
            }
        }
        let session = Session {
            jti: claims.jti.clone(),
            valid_until: Some(claims.exp.saturating_add(verifier.leeway())),
        };
        let caller = Caller {
            subject: claims.sub,
            scopes: claims
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(Scope::parse)
                .collect(),
            groups: claims.groups.unwrap_or_default(),
            jti: claims.jti,
            authenticated: true,
        };
        Ok((caller, session))
    }

    /// `Ok` while the token behind `session` is still accepted; otherwise why not (expired, revoked).
    /// A revocation list that cannot be loaded is logged and does not end the session (checked again later).
    pub async fn recheck(
        &self,
        db: &DatabaseConnection,
        session: &Session,
    ) -> Result<(), &'static str> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        if session.valid_until.is_some_and(|until| now > until) {
            return Err("the token has expired");
        }
        if let Some(jti) = &session.jti {
            match self.revocations.is_revoked(db, jti).await {
                Ok(true) => return Err("the token was revoked"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not check a session's token"),
            }
        }
        Ok(())
    }
}

/// What keeps a long-lived connection (a WebSocket) authorized: its token's `jti`, and the Unix time
/// (seconds, `exp` plus the leeway) after which the token is refused. Dev and anonymous sessions never end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Session {
    pub jti: Option<String>,
    pub valid_until: Option<u64>,
}

/// Shared handle.
pub type Auth = Arc<Authenticator>;
