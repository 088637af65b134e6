//! Objects for the software kinds: Component, API, Resource, System, Domain, Location, Template, others.

use async_graphql::Context;
use serde_json::Value;

use super::common::{entity_object, load_entity, spec_ref, spec_string};
use super::Entity;
use crate::deployments::service::{Filter, Scope};
use crate::graphql::deployments as dep;

type Res<T> = async_graphql::Result<T>;

entity_object!(
    /// A piece of software, such as a service, website or library (`kind: Component`).
    Component {
    /// The component type from `spec.type`, e.g. `service` or `website`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The lifecycle stage from `spec.lifecycle`, e.g. `production` or `experimental`.
    async fn lifecycle(&self) -> Option<String> {
        spec_string(&self.0, "lifecycle")
    }
    /// The system this component is part of (`spec.system`), or null when absent or not in the catalog.
    async fn system(&self, ctx: &Context<'_>) -> Res<Option<System>> {
        Ok(load_entity(ctx, self.0.system_ref.clone()).await?.map(System))
    }
    /// The parent component from `spec.subcomponentOf`, or null when absent or not in the catalog.
    async fn subcomponent_of(&self, ctx: &Context<'_>) -> Res<Option<Component>> {
        Ok(load_entity(ctx, spec_ref(&self.0, "subcomponentOf", "component")).await?.map(Component))
    }
    /// Deployments of this component, newest first.
    #[allow(clippy::too_many_arguments)]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deployments to this environment (exact name); default: all.")]
        environment: Option<String>,
        #[graphql(desc = "Only deployments with this status; default: any.")]
        status: Option<dep::GqlStatus>,
        #[graphql(desc = "Page size, newest first from `after` (1 to 500; default 20).")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): older deployments follow.")]
        after: Option<String>,
        #[graphql(desc = "Page size, back from `before` (1 to 500); used only when `first` is absent.")]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): newer deployments.")]
        before: Option<String>,
    ) -> Res<dep::DeploymentConnection> {
        dep::of(ctx, Scope::Entity(self.0.entity_ref.clone()), environment, status, crate::graphql::connection::PageArgs { first, after, last, before }).await
    }
    /// The latest successful deployment in each environment, in environment order.
    async fn current_deployments(&self, ctx: &Context<'_>) -> Res<Vec<dep::Deployment>> {
        dep::current_of(ctx, &self.0.entity_ref).await
    }
    /// DORA metrics over the last `window` (`30d`, `12h`).
    async fn dora_metrics(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "30d", desc = "How far back from now: a duration such as `30d`, `12h` or `90m` (units `ms`, `s`, `m`, `h`, `d`; a bare number is seconds), at most `366d`; default `30d`.")]
        window: String,
        #[graphql(desc = "Only deployments to this environment (exact name); default: all.")]
        environment: Option<String>,
    ) -> Res<crate::graphql::deployment_live::DoraMetrics> {
        let filter = Filter { entity_refs: Some(vec![self.0.entity_ref.clone()]), ..Filter::default() };
        crate::graphql::deployment_live::dora_of(ctx, filter, &window, environment).await
    }
} lists {
    /// Components that are part of this one (`hasPart` relations).
    subcomponents: Component = (Some("component"), Component),
    /// Entities this component depends on (`dependsOn` relations).
    depends_on: Entity = (None, Entity::from_stored),
    /// Entities that depend on this component (`dependencyOf` relations).
    dependency_of: Entity = (None, Entity::from_stored),
    /// APIs this component provides (`providesApi` relations).
    provides_apis: Api = (Some("api"), Api),
    /// APIs this component consumes (`consumesApi` relations).
    consumes_apis: Api = (Some("api"), Api),
});

entity_object!(
    /// An interface that components provide or consume (`kind: API`).
    Api {
    /// The API type from `spec.type`, e.g. `openapi`, `asyncapi`, `graphql` or `grpc`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The lifecycle stage from `spec.lifecycle`, e.g. `production` or `experimental`.
    async fn lifecycle(&self) -> Option<String> {
        spec_string(&self.0, "lifecycle")
    }
    /// The API definition text (OpenAPI, AsyncAPI, GraphQL SDL, protobuf, ...).
    async fn definition(&self) -> Option<String> {
        spec_string(&self.0, "definition")
    }
    /// The system this API is part of (`spec.system`), or null when absent or not in the catalog.
    async fn system(&self, ctx: &Context<'_>) -> Res<Option<System>> {
        Ok(load_entity(ctx, self.0.system_ref.clone()).await?.map(System))
    }
} lists {
    /// Components that provide this API.
    providers: Component = (Some("component"), Component),
    /// Components that consume this API.
    consumers: Component = (Some("component"), Component),
});

entity_object!(
    /// Infrastructure that software needs at run time, such as a database or bucket (`kind: Resource`).
    Resource {
    /// The resource type from `spec.type`, e.g. `database`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The system this resource is part of (`spec.system`), or null when absent or not in the catalog.
    async fn system(&self, ctx: &Context<'_>) -> Res<Option<System>> {
        Ok(load_entity(ctx, self.0.system_ref.clone()).await?.map(System))
    }
} lists {
    /// Entities this resource depends on (`dependsOn` relations).
    depends_on: Entity = (None, Entity::from_stored),
    /// Entities that depend on this resource (`dependencyOf` relations).
    dependency_of: Entity = (None, Entity::from_stored),
});

entity_object!(
    /// A collection of components, APIs and resources that together provide a capability (`kind: System`).
    System {
    /// DORA metrics of the system's entities over the last `window`.
    async fn dora_metrics(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "30d", desc = "How far back from now: a duration such as `30d`, `12h` or `90m` (units `ms`, `s`, `m`, `h`, `d`; a bare number is seconds), at most `366d`; default `30d`.")]
        window: String,
        #[graphql(desc = "Only deployments to this environment (exact name); default: all.")]
        environment: Option<String>,
    ) -> Res<crate::graphql::deployment_live::DoraMetrics> {
        let filter = Filter { system: Some(self.0.entity_ref.clone()), ..Filter::default() };
        crate::graphql::deployment_live::dora_of(ctx, filter, &window, environment).await
    }
    /// Deployments of the system's entities, newest first.
    #[allow(clippy::too_many_arguments)]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deployments to this environment (exact name); default: all.")]
        environment: Option<String>,
        #[graphql(desc = "Only deployments with this status; default: any.")]
        status: Option<dep::GqlStatus>,
        #[graphql(desc = "Page size, newest first from `after` (1 to 500; default 20).")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): older deployments follow.")]
        after: Option<String>,
        #[graphql(desc = "Page size, back from `before` (1 to 500); used only when `first` is absent.")]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): newer deployments.")]
        before: Option<String>,
    ) -> Res<dep::DeploymentConnection> {
        dep::of(ctx, Scope::System(self.0.entity_ref.clone()), environment, status, crate::graphql::connection::PageArgs { first, after, last, before }).await
    }
    /// The system type from `spec.type`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The domain this system belongs to (`spec.domain`), or null when absent or not in the catalog.
    async fn domain(&self, ctx: &Context<'_>) -> Res<Option<Domain>> {
        Ok(load_entity(ctx, spec_ref(&self.0, "domain", "domain")).await?.map(Domain))
    }
} lists {
    /// Components that are part of this system (`hasPart` relations).
    components: Component = (Some("component"), Component),
    /// APIs that are part of this system (`hasPart` relations).
    apis: Api = (Some("api"), Api),
    /// Resources that are part of this system (`hasPart` relations).
    resources: Resource = (Some("resource"), Resource),
});

entity_object!(
    /// A business area that groups related systems (`kind: Domain`).
    Domain {
    /// The domain type from `spec.type`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The parent domain from `spec.subdomainOf`, or null when absent or not in the catalog.
    async fn subdomain_of(&self, ctx: &Context<'_>) -> Res<Option<Domain>> {
        Ok(load_entity(ctx, spec_ref(&self.0, "subdomainOf", "domain")).await?.map(Domain))
    }
} lists {
    /// Systems that are part of this domain (`hasPart` relations).
    systems: System = (Some("system"), System),
    /// Domains that are part of this one (`hasPart` relations).
    subdomains: Domain = (Some("domain"), Domain),
});

entity_object!(
    /// A pointer to further catalog sources whose `targets` are read too (`kind: Location`).
    Location {
    /// The location type from `spec.type`, e.g. `url` or `file`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The single target from `spec.target`.
    async fn target(&self) -> Option<String> {
        spec_string(&self.0, "target")
    }
    /// The targets listed in `spec.targets`.
    async fn targets(&self) -> Vec<String> {
        self.0
            .spec()
            .and_then(|s| s.get("targets"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    }
});

entity_object!(
    /// A software template for scaffolding new projects (`kind: Template`).
    Template {
    /// The template type from `spec.type`, e.g. `service` or `website`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The template's parameter forms (JSON Schema), as written.
    async fn parameters(&self) -> async_graphql::Json<Value> {
        async_graphql::Json(self.0.spec().and_then(|s| s.get("parameters")).cloned().unwrap_or(Value::Null))
    }
    /// The JSON Schema that `createTask` validates values against: `spec.parameters` as one schema, or all
    /// of its form pages (`allOf`).
    async fn parameter_schema(&self) -> async_graphql::Json<Value> {
        let spec = self.0.body().get("spec").cloned().unwrap_or(Value::Null);
        async_graphql::Json(crate::scaffolder::template::parameter_schema(&spec))
    }
    /// The template's steps in order (an invalid list is an error naming the problem).
    async fn steps(&self) -> async_graphql::Result<Vec<crate::graphql::task::TemplateStep>> {
        let spec = self.0.body().get("spec").cloned().unwrap_or(Value::Null);
        let steps = crate::scaffolder::template::steps(&spec).map_err(crate::graphql::errors::ApiError::from)?;
        Ok(steps.into_iter().enumerate().map(|(i, s)| crate::graphql::task::TemplateStep::of(&self.0.entity_ref, i, s)).collect())
    }
});

entity_object!(
    /// An entity of a kind without its own GraphQL type, such as a custom kind.
    GenericEntity {});
