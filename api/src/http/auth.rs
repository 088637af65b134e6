//! The caller of an HTTP request: bearer token → `Caller` (or 401), then the per-subject rate limit (or
//! 429 with `Retry-After`). GraphQL resolvers check scopes; this layer only establishes who is asking.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::auth::{AuthError, Caller};
use crate::server::AppState;

/// The caller, or the response that refuses the request.
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    mime: &'static str,
    request_id: &str,
    operations: usize,
) -> Result<Caller, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    let caller = match state.auth.caller(&state.db, authorization).await {
        Ok(c) => c,
        Err(AuthError::Unauthenticated(m)) => return Err(unauthenticated(mime, &m)),
        Err(AuthError::Forbidden(m)) => {
            return Err(super::graphql::request_error(
                StatusCode::FORBIDDEN,
                mime,
                "FORBIDDEN",
                &m,
            ))
        }
        Err(AuthError::Internal(m)) => {
            tracing::error!(request_id, error = %m, "authentication failed internally");
            return Err(super::graphql::internal_error(mime, request_id));
        }
    };
    if !caller.authenticated && caller.scopes.is_empty() {
        return Err(unauthenticated(
            mime,
            "authentication required: send Authorization: Bearer <token>",
        ));
    }
    if let Err(wait) = state.limiter.take(&caller.subject, operations) {
        let mut resp = super::graphql::request_error(
            StatusCode::TOO_MANY_REQUESTS,
            mime,
            "RATE_LIMITED",
            &format!("too many requests for {}; retry later", caller.subject),
        );
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(resp);
    }
    Ok(caller)
}

fn unauthenticated(mime: &'static str, message: &str) -> Response {
    let mut resp =
        super::graphql::request_error(StatusCode::UNAUTHORIZED, mime, "UNAUTHENTICATED", message);
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}
