//! The one place errors become GraphQL errors with `extensions.code`; internal causes are logged, not sent.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

use crate::catalog::CatalogError;

/// Errors a resolver can return. The first five are the caller's; `Internal` hides its cause.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadUserInput(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Internal(_) => "INTERNAL",
        }
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
            S::Auth(a) => a.into(),
            S::Catalog(c) => c.into(),
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

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %cause, "internal error while resolving a request");
        }
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, ext| ext.set("code", self.code()))
    }
}

/// `.gql()` turns any error convertible to [`ApiError`] into a coded GraphQL error.
pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T, E: Into<ApiError>> GqlResultExt<T> for Result<T, E> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.into().extend())
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

    fn code_of(e: ApiError) -> String {
        let err = e.extend();
        let ext = err.extensions.expect("extensions");
        match ext.get("code") {
            Some(async_graphql::Value::String(s)) => s.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    #[test]
    fn each_variant_maps_to_its_code() {
        assert_eq!(code_of(ApiError::NotFound("x".into())), "NOT_FOUND");
        assert_eq!(
            code_of(ApiError::BadUserInput("x".into())),
            "BAD_USER_INPUT"
        );
        assert_eq!(
            code_of(ApiError::Unauthenticated("x".into())),
            "UNAUTHENTICATED"
        );
        assert_eq!(code_of(ApiError::Forbidden("x".into())), "FORBIDDEN");
        assert_eq!(code_of(ApiError::Conflict("x".into())), "CONFLICT");
        assert_eq!(
            code_of(ApiError::Internal("secret detail".into())),
            "INTERNAL"
        );
    }

    #[test]
    fn auth_errors_map_by_kind() {
        use crate::auth::AuthError as A;
        assert_eq!(
            code_of(A::Unauthenticated("x".into()).into()),
            "UNAUTHENTICATED"
        );
        assert_eq!(code_of(A::Forbidden("x".into()).into()), "FORBIDDEN");
        let internal: ApiError = A::Internal("jwks at 10.0.0.1 down".into()).into();
        assert_eq!(internal.extend().message, "internal error");
    }

    #[test]
    fn internal_details_are_not_sent() {
        let err = ApiError::Internal("password=hunter2".into()).extend();
        assert_eq!(err.message, "internal error");
    }

    #[test]
    fn catalog_errors_map_by_kind() {
        assert!(matches!(
            ApiError::from(CatalogError::InvalidRef(RefError::Empty)),
            ApiError::BadUserInput(_)
        ));
        assert!(matches!(
            ApiError::from(CatalogError::InvalidInput("x".into())),
            ApiError::BadUserInput(_)
        ));
        let db = CatalogError::Db(DbErr::Custom("boom".into()));
        assert!(matches!(ApiError::from(db), ApiError::Internal(_)));
    }

    #[test]
    fn unique_violations_become_conflicts_by_constraint_name() {
        assert_eq!(
            constraint_message("UNIQUE constraint failed: index 'ux_entities_ref'"),
            Some("an entity with this ref already exists")
        );
        assert_eq!(constraint_message("something else"), None);
    }
}
