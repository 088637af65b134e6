//! The bodies of HTTP answers that carry no execution result: a request-level GraphQL error (bad request,
//! refused caller, timeout) or an internal failure, in the negotiated media type. A leaf of `http`: the
//! handler, the caller check, the bounds and the WebSocket upgrade all answer through it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::errors::Code;

/// GraphQL over HTTP's own media type.
pub(crate) const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
pub(crate) const JSON: &str = "application/json";

/// A request-level error (no execution happened) as a GraphQL response body, with its code's status.
pub(crate) fn request_error(code: Code, mime: &'static str, message: &str) -> Response {
    request_error_with(code.status(), code, mime, message)
}

/// A request-level error with a status the transport decides (405, 406, 408, 415; 200 for
/// `application/json`) rather than its code's.
pub(crate) fn request_error_with(
    status: StatusCode,
    code: Code,
    mime: &'static str,
    message: &str,
) -> Response {
    let body =
        json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] });
    respond(status, mime, body.to_string())
}

/// An internal failure: no detail, only the request id that is in the logs.
pub(crate) fn internal_error(mime: &'static str, request_id: &str) -> Response {
    let body = json!({ "errors": [{ "message": "internal error",
        "extensions": { "code": Code::Internal.as_str(), "requestId": request_id } }] });
    respond(Code::Internal.status(), mime, body.to_string())
}

/// `body` with `status` and the `Content-Type` of `mime`.
pub(crate) fn respond(status: StatusCode, mime: &'static str, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    resp
}
