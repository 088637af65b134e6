//! Backstage's validation of an entity document, as a stock Backstage catalog applies it: the envelope
//! schema, the default entity policies (no foreign root fields, field formats), the kind's own schema (see
//! `kinds`) and the entity refs its relations are built from.

use regex::Regex;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::LazyLock;

use super::checker::Checker;
pub use super::checker::FieldError;
use super::kinds;
use super::model::{Entity, SourcePos, StatusItem};
use super::refs::{EntityRef, DEFAULT_NAMESPACE};
use super::relations::ref_fields;

static OBJECT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("regex"));
static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(-+[a-z0-9]+)*$").expect("regex"));
static KIND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-z0-9A-Z]*$").expect("regex"));
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$").expect("regex"));
static VERSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9A-Z]+$").expect("regex"));

/// The root fields an entity may have (Backstage's NoForeignRootFieldsEntityPolicy).
const ROOT_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];
/// Optional metadata collections whose `null` (a key holding only comments) is read as empty.
/// `true`: the empty value is a mapping; `false`: a list.
const NULL_AS_EMPTY: [(&str, bool); 4] = [
    ("labels", true),
    ("annotations", true),
    ("tags", false),
    ("links", false),
];

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

impl Checker {
    /// An optional string field: absent, or a string of at least `min` characters.
    fn string(&mut self, map: &Map<String, Value>, key: &str, path: &str, min: usize) {
        match map.get(key) {
            None => {}
            Some(Value::String(s)) if s.chars().count() >= min => {}
            Some(Value::String(_)) => self.err(format!("{path}{key}"), "must not be empty"),
            Some(_) => self.err(format!("{path}{key}"), "must be a string"),
        }
    }

    fn key_value_map(&mut self, map: &Map<String, Value>, key: &str, labels: bool) {
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
                    if labels && !s.is_empty() && !is_object_name(s) {
                        self.err(field, format!("value '{s}' is not a valid label value"));
                    }
                }
                _ => self.err(field, "value must be a string"),
            }
        }
    }
}

fn is_object_name(s: &str) -> bool {
    s.len() <= 63 && OBJECT_NAME.is_match(s)
}

fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && DNS_LABEL.is_match(s)
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Checks a label or annotation key: `[prefix/]name`, the prefix a DNS subdomain.
fn check_key(key: &str) -> Result<(), String> {
    let parts: Vec<&str> = key.split('/').collect();
    let ok = match parts.as_slice() {
        [name] => is_object_name(name),
        [prefix, name] => is_dns_subdomain(prefix) && is_object_name(name),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key '{key}' is not a valid [prefix/]name (the prefix a DNS subdomain of at most 253 characters)"
        ))
    }
}

/// Checks an apiVersion: `[group/]version`, the group a DNS subdomain.
fn valid_api_version(v: &str) -> bool {
    let version = |n: &str| n.len() <= 63 && VERSION.is_match(n);
    match v.split('/').collect::<Vec<_>>().as_slice() {
        [ver] => version(ver),
        [group, ver] => is_dns_subdomain(group) && version(ver),
        _ => false,
    }
}

/// Reads `null` optional metadata collections as empty, so a key holding only comments loads.
fn null_as_empty(body: &mut Value) {
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        for (key, is_map) in NULL_AS_EMPTY {
            if meta.get(key).is_some_and(Value::is_null) {
                let empty = if is_map {
                    Value::Object(Map::new())
                } else {
                    Value::Array(Vec::new())
                };
                meta.insert(key.to_string(), empty);
            }
        }
    }
}

/// Validates a parsed document. On success, returns the entity with its namespace filled in.
pub fn validate(
    pos: SourcePos,
    mut body: Value,
    status: Vec<StatusItem>,
) -> Result<Entity, InvalidEntity> {
    let mut c = Checker { errors: Vec::new() };
    let label = describe(&body);
    null_as_empty(&mut body);
    let Some(root) = body.as_object() else {
        c.err("(document)", "an entity must be a YAML mapping");
        return Err(InvalidEntity {
            pos,
            entity: label,
            errors: c.errors,
        });
    };
    let kind = envelope(&mut c, root);
    let empty = Map::new();
    let metadata = root
        .get("metadata")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let namespace = check_metadata(&mut c, metadata, root.contains_key("metadata"));
    if let Some(kind) = &kind {
        check_kind(&mut c, root, kind, &namespace);
    }
    // A placeholder that could not be read leaves an empty value and a status error: the entity is kept.
    c.errors.retain(|e| {
        e.message != "must not be empty"
            || !status.iter().any(|s| {
                s.level == "error" && s.message.starts_with(&format!("{}: placeholder", e.field))
            })
    });
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
    let kind = kind.unwrap_or_default();
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

/// Root fields, apiVersion and kind; returns the kind when it is well-formed.
fn envelope(c: &mut Checker, root: &Map<String, Value>) -> Option<String> {
    for key in root.keys() {
        if !ROOT_FIELDS.contains(&key.as_str()) {
            c.err(
                key.as_str(),
                "unknown root field (an entity has apiVersion, kind, metadata and spec)",
            );
        }
    }
    match root.get("apiVersion") {
        Some(Value::String(s)) if valid_api_version(s) => {}
        Some(Value::String(s)) => c.err(
            "apiVersion",
            format!("'{s}' is not a valid apiVersion ([group/]version)"),
        ),
        Some(_) => c.err("apiVersion", "must be a string"),
        None => c.err("apiVersion", "is required"),
    }
    match root.get("metadata") {
        Some(Value::Object(_)) => {}
        Some(_) => c.err("metadata", "must be a mapping"),
        None => c.err("metadata", "is required"),
    }
    match root.get("spec") {
        None | Some(Value::Object(_)) => {}
        Some(_) => c.err("spec", "must be a mapping"),
    }
    match root.get("kind") {
        Some(Value::String(k)) if k.len() <= 63 && KIND.is_match(k) => Some(k.clone()),
        Some(Value::String(k)) => {
            c.err(
                "kind",
                format!(
                    "'{k}' is not a valid kind: at most 63 of [a-zA-Z0-9], starting with a letter"
                ),
            );
            None
        }
        Some(_) => {
            c.err("kind", "must be a string");
            None
        }
        None => {
            c.err("kind", "is required");
            None
        }
    }
}

/// Checks the metadata; returns the namespace (filled in when absent).
fn check_metadata(c: &mut Checker, metadata: &Map<String, Value>, present: bool) -> String {
    match metadata.get("name") {
        Some(Value::String(n)) if is_object_name(n) => {}
        Some(Value::String(n)) => c.err(
            "metadata.name",
            format!("'{n}' is not a valid name: 1-63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit"),
        ),
        Some(_) => c.err("metadata.name", "must be a string"),
        None if present => c.err("metadata.name", "is required"),
        None => {}
    }
    let namespace = match metadata.get("namespace") {
        None => DEFAULT_NAMESPACE.to_string(),
        Some(Value::String(ns)) if is_dns_label(ns) => ns.clone(),
        Some(Value::String(ns)) => {
            c.err(
                "metadata.namespace",
                format!("'{ns}' is not a valid namespace: 1-63 of [a-z0-9] separated by '-'"),
            );
            DEFAULT_NAMESPACE.to_string()
        }
        Some(_) => {
            c.err("metadata.namespace", "must be a string");
            DEFAULT_NAMESPACE.to_string()
        }
    };
    c.string(metadata, "title", "metadata.", 1);
    c.string(metadata, "description", "metadata.", 0);
    c.string(metadata, "uid", "metadata.", 1);
    c.string(metadata, "etag", "metadata.", 1);
    c.key_value_map(metadata, "labels", true);
    c.key_value_map(metadata, "annotations", false);
    check_tags(c, metadata);
    check_links(c, metadata);
    namespace
}

fn check_tags(c: &mut Checker, metadata: &Map<String, Value>) {
    let Some(tags) = metadata.get("tags") else {
        return;
    };
    let Some(items) = tags.as_array() else {
        c.err("metadata.tags", "must be a list of strings");
        return;
    };
    for (i, t) in items.iter().enumerate() {
        match t.as_str() {
            Some(t) if t.len() <= 63 && TAG.is_match(t) => {}
            Some(t) => c.err(
                format!("metadata.tags[{i}]"),
                format!(
                    "'{t}' is not a valid tag: 1-63 characters of [a-z0-9:+#] separated by '-'"
                ),
            ),
            None => c.err(format!("metadata.tags[{i}]"), "must be a string"),
        }
    }
}

fn check_links(c: &mut Checker, metadata: &Map<String, Value>) {
    let Some(links) = metadata.get("links") else {
        return;
    };
    let Some(items) = links.as_array() else {
        c.err("metadata.links", "must be a list");
        return;
    };
    for (i, l) in items.iter().enumerate() {
        let path = format!("metadata.links[{i}].");
        let Some(link) = l.as_object() else {
            c.err(format!("metadata.links[{i}]"), "must be a mapping");
            continue;
        };
        match link.get("url") {
            Some(Value::String(u)) if reqwest::Url::parse(u).is_ok() => {}
            Some(Value::String(u)) => c.err(format!("{path}url"), format!("'{u}' is not a URL")),
            Some(_) => c.err(format!("{path}url"), "must be a string"),
            None => c.err(format!("{path}url"), "is required"),
        }
        for key in ["title", "icon"] {
            match link.get(key) {
                Some(Value::String(s)) if s.trim().is_empty() => {
                    c.err(format!("{path}{key}"), "must not be empty")
                }
                _ => c.string(link, key, &path, 1),
            }
        }
        c.string(link, "type", &path, 1);
    }
}

/// The kind's own rules: a built-in kind's apiVersions, spec schema and refs. Another kind needs no
/// spec; a built-in kind in another case is refused, as no Backstage processor recognises it.
fn check_kind(c: &mut Checker, root: &Map<String, Value>, kind: &str, namespace: &str) {
    if let Some(builtin) = kinds::miscased_builtin(kind) {
        c.err(
            "kind",
            format!("no processor recognises kind '{kind}' (kinds are case-sensitive: {builtin})"),
        );
        return;
    }
    let empty = Map::new();
    let spec = root.get("spec").and_then(Value::as_object);
    if let Some(versions) = kinds::api_versions(kind) {
        let api_version = root.get("apiVersion").and_then(Value::as_str);
        if api_version.is_some_and(|v| !versions.contains(&v)) {
            c.err(
                "apiVersion",
                format!("kind {kind} takes apiVersion {}", versions.join(" or ")),
            );
            return;
        }
        match (spec, root.get("spec")) {
            (Some(s), _) => kinds::check_spec(c, kind, s),
            (None, None) => c.err("spec", "is required"),
            (None, Some(_)) => {}
        }
    }
    check_refs(c, kind, spec.unwrap_or(&empty), namespace);
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

/// Parses every ref a relation is built from, as Backstage's processor does: an absent, `null` or empty
/// field is skipped; each item (or the single value) must parse.
fn check_refs(c: &mut Checker, kind: &str, spec: &Map<String, Value>, namespace: &str) {
    for field in ref_fields(kind) {
        let Some(v) = spec.get(field.key) else {
            continue;
        };
        let values: Vec<(String, &Value)> = match v {
            Value::Null | Value::Bool(false) => continue,
            Value::String(s) if s.is_empty() => continue,
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("spec.{}[{i}]", field.key), item))
                .collect(),
            other => vec![(format!("spec.{}", field.key), other)],
        };
        for (path, item) in values {
            let parsed = match item {
                Value::String(s) => EntityRef::parse_spec(s, field.default_kind, namespace),
                Value::Object(o) => object_ref(o, field.default_kind, namespace),
                _ => {
                    c.err(path, "must be an entity reference string");
                    continue;
                }
            };
            if let Err(e) = parsed {
                c.err(path, e.to_string());
            }
        }
    }
}

/// A ref written as a mapping (`{kind, namespace, name}`), as Backstage accepts where no schema forbids it.
fn object_ref(
    o: &Map<String, Value>,
    default_kind: Option<&str>,
    namespace: &str,
) -> Result<EntityRef, super::refs::RefError> {
    let part = |k: &str| o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let shown = Value::Object(o.clone()).to_string();
    let kind = part("kind")
        .or(default_kind)
        .ok_or_else(|| super::refs::RefError::MissingKind(shown.clone()))?;
    let name = part("name").ok_or(super::refs::RefError::Malformed(shown))?;
    Ok(EntityRef::new(
        kind,
        part("namespace").unwrap_or(namespace),
        name,
    ))
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
                          "spec": {"type": "mcp-server", "lifecycle": "experimental", "owner": "team-a",
                                   "remotes": [{"type": "sse", "url": "https://mcp.example.com"}]}});
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
        assert!(check_key(&format!("{}/x", "a".repeat(254))).is_err());
        assert!(check_key("ex_ample.com/x").is_err());
    }

    #[test]
    fn follows_backstage_on_kinds_versions_nulls_and_root_fields() {
        let ok = |v: Value| validate(pos(), v, vec![]).map(|e| e.entity_ref.to_string());
        let comp = |extra: Value| {
            let mut v = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "a", "annotations": null, "labels": null},
                "spec": {"type": "service", "lifecycle": "production", "owner": "team a"}});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        assert_eq!(ok(comp(json!({}))).unwrap(), "component:default/a");
        for bad in [
            json!({"kind": "component"}),
            json!({"apiVersion": "backstage.io/v2"}),
            json!({"apiVersion": "backstage.io/v1 alpha1"}),
            json!({"status": {}}),
            json!({"foo": "bar"}),
            json!({"spec": null}),
            json!({"metadata": {"name": "a", "namespace": null}}),
            json!({"metadata": {"name": "a", "title": ""}}),
            json!({"metadata": {"name": "a", "links": [{"url": "not a url"}]}}),
        ] {
            let doc = comp(bad.clone());
            assert!(ok(doc).is_err(), "{bad} was accepted");
        }
        let ns = json!({"metadata": {"name": "a", "namespace": "team--a"}});
        assert_eq!(ok(comp(ns)).unwrap(), "component:team--a/a");
    }
}
