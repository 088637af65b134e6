//! `fs:delete`: deletes files or globs inside the task's workspace.

use super::{Action, ActionContext, ActionError};
use serde_json::Value;

pub struct Delete;

#[async_trait::async_trait]
impl Action for Delete {
    fn id(&self) -> &'static str {
        "fs:delete"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let files = cx
            .input
            .get("files")
            .and_then(Value::as_array)
            .ok_or_else(|| ActionError::input("input.files is required: a list of paths or globs"))?
            .clone();
        for f in files {
            let pattern = f
                .as_str()
                .ok_or_else(|| ActionError::input("input.files holds strings"))?;
            // The pattern is checked as a path first, so a glob cannot climb out either.
            let full = cx.workspace_path(pattern)?;
            let matches = glob::glob(&full.display().to_string())
                .map_err(|e| ActionError::Failed(format!("{pattern}: {e}")))?;
            for m in matches.flatten() {
                if !m.starts_with(&cx.workspace) {
                    continue;
                }
                let removed = if m.is_dir() {
                    tokio::fs::remove_dir_all(&m).await
                } else {
                    tokio::fs::remove_file(&m).await
                };
                removed.map_err(|e| ActionError::File(m.display().to_string(), e))?;
                let shown = m
                    .strip_prefix(&cx.workspace)
                    .unwrap_or(&m)
                    .display()
                    .to_string();
                cx.log.log(&format!("deleted {shown}")).await;
            }
        }
        Ok(())
    }
}
