//! `${{ }}` expressions in template steps and skeleton files, rendered by minijinja with Backstage's
//! delimiters and the filters Backstage templates use (`parseRepoUrl`, `parseEntityRef`, `pick`,
//! `projectSlug`).

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value as J};
use serde_json::{Map, Value};

/// The environment every task renders with.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    if let Ok(syntax) = SyntaxConfig::builder()
        .block_delimiters("{%", "%}")
        .variable_delimiters("${{", "}}")
        .comment_delimiters("{#", "#}")
        .build()
    {
        env.set_syntax(syntax);
    }
    // `parameters.optional.missing` renders empty, as in Backstage.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    // Rendered files keep their final newline.
    env.set_keep_trailing_newline(true);
    env.add_filter("parseRepoUrl", parse_repo_url);
    env.add_filter("projectSlug", project_slug);
    env.add_filter("parseEntityRef", parse_entity_ref);
    env.add_filter("pick", |v: J, key: String| -> Result<J, Error> {
        v.get_attr(&key)
    });
    env
}

fn invalid(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

/// `github.com?owner=o&repo=r` → `{host, owner, repo, organization, project, workspace}`.
fn parse_repo_url(url: String) -> Result<J, Error> {
    let (host, query) = url
        .split_once('?')
        .ok_or_else(|| invalid(format!("'{url}' is not a repo URL (host?owner=…&repo=…)")))?;
    let mut out = Map::new();
    out.insert("host".into(), Value::String(host.to_string()));
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    if !out.contains_key("repo") {
        return Err(invalid(format!("'{url}' has no repo")));
    }
    Ok(J::from_serialize(Value::Object(out)))
}

/// `github.com?owner=o&repo=r` → `o/r`.
fn project_slug(url: String) -> Result<String, Error> {
    let parsed: Value =
        serde_json::to_value(parse_repo_url(url)?).map_err(|e| invalid(e.to_string()))?;
    let owner = parsed
        .get("owner")
        .or_else(|| parsed.get("organization"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let repo = parsed
        .get("repo")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(format!("{owner}/{repo}"))
}

/// `component:ns/name` (kind and namespace optional) → `{kind, namespace, name}`.
fn parse_entity_ref(r: String) -> Result<J, Error> {
    let parsed = crate::catalog::refs::EntityRef::parse(&r, Some("component"), "default")
        .map_err(|e| invalid(format!("invalid entity ref '{r}': {e}")))?;
    Ok(J::from_serialize(serde_json::json!({
        "kind": parsed.kind, "namespace": parsed.namespace, "name": parsed.name
    })))
}

/// Renders one string: a string that is exactly one `${{ expression }}` keeps the expression's type
/// (a list stays a list); any other string renders as text.
pub fn render_str(env: &Environment<'_>, text: &str, ctx: &J) -> Result<Value, String> {
    let trimmed = text.trim();
    if let Some(inner) = trimmed
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .filter(|inner| !inner.contains("${{") && !inner.contains("}}"))
    {
        let expr = env
            .compile_expression(inner.trim())
            .map_err(|e| format!("in '{text}': {e}"))?;
        let v = expr.eval(ctx).map_err(|e| format!("in '{text}': {e}"))?;
        if v.is_undefined() {
            return Ok(Value::Null);
        }
        return serde_json::to_value(&v).map_err(|e| e.to_string());
    }
    if !text.contains("${{") && !text.contains("{%") {
        return Ok(Value::String(text.to_string()));
    }
    env.render_str(text, ctx)
        .map(Value::String)
        .map_err(|e| format!("in '{text}': {e}"))
}

/// Renders every string inside `input`, recursively.
pub fn render(env: &Environment<'_>, input: &Value, ctx: &J) -> Result<Value, String> {
    Ok(match input {
        Value::String(s) => render_str(env, s, ctx)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render(env, i, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render(env, v, ctx)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Whether a rendered `if` holds: false, null, empty strings and lists, `"false"` and 0 do not.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && s != "false",
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> J {
        J::from_serialize(json!({
            "parameters": {"name": "svc", "repoUrl": "github.com?owner=acme&repo=svc", "tags": ["a", "b"],
                           "owner": "group:default/team-a"},
            "steps": {"fetch": {"output": {"path": "x"}}},
            "user": {"ref": "user:default/jane"}
        }))
    }

    #[test]
    fn expressions_keep_types_and_filters_work() {
        let env = environment();
        let c = ctx();
        assert_eq!(
            render_str(&env, "${{ parameters.tags }}", &c).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            render_str(&env, "hello ${{ parameters.name }}!", &c).unwrap(),
            json!("hello svc!")
        );
        assert_eq!(
            render_str(
                &env,
                "${{ parameters.repoUrl | parseRepoUrl | pick('owner') }}",
                &c
            )
            .unwrap(),
            json!("acme")
        );
        assert_eq!(
            render_str(&env, "${{ parameters.repoUrl | projectSlug }}", &c).unwrap(),
            json!("acme/svc")
        );
        assert_eq!(
            render_str(&env, "${{ (parameters.owner | parseEntityRef).name }}", &c).unwrap(),
            json!("team-a")
        );
        assert_eq!(
            render_str(&env, "${{ steps.fetch.output.path }}", &c).unwrap(),
            json!("x")
        );
        assert_eq!(
            render_str(&env, "${{ user.ref }}", &c).unwrap(),
            json!("user:default/jane")
        );
        assert_eq!(
            render_str(&env, "${{ parameters.nothing.deeper }}", &c).unwrap(),
            json!(null)
        );
        assert!(render_str(&env, "${{ parameters.name | parseRepoUrl }}", &c).is_err());
        assert!(!truthy(&json!(false)) && truthy(&json!("yes")) && !truthy(&json!("")));
    }
}
