//! `fs:delete`: deletes files, directories or globs inside the task's workspace, as Backstage's current
//! `fs:delete` does (wildcards expand, dot files included). A glob never expands through a link out of
//! the workspace, and the workspace itself is never deleted.

use super::{Action, ActionContext, ActionError};
use serde_json::Value;
use std::path::Path;

pub struct Delete;

/// Whether `m` (a match) lies inside the workspace `root` once its directory is resolved.
fn confined(root: &Path, m: &Path) -> bool {
    let (Some(parent), Some(_)) = (m.parent(), m.file_name()) else {
        return false;
    };
    parent
        .canonicalize()
        .map(|p| p.starts_with(root))
        .unwrap_or(false)
}

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
        let root = cx
            .workspace
            .canonicalize()
            .map_err(|e| ActionError::File("workspace".into(), e))?;
        for f in files {
            let pattern = f
                .as_str()
                .ok_or_else(|| ActionError::input("input.files holds strings"))?;
            // The pattern is checked as a path first, so a glob cannot climb out either.
            let full = cx.workspace_path(pattern)?;
            let rel = full.strip_prefix(&cx.workspace).unwrap_or(Path::new(""));
            if rel.as_os_str().is_empty() {
                return Err(ActionError::Input(format!(
                    "input.files: '{pattern}' is the workspace itself"
                )));
            }
            // Only the pattern globs: the workspace's own path is matched literally.
            let glob = format!(
                "{}/{}",
                glob::Pattern::escape(&root.display().to_string()),
                rel.display()
            );
            let matches = glob::glob(&glob)
                .map_err(|e| ActionError::Failed(format!("input.files: '{pattern}': {e}")))?;
            for m in matches.flatten() {
                if !confined(&root, &m) {
                    continue;
                }
                let Ok(meta) = tokio::fs::symlink_metadata(&m).await else {
                    continue;
                };
                let removed = if meta.is_dir() {
                    tokio::fs::remove_dir_all(&m).await
                } else {
                    tokio::fs::remove_file(&m).await
                };
                let shown = m.strip_prefix(&root).unwrap_or(&m).display().to_string();
                removed.map_err(|e| ActionError::File(shown.clone(), e))?;
                cx.log.log(&format!("deleted {shown}")).await;
            }
        }
        Ok(())
    }
}
