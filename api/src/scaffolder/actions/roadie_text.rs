//! Text forms of structured values as Roadie's utility actions write them: `JSON.stringify` (with its
//! `space` and array `replacer`) and the `yaml` package's `stringify` (block style, its quoting rules and
//! its folding of long plain strings). Values are `serde_yaml_ng` values, whose maps keep their order.

use serde_yaml_ng::{Mapping, Value as Yv};

use super::ActionError;

/// `JSON.stringify(value, replacer, space)`; `gap` is the indent (empty: one line).
pub fn json(value: &Yv, replacer: Option<&[String]>, gap: &str) -> String {
    let mut out = String::new();
    json_into(&mut out, value, replacer, gap, "");
    out
}

fn json_into(out: &mut String, v: &Yv, replacer: Option<&[String]>, gap: &str, ind: &str) {
    match v {
        Yv::Null => out.push_str("null"),
        Yv::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Yv::Number(n) => out.push_str(&js_number(n, "null")),
        Yv::String(s) => out.push_str(&quote_json(s)),
        Yv::Tagged(t) => json_into(out, &t.value, replacer, gap, ind),
        Yv::Sequence(items) => {
            let parts: Vec<&Yv> = items.iter().collect();
            container(out, '[', ']', &parts, gap, ind, |out, item, inner| {
                json_into(out, item, replacer, gap, inner)
            });
        }
        Yv::Mapping(m) => {
            let pairs = picked(m, replacer);
            let sep = if gap.is_empty() { ":" } else { ": " };
            container(out, '{', '}', &pairs, gap, ind, |out, (k, v), inner| {
                out.push_str(&quote_json(k));
                out.push_str(sep);
                json_into(out, v, replacer, gap, inner);
            });
        }
    }
}

/// An object's properties, in the replacer's order when there is one (as `JSON.stringify` does).
fn picked<'a>(m: &'a Mapping, replacer: Option<&[String]>) -> Vec<(String, &'a Yv)> {
    let all = m.iter().map(|(k, v)| (key_text(k), v));
    match replacer {
        None => all.collect(),
        Some(keys) => {
            let all: Vec<(String, &Yv)> = all.collect();
            let mut seen = std::collections::BTreeSet::new();
            keys.iter()
                .filter(|k| seen.insert(k.as_str()))
                .filter_map(|k| all.iter().find(|(n, _)| n == k).cloned())
                .collect()
        }
    }
}

fn container<T>(
    out: &mut String,
    open: char,
    close: char,
    items: &[T],
    gap: &str,
    ind: &str,
    mut each: impl FnMut(&mut String, &T, &str),
) {
    out.push(open);
    if items.is_empty() {
        out.push(close);
        return;
    }
    let inner = format!("{ind}{gap}");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !gap.is_empty() {
            out.push('\n');
            out.push_str(&inner);
        }
        each(out, item, &inner);
    }
    if !gap.is_empty() {
        out.push('\n');
        out.push_str(ind);
    }
    out.push(close);
}

/// A map key as JavaScript turns it into a property name.
fn key_text(k: &Yv) -> String {
    match k {
        Yv::String(s) => s.clone(),
        Yv::Null => "null".into(),
        Yv::Bool(b) => b.to_string(),
        Yv::Number(n) => js_number(n, "null"),
        Yv::Tagged(t) => key_text(&t.value),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn quote_json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A number as JavaScript prints it; `non_finite` for NaN and infinities.
fn js_number(n: &serde_yaml_ng::Number, non_finite: &str) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if !f.is_finite() {
        return non_finite.to_string();
    }
    if f == f.trunc() && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    if f.abs() < 1e-6 || f.abs() >= 1e21 {
        let e = format!("{f:e}");
        return match e.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
            _ => e,
        };
    }
    f.to_string()
}

/// The `yaml` package's stringify options Greenroom honours.
pub struct YamlOptions {
    pub indent: usize,
    pub indent_seq: bool,
    pub line_width: usize,
    pub min_content_width: usize,
}

impl Default for YamlOptions {
    fn default() -> Self {
        Self {
            indent: 2,
            indent_seq: true,
            line_width: 80,
            min_content_width: 20,
        }
    }
}

impl YamlOptions {
    /// Reads `input.options`; options Greenroom does not implement are refused by name.
    pub fn from_input(options: Option<&serde_json::Value>) -> Result<Self, ActionError> {
        let mut o = Self::default();
        let Some(options) = options.filter(|v| !v.is_null()) else {
            return Ok(o);
        };
        let map = options
            .as_object()
            .ok_or_else(|| ActionError::input("input.options must be an object"))?;
        let count = |k: &str, v: &serde_json::Value| {
            v.as_u64().map(|n| n as usize).ok_or_else(|| {
                ActionError::Input(format!("input.options.{k} must be a whole number"))
            })
        };
        for (k, v) in map {
            match k.as_str() {
                "indent" => o.indent = count(k, v)?.max(1),
                "lineWidth" => o.line_width = count(k, v)?,
                "minContentWidth" => o.min_content_width = count(k, v)?,
                "indentSeq" => {
                    o.indent_seq = v.as_bool().ok_or_else(|| {
                        ActionError::input("input.options.indentSeq must be a boolean")
                    })?
                }
                other => {
                    return Err(ActionError::Input(format!(
                        "input.options.{other} is not supported (supported: indent, indentSeq, lineWidth, minContentWidth)"
                    )))
                }
            }
        }
        Ok(o)
    }
}

/// `YAML.stringify(value, options)`: one document, ending in a newline.
pub fn yaml(value: &Yv, o: &YamlOptions) -> String {
    let e = Emitter { o };
    let mut s = match value {
        Yv::Mapping(m) if !m.is_empty() => e.map(m, ""),
        Yv::Sequence(s) if !s.is_empty() => e.seq(s, ""),
        other => e.scalar(other, false, "", None),
    };
    s.push('\n');
    s
}

struct Emitter<'a> {
    o: &'a YamlOptions,
}

impl Emitter<'_> {
    fn step(&self) -> String {
        " ".repeat(self.o.indent)
    }

    fn map(&self, m: &Mapping, ind: &str) -> String {
        let inner = format!("{ind}{}", self.step());
        let lines: Vec<String> = m
            .iter()
            .map(|(k, v)| {
                let key = self.scalar(k, true, &inner, None);
                match untag(v) {
                    Yv::Mapping(c) if !c.is_empty() => {
                        format!("{key}:\n{inner}{}", self.map(c, &inner))
                    }
                    Yv::Sequence(c) if !c.is_empty() => {
                        let at = if self.o.indent_seq {
                            inner.as_str()
                        } else {
                            ind
                        };
                        format!("{key}:\n{at}{}", self.seq(c, at))
                    }
                    other => {
                        let start = key.chars().count() + 2;
                        format!("{key}: {}", self.scalar(other, false, &inner, Some(start)))
                    }
                }
            })
            .collect();
        lines.join(&format!("\n{ind}"))
    }

    fn seq(&self, s: &[Yv], ind: &str) -> String {
        // An item's content starts after "- ", whatever the indent step (as the `yaml` package does).
        let inner = format!("{ind}  ");
        let lines: Vec<String> = s
            .iter()
            .map(|v| match untag(v) {
                Yv::Mapping(c) if !c.is_empty() => format!("- {}", self.map(c, &inner)),
                Yv::Sequence(c) if !c.is_empty() => format!("- {}", self.seq(c, &inner)),
                other => format!("- {}", self.scalar(other, false, &inner, None)),
            })
            .collect();
        lines.join(&format!("\n{ind}"))
    }

    /// A scalar (or an empty collection); `ind` is the indent of its continuation lines.
    fn scalar(&self, v: &Yv, implicit_key: bool, ind: &str, at_start: Option<usize>) -> String {
        match untag(v) {
            Yv::Null => "null".into(),
            Yv::Bool(b) => b.to_string(),
            Yv::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                if f.is_nan() {
                    ".nan".into()
                } else if f.is_infinite() {
                    if f < 0.0 { "-.inf" } else { ".inf" }.into()
                } else {
                    js_number(n, "null")
                }
            }
            Yv::String(s) => self.string(s, implicit_key, ind, at_start),
            Yv::Mapping(_) => "{}".into(),
            Yv::Sequence(_) => "[]".into(),
            Yv::Tagged(_) => String::new(),
        }
    }

    fn string(&self, s: &str, implicit_key: bool, ind: &str, at_start: Option<usize>) -> String {
        if s.chars().any(is_control) {
            return double_quoted(s);
        }
        if (implicit_key && s.contains('\n')) || !plain_allowed(s) {
            return if implicit_key || !s.contains('\n') {
                quoted(s)
            } else {
                self.block(s, ind)
            };
        }
        if !implicit_key && s.contains('\n') {
            return self.block(s, ind);
        }
        if ind.is_empty() && has_document_marker(s) || looks_typed(s) {
            return quoted(s);
        }
        if implicit_key {
            return s.to_string();
        }
        fold(s, ind, at_start, self.o)
    }

    /// A literal block scalar (`|`, `|-` or `|+` by its trailing newlines).
    fn block(&self, s: &str, ind: &str) -> String {
        let body = s.trim_end_matches('\n');
        if body.trim().is_empty() || body.lines().last().is_some_and(|l| l.trim().is_empty()) {
            return quoted(s);
        }
        let chomp = match s.len() - body.len() {
            0 => "-",
            1 => "",
            _ => "+",
        };
        let lead = match (s.starts_with(' '), ind.is_empty()) {
            (false, _) => "",
            (true, true) => "1",
            (true, false) => "2",
        };
        let mut out = format!("|{lead}{chomp}");
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(ind);
                out.push_str(line);
            }
        }
        for _ in 1..(s.len() - body.len()).max(1) {
            out.push('\n');
        }
        out
    }
}

fn untag(v: &Yv) -> &Yv {
    match v {
        Yv::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn is_control(c: char) -> bool {
    matches!(c as u32, 0x00..=0x08 | 0x0b..=0x1f | 0x7f..=0x9f)
}

/// The `yaml` package's test for a string it may write plain.
fn plain_allowed(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "\n\t ,[]{}#&*!|>'\"%@`".contains(first) || s == "?" || s == "-" {
        return false;
    }
    let b = s.as_bytes();
    if (b[0] == b'?' || b[0] == b'-') && matches!(b.get(1), Some(b' ' | b'\t')) {
        return false;
    }
    let pairs = b.windows(2).any(|w| {
        matches!((w[0], w[1]), (b'\n' | b':', b' ' | b'\t'))
            || matches!((w[0], w[1]), (b' ' | b'\t', b'\n'))
            || matches!((w[0], w[1]), (b'\n' | b'\t' | b' ', b'#'))
    });
    !pairs && !matches!(b[b.len() - 1], b'\n' | b'\t' | b' ' | b':')
}

fn has_document_marker(s: &str) -> bool {
    s.split('\n')
        .any(|l| l.starts_with('%') || l.starts_with("---") || l.starts_with("..."))
}

/// Strings the core schema would read back as null, a boolean or a number.
fn looks_typed(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let float = |t: &str| match t.split_once('.') {
        Some((a, b)) => (digits(a) && (b.is_empty() || digits(b))) || (a.is_empty() && digits(b)),
        None => false,
    };
    let exp = |t: &str| match t.split_once(['e', 'E']) {
        Some((m, x)) => (digits(m) || float(m)) && digits(x.strip_prefix(['-', '+']).unwrap_or(x)),
        None => false,
    };
    matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
    ) || matches!(unsigned, ".inf" | ".Inf" | ".INF")
        || matches!(s, ".nan" | ".NaN" | ".NAN")
        || digits(unsigned)
        || float(unsigned)
        || exp(unsigned)
        || s.strip_prefix("0o")
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|c| (b'0'..=b'7').contains(&c)))
        || s.strip_prefix("0x")
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// Single quotes for a string holding `"` but no `'`, else double quotes (the `yaml` default).
fn quoted(s: &str) -> String {
    if s.contains('"') && !s.contains('\'') && !s.contains('\n') {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        double_quoted(s)
    }
}

/// A double-quoted YAML string: JSON's escapes, with YAML's short forms for some control characters.
fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{b}' => out.push_str("\\v"),
            '\u{1b}' => out.push_str("\\e"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Folds a long plain string at single spaces, as the `yaml` package does for flow scalars.
fn fold(s: &str, ind: &str, at_start: Option<usize>, o: &YamlOptions) -> String {
    let width = o.line_width;
    if width == 0 {
        return s.to_string();
    }
    let min = if width < o.min_content_width {
        0
    } else {
        o.min_content_width
    };
    let text: Vec<char> = s.chars().collect();
    let end_step = (1 + min).max((1 + width).saturating_sub(ind.len()));
    if text.len() <= end_step {
        return s.to_string();
    }
    let mut folds: Vec<usize> = Vec::new();
    let mut end = width.saturating_sub(ind.len());
    if let Some(start) = at_start {
        if start > width.saturating_sub(min.max(2)) {
            folds.push(0);
        } else {
            end = width - start;
        }
    }
    let mut split: Option<usize> = None;
    for i in 0..text.len() {
        let ch = text[i];
        let prev = if i > 0 { Some(text[i - 1]) } else { None };
        if ch == ' ' && prev.is_some_and(|p| !matches!(p, ' ' | '\n' | '\t')) {
            if let Some(next) = text.get(i + 1) {
                if !matches!(next, ' ' | '\n' | '\t') {
                    split = Some(i);
                }
            }
        }
        if i >= end {
            if let Some(at) = split.take() {
                folds.push(at);
                end = at + end_step;
            }
        }
    }
    if folds.is_empty() {
        return s.to_string();
    }
    let slice = |a: usize, b: usize| text[a..b].iter().collect::<String>();
    let mut res = slice(0, folds[0]);
    for (n, &at) in folds.iter().enumerate() {
        let until = folds.get(n + 1).copied().unwrap_or(text.len());
        if at == 0 {
            res = format!("\n{ind}{}", slice(0, until));
        } else {
            res.push_str(&format!("\n{ind}{}", slice(at + 1, until)));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(text: &str) -> Yv {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn json_follows_javascript() {
        let v = y("{b: 1, a: [1, 2.5, {c: null}], e: {}}");
        assert_eq!(
            json(&v, None, ""),
            r#"{"b":1,"a":[1,2.5,{"c":null}],"e":{}}"#
        );
        assert_eq!(
            json(&v, None, "  "),
            "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2.5,\n    {\n      \"c\": null\n    }\n  ],\n  \"e\": {}\n}"
        );
        let keys = ["e".to_string(), "b".to_string()];
        assert_eq!(json(&v, Some(&keys), ""), r#"{"e":{},"b":1}"#);
    }

    #[test]
    fn yaml_quotes_what_would_read_back_as_another_type() {
        // The expected text is what the `yaml` package (through Roadie's serialize:yaml) wrote.
        let v = y(
            r##"{"a":"1","b":"true","c":"x: y","d":"plain","e":"","f":"say \"hi\"","g":"-","h":"\"quoted\" start","i":"tab\there","j":"ctl\u0001x","k":"a #b","l":"end:","m":"2024-01-01","n":"~","o":"0o17","p":"1e3","q":"yes","r":"---x"}"##,
        );
        assert_eq!(
            yaml(&v, &YamlOptions::default()),
            "a: \"1\"\nb: \"true\"\nc: \"x: y\"\nd: plain\ne: \"\"\nf: say \"hi\"\ng: \"-\"\nh: '\"quoted\" start'\ni: tab\there\nj: \"ctl\\x01x\"\nk: \"a #b\"\nl: \"end:\"\nm: 2024-01-01\nn: \"~\"\no: \"0o17\"\np: \"1e3\"\nq: yes\nr: ---x\n"
        );
    }
}
