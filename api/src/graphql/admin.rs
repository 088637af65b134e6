//! Admin-only fields: the audit log and token revocation.

use async_graphql::{Context, Object, SimpleObject, ID};

use super::connection::{connection, Page, PageArgs};

use super::errors::{ApiError, GqlResultExt};
use super::guard::require;
use super::ids::{self, Kind};
use crate::auth::{audit, revocation, Scope};

type Res<T> = async_graphql::Result<T>;

/// One mutation as recorded in the audit log.
#[derive(SimpleObject, Clone)]
pub struct AuditEntry {
    /// Opaque global ID of the entry, accepted by `node(id:)` (admins only).
    #[graphql(owned)]
    pub id: ID,
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
            id: ids::encode(Kind::AuditEntry, &e.id.to_string()),
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
    /// Mutations, newest first (Relay connection; needs `admin`: null, with a `FORBIDDEN` error, for
    /// other callers, so the rest of a query keeps its data). `first` defaults to 50, at most 500.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, newest first from `after` (1 to 500; default 50).")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): older entries follow."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Page size, back from `before` (1 to 500); used only when `first` is absent."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): newer entries."
        )]
        before: Option<String>,
        #[graphql(desc = "Only entries of this token subject (exact match); default: all.")]
        subject: Option<String>,
    ) -> Res<Option<AuditEntryConnection>> {
        require(ctx, Scope::Admin)?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        let w = args.window(Kind::AuditEntry, 50, 500, |k| k.parse().ok())?;
        let db = super::context::database(ctx)?;
        let slice = audit::page(db, &w, subject.as_deref())
            .await
            .map_err(ApiError::from)
            .gql()?;
        let page = Page::of(
            slice,
            Kind::AuditEntry,
            |e| e.id.to_string(),
            AuditEntry::from,
        );
        Ok(Some(AuditEntryConnection(page)))
    }
}

connection!(
    AuditEntryConnection,
    AuditEntryEdge,
    AuditEntry,
    "A page of the audit log, newest first (Relay connection).",
    "One audit log entry in a page, with its cursor."
);

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
