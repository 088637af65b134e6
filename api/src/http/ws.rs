//! GraphQL over WebSocket (`graphql-transport-ws` and the older `graphql-ws`), for subscriptions only:
//! queries and mutations go through `POST /graphql` with its limits, rate limit and audit. The caller comes
//! from the `Authorization` value of the `connection_init` payload, or of the upgrade request; browser pages
//! may connect only from the same host or an allow-listed origin. A connection lives no longer than its
//! token: once the token expires or is revoked the socket is closed with code 4403 (checked every
//! `RECHECK` and before each message sent).

use async_graphql::http::WebSocketProtocols;
use async_graphql::Data;
use axum::extract::ws::WebSocket;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::{AuthError, Session};
use crate::errors::Code;
use crate::graphql::guard::ViaWebSocket;
use crate::http::state::AppState;

/// How often an open connection checks that its token is still accepted.
const RECHECK: Duration = Duration::from_millis(500);
/// graphql-transport-ws "Forbidden": the connection's token is no longer accepted.
const CLOSE_FORBIDDEN: u16 = 4403;
/// graphql-transport-ws "Unauthorized": `connection_init` brought no valid credentials.
const CLOSE_UNAUTHORIZED: u16 = 4401;
/// graphql-transport-ws "Internal server error": the credentials could not be checked.
const CLOSE_INTERNAL: u16 = 4500;

fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // not a browser
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let same_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        == Some(host);
    same_host || state.cors_origins.iter().any(|o| o == "*" || o == origin)
}

/// The first GraphQL subprotocol the client offers in `Sec-WebSocket-Protocol`.
fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())?
        .split(',')
        .find_map(|p| p.trim().parse().ok())
}

pub async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = protocol(&headers) else {
        return super::reply::request_error(
            Code::BadRequest,
            "application/json",
            "Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws",
        );
    };
    if !origin_allowed(&state, &headers) {
        return super::reply::request_error(
            Code::Forbidden,
            "application/json",
            "this origin may not open a GraphQL WebSocket",
        );
    }
    let header_auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, state, protocol, header_auth))
}

/// The session of a connection once `connection_init` authenticated it.
type SessionSlot = Arc<Mutex<Option<Session>>>;

/// Serves one connection within its bounds (init timeout, subscription cap), closing it (4403) as soon
/// as its token is refused.
async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    header_auth: Option<String>,
) {
    let slot = SessionSlot::default();
    let refused = Arc::new(AtomicU16::new(0));
    let init = connection_init(state.clone(), header_auth, slot.clone(), refused.clone());
    let bounds = super::ws_bounded::WsBounds {
        init_timeout: state.timeouts.websocket_init,
        max_subscriptions: state.max_subscriptions,
        recheck_every: RECHECK,
        forbidden_code: CLOSE_FORBIDDEN,
    };
    let schema = state.schema.clone();
    let recheck = move || {
        let (state, slot) = (state.clone(), slot.clone());
        Box::pin(async move { still_allowed(&state, &slot).await }) as super::ws_bounded::Recheck
    };
    super::ws_bounded::serve_bounded(socket, schema, protocol, init, recheck, bounds, refused).await
}

/// `Ok` while the connection's token (if it has authenticated yet) is accepted.
async fn still_allowed(state: &AppState, slot: &SessionSlot) -> Result<(), &'static str> {
    let session = slot.lock().ok().and_then(|s| s.clone());
    match session {
        Some(s) => state.auth.recheck(&state.db, &s).await,
        None => Ok(()),
    }
}

/// Authenticates `connection_init` (its `Authorization`, else the upgrade request's) and records the
/// connection's session in `slot`; a refusal records its close code in `refused` (4401 without valid
/// credentials, 4403 when they are not allowed, 4500 when the check itself failed).
fn connection_init(
    state: AppState,
    header_auth: Option<String>,
    slot: SessionSlot,
    refused: Arc<AtomicU16>,
) -> impl FnOnce(
    serde_json::Value,
) -> futures_util::future::BoxFuture<'static, async_graphql::Result<Data>>
       + Send
       + 'static {
    move |payload: serde_json::Value| {
        Box::pin(async move {
            let token = ["Authorization", "authorization"]
                .iter()
                .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                .map(str::to_string)
                .or(header_auth);
            let (caller, session) = state
                .auth
                .authenticate(&state.db, token.as_deref())
                .await
                .map_err(|e| {
                    let (code, message) = match e {
                        AuthError::Internal(_) => (CLOSE_INTERNAL, "internal error".to_string()),
                        AuthError::Forbidden(m) => (CLOSE_FORBIDDEN, m),
                        other => (CLOSE_UNAUTHORIZED, other.to_string()),
                    };
                    refused.store(code, Ordering::Relaxed);
                    async_graphql::Error::new(message)
                })?;
            if !caller.authenticated && caller.scopes.is_empty() {
                refused.store(CLOSE_UNAUTHORIZED, Ordering::Relaxed);
                return Err(async_graphql::Error::new(
                    "authentication required: send Authorization in connection_init",
                ));
            }
            if let Ok(mut s) = slot.lock() {
                *s = Some(session);
            }
            let mut data = Data::default();
            crate::graphql::loaders::insert(&mut data, &state.db, &state.cache);
            data.insert(caller);
            data.insert(ViaWebSocket);
            Ok(data)
        })
    }
}
