//! Filters as Backstage's scaffolder has them: its own (`parseRepoUrl`, `parseEntityRef`, `pick`,
//! `projectSlug`, whose arguments and results pass through JSON as in Backstage's sandbox) and the
//! nunjucks built-ins whose behaviour differs from minijinja's (`dump`, `title`, `indent`, `replace`,
//! `truncate`, `urlencode`, `wordcount`, `striptags`, `nl2br`, `center`).

use super::js;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value as J};
use regex::Regex;
use serde_json::Value;
use std::sync::{LazyLock, RwLock};

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Registers every filter and test of this module.
/// `cookiecutterCompat`'s extra filter: `jsonify` (`JSON.stringify`).
pub fn register_cookiecutter(env: &mut Environment<'static>) {
    env.add_filter("jsonify", |v: J| dump(v, None));
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("parseRepoUrl", |v: J| parse_repo_url(&arg_string(&v)));
    env.add_filter("projectSlug", |v: J| project_slug(&arg_string(&v)));
    env.add_filter("parseEntityRef", parse_entity_ref);
    env.add_filter("pick", pick);
    env.add_filter("dump", dump);
    env.add_filter("title", |v: J| Ok(title(&string_arg(&v, "split")?)));
    env.add_filter("capitalize", |v: J| {
        Ok(capitalize(&string_arg(&v, "toLowerCase")?))
    });
    env.add_filter("upper", |v: J| {
        Ok(string_arg(&v, "toUpperCase")?.to_uppercase())
    });
    env.add_filter("lower", |v: J| {
        Ok(string_arg(&v, "toLowerCase")?.to_lowercase())
    });
    env.add_filter("trim", |v: J| {
        Ok(string_arg(&v, "replace")?.trim().to_string())
    });
    env.add_filter("indent", indent);
    env.add_filter("replace", replace);
    env.add_filter("truncate", truncate);
    env.add_filter("urlencode", urlencode);
    env.add_filter("wordcount", wordcount);
    env.add_filter("striptags", striptags);
    env.add_filter("nl2br", |v: J| {
        if v.is_undefined() || v.is_none() {
            return Ok(String::new());
        }
        let s = string_arg(&v, "replace")?;
        Ok(s.replace("\r\n", "\n").replace('\n', "<br />\n"))
    });
    env.add_filter("center", center);
    env.add_filter("length", length);
    env.add_filter("_jslength", js::length);
    env.add_function("_jsitems", js::items);
    env.add_test("null", |v: J| v.is_none());
}

/// nunjucks' `normalize(v, '')`: null, undefined and false are empty.
fn text(v: &J) -> String {
    if v.is_undefined() || v.is_none() || (v.kind() == ValueKind::Bool && !v.is_true()) {
        String::new()
    } else {
        js::string(v)
    }
}

/// The string a nunjucks string filter works on: null, undefined and false are empty; anything else
/// that is not a string fails as JavaScript does (`str.toUpperCase is not a function`).
fn string_arg(v: &J, method: &str) -> Result<String, Error> {
    match v.as_str() {
        Some(s) => Ok(s.to_string()),
        None if text(v).is_empty() && !v.is_number() && v.kind() != ValueKind::Seq => {
            Ok(String::new())
        }
        None => Err(invalid(format!(
            "TypeError: str.{method} is not a function"
        ))),
    }
}

/// A filter argument as Backstage's sandbox passes it (through JSON: undefined becomes null).
fn arg_string(v: &J) -> String {
    if v.is_undefined() {
        "null".into()
    } else {
        js::string(v)
    }
}

/// The integrations known by host (`integrations.*` in the config), as `(host, type)`.
static INTEGRATIONS: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Sets the hosts `parseRepoUrl` accepts beyond Backstage's defaults (github.com, gitlab.com,
/// bitbucket.org, dev.azure.com), with their integration type (`github`, `gitlab`…).
pub fn set_integrations(hosts: Vec<(String, String)>) {
    if let Ok(mut h) = INTEGRATIONS.write() {
        *h = hosts;
    }
}

fn integration_type(host: &str) -> Option<String> {
    let configured = INTEGRATIONS.read().ok().and_then(|h| {
        h.iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, t)| t.clone())
    });
    configured.or_else(|| {
        Some(
            match host {
                "github.com" => "github",
                "gitlab.com" => "gitlab",
                "bitbucket.org" => "bitbucket",
                "dev.azure.com" => "azure",
                _ => return None,
            }
            .into(),
        )
    })
}

/// `application/x-www-form-urlencoded` decoding, as `URLSearchParams` does it.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The host (with a non-default port) and query of `https://{url}`, as the WHATWG URL parser sees them.
fn split_url(url: &str) -> Result<(String, &str), Error> {
    let url = url.trim_matches(|c: char| c <= ' ');
    let end = url.find(['/', '?', '#', '\\']).unwrap_or(url.len());
    let authority = &url[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host
        .strip_suffix(":443")
        .unwrap_or(host)
        .to_ascii_lowercase();
    if host.is_empty() || host.contains([' ', '<', '>', '^', '|', '%', '[', ']']) {
        return Err(invalid(format!(
            "Invalid repo URL passed to publisher, got {url}"
        )));
    }
    let query = url[end..].split('#').next().unwrap_or_default();
    let query = query.split_once('?').map_or("", |(_, q)| q);
    Ok((host, query))
}

/// `github.com?owner=o&repo=r` → `{host, owner, repo, organization?, workspace?, project?}`, with the
/// checks Backstage makes for the host's integration type.
pub fn parse_repo_url(url: &str) -> Result<J, Error> {
    parse_repo_url_with(url, &integration_type)
}

/// [`parse_repo_url`] with the integration type of a host given by `kind_of` (an action that knows its own
/// integrations, such as `publish:github`).
pub fn parse_repo_url_with(
    url: &str,
    kind_of: &dyn Fn(&str) -> Option<String>,
) -> Result<J, Error> {
    let (host, query) = split_url(url)?;
    let get = |name: &str| {
        query
            .split('&')
            .filter_map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (form_decode(k) == name).then(|| form_decode(v).trim_matches('/').to_string())
            })
            .next()
    };
    let kind = kind_of(&host).ok_or_else(|| {
        invalid(format!(
            "No matching integration configuration for host {host}, please check your integrations config"
        ))
    })?;
    let required: &[&str] = match kind.as_str() {
        "bitbucket" if host == "www.bitbucket.org" => &["workspace", "project", "repo"],
        "bitbucket" | "azure" => &["project", "repo"],
        "gitlab" if get("project").is_some() => &[],
        "gitlab" => &["owner", "repo"],
        "gitea" | "gerrit" => &["repo"],
        _ => &["repo", "owner"],
    };
    if let Some(missing) = required
        .iter()
        .find(|p| get(p).is_none_or(|v| v.is_empty()))
    {
        return Err(invalid(format!(
            "Invalid repo URL passed to publisher: https://{}, missing {missing}",
            url.trim()
        )));
    }
    let mut out = vec![("host".to_string(), J::from(host))];
    for key in ["owner", "repo", "organization", "workspace", "project"] {
        if let Some(v) = get(key) {
            out.push((key.to_string(), J::from(v)));
        }
    }
    Ok(J::from_iter(out))
}

/// `github.com?owner=o&repo=r` → `o/r` (a missing part prints `undefined`, as in Backstage).
pub fn project_slug(url: &str) -> Result<String, Error> {
    let parsed = parse_repo_url(url)?;
    let part = |k: &str| {
        parsed
            .get_attr(k)
            .ok()
            .filter(|v| !v.is_undefined())
            .map_or("undefined".into(), |v| js::string(&v))
    };
    Ok(format!("{}/{}", part("owner"), part("repo")))
}

/// `[kind:][namespace/]name` → `{kind, namespace, name}`, as `@backstage/catalog-model` parses it:
/// nothing is lowercased, the kind and namespace may come from `{defaultKind, defaultNamespace}`.
fn parse_entity_ref(r: J, context: Option<J>) -> Result<J, Error> {
    let ctx_str = |k: &str| {
        context
            .as_ref()
            .and_then(|c| c.get_attr(k).ok())
            .and_then(|v| v.as_str().map(String::from))
            .filter(|s| !s.is_empty())
    };
    let Some(s) = r.as_str().filter(|s| !s.is_empty()) else {
        return Err(invalid("Entity reference must not be empty"));
    };
    let slash = s.find('/');
    let colon = s.find(':').filter(|c| slash.is_none_or(|sl| sl > *c));
    let kind = colon.map(|c| s[..c].to_string());
    let ns_start = colon.map_or(0, |c| c + 1);
    let namespace = slash.map(|sl| s[ns_start..sl].to_string());
    let name = &s[slash.map_or(ns_start, |sl| sl + 1)..];
    if kind.as_deref() == Some("") || namespace.as_deref() == Some("") || name.is_empty() {
        return Err(invalid(format!(
            "Entity reference \"{s}\" was not on the form [<kind>:][<namespace>/]<name>"
        )));
    }
    let kind = kind.or_else(|| ctx_str("defaultKind")).ok_or_else(|| {
        invalid(format!(
            "Entity reference \"{s}\" had missing or empty kind"
        ))
    })?;
    let namespace = namespace
        .or_else(|| ctx_str("defaultNamespace"))
        .unwrap_or_else(|| "default".into());
    Ok(J::from_iter([
        ("kind", J::from(kind)),
        ("namespace", J::from(namespace)),
        ("name", J::from(name)),
    ]))
}

/// `lodash.get(obj, path)` for `a.b`, `a[0].b`; Backstage's sandbox fails on an undefined result.
fn pick(v: J, path: J) -> Result<J, Error> {
    let path = js::string(&path);
    let mut cur = v;
    for key in path.split(['.', '[', ']']).filter(|k| !k.is_empty()) {
        cur = match key.parse::<usize>() {
            Ok(i) if cur.kind() == ValueKind::Seq => cur.get_item(&J::from(i))?,
            _ => cur.get_attr(key)?,
        };
    }
    if cur.is_undefined() {
        return Err(invalid(format!("pick: nothing at '{path}'")));
    }
    Ok(cur)
}

/// `JSON.stringify(v, null, spaces)`: keys in their order, integral numbers without a fraction.
fn dump(v: J, spaces: Option<J>) -> Result<J, Error> {
    let indent = match spaces {
        Some(s) if s.is_number() => " ".repeat(s.as_i64().unwrap_or(0).clamp(0, 10) as usize),
        Some(s) => s.as_str().unwrap_or_default().chars().take(10).collect(),
        None => String::new(),
    };
    let mut out = String::new();
    if !stringify(&v, &indent, 0, &mut out)? {
        return Ok(J::UNDEFINED);
    }
    Ok(J::from(out))
}

/// Writes `v` as JSON; false when `v` has no JSON form (undefined).
fn stringify(v: &J, indent: &str, depth: usize, out: &mut String) -> Result<bool, Error> {
    if depth > 100 {
        return Err(invalid("dump: the value nests too deeply"));
    }
    let quote = |s: &str| serde_json::to_string(s).map_err(|e| invalid(e.to_string()));
    let newline = |out: &mut String, d: usize| {
        if !indent.is_empty() {
            out.push('\n');
            out.push_str(&indent.repeat(d));
        }
    };
    match v.kind() {
        ValueKind::Undefined => return Ok(false),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool | ValueKind::Number => {
            let s = js::string(v);
            out.push_str(if s == "NaN" || s.contains("Infinity") {
                "null"
            } else {
                &s
            });
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<J> = v.try_iter()?.collect();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                if !stringify(item, indent, depth + 1, out)? {
                    out.push_str("null");
                }
            }
            if !items.is_empty() {
                newline(out, depth);
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            let mut first = true;
            for k in v.try_iter()? {
                let mut field = String::new();
                if !stringify(&v.get_item(&k)?, indent, depth + 1, &mut field)? {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                newline(out, depth + 1);
                out.push_str(&quote(&js::string(&k))?);
                out.push_str(if indent.is_empty() { ":" } else { ": " });
                out.push_str(&field);
            }
            if !first {
                newline(out, depth);
            }
            out.push('}');
        }
        _ => out.push_str(&quote(&js::string(v))?),
    }
    Ok(true)
}

/// A value as JSON for a step input: integral numbers are integers, as `JSON.stringify` prints them.
pub fn to_json(v: &J) -> Result<Value, Error> {
    let json = serde_json::to_value(v).map_err(|e| invalid(e.to_string()))?;
    Ok(integral(json))
}

fn integral(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(integral).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        other => other,
    }
}

fn capitalize(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// nunjucks capitalises after spaces only (`my-app` → `My-app`).
fn title(s: &str) -> String {
    s.split(' ').map(capitalize).collect::<Vec<_>>().join(" ")
}

/// `indent(width=4, indentfirst=false)`: every line but the first, blank ones too.
fn indent(v: J, width: Option<J>, first: Option<bool>) -> Result<String, Error> {
    let s = string_arg(&v, "split")?;
    // nunjucks returns an empty string as it is, but not an empty safe string (`undefined | safe`):
    // that one is indented like any one-line text.
    if s.is_empty() && !v.is_safe() {
        return Ok(s);
    }
    let n = width
        .as_ref()
        .and_then(J::as_i64)
        .filter(|n| *n != 0)
        .unwrap_or(4);
    let sp = " ".repeat(n.clamp(0, 1000) as usize);
    Ok(s.split('\n')
        .enumerate()
        .map(|(i, l)| {
            if i == 0 && !first.unwrap_or(false) {
                l.to_string()
            } else {
                format!("{sp}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `replace(old, new, maxCount)`: an empty `old` goes between every character.
fn replace(v: J, old: J, new: J, count: Option<i64>) -> J {
    if !(v.kind() == ValueKind::String || v.is_number()) {
        return v;
    }
    let (s, new) = (js::string(&v), js::string(&new));
    let old = match old.kind() {
        ValueKind::String | ValueKind::Number => js::string(&old),
        _ => return J::from(s),
    };
    if old.is_empty() {
        let inner = s.chars().map(String::from).collect::<Vec<_>>().join(&new);
        return J::from(format!("{new}{inner}{new}"));
    }
    let max = count.filter(|c| *c >= 0).map_or(usize::MAX, |c| c as usize);
    J::from(s.replacen(old.as_str(), &new, max))
}

/// `truncate(length=255, killwords=false, end='...')`.
fn truncate(
    v: J,
    length: Option<i64>,
    killwords: Option<bool>,
    end: Option<J>,
) -> Result<String, Error> {
    let s = string_arg(&v, "substring")?;
    let length = length.filter(|l| *l != 0).unwrap_or(255).max(0) as usize;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= length {
        return Ok(s);
    }
    let cut = if killwords.unwrap_or(false) {
        length
    } else {
        chars[..=length.min(chars.len() - 1)]
            .iter()
            .rposition(|c| *c == ' ')
            .unwrap_or(length)
    };
    let end = end.filter(|e| !e.is_none() && !e.is_undefined());
    let tail = end.map_or("...".into(), |e| js::string(&e));
    Ok(format!("{}{tail}", chars[..cut].iter().collect::<String>()))
}

/// `encodeURIComponent`.
fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn urlencode(v: J) -> Result<String, Error> {
    if let Some(s) = v.as_str() {
        return Ok(encode_component(s));
    }
    let pairs: Vec<(J, J)> = match v.kind() {
        ValueKind::Map => v
            .try_iter()?
            .map(|k| (k.clone(), v.get_item(&k).unwrap_or_default()))
            .collect(),
        _ => v
            .try_iter()?
            .map(|p| {
                (
                    p.get_item(&J::from(0)).unwrap_or_default(),
                    p.get_item(&J::from(1)).unwrap_or_default(),
                )
            })
            .collect(),
    };
    Ok(pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_component(&js::string(k)),
                encode_component(&js::string(v))
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?-u:\w)+").expect("a valid regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?([a-z][a-z0-9]*)(?-u:\b)[^>]*>|<!--[\s\S]*?-->").expect("a valid regex")
});
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("a valid regex"));
static LINE_EDGES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^ +| +$").expect("a valid regex"));
static RUNS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r" +").expect("a valid regex"));
static BLANKS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n\n\n+").expect("a valid regex"));

/// The number of words, or null (prints empty) when there are none.
fn wordcount(v: J) -> J {
    match WORD.find_iter(&text(&v)).count() {
        0 => J::from(()),
        n => J::from(n),
    }
}

fn striptags(v: J, preserve_linebreaks: Option<bool>) -> Result<String, Error> {
    let s = string_arg(&v, "replace")?;
    let stripped = TAG.replace_all(&s, "");
    let trimmed = stripped.trim();
    if preserve_linebreaks.unwrap_or(false) {
        let s = LINE_EDGES.replace_all(trimmed, "");
        let s = RUNS.replace_all(&s, " ").replace("\r\n", "\n");
        Ok(BLANKS.replace_all(&s, "\n\n").into_owned())
    } else {
        Ok(SPACES.replace_all(trimmed, " ").into_owned())
    }
}

/// nunjucks' `length`: an object's number of keys, a string's or array's length, 0 for null and
/// false, undefined (prints empty) for numbers and true.
fn length(v: J) -> J {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => J::from(0),
        ValueKind::Bool if !v.is_true() => J::from(0),
        ValueKind::Map => J::from(v.len().unwrap_or(0)),
        _ => js::length(v),
    }
}

/// `center(width=80)`: the odd space goes after; anything but a string is left as it is.
fn center(v: J, width: Option<i64>) -> String {
    if v.as_str().is_none() && !text(&v).is_empty() {
        return js::string(&v);
    }
    let s = text(&v);
    let width = width.unwrap_or(80).max(0) as usize;
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let spaces = width - len;
    let (pre, post) = (spaces / 2, spaces - spaces / 2);
    format!("{}{s}{}", " ".repeat(pre), " ".repeat(post))
}
