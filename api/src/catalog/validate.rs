//! Backstage's validation rules for the envelope, metadata and each built-in kind's spec.

use regex::Regex;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::LazyLock;

use super::model::{Entity, SourcePos, StatusItem};
use super::refs::{EntityRef, DEFAULT_NAMESPACE};
use super::relations::ref_fields;

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("regex"));
static NAMESPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").expect("regex"));
static KIND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-z0-9A-Z]*$").expect("regex"));
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$").expect("regex"));
static KEY_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$").expect("regex"));
static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").expect("regex")
});

/// One problem with one field of one entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An entity document that was rejected, with every reason found.
#[derive(Clone, Debug)]
pub struct InvalidEntity {
    pub pos: SourcePos,
    /// `kind:namespace/name` as far as it could be read.
    pub entity: String,
    pub errors: Vec<FieldError>,
}

impl fmt::Display for InvalidEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reasons: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        write!(f, "{}: {}: {}", self.pos, self.entity, reasons.join("; "))
    }
}

struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn optional_string(&mut self, map: &Map<String, Value>, key: &str, path: &str) {
        if let Some(v) = map.get(key) {
            if !v.is_string() && !v.is_null() {
                self.err(format!("{path}.{key}"), "must be a string");
            }
        }
    }

    fn required_string(&mut self, map: &Map<String, Value>, key: &str, path: &str) {
        match map.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) => self.err(format!("{path}.{key}"), "must not be empty"),
            Some(_) => self.err(format!("{path}.{key}"), "must be a string"),
            None => self.err(format!("{path}.{key}"), "is required"),
        }
    }

    fn required_string_array(&mut self, map: &Map<String, Value>, key: &str, path: &str) {
        match map.get(key) {
            Some(Value::Array(items)) => {
                if items.iter().any(|i| !i.is_string()) {
                    self.err(format!("{path}.{key}"), "must be a list of strings");
                }
            }
            Some(_) => self.err(format!("{path}.{key}"), "must be a list of strings"),
            None => self.err(format!("{path}.{key}"), "is required"),
        }
    }

    fn key_value_map(&mut self, map: &Map<String, Value>, key: &str, check_values: bool) {
        let Some(v) = map.get(key) else { return };
        let Some(obj) = v.as_object() else {
            self.err(format!("metadata.{key}"), "must be a map of strings");
            return;
        };
        for (k, v) in obj {
            let field = format!("metadata.{key}.{k}");
            if let Err(m) = check_key(k) {
                self.err(field.clone(), m);
            }
            match v {
                Value::String(s) => {
                    if check_values && !s.is_empty() && (s.len() > 63 || !KEY_NAME.is_match(s)) {
                        self.err(field, format!("value '{s}' is not a valid label value"));
                    }
                }
                _ => self.err(field, "value must be a string"),
            }
        }
    }
}

/// Checks a label or annotation key: `[prefix/]name`.
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if p.is_empty() || p.len() > 253 || !DNS_SUBDOMAIN.is_match(p) {
            return Err(format!("key prefix '{p}' is not a valid DNS subdomain"));
        }
    }
    if name.is_empty() || name.len() > 63 || !KEY_NAME.is_match(name) {
        return Err(format!("key '{key}' is not a valid [prefix/]name"));
    }
    Ok(())
}

/// Validates a parsed document. On success, returns the entity with its namespace filled in.
pub fn validate(
    pos: SourcePos,
    mut body: Value,
    status: Vec<StatusItem>,
) -> Result<Entity, InvalidEntity> {
    let mut c = Checker { errors: Vec::new() };
    let label = describe(&body);
    let Some(root) = body.as_object() else {
        c.err("(document)", "an entity must be a YAML mapping");
        return Err(InvalidEntity {
            pos,
            entity: label,
            errors: c.errors,
        });
    };
    match root.get("apiVersion") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(_) => c.err("apiVersion", "must be a non-empty string"),
        None => c.err("apiVersion", "is required"),
    }
    let kind = match root.get("kind") {
        Some(Value::String(k)) if KIND.is_match(k) => k.clone(),
        Some(Value::String(k)) => {
            c.err(
                "kind",
                format!("'{k}' does not match ^[a-zA-Z][a-z0-9A-Z]*$"),
            );
            String::new()
        }
        Some(_) => {
            c.err("kind", "must be a string");
            String::new()
        }
        None => {
            c.err("kind", "is required");
            String::new()
        }
    };
    let empty = Map::new();
    let metadata = match root.get("metadata") {
        Some(Value::Object(m)) => m,
        Some(_) => {
            c.err("metadata", "must be a mapping");
            &empty
        }
        None => {
            c.err("metadata", "is required");
            &empty
        }
    };
    match metadata.get("name") {
        Some(Value::String(n)) if n.len() <= 63 && NAME.is_match(n) => {}
        Some(Value::String(n)) => c.err(
            "metadata.name",
            format!("'{n}' is not a valid name: 1-63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit"),
        ),
        Some(_) => c.err("metadata.name", "must be a string"),
        None if root.get("metadata").is_some() => c.err("metadata.name", "is required"),
        None => {}
    }
    let namespace = match metadata.get("namespace") {
        None | Some(Value::Null) => DEFAULT_NAMESPACE.to_string(),
        Some(Value::String(ns)) if ns.len() <= 63 && NAMESPACE.is_match(ns) => ns.clone(),
        Some(Value::String(ns)) => {
            c.err(
                "metadata.namespace",
                format!("'{ns}' is not a valid DNS label"),
            );
            DEFAULT_NAMESPACE.to_string()
        }
        Some(_) => {
            c.err("metadata.namespace", "must be a string");
            DEFAULT_NAMESPACE.to_string()
        }
    };
    c.optional_string(metadata, "title", "metadata");
    c.optional_string(metadata, "description", "metadata");
    c.key_value_map(metadata, "labels", true);
    c.key_value_map(metadata, "annotations", false);
    if let Some(tags) = metadata.get("tags") {
        match tags.as_array() {
            Some(items) => {
                for (i, t) in items.iter().enumerate() {
                    match t.as_str() {
                        Some(t) if !t.is_empty() && t.len() <= 63 && TAG.is_match(t) => {}
                        Some(t) => c.err(
                            format!("metadata.tags[{i}]"),
                            format!("'{t}' is not a valid tag: 1-63 characters of [a-z0-9:+#] separated by '-'"),
                        ),
                        None => c.err(format!("metadata.tags[{i}]"), "must be a string"),
                    }
                }
            }
            None => c.err("metadata.tags", "must be a list of strings"),
        }
    }
    if let Some(links) = metadata.get("links") {
        match links.as_array() {
            Some(items) => {
                for (i, l) in items.iter().enumerate() {
                    match l.get("url") {
                        Some(Value::String(u)) if !u.is_empty() => {}
                        _ => c.err(format!("metadata.links[{i}].url"), "is required"),
                    }
                }
            }
            None => c.err("metadata.links", "must be a list"),
        }
    }
    let spec = match root.get("spec") {
        Some(Value::Object(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(_) => {
            c.err("spec", "must be a mapping");
            None
        }
    };
    check_spec(&mut c, &kind, spec);
    if let Some(spec) = spec {
        check_refs(&mut c, &kind, spec, &namespace);
    }
    if !c.errors.is_empty() {
        return Err(InvalidEntity {
            pos,
            entity: label,
            errors: c.errors,
        });
    }
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), Value::String(namespace.clone()));
    }
    Ok(Entity {
        entity_ref: EntityRef::new(&kind, &namespace, &name),
        body,
        status,
        source: pos,
        doc_hash: None,
    })
}

/// A best-effort `kind:namespace/name` label for messages about a document.
pub fn describe(body: &Value) -> String {
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("?");
    let meta = body.get("metadata");
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_NAMESPACE);
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind}:{ns}/{name}")
}

fn check_spec(c: &mut Checker, kind: &str, spec: Option<&Map<String, Value>>) {
    let required: &[&str] = match kind.to_ascii_lowercase().as_str() {
        "component" => &["type", "lifecycle", "owner"],
        "api" => &["type", "lifecycle", "owner"],
        "resource" => &["type", "owner"],
        "system" | "domain" => &["owner"],
        "group" => &["type"],
        "template" => &["type"],
        "user" | "location" => &[],
        _ => return,
    };
    let empty = Map::new();
    let spec = match spec {
        Some(s) => s,
        None => {
            c.err("spec", "is required");
            &empty
        }
    };
    for key in required {
        c.required_string(spec, key, "spec");
    }
    match kind.to_ascii_lowercase().as_str() {
        "api" if !spec.contains_key("remotes") => match spec.get("definition") {
            Some(Value::String(_)) => {}
            Some(_) => c.err("spec.definition", "must be a string"),
            None => c.err("spec.definition", "is required (or spec.remotes)"),
        },
        "group" => c.required_string_array(spec, "children", "spec"),
        "user" => c.required_string_array(spec, "memberOf", "spec"),
        "location" => {
            let has_target = spec.get("target").is_some_and(Value::is_string);
            let has_targets = spec.get("targets").is_some_and(Value::is_array);
            if !has_target && !has_targets {
                c.err("spec.target", "is required (or spec.targets)");
            }
            c.optional_string(spec, "type", "spec");
        }
        _ => {}
    }
}

fn check_refs(c: &mut Checker, kind: &str, spec: &Map<String, Value>, namespace: &str) {
    for field in ref_fields(kind) {
        let Some(v) = spec.get(field.key) else {
            continue;
        };
        let values: Vec<(String, &Value)> = match v {
            Value::Array(items) if field.many => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("spec.{}[{i}]", field.key), item))
                .collect(),
            Value::Null => continue,
            other if !field.many => vec![(format!("spec.{}", field.key), other)],
            _ => {
                c.err(
                    format!("spec.{}", field.key),
                    "must be a list of entity references",
                );
                continue;
            }
        };
        for (path, item) in values {
            match item.as_str() {
                Some(s) => {
                    if let Err(e) = EntityRef::parse(s, field.default_kind, namespace) {
                        c.err(path, e.to_string());
                    }
                }
                None => c.err(path, "must be an entity reference string"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pos() -> SourcePos {
        SourcePos {
            file: "t.yaml".into(),
            line: 1,
        }
    }

    #[test]
    fn accepts_a_component_and_fills_namespace() {
        let e = validate(
            pos(),
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                   "metadata": {"name": "petstore", "tags": ["java", "pci-dss"]},
                   "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}}),
            vec![],
        )
        .unwrap();
        assert_eq!(e.entity_ref.to_string(), "component:default/petstore");
        assert_eq!(e.metadata()["namespace"], "default");
    }

    #[test]
    fn names_each_bad_field() {
        let err = validate(
            pos(),
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                   "metadata": {"name": "invalid component", "namespace": "Bad_NS", "tags": ["Java"],
                                "labels": {"-x": "y"}},
                   "spec": {"type": "service", "owner": "user:"}}),
            vec![],
        )
        .unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "metadata.name",
            "metadata.namespace",
            "metadata.tags[0]",
            "metadata.labels.-x",
            "spec.lifecycle",
            "spec.owner",
        ] {
            assert!(fields.contains(&f), "{f} missing in {err}");
        }
        assert!(err
            .to_string()
            .starts_with("t.yaml:1: Component:Bad_NS/invalid component: "));
    }

    #[test]
    fn api_accepts_remotes_instead_of_definition() {
        let base = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "mcp"},
                          "spec": {"type": "mcp-server", "lifecycle": "experimental", "owner": "team-a", "remotes": []}});
        assert!(validate(pos(), base, vec![]).is_ok());
        let missing = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "x"},
                             "spec": {"type": "openapi", "lifecycle": "production", "owner": "team-a"}});
        let err = validate(pos(), missing, vec![]).unwrap_err();
        assert_eq!(err.errors[0].field, "spec.definition");
    }

    #[test]
    fn generic_kinds_need_no_spec() {
        let e = validate(
            pos(),
            json!({"apiVersion": "x/v1", "kind": "Environment", "metadata": {"name": "prod"}}),
            vec![],
        );
        assert!(e.is_ok());
    }

    #[test]
    fn label_keys() {
        assert!(check_key("backstage.io/techdocs-ref").is_ok());
        assert!(check_key("simple").is_ok());
        assert!(check_key("Bad Prefix/x").is_err());
        assert!(check_key("a/").is_err());
    }
}
