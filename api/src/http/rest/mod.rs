//! Backstage's catalog REST API under `/api/catalog` (see README, "Backstage REST API"): one file per
//! resource, Backstage-shaped errors (this file), the same caller, scopes and rate limits as GraphQL
//! (through [`crate::http::auth::authorize`]) and request metrics.

pub mod checks;
pub mod entities;
pub mod locations;
pub mod predicates;
pub mod write;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use crate::auth::{AuthError, Caller, Scope};
use crate::catalog::CatalogError;
use crate::errors::Code;
use crate::http::state::AppState;

/// The routes, to be nested at `/api/catalog`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/entities", get(entities::list))
        .route(
            "/entities/by-query",
            get(entities::by_query).post(predicates::query_entities),
        )
        .route("/entities/by-refs", post(entities::by_refs))
        .route(
            "/entities/by-uid/{uid}",
            get(entities::by_uid).delete(entities::remove_by_uid),
        )
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}",
            get(entities::by_name),
        )
        .route(
            "/entities/by-name/{kind}/{namespace}/{name}/ancestry",
            get(entities::ancestry),
        )
        .route(
            "/entity-facets",
            get(entities::facets).post(predicates::query_facets),
        )
        .route("/locations", get(locations::list).post(locations::add))
        .route("/locations/by-query", post(predicates::query_locations))
        .route(
            "/locations/{id}",
            get(locations::by_id)
                .put(locations::update)
                .delete(locations::remove),
        )
        .route(
            "/locations/by-entity/{kind}/{namespace}/{name}",
            get(locations::by_entity),
        )
        .route("/refresh", post(checks::refresh))
        .route("/validate-entity", post(checks::validate_entity))
        .route("/analyze-location", post(checks::analyze_location))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(decorate))
}

/// Errors of the REST transport, each one of Backstage's error names.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Authentication(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; retry later")]
    RateLimited(Option<HeaderValue>),
    /// Logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl RestError {
    /// The code GraphQL gives the same failure (for audit rows and metrics); the status is its code's.
    pub fn code(&self) -> Code {
        match self {
            RestError::NotFound(_) => Code::NotFound,
            RestError::Input(_) => Code::BadUserInput,
            RestError::NotAllowed(_) => Code::Forbidden,
            RestError::Authentication(_) => Code::Unauthenticated,
            RestError::Conflict(_) => Code::Conflict,
            RestError::RateLimited(_) => Code::RateLimited,
            RestError::Internal(_) => Code::Internal,
        }
    }

    /// Backstage's name for the error.
    fn name(&self) -> &'static str {
        match self {
            RestError::NotFound(_) => "NotFoundError",
            RestError::Input(_) => "InputError",
            RestError::NotAllowed(_) => "NotAllowedError",
            RestError::Authentication(_) => "AuthenticationError",
            RestError::Conflict(_) => "ConflictError",
            RestError::RateLimited(_) => "TooManyRequestsError",
            RestError::Internal(_) => "Error",
        }
    }
}

impl From<CatalogError> for RestError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::InvalidRef(r) => RestError::Input(r.to_string()),
            CatalogError::InvalidInput(m) => RestError::Input(m),
            CatalogError::NotFound(m) => RestError::NotFound(m),
            CatalogError::Db(e) => match e.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                    RestError::Conflict("it already exists".into())
                }
                _ => RestError::Internal(e.to_string()),
            },
            CatalogError::LeaseLost(m) => RestError::Internal(m),
        }
    }
}

impl From<crate::providers::sources::SourceError> for RestError {
    fn from(e: crate::providers::sources::SourceError) -> Self {
        use crate::providers::sources::SourceError as S;
        match e {
            S::Input(m) => RestError::Input(m),
            S::NotFound(m) => RestError::NotFound(m),
            S::Conflict(m) => RestError::Conflict(m),
            S::Provider(p) => p.into(),
            S::Auth(a) => a.into(),
            S::Catalog(c) => c.into(),
        }
    }
}

impl From<crate::providers::ProviderError> for RestError {
    /// As in GraphQL: the caller's input, but for a checkout directory the server cannot create.
    fn from(e: crate::providers::ProviderError) -> Self {
        use crate::providers::ProviderError as P;
        match e {
            P::Checkout(_) => RestError::Internal(e.to_string()),
            _ => RestError::Input(e.to_string()),
        }
    }
}

impl From<AuthError> for RestError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated(m) => RestError::Authentication(m),
            AuthError::Forbidden(m) => RestError::NotAllowed(m),
            AuthError::Internal(m) => RestError::Internal(m),
        }
    }
}

/// The error as the handler saw it; [`decorate`] adds the request to the body.
#[derive(Clone)]
struct ErrorBody {
    name: &'static str,
    message: String,
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let (status, name) = (self.code().status(), self.name());
        if let RestError::Internal(cause) = &self {
            tracing::error!(error = %cause, "catalog REST request failed");
        }
        let message = self.to_string();
        let mut resp = (status, axum::Json(json!({}))).into_response();
        if let RestError::RateLimited(Some(after)) = self {
            resp.headers_mut().insert(header::RETRY_AFTER, after);
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp.extensions_mut().insert(ErrorBody { name, message });
        resp
    }
}

/// Writes Backstage's error body (`{error: {name, message}, request: {method, url}, response:
/// {statusCode}}`) for error responses, and records the request's metrics.
async fn decorate(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(String::new, |p| p.to_string());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status();
    // Writes are labelled with their operation (as GraphQL mutations are), reads with `rest`.
    let label = resp
        .extensions()
        .get::<write::Operation>()
        .map_or("rest", |o| o.0);
    let outcome = if status.is_success() {
        "ok".to_string()
    } else {
        status.as_u16().to_string()
    };
    crate::metrics::get().request(Some(label), &outcome, started.elapsed());
    let Some(err) = resp.extensions().get::<ErrorBody>().cloned() else {
        return resp;
    };
    let body = json!({
        "error": {"name": err.name, "message": err.message},
        "request": {"method": method, "url": format!("/api/catalog{url}")},
        "response": {"statusCode": status.as_u16()},
    });
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

async fn not_found() -> RestError {
    RestError::NotFound("no such catalog endpoint".into())
}

/// The caller of a REST request (401 / 429 as for GraphQL), when it holds `scope`.
pub async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Caller, RestError> {
    let caller = authenticate(state, headers).await?;
    caller.require(scope)?;
    Ok(caller)
}

/// The caller of a REST request (401 / 429 as for GraphQL), before any scope check.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, RestError> {
    match crate::http::auth::authorize(state, headers, "application/json", "rest", 1).await {
        Ok(c) => Ok(c),
        Err(resp) => Err(refused(resp).await),
    }
}

/// The REST error for a response [`crate::http::auth::authorize`] refused the request with.
async fn refused(resp: Response) -> RestError {
    let retry = resp.headers().get(header::RETRY_AFTER).cloned();
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let error = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .map(|v| v["errors"][0].clone());
    let message = error
        .as_ref()
        .and_then(|e| e["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| "request refused".into());
    let code = error
        .as_ref()
        .and_then(|e| e["extensions"]["code"].as_str().and_then(Code::parse));
    match code {
        Some(Code::Unauthenticated) => RestError::Authentication(message),
        Some(Code::Forbidden) => RestError::NotAllowed(message),
        Some(Code::RateLimited) => RestError::RateLimited(retry),
        _ => RestError::Internal(message),
    }
}

/// Query parameters in order, repeated keys kept (`filter=a&filter=b`).
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key || k.strip_suffix("[]") == Some(key))
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn one(&self, key: &str) -> Option<String> {
        self.all(key).into_iter().next().filter(|v| !v.is_empty())
    }

    /// A non-negative integer parameter.
    pub fn number(&self, key: &str) -> Result<Option<u64>, RestError> {
        self.one(key)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    RestError::Input(format!("'{key}' must be a non-negative integer"))
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_code_status_and_backstage_name() {
        let x = || "x".to_string();
        let table = [
            (RestError::NotFound(x()), "NOT_FOUND", 404, "NotFoundError"),
            (RestError::Input(x()), "BAD_USER_INPUT", 400, "InputError"),
            (
                RestError::NotAllowed(x()),
                "FORBIDDEN",
                403,
                "NotAllowedError",
            ),
            (
                RestError::Authentication(x()),
                "UNAUTHENTICATED",
                401,
                "AuthenticationError",
            ),
            (RestError::Conflict(x()), "CONFLICT", 409, "ConflictError"),
            (
                RestError::RateLimited(None),
                "RATE_LIMITED",
                429,
                "TooManyRequestsError",
            ),
            (RestError::Internal(x()), "INTERNAL", 500, "Error"),
        ];
        for (e, code, status, name) in table {
            assert_eq!(e.code().as_str(), code);
            assert_eq!(e.name(), name);
            assert_eq!(e.into_response().status().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn domain_errors_map_as_in_graphql() {
        assert_eq!(
            RestError::from(CatalogError::NotFound("x".into())).code(),
            Code::NotFound
        );
        assert_eq!(
            RestError::from(CatalogError::InvalidInput("x".into())).code(),
            Code::BadUserInput
        );
        let db = CatalogError::Db(sea_orm::DbErr::Custom("at /var/lib".into()));
        assert_eq!(RestError::from(db).code(), Code::Internal);
        assert_eq!(
            RestError::from(AuthError::Forbidden("x".into())).code(),
            Code::Forbidden
        );
        assert_eq!(
            RestError::from(AuthError::Unauthenticated("x".into())).code(),
            Code::Unauthenticated
        );
        assert_eq!(
            RestError::from(AuthError::Internal("x".into())).code(),
            Code::Internal
        );
        use crate::providers::sources::SourceError as S;
        assert_eq!(
            RestError::from(S::Conflict("x".into())).code(),
            Code::Conflict
        );
        assert_eq!(
            RestError::from(S::Provider(crate::providers::ProviderError::Timeout)).code(),
            Code::BadUserInput
        );
    }

    #[test]
    fn provider_errors_map_as_in_graphql() {
        use crate::confine::Refused;
        use crate::providers::ProviderError as P;
        let target = RestError::from(P::Target("'x' is not URL#BRANCH[:PATH]".into()));
        assert_eq!(
            (target.code(), target.to_string().as_str()),
            (Code::BadUserInput, "'x' is not URL#BRANCH[:PATH]")
        );
        let refused = RestError::from(P::Refused(Refused::OutsideRoots("/x".into())));
        assert_eq!(refused.code(), Code::BadUserInput);
        assert_eq!(
            RestError::from(P::Git("x".into())).code(),
            Code::BadUserInput
        );
        let checkout = RestError::from(P::Checkout(std::io::Error::other("/tmp/x")));
        assert_eq!(
            (checkout.code(), checkout.to_string().as_str()),
            (Code::Internal, "internal error")
        );
    }

    #[tokio::test]
    async fn a_refusal_keeps_its_code() {
        let mime = "application/json";
        for code in [
            Code::Unauthenticated,
            Code::Forbidden,
            Code::RateLimited,
            Code::Internal,
        ] {
            let resp = crate::http::reply::request_error(code, mime, "no");
            assert_eq!(refused(resp).await.code(), code);
        }
    }
}
