//! `fs:rename`: moves files inside the task's workspace.

use super::{Action, ActionContext, ActionError};
use serde_json::Value;

pub struct Rename;

#[async_trait::async_trait]
impl Action for Rename {
    fn id(&self) -> &'static str {
        "fs:rename"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let files = cx
            .input
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| ActionError::input("input.files is required: a list of {from, to}"))?
            .clone();
        for f in files {
            let (Some(from), Some(to)) = (
                f.get("from").and_then(Value::as_str),
                f.get("to").and_then(Value::as_str),
            ) else {
                return Err(ActionError::input("each of input.files needs from and to"));
            };
            let overwrite = f.get("overwrite").and_then(Value::as_bool).unwrap_or(false);
            let (src, dst) = (cx.workspace_path(from)?, cx.workspace_path(to)?);
            if !src.exists() {
                return Err(ActionError::Input(format!("{from} does not exist")));
            }
            if dst.exists() && !overwrite {
                return Err(ActionError::Input(format!(
                    "{to} exists (set overwrite: true to replace it)"
                )));
            }
            if let Some(parent) = dst.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| ActionError::File(to.to_string(), e))?;
            }
            tokio::fs::rename(&src, &dst)
                .await
                .map_err(|e| ActionError::File(format!("{from} -> {to}"), e))?;
            cx.log.log(&format!("renamed {from} to {to}")).await;
        }
        Ok(())
    }
}
