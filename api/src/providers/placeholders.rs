//! `$text`, `$json` and `$yaml` placeholders: substituted from a file relative to the entity's file, or a URL.

use serde_json::{Map, Value};
use std::path::Path;
use std::time::Duration;

use crate::catalog::model::StatusItem;

/// Reads placeholder targets. Remote targets go through one shared HTTP client with a timeout.
#[derive(Clone)]
pub struct PlaceholderResolver {
    http: reqwest::Client,
}

impl Default for PlaceholderResolver {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { http }
    }
}

const PROCESSING_ERROR: &str = "backstage.io/catalog-processing";

impl PlaceholderResolver {
    /// Replaces every placeholder in `doc`. A placeholder that cannot be read leaves an empty string in
    /// its place and adds an error status item; the entity itself is kept.
    pub async fn resolve(&self, doc: &mut Value, base_dir: &Path) -> Vec<StatusItem> {
        let mut status = Vec::new();
        let mut stack: Vec<(String, &mut Value)> = vec![(String::new(), doc)];
        while let Some((path, value)) = stack.pop() {
            if let Some((ph, target)) = placeholder(value) {
                let field = path.trim_start_matches('.').to_string();
                match self.read(&ph, &target, base_dir).await {
                    Ok(v) => *value = v,
                    Err(msg) => {
                        *value = Value::String(String::new());
                        status.push(StatusItem {
                            kind: PROCESSING_ERROR.into(),
                            level: "error".into(),
                            message: format!(
                                "{field}: placeholder ${ph} '{target}' could not be read: {msg}"
                            ),
                        });
                    }
                }
                continue;
            }
            match value {
                Value::Object(map) => {
                    for (k, v) in map.iter_mut() {
                        stack.push((format!("{path}.{k}"), v));
                    }
                }
                Value::Array(items) => {
                    for (i, v) in items.iter_mut().enumerate() {
                        stack.push((format!("{path}[{i}]"), v));
                    }
                }
                _ => {}
            }
        }
        status
    }

    async fn read(&self, ph: &str, target: &str, base_dir: &Path) -> Result<Value, String> {
        let text = if target.starts_with("http://") || target.starts_with("https://") {
            let resp = self
                .http
                .get(target)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("HTTP {}", resp.status()));
            }
            resp.text().await.map_err(|e| e.to_string())?
        } else {
            let path = base_dir.join(target);
            tokio::fs::read_to_string(&path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        };
        match ph {
            "text" => Ok(Value::String(text)),
            "json" => serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}")),
            _ => serde_yaml_ng::from_str(&text).map_err(|e| format!("invalid YAML: {e}")),
        }
    }
}

/// `{ "$text": "target" }` (exactly one key) → ("text", "target").
fn placeholder(value: &Value) -> Option<(String, String)> {
    let map: &Map<String, Value> = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let (k, v) = map.iter().next()?;
    let ph = k.strip_prefix('$')?;
    if !matches!(ph, "text" | "json" | "yaml") {
        return None;
    }
    Some((ph.to_string(), v.as_str()?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn substitutes_local_files_and_reports_unreadable_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("def.yaml"), "openapi: 3.0.0\n").unwrap();
        std::fs::write(dir.path().join("d.json"), "{\"a\": 1}").unwrap();
        let mut doc = json!({"spec": {"definition": {"$text": "./def.yaml"}, "data": {"$json": "d.json"},
                                      "other": {"$text": "./missing.txt"}}});
        let status = PlaceholderResolver::default()
            .resolve(&mut doc, dir.path())
            .await;
        assert_eq!(doc["spec"]["definition"], "openapi: 3.0.0\n");
        assert_eq!(doc["spec"]["data"]["a"], 1);
        assert_eq!(doc["spec"]["other"], "");
        assert_eq!(status.len(), 1);
        assert!(
            status[0]
                .message
                .starts_with("spec.other: placeholder $text './missing.txt'"),
            "{:?}",
            status
        );
    }
}
