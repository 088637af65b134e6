//! Backstage's filter predicates (`POST /entities/by-query`, `POST /entity-facets`): `{kind: component,
//! "spec.type": {$in: [service, website]}}`, combined with `$all`, `$any` and `$not`, with the value
//! operators `$exists`, `$in`, `$contains` and `$hasPrefix`. Validation and matching follow
//! `@backstage/filter-predicates` (the schema's first matching alternative wins, primitives compare
//! case-insensitively and numbers as strings, paths may name keys that contain dots).

use serde_json::Value;

use crate::catalog::CatalogError;

/// A validated predicate, normalised as Backstage's schema parses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate(Value);

impl Predicate {
    /// Validates `v` as a predicate (an object at the root).
    pub fn parse(v: &Value) -> Result<Self, CatalogError> {
        predicate(v, "query")
            .map(Predicate)
            .map_err(|e| CatalogError::InvalidInput(format!("Invalid filter predicate: {e}")))
    }

    /// The normalised predicate, as JSON.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// Whether the entity (as the REST API serialises it) matches.
    pub fn matches(&self, entity: &Value) -> bool {
        evaluate(&self.0, entity)
    }

    /// Lowercase values one of which the top-level `key` must equal (a plain value or `$in`), when the
    /// predicate requires that at its root or in a root `$all`; used to narrow the rows read.
    pub fn required_values(&self, key: &str) -> Option<Vec<String>> {
        required(&self.0, key)
    }
}

fn required(p: &Value, key: &str) -> Option<Vec<String>> {
    let m = p.as_object()?;
    if let Some(Value::Array(all)) = m.get("$all") {
        return all.iter().find_map(|q| required(q, key));
    }
    match m.get(key)? {
        Value::String(s) => Some(vec![s.to_lowercase()]),
        Value::Object(o) => match o.get("$in")? {
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_lowercase))
                .collect(),
            _ => None,
        },
        _ => None,
    }
}

fn is_primitive(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// A logical operator alone in its object (`{$all: [...]}`), with its operand.
fn logical(v: &Value) -> Option<(&str, &Value)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    let (k, operand) = m.iter().next()?;
    ["$all", "$any", "$not"]
        .contains(&k.as_str())
        .then_some((k.as_str(), operand))
}

fn predicate(v: &Value, at: &str) -> Result<Value, String> {
    if let Ok(e) = expression(v, at) {
        return Ok(e);
    }
    combination(v, at, predicate)
}

/// `$contains`' operand: a predicate, or a primitive matched against array items.
fn any_predicate(v: &Value, at: &str) -> Result<Value, String> {
    if let Ok(e) = expression(v, at) {
        return Ok(e);
    }
    if is_primitive(v) {
        return Ok(v.clone());
    }
    combination(v, at, any_predicate)
}

type Check = fn(&Value, &str) -> Result<Value, String>;

fn combination(v: &Value, at: &str, inner: Check) -> Result<Value, String> {
    let Some((op, operand)) = logical(v) else {
        return Err(format!(
            "{at}: expected an object of field matchers, or one of $all, $any or $not alone"
        ));
    };
    let checked = match (op, operand) {
        ("$not", p) => inner(p, &format!("{at}.$not"))?,
        (_, Value::Array(items)) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, p)| inner(p, &format!("{at}.{op}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(format!("{at}.{op}: expected an array")),
    };
    Ok(serde_json::json!({ op: checked }))
}

/// An object of field paths to value matchers (`{}` included).
fn expression(v: &Value, at: &str) -> Result<Value, String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object"))?;
    let mut out = serde_json::Map::new();
    for (k, matcher) in m {
        if k.starts_with(['$', '\n', '\r']) || k.contains(['\n', '\r']) {
            return Err(format!("{at}: `{k}` is not a field path"));
        }
        out.insert(k.clone(), value_matcher(matcher, &format!("{at}.{k}"))?);
    }
    Ok(Value::Object(out))
}

/// A primitive, or the first of `$exists`, `$in`, `$contains`, `$hasPrefix` that is well-formed (other
/// keys beside it are dropped, as Backstage's schema strips them).
fn value_matcher(v: &Value, at: &str) -> Result<Value, String> {
    if is_primitive(v) {
        return Ok(v.clone());
    }
    let m = v
        .as_object()
        .ok_or_else(|| format!("{at}: expected a string, number, boolean or value operator"))?;
    let one = |k: &str, x: Value| Ok(serde_json::json!({ k: x }));
    if let Some(b @ Value::Bool(_)) = m.get("$exists") {
        return one("$exists", b.clone());
    }
    if let Some(Value::Array(items)) = m.get("$in") {
        if items.iter().all(is_primitive) {
            return one("$in", Value::Array(items.clone()));
        }
    }
    if let Some(p) = m.get("$contains") {
        if let Ok(p) = any_predicate(p, &format!("{at}.$contains")) {
            return one("$contains", p);
        }
    }
    if let Some(s @ Value::String(_)) = m.get("$hasPrefix") {
        return one("$hasPrefix", s.clone());
    }
    Err(format!(
        "{at}: expected a value or one of {{$exists: boolean}}, {{$in: [...]}}, {{$contains: ...}}, {{$hasPrefix: string}}"
    ))
}

fn evaluate(p: &Value, value: &Value) -> bool {
    let Some(m) = p.as_object() else {
        return equal(value, p);
    };
    if let Some((op, operand)) = logical(p) {
        let items = operand.as_array().map(Vec::as_slice).unwrap_or_default();
        return match op {
            "$all" => items.iter().all(|q| evaluate(q, value)),
            "$any" => items.iter().any(|q| evaluate(q, value)),
            _ => !evaluate(operand, value),
        };
    }
    m.iter().all(|(path, matcher)| {
        !path.starts_with('$') && evaluate_value(matcher, at_path(value, path))
    })
}

fn evaluate_value(matcher: &Value, value: Option<&Value>) -> bool {
    let Some(m) = matcher.as_object() else {
        return value.is_some_and(|v| equal(v, matcher));
    };
    if let Some(p) = m.get("$contains") {
        return value
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|i| evaluate(p, i)));
    }
    if let Some(Value::Array(any)) = m.get("$in") {
        return value.is_some_and(|v| any.iter().any(|s| equal(v, s)));
    }
    if let Some(Value::Bool(want)) = m.get("$exists") {
        return value.is_some() == *want;
    }
    if let Some(Value::String(prefix)) = m.get("$hasPrefix") {
        return value
            .and_then(Value::as_str)
            .is_some_and(|s| s.to_uppercase().starts_with(&prefix.to_uppercase()));
    }
    false
}

/// The value at a dot-separated path; a key may itself contain dots (`metadata.annotations.a.io/b`).
fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return None;
    }
    let m = value.as_object()?;
    for (k, v) in m {
        if k == path {
            return Some(v);
        }
        if let Some(rest) = path
            .strip_prefix(k.as_str())
            .and_then(|r| r.strip_prefix('.'))
        {
            if let Some(found) = at_path(v, rest) {
                return Some(found);
            }
        }
    }
    None
}

/// JavaScript's `String(v)` for the values predicates compare.
fn js_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => crate::catalog::yaml_value::js_number(n),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                if i.is_null() {
                    String::new()
                } else {
                    js_string(i)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::String(x), Value::String(y)) => x.to_uppercase() == y.to_uppercase(),
        (Value::Number(_), _) | (_, Value::Number(_)) => js_string(a) == js_string(b),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity() -> Value {
        json!({"kind": "Component", "metadata": {"name": "web", "tags": ["Java", "go"],
            "annotations": {"github.com/project-slug": "acme/web"}, "port": 8080},
            "spec": {"type": "service"},
            "relations": [{"type": "ownedBy", "targetRef": "group:default/team-a"}]})
    }

    fn matches(p: Value) -> bool {
        Predicate::parse(&p).unwrap().matches(&entity())
    }

    #[test]
    fn matchers() {
        assert!(matches(
            json!({"kind": "component", "spec.type": {"$in": ["x", "SERVICE"]}})
        ));
        assert!(matches(
            json!({"metadata.annotations.github.com/project-slug": {"$exists": true}})
        ));
        assert!(matches(
            json!({"metadata.tags": {"$contains": {"$any": ["java", "rust"]}}})
        ));
        assert!(
            !matches(json!({"metadata.tags": "java"})),
            "an array is not equal to a string"
        );
        assert!(matches(json!({"metadata.port": "8080"})));
        assert!(matches(json!({"metadata.name": {"$hasPrefix": "W"}})));
        assert!(matches(
            json!({"relations": {"$contains": {"type": "ownedby"}}})
        ));
        assert!(matches(json!({"$not": {"kind": "api"}})));
        assert!(matches(
            json!({"$any": [{"kind": "api"}, {"$all": [{"kind": "component"}, {}]}]})
        ));
        assert!(!matches(json!({"spec.owner": {"$exists": true}})));
        assert!(matches(json!({"spec.owner": {"$exists": false}})));
    }

    #[test]
    fn validation() {
        for bad in [
            json!([]),
            json!("kind"),
            json!({"$all": [], "kind": "x"}),
            json!({"$foo": 1}),
            json!({"kind": null}),
            json!({"kind": ["a"]}),
            json!({"kind": {"$in": [null]}}),
            json!({"kind": {"$exists": "yes"}}),
            json!({"$all": {"kind": "x"}}),
        ] {
            assert!(Predicate::parse(&bad).is_err(), "{bad}");
        }
        let p = Predicate::parse(&json!({"kind": {"$exists": true, "$in": ["x"]}})).unwrap();
        assert_eq!(p.as_json(), &json!({"kind": {"$exists": true}}));
        let p =
            Predicate::parse(&json!({"$all": [{"kind": {"$in": ["API", "Component"]}}]})).unwrap();
        assert_eq!(
            p.required_values("kind"),
            Some(vec!["api".into(), "component".into()])
        );
    }
}
