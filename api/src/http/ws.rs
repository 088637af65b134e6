//! GraphQL over WebSocket (`graphql-transport-ws` and the older `graphql-ws`), for subscriptions only:
//! queries and mutations go through `POST /graphql` with its limits, rate limit and audit. The caller comes
//! from the `Authorization` value of the `connection_init` payload, or of the upgrade request; browser pages
//! may connect only from the same host or an allow-listed origin.

use async_graphql::Data;
use async_graphql_axum::GraphQLProtocol;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use crate::auth::AuthError;
use crate::graphql::guard::ViaWebSocket;
use crate::server::AppState;

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

pub async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&state, &headers) {
        return super::graphql::request_error(
            StatusCode::FORBIDDEN,
            "application/json",
            "FORBIDDEN",
            "this origin may not open a GraphQL WebSocket",
        );
    }
    let header_auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (auth, db, cache) = (state.auth.clone(), state.db.clone(), state.cache.clone());
    let schema = state.schema.clone();
    let _ = protocol; // the extractor refuses upgrades without a supported protocol
    let protocol = super::ws_bounded::protocol_of(&headers);
    let bounds = super::ws_bounded::WsBounds {
        init_timeout: state.timeouts.websocket_init,
        max_subscriptions: state.max_subscriptions,
    };
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let on_init = move |payload: serde_json::Value| async move {
                let token = ["Authorization", "authorization"]
                    .iter()
                    .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                    .map(str::to_string)
                    .or(header_auth);
                let caller = auth.caller(&db, token.as_deref()).await.map_err(|e| {
                    async_graphql::Error::new(match e {
                        AuthError::Internal(_) => "internal error".to_string(),
                        other => other.to_string(),
                    })
                })?;
                if !caller.authenticated && caller.scopes.is_empty() {
                    return Err(async_graphql::Error::new(
                        "authentication required: send Authorization in connection_init",
                    ));
                }
                let mut data = Data::default();
                crate::graphql::loaders::insert(&mut data, &db, &cache);
                data.insert(caller);
                data.insert(ViaWebSocket);
                Ok(data)
            };
            super::ws_bounded::serve_bounded(socket, schema, protocol, on_init, bounds)
        })
}
