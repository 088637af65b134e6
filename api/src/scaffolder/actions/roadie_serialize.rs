//! Roadie's `roadiehq:utils:serialize:json` and `roadiehq:utils:serialize:yaml`: `data` (an object)
//! written as JSON or YAML text into the output `serialized`.

use serde_json::{json, Value};

use super::roadie_text::{self, YamlOptions};
use super::{Action, ActionContext, ActionError};

/// `input.data` as an ordered value; it must be an object, as Roadie's schema requires.
fn data(cx: &ActionContext) -> Result<serde_yaml_ng::Value, ActionError> {
    match cx.input.get("data") {
        Some(v @ Value::Object(_)) => {
            serde_yaml_ng::to_value(v).map_err(|e| ActionError::Input(format!("input.data: {e}")))
        }
        None | Some(Value::Null) => Err(ActionError::input("input.data is required (an object)")),
        Some(_) => Err(ActionError::input("input.data must be an object")),
    }
}

/// `input.replacer`: a list of property names, or none.
pub(super) fn replacer(cx: &ActionContext) -> Result<Option<Vec<String>>, ActionError> {
    let bad = || ActionError::input("input.replacer must be a list of strings");
    match cx.input.get("replacer") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            let keys = items
                .iter()
                .map(|k| k.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()?;
            // An empty list means no replacer, as in Roadie (`replacer?.length ? replacer : null`).
            Ok((!keys.is_empty()).then_some(keys))
        }
        Some(_) => Err(bad()),
    }
}

/// `input.space` as `JSON.stringify` reads it: a string (its first ten characters) or a number of
/// spaces (at most ten).
pub(super) fn space(cx: &ActionContext) -> Result<String, ActionError> {
    match cx.input.get("space") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.chars().take(10).collect()),
        Some(Value::Number(n)) => {
            let count = n.as_f64().unwrap_or(0.0).clamp(0.0, 10.0) as usize;
            Ok(" ".repeat(count))
        }
        Some(_) => Err(ActionError::input("input.space must be a string")),
    }
}

pub struct SerializeJson;

#[async_trait::async_trait]
impl Action for SerializeJson {
    fn id(&self) -> &'static str {
        "roadiehq:utils:serialize:json"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let data = data(cx)?;
        let keys = replacer(cx)?;
        let gap = space(cx)?;
        let text = roadie_text::json(&data, keys.as_deref(), &gap);
        cx.output.insert("serialized".into(), json!(text));
        Ok(())
    }
}

pub struct SerializeYaml;

#[async_trait::async_trait]
impl Action for SerializeYaml {
    fn id(&self) -> &'static str {
        "roadiehq:utils:serialize:yaml"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let data = data(cx)?;
        // Roadie declares `replacer` for this action too but never applies it; so it is checked only.
        replacer(cx)?;
        let options = YamlOptions::from_input(cx.input.get("options"))?;
        let text = roadie_text::yaml(&data, &options);
        cx.output.insert("serialized".into(), json!(text));
        Ok(())
    }
}
