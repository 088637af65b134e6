//! The server: application state, the axum router, start-up (migrate, load locations) and graceful shutdown.

use axum::routing::get;
use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::graphql::schema::{self, GreenroomSchema};
use crate::http;
use crate::providers::scheduler;

#[derive(Clone)]
pub struct AppState {
    pub schema: GreenroomSchema,
    pub db: DatabaseConnection,
    pub cache: std::sync::Arc<crate::catalog::cache::EntityCache>,
    pub responses: std::sync::Arc<crate::http::response_cache::ResponseCache>,
    pub max_batch: usize,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let ws = async_graphql_axum::GraphQLSubscription::new(state.schema.clone());
    Router::new()
        .route(
            "/graphql",
            get(http::graphql::get).post(http::graphql::post),
        )
        .route("/graphql/assets/{file}", get(http::graphiql::asset))
        .route_service("/graphql/ws", ws)
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz))
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(http::trace_requests))
        .with_state(state)
}

/// Connects, migrates, binds, loads the configured locations in the background and serves until
/// SIGINT/SIGTERM. Prints `listening on http://ADDR` once bound (tests read it to find port 0's port).
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let db = crate::db::connect(&config.database.url, config.database.max_connections).await?;
    crate::db::migrate(&db).await?;
    let cache = std::sync::Arc::new(config.catalog.cache());
    let registry = std::sync::Arc::new(config.catalog.registry()?);
    let state = AppState {
        schema: schema::build_with(db.clone(), cache.clone(), registry.clone()),
        db: db.clone(),
        cache,
        responses: std::sync::Arc::new(config.response_cache()),
        max_batch: config.server.max_batch,
    };
    let listener = TcpListener::bind(&config.server.listen).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, "listening");
    let refreshers = scheduler::spawn(db.clone(), registry, crate::providers::leases::holder_id());
    axum::serve(listener, router(state, config.server.max_body_bytes))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    refreshers.stop(&db).await;
    db.close().await?;
    Ok(())
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
