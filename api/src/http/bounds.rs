//! Bounds on one GraphQL request over HTTP: per-operation timeouts in a batch, the body read timeout and
//! the response size cap.

use async_graphql::Request;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::errors::Code;
use crate::graphql::errors::ApiError;
use crate::http::state::AppState;

/// The message of a `TIMEOUT` answer.
pub(crate) fn timeout_message(state: &AppState) -> String {
    format!(
        "the request took longer than {:?} and was stopped",
        state.request_timeout
    )
}

/// The answer for one operation of a batch that the request timeout stopped.
pub(crate) fn timed_out_operation(state: &AppState) -> async_graphql::Response {
    let e = ApiError::Limit(Code::Timeout, timeout_message(state)).into_server_error(None);
    async_graphql::Response::from_errors(vec![e])
}

/// Executes one operation under its own bound; `None` when the timeout stopped it. Everything but a
/// mutation draws on `left`, the request timeout that the batch's earlier queries have not used. A
/// mutation runs to the end (and into the audit log): stopping one halfway would leave its effects
/// unrecorded. An operation refused before it runs (forbidden, invalid) so never lifts the bound of
/// another. `mutation` is what the request's [`Shape`](super::document::Shape) says of it. `prepare`
/// readies `request` for execution (see [`crate::graphql::schema::GreenroomSchema::execute_with`]).
pub(crate) async fn execute_bounded(
    state: &AppState,
    request: Request,
    prepare: impl Fn(Request) -> Request,
    mutation: bool,
    left: &mut std::time::Duration,
) -> Option<async_graphql::Response> {
    if mutation {
        return Some(state.schema.execute(prepare(request)).await);
    }
    let started = std::time::Instant::now();
    let out = tokio::time::timeout(*left, state.schema.execute_with(request, prepare))
        .await
        .ok();
    let spent = started.elapsed();
    // The timer fires on millisecond ticks: an operation that finished past its bound before the tick
    // came is over its bound all the same.
    let out = out.filter(|_| spent <= *left);
    *left = left.saturating_sub(spent);
    out
}

/// A writer that refuses to grow past `max` bytes.
struct Capped {
    buf: Vec<u8>,
    max: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.max {
            return Err(std::io::Error::other("response too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` as JSON text, or `Ok(None)` when it would be longer than `max` bytes (writing stops there).
pub(crate) fn to_json_capped<T: serde::Serialize>(
    value: &T,
    max: usize,
) -> Result<Option<String>, serde_json::Error> {
    let mut out = Capped {
        buf: Vec::with_capacity(max.min(16 << 10)),
        max,
    };
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => {}
        Err(e) if e.is_io() => return Ok(None),
        Err(e) => return Err(e),
    }
    // serde_json writes UTF-8 only: the buffer becomes the string without a copy.
    Ok(Some(String::from_utf8(out.buf).unwrap_or_else(|e| {
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })))
}

/// Reads the request body within `server.bodyReadTimeout` (and `server.maxBodyBytes`).
pub(crate) async fn read_body(
    state: &AppState,
    request: axum::extract::Request,
    mime: &'static str,
) -> Result<Bytes, Response> {
    use axum::extract::FromRequest;
    match tokio::time::timeout(
        state.timeouts.body_read,
        Bytes::from_request(request, state),
    )
    .await
    {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(rejection)) => Err(rejection.into_response()),
        Err(_) => {
            let mut resp = super::reply::request_error_with(
                StatusCode::REQUEST_TIMEOUT,
                Code::Timeout,
                mime,
                "the request body did not arrive in time",
            );
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(resp)
        }
    }
}
