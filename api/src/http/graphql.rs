//! GraphQL over HTTP: media-type negotiation, GET for queries only, capped batches, 4xx for bad requests.

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::server::AppState;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The response media type the client accepts, or `None` when it accepts neither JSON flavour.
fn negotiate(headers: &HeaderMap) -> Option<&'static str> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(JSON);
    };
    let mut best: Option<(&'static str, f32)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let candidate = match mime.as_str() {
            GRAPHQL_RESPONSE => GRAPHQL_RESPONSE,
            JSON | "application/*" | "*/*" => JSON,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((candidate, q));
        }
    }
    best.map(|(m, _)| m)
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn not_acceptable() -> Response {
    request_error(
        StatusCode::NOT_ACCEPTABLE,
        JSON,
        "BAD_REQUEST",
        "Accept must allow application/graphql-response+json or application/json",
    )
}

/// A request-level error (no execution happened) as a GraphQL response body.
pub(crate) fn request_error(
    status: StatusCode,
    mime: &'static str,
    code: &str,
    message: &str,
) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    respond(status, mime, body.to_string())
}

/// An internal failure: no detail, only the request id that is in the logs.
pub(crate) fn internal_error(mime: &'static str, request_id: &str) -> Response {
    let body = json!({ "errors": [{ "message": "internal error",
        "extensions": { "code": "INTERNAL", "requestId": request_id } }] });
    respond(StatusCode::INTERNAL_SERVER_ERROR, mime, body.to_string())
}

/// Adds the request id to `INTERNAL` errors (the id is on the request's log lines).
fn tag_internal(resp: &mut async_graphql::Response, request_id: &str) {
    for err in &mut resp.errors {
        let ext = err.extensions.get_or_insert_with(Default::default);
        if matches!(ext.get("code"), Some(async_graphql::Value::String(c)) if c == "INTERNAL") {
            ext.set("requestId", request_id);
        }
    }
}

/// The HTTP status for an executed single response: 401 or 403 when access was refused.
fn status_of(resp: &async_graphql::Response) -> Option<StatusCode> {
    let code = resp.errors.first()?.extensions.as_ref()?.get("code")?;
    match code {
        async_graphql::Value::String(c) if c == "UNAUTHENTICATED" => Some(StatusCode::UNAUTHORIZED),
        async_graphql::Value::String(c) if c == "FORBIDDEN" => Some(StatusCode::FORBIDDEN),
        _ => None,
    }
}

fn respond(status: StatusCode, mime: &'static str, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    resp
}

/// True when a response failed before execution (parse or validation): no data, errors without paths.
fn is_request_error(resp: &async_graphql::Response) -> bool {
    matches!(resp.data, async_graphql::Value::Null)
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| e.path.is_empty())
}

/// Adds `extensions.code` to errors raised by the GraphQL engine itself (parse, validation, limits).
fn code_engine_errors(resp: &mut async_graphql::Response) {
    let request_level = is_request_error(resp);
    for err in &mut resp.errors {
        let ext = err.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set(
                "code",
                if request_level {
                    "GRAPHQL_VALIDATION_FAILED"
                } else {
                    "INTERNAL"
                },
            );
        }
    }
}

/// `Cache-Control: no-cache` on a request skips the response cache.
fn no_cache(headers: &HeaderMap) -> bool {
    headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("no-cache"))
}

async fn execute(
    state: &AppState,
    batch: BatchRequest,
    mime: &'static str,
    headers: &HeaderMap,
) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    tracing::Span::current().record("request_id", request_id.as_str());
    let operations = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(rs) => rs.len(),
    };
    let caller = match super::auth::authorize(state, headers, mime, &request_id, operations).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    // Identical single queries are answered from the response cache while the catalog is unchanged;
    // the key includes what the caller may read. The audit log changes without catalog changes, so it is
    // never cached.
    let mut cache_entry = None;
    if let BatchRequest::Single(r) = &batch {
        let cacheable = !r.query.contains("auditLog");
        if let Some(key) = state
            .responses
            .key(r)
            .filter(|_| cacheable)
            .map(|k| format!("{}\u{1}{k}", caller.read_key()))
        {
            let (hit, generation) = state.responses.get(&key);
            if let Some(body) = hit.filter(|_| !no_cache(headers)) {
                return respond(StatusCode::OK, mime, body.to_string());
            }
            cache_entry = Some((key, generation));
        }
    }
    let prepare = |r: Request| {
        crate::graphql::schema::prepare(r, &state.db, &state.cache).data(caller.clone())
    };
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(prepare(r)),
        BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(prepare).collect()),
    };
    // Queries are cut off at the timeout. Mutations run to the end (and into the audit log): stopping one
    // halfway would leave its effects unrecorded.
    let only_queries = match &batch {
        BatchRequest::Single(r) => {
            super::response_cache::is_query(&r.query, r.operation_name.as_deref())
        }
        BatchRequest::Batch(rs) => rs
            .iter()
            .all(|r| super::response_cache::is_query(&r.query, r.operation_name.as_deref())),
    };
    let limit = if only_queries {
        state.request_timeout
    } else {
        std::time::Duration::MAX
    };
    let Ok(mut resp) = tokio::time::timeout(limit, state.schema.execute_batch(batch)).await else {
        tracing::warn!(request_id, timeout = ?state.request_timeout, "request timed out");
        return request_error(
            StatusCode::SERVICE_UNAVAILABLE,
            mime,
            "TIMEOUT",
            &format!(
                "the request took longer than {:?} and was stopped",
                state.request_timeout
            ),
        );
    };
    let all_request_errors = match &mut resp {
        BatchResponse::Single(r) => {
            code_engine_errors(r);
            tag_internal(r, &request_id);
            is_request_error(r)
        }
        BatchResponse::Batch(rs) => {
            for r in rs.iter_mut() {
                code_engine_errors(r);
                tag_internal(r, &request_id);
            }
            !rs.is_empty() && rs.iter().all(is_request_error)
        }
    };
    let refused = match &resp {
        BatchResponse::Single(r) => status_of(r),
        BatchResponse::Batch(_) => None,
    };
    let status = match refused {
        Some(s) => s,
        None if all_request_errors => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    match serde_json::to_string(&resp) {
        Ok(body) => {
            if let (Some((key, generation)), BatchResponse::Single(r)) = (cache_entry, &resp) {
                if r.errors.is_empty() {
                    state.responses.put(key, only_queries, &body, generation);
                }
            }
            respond(status, mime, body)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a GraphQL response");
            request_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                mime,
                "INTERNAL",
                "internal error",
            )
        }
    }
}

/// `POST /graphql` with a JSON body: one operation or a batch (array) of at most `server.maxBatch`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(mime) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with(JSON) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            mime,
            "BAD_REQUEST",
            "Content-Type must be application/json",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                mime,
                "BAD_REQUEST",
                &format!("invalid GraphQL request body: {e}"),
            )
        }
    };
    if let BatchRequest::Batch(items) = &batch {
        if items.is_empty() || items.len() > state.max_batch {
            return request_error(
                StatusCode::BAD_REQUEST,
                mime,
                "BAD_REQUEST",
                &format!(
                    "a batch must hold 1 to {} operations, got {}",
                    state.max_batch,
                    items.len()
                ),
            );
        }
    }
    execute(&state, batch, mime, &headers).await
}

/// `GET /graphql`: GraphiQL for browsers; with `?query=` runs a query (mutations get 405).
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let has_query = raw.split('&').any(|p| p.starts_with("query="));
    if !has_query {
        if wants_html(&headers) {
            return super::graphiql::page();
        }
        return request_error(
            StatusCode::BAD_REQUEST,
            JSON,
            "BAD_REQUEST",
            "GET /graphql needs a 'query' parameter",
        );
    }
    let Some(mime) = negotiate(&headers) else {
        return not_acceptable();
    };
    let request: Request = match async_graphql::http::parse_query_string(&raw) {
        Ok(r) => r,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                mime,
                "BAD_REQUEST",
                &format!("invalid query parameters: {e}"),
            )
        }
    };
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        let op_type = match (&request.operation_name, &doc.operations) {
            (Some(name), ops) => ops
                .iter()
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
                .map(|(_, o)| o.node.ty),
            (None, ops) => ops.iter().next().map(|(_, o)| o.node.ty),
        };
        if matches!(
            op_type,
            Some(OperationType::Mutation | OperationType::Subscription)
        ) {
            let mut resp = request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                mime,
                "BAD_REQUEST",
                "only queries may be sent with GET; use POST for mutations",
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return resp;
        }
    }
    execute(&state, BatchRequest::Single(request), mime, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiates_media_types() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(JSON));
        assert_eq!(negotiate(&accept("application/json")), Some(JSON));
        assert_eq!(
            negotiate(&accept("application/graphql-response+json")),
            Some(GRAPHQL_RESPONSE)
        );
        assert_eq!(
            negotiate(&accept(
                "application/json;q=0.5, application/graphql-response+json"
            )),
            Some(GRAPHQL_RESPONSE)
        );
        assert_eq!(negotiate(&accept("*/*")), Some(JSON));
        assert_eq!(negotiate(&accept("text/plain")), None);
    }
}
