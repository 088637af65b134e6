//! Roadie's `roadiehq:utils:merge`: merges `content` into an existing `.json`, `.yaml` or `.yml` file
//! of the workspace as lodash's `mergeWith` does (objects deeply; arrays replaced, or concatenated
//! without repeated scalars when `mergeArrays` is set). A multi-document YAML file merges into the
//! documents whose top-level `useDocumentIncludingField.key` equals its `value`.

use serde_json::{json, Value};
use serde_yaml_ng::Value as Yv;

use super::roadie_text::{self, YamlOptions};
use super::{Action, ActionContext, ActionError};

pub struct Merge;

#[async_trait::async_trait]
impl Action for Merge {
    fn id(&self) -> &'static str {
        "roadiehq:utils:merge"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let path = cx.input_str("path")?.to_string();
        let full = cx.workspace_path(&path)?;
        let concat = flag(cx, "mergeArrays")?;
        let options = YamlOptions::from_input(cx.input.get("options"))?;
        if !full.is_file() {
            return Err(ActionError::Input(format!(
                "input.path: the file {path} does not exist"
            )));
        }
        let original = tokio::fs::read_to_string(&full)
            .await
            .map_err(|e| ActionError::File(path.clone(), e))?;
        let ext = full.extension().and_then(|e| e.to_str()).unwrap_or("");
        let merged = match ext {
            "json" => {
                let mut doc = parse_one(&original, &path)?;
                merge(&mut doc, &content(cx, true)?, concat);
                roadie_text::json(&doc, None, "  ")
            }
            "yaml" | "yml" => {
                if flag(cx, "preserveYamlComments")? {
                    cx.log
                        .log("preserveYamlComments is not supported: comments are not kept")
                        .await;
                }
                let docs = merge_documents(cx, &original, &path, concat)?;
                let texts: Vec<String> = docs
                    .iter()
                    .map(|d| roadie_text::yaml(d, &options))
                    .collect();
                texts.join("---\n")
            }
            _ => {
                // As Roadie: other files are left alone (and no output is set).
                cx.log
                    .log(&format!(
                        "{path} is not a .json, .yaml or .yml file: nothing merged"
                    ))
                    .await;
                return Ok(());
            }
        };
        tokio::fs::write(&full, merged)
            .await
            .map_err(|e| ActionError::File(path.clone(), e))?;
        cx.log.log(&format!("merged into {path}")).await;
        cx.output.insert("path".into(), json!(path));
        Ok(())
    }
}

fn flag(cx: &ActionContext, key: &str) -> Result<bool, ActionError> {
    match cx.input.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ActionError::Input(format!("input.{key} must be a boolean"))),
    }
}

/// `input.content`: an object, or a string holding one (JSON for `.json` files, YAML otherwise).
fn content(cx: &ActionContext, json_file: bool) -> Result<Yv, ActionError> {
    let bad = |why: String| ActionError::Input(format!("input.content: {why}"));
    let value = match cx.input.get("content") {
        Some(Value::String(s)) => {
            if json_file {
                serde_json::from_str::<Value>(s)
                    .map_err(|e| bad(format!("not valid JSON: {e}")))?;
            }
            serde_yaml_ng::from_str::<Yv>(s).map_err(|e| bad(format!("not valid YAML: {e}")))?
        }
        Some(v @ Value::Object(_)) => serde_yaml_ng::to_value(v).map_err(|e| bad(e.to_string()))?,
        Some(Value::Array(_) | Value::Bool(_) | Value::Number(_)) => {
            return Err(bad("must be an object or a string".into()))
        }
        None | Some(Value::Null) => {
            return Err(ActionError::input(
                "input.content is required (an object or a string)",
            ))
        }
    };
    if !matches!(value, Yv::Mapping(_)) {
        return Err(bad("must hold an object".into()));
    }
    Ok(value)
}

fn parse_one(text: &str, path: &str) -> Result<Yv, ActionError> {
    let doc: Yv = serde_yaml_ng::from_str(text)
        .map_err(|e| ActionError::Input(format!("input.path: {path} cannot be parsed: {e}")))?;
    match doc {
        Yv::Mapping(_) => Ok(doc),
        _ => Err(ActionError::Input(format!(
            "input.path: {path} does not hold an object"
        ))),
    }
}

fn merge_documents(
    cx: &ActionContext,
    original: &str,
    path: &str,
    concat: bool,
) -> Result<Vec<Yv>, ActionError> {
    use serde::Deserialize;
    let new = content(cx, false)?;
    let mut docs = Vec::new();
    for d in serde_yaml_ng::Deserializer::from_str(original) {
        docs.push(Yv::deserialize(d).map_err(|e| {
            ActionError::Input(format!("input.path: {path} is not valid YAML: {e}"))
        })?);
    }
    match docs.len() {
        0 => Err(ActionError::Input(format!(
            "input.path: no documents found in {path}"
        ))),
        1 => {
            merge(&mut docs[0], &new, concat);
            Ok(docs)
        }
        n => {
            let field = cx.input.get("useDocumentIncludingField");
            let (Some(key), Some(value)) = (
                field.and_then(|f| f.get("key")).and_then(Value::as_str),
                field.and_then(|f| f.get("value")).and_then(Value::as_str),
            ) else {
                return Err(ActionError::Input(format!(
                    "{path} holds {n} documents: input.useDocumentIncludingField {{key, value}} must say which to merge into"
                )));
            };
            for doc in &mut docs {
                let at = match doc.get(key) {
                    Some(Yv::String(s)) => s.clone(),
                    Some(Yv::Number(n)) => n.to_string(),
                    _ => {
                        return Err(ActionError::Input(format!(
                            "the value at \"{key}\" defined in input.useDocumentIncludingField must be a string or a number in every document"
                        )))
                    }
                };
                if at == value {
                    merge(doc, &new, concat);
                }
            }
            Ok(docs)
        }
    }
}

/// lodash `mergeWith(dst, src, customiser)` with Roadie's array customisers.
pub fn merge(dst: &mut Yv, src: &Yv, concat: bool) {
    if let Yv::Sequence(existing) = dst {
        if concat {
            let added: Vec<Yv> = match src {
                Yv::Sequence(s) => s.clone(),
                other => vec![other.clone()],
            };
            let mut out: Vec<Yv> = Vec::new();
            for item in existing.drain(..).chain(added) {
                let scalar = !matches!(item, Yv::Mapping(_) | Yv::Sequence(_));
                if !(scalar && out.contains(&item)) {
                    out.push(item);
                }
            }
            *existing = out;
        } else {
            *dst = src.clone();
        }
        return;
    }
    match (dst, src) {
        (Yv::Mapping(d), Yv::Mapping(s)) => {
            for (k, v) in s {
                match d.get_mut(k) {
                    Some(slot) => merge(slot, v, concat),
                    None => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(t: &str) -> Yv {
        serde_yaml_ng::from_str(t).unwrap()
    }

    #[test]
    fn merges_as_lodash_merge_with() {
        let mut d = y("{a: {b: 1, c: [1, 2]}, z: x}");
        merge(&mut d, &y("{a: {c: [2, 3], d: null}, n: [1]}"), true);
        assert_eq!(d, y("{a: {b: 1, c: [1, 2, 3], d: null}, z: x, n: [1]}"));
        merge(&mut d, &y("{a: {c: [9]}}"), false);
        assert_eq!(d, y("{a: {b: 1, c: [9], d: null}, z: x, n: [1]}"));
    }
}
