//! GraphQL over HTTP: media-type negotiation, GET for queries only, capped batches, 4xx for bad requests.

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use std::collections::HashMap;
use std::time::Duration;

use super::document::{self, Shape};
use super::reply::{request_error, request_error_with, respond, GRAPHQL_RESPONSE, JSON};
use crate::errors::Code;
use crate::http::state::AppState;

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
    request_error_with(
        StatusCode::NOT_ACCEPTABLE,
        Code::BadRequest,
        JSON,
        "Accept must allow application/graphql-response+json or application/json",
    )
}

/// Adds the request id to `INTERNAL` errors (the id is on the request's log lines).
fn tag_internal(resp: &mut async_graphql::Response, request_id: &str) {
    for err in &mut resp.errors {
        let ext = err.extensions.get_or_insert_with(Default::default);
        if code_of(ext) == Some(Code::Internal) {
            ext.set("requestId", request_id);
        }
    }
}

/// The code in an error's extensions, when it is one of ours.
fn code_of(ext: &async_graphql::ErrorExtensionValues) -> Option<Code> {
    match ext.get("code")? {
        async_graphql::Value::String(c) => Code::parse(c),
        _ => None,
    }
}

/// The HTTP status for an executed single response: its code's (401 or 403) when access was refused and
/// no data is left. A response with partial data is a 200 (GraphQL over HTTP), whatever its field errors.
fn refusal_status(resp: &async_graphql::Response) -> Option<StatusCode> {
    if !matches!(resp.data, async_graphql::Value::Null) {
        return None;
    }
    let code = code_of(resp.errors.first()?.extensions.as_ref()?)?;
    code.is_refusal().then(|| code.status())
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
            let code = if request_level {
                Code::GraphqlValidationFailed
            } else {
                Code::Internal
            };
            ext.set("code", code.as_str());
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

/// What a request turned out to be, for its log line, metrics and caching headers.
#[derive(Default)]
struct Seen {
    subject: Option<String>,
    graphql_errors: bool,
    /// The caller came with a token.
    authenticated: bool,
    /// A single query that reads only catalog data (nothing of [`super::response_cache::VOLATILE`]).
    catalog_query: bool,
}

/// How a request arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Get,
    Post,
}

/// `Cache-Control` for a GET answer (so persisted queries over GET can be kept by a CDN or the
/// browser): a query of catalog data answered without errors may be kept for `ttl`, the read cache's
/// lifetime; `private` when the caller is authenticated (what it may read depends on its token).
/// Everything else is `no-store`. `Vary: Authorization` either way.
fn http_cache_headers(resp: &mut Response, cacheable: bool, authenticated: bool, ttl: Duration) {
    let secs = ttl.as_secs();
    let value = match (cacheable && secs > 0, authenticated) {
        (true, true) => format!("private, max-age={secs}"),
        (true, false) => format!("public, max-age={secs}"),
        (false, _) => "no-store".to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Authorization"));
}

/// The requests of a batch, in order.
fn requests(batch: &mut BatchRequest) -> Vec<&mut Request> {
    match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs.iter_mut().collect(),
    }
}

/// Executes `batch`, then logs one line (operation, subject, status, duration, request id) and records
/// the request's metrics. Each document is parsed once, here (see [`super::document`]).
async fn execute(
    state: &AppState,
    mut batch: BatchRequest,
    mime: &'static str,
    headers: &HeaderMap,
    via: Via,
) -> Response {
    let started = std::time::Instant::now();
    for r in requests(&mut batch) {
        if let Err((code, message)) = state.persisted.resolve(r) {
            return request_error(code, mime, &message);
        }
    }
    let shapes: Vec<Shape> = requests(&mut batch)
        .into_iter()
        .map(document::shape)
        .collect();
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    tracing::Span::current().record("request_id", request_id.as_str());
    let operation = match &batch {
        BatchRequest::Single(r) => r
            .operation_name
            .clone()
            .or_else(|| shapes.first().and_then(|s| s.only_name.clone())),
        BatchRequest::Batch(_) => Some("batch".to_string()),
    };
    let mut seen = Seen::default();
    let mut resp =
        execute_inner(state, batch, &shapes, mime, headers, &request_id, &mut seen).await;
    if via == Via::Get {
        let cacheable =
            seen.catalog_query && !seen.graphql_errors && resp.status() == StatusCode::OK;
        http_cache_headers(
            &mut resp,
            cacheable,
            seen.authenticated,
            state.responses.ttl(),
        );
    }
    let took = started.elapsed();
    let status = resp.status();
    let outcome = match (status, seen.graphql_errors) {
        (StatusCode::OK, false) => "ok".to_string(),
        (StatusCode::OK, true) => "error".to_string(),
        (s, _) => s.as_u16().to_string(),
    };
    crate::metrics::get().request(operation.as_deref(), &outcome, took);
    tracing::info!(
        request_id,
        operation = operation.as_deref().unwrap_or("anonymous"),
        subject = seen.subject.as_deref().unwrap_or("-"),
        status = status.as_u16(),
        outcome,
        duration_ms = took.as_secs_f64() * 1000.0,
        "graphql request"
    );
    resp
}

/// The steps of one request: who is asking, the response cache, execution under the bounds, error
/// codes, the HTTP status, and the capped body (stored in the cache when it may be).
async fn execute_inner(
    state: &AppState,
    batch: BatchRequest,
    shapes: &[Shape],
    mime: &'static str,
    headers: &HeaderMap,
    request_id: &str,
    seen: &mut Seen,
) -> Response {
    let operations = shapes.len();
    let caller = match super::auth::authorize(state, headers, mime, request_id, operations).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    seen.subject = Some(caller.subject.clone());
    seen.authenticated = caller.authenticated;
    let only_queries =
        matches!(batch, BatchRequest::Single(_)) && shapes.first().is_some_and(Shape::is_query);
    seen.catalog_query = only_queries
        && matches!(&batch, BatchRequest::Single(r) if !super::response_cache::volatile(&r.query));
    let cache_entry = match cached(state, &batch, &caller, headers, mime) {
        Ok(entry) => entry,
        Err(hit) => return *hit,
    };
    let mut resp = match run(state, batch, shapes, &caller, mime, request_id).await {
        Ok(resp) => resp,
        Err(timed_out) => return timed_out,
    };
    let all_request_errors = code_errors(&mut resp, request_id);
    seen.graphql_errors = match &resp {
        BatchResponse::Single(r) => !r.errors.is_empty(),
        BatchResponse::Batch(rs) => rs.iter().any(|r| !r.errors.is_empty()),
    };
    let refused = match &resp {
        BatchResponse::Single(r) => refusal_status(r),
        BatchResponse::Batch(_) => None,
    };
    // GraphQL over HTTP: a request that failed before execution is a 400 with no `data` entry in
    // `application/graphql-response+json`; `application/json` clients get 200 (they cannot tell a 4xx
    // GraphQL body from a proxy's).
    let status = match refused {
        Some(s) => s,
        None if all_request_errors && mime == GRAPHQL_RESPONSE => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let store = cache_entry.map(|(key, generation)| (key, generation, only_queries));
    serialise(
        state,
        &resp,
        all_request_errors,
        status,
        mime,
        request_id,
        store,
    )
}

/// Identical single queries are answered from the response cache while the catalog is unchanged; the key
/// includes what the caller may read. Deployments, tasks, source status and the audit log change without
/// catalog changes, so queries of them are never cached. `Err` is the cached answer; `Ok` the key and
/// generation to store the answer under, when it may be stored.
fn cached(
    state: &AppState,
    batch: &BatchRequest,
    caller: &crate::auth::Caller,
    headers: &HeaderMap,
    mime: &'static str,
) -> Result<Option<(String, u64)>, Box<Response>> {
    let BatchRequest::Single(r) = batch else {
        return Ok(None);
    };
    let cacheable = !super::response_cache::volatile(&r.query);
    let Some(key) = state
        .responses
        .key(r)
        .filter(|_| cacheable)
        .map(|k| format!("{}\u{1}{k}", caller.read_key()))
    else {
        return Ok(None);
    };
    let (hit, generation) = state.responses.get(&key);
    if let Some(body) = hit.filter(|_| !no_cache(headers)) {
        return Err(Box::new(respond(StatusCode::OK, mime, body.to_string())));
    }
    Ok(Some((key, generation)))
}

/// Executes each operation for `caller` under its bound (see [`super::bounds`]). `Err` answers a single
/// operation the request timeout stopped; in a batch only the stopped operation says `TIMEOUT`.
async fn run(
    state: &AppState,
    batch: BatchRequest,
    shapes: &[Shape],
    caller: &crate::auth::Caller,
    mime: &'static str,
    request_id: &str,
) -> Result<BatchResponse, Response> {
    let prepare = |r: Request| {
        crate::graphql::schema::prepare(r, &state.db, &state.cache).data(caller.clone())
    };
    let mutation = |i: usize| shapes.get(i).is_some_and(Shape::is_mutation);
    let mut left = state.request_timeout;
    match batch {
        BatchRequest::Single(r) => {
            match super::bounds::execute_bounded(state, r, prepare, mutation(0), &mut left).await {
                Some(r) => Ok(BatchResponse::Single(r)),
                None => {
                    tracing::warn!(request_id, timeout = ?state.request_timeout, "request timed out");
                    Err(request_error(
                        Code::Timeout,
                        mime,
                        &super::bounds::timeout_message(state),
                    ))
                }
            }
        }
        BatchRequest::Batch(rs) => {
            let mut out = Vec::with_capacity(rs.len());
            for (i, r) in rs.into_iter().enumerate() {
                let one =
                    super::bounds::execute_bounded(state, r, prepare, mutation(i), &mut left).await;
                out.push(one.unwrap_or_else(|| {
                    tracing::warn!(request_id, timeout = ?state.request_timeout, "operation timed out");
                    super::bounds::timed_out_operation(state)
                }));
            }
            Ok(BatchResponse::Batch(out))
        }
    }
}

/// Codes the engine's errors and tags `INTERNAL` ones with the request id; true when every response
/// failed before execution.
fn code_errors(resp: &mut BatchResponse, request_id: &str) -> bool {
    match resp {
        BatchResponse::Single(r) => {
            code_engine_errors(r);
            tag_internal(r, request_id);
            is_request_error(r)
        }
        BatchResponse::Batch(rs) => {
            for r in rs.iter_mut() {
                code_engine_errors(r);
                tag_internal(r, request_id);
            }
            !rs.is_empty() && rs.iter().all(is_request_error)
        }
    }
}

/// The body within `server.limits.maxResponseBytes` (else `RESPONSE_TOO_LARGE`), stored in the response
/// cache under `store` (key, generation, whether the operation is a query) when it has no errors.
fn serialise(
    state: &AppState,
    resp: &BatchResponse,
    all_request_errors: bool,
    status: StatusCode,
    mime: &'static str,
    request_id: &str,
    store: Option<(String, u64, bool)>,
) -> Response {
    let max = state.max_response_bytes;
    let serialised = match resp {
        BatchResponse::Single(r) if all_request_errors && mime == GRAPHQL_RESPONSE => {
            serde_json::to_value(r).and_then(|mut v| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("data");
                }
                super::bounds::to_json_capped(&v, max)
            })
        }
        _ => super::bounds::to_json_capped(resp, max),
    };
    match serialised {
        Ok(None) => {
            tracing::warn!(request_id, max, "response too large");
            let status = if mime == GRAPHQL_RESPONSE {
                Code::ResponseTooLarge.status()
            } else {
                StatusCode::OK
            };
            request_error_with(
                status,
                Code::ResponseTooLarge,
                mime,
                &format!(
                    "the response is larger than {max} bytes; select less, or page with first"
                ),
            )
        }
        Ok(Some(body)) => {
            if let (Some((key, generation, query)), BatchResponse::Single(r)) = (store, resp) {
                if r.errors.is_empty() {
                    state.responses.put(key, query, &body, generation);
                }
            }
            respond(status, mime, body)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a GraphQL response");
            request_error(Code::Internal, mime, "internal error")
        }
    }
}

/// `POST /graphql` with a JSON body: one operation or a batch (array) of at most `server.maxBatch`.
pub async fn post(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let headers = request.headers().clone();
    let Some(mime) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with(JSON) {
        return request_error_with(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::BadRequest,
            mime,
            "Content-Type must be application/json",
        );
    }
    let body = match super::bounds::read_body(&state, request, mime).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return request_error(
                Code::BadRequest,
                mime,
                &format!("invalid GraphQL request body: {e}"),
            )
        }
    };
    if let BatchRequest::Batch(items) = &batch {
        if items.is_empty() || items.len() > state.max_batch {
            return request_error(
                Code::BadRequest,
                mime,
                &format!(
                    "a batch must hold 1 to {} operations, got {}",
                    state.max_batch,
                    items.len()
                ),
            );
        }
    }
    execute(&state, batch, mime, &headers, Via::Post).await
}

/// `GET /graphql`: GraphiQL for browsers; with `?query=` (or a persisted query's `extensions`) runs a
/// query (mutations get 405).
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let params: HashMap<String, String> = match super::params::pairs(&raw) {
        Ok(p) => p,
        Err(e) => {
            return request_error(
                Code::BadRequest,
                JSON,
                &format!("invalid query parameters: {e}"),
            )
        }
    };
    if !params.contains_key("query") && !params.contains_key("extensions") {
        if wants_html(&headers) {
            return super::graphiql::page();
        }
        return request_error(
            Code::BadRequest,
            JSON,
            "GET /graphql needs a 'query' parameter",
        );
    }
    let Some(mime) = negotiate(&headers) else {
        return not_acceptable();
    };
    let mut request = match super::params::request(&params) {
        Ok(r) => r,
        Err(e) => {
            return request_error(
                Code::BadRequest,
                mime,
                &format!("invalid query parameters: {e}"),
            )
        }
    };
    if let Err((code, message)) = state.persisted.resolve(&mut request) {
        return request_error(code, mime, &message);
    }
    if matches!(
        document::shape(&mut request).ty,
        Some(OperationType::Mutation | OperationType::Subscription)
    ) {
        let mut resp = request_error_with(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::BadRequest,
            mime,
            "only queries may be sent with GET; use POST for mutations",
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let mut resp = execute(
        &state,
        BatchRequest::Single(request),
        mime,
        &headers,
        Via::Get,
    )
    .await;
    // Answers that stopped before execution (an unknown persisted query, a refused caller) are not kept.
    if !resp.headers().contains_key(header::CACHE_CONTROL) {
        http_cache_headers(&mut resp, false, false, Duration::ZERO);
    }
    resp
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
