//! A working copy of the git source a template was read from, made for one run when its steps fetch
//! files: the template's skeletons are read from it (through the source's own provider, so the read
//! policy applies), and removed with it after the run.

use std::path::PathBuf;

use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::actions::Registry;
use super::template::{StepSpec, TemplateSource, SOURCE_KEY};
use crate::providers::Origin;

/// The checkout of one run: kept alive (and then removed) with it.
pub struct Checkout {
    _dir: tempfile::TempDir,
    /// The repository's root.
    pub root: PathBuf,
    /// The directory of the template's file in it.
    pub base: PathBuf,
}

/// The checkout a run needs: `None` for templates not from a git source, or whose steps fetch nothing.
pub async fn of_template(
    db: &DatabaseConnection,
    actions: &Registry,
    spec: &Value,
    steps: &[StepSpec],
) -> Result<Option<Checkout>, String> {
    let Some(source) = spec
        .get(SOURCE_KEY)
        .cloned()
        .and_then(|v| serde_json::from_value::<TemplateSource>(v).ok())
    else {
        return Ok(None);
    };
    if !steps.iter().any(|s| s.action.starts_with("fetch:")) {
        return Ok(None);
    }
    let Some(sources) = &actions.sources else {
        return Err(
            "the template's git source cannot be read here (no sources are configured)".into(),
        );
    };
    let stored = crate::catalog::sources::list(db)
        .await
        .map_err(|e| format!("the template's source: {e}"))?;
    let Some(row) = stored.into_iter().find(|s| s.key == source.key) else {
        return Err("the template's git source is no longer registered".into());
    };
    let origin = match row.origin.as_str() {
        "registered" => Origin::Registered,
        _ => Origin::Config,
    };
    let provider = sources
        .provider_for(&row.key, &row.source_type, &row.target, origin)
        .map_err(|e| format!("the template's source: {e}"))?;
    let dir = tempfile::Builder::new()
        .prefix("greenroom-template-")
        .tempdir()
        .map_err(|e| format!("a checkout directory: {e}"))?;
    let into = dir.path().join("checkout");
    let limit = sources.timeout_for(&row.key);
    let file = tokio::time::timeout(limit, provider.checkout(&into, &source.file))
        .await
        .map_err(|_| format!("checking out the template's source took longer than {limit:?}"))?
        .map_err(|e| format!("checking out the template's source: {e}"))?
        .ok_or_else(|| "the template's source has no working copy to fetch from".to_string())?;
    let root = into
        .canonicalize()
        .map_err(|e| format!("the template's checkout: {e}"))?;
    let base = file
        .parent()
        .map(|p| root.join(p.strip_prefix(&into).unwrap_or(p)))
        .unwrap_or_else(|| root.clone());
    Ok(Some(Checkout {
        _dir: dir,
        root,
        base,
    }))
}
