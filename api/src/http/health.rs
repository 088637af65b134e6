//! Liveness (`/healthz`), readiness (`/readyz`: database reachable, migrations applied, every configured
//! source read since start or already stored) and Prometheus metrics (`/metrics`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use crate::http::state::AppState;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let ping = state.db.ping().await;
    let migrated = crate::db::migrations_applied(&state.db).await;
    match (ping, migrated) {
        (Ok(()), Ok(true)) => match state.readiness.pending(&state.db).await {
            Ok(pending) if pending.is_empty() => {
                (StatusCode::OK, Json(json!({ "status": "ready" })))
            }
            Ok(pending) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "not ready",
                    "reason": "sources not read yet",
                    "pending": pending,
                })),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "status": "not ready", "reason": "database unreachable" })),
                )
            }
        },
        (Ok(()), Ok(false)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reason": "migrations pending" })),
        ),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "reason": "database unreachable" })),
            )
        }
    }
}

/// `GET /metrics`: the process's metrics in the OpenMetrics text format (404 when `server.metrics` is off).
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !state.metrics {
        return (
            StatusCode::NOT_FOUND,
            "metrics are disabled (server.metrics)",
        )
            .into_response();
    }
    let metrics = crate::metrics::get();
    match crate::scaffolder::tasks::counts(&state.db).await {
        Ok((queued, running)) => metrics.tasks_waiting(queued, running),
        Err(e) => tracing::warn!(error = %e, "cannot count scaffolder tasks"),
    }
    let body = metrics.render(&state.db);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
