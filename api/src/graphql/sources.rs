//! Catalog sources in the API: the `locations` query and the `refreshLocation` mutation.

use async_graphql::{Context, Object, SimpleObject, ID};

use super::errors::{ApiError, GqlResultExt};
use crate::catalog::sources::{self, SourceStatus};

type Res<T> = async_graphql::Result<T>;

/// A source the catalog reads entities from, with its refresh status.
#[derive(SimpleObject)]
pub struct LocationSource {
    pub id: ID,
    #[graphql(name = "type")]
    pub source_type: String,
    pub target: String,
    /// RFC 3339 times.
    pub last_refresh_at: Option<String>,
    pub last_success_at: Option<String>,
    pub next_refresh_at: Option<String>,
    /// Why the last read was incomplete (entities it provided before are kept).
    pub last_error: Option<String>,
    pub entity_count: i64,
}

fn time(ms: Option<i64>) -> Option<String> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339())
}

impl From<SourceStatus> for LocationSource {
    fn from(s: SourceStatus) -> Self {
        Self {
            id: ID(s.id.to_string()),
            source_type: s.source_type,
            target: s.target,
            last_refresh_at: time(s.last_refresh_at),
            last_success_at: time(s.last_success_at),
            next_refresh_at: time(s.next_refresh_at),
            last_error: s.last_error,
            entity_count: s.entity_count,
        }
    }
}

pub async fn list(ctx: &Context<'_>) -> Res<Vec<LocationSource>> {
    Ok(sources::list(super::loaders::database(ctx)?)
        .await
        .gql()?
        .into_iter()
        .map(LocationSource::from)
        .collect())
}

#[derive(Default)]
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Reads a source now and applies what changed. (Needs `catalog:write` once authentication exists.)
    async fn refresh_location(&self, ctx: &Context<'_>, id: ID) -> Res<LocationSource> {
        let db = super::loaders::database(ctx)?;
        let Ok(n) = id.parse::<i32>() else {
            return Err(ApiError::BadUserInput(format!(
                "'{}' is not a location id",
                id.as_str()
            )))
            .gql();
        };
        let Some(source) = sources::by_id(db, n).await.gql()? else {
            return Err(ApiError::NotFound(format!("no location with id {n}"))).gql();
        };
        if source.source_type != "file" {
            return Err(ApiError::BadUserInput(format!(
                "locations of type '{}' cannot be refreshed yet",
                source.source_type
            )))
            .gql();
        }
        let resolver = crate::providers::placeholders::PlaceholderResolver::default();
        crate::providers::refresh_file_location(db, &source.target, &resolver)
            .await
            .gql()?;
        let updated = sources::by_id(db, n).await.gql()?.unwrap_or(source);
        Ok(updated.into())
    }
}
