//! The bodies of HTTP answers that carry no execution result: a request-level GraphQL error (bad request,
//! refused caller, timeout) or an internal failure, in the negotiated media type. A leaf of `http`: the
//! handler, the caller check, the bounds and the WebSocket upgrade all answer through it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// GraphQL over HTTP's own media type.
pub(crate) const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
pub(crate) const JSON: &str = "application/json";

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

/// `body` with `status` and the `Content-Type` of `mime`.
pub(crate) fn respond(status: StatusCode, mime: &'static str, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    resp
}
