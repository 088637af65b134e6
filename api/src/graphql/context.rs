//! Typed lookups of what the schema and the request carry (`ctx.data`): the caller, the pool, the read
//! cache, the sources, authentication, the deployment environments and writer. A missing piece is a
//! wiring bug, never a default: it is logged with what was missing and answered `INTERNAL` (the client
//! sees only the code and a generic message). A leaf: of the graphql modules it imports only the error
//! vocabulary, so every resolver, loader and extension may use it.

use async_graphql::Context;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

use super::errors::ApiError;
use crate::auth::{Auth, Authenticator, Caller};
use crate::catalog::cache::EntityCache;
use crate::deployments::events::Events;
use crate::deployments::writer::Writer;
use crate::deployments::Environments;
use crate::providers::Registry;

/// The `T` the schema or the request carries; `what` names it in the log when it is missing.
pub fn data<'a, T: std::any::Any + Send + Sync>(
    ctx: &Context<'a>,
    what: &'static str,
) -> async_graphql::Result<&'a T> {
    ctx.data_opt::<T>().ok_or_else(|| missing(what))
}

/// The `INTERNAL` error for a missing piece of wiring (logged with `what`; the client sees neither).
pub fn missing(what: &'static str) -> async_graphql::Error {
    ApiError::Internal(format!("the operation ran without {what} attached")).into()
}

/// The request's caller. The HTTP layer attaches one to every request (the dev caller when no
/// authentication is configured); in-process callers attach theirs explicitly.
pub fn caller(ctx: &Context<'_>) -> async_graphql::Result<Caller> {
    data::<Caller>(ctx, "a caller").cloned()
}

/// The pool from schema data.
pub fn database<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DatabaseConnection> {
    data(ctx, "the database")
}

/// The read cache from schema data.
pub fn read_cache<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<EntityCache>> {
    data(ctx, "the read cache")
}

/// The configured sources and the read policy of registered ones.
pub fn registry<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<Registry>> {
    data(ctx, "the source registry")
}

/// The scaffolder's actions (the registry the server's workers run).
pub fn actions<'a>(
    ctx: &Context<'a>,
) -> async_graphql::Result<&'a Arc<crate::scaffolder::actions::Registry>> {
    data(ctx, "the scaffolder's action registry")
}

/// Authentication settings (the ownership policy, the revocation list).
pub fn auth<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Authenticator> {
    data::<Auth>(ctx, "the authentication settings").map(|a| a.as_ref())
}

/// The deployment environments, in order.
pub fn environments<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Environments> {
    data::<Arc<Environments>>(ctx, "the deployment environments").map(|e| e.as_ref())
}

/// The batching deployment writer.
pub fn writer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Writer> {
    data::<Arc<Writer>>(ctx, "the deployment writer").map(|w| w.as_ref())
}

/// The deployment event channel.
pub fn events<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Events> {
    data(ctx, "the deployment event channel")
}

#[cfg(test)]
mod tests {
    use crate::auth::Caller;
    use crate::graphql::schema;

    /// Runs `query` on the schema's shape without any schema data, with `caller` (and a pool over an
    /// empty in-memory database) attached when given.
    async fn unwired(query: &str, caller: Option<Caller>) -> serde_json::Value {
        let mut request = async_graphql::Request::new(query);
        if let Some(c) = caller {
            let db = crate::db::connect("sqlite::memory:", 1).await.unwrap();
            request = request.data(c).data(db);
        }
        let response = schema::builder().finish().execute(request).await;
        serde_json::to_value(&response).unwrap()
    }

    fn assert_internal(r: &serde_json::Value) {
        let e = &r["errors"][0];
        assert_eq!(e["extensions"]["code"], "INTERNAL", "{r}");
        assert_eq!(
            e["message"], "internal error",
            "no detail reaches the client: {r}"
        );
    }

    #[tokio::test]
    async fn no_caller_is_internal_not_the_dev_caller() {
        assert_internal(&unwired("{ entities { totalCount } }", None).await);
        assert_internal(&unwired("mutation { revokeToken(jti: \"x\") }", None).await);
    }

    #[tokio::test]
    async fn missing_schema_data_is_internal_not_a_default() {
        let admin = || Some(Caller::dev());
        // No read cache.
        assert_internal(&unwired("{ entities { totalCount } }", admin()).await);
        // No environment list (not the default one).
        assert_internal(&unwired("{ environments { name } }", admin()).await);
        // No source registry (not the default, empty one).
        let register = r#"mutation { registerLocation(input: {type: "file", target: "/tmp/x.yaml"}) { errors } }"#;
        assert_internal(&unwired(register, admin()).await);
    }
}
