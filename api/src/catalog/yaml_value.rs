//! One YAML document read into JSON the way Backstage's reader (`yaml` 2, YAML 1.2 core schema, then
//! `toJSON`) reads it: plain scalars resolved by the core schema (`0123` is the integer 123, `yes` a
//! string), quoted and block scalars kept as strings, `!!str`/`!!int`/`!!float`/`!!bool`/`!!null` and
//! `!!binary` (bytes, as Node's `Buffer` serialises them) honoured, other tags read as strings, duplicate
//! keys refused, non-string keys turned into strings, and aliases bounded.

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// How many nodes aliases may copy into one document (a bound on "billion laughs" expansion).
const MAX_ALIAS_NODES: usize = 10_000;

const CORE: &str = "tag:yaml.org,2002:";

/// A document that cannot be read: the 1-based line within the document text, and why.
#[derive(Debug, PartialEq)]
pub struct YamlIssue {
    pub line: usize,
    pub message: String,
}

/// Reads the one document in `text` (which holds no `---` between documents); an empty text is null.
/// Nesting past `max_depth` is refused.
pub fn parse(text: &str, max_depth: usize) -> Result<Value, YamlIssue> {
    let mut b = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        alias_nodes: 0,
        max_depth,
    };
    let mut doc = None;
    loop {
        let (event, mark) = b.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart if doc.is_some() => {
                return Err(issue(
                    mark,
                    "a second document must start with a `---` line",
                ));
            }
            Event::DocumentStart => {
                let (event, mark) = b.next()?;
                doc = Some(b.node(event, mark, 0)?);
            }
            _ => return Err(issue(mark, "unexpected YAML event")),
        }
    }
    Ok(doc.unwrap_or(Value::Null))
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: HashMap<usize, Value>,
    alias_nodes: usize,
    max_depth: usize,
}

impl Builder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), YamlIssue> {
        self.parser.next_token().map_err(|e| YamlIssue {
            line: e.marker().line().max(1),
            message: e.info().to_string(),
        })
    }

    fn node(&mut self, event: Event, mark: Marker, depth: usize) -> Result<Value, YamlIssue> {
        if depth > self.max_depth {
            return Err(issue(
                mark,
                &format!("the document nests deeper than {} levels", self.max_depth),
            ));
        }
        let (anchor, value) = match event {
            Event::Scalar(text, style, anchor, tag) => (anchor, scalar(text, style, tag.as_ref())),
            Event::SequenceStart(anchor, _) => (anchor, self.sequence(depth)?),
            Event::MappingStart(anchor, _) => (anchor, self.mapping(depth)?),
            Event::Alias(id) => return self.alias(id, mark),
            _ => return Err(issue(mark, "unexpected YAML event")),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn alias(&mut self, id: usize, mark: Marker) -> Result<Value, YamlIssue> {
        let value = self
            .anchors
            .get(&id)
            .cloned()
            .ok_or_else(|| issue(mark, "an alias names an anchor not yet defined"))?;
        self.alias_nodes += count_nodes(&value);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(issue(
                mark,
                &format!("aliases copy more than {MAX_ALIAS_NODES} nodes; not read"),
            ));
        }
        Ok(value)
    }

    fn sequence(&mut self, depth: usize) -> Result<Value, YamlIssue> {
        let mut items = Vec::new();
        loop {
            let (event, mark) = self.next()?;
            if event == Event::SequenceEnd {
                return Ok(Value::Array(items));
            }
            items.push(self.node(event, mark, depth + 1)?);
        }
    }

    fn mapping(&mut self, depth: usize) -> Result<Value, YamlIssue> {
        let mut out = Map::new();
        let mut seen = HashSet::new();
        loop {
            let (event, mark) = self.next()?;
            if event == Event::MappingEnd {
                return Ok(Value::Object(out));
            }
            let key = self.node(event, mark, depth + 1)?;
            let (identity, name) = key_name(&key).ok_or_else(|| {
                issue(
                    mark,
                    "a mapping key must be a string, number, boolean or null",
                )
            })?;
            if !seen.insert(identity) {
                return Err(issue(
                    mark,
                    &format!("Map keys must be unique: `{name}` appears twice"),
                ));
            }
            let (event, mark) = self.next()?;
            let value = self.node(event, mark, depth + 1)?;
            out.insert(name, value);
        }
    }
}

fn issue(mark: Marker, message: &str) -> YamlIssue {
    YamlIssue {
        line: mark.line().max(1),
        message: message.to_string(),
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// A key's identity (what YAML compares for uniqueness: its type and value) and the string it becomes in JSON.
fn key_name(key: &Value) -> Option<(String, String)> {
    let (kind, name) = match key {
        Value::String(s) => ('s', s.clone()),
        Value::Null => ('z', String::new()),
        Value::Bool(b) => ('b', b.to_string()),
        Value::Number(n) => ('n', js_number(n)),
        _ => return None,
    };
    Some((format!("{kind}{name}"), name))
}

/// A number as JavaScript's `String(n)` writes it (integers without a fraction).
pub fn js_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
        _ => n.to_string(),
    }
}

fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    match tag {
        Some(t) if t.handle == CORE => match t.suffix.as_str() {
            "str" => Value::String(text),
            "binary" => binary(&text).unwrap_or(Value::String(text)),
            // A core tag resolves a value its type's pattern matches; any other value is a string.
            "int" => resolve_int(&text).unwrap_or(Value::String(text)),
            "float" => resolve_float(&text).unwrap_or(Value::String(text)),
            "null" | "bool" => match resolve_words(&text) {
                Some(v) if v.is_null() == (t.suffix == "null") => v,
                _ => Value::String(text),
            },
            _ => Value::String(text),
        },
        Some(_) => Value::String(text),
        None if style == TScalarStyle::Plain => resolve_plain(&text).unwrap_or(Value::String(text)),
        None => Value::String(text),
    }
}

/// `!!binary`: the bytes, as `JSON.stringify` writes a Node `Buffer`.
fn binary(text: &str) -> Option<Value> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()?;
    let data = bytes.into_iter().map(Value::from).collect();
    let mut m = Map::new();
    m.insert("type".into(), Value::String("Buffer".into()));
    m.insert("data".into(), Value::Array(data));
    Some(Value::Object(m))
}

/// The YAML 1.2 core schema's resolution of a plain scalar; `None` means it is a string.
fn resolve_plain(s: &str) -> Option<Value> {
    resolve_words(s)
        .or_else(|| resolve_int(s))
        .or_else(|| resolve_float(s))
}

/// The core schema's null and boolean words.
fn resolve_words(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Some(Value::Null),
        "true" | "True" | "TRUE" => Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => Some(Value::Bool(false)),
        _ => None,
    }
}

fn resolve_int(s: &str) -> Option<Value> {
    let (radix, digits) = if let Some(d) = s.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = s.strip_prefix("0x") {
        (16, d)
    } else {
        (10, s)
    };
    let unsigned = if radix == 10 {
        digits.strip_prefix(['-', '+']).unwrap_or(digits)
    } else {
        digits
    };
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    match i64::from_str_radix(digits.trim_start_matches('+'), radix) {
        Ok(i) => Some(Value::from(i)),
        // Past i64, JavaScript's numbers are doubles.
        Err(_) => digits
            .parse::<f64>()
            .ok()
            .or_else(|| u128::from_str_radix(digits, radix).ok().map(|u| u as f64))
            .and_then(Number::from_f64)
            .map(Value::Number),
    }
}

fn resolve_float(s: &str) -> Option<Value> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        // JSON has no infinity or NaN: `JSON.stringify` writes null.
        return Some(Value::Null);
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int) && exponent.is_some(),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    let f = s.parse::<f64>().ok()?;
    // JavaScript has one number type: an integral value is written without a fraction.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        return Some(Value::from(f as i64));
    }
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Value {
        parse(text, 64).unwrap()
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        let v = read(
            "a: 0123\nb: '0123'\nc: yes\nd: 0o17\ne: 0x1F\nf: 1e3\ng: 1.5\nh: ~\ni: TRUE\nj: -7\nk: .5\nl: 2024-01-01\nm: 1.\n",
        );
        assert_eq!(
            v,
            json!({"a": 123, "b": "0123", "c": "yes", "d": 15, "e": 31, "f": 1000, "g": 1.5,
                   "h": null, "i": true, "j": -7, "k": 0.5, "l": "2024-01-01", "m": 1})
        );
    }

    #[test]
    fn tags() {
        let v = read("a: !!str 0123\nb: !custom 5\nc: !!binary aGk=\nd: !!int '12'\ne: \"5\"\n");
        assert_eq!(
            v,
            json!({"a": "0123", "b": "5", "c": {"type": "Buffer", "data": [104, 105]}, "d": 12, "e": "5"})
        );
        // A core tag whose pattern the value does not match leaves a string.
        let v = read(
            "a: !!float 1\nb: !!float 1.5\nc: !!int 1.5\nd: !!bool ~\ne: !!null ~\nf: !!bool no\n",
        );
        assert_eq!(
            v,
            json!({"a": "1", "b": 1.5, "c": "1.5", "d": "~", "e": null, "f": "no"})
        );
    }

    #[test]
    fn keys_duplicates_and_aliases() {
        let v = read("1: a\ntrue: b\n~: c\n2.5: d\nx: &x {k: v}\ny: *x\n");
        assert_eq!(
            v,
            json!({"1": "a", "2.5": "d", "true": "b", "": "c", "x": {"k": "v"}, "y": {"k": "v"}})
        );
        let dup = parse("a: 1\nb: 2\na: 3\n", 64).unwrap_err();
        assert_eq!(dup.line, 3, "{dup:?}");
        assert!(dup.message.contains("unique"), "{dup:?}");
        assert!(parse("{name: a, name: b}", 64).is_err());
        assert!(
            parse("1: a\n1.0: b\n", 64).is_err(),
            "1 and 1.0 are the same number"
        );
        assert!(parse("a: *nope\n", 64).is_err());
        assert_eq!(read(""), Value::Null);
        assert_eq!(read("# only a comment\n"), Value::Null);
    }

    #[test]
    fn bounds() {
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, c) in "bcdefg".chars().enumerate() {
            let prev = (b'a' + i as u8) as char;
            laughs.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let err = parse(&laughs, 64).unwrap_err();
        assert!(err.message.contains("aliases"), "{err:?}");
        assert!(parse("a: [[[[x]]]]\n", 3).is_err());
        assert!(parse("a: [[[[x]]]]\n", 8).is_ok());
    }
}
