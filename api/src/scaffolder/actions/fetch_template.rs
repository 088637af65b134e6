//! `fetch:template`: copies a skeleton directory of the template's source into the workspace, rendering
//! file contents and names with `${{ values.* }}`, except files matching `copyWithoutTemplating`. Each
//! file renders on a blocking thread within the fuel and `scaffolder.maxFileBytes`.

use serde_json::Value;
use std::path::Path;

use super::files::{copy_tree, source, target};
use super::{Action, ActionContext, ActionError};

pub struct FetchTemplate;

#[async_trait::async_trait]
impl Action for FetchTemplate {
    fn id(&self) -> &'static str {
        "fetch:template"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let (_, src) = source(cx)?;
        let dst = target(cx)?;
        let values = cx.input.get("values").cloned().unwrap_or(Value::Null);
        let raw: Vec<glob::Pattern> = cx
            .input
            .get("copyWithoutTemplating")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|p| glob::Pattern::new(p.trim_start_matches("./")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|e| ActionError::Input(format!("copyWithoutTemplating: {e}")))?
            .unwrap_or_default();
        let cap = crate::scaffolder::expr::limits().max_file_bytes;
        let n = tokio::task::spawn_blocking(move || {
            let env = crate::scaffolder::expr::environment();
            let ctx = minijinja::Value::from_serialize(serde_json::json!({ "values": values }));
            let render = |rel: &Path, text: &str| -> Result<Option<String>, ActionError> {
                let rel_s = rel.display().to_string();
                if raw.iter().any(|p| p.matches(&rel_s)) {
                    return Ok(None);
                }
                if !text.contains("${{") && !text.contains("{%") {
                    return Ok(None);
                }
                crate::scaffolder::expr::render_text(&env, text, &ctx, cap)
                    .map(Some)
                    .map_err(|e| ActionError::Failed(format!("{rel_s}: {e}")))
            };
            let mut n = 0;
            copy_tree(&src, &dst, Path::new(""), &render, &mut n).map(|_| n)
        })
        .await
        .map_err(|_| ActionError::Failed("the rendering stopped".into()))??;
        cx.log.log(&format!("rendered {n} files")).await;
        Ok(())
    }
}
