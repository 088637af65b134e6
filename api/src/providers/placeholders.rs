//! `$text`, `$json` and `$yaml` placeholders: substituted from a file relative to the entity's file (never
//! outside the provider's root), or a URL.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

use super::error::ProviderError;
use super::fetch::{Fetched, Fetcher};
use super::place::{digest, Place};
use crate::catalog::model::StatusItem;
use crate::confine::{Policy, Refused};

/// Reads placeholder targets: local files inside the provider's root, or URLs through the shared fetcher
/// (with its timeouts and size limit).
#[derive(Clone, Default)]
pub struct PlaceholderResolver {
    fetcher: Fetcher,
}

/// What placeholders read, so an unchanged file can be skipped next time only if these are unchanged too.
#[derive(Debug, Default)]
pub struct Deps {
    /// Local file -> digest of its content.
    pub files: BTreeMap<String, String>,
    /// A remote target was read, or a glob target expanded (what they give can change at any time, so
    /// the file is never skipped as unchanged).
    pub remote: bool,
}

const PROCESSING_ERROR: &str = "backstage.io/catalog-processing";

impl PlaceholderResolver {
    pub fn new(fetcher: Fetcher) -> Self {
        Self { fetcher }
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The policy every read goes through.
    pub fn policy(&self) -> &Policy {
        self.fetcher.policy()
    }

    /// Replaces every placeholder in `doc`, read relative to `base` (the entity's file or URL). Local
    /// files must lie inside `root`. A placeholder that cannot be read leaves an empty string in its
    /// place and adds an error status item; the entity itself is kept.
    pub async fn resolve(
        &self,
        doc: &mut Value,
        base: &Place,
        root: Option<&Path>,
        deps: &mut Deps,
    ) -> Vec<StatusItem> {
        let mut status = Vec::new();
        let mut stack: Vec<(String, &mut Value)> = vec![(String::new(), doc)];
        while let Some((path, value)) = stack.pop() {
            if let Some((ph, target)) = placeholder(value) {
                let field = path.trim_start_matches('.').to_string();
                match self.read(&ph, &target, base, root, deps).await {
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

    async fn read(
        &self,
        ph: &str,
        target: &str,
        base: &Place,
        root: Option<&Path>,
        deps: &mut Deps,
    ) -> Result<Value, ProviderError> {
        let absolute = target.starts_with("http://") || target.starts_with("https://");
        let text = match base {
            Place::Url(_) => self.fetch(base.join(Some("url"), target)?, deps).await?,
            Place::File(_) if absolute => self.fetch(base.join(Some("url"), target)?, deps).await?,
            Place::File(file) => {
                let dir = file.parent().unwrap_or(Path::new("/"));
                let Some(root) = root else {
                    return Err(Refused::OutsideRoots(target.to_string()).into());
                };
                let (path, text) = self
                    .policy()
                    .read_file(&dir.join(target), root, target)
                    .await?;
                deps.files.insert(path.display().to_string(), digest(&text));
                text
            }
        };
        if ph != "text"
            && crate::catalog::yaml_depth::deeper_than(&text, self.policy().max_yaml_depth())
        {
            return Err(ProviderError::Unreadable(format!(
                "nests deeper than {} levels; not parsed",
                self.policy().max_yaml_depth()
            )));
        }
        let unreadable = |what: &str, e: &dyn std::fmt::Display| {
            ProviderError::Unreadable(format!("invalid {what}: {e}"))
        };
        match ph {
            "text" => Ok(Value::String(text)),
            "json" => serde_json::from_str(&text).map_err(|e| unreadable("JSON", &e)),
            _ => crate::catalog::yaml_value::parse(&text, self.policy().max_yaml_depth())
                .map_err(|e| unreadable("YAML", &format!("line {}: {}", e.line, e.message))),
        }
    }

    async fn fetch(&self, place: Place, deps: &mut Deps) -> Result<String, ProviderError> {
        let Place::Url(url) = place else {
            return Err(ProviderError::Target("not a URL".into()));
        };
        deps.remote = true;
        match self.fetcher.get(&url, None).await? {
            Fetched::Body { text, .. } => Ok(text),
            Fetched::NotModified => Err(ProviderError::Unreadable(
                "unexpected 304 Not Modified".into(),
            )),
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
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let base = Place::File(root.join("entity.yaml"));
        let mut deps = Deps::default();
        let status = PlaceholderResolver::default()
            .resolve(&mut doc, &base, Some(&root), &mut deps)
            .await;
        assert_eq!(doc["spec"]["definition"], "openapi: 3.0.0\n");
        assert_eq!(doc["spec"]["data"]["a"], 1);
        assert_eq!(doc["spec"]["other"], "");
        assert_eq!(status.len(), 1);
        assert_eq!(deps.files.len(), 2, "{deps:?}");
        assert!(
            status[0]
                .message
                .starts_with("spec.other: placeholder $text './missing.txt'"),
            "{:?}",
            status
        );
    }
}
