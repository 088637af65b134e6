//! The `Node` interface — every type with a global `id` — and `node(id:)`: a global ID decoded, and the
//! object it names loaded, with the same permissions as the field that lists it.

use async_graphql::{Context, Interface, ID};

use super::admin::AuditEntry;
use super::context;
use super::deployments::Deployment;
use super::errors::{ApiError, GqlResultExt};
use super::ids::{self, Kind};
use super::prefetch::fetch_refs;
use super::sources::LocationSource;
use super::task::{self, may_read, Task, TaskEvent, TaskStep, TemplateStep};
use super::types::{
    entity_enum, Api, Component, Domain, Entity, GenericEntity, Group, Location, Resource, System,
    Template, User,
};
use crate::auth::{audit, Scope};
use crate::catalog::store::StoredEntity;
use crate::scaffolder::tasks;
use std::sync::Arc;

type Res<T> = async_graphql::Result<T>;

entity_enum!(
    /// Any object with a global ID.
    #[derive(Interface)]
    #[graphql(
        name = "Node",
        field(name = "id", ty = "ID", desc = "Opaque global ID, accepted by `node(id:)`.")
    )]
    Node;
    Task(Task),
    TaskStep(TaskStep),
    TemplateStep(TemplateStep),
    TaskEvent(TaskEvent),
    Deployment(Deployment),
    LocationSource(LocationSource),
    AuditEntry(AuditEntry),
);

/// The object a global ID names: null when there is none, `BAD_USER_INPUT` when it is not a global
/// ID, `FORBIDDEN` where the list that shows it would refuse (audit entries, other callers' events).
pub async fn resolve(ctx: &Context<'_>, id: &ID) -> Res<Option<Node>> {
    let Some((kind, key)) = ids::decode(id) else {
        return Err(ApiError::BadUserInput(format!(
            "'{}' is not a valid node ID",
            id.as_str()
        )))
        .gql();
    };
    let db = context::database(ctx)?;
    let number = || ids::expect_number(id, kind);
    Ok(match kind {
        Kind::Entity => entity(ctx, key).await?.map(Node::from_stored),
        Kind::Deployment => crate::deployments::service::by_id(db, number()?)
            .await
            .gql()?
            .map(|d| Node::Deployment(Deployment(d))),
        Kind::LocationSource => {
            let n = i32::try_from(number()?).unwrap_or(-1);
            crate::catalog::sources::by_id(db, n)
                .await
                .gql()?
                .map(|s| Node::LocationSource(s.into()))
        }
        Kind::Task => tasks::get(db, &key)
            .await
            .gql()?
            .map(|t| Node::Task(Task(t))),
        Kind::TaskStep => task_step(ctx, &key).await?.map(Node::TaskStep),
        Kind::TemplateStep => template_step(ctx, &key).await?.map(Node::TemplateStep),
        Kind::TaskEvent => task_event(ctx, number()?).await?.map(Node::TaskEvent),
        Kind::AuditEntry => {
            super::guard::require(ctx, Scope::Admin)?;
            audit::by_id(db, number()?)
                .await
                .map_err(ApiError::from)
                .gql()?
                .map(|e| Node::AuditEntry(e.into()))
        }
    })
}

/// The entity `r`, loaded and prefetched like `entity(ref:)`.
async fn entity(ctx: &Context<'_>, r: String) -> Res<Option<Arc<StoredEntity>>> {
    Ok(fetch_refs(ctx, &[r]).await?.into_iter().next())
}

/// The step `<task id>#<index>`.
async fn task_step(ctx: &Context<'_>, key: &str) -> Res<Option<TaskStep>> {
    let Some((task_id, index)) = split_index(key) else {
        return Ok(None);
    };
    let found = tasks::get(context::database(ctx)?, task_id).await.gql()?;
    Ok(found.and_then(|t| task::steps(&t).into_iter().nth(index)))
}

/// A step key: its owner's key and its index among the owner's steps.
fn split_index(key: &str) -> Option<(&str, usize)> {
    let (owner, index) = key.rsplit_once(ids::PART)?;
    Some((owner, index.parse().ok()?))
}

/// The step `<template ref>#<index>` of a template in the catalog.
async fn template_step(ctx: &Context<'_>, key: &str) -> Res<Option<TemplateStep>> {
    let Some((template_ref, index)) = split_index(key) else {
        return Ok(None);
    };
    let found = entity(ctx, template_ref.to_string()).await?;
    let Some(Entity::Template(t)) = found.map(Entity::from_stored) else {
        return Ok(None);
    };
    let spec = t.0.body().get("spec").cloned().unwrap_or_default();
    let steps = crate::scaffolder::template::steps(&spec).map_err(ApiError::from)?;
    Ok(steps
        .into_iter()
        .nth(index)
        .map(|s| TemplateStep::of(template_ref, index, s)))
}

/// The event `n`, for its task's creator and admins.
async fn task_event(ctx: &Context<'_>, n: i64) -> Res<Option<TaskEvent>> {
    let db = context::database(ctx)?;
    let Some(event) = tasks::event_by_id(db, n).await.gql()? else {
        return Ok(None);
    };
    let Some(owner) = tasks::get(db, &event.task_id).await.gql()? else {
        return Ok(None);
    };
    may_read(ctx, &owner)?;
    Ok(Some(event.into()))
}
