//! `catalog:register`: registers the published `catalog-info.yaml` as a source and reads it at once, so its
//! entities are in the catalog when the step ends. Its output names the entity it registered
//! (`entityRef`, chosen as Backstage chooses it) for templates' "Open in catalog" links.

use serde_json::{json, Value};

use super::{Action, ActionContext, ActionError};
use std::sync::Arc;

use crate::providers::{sources, Registry};

/// Registers and reads through the server's sources: their read policy and their timeouts, as
/// `registerLocation` does.
pub struct Register {
    pub sources: Arc<Registry>,
}

#[async_trait::async_trait]
impl Action for Register {
    fn id(&self) -> &'static str {
        "catalog:register"
    }

    fn publishes(&self) -> bool {
        true
    }

    /// Backstage's outputs, as examples (`locationKey` and `entities` are Greenroom's own).
    fn dry_run_output(
        &self,
        _input: &serde_json::Value,
    ) -> serde_json::Map<String, serde_json::Value> {
        super::example_output(&["entityRef", "catalogInfoUrl"], &[])
    }

    /// Registering sources is a catalog write.
    fn scope(&self) -> Option<crate::auth::Scope> {
        Some(crate::auth::Scope::CatalogWrite)
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        // `repoContentsUrl` (from publish:git) + `catalogInfoPath`, or a `catalogInfoUrl` to read over HTTP.
        let (kind, target) = match (
            cx.input.get("repoContentsUrl").and_then(Value::as_str),
            cx.input.get("catalogInfoUrl").and_then(Value::as_str),
        ) {
            (Some(repo), _) => {
                let path = cx
                    .input
                    .get("catalogInfoPath")
                    .and_then(Value::as_str)
                    .unwrap_or("/catalog-info.yaml");
                ("git", format!("{repo}:{}", path.trim_start_matches('/')))
            }
            (None, Some(url)) => ("url", url.to_string()),
            (None, None) => {
                return Err(ActionError::input(
                    "input.repoContentsUrl or input.catalogInfoUrl is required",
                ))
            }
        };
        let (key, outcome) = sources::register_and_read(&cx.db, &self.sources, kind, &target)
            .await
            .map_err(|e| ActionError::Failed(format!("could not register {target}: {e}")))?;
        if let Some(problem) = outcome
            .errors
            .first()
            .cloned()
            .or_else(|| outcome.invalid.first().map(ToString::to_string))
        {
            return Err(ActionError::Failed(format!("{target}: {problem}")));
        }
        cx.log
            .log(&format!("registered {target} ({} entities)", outcome.valid))
            .await;
        cx.output.insert("locationKey".into(), json!(key));
        cx.output.insert("entities".into(), json!(outcome.valid));
        if let Some(entity_ref) = chosen_ref(&cx.db, &key).await? {
            cx.output.insert("entityRef".into(), json!(entity_ref));
        }
        cx.output.insert("catalogInfoUrl".into(), json!(target));
        Ok(())
    }
}

/// The ref of the source's entity a template links to, as Backstage picks it: the first `Component`
/// whose name does not start with `generated-`, else the first such entity of any kind, else the first
/// (in ref order); written as Backstage's `stringifyEntityRef` does (kind and namespace lowercase).
async fn chosen_ref(
    db: &sea_orm::DatabaseConnection,
    key: &str,
) -> Result<Option<String>, ActionError> {
    use entity::entities;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let rows = entities::Entity::find()
        .filter(entities::Column::LocationKey.eq(key))
        .order_by_asc(entities::Column::EntityRef)
        .all(db)
        .await
        .map_err(|e| ActionError::Failed(format!("catalog: {e}")))?;
    let named = |r: &&entities::Model| !r.name.starts_with("generated-");
    let pick = rows
        .iter()
        .filter(named)
        .find(|r| r.kind == "component")
        .or_else(|| rows.iter().find(named))
        .or_else(|| rows.first());
    Ok(pick.map(|r| {
        let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        let name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(&r.name);
        format!("{}:{}/{name}", r.kind, r.namespace)
    }))
}
