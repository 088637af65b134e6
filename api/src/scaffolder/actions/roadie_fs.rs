//! Roadie's file actions (`@roadiehq/scaffolder-backend-module-utils`): `roadiehq:utils:fs:write`,
//! `roadiehq:utils:fs:append` and `roadiehq:utils:fs:parse`, confined to the task's workspace.

use serde_json::{json, Value};
use std::path::PathBuf;

use super::{roadie_text, Action, ActionContext, ActionError};

/// The workspace file named by `input.path`, and that path as given (for messages and the output).
fn target(cx: &ActionContext) -> Result<(PathBuf, String), ActionError> {
    let path = cx.input_str("path")?.to_string();
    Ok((cx.workspace_path(&path)?, path))
}

/// `input.content`, which must be a string.
fn content(cx: &ActionContext) -> Result<String, ActionError> {
    match cx.input.get("content") {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(ActionError::input("input.content is required (a string)")),
        Some(_) => Err(ActionError::input("input.content must be a string")),
    }
}

async fn parent_dirs(full: &std::path::Path, shown: &str) -> Result<(), ActionError> {
    if let Some(parent) = full.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| ActionError::File(shown.to_string(), e))?;
    }
    Ok(())
}

/// `roadiehq:utils:fs:write`: writes `content` to `path` (creating directories); with
/// `preserveFormatting`, content that is JSON is written indented by two spaces.
pub struct Write;

#[async_trait::async_trait]
impl Action for Write {
    fn id(&self) -> &'static str {
        "roadiehq:utils:fs:write"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let (full, path) = target(cx)?;
        let mut text = content(cx)?;
        let preserve = match cx.input.get("preserveFormatting") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ActionError::input(
                    "input.preserveFormatting must be a boolean",
                ))
            }
        };
        // As Roadie: content that is not JSON is written as given.
        if preserve && serde_json::from_str::<Value>(&text).is_ok() {
            if let Ok(ordered) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
                text = roadie_text::json(&ordered, None, "  ");
            }
        }
        parent_dirs(&full, &path).await?;
        tokio::fs::write(&full, text)
            .await
            .map_err(|e| ActionError::File(path.clone(), e))?;
        cx.log.log(&format!("wrote {path}")).await;
        cx.output.insert("path".into(), json!(path));
        Ok(())
    }
}

/// `roadiehq:utils:fs:append`: appends `content` to `path`, creating the file if it does not exist.
pub struct Append;

#[async_trait::async_trait]
impl Action for Append {
    fn id(&self) -> &'static str {
        "roadiehq:utils:fs:append"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        use tokio::io::AsyncWriteExt;
        let (full, path) = target(cx)?;
        let text = content(cx)?;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&full)
            .await
            .map_err(|e| ActionError::File(path.clone(), e))?;
        file.write_all(text.as_bytes())
            .await
            .map_err(|e| ActionError::File(path.clone(), e))?;
        cx.log.log(&format!("appended to {path}")).await;
        cx.output.insert("path".into(), json!(path));
        Ok(())
    }
}

/// `roadiehq:utils:fs:parse`: reads `path`, as text or parsed by `parser` (`yaml`, `json`, or
/// `multiyaml` for a list of every document), into the output `content`.
pub struct Parse;

#[async_trait::async_trait]
impl Action for Parse {
    fn id(&self) -> &'static str {
        "roadiehq:utils:fs:parse"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let (full, path) = target(cx)?;
        let parser = match cx.input.get("parser") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if ["yaml", "json", "multiyaml"].contains(&p.as_str()) => {
                Some(p.clone())
            }
            Some(_) => {
                return Err(ActionError::input(
                    "input.parser must be one of yaml, json, multiyaml",
                ))
            }
        };
        let bytes = tokio::fs::read(&full)
            .await
            .map_err(|e| ActionError::File(path.clone(), e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let content = match parser.as_deref() {
            None => Value::String(text),
            Some("json") => serde_json::from_str(&text).map_err(|e| {
                ActionError::Input(format!("input.path: {path} is not valid JSON: {e}"))
            })?,
            Some("yaml") => {
                let mut docs = parse_yaml(&text, &path)?;
                if docs.len() > 1 {
                    return Err(ActionError::Input(format!(
                        "input.path: {path} holds {} YAML documents (use parser: multiyaml)",
                        docs.len()
                    )));
                }
                docs.pop().unwrap_or(Value::Null)
            }
            Some(_) => Value::Array(parse_yaml(&text, &path)?),
        };
        cx.output.insert("content".into(), content);
        Ok(())
    }
}

/// Every document of a YAML text (none for an empty one).
pub fn parse_yaml(text: &str, path: &str) -> Result<Vec<Value>, ActionError> {
    use serde::Deserialize;
    let bad = |e: serde_yaml_ng::Error| {
        ActionError::Input(format!("input.path: {path} is not valid YAML: {e}"))
    };
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        docs.push(Value::deserialize(doc).map_err(bad)?);
    }
    Ok(docs)
}
