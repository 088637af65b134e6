//! The one place errors become GraphQL errors with `extensions.code`: each domain's error converts into
//! [`ApiError`] here (`From`), and an `ApiError` into an `async_graphql::Error` carrying its [`Code`].
//! Internal causes are logged, not sent.
//!
//! A resolver returns a coded error one way: `Err(ApiError::…)?` (or `.into()`), and `.gql()` on a domain
//! result (it converts through `ApiError`). A bare `?` on a domain error would lose the code.

use async_graphql::{ErrorExtensionValues, Pos, ServerError};
use sea_orm::{DbErr, SqlErr};

use crate::catalog::CatalogError;
pub use crate::errors::Code;

/// Errors a resolver can return. `Internal` hides its cause. Not `Display`, so that the only way into an
/// `async_graphql::Error` is the coded one below.
#[derive(Debug)]
pub enum ApiError {
    NotFound(String),
    BadUserInput(String),
    /// `BAD_USER_INPUT` listing every failing field in `extensions.fields` (`[{field, message}]`).
    InvalidFields(String, Vec<(String, String)>),
    Unauthenticated(String),
    Forbidden(String),
    Conflict(String),
    /// A bound of the request refused or cut it (`COMPLEXITY_LIMIT`, `LIST_TRUNCATED`, `TIMEOUT`).
    Limit(Code, String),
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> Code {
        match self {
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::BadUserInput(_) | ApiError::InvalidFields(..) => Code::BadUserInput,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::Forbidden(_) => Code::Forbidden,
            ApiError::Conflict(_) => Code::Conflict,
            ApiError::Limit(code, _) => *code,
            ApiError::Internal(_) => Code::Internal,
        }
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        match self {
            ApiError::NotFound(m)
            | ApiError::BadUserInput(m)
            | ApiError::InvalidFields(m, _)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::Conflict(m)
            | ApiError::Limit(_, m) => m,
            ApiError::Internal(_) => "internal error",
        }
    }

    /// As an error raised outside a resolver (an extension, the transport), at `pos` when it has one.
    pub fn into_server_error(self, pos: Option<Pos>) -> ServerError {
        let err = async_graphql::Error::from(self);
        let mut out = ServerError::new(err.message, pos);
        out.extensions = err.extensions;
        out
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        if let ApiError::Internal(cause) = &e {
            tracing::error!(error = %cause, "internal error while resolving a request");
        }
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", e.code().as_str());
        if let ApiError::InvalidFields(_, fields) = &e {
            let list = fields
                .iter()
                .map(|(field, message)| {
                    let mut item = async_graphql::indexmap::IndexMap::new();
                    item.insert(async_graphql::Name::new("field"), field.as_str().into());
                    item.insert(async_graphql::Name::new("message"), message.as_str().into());
                    async_graphql::Value::Object(item)
                })
                .collect();
            ext.set("fields", async_graphql::Value::List(list));
        }
        let mut err = async_graphql::Error::new(e.message());
        err.extensions = Some(ext);
        err
    }
}

/// User-facing messages for unique constraints, by constraint name.
fn constraint_message(sql: &str) -> Option<&'static str> {
    [
        ("ux_entities_ref", "an entity with this ref already exists"),
        (
            "entities.entity_ref",
            "an entity with this ref already exists",
        ),
        ("ux_locations_key", "this location is already registered"),
        (
            "ux_deployments_idempotency",
            "a deployment with this idempotency key already exists",
        ),
        (
            "locations.location_key",
            "this location is already registered",
        ),
    ]
    .into_iter()
    .find(|(name, _)| sql.contains(name))
    .map(|(_, msg)| msg)
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = e.sql_err() {
            if let Some(msg) = constraint_message(&detail) {
                return ApiError::Conflict(msg.to_string());
            }
        }
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as A;
        match e {
            A::Unauthenticated(m) => ApiError::Unauthenticated(m),
            A::Forbidden(m) => ApiError::Forbidden(m),
            A::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<crate::deployments::DeploymentError> for ApiError {
    fn from(e: crate::deployments::DeploymentError) -> Self {
        use crate::deployments::DeploymentError as D;
        match e {
            D::NotFound(m) => ApiError::NotFound(m),
            D::Invalid(m) => ApiError::BadUserInput(m),
            D::Conflict(m) => ApiError::Conflict(m),
            D::Db(db) => db.into(),
            D::Catalog(c) => c.into(),
        }
    }
}

impl From<crate::providers::sources::SourceError> for ApiError {
    fn from(e: crate::providers::sources::SourceError) -> Self {
        use crate::providers::sources::SourceError as S;
        match e {
            S::Input(m) => ApiError::BadUserInput(m),
            S::NotFound(m) => ApiError::NotFound(m),
            S::Conflict(m) => ApiError::Conflict(m),
            S::Provider(p) => p.into(),
            S::Auth(a) => a.into(),
            S::Catalog(c) => c.into(),
        }
    }
}

impl From<crate::providers::ProviderError> for ApiError {
    /// A location that cannot be built or read is the caller's input (its text names only what the
    /// caller gave); a checkout directory the server cannot create is internal.
    fn from(e: crate::providers::ProviderError) -> Self {
        use crate::providers::ProviderError as P;
        match e {
            P::Checkout(_) => ApiError::Internal(e.to_string()),
            _ => ApiError::BadUserInput(e.to_string()),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::InvalidRef(r) => ApiError::BadUserInput(r.to_string()),
            CatalogError::InvalidInput(m) => ApiError::BadUserInput(m),
            CatalogError::NotFound(m) => ApiError::NotFound(m),
            CatalogError::Db(db) => db.into(),
            CatalogError::LeaseLost(m) => ApiError::Internal(m),
        }
    }
}

impl From<crate::scaffolder::ScaffolderError> for ApiError {
    fn from(e: crate::scaffolder::ScaffolderError) -> Self {
        use crate::scaffolder::ScaffolderError as S;
        match e {
            S::InvalidValues(fields) => {
                let list = fields
                    .iter()
                    .map(|f| (f.field.clone(), f.message.clone()))
                    .collect();
                ApiError::InvalidFields(S::InvalidValues(fields).to_string(), list)
            }
            S::NotFound(m) => ApiError::NotFound(m),
            S::Invalid(m) => ApiError::BadUserInput(m),
            S::Conflict(m) => ApiError::Conflict(m),
            S::Forbidden(m) => ApiError::Forbidden(m),
            S::Auth(a) => a.into(),
            S::Internal(m) => ApiError::Internal(m),
            S::Db(db) => db.into(),
        }
    }
}

/// `.gql()` turns a result whose error converts to [`ApiError`] into a coded GraphQL result.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T, E: Into<ApiError>> GqlResultExt<T> for Result<T, E> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| async_graphql::Error::from(e.into()))
    }
}

/// For loader errors, which arrive shared.
impl From<std::sync::Arc<CatalogError>> for ApiError {
    fn from(e: std::sync::Arc<CatalogError>) -> Self {
        match &*e {
            CatalogError::InvalidRef(r) => ApiError::BadUserInput(r.to_string()),
            CatalogError::InvalidInput(m) => ApiError::BadUserInput(m.clone()),
            CatalogError::NotFound(m) => ApiError::NotFound(m.clone()),
            CatalogError::Db(db) => ApiError::Internal(db.to_string()),
            CatalogError::LeaseLost(m) => ApiError::Internal(m.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::refs::RefError;

    fn wire(e: impl Into<ApiError>) -> (String, String) {
        let err = async_graphql::Error::from(e.into());
        let ext = err.extensions.expect("extensions");
        match ext.get("code") {
            Some(async_graphql::Value::String(s)) => (s.clone(), err.message),
            other => panic!("no code: {other:?}"),
        }
    }

    fn code_of(e: impl Into<ApiError>) -> String {
        wire(e).0
    }

    fn db() -> DbErr {
        DbErr::Custom("boom at /var/lib/greenroom".into())
    }

    #[test]
    fn each_variant_maps_to_its_code() {
        let x = || "x".to_string();
        let table = [
            (ApiError::NotFound(x()), "NOT_FOUND"),
            (ApiError::BadUserInput(x()), "BAD_USER_INPUT"),
            (ApiError::InvalidFields(x(), vec![]), "BAD_USER_INPUT"),
            (ApiError::Unauthenticated(x()), "UNAUTHENTICATED"),
            (ApiError::Forbidden(x()), "FORBIDDEN"),
            (ApiError::Conflict(x()), "CONFLICT"),
            (
                ApiError::Limit(Code::ComplexityLimit, x()),
                "COMPLEXITY_LIMIT",
            ),
            (ApiError::Limit(Code::ListTruncated, x()), "LIST_TRUNCATED"),
            (ApiError::Limit(Code::Timeout, x()), "TIMEOUT"),
            (ApiError::Internal("secret detail".into()), "INTERNAL"),
        ];
        for (e, code) in table {
            assert_eq!(e.code().as_str(), code);
            assert_eq!(code_of(e), code);
        }
    }

    #[test]
    fn internal_details_are_not_sent() {
        let (code, message) = wire(ApiError::Internal("password=hunter2".into()));
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("INTERNAL", "internal error")
        );
        let (_, message) = wire(ApiError::Forbidden("no".into()));
        assert_eq!(message, "no");
    }

    #[test]
    fn a_server_error_keeps_code_and_position() {
        let pos = Pos { line: 2, column: 3 };
        let e = ApiError::BadUserInput("bad".into()).into_server_error(Some(pos));
        assert_eq!(e.message, "bad");
        assert_eq!(e.locations, vec![pos]);
        let ext = e.extensions.expect("extensions");
        assert!(
            matches!(ext.get("code"), Some(async_graphql::Value::String(c)) if c == "BAD_USER_INPUT")
        );
    }

    #[test]
    fn auth_errors_map_by_kind() {
        use crate::auth::AuthError as A;
        assert_eq!(code_of(A::Unauthenticated("x".into())), "UNAUTHENTICATED");
        assert_eq!(code_of(A::Forbidden("x".into())), "FORBIDDEN");
        let (code, message) = wire(A::Internal("jwks at 10.0.0.1 down".into()));
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("INTERNAL", "internal error")
        );
    }

    #[test]
    fn catalog_errors_map_by_kind() {
        type Make = fn() -> CatalogError;
        let table: [(Make, &str); 5] = [
            (
                || CatalogError::InvalidRef(RefError::Empty),
                "BAD_USER_INPUT",
            ),
            (|| CatalogError::InvalidInput("x".into()), "BAD_USER_INPUT"),
            (|| CatalogError::NotFound("x".into()), "NOT_FOUND"),
            (|| CatalogError::Db(db()), "INTERNAL"),
            (|| CatalogError::LeaseLost("x".into()), "INTERNAL"),
        ];
        for (make, code) in table {
            assert_eq!(code_of(make()), code);
            let shared = std::sync::Arc::new(make());
            assert_eq!(code_of(shared), code, "shared (loader) errors map alike");
        }
    }

    #[test]
    fn deployment_errors_map_by_kind() {
        use crate::deployments::DeploymentError as D;
        let table = [
            (D::NotFound("x".into()), "NOT_FOUND"),
            (D::Invalid("x".into()), "BAD_USER_INPUT"),
            (D::Conflict("x".into()), "CONFLICT"),
            (D::Db(db()), "INTERNAL"),
            (D::Catalog(CatalogError::NotFound("x".into())), "NOT_FOUND"),
        ];
        for (e, code) in table {
            assert_eq!(code_of(e), code);
        }
    }

    #[test]
    fn source_errors_map_by_kind() {
        use crate::providers::sources::SourceError as S;
        let table = [
            (S::Input("x".into()), "BAD_USER_INPUT"),
            (S::NotFound("x".into()), "NOT_FOUND"),
            (S::Conflict("x".into()), "CONFLICT"),
            (
                S::Auth(crate::auth::AuthError::Forbidden("x".into())),
                "FORBIDDEN",
            ),
            (
                S::Catalog(CatalogError::InvalidInput("x".into())),
                "BAD_USER_INPUT",
            ),
            (
                S::Provider(crate::providers::ProviderError::Target("x".into())),
                "BAD_USER_INPUT",
            ),
        ];
        for (e, code) in table {
            assert_eq!(code_of(e), code);
        }
    }

    #[test]
    fn provider_errors_map_by_kind() {
        use crate::confine::Refused;
        use crate::providers::ProviderError as P;
        let io = || std::io::Error::other("/tmp/greenroom-git-x: denied");
        let table = [
            (P::Target("x".into()), "BAD_USER_INPUT"),
            (P::Refused(Refused::Host("x".into())), "BAD_USER_INPUT"),
            (P::NoMatch("x".into()), "BAD_USER_INPUT"),
            (P::Walk("x".into()), "BAD_USER_INPUT"),
            (P::Status(reqwest::StatusCode::NOT_FOUND), "BAD_USER_INPUT"),
            (P::TooLarge(1), "BAD_USER_INPUT"),
            (P::Timeout, "BAD_USER_INPUT"),
            (P::Unreachable("x".into()), "BAD_USER_INPUT"),
            (P::Unreadable("x".into()), "BAD_USER_INPUT"),
            (P::Git("x".into()), "BAD_USER_INPUT"),
            (P::Checkout(io()), "INTERNAL"),
        ];
        for (e, code) in table {
            assert_eq!(code_of(e), code);
        }
        let (_, message) = wire(P::Refused(Refused::Host("https://x.test/a".into())));
        assert_eq!(
            message,
            "'https://x.test/a': host is not one this server may connect to (catalog.allow.hosts)"
        );
        let (_, message) = wire(P::Checkout(io()));
        assert_eq!(message, "internal error", "no server path is sent");
    }

    #[test]
    fn scaffolder_errors_map_by_kind() {
        use crate::scaffolder::{FieldError, ScaffolderError as S};
        let table = [
            (S::NotFound("x".into()), "NOT_FOUND"),
            (S::Invalid("x".into()), "BAD_USER_INPUT"),
            (S::Conflict("x".into()), "CONFLICT"),
            (S::Forbidden("x".into()), "FORBIDDEN"),
            (S::Internal("x".into()), "INTERNAL"),
            (
                S::Auth(crate::auth::AuthError::Forbidden("x".into())),
                "FORBIDDEN",
            ),
            (S::Db(db()), "INTERNAL"),
        ];
        for (e, code) in table {
            assert_eq!(code_of(e), code);
        }
        let fields = vec![FieldError {
            field: "/name".into(),
            message: "is required".into(),
        }];
        let err = async_graphql::Error::from(ApiError::from(S::InvalidValues(fields)));
        assert_eq!(err.message, "invalid values: /name: is required");
        let ext = serde_json::to_value(err.extensions.expect("extensions")).expect("json");
        assert_eq!(
            ext,
            serde_json::json!({"code": "BAD_USER_INPUT",
                "fields": [{"field": "/name", "message": "is required"}]})
        );
    }

    #[test]
    fn unique_violations_become_conflicts_by_constraint_name() {
        assert_eq!(
            constraint_message("UNIQUE constraint failed: index 'ux_entities_ref'"),
            Some("an entity with this ref already exists")
        );
        assert_eq!(constraint_message("something else"), None);
        assert_eq!(code_of(db()), "INTERNAL");
    }
}
