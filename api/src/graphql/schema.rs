//! Builds the schema. Building needs no database, so the SDL can be printed and snapshot-tested offline.

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

use crate::catalog::cache::EntityCache;

use super::admin::{AdminMutation, AdminQuery};
use super::deployment_live::DeploymentSubscription;
use super::deployments::{DeploymentsMutation, DeploymentsQuery};
use super::guard::{Guard, Width};
use super::query::CatalogQuery;
use super::scaffolder::{ScaffolderMutation, ScaffolderQuery, ScaffolderSubscription};
use super::sources::SourcesMutation;
use super::types::Node;
use crate::auth::{Auth, Authenticator};

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

/// Limits on what one operation may ask for (`server.limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_depth: usize,
    /// Each field costs 1; a page or list costs its size (`first`, else its default) times its selection.
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub introspection: bool,
    /// What a list field without `first` counts for complexity and returns at most (process-wide, see
    /// [`super::types::lists`]).
    pub default_list_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_complexity: 20_000,
            max_aliases: 30,
            max_root_fields: 20,
            introspection: true,
            default_list_size: 20,
        }
    }
}

/// The schema's shape, without data.
pub fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .register_output_type::<Node>()
    .register_output_type::<EntityImplementsNode>()
}

/// The SDL the server serves (what `greenroom schema` prints and `schema.graphql` holds).
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The schema's field types, for completing responses (built once per process).
fn type_index() -> Arc<super::completion::TypeIndex> {
    static INDEX: std::sync::OnceLock<Arc<super::completion::TypeIndex>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| Arc::new(super::completion::TypeIndex::from_sdl(&sdl())))
        .clone()
}

/// The schema with its data (the pool and the read cache). Loaders are per request: see [`prepare`].
pub fn build(db: DatabaseConnection, cache: Arc<EntityCache>) -> GreenroomSchema {
    build_with(
        db,
        cache,
        Arc::default(),
        Arc::new(Authenticator::dev_mode()),
        &Limits::default(),
    )
}

/// [`build`] with the configured sources (so `refreshLocation` reads git providers with their settings),
/// authentication settings and limits.
pub fn build_with(
    db: DatabaseConnection,
    cache: Arc<EntityCache>,
    sources: Arc<crate::providers::Registry>,
    auth: Auth,
    limits: &Limits,
) -> GreenroomSchema {
    let environments = crate::config::DeploymentsConfig::default().environments();
    build_full(
        db,
        cache,
        sources,
        auth,
        limits,
        Arc::new(environments),
        Default::default(),
    )
}

/// [`build_with`], the deployment environments and the deployment event channel (the server starts its
/// PostgreSQL listener).
pub fn build_full(
    db: DatabaseConnection,
    cache: Arc<EntityCache>,
    sources: Arc<crate::providers::Registry>,
    auth: Auth,
    limits: &Limits,
    environments: Arc<crate::deployments::Environments>,
    events: crate::deployments::events::Events,
) -> GreenroomSchema {
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
        .data(Arc::new(crate::scaffolder::actions::Registry::reading(
            &sources,
        )))
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

/// Declares `interface Entity implements Node` in the registry (async-graphql's `Interface` derive has no
/// `implements`). Registering this marker only adds the edge; it is never resolved.
struct EntityImplementsNode;

impl async_graphql::OutputType for EntityImplementsNode {
    fn type_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Entity")
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        registry.add_implements("Entity", "Node");
        "Entity".to_string()
    }

    async fn resolve(
        &self,
        _ctx: &async_graphql::ContextSelectionSet<'_>,
        _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    ) -> async_graphql::ServerResult<async_graphql::Value> {
        Ok(async_graphql::Value::Null)
    }
}
