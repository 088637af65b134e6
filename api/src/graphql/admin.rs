//! Admin-only fields: the audit log and token revocation.

use async_graphql::{Context, Object, SimpleObject};

use super::errors::{ApiError, GqlResultExt};
use super::guard::require;
use crate::auth::{audit, revocation, Scope};

type Res<T> = async_graphql::Result<T>;

/// One mutation as recorded in the audit log.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// Opaque cursor (pass as `after` to continue).
    pub cursor: String,
    /// When the mutation was made.
    pub at: super::time::DateTime,
    /// The token subject that made the call.
    pub subject: String,
    /// The mutation field called, e.g. `recordDeployment`.
    pub operation: String,
    /// The operation's first argument (`id=…`, `ref=…`, `input={…}`).
    pub target: Option<String>,
    /// `ok` or the error code.
    pub outcome: String,
}

impl From<audit::AuditEntry> for AuditEntry {
    fn from(e: audit::AuditEntry) -> Self {
        Self {
            cursor: e.id.to_string(),
            at: super::time::DateTime::from_millis(e.at)
                .unwrap_or_else(super::time::DateTime::epoch),
            subject: e.subject,
            operation: e.operation,
            target: e.target,
            outcome: e.outcome,
        }
    }
}

#[derive(Default)]
pub struct AdminQuery;

/// Admin-only reads.
#[Object]
impl AdminQuery {
    /// Mutations, newest first (needs `admin`; null, with a `FORBIDDEN` error, for other callers, so
    /// the rest of a query keeps its data). `first` defaults to 50, at most 500.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (1 to 500; default 50).")] first: Option<i32>,
        #[graphql(
            desc = "The `cursor` of the last entry seen: older entries follow; default: the newest entries."
        )]
        after: Option<String>,
        #[graphql(desc = "Only entries of this token subject (exact match); default: all.")]
        subject: Option<String>,
    ) -> Res<Option<Vec<AuditEntry>>> {
        require(ctx, Scope::Admin)?;
        let limit = super::paging::page_size(first, 50, 500)?;
        let before = match after {
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| {
                        ApiError::BadUserInput(format!("'{c}' is not an audit log cursor"))
                    })
                    .gql()?,
            ),
            None => None,
        };
        let db = super::context::database(ctx)?;
        let rows = audit::list(db, limit as u64, before, subject.as_deref())
            .await
            .map_err(ApiError::from)
            .gql()?;
        Ok(Some(rows.into_iter().map(AuditEntry::from).collect()))
    }
}

#[derive(Default)]
pub struct AdminMutation;

/// Admin-only mutations.
#[Object]
impl AdminMutation {
    /// Revokes a token by its `jti` (needs `admin`); every replica refuses it within seconds.
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token's `jti` claim (not empty; surrounding spaces are ignored).")]
        jti: String,
    ) -> Res<bool> {
        let caller = require(ctx, Scope::Admin)?;
        let jti = jti.trim();
        if jti.is_empty() {
            return Err(ApiError::BadUserInput("jti must not be empty".into())).gql();
        }
        let db = super::context::database(ctx)?;
        let auth = super::context::auth(ctx)?;
        revocation::revoke(db, jti, &caller.subject)
            .await
            .map_err(ApiError::from)
            .gql()?;
        auth.revocations.invalidate().await;
        Ok(true)
    }
}
