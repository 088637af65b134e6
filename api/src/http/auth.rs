//! The caller of an HTTP request: bearer token → `Caller` (or 401), then the rate limit (or 429 with
//! `Retry-After`): per subject for valid tokens, per client address for anonymous and dev-mode callers and
//! for invalid tokens. GraphQL resolvers check scopes; this layer only establishes who is asking. The
//! request guard ([`guard`]) finds each request's client address and, in dev mode, answers only requests
//! addressed to this machine from pages of this machine (against DNS rebinding).

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::{client, AuthError, Caller};
use crate::errors::Code;
use crate::http::state::AppState;

/// The caller, or the response that refuses the request.
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    mime: &'static str,
    request_id: &str,
    operations: usize,
) -> Result<Caller, Response> {
    // A request the process makes to itself (`http:backstage:request`) is its task's creator's.
    if let Some(caller) = super::inprocess::acting() {
        return Ok(caller);
    }
    let address = client::current().map_or_else(|| "unknown".to_string(), client::bucket);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("<not text>"));
    // An address that sent too many invalid tokens is refused before its next token is even verified.
    let invalid_key = format!("address:invalid-token:{address}");
    let verifies = authorization.is_some() && !state.auth.is_dev_mode();
    if verifies {
        state
            .limiter
            .peek(&invalid_key)
            .map_err(|wait| rate_limited(mime, wait))?;
    }
    let caller = match state.auth.caller(&state.db, authorization).await {
        Ok(c) => c,
        Err(AuthError::Unauthenticated(m)) => {
            state
                .limiter
                .take(&invalid_key, 1)
                .map_err(|wait| rate_limited(mime, wait))?;
            return Err(unauthenticated(mime, &m));
        }
        Err(AuthError::Forbidden(m)) => {
            return Err(super::reply::request_error(Code::Forbidden, mime, &m))
        }
        Err(AuthError::Internal(m)) => {
            tracing::error!(request_id, error = %m, "authentication failed internally");
            return Err(super::reply::internal_error(mime, request_id));
        }
    };
    // Valid tokens are limited per subject; callers without one (anonymous, dev) per client address.
    let key = if caller.authenticated {
        format!("subject:{}", caller.subject)
    } else {
        format!("address:{}:{address}", caller.subject)
    };
    state
        .limiter
        .take(&key, operations)
        .map_err(|wait| rate_limited(mime, wait))?;
    if !caller.authenticated && caller.scopes.is_empty() {
        return Err(unauthenticated(
            mime,
            "authentication required: send Authorization: Bearer <token>",
        ));
    }
    Ok(caller)
}

fn rate_limited(mime: &'static str, wait: Duration) -> Response {
    let mut resp =
        super::reply::request_error(Code::RateLimited, mime, "too many requests; retry later");
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn unauthenticated(mime: &'static str, message: &str) -> Response {
    let mut resp = super::reply::request_error(Code::Unauthenticated, mime, message);
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// Every request passes here: in dev mode (unless `auth.devModeAnyAddress`) a `Host` that is not this
/// machine, or an `Origin` that is neither this machine nor listed in `server.limits.corsOrigins`, gets
/// 403; then the request runs with its client address (see [`client::current`]).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.auth.is_dev_mode() && !state.dev_mode_any_address {
        if let Err(message) = dev_mode_local(&state, &req) {
            return super::reply::request_error(Code::Forbidden, "application/json", message);
        }
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let address = peer.map(|p| state.trusted_proxies.client(p, req.headers()));
    client::with_client(address, next.run(req)).await
}

/// `Ok` for a request a dev-mode server answers: addressed to this machine by name, from no page or a
/// page of this machine (or of an origin listed explicitly).
fn dev_mode_local(state: &AppState, req: &Request) -> Result<(), &'static str> {
    // HTTP/2 names the host in the URI, HTTP/1.1 in `Host`; whichever are present must be local.
    let authority = req.uri().authority().map(|a| a.as_str());
    let host_header = req
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or(""));
    let named = [authority, host_header];
    let local = named.iter().any(Option::is_some)
        && named.iter().flatten().all(|h| client::is_loopback_host(h));
    if !local {
        return Err("a server in dev mode answers only requests for localhost, 127.0.0.1 or [::1]");
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let listed = state.cors_origins.iter().any(|o| o == origin);
        if !client::is_loopback_origin(origin) && !listed {
            return Err("a server in dev mode answers only pages served from this machine");
        }
    }
    Ok(())
}
