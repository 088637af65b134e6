//! HTTP transport: the GraphQL-over-HTTP handler, embedded GraphiQL, health endpoints, request spans.

pub mod auth;
pub mod bounds;
pub mod document;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod inprocess;
pub mod params;
pub mod persisted;
pub mod reply;
pub mod response_cache;
pub mod rest;
pub mod state;
pub mod ws;
pub mod ws_bounded;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Wraps each request in a `request` span and logs its status and duration.
pub async fn trace_requests(req: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = tracing::field::Empty
    );
    let started = std::time::Instant::now();
    async move {
        let resp = next.run(req).await;
        tracing::debug!(
            status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "handled"
        );
        resp
    }
    .instrument(span)
    .await
}
