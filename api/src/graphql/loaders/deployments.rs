//! Deployments by entity ref (key: `String`, the latest successful one per environment) and first pages
//! of deployment lists (key: [`service::ListKey`]).

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;

use crate::deployments::service::{self, Deployment as Row};
use crate::deployments::DeploymentError;
use crate::graphql::context;

/// Latest successful deployment per environment, by entity ref: one query for every entity of a page.
pub struct CurrentLoader {
    pub db: DatabaseConnection,
}

impl Loader<String> for CurrentLoader {
    type Value = Arc<Vec<Row>>;
    type Error = Arc<DeploymentError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let found = service::current(&self.db, keys).await.map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    Arc::new(found.get(k).cloned().unwrap_or_default()),
                )
            })
            .collect())
    }
}

pub type Current = DataLoader<CurrentLoader, super::request::RequestCache>;

/// First pages of deployment lists, one query per kind of list for the whole response.
pub struct ListLoader {
    pub db: DatabaseConnection,
}

impl Loader<service::ListKey> for ListLoader {
    type Value = Arc<Vec<Row>>;
    type Error = Arc<DeploymentError>;

    async fn load(
        &self,
        keys: &[service::ListKey],
    ) -> Result<HashMap<service::ListKey, Self::Value>, Self::Error> {
        let found = service::lists(&self.db, keys).await.map_err(Arc::new)?;
        Ok(found.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

pub type Lists = DataLoader<ListLoader, super::request::RequestCache>;

/// This request's current-deployments loader.
pub fn current<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Current> {
    context::data(ctx, "the deployment loader")
}

/// This request's deployment-list loader.
pub fn lists<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Lists> {
    context::data(ctx, "the deployment list loader")
}
