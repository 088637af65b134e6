//! Catalog sources in the API: the `locations` query and the source mutations (the policy itself is in
//! [`crate::providers::sources`], shared with the REST API).

use async_graphql::{Context, Object, SimpleObject, ID};

use super::connection::{connection, Page, PageArgs};
use super::errors::GqlResultExt;
use super::ids::{self, Kind};
use crate::auth::Scope;
use crate::catalog::sources::{self, SourceStatus};
use crate::keyset::Slice;
use crate::providers;

type Res<T> = async_graphql::Result<T>;

/// A source the catalog reads entities from, with its refresh status.
#[derive(SimpleObject, Clone)]
pub struct LocationSource {
    /// Opaque global ID of the source, for `refreshLocation`, `unregisterLocation` and `node(id:)`.
    #[graphql(owned)]
    pub id: ID,
    /// The provider type: `file`, `url` or `git`.
    #[graphql(name = "type")]
    pub source_type: String,
    /// What the source reads: a path, glob or URL.
    pub target: String,
    /// When the source was last read (RFC 3339, like every `DateTime`).
    pub last_refresh_at: Option<DateTime>,
    /// When the source was last read without errors.
    pub last_success_at: Option<DateTime>,
    /// When the scheduler will next read the source.
    pub next_refresh_at: Option<DateTime>,
    /// Why the last read was incomplete (entities it provided before are kept).
    pub last_error: Option<String>,
    /// How many catalog entities came from this source at its last read.
    pub entity_count: i64,
}

use super::time::{timestamp as time, DateTime};

impl From<SourceStatus> for LocationSource {
    fn from(s: SourceStatus) -> Self {
        Self {
            id: ids::encode(Kind::LocationSource, &s.id.to_string()),
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

/// The page of sources (by id, oldest first) that `args` ask for, with their count.
pub async fn page(ctx: &Context<'_>, args: PageArgs) -> Res<LocationSourceConnection> {
    let w = args.window(Kind::LocationSource, 100, 500, |k| k.parse::<i32>().ok())?;
    let all = sources::list(super::context::database(ctx)?).await.gql()?;
    let total = all.len() as i64;
    let slice = Slice::within(all, &w, |s| s.id);
    let page = Page::of(
        slice,
        Kind::LocationSource,
        |s| s.id.to_string(),
        LocationSource::from,
    );
    Ok(LocationSourceConnection(page.counted(total)))
}

/// The source a `LocationSource` global ID names, as the providers key it.
fn source_key(id: &ID) -> Res<String> {
    ids::expect_number(id, Kind::LocationSource).map(|n| n.to_string())
}

connection!(
    LocationSourceConnection,
    LocationSourceEdge,
    LocationSource,
    "A page of the catalog's sources, oldest first (Relay connection).",
    "One source in a page, with its cursor.",
    counted
);

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

fn ownership(ctx: &Context<'_>) -> async_graphql::Result<bool> {
    Ok(super::context::auth(ctx)?.ownership_policy)
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
        #[graphql(desc = "The source: its type and target, and whether only to preview it.")]
        input: RegisterLocationInput,
    ) -> Res<RegisterLocationResult> {
        super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::context::database(ctx)?;
        let done = providers::sources::register(
            db,
            super::context::registry(ctx)?,
            &input.source_type,
            &input.target,
            input.dry_run,
        )
        .await
        .gql()?;
        let entities = done
            .preview
            .entities
            .iter()
            .map(|e| EntityPreview {
                entity_ref: e.entity_ref.to_string(),
                kind: e.kind().to_string(),
                name: e.meta_str("name").unwrap_or_default().to_string(),
            })
            .collect();
        Ok(RegisterLocationResult {
            location: done.location.map(LocationSource::from),
            entities,
            errors: done.preview.errors,
        })
    }

    /// Re-reads the source that provides an entity, and returns the entity as it is now (null if the
    /// source no longer has it).
    async fn refresh_entity(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            name = "ref",
            desc = "The entity: `kind:namespace/name` or `kind:name`, any case; kind is required, namespace defaults to `default`."
        )]
        entity_ref: String,
    ) -> Res<Option<super::types::Entity>> {
        let caller = super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::context::database(ctx)?;
        let r = providers::sources::refresh_now(
            db,
            super::context::registry(ctx)?,
            ownership(ctx)?,
            &caller,
            &entity_ref,
        )
        .await
        .gql()?;
        let found = crate::catalog::store::entities_by_refs(db, std::slice::from_ref(&r))
            .await
            .gql()?;
        Ok(found
            .into_iter()
            .next()
            .map(|e| super::types::Entity::from_stored(std::sync::Arc::new(e))))
    }

    /// Removes a registered source and the entities only it provided.
    async fn unregister_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `id` (global ID) of the `LocationSource` to remove.")] id: ID,
    ) -> Res<bool> {
        super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::context::database(ctx)?;
        providers::sources::unregister(db, &source_key(&id)?)
            .await
            .gql()?;
        Ok(true)
    }

    /// Reads a source now and applies what changed. (Needs `catalog:write` once authentication exists.)
    async fn refresh_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `id` (global ID) of the `LocationSource` to read.")] id: ID,
    ) -> Res<LocationSource> {
        super::guard::require(ctx, Scope::CatalogWrite)?;
        let db = super::context::database(ctx)?;
        let updated = providers::sources::refresh_location(
            db,
            super::context::registry(ctx)?,
            &source_key(&id)?,
        )
        .await
        .gql()?;
        Ok(updated.into())
    }
}
