//! Write requests of the REST API, treated as GraphQL treats mutations: the caller is authenticated
//! first (401 / 429 are not audited, as for GraphQL), then every request that got that far — refused for
//! its scope or ownership, failed or done — leaves one audit row with the same operation name and outcome
//! code as the matching mutation, and is counted in the request metrics under that operation.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::future::Future;

use super::{authenticate, RestError};
use crate::auth::{Caller, Scope};
use crate::http::state::AppState;

/// The operation of a write response (the metrics label; see `decorate`).
#[derive(Clone, Copy, Debug)]
pub struct Operation(pub &'static str);

/// One write request: its audit operation, target and the scope it needs.
pub struct Write<'a> {
    pub state: &'a AppState,
    pub headers: &'a HeaderMap,
    /// The audit operation, named as the GraphQL mutation that does the same.
    pub operation: &'static str,
    /// What the write is about (`id=3`, `entityRef=component:default/x`); URL credentials are masked.
    pub target: String,
    pub scope: Scope,
}

impl Write<'_> {
    /// Runs `work` for the caller (once it holds the scope), writes the audit row and answers with
    /// `status` and the work's JSON (or no body for `204`), or the Backstage-shaped error.
    pub async fn run<T, F, Fut>(self, status: StatusCode, work: F) -> Response
    where
        T: serde::Serialize,
        F: FnOnce(Caller) -> Fut,
        Fut: Future<Output = Result<T, RestError>>,
    {
        let caller = match authenticate(self.state, self.headers).await {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        let subject = caller.subject.clone();
        let result = match caller.require(self.scope) {
            Ok(()) => work(caller).await,
            Err(e) => Err(e.into()),
        };
        let outcome = result.as_ref().map_or_else(|e| e.code().as_str(), |_| "ok");
        let target = Some(crate::confine::mask_text(&self.target));
        if let Err(e) =
            crate::auth::audit::record(&self.state.db, &subject, self.operation, target, outcome)
                .await
        {
            tracing::error!(error = %e, operation = self.operation, "could not write the audit log");
        }
        let mut resp = match result {
            Ok(_) if status == StatusCode::NO_CONTENT => status.into_response(),
            Ok(body) => (status, axum::Json(body)).into_response(),
            Err(e) => e.into_response(),
        };
        resp.extensions_mut().insert(Operation(self.operation));
        resp
    }
}

/// A JSON request body, or Backstage's `InputError`.
pub fn body<T>(
    body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, RestError> {
    body.map(|b| b.0)
        .map_err(|e| RestError::Input(format!("invalid request body: {}", e.body_text())))
}
