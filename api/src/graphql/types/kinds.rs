//! Objects for the software kinds: Component, API, Resource, System, Domain, Location, Template, others.

use async_graphql::Context;
use serde_json::Value;

use super::common::{entity_object, load_entity, related, spec_ref, spec_string};
use super::Entity;
use crate::catalog::relations as rel;
use crate::deployments::service::{Filter, Scope};
use crate::graphql::deployments as dep;

type Res<T> = async_graphql::Result<T>;

entity_object!(Component {
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    async fn lifecycle(&self) -> Option<String> {
        spec_string(&self.0, "lifecycle")
    }
    async fn system(&self, ctx: &Context<'_>) -> Res<Option<System>> {
        Ok(load_entity(ctx, self.0.system_ref.clone()).await?.map(System))
    }
    async fn subcomponent_of(&self, ctx: &Context<'_>) -> Res<Option<Component>> {
        Ok(load_entity(ctx, spec_ref(&self.0, "subcomponentOf", "component")).await?.map(Component))
    }
    async fn subcomponents(&self, ctx: &Context<'_>) -> Res<Vec<Component>> {
        Ok(related(ctx, &self.0.entity_ref, rel::HAS_PART, Some("component")).await?.into_iter().map(Component).collect())
    }
    async fn depends_on(&self, ctx: &Context<'_>) -> Res<Vec<Entity>> {
        Ok(related(ctx, &self.0.entity_ref, rel::DEPENDS_ON, None).await?.into_iter().map(Entity::from_stored).collect())
    }
    async fn dependency_of(&self, ctx: &Context<'_>) -> Res<Vec<Entity>> {
        Ok(related(ctx, &self.0.entity_ref, rel::DEPENDENCY_OF, None).await?.into_iter().map(Entity::from_stored).collect())
    }
    async fn provides_apis(&self, ctx: &Context<'_>) -> Res<Vec<Api>> {
        Ok(related(ctx, &self.0.entity_ref, rel::PROVIDES_API, Some("api")).await?.into_iter().map(Api).collect())
    }
    async fn consumes_apis(&self, ctx: &Context<'_>) -> Res<Vec<Api>> {
        Ok(related(ctx, &self.0.entity_ref, rel::CONSUMES_API, Some("api")).await?.into_iter().map(Api).collect())
    }
    /// Deployments of this component, newest first.
    async fn deployments(&self, ctx: &Context<'_>, environment: Option<String>, status: Option<dep::GqlStatus>, first: Option<i32>, after: Option<String>) -> Res<dep::DeploymentPage> {
        dep::of(ctx, Scope::Entity(self.0.entity_ref.clone()), environment, status, first, after).await
    }
    /// The latest successful deployment in each environment, in environment order.
    async fn current_deployments(&self, ctx: &Context<'_>) -> Res<Vec<dep::Deployment>> {
        dep::current_of(ctx, &self.0.entity_ref).await
    }
    /// DORA metrics over the last `window` (`30d`, `12h`).
    async fn dora_metrics(&self, ctx: &Context<'_>, #[graphql(default = "30d")] window: String, environment: Option<String>) -> Res<crate::graphql::deployment_live::DoraMetrics> {
        let filter = Filter { entity_refs: Some(vec![self.0.entity_ref.clone()]), ..Filter::default() };
        crate::graphql::deployment_live::dora_of(ctx, filter, &window, environment).await
    }
});

entity_object!(Api {
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    async fn lifecycle(&self) -> Option<String> {
        spec_string(&self.0, "lifecycle")
    }
    /// The API definition text (OpenAPI, AsyncAPI, GraphQL SDL, protobuf, ...).
    async fn definition(&self) -> Option<String> {
        spec_string(&self.0, "definition")
    }
    async fn system(&self, ctx: &Context<'_>) -> Res<Option<System>> {
        Ok(load_entity(ctx, self.0.system_ref.clone()).await?.map(System))
    }
    /// Components that provide this API.
    async fn providers(&self, ctx: &Context<'_>) -> Res<Vec<Component>> {
        Ok(related(ctx, &self.0.entity_ref, rel::API_PROVIDED_BY, Some("component")).await?.into_iter().map(Component).collect())
    }
    /// Components that consume this API.
    async fn consumers(&self, ctx: &Context<'_>) -> Res<Vec<Component>> {
        Ok(related(ctx, &self.0.entity_ref, rel::API_CONSUMED_BY, Some("component")).await?.into_iter().map(Component).collect())
    }
});

entity_object!(Resource {
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    async fn system(&self, ctx: &Context<'_>) -> Res<Option<System>> {
        Ok(load_entity(ctx, self.0.system_ref.clone()).await?.map(System))
    }
    async fn depends_on(&self, ctx: &Context<'_>) -> Res<Vec<Entity>> {
        Ok(related(ctx, &self.0.entity_ref, rel::DEPENDS_ON, None).await?.into_iter().map(Entity::from_stored).collect())
    }
    async fn dependency_of(&self, ctx: &Context<'_>) -> Res<Vec<Entity>> {
        Ok(related(ctx, &self.0.entity_ref, rel::DEPENDENCY_OF, None).await?.into_iter().map(Entity::from_stored).collect())
    }
});

entity_object!(System {
    /// DORA metrics of the system's entities over the last `window`.
    async fn dora_metrics(&self, ctx: &Context<'_>, #[graphql(default = "30d")] window: String, environment: Option<String>) -> Res<crate::graphql::deployment_live::DoraMetrics> {
        let filter = Filter { system: Some(self.0.entity_ref.clone()), ..Filter::default() };
        crate::graphql::deployment_live::dora_of(ctx, filter, &window, environment).await
    }
    /// Deployments of the system's entities, newest first.
    async fn deployments(&self, ctx: &Context<'_>, environment: Option<String>, status: Option<dep::GqlStatus>, first: Option<i32>, after: Option<String>) -> Res<dep::DeploymentPage> {
        dep::of(ctx, Scope::System(self.0.entity_ref.clone()), environment, status, first, after).await
    }
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    async fn domain(&self, ctx: &Context<'_>) -> Res<Option<Domain>> {
        Ok(load_entity(ctx, spec_ref(&self.0, "domain", "domain")).await?.map(Domain))
    }
    async fn components(&self, ctx: &Context<'_>) -> Res<Vec<Component>> {
        Ok(related(ctx, &self.0.entity_ref, rel::HAS_PART, Some("component")).await?.into_iter().map(Component).collect())
    }
    async fn apis(&self, ctx: &Context<'_>) -> Res<Vec<Api>> {
        Ok(related(ctx, &self.0.entity_ref, rel::HAS_PART, Some("api")).await?.into_iter().map(Api).collect())
    }
    async fn resources(&self, ctx: &Context<'_>) -> Res<Vec<Resource>> {
        Ok(related(ctx, &self.0.entity_ref, rel::HAS_PART, Some("resource")).await?.into_iter().map(Resource).collect())
    }
});

entity_object!(Domain {
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    async fn systems(&self, ctx: &Context<'_>) -> Res<Vec<System>> {
        Ok(related(ctx, &self.0.entity_ref, rel::HAS_PART, Some("system")).await?.into_iter().map(System).collect())
    }
    async fn subdomain_of(&self, ctx: &Context<'_>) -> Res<Option<Domain>> {
        Ok(load_entity(ctx, spec_ref(&self.0, "subdomainOf", "domain")).await?.map(Domain))
    }
    async fn subdomains(&self, ctx: &Context<'_>) -> Res<Vec<Domain>> {
        Ok(related(ctx, &self.0.entity_ref, rel::HAS_PART, Some("domain")).await?.into_iter().map(Domain).collect())
    }
});

entity_object!(Location {
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    async fn target(&self) -> Option<String> {
        spec_string(&self.0, "target")
    }
    async fn targets(&self) -> Vec<String> {
        self.0
            .spec()
            .and_then(|s| s.get("targets"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    }
});

entity_object!(Template {
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// The template's parameter forms (JSON Schema), as written.
    async fn parameters(&self) -> async_graphql::Json<Value> {
        async_graphql::Json(self.0.spec().and_then(|s| s.get("parameters")).cloned().unwrap_or(Value::Null))
    }
    /// The template's steps, as written.
    async fn steps(&self) -> async_graphql::Json<Value> {
        async_graphql::Json(self.0.spec().and_then(|s| s.get("steps")).cloned().unwrap_or(Value::Null))
    }
});

entity_object!(GenericEntity {});
