//! Catalog sources in the API: the `locations` query and the `refreshLocation` mutation.

use async_graphql::{Context, Object, SimpleObject, ID};

use std::sync::Arc;

use super::errors::{ApiError, GqlResultExt};
use crate::auth::Scope;
use crate::catalog::sources::{self, SourceStatus};
use crate::providers::{self, Origin, Registry};

type Res<T> = async_graphql::Result<T>;

/// A source the catalog reads entities from, with its refresh status.
#[derive(SimpleObject)]
pub struct LocationSource {
    /// The source's ID, for `refreshLocation` and `unregisterLocation`.
    pub id: ID,
    /// The provider type: `file`, `url` or `git`.
    #[graphql(name = "type")]
    pub source_type: String,
    /// What the source reads: a path, glob or URL.
    pub target: String,
    /// RFC 3339 times.
    pub last_refresh_at: Option<String>,
    /// When the source was last read without errors.
    pub last_success_at: Option<String>,
    /// When the scheduler will next read the source.
    pub next_refresh_at: Option<String>,
    /// Why the last read was incomplete (entities it provided before are kept).
    pub last_error: Option<String>,
    /// How many catalog entities came from this source at its last read.
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

/// What registering a location read (or, with `dryRun`, would add).
#[derive(SimpleObject)]
pub struct RegisterLocationResult {
    /// The new source; null for a dry run.
    pub location: Option<LocationSource>,
    /// The valid entities the location provides.
    pub entities: Vec<EntityPreview>,
    /// Problems: invalid entities (file:line: entity: field: reason) and unreadable files or bad YAML.
    pub errors: Vec<String>,
}

/// An entity a location provides, as read (not necessarily stored).
#[derive(SimpleObject)]
pub struct EntityPreview {
    /// Canonical reference `kind:namespace/name` (lowercase).
    #[graphql(name = "ref")]
    pub entity_ref: String,
    /// The kind as written, e.g. `Component`.
    pub kind: String,
    /// `metadata.name` as written.
    pub name: String,
}

/// A catalog source to register.
#[derive(async_graphql::InputObject)]
pub struct RegisterLocationInput {
    /// `file` (a path or glob on the server) or `url` (http or https).
    #[graphql(name = "type")]
    pub source_type: String,
    /// The path, glob or URL to read.
    pub target: String,
    /// Read and validate only; write nothing.
    #[graphql(default)]
    pub dry_run: bool,
}

async fn source_by_id(db: &sea_orm::DatabaseConnection, id: &ID) -> Res<SourceStatus> {
    let Ok(n) = id.parse::<i32>() else {
        return Err(ApiError::BadUserInput(format!(
            "'{}' is not a location id",
            id.as_str()
        )))
        .gql();
    };
    match sources::by_id(db, n).await.gql()? {
        Some(source) => Ok(source),
        None => Err(ApiError::NotFound(format!("no location with id {n}"))).gql(),
    }
}

fn registry(ctx: &Context<'_>) -> Arc<Registry> {
    ctx.data_opt::<Arc<Registry>>().cloned().unwrap_or_default()
}

/// Reads one source now with its provider.
async fn refresh_source(ctx: &Context<'_>, source: &SourceStatus) -> Res<()> {
    let db = super::loaders::database(ctx)?;
    let registry = registry(ctx);
    let origin = if source.origin == "registered" {
        Origin::Registered
    } else {
        Origin::Config
    };
    let provider = registry
        .provider_for(&source.key, &source.source_type, &source.target, origin)
        .map_err(ApiError::BadUserInput)
        .gql()?;
    bounded(
        &registry,
        &source.key,
        providers::refresh(db, provider, origin),
    )
    .await?;
    Ok(())
}

/// Runs a read within its source's timeout, so a hung source cannot hold a request (and a pooled
/// connection) forever.
async fn bounded<T>(
    registry: &Registry,
    key: &str,
    read: impl std::future::Future<Output = Result<T, crate::catalog::CatalogError>>,
) -> Res<T> {
    let limit = registry.timeout_for(key);
    match tokio::time::timeout(limit, read).await {
        Ok(done) => done.gql(),
        Err(_) => Err(ApiError::BadUserInput(format!(
            "reading {key} took longer than {limit:?}; nothing was changed"
        )))
        .gql(),
    }
}

/// Source mutations (each needs `catalog:write`).
#[derive(Default)]
pub struct SourcesMutation;

/// Source mutations (each needs `catalog:write`).
#[Object]
impl SourcesMutation {
    /// Adds a source at run time and reads it (`dryRun`: only reports what it would add).
    async fn register_location(
        &self,
        ctx: &Context<'_>,
        input: RegisterLocationInput,
    ) -> Res<RegisterLocationResult> {
        super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::loaders::database(ctx)?;
        let target = input.target.trim();
        // The policy decides before anything is read: no file outside the allowed directories, no host
        // beyond the allowed ones (and nothing said about what exists there).
        let provider =
            providers::location_provider(&input.source_type, target, &registry(ctx).resolver)
                .map_err(ApiError::BadUserInput)
                .gql()?;
        let limit = registry(ctx).timeout_for(provider.key());
        let Ok(read) =
            tokio::time::timeout(limit, providers::file::read_all(provider.as_ref())).await
        else {
            return Err(ApiError::BadUserInput(format!(
                "reading '{target}' took longer than {limit:?}"
            )))
            .gql();
        };
        let entities = read
            .entities
            .iter()
            .map(|e| EntityPreview {
                entity_ref: e.entity_ref.to_string(),
                kind: e.kind().to_string(),
                name: e.meta_str("name").unwrap_or_default().to_string(),
            })
            .collect();
        let errors: Vec<String> = read
            .invalid
            .iter()
            .map(ToString::to_string)
            .chain(read.errors.iter().cloned())
            .collect();
        if input.dry_run {
            return Ok(RegisterLocationResult {
                location: None,
                entities,
                errors,
            });
        }
        let source = sources::register(db, provider.key(), provider.source_type(), target)
            .await
            .gql()?;
        let key = provider.key().to_string();
        let applied = bounded(
            &registry(ctx),
            &key,
            providers::refresh(db, provider, Origin::Registered),
        )
        .await;
        if let Err(e) = applied {
            // A registration whose first read failed is not kept: the read's transaction rolled back,
            // and the source row goes too.
            let applier = crate::catalog::ingest::Applier::begin(db, &key)
                .await
                .gql()?;
            applier.remove_location().await.gql()?;
            return Err(e);
        }
        let source = sources::by_id(db, source.id).await.gql()?.unwrap_or(source);
        Ok(RegisterLocationResult {
            location: Some(source.into()),
            entities,
            errors,
        })
    }

    /// Re-reads the source that provides an entity, and returns the entity as it is now (null if the
    /// source no longer has it).
    async fn refresh_entity(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
    ) -> Res<Option<super::types::Entity>> {
        let caller = super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::loaders::database(ctx)?;
        let r = crate::catalog::refs::EntityRef::parse_full(&entity_ref)
            .map_err(|e| ApiError::BadUserInput(format!("invalid entity ref '{entity_ref}': {e}")))
            .gql()?
            .to_string();
        let Some(source) = sources::of_entity(db, &r).await.gql()? else {
            return Err(ApiError::NotFound(format!("no entity {r}"))).gql();
        };
        super::guard::require_owner(ctx, &caller, &r).await?;
        refresh_source(ctx, &source).await?;
        let found = crate::catalog::store::entities_by_refs(db, std::slice::from_ref(&r))
            .await
            .gql()?;
        Ok(found
            .into_iter()
            .next()
            .map(|e| super::types::Entity::from_stored(std::sync::Arc::new(e))))
    }

    /// Removes a registered source and the entities only it provided.
    async fn unregister_location(&self, ctx: &Context<'_>, id: ID) -> Res<bool> {
        super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::loaders::database(ctx)?;
        let source = source_by_id(db, &id).await?;
        let n = source.id;
        if source.origin != "registered" {
            return Err(ApiError::BadUserInput(format!(
                "location {n} comes from the config file; remove it there"
            )))
            .gql();
        }
        let applier = crate::catalog::ingest::Applier::begin(db, &source.key)
            .await
            .gql()?;
        applier.remove_location().await.gql()?;
        Ok(true)
    }

    /// Reads a source now and applies what changed. (Needs `catalog:write` once authentication exists.)
    async fn refresh_location(&self, ctx: &Context<'_>, id: ID) -> Res<LocationSource> {
        super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::loaders::database(ctx)?;
        let source = source_by_id(db, &id).await?;
        let n = source.id;
        refresh_source(ctx, &source).await?;
        let updated = sources::by_id(db, n).await.gql()?.unwrap_or(source);
        Ok(updated.into())
    }
}
