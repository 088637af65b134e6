//! What every HTTP handler shares: the schema, the pool and caches, authentication and the limits, as
//! plain values. `server` builds it from the configuration (tests from their harness); handlers only read it.

use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;

use crate::config::ConnectionTimeouts;
use crate::graphql::schema::GreenroomSchema;

#[derive(Clone)]
pub struct AppState {
    pub schema: GreenroomSchema,
    pub db: DatabaseConnection,
    pub cache: Arc<crate::catalog::cache::EntityCache>,
    pub responses: Arc<super::response_cache::ResponseCache>,
    pub max_batch: usize,
    pub auth: crate::auth::Auth,
    pub limiter: Arc<crate::auth::limits::RateLimiter>,
    pub request_timeout: Duration,
    /// Origins allowed to call from a browser (`*`: any).
    pub cors_origins: Vec<String>,
    /// Request headers browser pages may send (`server.limits.corsHeaders`).
    pub cors_headers: Vec<String>,
    /// Serve `GET /metrics`.
    pub metrics: bool,
    /// Automatic persisted queries by hash.
    pub persisted: Arc<super::persisted::PersistedQueries>,
    /// Header, body and WebSocket-initialisation timeouts.
    pub timeouts: ConnectionTimeouts,
    /// Largest serialised GraphQL response (`server.limits.maxResponseBytes`).
    pub max_response_bytes: usize,
    /// Most subscriptions running at once on one WebSocket.
    pub max_subscriptions: usize,
    /// Peers whose `X-Forwarded-For` names the client address (`server.trustedProxies`).
    pub trusted_proxies: Arc<crate::auth::client::TrustedProxies>,
    /// `auth.devModeAnyAddress`: dev mode answers any `Host` and `Origin`.
    pub dev_mode_any_address: bool,
    /// The configured sources `/readyz` still waits for.
    pub readiness: Arc<crate::providers::readiness::Readiness>,
    /// The configured sources and the read policy for registered ones (as the schema has them).
    pub sources: Arc<crate::providers::Registry>,
}
