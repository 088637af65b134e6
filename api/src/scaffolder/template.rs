//! Templates (`scaffolder.backstage.io/v1beta3`): the parameter schema (one JSON Schema or a list of form
//! pages), the steps, and the directory the template was read from (for `fetch:template`).

use serde_json::{json, Value};
use std::path::PathBuf;

use super::{FieldError, ScaffolderError};
use crate::catalog::store::StoredEntity;

/// One step as written in `spec.steps`.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    pub id: String,
    pub name: String,
    pub action: String,
    pub input: Value,
    /// `if`: the step runs only when this renders truthy.
    pub condition: Option<Value>,
    /// `each`: the action runs once per entry of what this renders (an object's entries, a list's
    /// items), with `each.key` and `each.value` in its input's context.
    pub each: Option<Value>,
}

/// The parts of a template a task needs.
#[derive(Clone, Debug)]
pub struct Template {
    pub entity_ref: String,
    pub spec: Value,
    pub steps: Vec<StepSpec>,
    /// The directory of the file the template was read from, when it came from a file source.
    pub base_dir: Option<PathBuf>,
    /// The source and file it was read from, when it came from a git source (its skeletons are then
    /// fetched from a checkout of that source).
    pub source: Option<TemplateSource>,
    /// The URL of the file the template was read from, when it came from a url source.
    pub base_url: Option<String>,
    /// Who a task of it acts as (stored with the task by [`Template::acting_as`]).
    pub acting: Option<Value>,
}

/// Where a template from a git source was read: the source's key and the file as its entities name it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TemplateSource {
    pub key: String,
    pub file: String,
}

/// Where a task's stored spec keeps the template's git source (set by the server only).
pub const SOURCE_KEY: &str = "__greenroomSource";

/// Where a task's stored spec keeps the template's directory (set by the server only).
pub const BASE_DIR_KEY: &str = "__greenroomBaseDir";

/// Where a task's stored spec keeps the URL of a template read from a url source (server only).
pub const BASE_URL_KEY: &str = "__greenroomBaseUrl";

/// Where a task's stored spec keeps who it acts as: its creator's scopes and groups (server only).
pub const CALLER_KEY: &str = "__greenroomCaller";

/// The keys only the server sets in a stored spec.
const SERVER_KEYS: [&str; 4] = [BASE_DIR_KEY, SOURCE_KEY, BASE_URL_KEY, CALLER_KEY];

/// The URL a template entity was read from (`url:` managed-by location), if any.
pub fn base_url(e: &StoredEntity) -> Option<String> {
    let loc = e
        .metadata()?
        .get("annotations")?
        .get(crate::catalog::model::MANAGED_BY_LOCATION)?
        .as_str()?;
    loc.strip_prefix("url:").map(str::to_string)
}

/// The caller a run of the stored `spec` acts as: `subject` with the scopes and groups stored with it
/// (none when the task was stored without them).
pub fn acting(spec: &Value, subject: &str) -> crate::auth::Caller {
    let acting = spec.get(CALLER_KEY);
    let list = |key: &str| -> Vec<String> {
        acting
            .and_then(|a| a.get(key))
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let scopes = list("scopes");
    crate::auth::Caller {
        subject: subject.to_string(),
        scopes: scopes
            .iter()
            .filter_map(|s| crate::auth::Scope::parse(s))
            .collect(),
        groups: list("groups"),
        jti: None,
        authenticated: acting
            .and_then(|a| a.get("authenticated"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
    }
}

/// The directory a template entity was read from (`file:` managed-by location), if any.
pub fn base_dir(e: &StoredEntity) -> Option<PathBuf> {
    let loc = e
        .metadata()?
        .get("annotations")?
        .get(crate::catalog::model::MANAGED_BY_LOCATION)?
        .as_str()?;
    let path = loc.strip_prefix("file:")?;
    PathBuf::from(path).parent().map(PathBuf::from)
}

/// The steps of a template spec; each needs an `action`, ids default to `step-N` (as in Backstage, an id
/// may repeat: a later step's output then replaces the earlier one's under `steps.<id>`).
pub fn steps(spec: &Value) -> Result<Vec<StepSpec>, ScaffolderError> {
    let Some(list) = spec.get("steps") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(ScaffolderError::Invalid("spec.steps must be a list".into()));
    };
    let mut out: Vec<StepSpec> = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let action = s
            .get("action")
            .and_then(Value::as_str)
            .ok_or_else(|| ScaffolderError::Invalid(format!("spec.steps[{i}] has no action")))?;
        let id = s
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("step-{}", i + 1));
        out.push(StepSpec {
            name: s
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_string(),
            id,
            action: action.to_string(),
            input: s.get("input").cloned().unwrap_or_else(|| json!({})),
            condition: s.get("if").cloned(),
            each: s.get("each").cloned(),
        });
    }
    Ok(out)
}

/// The JSON Schema the values must satisfy: `spec.parameters` as one schema, or every page of a list.
pub fn parameter_schema(spec: &Value) -> Value {
    match spec.get("parameters") {
        None | Some(Value::Null) => json!({ "type": "object" }),
        Some(Value::Array(pages)) => json!({ "type": "object", "allOf": pages }),
        Some(one) => one.clone(),
    }
}

impl Template {
    pub fn from_entity(e: &StoredEntity) -> Result<Self, ScaffolderError> {
        if e.kind != "template" {
            return Err(ScaffolderError::Invalid(format!(
                "{} is not a Template",
                e.entity_ref
            )));
        }
        let mut spec = e.body().get("spec").cloned().unwrap_or_else(|| json!({}));
        // The base directory is the server's to set (from where the template was read), never the
        // template's.
        if let Some(obj) = spec.as_object_mut() {
            for key in SERVER_KEYS {
                obj.remove(key);
            }
        }
        let base_dir = base_dir(e);
        let source = match (&base_dir, &e.source_file) {
            (None, Some(file)) if e.location_key.starts_with("git:") => Some(TemplateSource {
                key: e.location_key.clone(),
                file: file.clone(),
            }),
            _ => None,
        };
        Ok(Self {
            entity_ref: e.entity_ref.clone(),
            steps: steps(&spec)?,
            spec,
            base_url: base_dir.is_none().then(|| base_url(e)).flatten(),
            base_dir,
            source,
            acting: None,
        })
    }

    /// This template with `caller` (its scopes and groups, never more) as who its task acts as.
    pub fn acting_as(&self, caller: &crate::auth::Caller) -> Self {
        let scopes: Vec<&str> = caller.scopes.iter().map(|s| s.as_str()).collect();
        Self {
            acting: Some(json!({
                "scopes": scopes,
                "groups": caller.groups,
                "authenticated": caller.authenticated,
            })),
            ..self.clone()
        }
    }

    /// The spec stored with a task: the template's spec plus where it was read from (a file's
    /// directory, or a git source and file).
    pub fn stored_spec(&self) -> Value {
        let mut spec = self.spec.clone();
        if let Some(obj) = spec.as_object_mut() {
            for key in SERVER_KEYS {
                obj.remove(key);
            }
            if let Some(url) = &self.base_url {
                obj.insert(BASE_URL_KEY.into(), Value::String(url.clone()));
            }
            if let Some(acting) = &self.acting {
                obj.insert(CALLER_KEY.into(), acting.clone());
            }
            if let Some(dir) = &self.base_dir {
                obj.insert(
                    BASE_DIR_KEY.into(),
                    Value::String(dir.display().to_string()),
                );
            }
            if let Some(source) = self
                .source
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok())
            {
                obj.insert(SOURCE_KEY.into(), source);
            }
        }
        spec
    }

    /// Checks `values` against the parameter schema; every failing field is listed.
    pub fn validate(&self, values: &Value) -> Result<(), ScaffolderError> {
        validate(&parameter_schema(&self.spec), values)
    }
}

/// Validates `values` against `schema` with the `jsonschema` crate.
pub fn validate(schema: &Value, values: &Value) -> Result<(), ScaffolderError> {
    if !values.is_object() {
        return Err(ScaffolderError::InvalidValues(vec![FieldError {
            field: "/".into(),
            message: "values must be an object".into(),
        }]));
    }
    let validator = jsonschema::validator_for(&lenient(schema)).map_err(|e| {
        ScaffolderError::Invalid(format!(
            "the template's parameters are not a valid JSON Schema: {e}"
        ))
    })?;
    let mut errors: Vec<FieldError> = validator
        .iter_errors(values)
        .map(|e| {
            let path = e.instance_path().to_string();
            FieldError {
                field: if path.is_empty() { "/".into() } else { path },
                message: e.to_string(),
            }
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| (&a.field, &a.message).cmp(&(&b.field, &b.message)));
    errors.dedup();
    Err(ScaffolderError::InvalidValues(errors))
}

/// `schema` with what Backstage's validator (the `jsonschema` package, which never checks a schema
/// against the meta-schema) takes but the meta-schema forbids made harmless: a `required` list naming a
/// field twice names it once, and a `type` that is no JSON Schema type (`map(any)`), which that
/// validator lets any value pass, is dropped.
fn lenient(schema: &Value) -> Value {
    const TYPES: [&str; 7] = [
        "string", "number", "integer", "boolean", "object", "array", "null",
    ];
    let mut schema = schema.clone();
    let mut stack = vec![&mut schema];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(names)) = map.get_mut("required") {
                    let mut seen = std::collections::HashSet::new();
                    names.retain(|n| seen.insert(n.to_string()));
                }
                if map
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !TYPES.contains(&t))
                {
                    map.remove("type");
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_pages_is_validated_as_one_and_every_failure_is_listed() {
        let spec = json!({ "parameters": [
            { "required": ["name"], "properties": { "name": { "type": "string", "pattern": "^[a-z-]+$" } } },
            { "required": ["owner"], "properties": { "owner": { "type": "string" }, "port": { "type": "integer" } } }
        ]});
        let schema = parameter_schema(&spec);
        assert!(validate(&schema, &json!({"name": "svc", "owner": "team-a"})).is_ok());
        let Err(ScaffolderError::InvalidValues(errs)) =
            validate(&schema, &json!({"name": "Bad Name", "port": "80"}))
        else {
            panic!("expected field errors");
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"/name"), "{errs:?}");
        assert!(fields.contains(&"/port"), "{errs:?}");
        assert!(errs.iter().any(|e| e.message.contains("owner")), "{errs:?}");
    }

    #[test]
    fn a_required_list_naming_a_field_twice_is_taken_as_naming_it_once() {
        let schema = json!({ "required": ["name", "owner", "name"],
            "properties": { "name": { "type": "string" }, "owner": { "type": "string" } } });
        assert!(validate(&schema, &json!({"name": "svc", "owner": "team-a"})).is_ok());
        let Err(ScaffolderError::InvalidValues(errs)) = validate(&schema, &json!({"owner": "a"}))
        else {
            panic!("expected field errors");
        };
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].message.contains("name"), "{errs:?}");
    }

    #[test]
    fn a_type_json_schema_does_not_have_lets_any_value_pass() {
        let schema =
            json!({ "properties": { "tags": { "type": "map(any)" }, "n": { "type": "integer" } } });
        assert!(validate(&schema, &json!({"tags": {"a": "b"}})).is_ok());
        assert!(validate(&schema, &json!({"tags": "x", "n": "1"})).is_err());
    }

    #[test]
    fn steps_need_actions_and_ids_may_repeat() {
        let ok = steps(
            &json!({"steps": [{"id": "a", "action": "debug:log"}, {"action": "debug:wait"}]}),
        )
        .unwrap();
        assert_eq!(ok[1].id, "step-2");
        assert!(steps(&json!({"steps": [{"id": "a"}]})).is_err());
        let twice =
            steps(&json!({"steps": [{"id": "a", "action": "x"}, {"id": "a", "action": "y"}]}));
        assert_eq!(
            twice.unwrap().len(),
            2,
            "Backstage's schema allows a repeated id"
        );
    }
}
