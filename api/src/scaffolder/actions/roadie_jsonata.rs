//! Roadie's JSONata actions: `roadiehq:utils:jsonata` (an expression over `data`, its value the output
//! `result`), and `roadiehq:utils:jsonata:json:transform` / `:yaml:transform` (an expression over a
//! workspace file, its value as JSON or YAML text, or as is with `as: object`). They run in dry runs.

use serde_json::Value;

use super::roadie_text::{self, YamlOptions};
use super::{roadie_fs, roadie_serialize, Action, ActionContext, ActionError};
use crate::scaffolder::jsonata;

/// `input.expression` evaluated over `data`; `None` when JSONata's result is undefined.
async fn evaluate(cx: &ActionContext, data: Value) -> Result<Option<Value>, ActionError> {
    let expression = cx.input_str("expression")?;
    jsonata::evaluate(expression, data)
        .await
        .map_err(|e| ActionError::Failed(format!("JSONata failed to evaluate the expression: {e}")))
}

/// Whether `input.as` asks for the value itself (`object`) rather than its text (`string`, the default).
fn as_object(cx: &ActionContext) -> Result<bool, ActionError> {
    match cx.input.get("as") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::String(s)) if s == "string" => Ok(false),
        Some(Value::String(s)) if s == "object" => Ok(true),
        Some(_) => Err(ActionError::input(
            "input.as must be \"string\" or \"object\"",
        )),
    }
}

/// The workspace file named by `input.path`, read as text.
async fn read_input_file(cx: &ActionContext) -> Result<(String, String), ActionError> {
    let path = cx.input_str("path")?.to_string();
    let full = cx.workspace_path(&path)?;
    let bytes = tokio::fs::read(&full)
        .await
        .map_err(|e| ActionError::File(path.clone(), e))?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), path))
}

fn ordered(value: &Value) -> Result<serde_yaml_ng::Value, ActionError> {
    serde_yaml_ng::to_value(value).map_err(|e| ActionError::Failed(format!("result: {e}")))
}

pub struct Jsonata;

#[async_trait::async_trait]
impl Action for Jsonata {
    fn id(&self) -> &'static str {
        "roadiehq:utils:jsonata"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let data = cx.input.get("data").cloned().unwrap_or(Value::Null);
        if let Some(result) = evaluate(cx, data).await? {
            cx.output.insert("result".into(), result);
        }
        Ok(())
    }
}

pub struct JsonTransform;

#[async_trait::async_trait]
impl Action for JsonTransform {
    fn id(&self) -> &'static str {
        "roadiehq:utils:jsonata:json:transform"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let object = as_object(cx)?;
        let keys = roadie_serialize::replacer(cx)?;
        let gap = roadie_serialize::space(cx)?;
        let (text, path) = read_input_file(cx).await?;
        let data: Value = serde_json::from_str(&text).map_err(|e| {
            ActionError::Input(format!("input.path: {path} is not valid JSON: {e}"))
        })?;
        let Some(result) = evaluate(cx, data).await? else {
            return Ok(());
        };
        let result = if object {
            result
        } else {
            Value::String(roadie_text::json(&ordered(&result)?, keys.as_deref(), &gap))
        };
        cx.output.insert("result".into(), result);
        Ok(())
    }
}

pub struct YamlTransform;

#[async_trait::async_trait]
impl Action for YamlTransform {
    fn id(&self) -> &'static str {
        "roadiehq:utils:jsonata:yaml:transform"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let object = as_object(cx)?;
        let options = YamlOptions::from_input(cx.input.get("options"))?;
        let load_all = match cx.input.get("loadAll") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ActionError::input("input.loadAll must be a boolean")),
        };
        let (text, path) = read_input_file(cx).await?;
        let mut docs = roadie_fs::parse_yaml(&text, &path)?;
        let data = if load_all {
            Value::Array(docs)
        } else if docs.len() > 1 {
            return Err(ActionError::Input(format!(
                "input.path: {path} holds {} YAML documents (use loadAll: true)",
                docs.len()
            )));
        } else {
            docs.pop().unwrap_or(Value::Null)
        };
        let Some(result) = evaluate(cx, data).await? else {
            return Ok(());
        };
        let result = if object {
            result
        } else {
            Value::String(roadie_text::yaml(&ordered(&result)?, &options))
        };
        cx.output.insert("result".into(), result);
        Ok(())
    }
}
