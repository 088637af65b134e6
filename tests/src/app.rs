//! `TestApp`: the application as the tests build it. The production schema (`schema::build` over
//! `schema::Parts`) and HTTP state over a [`TestDb`], with each piece a test changes (authentication,
//! limits, environments, sources, rate limits, timeouts, the caller of in-process requests) set by name.
//! Defaults are the server's defaults without a configuration file (no registered location may be read:
//! [`TestApp::sandboxed`] lets them read through the tests' sandbox policy).

use api::auth::client::TrustedProxies;
use api::auth::{Auth, Authenticator, Caller};
use api::catalog::cache::EntityCache;
use api::config::{Config, ConnectionTimeouts, OperationLimits};
use api::deployments::events::Events;
use api::deployments::Environments;
use api::graphql::schema::{self, GreenroomSchema};
use api::http::state::AppState;
use api::providers::Registry;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::{sandbox_sources, TestDb, TestServer};

/// What only the HTTP tier uses (see [`AppState`]).
struct Http {
    rate_per_second: f64,
    rate_burst: f64,
    request_timeout: Duration,
    cors_origins: Vec<String>,
    cors_headers: Vec<String>,
    max_response_bytes: usize,
    max_subscriptions: usize,
    timeouts: ConnectionTimeouts,
    trusted_proxies: Arc<TrustedProxies>,
}

/// The application over a test database; build with the setters, then [`exec`](Self::exec) in-process or
/// [`serve`](Self::serve) over real HTTP.
pub struct TestApp {
    db: DatabaseConnection,
    cache: Arc<EntityCache>,
    sources: Arc<Registry>,
    auth: Auth,
    limits: OperationLimits,
    environments: Arc<Environments>,
    events: Events,
    caller: Option<Caller>,
    http: Http,
    schema: OnceLock<GreenroomSchema>,
}

impl TestApp {
    /// The defaults over `t`: dev-mode authentication, default limits and environments, no configured
    /// sources, no rate limit, and no caller for in-process requests (set one with [`Self::caller`]).
    pub fn new(t: &TestDb) -> Self {
        let config = Config::default();
        let limits = &config.server.limits;
        Self {
            db: t.db.clone(),
            cache: t.cache.clone(),
            sources: Arc::default(),
            auth: Arc::new(Authenticator::dev_mode()),
            limits: limits.schema_limits(),
            environments: Arc::new(config.deployments.environments()),
            events: Events::default(),
            caller: None,
            http: Http {
                rate_per_second: 0.0,
                rate_burst: 1.0,
                request_timeout: Duration::from_secs(30),
                cors_origins: Vec::new(),
                cors_headers: limits.cors_headers.clone(),
                max_response_bytes: limits.max_response_bytes,
                max_subscriptions: limits.max_subscriptions_per_connection,
                timeouts: ConnectionTimeouts::default(),
                trusted_proxies: Arc::default(),
            },
            schema: OnceLock::new(),
        }
    }

    /// The caller attached to every in-process request.
    pub fn caller(mut self, caller: Caller) -> Self {
        self.caller = Some(caller);
        self
    }

    /// In-process requests as the dev caller (every scope), as the dev-mode server answers them.
    pub fn admin(self) -> Self {
        self.caller(Caller::dev())
    }

    /// Authentication for both tiers (the schema's ownership policy and revocations, the HTTP tokens).
    pub fn auth(mut self, auth: Authenticator) -> Self {
        self.auth = Arc::new(auth);
        self.rebuilt()
    }

    pub fn limits(mut self, limits: OperationLimits) -> Self {
        self.limits = limits;
        self.rebuilt()
    }

    pub fn environments(mut self, environments: Environments) -> Self {
        self.environments = Arc::new(environments);
        self.rebuilt()
    }

    /// The configured sources and the read policy of registered ones.
    pub fn sources(mut self, sources: Arc<Registry>) -> Self {
        self.sources = sources;
        self.rebuilt()
    }

    /// Sources read through [`sandbox_sources`] (the system temp directory and loopback hosts).
    pub fn sandboxed(self) -> Self {
        self.sources(sandbox_sources())
    }

    /// The read cache (the test database's by default).
    pub fn cache(mut self, cache: Arc<EntityCache>) -> Self {
        self.cache = cache;
        self.rebuilt()
    }

    /// The deployment event channel (start its listener first to test what crosses replicas).
    pub fn events(mut self, events: Events) -> Self {
        self.events = events;
        self.rebuilt()
    }

    /// The HTTP rate limit: `per_second` tokens (0: off), at most `burst` at once.
    pub fn rate_limit(mut self, per_second: f64, burst: f64) -> Self {
        self.http.rate_per_second = per_second;
        self.http.rate_burst = burst;
        self
    }

    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.http.request_timeout = timeout;
        self
    }

    /// Origins allowed to call from a browser (`*`: any).
    pub fn cors_origins(mut self, origins: &[&str]) -> Self {
        self.http.cors_origins = origins.iter().map(|o| o.to_string()).collect();
        self
    }

    /// Request headers browser pages may send.
    pub fn cors_headers(mut self, headers: &[&str]) -> Self {
        self.http.cors_headers = headers.iter().map(|h| h.to_string()).collect();
        self
    }

    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.http.max_response_bytes = bytes;
        self
    }

    pub fn max_subscriptions(mut self, n: usize) -> Self {
        self.http.max_subscriptions = n;
        self
    }

    /// Header, body and WebSocket-initialisation timeouts.
    pub fn timeouts(mut self, timeouts: ConnectionTimeouts) -> Self {
        self.http.timeouts = timeouts;
        self
    }

    /// Peers whose `X-Forwarded-For` names the client address.
    pub fn trusted_proxies(mut self, proxies: &[&str]) -> Self {
        let proxies: Vec<String> = proxies.iter().map(|p| p.to_string()).collect();
        let parsed = TrustedProxies::parse(&proxies).expect("trusted proxies");
        self.http.trusted_proxies = Arc::new(parsed);
        self
    }

    fn rebuilt(mut self) -> Self {
        self.schema = OnceLock::new();
        self
    }

    /// The schema over these parts, built once, through the same path as the server's.
    pub fn schema(&self) -> GreenroomSchema {
        self.schema
            .get_or_init(|| {
                schema::build(schema::Parts {
                    db: self.db.clone(),
                    cache: self.cache.clone(),
                    sources: self.sources.clone(),
                    auth: self.auth.clone(),
                    limits: self.limits,
                    environments: self.environments.clone(),
                    events: self.events.clone(),
                    actions: Arc::new(api::scaffolder::actions::Registry::reading(&self.sources)),
                })
            })
            .clone()
    }

    /// `request` readied as the server readies it (request-scoped loaders), with this app's caller.
    pub fn prepare(&self, request: async_graphql::Request) -> async_graphql::Request {
        let request = schema::prepare(request, &self.db, &self.cache);
        match &self.caller {
            Some(caller) => request.data(caller.clone()),
            None => request,
        }
    }

    /// Runs a GraphQL operation in-process; the response as JSON.
    pub async fn exec(&self, query: &str, variables: Value) -> Value {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        let response = self
            .schema()
            .execute_with(request, |r| self.prepare(r))
            .await;
        serde_json::to_value(&response).expect("response is JSON")
    }

    /// The HTTP state over these parts, as the server builds it from its configuration.
    pub fn state(&self) -> AppState {
        let config = Config::default();
        AppState {
            schema: self.schema(),
            db: self.db.clone(),
            cache: self.cache.clone(),
            responses: Arc::new(api::http::response_cache::ResponseCache::configured(
                &config,
            )),
            max_batch: config.server.max_batch,
            auth: self.auth.clone(),
            limiter: Arc::new(api::auth::limits::RateLimiter::new(
                self.http.rate_per_second,
                self.http.rate_burst,
            )),
            request_timeout: self.http.request_timeout,
            cors_origins: self.http.cors_origins.clone(),
            cors_headers: self.http.cors_headers.clone(),
            metrics: true,
            persisted: Arc::default(),
            timeouts: self.http.timeouts,
            max_response_bytes: self.http.max_response_bytes,
            max_subscriptions: self.http.max_subscriptions,
            trusted_proxies: self.http.trusted_proxies.clone(),
            dev_mode_any_address: false,
            readiness: Arc::new(api::providers::readiness::Readiness::ready()),
            sources: self.sources.clone(),
        }
    }

    /// The full router over [`Self::state`] on an ephemeral port, served as the server serves it.
    pub async fn serve(&self) -> TestServer {
        TestServer::start_with(self.state()).await
    }
}
