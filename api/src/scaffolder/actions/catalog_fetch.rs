//! `catalog:fetch` (Backstage's): reads an entity (`entityRef` → output `entity`) or entities
//! (`entityRefs` → output `entities`, in the order asked) from the catalog, as Backstage's catalog API
//! serialises them. A missing entity fails the step unless `optional` is set (then it is `null`);
//! `defaultKind` and `defaultNamespace` complete short refs.

use serde_json::Value;

use super::{Action, ActionContext, ActionError};
use crate::catalog::backstage::view::entity_json;
use crate::catalog::refs::{EntityRef, DEFAULT_NAMESPACE};
use crate::catalog::store::{self, ANY_TYPE};

pub struct Fetch;

#[async_trait::async_trait]
impl Action for Fetch {
    fn id(&self) -> &'static str {
        "catalog:fetch"
    }

    /// Reading entities is a catalog read.
    fn scope(&self) -> Option<crate::auth::Scope> {
        Some(crate::auth::Scope::CatalogRead)
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let optional = match cx.input.get("optional") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ActionError::input("input.optional must be a boolean")),
        };
        let text = |key: &str| match cx.input.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ActionError::Input(format!("input.{key} must be a string"))),
        };
        let (default_kind, default_ns) = (text("defaultKind")?, text("defaultNamespace")?);
        let one = text("entityRef")?.filter(|s| !s.is_empty());
        let many = match cx.input.get("entityRefs") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|r| r.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        ActionError::input("input.entityRefs must be a list of strings")
                    })?,
            ),
            Some(_) => {
                return Err(ActionError::input(
                    "input.entityRefs must be a list of strings",
                ))
            }
        };
        if one.is_none() && many.is_none() {
            if optional {
                return Ok(());
            }
            return Err(ActionError::input(
                "input.entityRef or input.entityRefs is required",
            ));
        }
        let parse = |r: &str, key: &str| {
            let ns = default_ns.as_deref().unwrap_or(DEFAULT_NAMESPACE);
            EntityRef::parse(r, default_kind.as_deref(), ns)
                .map(|e| e.to_string())
                .map_err(|e| ActionError::Input(format!("input.{key}: {e}")))
        };
        if let Some(r) = one {
            let found = fetch(cx, &[parse(&r, "entityRef")?]).await?;
            let entity = found.into_iter().next().unwrap_or(Value::Null);
            if entity.is_null() && !optional {
                return Err(ActionError::Failed(format!("Entity {r} not found")));
            }
            cx.output.insert("entity".into(), entity);
        }
        if let Some(refs) = many {
            let keys = refs
                .iter()
                .map(|r| parse(r, "entityRefs"))
                .collect::<Result<Vec<_>, _>>()?;
            let found = fetch(cx, &keys).await?;
            if let Some(i) = found.iter().position(Value::is_null).filter(|_| !optional) {
                return Err(ActionError::Failed(format!("Entity {} not found", refs[i])));
            }
            cx.output.insert("entities".into(), Value::Array(found));
        }
        Ok(())
    }
}

/// The Backstage JSON of each canonical ref, in order (`null` where there is no such entity).
async fn fetch(cx: &ActionContext, refs: &[String]) -> Result<Vec<Value>, ActionError> {
    let failed = |e: crate::catalog::CatalogError| ActionError::Failed(format!("catalog: {e}"));
    let entities = store::entities_by_refs(&cx.db, refs)
        .await
        .map_err(failed)?;
    let keys: Vec<(String, String)> = entities
        .iter()
        .map(|e| (e.entity_ref.clone(), ANY_TYPE.to_string()))
        .collect();
    let relations = store::relations_from(&cx.db, &keys).await.map_err(failed)?;
    Ok(refs
        .iter()
        .map(|r| {
            entities
                .iter()
                .find(|e| &e.entity_ref == r)
                .map_or(Value::Null, |e| {
                    let own: Vec<_> = relations
                        .iter()
                        .filter(|rel| &rel.source_ref == r)
                        .cloned()
                        .collect();
                    entity_json(e, &own)
                })
        })
        .collect())
}
