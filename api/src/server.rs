//! The server: application state, the axum router, start-up (migrate, load locations) and graceful shutdown.

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::graphql::schema;
use crate::http;
use crate::http::state::AppState;
use crate::providers::scheduler;

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let cors = cors_layer(&state.cors_origins, &state.cors_headers);
    let guard = axum::middleware::from_fn_with_state(state.clone(), http::auth::guard);
    let app = Router::new()
        .route(
            "/graphql",
            get(http::graphql::get).post(http::graphql::post),
        )
        .route("/graphql/assets/{file}", get(http::graphiql::asset))
        .route("/graphql/ws", get(http::ws::websocket))
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz))
        .route("/metrics", get(http::health::metrics))
        .nest("/api/catalog", http::rest::routes())
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes));
    let app = match cors {
        Some(c) => app.layer(c),
        None => app,
    };
    app.layer(guard)
        .layer(axum::middleware::from_fn(http::trace_requests))
        .with_state(state)
}

/// Gives the actions' `http:backstage:request` this server's own `app` as its backend (called in the
/// process, never over the network).
pub fn wire_backend(actions: &crate::scaffolder::actions::Registry, app: &Router) {
    let backend = Arc::new(http::inprocess::InProcess::new(app.clone()));
    let _ = actions.backend.set(backend);
}

/// CORS for the configured origins and request headers; no origins configured: no CORS headers
/// (same-origin only).
fn cors_layer(origins: &[String], headers: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(
                headers
                    .iter()
                    .filter_map(|h| HeaderName::from_bytes(h.trim().as_bytes()).ok())
                    .collect::<Vec<_>>(),
            )
            .max_age(Duration::from_secs(600)),
    )
}

/// Connects, migrates, binds, loads the configured locations in the background and serves until
/// SIGINT/SIGTERM. Prints `listening on http://ADDR` once bound (tests read it to find port 0's port).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let db = open_store(&config).await?;
    let registry = Arc::new(config.catalog.registry()?);
    // One action registry: the workers run it and dry runs through the API use it.
    let github = config.integrations.github()?;
    let gitlab = config.integrations.gitlab()?;
    // The `parseRepoUrl` filter knows the configured hosts too.
    let hosts = github
        .iter()
        .map(|g| (g.host.clone(), "github".to_string()));
    let gitlab_hosts = gitlab
        .iter()
        .map(|g| (g.host.clone(), "gitlab".to_string()));
    crate::scaffolder::expr::filters::set_integrations(hosts.chain(gitlab_hosts).collect());
    let actions = Arc::new(crate::scaffolder::actions::Registry::integrated(
        &registry, &github, &gitlab,
    ));
    let state = app_state(&config, &db, &registry, &actions).await?;
    let listener = TcpListener::bind(&config.server.listen).await?;
    refuse_open_dev_mode(&config, &state, &listener)?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, "listening");
    let holder = crate::providers::leases::holder_id();
    let refreshers = scheduler::spawn(db.clone(), registry, holder.clone());
    let settings = config.scaffolder.settings()?;
    let app = router(state.clone(), config.server.max_body_bytes);
    wire_backend(&actions, &app);
    let task_workers = (config.scaffolder.concurrency > 0)
        .then(|| crate::scaffolder::worker::spawn(db.clone(), actions, holder.clone(), settings));
    let grace = config.shutdown_grace()?;
    serve_until_stopped(listener, app, state.timeouts.header_read, grace).await;
    refreshers.stop(&db).await;
    // Running scaffolder tasks stop (bounded by the grace period) and go back to the queue; another
    // replica runs them from the first step.
    if let Some(w) = task_workers {
        w.shutdown(grace).await;
    }
    match crate::scaffolder::tasks::release_all(&db, &holder).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(tasks = n, "handed running tasks back"),
        Err(e) => tracing::warn!(error = %e, "could not hand running tasks back"),
    }
    db.close().await?;
    Ok(())
}

/// The configured database, connected and migrated.
async fn open_store(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = crate::db::connect(&config.database.url, config.database.max_connections).await?;
    crate::db::migrate(&db).await?;
    // Rows written before `entities.uid` existed get theirs (the catalog owns how it is derived).
    crate::catalog::uid::fill_missing(&db).await?;
    crate::catalog::facet_counts::rebuild_if_marked(&db).await?;
    crate::catalog::words::backfill(&db).await?;
    Ok(db)
}

/// What every handler shares, built from the configuration (the schema included).
async fn app_state(
    config: &Config,
    db: &sea_orm::DatabaseConnection,
    registry: &Arc<crate::providers::Registry>,
    actions: &Arc<crate::scaffolder::actions::Registry>,
) -> anyhow::Result<AppState> {
    let cache = Arc::new(config.catalog.cache());
    let configured = registry
        .configured
        .iter()
        .map(|s| s.provider.key().to_string());
    let readiness =
        crate::providers::readiness::Readiness::at_start(db, configured.collect()).await?;
    let auth = Arc::new(config.auth.authenticator()?);
    let limits = &config.server.limits;
    let events = crate::deployments::events::Events::default();
    events.listen(db).await;
    Ok(AppState {
        schema: schema::build(schema::Parts {
            db: db.clone(),
            cache: cache.clone(),
            sources: registry.clone(),
            auth: auth.clone(),
            limits: limits.schema_limits(),
            environments: Arc::new(config.deployments.environments()),
            events,
            actions: actions.clone(),
        }),
        db: db.clone(),
        cache,
        responses: Arc::new(http::response_cache::ResponseCache::configured(config)),
        max_batch: config.server.max_batch,
        auth,
        limiter: Arc::new(crate::auth::limits::RateLimiter::new(
            limits.rate_limit_per_second,
            limits.rate_limit_burst,
        )),
        request_timeout: limits.request_timeout()?,
        cors_origins: limits.cors_origins.clone(),
        cors_headers: limits.cors_headers.clone(),
        metrics: config.server.metrics,
        persisted: Arc::default(),
        timeouts: config.server.timeouts()?,
        max_response_bytes: limits.max_response_bytes,
        max_subscriptions: limits.max_subscriptions_per_connection,
        trusted_proxies: Arc::new(
            crate::auth::client::TrustedProxies::parse(&config.server.trusted_proxies)
                .map_err(anyhow::Error::msg)?,
        ),
        dev_mode_any_address: config.auth.dev_mode_any_address,
        readiness: Arc::new(readiness),
        sources: registry.clone(),
    })
}

/// Without authentication the server listens only on loopback, unless `auth.devModeAnyAddress` says
/// otherwise; either way dev mode is announced loudly.
fn refuse_open_dev_mode(
    config: &Config,
    state: &AppState,
    listener: &TcpListener,
) -> anyhow::Result<()> {
    if !state.auth.is_dev_mode() {
        return Ok(());
    }
    let loopback = listener.local_addr()?.ip().is_loopback();
    if !loopback && !config.auth.dev_mode_any_address {
        anyhow::bail!(
            "refusing to serve {} without authentication: configure auth.jwt (or GREENROOM_JWT_SECRET), \
             listen on a loopback address, or set auth.devModeAnyAddress: true",
            config.server.listen
        );
    }
    tracing::warn!(
        "DEV MODE: no authentication is configured; every request may read and write everything. \
         Configure auth.jwt before exposing this server."
    );
    eprintln!("WARNING: dev mode, no authentication configured (see README, Authentication)");
    Ok(())
}

/// Serves until SIGTERM/SIGINT: then stops accepting and lets in-flight requests finish for up to
/// `grace` (the caller then releases this process's source leases, so another replica takes the
/// sources at once).
async fn serve_until_stopped(
    listener: TcpListener,
    app: Router,
    header_read: Duration,
    grace: Duration,
) {
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let server = serve_http(listener, app, header_read, async move {
        shutdown_signal().await;
        signalled.notify_one();
    });
    tokio::select! {
        _ = server => {}
        _ = async {
            stopping.notified().await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(?grace, "requests still running after the shutdown grace period; stopping anyway"),
    }
}

/// Serves `app` over HTTP/1.1 (with upgrades, for WebSockets) until `shutdown` resolves, then waits for
/// open connections to finish. A connection that has not sent a whole request head within
/// `header_read_timeout` is closed (Slowloris). Each request carries the peer address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.as_mut() => break,
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            header_read_timeout,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection task holds a receiver; all gone means every connection finished.
    stop_tx.closed().await;
}

/// One connection of [`serve_http`]: served until it closes, shut down gracefully when `stop` turns true.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    app: Router,
    header_read_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_service::Service;
    let service =
        hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let mut app = app.clone();
            async move { app.call(req.map(axum::body::Body::new)).await }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            changed = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                if changed.is_err() {
                    // The server is gone; finish this connection without further signals.
                    let _ = conn.as_mut().await;
                    break;
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
