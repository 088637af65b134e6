//! Liveness (`/healthz`) and readiness (`/readyz`: database reachable, migrations applied).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use crate::server::AppState;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let ping = state.db.ping().await;
    let migrated = crate::db::migrations_applied(&state.db).await;
    match (ping, migrated) {
        (Ok(()), Ok(true)) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
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
