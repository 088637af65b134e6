//! `${{ }}` expressions in template steps and skeleton files, rendered by minijinja with Backstage's
//! delimiters and the filters Backstage templates use (`parseRepoUrl`, `parseEntityRef`, `pick`,
//! `projectSlug`). Every rendering is bounded: minijinja fuel caps its work and a capped writer its
//! output ([`Limits`]); secrets never enter the engine (see [`super::secrets::Refs`]).

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value as J};

pub mod filters;
pub mod js;
mod plus;
use serde_json::{Map, Value};
use std::sync::RwLock;

/// Bounds on one rendering (`scaffolder.renderFuel`, `scaffolder.maxRenderBytes`,
/// `scaffolder.maxFileBytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Instructions one rendering (one string, one skeleton file) may execute.
    pub fuel: u64,
    /// Bytes one expression or string may render to, and one step's whole rendered input.
    pub max_render_bytes: usize,
    /// Bytes one rendered skeleton file (`fetch:template`) may have.
    pub max_file_bytes: usize,
}

pub const DEFAULT_LIMITS: Limits = Limits {
    fuel: 5_000_000,
    max_render_bytes: 1 << 20,
    max_file_bytes: 10 << 20,
};

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

static LIMITS: RwLock<Limits> = RwLock::new(DEFAULT_LIMITS);

/// Sets this process's rendering limits (the workers do, from `scaffolder.*`).
pub fn set_limits(limits: Limits) {
    if let Ok(mut l) = LIMITS.write() {
        *l = limits;
    }
}

/// This process's rendering limits.
pub fn limits() -> Limits {
    LIMITS.read().map(|l| *l).unwrap_or(DEFAULT_LIMITS)
}

/// How `fetch:template` renders a skeleton, from its inputs of these names.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileOptions {
    /// nunjucks' `trimBlocks`: drop the newline after a block tag.
    pub trim_blocks: bool,
    /// nunjucks' `lstripBlocks`: drop the spaces and tabs before a block tag on its line.
    pub lstrip_blocks: bool,
    /// `cookiecutterCompat`: `{{ }}` variables (nunjucks' own), the values as `cookiecutter`, and the
    /// `jsonify` filter.
    pub cookiecutter: bool,
}

/// The environment `fetch:template` renders a skeleton with.
pub fn environment_with(o: FileOptions) -> Environment<'static> {
    let mut env = environment();
    env.set_trim_blocks(o.trim_blocks);
    env.set_lstrip_blocks(o.lstrip_blocks);
    if o.cookiecutter {
        if let Ok(syntax) = SyntaxConfig::builder()
            .block_delimiters("{%", "%}")
            .variable_delimiters("{{", "}}")
            .comment_delimiters("{#", "#}")
            .build()
        {
            env.set_syntax(syntax);
        }
        filters::register_cookiecutter(&mut env);
    }
    env
}

/// The environment every task renders with.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(limits().fuel));
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
    env.set_formatter(js::format);
    env.set_unknown_method_callback(js::method);
    env.add_function("_jsadd", js::add);
    env.add_function("_jssub", js::sub);
    filters::register(&mut env);
    env
}

/// A `std::io::Write` that refuses to grow past `cap` bytes.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.cap {
            self.over = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a rendering failed, as the task log shows it.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "too much work: the rendering ran out of fuel ({0} instructions, scaffolder.renderFuel)"
    )]
    OutOfFuel(u64),
    /// The engine's own text (syntax, an unknown filter, a failed filter).
    #[error("{0}")]
    Engine(String),
    #[error("renders more than {0} bytes (the limit for one rendering)")]
    TooBig(usize),
    #[error("the input renders more than {0} bytes (the limit for one rendering)")]
    InputTooBig(usize),
    #[error("the rendering is not UTF-8")]
    NotUtf8,
    #[error(transparent)]
    Secrets(#[from] super::secrets::SecretUse),
    /// Where it failed: at most 200 characters of the template string.
    #[error("in '{0}': {1}")]
    In(String, Box<RenderError>),
}

/// An engine error as the task log shows it; running out of fuel says which limit it hit.
fn describe(e: &Error) -> RenderError {
    if matches!(e.kind(), ErrorKind::OutOfFuel) {
        RenderError::OutOfFuel(limits().fuel)
    } else {
        RenderError::Engine(e.to_string())
    }
}

/// Renders template text into at most `cap` bytes, within the environment's fuel.
pub fn render_text(
    env: &Environment<'_>,
    text: &str,
    ctx: &J,
    cap: usize,
) -> Result<String, RenderError> {
    // The rewritten text is owned here, so it renders from a clone of the environment (cheap: the
    // filters and settings are shared).
    let mut env = env.clone();
    env.add_template_owned("template", js::rewrite(text))
        .map_err(|e| describe(&e))?;
    let tmpl = env.get_template("template").map_err(|e| describe(&e))?;
    let mut out = Capped {
        buf: Vec::new(),
        cap,
        over: false,
    };
    let rendered = tmpl.render_captured_to(ctx, &mut out).map(|_| ());
    match rendered {
        Ok(()) => String::from_utf8(out.buf).map_err(|_| RenderError::NotUtf8),
        Err(_) if out.over => Err(RenderError::TooBig(cap)),
        Err(e) => Err(describe(&e)),
    }
}

/// At most 200 characters of a template string, for error texts.
fn short(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Renders one string: a string that is exactly one `${{ expression }}` keeps the expression's type
/// (a list stays a list); any other string renders as text. `${{ secrets.NAME }}` is put in after the
/// rendering; any other use of `secrets` is refused.
pub fn render_str(
    env: &Environment<'_>,
    text: &str,
    ctx: &J,
    secrets: &Map<String, Value>,
) -> Result<Option<Value>, RenderError> {
    let within = |e: RenderError| RenderError::In(short(text), Box::new(e));
    let refs = super::secrets::Refs::take_out(text, secrets).map_err(|e| within(e.into()))?;
    let v = render_plain(env, refs.text(), ctx, limits().max_render_bytes).map_err(within)?;
    Ok(v.map(|v| refs.put_back(v)))
}

/// The expression of a string that is one `${{ }}` and nothing else (not even spaces), as Backstage's
/// runner tells a value to keep its type from text to render.
fn single_expression(text: &str) -> Option<&str> {
    text.strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .filter(|inner| !inner.contains("${{") && !inner.contains("}}"))
}

/// One string of a step's input rendered as Backstage's runner does: a single expression keeps its
/// value's type; other text renders to text; `None` (the key is dropped) for an undefined single
/// expression or text rendering empty.
fn render_plain(
    env: &Environment<'_>,
    text: &str,
    ctx: &J,
    cap: usize,
) -> Result<Option<Value>, RenderError> {
    if let Some(inner) = single_expression(text) {
        let expr = env
            .compile_expression_owned(js::rewrite_code(inner.trim()))
            .map_err(|e| describe(&e))?;
        let v = expr.eval(ctx).map_err(|e| describe(&e))?;
        if v.is_undefined() {
            return Ok(None);
        }
        let json = filters::to_json(&v).map_err(|e| describe(&e))?;
        if json.to_string().len() > cap {
            return Err(RenderError::TooBig(cap));
        }
        return Ok(Some(json));
    }
    let out = if !text.contains("${{") && !text.contains("{%") && !text.contains("{#") {
        text.to_string()
    } else {
        render_text(env, text, ctx, cap)?
    };
    Ok((!out.is_empty()).then_some(Value::String(out)))
}

/// Whether a failed rendering leaves the string as written (Backstage keeps the raw string when
/// nunjucks fails), rather than failing the step: engine errors do; the bounds and secret misuse never.
fn keeps_raw(e: &RenderError) -> bool {
    match e {
        RenderError::Engine(_) => true,
        RenderError::In(_, inner) => keeps_raw(inner),
        _ => false,
    }
}

/// Renders every string inside `input`, recursively, as Backstage's runner does (see [`render_plain`]);
/// the whole rendering is capped like one string. An undefined value at the top is null.
pub fn render(
    env: &Environment<'_>,
    input: &Value,
    ctx: &J,
    secrets: &Map<String, Value>,
) -> Result<Value, RenderError> {
    let mut spent = 0;
    Ok(render_within(env, input, ctx, secrets, &mut spent)?.unwrap_or(Value::Null))
}

fn render_within(
    env: &Environment<'_>,
    input: &Value,
    ctx: &J,
    secrets: &Map<String, Value>,
    spent: &mut usize,
) -> Result<Option<Value>, RenderError> {
    Ok(match input {
        Value::String(s) => {
            let v = match render_str(env, s, ctx, secrets) {
                Err(e) if keeps_raw(&e) => Some(Value::String(s.clone())),
                other => other?,
            };
            *spent += match &v {
                Some(Value::String(s)) => s.len(),
                Some(other) => other.to_string().len(),
                None => 0,
            };
            let cap = limits().max_render_bytes;
            if *spent > cap {
                return Err(RenderError::InputTooBig(cap));
            }
            v
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| Ok(render_within(env, i, ctx, secrets, spent)?.unwrap_or(Value::Null)))
                .collect::<Result<_, RenderError>>()?,
        )),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if let Some(v) = render_within(env, v, ctx, secrets, spent)? {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    })
}

/// Whether a rendered `if` holds, as JavaScript's truthiness (Backstage's `isTruthy`): false, null, 0,
/// NaN, empty strings and empty lists do not; every other string (`"false"` too) and object does.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
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
        let none = Map::new();
        assert_eq!(
            render_str(&env, "${{ parameters.tags }}", &c, &none)
                .unwrap()
                .unwrap_or_default(),
            json!(["a", "b"])
        );
        assert_eq!(
            render_str(&env, "hello ${{ parameters.name }}!", &c, &none)
                .unwrap()
                .unwrap_or_default(),
            json!("hello svc!")
        );
        assert_eq!(
            render_str(
                &env,
                "${{ parameters.repoUrl | parseRepoUrl | pick('owner') }}",
                &c,
                &none
            )
            .unwrap()
            .unwrap_or_default(),
            json!("acme")
        );
        assert_eq!(
            render_str(&env, "${{ parameters.repoUrl | projectSlug }}", &c, &none)
                .unwrap()
                .unwrap_or_default(),
            json!("acme/svc")
        );
        assert_eq!(
            render_str(
                &env,
                "${{ (parameters.owner | parseEntityRef).name }}",
                &c,
                &none
            )
            .unwrap()
            .unwrap_or_default(),
            json!("team-a")
        );
        assert_eq!(
            render_str(&env, "${{ steps.fetch.output.path }}", &c, &none)
                .unwrap()
                .unwrap_or_default(),
            json!("x")
        );
        assert_eq!(
            render_str(&env, "${{ user.ref }}", &c, &none)
                .unwrap()
                .unwrap_or_default(),
            json!("user:default/jane")
        );
        assert_eq!(
            render_str(&env, "${{ parameters.nothing.deeper }}", &c, &none)
                .unwrap()
                .unwrap_or_default(),
            json!(null)
        );
        assert!(render_str(&env, "${{ parameters.name | parseRepoUrl }}", &c, &none).is_err());
        assert!(!truthy(&json!(false)) && truthy(&json!("yes")) && !truthy(&json!("")));
        // As JavaScript: the string "false" holds, 0 does not.
        assert!(truthy(&json!("false")) && !truthy(&json!(0)) && truthy(&json!({})));
        // Backstage's runner: only a string that is one expression keeps its type; an undefined one, or
        // text rendering empty, drops the key; an engine error keeps the raw string.
        assert_eq!(
            render_str(&env, " ${{ 8080 }} ", &c, &none).unwrap(),
            Some(json!(" 8080 "))
        );
        assert_eq!(
            render_str(&env, "${{ parameters.nope }}", &c, &none).unwrap(),
            None
        );
        let input = json!({"a": "${{ parameters.nope }}", "b": "", "c": "${{ parameters.name }}",
            "d": ["${{ parameters.nope }}"], "e": "${{ parameters.name | nosuchfilter }}"});
        assert_eq!(
            render(&env, &input, &c, &none).unwrap(),
            json!({"c": "svc", "d": [null], "e": "${{ parameters.name | nosuchfilter }}"})
        );
    }

    #[test]
    fn renderings_are_bounded_in_work_and_size() {
        let env = environment();
        let c = ctx();
        let none = Map::new();
        let loops =
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let e = render_str(&env, loops, &c, &none).unwrap_err().to_string();
        assert!(e.contains("ran out of fuel"), "{e}");
        let e = render_str(&env, "${{ 'x' * 2000000 }}", &c, &none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("renders more than 1048576 bytes"), "{e}");
        let e = render_str(&env, "a${{ 'x' * 2000000 }}", &c, &none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("renders more than"), "{e}");
        let secret = render_str(&env, "${{ secrets | length }}", &c, &none)
            .unwrap_err()
            .to_string();
        assert_eq!(
            secret,
            "in '${{ secrets | length }}': secrets may only be used whole, as ${{ secrets.NAME }}: \
             filters, tests, operators and blocks on secrets are refused"
        );
        let many = json!(["${{ 'x' * 600000 }}", "${{ 'x' * 600000 }}"]);
        let e = render(&env, &many, &c, &none).unwrap_err().to_string();
        assert!(e.starts_with("the input renders more than"), "{e}");
    }

    #[test]
    fn secrets_are_used_whole_or_not_at_all() {
        let env = environment();
        let c = ctx();
        let mut secrets = Map::new();
        secrets.insert("token".into(), json!("s3cr3t"));
        let ok = render_str(
            &env,
            "with ${{ secrets.token }} and ${{ secrets['token'] }}",
            &c,
            &secrets,
        );
        assert_eq!(
            ok.unwrap().unwrap_or_default(),
            json!("with s3cr3t and s3cr3t")
        );
        assert_eq!(
            render_str(&env, "${{ secrets.token }}", &c, &secrets)
                .unwrap()
                .unwrap_or_default(),
            json!("s3cr3t")
        );
        assert_eq!(
            render_str(&env, "${{ secrets.nope }}", &c, &secrets).unwrap(),
            Some(json!(""))
        );
        for bypass in [
            "${{ secrets.token | upper }}",
            "${{ secrets.token | list | join(' ') }}",
            "${{ secrets.token[1:] }}",
            "${{ secrets.token ~ 'x' }}",
            "${{ secrets.token + 'x' }}",
            "${{ 'x' - secrets.token }}",
            "${{ secrets }}",
            "{% for c in secrets.token %}${{ c }}{% endfor %}",
            "${{ '${{ secrets.token }}' | upper }}",
        ] {
            let e = render_str(&env, bypass, &c, &secrets)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("secrets may only be used whole"),
                "{bypass}: {e}"
            );
        }
        // A sentinel mangled by the template is never replaced: no derived form of the secret exists.
        for mangle in [
            "{% filter upper %}${{ secrets.token }}{% endfilter %}",
            "{% set t = '%}${{ secrets.token }}' %}${{ t | upper }}",
            "{% set t = '%}${{ secrets.token }}' %}${{ t | reverse }}",
        ] {
            let out =
                render_str(&env, mangle, &c, &secrets).map(|v| v.unwrap_or_default().to_string());
            let out = out.unwrap_or_else(|e| e.to_string()).to_lowercase();
            assert!(
                !out.contains("s3cr3t") && !out.contains("t3rc3s"),
                "{mangle}: {out}"
            );
        }
    }
}
