//! Objects for the organisation kinds: Group and User.

use async_graphql::Context;
use serde_json::Value;

use super::common::{entity_object, load_entity, relations, spec_ref, spec_string};
use super::{Entity, Profile};
use crate::catalog::store::StoredEntity;

type Res<T> = async_graphql::Result<T>;

fn profile(e: &StoredEntity) -> Option<Profile> {
    let p = e.spec()?.get("profile")?;
    let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Profile {
        display_name: s("displayName"),
        email: s("email"),
        picture: s("picture"),
    })
}

entity_object!(
    /// A team or other organisational unit that can own entities (`kind: Group`).
    Group {
    /// DORA metrics of what the group owns over the last `window`.
    async fn dora_metrics(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "30d", desc = "How far back from now: a duration such as `30d`, `12h` or `90m` (units `ms`, `s`, `m`, `h`, `d`; a bare number is seconds), at most `366d`; default `30d`.")]
        window: String,
        #[graphql(desc = "Only deployments to this environment (exact name); default: all.")]
        environment: Option<String>,
    ) -> Res<crate::graphql::deployment_live::DoraMetrics> {
        let filter = crate::deployments::service::Filter { owner: Some(self.0.entity_ref.clone()), ..Default::default() };
        crate::graphql::deployment_live::dora_of(ctx, filter, &window, environment).await
    }
    /// Deployments of what the group owns, newest first.
    #[allow(clippy::too_many_arguments)]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deployments to this environment (exact name); default: all.")]
        environment: Option<String>,
        #[graphql(desc = "Only deployments with this status; default: any.")]
        status: Option<crate::graphql::deployments::GqlStatus>,
        #[graphql(desc = "Page size, newest first from `after` (1 to 500; default 20).")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): older deployments follow.")]
        after: Option<String>,
        #[graphql(desc = "Page size, back from `before` (1 to 500); used only when `first` is absent.")]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor (an edge's `cursor` or `pageInfo.startCursor`): newer deployments.")]
        before: Option<String>,
    ) -> Res<crate::graphql::deployments::DeploymentConnection> {
        let scope = crate::deployments::service::Scope::Owner(self.0.entity_ref.clone());
        crate::graphql::deployments::of(ctx, scope, environment, status, crate::graphql::connection::PageArgs { first, after, last, before }).await
    }
    /// The group type from `spec.type`, e.g. `team` or `business-unit`.
    #[graphql(name = "type")]
    async fn spec_type(&self) -> Option<String> {
        spec_string(&self.0, "type")
    }
    /// Display name, email and picture from `spec.profile`, or null when absent.
    async fn profile(&self) -> Option<Profile> {
        profile(&self.0)
    }
    /// The parent group (`spec.parent`, else a `childOf` relation), or null when there is none in the catalog.
    async fn parent(&self, ctx: &Context<'_>) -> Res<Option<Group>> {
        if let Some(p) = spec_ref(&self.0, "parent", "group") {
            return Ok(load_entity(ctx, Some(p)).await?.map(Group));
        }
        const PARENT: &str = super::fields::relation_of("parent");
        let rels = relations(ctx, &self.0.entity_ref, PARENT).await?;
        let parent = rels.iter().find(|r| r.target_ref.starts_with("group:")).map(|r| r.target_ref.clone());
        Ok(load_entity(ctx, parent).await?.map(Group))
    }
} lists {
    /// Child groups (`parentOf` relations).
    children: Group = (Some("group"), Group),
    /// Users who are members of this group (`hasMember` relations).
    members: User = (Some("user"), User),
    /// Entities this group owns.
    owner_of: Entity = (None, Entity::from_stored),
});

entity_object!(
    /// A person, who can be a member of groups and own entities (`kind: User`).
    User {
    /// Display name, email and picture from `spec.profile`, or null when absent.
    async fn profile(&self) -> Option<Profile> {
        profile(&self.0)
    }
} lists {
    /// Groups this user is a member of (`memberOf` relations).
    member_of: Group = (Some("group"), Group),
    /// Entities this user owns directly.
    owner_of: Entity = (None, Entity::from_stored),
});
