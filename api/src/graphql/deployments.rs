//! Deployments in the API: the `Deployment` type, `recordDeployment` / `updateDeploymentStatus`
//! (`deployments:write`), the `deployments` and `environments` queries, and the per-entity fields
//! (`deployments`, `currentDeployments`) through a dataloader.

use async_graphql::{Context, Enum, InputObject, Object, ID};
use sea_orm::DatabaseConnection;

use super::connection::{connection, Page, PageArgs};
use super::errors::{ApiError, GqlResultExt};
use super::guard::{require, READ};
use super::ids::{self, Kind};
use crate::auth::Scope;
use crate::deployments::service::{self, Deployment as Row, Filter, NewDeployment};
use crate::deployments::Status;
use crate::keyset::{Slice, Window};

type Res<T> = async_graphql::Result<T>;

/// Where a deployment is in its life: `PENDING` and `IN_PROGRESS` are running, the rest are finished.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "DeploymentStatus")]
pub enum GqlStatus {
    /// Recorded but not started yet.
    Pending,
    /// Running.
    InProgress,
    /// Finished successfully; may later become `ROLLED_BACK`.
    Succeeded,
    /// Finished with a failure.
    Failed,
    /// Stopped before completing.
    Cancelled,
    /// Succeeded, then was rolled back.
    RolledBack,
}

impl From<GqlStatus> for Status {
    fn from(s: GqlStatus) -> Self {
        match s {
            GqlStatus::Pending => Status::Pending,
            GqlStatus::InProgress => Status::InProgress,
            GqlStatus::Succeeded => Status::Succeeded,
            GqlStatus::Failed => Status::Failed,
            GqlStatus::Cancelled => Status::Cancelled,
            GqlStatus::RolledBack => Status::RolledBack,
        }
    }
}

impl From<Status> for GqlStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Pending => GqlStatus::Pending,
            Status::InProgress => GqlStatus::InProgress,
            Status::Succeeded => GqlStatus::Succeeded,
            Status::Failed => GqlStatus::Failed,
            Status::Cancelled => GqlStatus::Cancelled,
            Status::RolledBack => GqlStatus::RolledBack,
        }
    }
}

use super::time::{parse as parse_time, timestamp as time, DateTime};

/// One deployment of an entity to an environment.
#[derive(Clone)]
pub struct Deployment(pub Row);

/// One deployment of an entity to an environment.
#[Object]
impl Deployment {
    /// Opaque global ID of the deployment, for `updateDeploymentStatus` and `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::encode(Kind::Deployment, &self.0.id.to_string())
    }
    /// Canonical ref `kind:namespace/name` of the deployed entity.
    async fn entity_ref(&self) -> &str {
        &self.0.entity_ref
    }
    /// The deployed entity (null if it left the catalog).
    async fn entity(&self, ctx: &Context<'_>) -> Res<Option<super::types::Entity>> {
        let found = super::loaders::entities(ctx)?
            .load_one(self.0.entity_ref.clone())
            .await
            .gql()?;
        Ok(found.map(super::types::Entity::from_stored))
    }
    /// The environment deployed to, e.g. `production`.
    async fn environment(&self) -> &str {
        &self.0.environment
    }
    /// The version deployed, as the caller gave it.
    async fn version(&self) -> &str {
        &self.0.version
    }
    /// The current status.
    async fn status(&self) -> GqlStatus {
        Status::parse(&self.0.status)
            .unwrap_or(Status::Pending)
            .into()
    }
    /// The commit deployed.
    async fn commit_sha(&self) -> Option<&str> {
        self.0.commit_sha.as_deref()
    }
    /// When the deployed commit was made.
    async fn commit_time(&self) -> Option<DateTime> {
        time(self.0.commit_time)
    }
    /// When the deployment started (RFC 3339); the record time unless the caller gave one.
    async fn started_at(&self) -> Option<DateTime> {
        time(self.0.started_at)
    }
    /// When the deployment finished (RFC 3339); null while it is running.
    async fn finished_at(&self) -> Option<DateTime> {
        time(self.0.finished_at)
    }
    /// When the deployment was recorded (RFC 3339).
    async fn created_at(&self) -> Option<DateTime> {
        time(Some(self.0.created_at))
    }
    /// The pipeline run.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// Free-text notes on the deployment.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The token subject that recorded it.
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }
}

connection!(
    DeploymentConnection,
    DeploymentEdge,
    Deployment,
    "A page of deployments, newest first (Relay connection).",
    "One deployment in a page, with its cursor."
);

/// A deployment to record.
#[derive(InputObject)]
pub struct RecordDeploymentInput {
    /// `component:name` (kind defaults to component).
    pub entity_ref: String,
    /// The environment deployed to: a configured one or an `Environment` entity (1 to 200 characters).
    pub environment: String,
    /// The version deployed (1 to 200 characters).
    pub version: String,
    /// Default PENDING.
    pub status: Option<GqlStatus>,
    /// The commit deployed.
    pub commit_sha: Option<String>,
    /// When the deployed commit was made (RFC 3339, any offset).
    pub commit_time: Option<DateTime>,
    /// Link to the pipeline run.
    pub url: Option<String>,
    /// Free-text notes on the deployment.
    pub description: Option<String>,
    /// A retry with the same key (from the same subject) returns the first deployment.
    pub idempotency_key: Option<String>,
    /// When it started (RFC 3339); default now.
    pub started_at: Option<DateTime>,
    /// When it finished (RFC 3339); default now when `status` is a finished one.
    pub finished_at: Option<DateTime>,
}

/// Which deployments to list; all given fields must match.
#[derive(InputObject, Default)]
pub struct DeploymentFilter {
    /// Entity ref (kind defaults to component, namespace to `default`).
    pub entity_ref: Option<String>,
    /// Group ref: deployments of what it owns.
    pub owner: Option<String>,
    /// System ref: deployments of its entities.
    pub system: Option<String>,
    /// Environment name, exact match.
    pub environment: Option<String>,
    /// Only deployments with this status.
    pub status: Option<GqlStatus>,
    /// Inclusive lower bound (RFC 3339) on when the deployment was recorded.
    pub since: Option<DateTime>,
    /// Exclusive upper bound (RFC 3339) on when the deployment was recorded.
    pub until: Option<DateTime>,
}

/// The window of a deployment page: `first` or `last` 1 to 500 (default 20), cursors of deployments.
fn window(args: &PageArgs) -> Res<Window<i64>> {
    args.window(Kind::Deployment, 20, 500, |k| k.parse().ok())
}

/// The connection of a slice of deployments.
fn connection(slice: Slice<Row>) -> DeploymentConnection {
    DeploymentConnection(Page::of(
        slice,
        Kind::Deployment,
        |d| d.id.to_string(),
        Deployment,
    ))
}

/// A page of deployments for a filter (shared by the root query and the entity fields).
pub async fn page(
    db: &DatabaseConnection,
    filter: Filter,
    args: PageArgs,
) -> Res<DeploymentConnection> {
    let w = window(&args)?;
    Ok(connection(service::page(db, &filter, &w).await.gql()?))
}

fn filter_from(f: DeploymentFilter) -> Res<Filter> {
    let canon = |r: Option<String>, kind: &str| -> Res<Option<String>> {
        r.map(|r| {
            crate::catalog::refs::EntityRef::parse(&r, Some(kind), "default")
                .map(|x| x.to_string())
                .map_err(|e| ApiError::BadUserInput(format!("invalid ref '{r}': {e}")))
                .gql()
        })
        .transpose()
    };
    Ok(Filter {
        entity_refs: canon(f.entity_ref, "component")?.map(|r| vec![r]),
        owner: canon(f.owner, "group")?,
        system: canon(f.system, "system")?,
        environment: f.environment,
        status: f.status.map(Status::from),
        since: parse_time("since", f.since)?,
        until: parse_time("until", f.until)?,
    })
}

/// An environment and its deployments.
pub struct Environment {
    name: String,
}

/// An environment and its deployments.
#[Object]
impl Environment {
    /// The environment name, as configured.
    async fn name(&self) -> &str {
        &self.name
    }
    /// Deployments to this environment, newest first, optionally of one status (Relay connection).
    #[allow(clippy::too_many_arguments)]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deployments with this status; default: any.")] status: Option<
            GqlStatus,
        >,
        #[graphql(desc = "Page size, newest first from `after` (1 to 500; default 20).")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): older deployments follow."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Page size, back from `before` (1 to 500); used only when `first` is absent."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): newer deployments."
        )]
        before: Option<String>,
    ) -> Res<DeploymentConnection> {
        let filter = Filter {
            environment: Some(self.name.clone()),
            status: status.map(Status::from),
            ..Filter::default()
        };
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        page(super::context::database(ctx)?, filter, args).await
    }
}

#[derive(Default)]
pub struct DeploymentsQuery;

/// Deployment reads (every field needs `catalog:read`).
#[Object]
impl DeploymentsQuery {
    /// Deployments, newest first (Relay connection).
    #[allow(clippy::too_many_arguments)]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deployments matching every given field; default: all.")]
        filter: Option<DeploymentFilter>,
        #[graphql(desc = "Page size, newest first from `after` (1 to 500; default 20).")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): older deployments follow."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Page size, back from `before` (1 to 500); used only when `first` is absent."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): newer deployments."
        )]
        before: Option<String>,
    ) -> Res<DeploymentConnection> {
        require(ctx, READ)?;
        let filter = filter_from(filter.unwrap_or_default())?;
        let args = PageArgs {
            first,
            after,
            last,
            before,
        };
        page(super::context::database(ctx)?, filter, args).await
    }

    /// The configured environments, in order.
    async fn environments(&self, ctx: &Context<'_>) -> Res<Vec<Environment>> {
        require(ctx, READ)?;
        Ok(super::context::environments(ctx)?
            .configured
            .iter()
            .map(|n| Environment { name: n.clone() })
            .collect())
    }
}

#[derive(Default)]
pub struct DeploymentsMutation;

/// Deployment writes (each needs `deployments:write`).
#[Object]
impl DeploymentsMutation {
    /// Records a deployment (needs `deployments:write`).
    async fn record_deployment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment: what was deployed where, and its status and times.")]
        input: RecordDeploymentInput,
    ) -> Res<Deployment> {
        let caller = require(ctx, Scope::DeploymentsWrite)?;
        let db = super::context::database(ctx)?;
        let entity_ref =
            crate::catalog::refs::EntityRef::parse(&input.entity_ref, Some("component"), "default")
                .map(|r| r.to_string())
                .unwrap_or_else(|_| input.entity_ref.clone());
        super::guard::require_owner(ctx, &caller, &entity_ref).await?;
        let d = NewDeployment {
            entity_ref: input.entity_ref,
            environment: input.environment,
            version: input.version,
            status: input.status.map(Status::from),
            commit_sha: input.commit_sha,
            commit_time: parse_time("commitTime", input.commit_time)?,
            url: input.url,
            description: input.description,
            idempotency_key: input.idempotency_key,
            started_at: parse_time("startedAt", input.started_at)?,
            finished_at: parse_time("finishedAt", input.finished_at)?,
        };
        let audit = super::guard::audit_draft(ctx, &caller);
        let (saved, created) = service::record(
            db,
            super::context::environments(ctx)?,
            &caller.subject,
            super::context::writer(ctx)?,
            d,
            audit.as_ref(),
        )
        .await
        .gql()?;
        if audit.is_some() && created {
            super::guard::mark_audited(ctx);
        }
        if created {
            publish(ctx, &saved).await;
        }
        Ok(Deployment(saved))
    }

    /// Moves a deployment to a new status; only legal transitions (`CONFLICT` otherwise).
    async fn update_deployment_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The deployment's `id` (its global ID).")] id: ID,
        #[graphql(
            desc = "The new status; it must be a legal move from the current one (`CONFLICT` otherwise)."
        )]
        status: GqlStatus,
        #[graphql(
            desc = "When it finished (RFC 3339); used only when `status` is a finished one, default the time already recorded, else now."
        )]
        finished_at: Option<DateTime>,
        #[graphql(desc = "New free-text notes, replacing the old; unchanged when absent.")]
        description: Option<String>,
    ) -> Res<Deployment> {
        let caller = require(ctx, Scope::DeploymentsWrite)?;
        let db = super::context::database(ctx)?;
        let n = ids::expect_number(&id, Kind::Deployment)?;
        let current = service::by_id(db, n)
            .await
            .gql()?
            .ok_or_else(|| ApiError::NotFound(format!("no deployment {}", id.as_str())))?;
        super::guard::require_owner(ctx, &caller, &current.entity_ref).await?;
        let finished = parse_time("finishedAt", finished_at)?;
        let saved = service::update_status(db, n, status.into(), finished, description)
            .await
            .gql()?;
        if saved.status != current.status {
            publish(ctx, &saved).await;
        }
        Ok(Deployment(saved))
    }
}

async fn publish(ctx: &Context<'_>, d: &Row) {
    // A missing channel or pool is a wiring bug the lookups log; the deployment is already stored.
    if let (Ok(events), Ok(db)) = (super::context::events(ctx), super::context::database(ctx)) {
        events.announce(db, d.clone()).await;
    }
}

/// `currentDeployments` of an entity, in environment order.
pub async fn current_of(ctx: &Context<'_>, entity_ref: &str) -> Res<Vec<Deployment>> {
    let rows = super::loaders::current(ctx)?
        .load_one(entity_ref.to_string())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .unwrap_or_default();
    let envs = super::context::environments(ctx)?;
    let mut rows: Vec<Row> = rows.as_ref().clone();
    rows.sort_by_key(|d| envs.order(&d.environment));
    Ok(rows.into_iter().map(Deployment).collect())
}

/// `deployments(...)` of an entity, a system or a group. First pages go through the list loader (no
/// N+1 over a page of entities); other pages (a cursor, or `last`) are a query of their own.
pub async fn of(
    ctx: &Context<'_>,
    scope: service::Scope,
    environment: Option<String>,
    status: Option<GqlStatus>,
    args: PageArgs,
) -> Res<DeploymentConnection> {
    let page = of_unbudgeted(ctx, scope, environment, status.map(Status::from), args).await?;
    // A page per entity of a page of entities multiplies: count what it holds against the operation.
    super::types::lists::charge(ctx, page.0.items.len())?;
    Ok(page)
}

async fn of_unbudgeted(
    ctx: &Context<'_>,
    scope: service::Scope,
    environment: Option<String>,
    status: Option<Status>,
    args: PageArgs,
) -> Res<DeploymentConnection> {
    let w = window(&args)?;
    if !w.is_first_page() {
        let mut filter = match scope {
            service::Scope::Entity(r) => Filter {
                entity_refs: Some(vec![r]),
                ..Filter::default()
            },
            service::Scope::System(r) => Filter {
                system: Some(r),
                ..Filter::default()
            },
            service::Scope::Owner(r) => Filter {
                owner: Some(r),
                ..Filter::default()
            },
        };
        filter.environment = environment;
        filter.status = status;
        let db = super::context::database(ctx)?;
        return Ok(connection(service::page(db, &filter, &w).await.gql()?));
    }
    let key = service::ListKey {
        scope,
        environment,
        status,
        limit: w.fetch(),
    };
    let rows: Vec<Row> = super::loaders::lists(ctx)?
        .load_one(key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map(|v| v.as_ref().clone())
        .unwrap_or_default();
    Ok(connection(Slice::of(rows, &w)))
}
