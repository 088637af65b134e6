//! Builds the schema. Building needs no database, so the SDL can be printed and snapshot-tested offline.

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

use crate::catalog::cache::EntityCache;

use super::admin::{AdminMutation, AdminQuery};
use super::deployment_live::DeploymentSubscription;
use super::deployments::{DeploymentsMutation, DeploymentsQuery};
use super::guard::{Guard, Width};
use super::node::Node;
use super::query::CatalogQuery;
use super::scaffolder::{ScaffolderMutation, ScaffolderQuery, ScaffolderSubscription};
use super::sources::SourcesMutation;
use crate::auth::Auth;
use crate::config::OperationLimits;
use crate::deployments::events::Events;
use crate::deployments::Environments;
use crate::providers::Registry;

/// The query root: catalog, deployment, graph and audit-log reads.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    CatalogQuery,
    DeploymentsQuery,
    super::graph::GraphQuery,
    ScaffolderQuery,
    AdminQuery,
);

/// The mutation root: catalog sources, deployments and token revocation.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    SourcesMutation,
    DeploymentsMutation,
    ScaffolderMutation,
    AdminMutation,
);

/// The subscription root: live deployment events and scaffolder task logs (over `GET /graphql/ws`).
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(DeploymentSubscription, ScaffolderSubscription);

pub type GreenroomSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema's shape, without data.
pub fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .register_output_type::<Node>()
}

/// The SDL the server serves (what `greenroom schema` prints and `schema.graphql` holds).
pub fn sdl() -> String {
    // `@specifiedBy` on `DateTime`, as introspection's `specifiedByURL` says.
    builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// The schema's field types, for completing responses (built once per process).
fn type_index() -> Arc<super::completion::TypeIndex> {
    static INDEX: std::sync::OnceLock<Arc<super::completion::TypeIndex>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| Arc::new(super::completion::TypeIndex::from_sdl(&sdl())))
        .clone()
}

/// Everything the schema is built over: each piece a resolver reads from schema data. No piece has a
/// default here; the server builds them from its configuration, the tests' `TestApp` from its settings.
pub struct Parts {
    pub db: DatabaseConnection,
    /// The read cache.
    pub cache: Arc<EntityCache>,
    /// The configured sources and the read policy of registered ones.
    pub sources: Arc<Registry>,
    /// Authentication settings (the ownership policy, revocations).
    pub auth: Auth,
    pub limits: OperationLimits,
    /// The deployment environments and their order.
    pub environments: Arc<Environments>,
    /// The deployment event channel (the server starts its PostgreSQL listener).
    pub events: Events,
    /// The scaffolder's actions: the same registry the server's workers run (dry runs use it too).
    pub actions: Arc<crate::scaffolder::actions::Registry>,
}

/// The schema over `parts`. Loaders are per request: see [`prepare`].
pub fn build(parts: Parts) -> GreenroomSchema {
    let Parts {
        db,
        cache,
        sources,
        auth,
        limits,
        environments,
        events,
        actions,
    } = parts;
    super::types::lists::set_default_list_size(limits.default_list_size);
    let mut b = builder()
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(super::variables::RequiredVariables)
        .extension(super::completion::Completion {
            index: type_index(),
        })
        .extension(Guard {
            width: Width {
                max_aliases: limits.max_aliases,
                max_root_fields: limits.max_root_fields,
            },
        })
        .data(Arc::new(crate::deployments::writer::Writer::new(
            db.clone(),
        )))
        .data(actions)
        .data(db)
        .data(cache)
        .data(sources)
        .data(auth)
        .data(environments)
        .data(events)
        .data(super::types::lists::ItemLimit(limits.max_complexity));
    if !limits.introspection {
        b = b.disable_introspection();
    }
    b.finish()
}

/// Readies a request for execution: attaches request-scoped loaders over `db` and `cache`.
pub fn prepare(
    request: async_graphql::Request,
    db: &DatabaseConnection,
    cache: &Arc<EntityCache>,
) -> async_graphql::Request {
    super::loaders::attach(request, db, cache).data(super::types::lists::ItemBudget::default())
}
