//! Registering, unregistering and refreshing catalog sources at run time: the one policy both transports
//! (GraphQL mutations and Backstage's REST API) call. The read policy decides what may be read, reads
//! run under their source's timeout, and a registration whose first read fails is rolled back.

use sea_orm::DatabaseConnection;
use std::sync::Arc;

use super::{Origin, ProviderError, Registry};
use crate::auth::{AuthError, Caller};
use crate::catalog::model::Entity;
use crate::catalog::sources::{self, SourceStatus};
use crate::catalog::CatalogError;

/// Why a source operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A location that no provider reads, or that the read policy refuses (a bad input).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// What a location provides, read through the policy and not stored.
pub struct Preview {
    /// The key the location is (or would be) stored under.
    pub key: String,
    pub source_type: String,
    pub target: String,
    /// The valid entities it provides.
    pub entities: Vec<Entity>,
    /// Invalid entities (file:line: entity: field: reason), unreadable files and bad YAML.
    pub errors: Vec<String>,
    /// A source with this key is already registered (or configured).
    pub exists: bool,
}

/// The result of [`register`]: the new source (none for a dry run) and what it provides.
pub struct Registration {
    pub location: Option<SourceStatus>,
    pub preview: Preview,
}

/// Reads a location through the policy (no file outside the allowed directories, no host beyond the
/// allowed ones), within its source's timeout, without storing anything.
pub async fn preview(
    db: &DatabaseConnection,
    registry: &Registry,
    source_type: &str,
    target: &str,
) -> Result<(Preview, Arc<dyn super::Provider>), SourceError> {
    let target = target.trim();
    let provider = super::location_provider(source_type, target, &registry.resolver)?;
    let limit = registry.timeout_for(provider.key());
    let rules = registry.rules_for(provider.key());
    let reading = super::file::read_all(provider.as_ref(), &rules);
    let Ok(read) = tokio::time::timeout(limit, reading).await else {
        return Err(SourceError::Input(format!(
            "reading '{target}' took longer than {limit:?}"
        )));
    };
    let errors = read
        .invalid
        .iter()
        .map(ToString::to_string)
        .chain(read.errors.iter().cloned())
        .collect();
    let preview = Preview {
        key: provider.key().to_string(),
        source_type: provider.source_type().to_string(),
        target: target.to_string(),
        entities: read.entities,
        errors,
        exists: sources::exists(db, provider.key()).await?,
    };
    Ok((preview, provider))
}

/// Registers a location and reads it (`dry_run`: only reports what it would add). An existing location
/// is a conflict; when the first read fails, the registration is removed again.
pub async fn register(
    db: &DatabaseConnection,
    registry: &Registry,
    source_type: &str,
    target: &str,
    dry_run: bool,
) -> Result<Registration, SourceError> {
    let (preview, provider) = preview(db, registry, source_type, target).await?;
    if dry_run {
        return Ok(Registration {
            location: None,
            preview,
        });
    }
    store(db, registry, preview, provider).await
}

/// Stores a previewed location and reads it for the first time (removed again if that read fails).
async fn store(
    db: &DatabaseConnection,
    registry: &Registry,
    preview: Preview,
    provider: Arc<dyn super::Provider>,
) -> Result<Registration, SourceError> {
    if preview.exists {
        return Err(SourceError::Conflict(format!(
            "location {}:{} is already registered",
            preview.source_type, preview.target
        )));
    }
    let source = sources::register(db, &preview.key, &preview.source_type, &preview.target)
        .await
        .map_err(conflict_on_duplicate)?;
    first_read(db, registry, &preview.key, provider, true).await?;
    let location = sources::by_id(db, source.id).await?.unwrap_or(source);
    Ok(Registration {
        location: Some(location),
        preview,
    })
}

/// [`register`], except that a location stored already is read again now and returned (Backstage's
/// `onConflict: refresh`). The location is read through the policy once either way.
pub async fn register_or_refresh(
    db: &DatabaseConnection,
    registry: &Registry,
    source_type: &str,
    target: &str,
) -> Result<Registration, SourceError> {
    let (preview, provider) = preview(db, registry, source_type, target).await?;
    let stored = if preview.exists {
        sources::list(db)
            .await?
            .into_iter()
            .find(|s| s.key == preview.key)
    } else {
        None
    };
    let Some(stored) = stored else {
        return store(db, registry, preview, provider).await;
    };
    refresh_source(db, registry, &stored).await?;
    let location = sources::by_id(db, stored.id).await?.unwrap_or(stored);
    Ok(Registration {
        location: Some(location),
        preview,
    })
}

/// Registers a location unless it is stored already, then reads it now and applies what it provides,
/// within its source's timeout (as [`register`] and the scheduler do). A registration made here whose
/// first read fails is removed again. Used by `catalog:register`; returns the source's key.
pub async fn register_and_read(
    db: &DatabaseConnection,
    registry: &Registry,
    source_type: &str,
    target: &str,
) -> Result<(String, super::RefreshOutcome), SourceError> {
    let provider = super::location_provider(source_type, target.trim(), &registry.resolver)?;
    let key = provider.key().to_string();
    let new = !sources::exists(db, &key).await?;
    if new {
        sources::register(db, &key, provider.source_type(), target.trim())
            .await
            .map_err(conflict_on_duplicate)?;
    }
    let outcome = first_read(db, registry, &key, provider, new).await?;
    Ok((key, outcome))
}

/// Reads a registered source within its timeout. When the read fails and `forget` is set (the
/// registration was just made), the registration is not kept: the read's transaction rolled back, and
/// the source row goes too.
async fn first_read(
    db: &DatabaseConnection,
    registry: &Registry,
    key: &str,
    provider: Arc<dyn super::Provider>,
    forget: bool,
) -> Result<super::RefreshOutcome, SourceError> {
    let read = bounded(
        registry,
        key,
        super::refresh(db, provider, Origin::Registered, &registry.rules_for(key)),
    )
    .await;
    if read.is_err() && forget {
        remove_source(db, key).await?;
    }
    read
}

/// Removes the source `key` and the entities only it provided, in one transaction.
async fn remove_source(db: &DatabaseConnection, key: &str) -> Result<(), SourceError> {
    let applier = crate::catalog::ingest::Applier::begin(db, key).await?;
    applier.remove_location().await?;
    Ok(())
}

/// A registration racing another one for the same key loses on the unique index: a conflict too.
fn conflict_on_duplicate(e: CatalogError) -> SourceError {
    if let CatalogError::Db(db) = &e {
        if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = db.sql_err() {
            return SourceError::Conflict("this location is already registered".into());
        }
    }
    SourceError::Catalog(e)
}

/// The stored source with id `id`.
pub async fn by_id(db: &DatabaseConnection, id: &str) -> Result<SourceStatus, SourceError> {
    let Ok(n) = id.trim().parse::<i32>() else {
        return Err(SourceError::Input(format!("'{id}' is not a location id")));
    };
    sources::by_id(db, n)
        .await?
        .ok_or_else(|| SourceError::NotFound(format!("no location with id {n}")))
}

/// Removes a registered source and the entities only it provided (configured ones stay).
pub async fn unregister(db: &DatabaseConnection, id: &str) -> Result<SourceStatus, SourceError> {
    let source = by_id(db, id).await?;
    if source.origin != "registered" {
        return Err(SourceError::Input(format!(
            "location {} comes from the config file; remove it there",
            source.id
        )));
    }
    remove_source(db, &source.key).await?;
    Ok(source)
}

/// Points the registered location `id` at another type and target (Backstage's `PUT /locations/{id}`):
/// the new location is read through the policy first; another location already stored there is a
/// conflict. The entities move with the location and the new one is read at once, so those it still
/// provides keep their uids and the others go; when that read fails, the location points back where it
/// was and nothing else changed.
pub async fn update(
    db: &DatabaseConnection,
    registry: &Registry,
    id: &str,
    source_type: &str,
    target: &str,
) -> Result<SourceStatus, SourceError> {
    let old = by_id(db, id).await?;
    if old.origin != "registered" {
        return Err(SourceError::Input(format!(
            "location {} comes from the config file; change it there",
            old.id
        )));
    }
    let (preview, _) = preview(db, registry, source_type, target).await?;
    if preview.key != old.key {
        if preview.exists {
            return Err(SourceError::Conflict(format!(
                "location {}:{} is already registered",
                preview.source_type, preview.target
            )));
        }
        let new = (
            preview.key.as_str(),
            preview.source_type.as_str(),
            preview.target.as_str(),
        );
        sources::retarget(db, old.id, &old.key, new)
            .await
            .map_err(conflict_on_duplicate)?;
    }
    let moved = by_id(db, id).await?;
    if let Err(e) = refresh_source(db, registry, &moved).await {
        if moved.key != old.key {
            let back = (
                old.key.as_str(),
                old.source_type.as_str(),
                old.target.as_str(),
            );
            sources::retarget(db, old.id, &moved.key, back).await?;
        }
        return Err(e);
    }
    by_id(db, id).await
}

/// Reads one stored source now with its provider.
pub async fn refresh_source(
    db: &DatabaseConnection,
    registry: &Registry,
    source: &SourceStatus,
) -> Result<(), SourceError> {
    let origin = if source.origin == "registered" {
        Origin::Registered
    } else {
        Origin::Config
    };
    let provider =
        registry.provider_for(&source.key, &source.source_type, &source.target, origin)?;
    let rules = registry.rules_for(&source.key);
    bounded(
        registry,
        &source.key,
        super::refresh(db, provider, origin, &rules),
    )
    .await?;
    Ok(())
}

/// Reads the stored source `id` now and applies what changed; returns its status after the read.
pub async fn refresh_location(
    db: &DatabaseConnection,
    registry: &Registry,
    id: &str,
) -> Result<SourceStatus, SourceError> {
    let source = by_id(db, id).await?;
    refresh_source(db, registry, &source).await?;
    Ok(sources::by_id(db, source.id).await?.unwrap_or(source))
}

/// Re-reads the source that provides `entity_ref` (which `caller` must own under the ownership policy,
/// when `ownership` is on). Returns the canonical ref.
pub async fn refresh_now(
    db: &DatabaseConnection,
    registry: &Registry,
    ownership: bool,
    caller: &Caller,
    entity_ref: &str,
) -> Result<String, SourceError> {
    let r = crate::catalog::refs::EntityRef::parse_full(entity_ref)
        .map_err(|e| SourceError::Input(format!("invalid entity ref '{entity_ref}': {e}")))?
        .to_string();
    let Some(source) = sources::of_entity(db, &r).await? else {
        return Err(SourceError::NotFound(format!("no entity {r}")));
    };
    crate::auth::policy::enforce(db, ownership, caller, &r).await?;
    refresh_source(db, registry, &source).await?;
    Ok(r)
}

/// Removes the stored entity with `uid` (which `caller` must own under the ownership policy). Its
/// source provides it again at its next read if it still has it. Returns the entity's ref.
pub async fn remove_entity(
    db: &DatabaseConnection,
    ownership: bool,
    caller: &Caller,
    uid: &str,
) -> Result<String, SourceError> {
    let missing = || SourceError::NotFound(format!("no entity with uid {uid}"));
    let r = crate::catalog::ingest::ref_of_uid(db, uid)
        .await?
        .ok_or_else(missing)?;
    crate::auth::policy::enforce(db, ownership, caller, &r).await?;
    if !crate::catalog::ingest::remove_entity(db, &r).await? {
        return Err(missing());
    }
    Ok(r)
}

/// Runs a read within its source's timeout, so a hung source cannot hold a request (and a pooled
/// connection) forever.
async fn bounded<T>(
    registry: &Registry,
    key: &str,
    read: impl std::future::Future<Output = Result<T, CatalogError>>,
) -> Result<T, SourceError> {
    let limit = registry.timeout_for(key);
    match tokio::time::timeout(limit, read).await {
        Ok(done) => Ok(done?),
        Err(_) => Err(SourceError::Input(format!(
            "reading the location took longer than {limit:?}; nothing was changed"
        ))),
    }
}
