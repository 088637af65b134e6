//! The JavaScript semantics nunjucks templates rely on: how values print (`String(v)`: `true`,
//! `a,b`, `[object Object]`, `4040`), the string, array and number methods templates call
//! (`.split()`, `.startsWith()`, `.toUpperCase()`…), and the JavaScript operators nunjucks accepts
//! that minijinja does not (`===`, `!==`, `.length`, `for k, v in object`, `+` as in `plus.rs`),
//! rewritten before parsing.

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Output, State, Value as J};
use regex::Regex;
use std::sync::LazyLock;

/// `String(n)` for a JavaScript number.
pub fn number(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if f == 0.0 {
        "0".into()
    } else if f.abs() >= 1e21 || f.abs() < 1e-6 {
        let e = format!("{f:e}");
        match e.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
            _ => e,
        }
    } else {
        format!("{f}")
    }
}

fn number_of(v: &J) -> String {
    if v.is_integer() {
        v.to_string()
    } else {
        number(f64::try_from(v.clone()).unwrap_or(f64::NAN))
    }
}

/// `String(v)`: what `"" + v` gives in JavaScript.
pub fn string(v: &J) -> String {
    match v.kind() {
        ValueKind::Undefined => "undefined".into(),
        ValueKind::None => "null".into(),
        ValueKind::Bool => v.is_true().to_string(),
        ValueKind::Number => number_of(v),
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Seq | ValueKind::Iterable => match v.try_iter() {
            Ok(items) => items.map(|i| element(&i)).collect::<Vec<_>>().join(","),
            Err(_) => String::new(),
        },
        ValueKind::Map => "[object Object]".into(),
        _ => v.to_string(),
    }
}

/// A JavaScript number for `v` (`Number(v)`): booleans are 1 or 0, null 0, a string its number (blank
/// is 0), undefined and anything else `NaN` (None).
fn to_number(v: &J) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::None => Some(0.0),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim();
            if s.is_empty() {
                Some(0.0)
            } else {
                s.parse::<f64>().ok().filter(|f| !f.is_nan())
            }
        }
        _ => None,
    }
}

/// `a - b` as JavaScript computes it (both sides made numbers; `undefined - 1` is `NaN`).
pub fn sub(a: J, b: J) -> J {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        if let Some(d) = x.checked_sub(y) {
            return J::from(d);
        }
    }
    match (to_number(&a), to_number(&b)) {
        (Some(x), Some(y)) => J::from(x - y),
        _ => J::from(f64::NAN),
    }
}

/// `a + b` as JavaScript computes it.
pub fn add(a: J, b: J) -> J {
    let stringy = |v: &J| {
        matches!(
            v.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
        )
    };
    if stringy(&a) || stringy(&b) {
        return J::from(string(&a) + &string(&b));
    }
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        if let Some(sum) = x.checked_add(y) {
            return J::from(sum);
        }
    }
    match (to_number(&a), to_number(&b)) {
        (Some(x), Some(y)) => J::from(x + y),
        _ => J::from(f64::NAN),
    }
}

/// An array element as `Array.prototype.join` prints it (null and undefined are empty).
fn element(v: &J) -> String {
    if v.is_undefined() || v.is_none() {
        String::new()
    } else {
        string(v)
    }
}

/// How `${{ v }}` prints, as nunjucks' output does: null and undefined print nothing.
pub fn format(out: &mut Output, _: &State, v: &J) -> Result<(), Error> {
    out.write_str(&element(v))
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "could not write the output"))
}

fn not_a_function(name: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("{name} is not a function"),
    )
}

fn arg(args: &[J], i: usize) -> Option<&J> {
    args.get(i).filter(|a| !a.is_undefined())
}

fn arg_str(args: &[J], i: usize) -> String {
    args.get(i)
        .map(string)
        .unwrap_or_else(|| "undefined".into())
}

fn arg_int(args: &[J], i: usize) -> Option<i64> {
    arg(args, i).and_then(|a| {
        a.as_i64()
            .or_else(|| f64::try_from(a.clone()).ok().map(|f| f.trunc() as i64))
    })
}

/// A JavaScript index (negative counts from the end) clamped into `0..=len`.
fn rel_index(i: i64, len: usize) -> usize {
    let len = len as i64;
    (if i < 0 { (len + i).max(0) } else { i.min(len) }) as usize
}

fn char_index(s: &str, byte: usize) -> i64 {
    s[..byte].chars().count() as i64
}

/// Methods JavaScript strings, arrays and numbers have, for the templates that call them.
pub fn method(_: &State, v: &J, name: &str, args: &[J]) -> Result<J, Error> {
    if let Some(s) = v.as_str() {
        return string_method(s, name, args);
    }
    match v.kind() {
        ValueKind::Seq => seq_method(v, name, args),
        ValueKind::Number => match name {
            "toString" => Ok(J::from(number_of(v))),
            "toFixed" => {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                let digits = arg_int(args, 0).unwrap_or(0).clamp(0, 100) as usize;
                Ok(J::from(format!("{f:.digits$}")))
            }
            _ => Err(not_a_function(name)),
        },
        _ => Err(not_a_function(name)),
    }
}

fn split(s: &str, args: &[J]) -> J {
    let limit = arg_int(args, 1).map_or(usize::MAX, |l| l.max(0) as usize);
    let parts: Vec<String> = match arg(args, 0) {
        None => vec![s.to_string()],
        Some(sep) => {
            let sep = string(sep);
            if sep.is_empty() {
                s.chars().map(String::from).collect()
            } else {
                s.split(sep.as_str()).map(String::from).collect()
            }
        }
    };
    J::from(parts.into_iter().take(limit).collect::<Vec<_>>())
}

fn slice_chars(s: &str, from: usize, to: usize) -> String {
    s.chars().skip(from).take(to.saturating_sub(from)).collect()
}

fn string_method(s: &str, name: &str, args: &[J]) -> Result<J, Error> {
    let len = s.chars().count();
    let a0 = || arg_str(args, 0);
    Ok(match name {
        "split" => split(s, args),
        "toUpperCase" | "toLocaleUpperCase" => J::from(s.to_uppercase()),
        "toLowerCase" | "toLocaleLowerCase" => J::from(s.to_lowercase()),
        "trim" => J::from(s.trim()),
        "trimStart" => J::from(s.trim_start()),
        "trimEnd" => J::from(s.trim_end()),
        "startsWith" => J::from(s.starts_with(a0().as_str())),
        "endsWith" => J::from(s.ends_with(a0().as_str())),
        "includes" => J::from(s.contains(a0().as_str())),
        "indexOf" => J::from(s.find(a0().as_str()).map_or(-1, |b| char_index(s, b))),
        "lastIndexOf" => J::from(s.rfind(a0().as_str()).map_or(-1, |b| char_index(s, b))),
        "replace" => J::from(s.replacen(a0().as_str(), &arg_str(args, 1), 1)),
        "replaceAll" => J::from(s.replace(a0().as_str(), &arg_str(args, 1))),
        "toString" | "valueOf" => J::from(s),
        "concat" => J::from(args.iter().fold(s.to_string(), |acc, a| acc + &string(a))),
        "repeat" => J::from(s.repeat(arg_int(args, 0).unwrap_or(0).clamp(0, 10_000) as usize)),
        "charAt" => J::from(
            arg_int(args, 0)
                .filter(|i| *i >= 0)
                .and_then(|i| s.chars().nth(i as usize))
                .map(String::from)
                .unwrap_or_default(),
        ),
        "slice" => {
            let from = rel_index(arg_int(args, 0).unwrap_or(0), len);
            let to = arg_int(args, 1).map_or(len, |t| rel_index(t, len));
            J::from(slice_chars(s, from, to))
        }
        "substring" => {
            let clamp = |i: i64| i.clamp(0, len as i64) as usize;
            let from = clamp(arg_int(args, 0).unwrap_or(0));
            let to = arg_int(args, 1).map_or(len, clamp);
            J::from(slice_chars(s, from.min(to), from.max(to)))
        }
        "padStart" | "padEnd" => {
            let width = arg_int(args, 0).unwrap_or(0).clamp(0, 10_000) as usize;
            let fill = arg(args, 1).map_or(" ".to_string(), string);
            let pad: String = fill
                .chars()
                .cycle()
                .take(width.saturating_sub(len))
                .collect();
            let pad = if fill.is_empty() { String::new() } else { pad };
            J::from(if name == "padStart" {
                pad + s
            } else {
                format!("{s}{pad}")
            })
        }
        _ => return Err(not_a_function(name)),
    })
}

fn seq_method(v: &J, name: &str, args: &[J]) -> Result<J, Error> {
    let items: Vec<J> = v.try_iter()?.collect();
    let len = items.len();
    Ok(match name {
        "join" => J::from(
            items
                .iter()
                .map(element)
                .collect::<Vec<_>>()
                .join(&arg(args, 0).map_or(",".to_string(), string)),
        ),
        "includes" => J::from(args.first().is_some_and(|a| items.contains(a))),
        "indexOf" => J::from(
            args.first()
                .and_then(|a| items.iter().position(|i| i == a))
                .map_or(-1, |p| p as i64),
        ),
        "slice" => {
            let from = rel_index(arg_int(args, 0).unwrap_or(0), len);
            let to = arg_int(args, 1).map_or(len, |t| rel_index(t, len));
            J::from(items[from.min(to)..to.max(from)].to_vec())
        }
        "concat" => {
            let mut all = items;
            for a in args {
                match a.kind() {
                    ValueKind::Seq => all.extend(a.try_iter()?),
                    _ => all.push(a.clone()),
                }
            }
            J::from(all)
        }
        "toString" => J::from(string(v)),
        _ => return Err(not_a_function(name)),
    })
}

/// `x.length`: a string's or array's length, an object's `length` (`loop.length`); else undefined.
pub fn length(v: J) -> J {
    match v.kind() {
        ValueKind::String => J::from(v.as_str().unwrap_or_default().chars().count()),
        ValueKind::Seq => v.len().map_or(J::UNDEFINED, J::from),
        ValueKind::Undefined | ValueKind::None => J::UNDEFINED,
        _ => v.get_attr("length").unwrap_or(J::UNDEFINED),
    }
}

/// What a `{% for %}` iterates, as nunjucks does: an array, a string's characters, an object's
/// entries with two loop variables; nothing for anything else (an object with one loop variable too).
pub fn items(v: J, pairs: bool) -> Result<J, Error> {
    match v.kind() {
        ValueKind::Map if pairs => {}
        ValueKind::Seq | ValueKind::Iterable => return Ok(v),
        ValueKind::String => {
            let chars = v.as_str().unwrap_or_default().chars().map(String::from);
            return Ok(J::from(chars.collect::<Vec<_>>()));
        }
        _ => return Ok(J::from(Vec::<J>::new())),
    }
    let mut pairs = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        pairs.push(J::from(vec![k, val]));
    }
    Ok(J::from(pairs))
}

const OPENERS: [(&str, &str); 3] = [("${{", "}}"), ("{%", "%}"), ("{#", "#}")];

/// The index of `close` in `code`, outside string literals.
fn find_close(code: &str, close: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in code.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if code[i..].starts_with(close) => return Some(i),
            None => {}
        }
    }
    None
}

static RAW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*[-+]?\s*(raw|verbatim)\s*[-+]?\s*$").expect("a valid regex"));
static END_RAW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{%[-+]?\s*end(raw|verbatim)\s*[-+]?%\}").expect("a valid regex")
});
/// A raw tag as nunjucks' parser counts them to find a raw section's end (no `-`/`+` trims).
static RAW_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{%\s*(end)?(raw|verbatim)\s*%\}").expect("a valid regex"));
static FOR_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\s*[-+]?\s*for\s+\w+\s*,\s*\w+\s+in\s+)(.+?)(\s*[-+]?\s*)$")
        .expect("a valid regex")
});
static BARE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([{,]\s*)([A-Za-z_]\w*)(\s*:)").expect("a valid regex"));
static FOR_ONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\s*[-+]?\s*for\s+\w+\s+in\s+)(.+?)(\s*[-+]?\s*)$").expect("a valid regex")
});
static LENGTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([\w\)\]])\.length\b").expect("a valid regex"));

/// The end of the string literal `text` starts with (quoted by `q`), past its closing quote.
fn literal_end(text: &str, q: char) -> usize {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            return i + c.len_utf8();
        }
    }
    text.len()
}

/// Rewrites the JavaScript operators nunjucks accepts into minijinja's, outside string literals.
pub fn rewrite_code(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while !rest.is_empty() {
        let q = rest.find(['"', '\'']).unwrap_or(rest.len());
        let plain = rest[..q].replace("===", "==").replace("!==", "!=");
        let plain = LENGTH.replace_all(&plain, "$1|_jslength");
        out.push_str(&BARE_KEY.replace_all(&plain, "$1'$2'$3"));
        rest = &rest[q..];
        if let Some(qc) = rest.chars().next() {
            let end = literal_end(rest, qc);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        }
    }
    super::plus::rewrite(&out)
}

fn rewrite_block(code: &str) -> String {
    let code = rewrite_code(code);
    if let Some(c) = FOR_PAIR.captures(&code) {
        return format!("{}_jsitems({}, true){}", &c[1], &c[2], &c[3]);
    }
    match FOR_ONE.captures(&code) {
        Some(c) => format!("{}_jsitems({}, false){}", &c[1], &c[2], &c[3]),
        None => code,
    }
}

/// Rewrites template text for minijinja: each `${{ }}` and `{% %}` gets [`rewrite_code`]; comments
/// and `{% raw %}` sections are left as they are.
pub fn rewrite(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = OPENERS
            .iter()
            .filter_map(|(o, c)| rest.find(o).map(|i| (i, *o, *c)))
            .min_by_key(|(i, _, _)| *i);
        let Some((i, open, close)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        rest = &rest[i + open.len()..];
        out.push_str(open);
        let end = if open == "{#" {
            rest.find(close)
        } else {
            find_close(rest, close)
        };
        let Some(end) = end else {
            out.push_str(rest);
            return out;
        };
        let code = &rest[..end];
        match open {
            "{#" => out.push_str(code),
            "{%" => out.push_str(&rewrite_block(code)),
            _ => out.push_str(&rewrite_code(code)),
        }
        out.push_str(close);
        rest = &rest[end + close.len()..];
        if let Some(tag) = RAW.captures(code).filter(|_| open == "{%") {
            let stop = raw_section(&mut out, rest, &tag[1]);
            rest = &rest[stop..];
        }
    }
}

/// Copies the raw section `rest` starts with into `out` and returns where the text after it starts.
/// nunjucks ends it at the `{% endraw %}` matching its `{% raw %}`, counting the raw tags between
/// (so a raw section may show raw tags); minijinja at the first end tag, so each one inside is
/// written as two raw sections meeting in the middle of its `{%` (minijinja's raw scan looks for
/// `{%` only). When the tags do not balance, nunjucks' section holds the text up to the last raw
/// tag (none: nothing) and what follows is a template again; the section is then closed here.
fn raw_section(out: &mut String, rest: &str, name: &str) -> usize {
    let (mut level, mut last, mut stop) = (1, 0, None);
    for m in RAW_TAG.captures_iter(rest) {
        let (Some(all), true) = (m.get(0), &m[2] == name) else {
            continue;
        };
        level = if m.get(1).is_some() {
            level - 1
        } else {
            level + 1
        };
        if level == 0 {
            stop = Some(all.start());
            break;
        }
        last = all.end();
    }
    let end = stop.unwrap_or(last);
    let mut from = 0;
    for m in END_RAW.find_iter(&rest[..end]) {
        out.push_str(&rest[from..m.start()]);
        out.push_str("{%+ endraw +%}{%+ raw +%}{{%+ endraw +%}{%+ raw +%}");
        from = m.start() + 1;
    }
    out.push_str(&rest[from..end]);
    if stop.is_none() {
        out.push_str("{%+ endraw +%}");
    }
    end
}
