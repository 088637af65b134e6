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

/// The schema type async-graphql builds (see [`GreenroomSchema`] for the two instances the server runs).
pub type FullSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema the server runs: two instances over the same types, data and limits. `full` has the
/// extensions (required variables, response completion, the width limits and the mutation audit) and
/// runs everything; `plain` has none, so async-graphql resolves each field directly (any extension
/// sends every field through the extensions' hooks), and runs the queries over HTTP that need none of
/// them (`execute_with`, in `graphql::fast`).
#[derive(Clone)]
pub struct GreenroomSchema {
    pub(super) full: FullSchema,
    pub(super) plain: FullSchema,
    pub(super) width: Width,
    pub(super) index: Arc<super::completion::TypeIndex>,
}

impl GreenroomSchema {
    /// Executes `request` (already [`prepare`]d) on the schema with its extensions.
    pub async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.full.execute(request).await
    }

    /// A subscription's responses (or the one response of a query or mutation).
    pub fn execute_stream(
        &self,
        request: async_graphql::Request,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        self.full.execute_stream(request)
    }
}

/// WebSocket transports execute on the full schema.
impl async_graphql::Executor for GreenroomSchema {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.full.execute(request).await
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        async_graphql::Executor::execute_stream(&self.full, request, session_data)
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
    super::types::lists::set_default_list_size(parts.limits.default_list_size);
    let width = Width {
        max_aliases: parts.limits.max_aliases,
        max_root_fields: parts.limits.max_root_fields,
    };
    let index = type_index();
    let writer = Arc::new(crate::deployments::writer::Writer::new(parts.db.clone()));
    let extended = builder()
        .extension(super::variables::RequiredVariables)
        .extension(super::completion::Completion {
            index: index.clone(),
        })
        .extension(Guard { width });
    GreenroomSchema {
        full: finish(extended, &parts, &writer),
        plain: finish(builder(), &parts, &writer),
        width,
        index,
    }
}

/// `b` with the limits and schema data of `parts`.
fn finish(
    b: SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot>,
    parts: &Parts,
    writer: &Arc<crate::deployments::writer::Writer>,
) -> FullSchema {
    let limits = &parts.limits;
    let mut b = b
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .data(writer.clone())
        .data(parts.actions.clone())
        .data(parts.db.clone())
        .data(parts.cache.clone())
        .data(parts.sources.clone())
        .data(parts.auth.clone())
        .data(parts.environments.clone())
        .data(parts.events.clone())
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
