//! `catalog:write`: writes an entity as `catalog-info.yaml` (or `filePath`) into the workspace.

use serde_json::Value;

use super::{Action, ActionContext, ActionError};

pub struct Write;

#[async_trait::async_trait]
impl Action for Write {
    fn id(&self) -> &'static str {
        "catalog:write"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let entity = cx
            .input
            .get("entity")
            .filter(|e| e.is_object())
            .ok_or_else(|| ActionError::input("input.entity is required (an object)"))?;
        let yaml =
            serde_yaml_ng::to_string(entity).map_err(|e| ActionError::Failed(e.to_string()))?;
        let path = cx
            .input
            .get("filePath")
            .and_then(Value::as_str)
            .unwrap_or("catalog-info.yaml")
            .to_string();
        let full = cx.workspace_path(&path)?;
        if let Some(parent) = full.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| ActionError::File(path.clone(), e))?;
        }
        tokio::fs::write(&full, yaml)
            .await
            .map_err(|e| ActionError::File(path.clone(), e))?;
        cx.log.log(&format!("wrote {path}")).await;
        Ok(())
    }
}
