//! The generator's YAML: block style with the layout of `emit()` in bench/gen_catalog.py, and scalars
//! plain when YAML reads them back as the same string, else double-quoted.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The apiVersion of every generated entity.
const API_VERSION: &str = "backstage.io/v1alpha1";

/// Words YAML 1.1 reads as something other than a string: always quoted.
const YAML_SPECIAL: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

/// Plain if it matches `^(\./)?[A-Za-z][A-Za-z0-9._/@:-]*$`, is no YAML 1.1 special word and
/// does not end in `:`; otherwise a JSON string (a valid YAML double-quoted scalar).
pub(super) fn scalar(value: &str) -> Cow<'_, str> {
    let mut chars = value.strip_prefix("./").unwrap_or(value).chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._/@:-".contains(c))
        && !YAML_SPECIAL.contains(&value.to_ascii_lowercase().as_str())
        && !value.ends_with(':');
    if plain {
        return Cow::Borrowed(value);
    }
    // Python json.dumps escaping (ensure_ascii), but astral chars use YAML's \U form.
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        let short = match c {
            '"' | '\\' => c,
            '\n' => 'n',
            '\r' => 'r',
            '\t' => 't',
            '\u{8}' => 'b',
            '\u{c}' => 'f',
            ' '..='~' => {
                out.push(c);
                continue;
            }
            c if u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
                continue;
            }
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
                continue;
            }
        };
        out.push('\\');
        out.push(short);
    }
    out.push('"');
    Cow::Owned(out)
}

/// Block-style YAML writer with the same layout as `emit()` in gen_catalog.py
/// (two-space indent, list items indented under their key, `key: []` for empty lists).
#[derive(Default)]
pub(super) struct Yaml(pub(super) String);

impl Yaml {
    fn key(&mut self, indent: usize, key: &str) -> &mut Self {
        self.0.push_str(&"  ".repeat(indent));
        self.0.push_str(key);
        self.0.push(':');
        self
    }

    /// `key: value`
    pub(super) fn kv(&mut self, indent: usize, key: &str, value: &str) -> &mut Self {
        self.key(indent, key).0.push(' ');
        self.0.push_str(&scalar(value));
        self.0.push('\n');
        self
    }

    /// A mapping header: `key:` on its own line.
    pub(super) fn section(&mut self, indent: usize, key: &str) -> &mut Self {
        self.key(indent, key).0.push('\n');
        self
    }

    /// `key:` plus one `- item` line per item; when empty, `key: []` if `keep_empty`, else nothing.
    pub(super) fn list<S: AsRef<str>>(
        &mut self,
        indent: usize,
        key: &str,
        items: &[S],
        keep_empty: bool,
    ) -> &mut Self {
        if items.is_empty() {
            if keep_empty {
                self.key(indent, key).0.push_str(" []\n");
            }
            return self;
        }
        self.section(indent, key);
        for item in items {
            self.0.push_str(&"  ".repeat(indent + 1));
            self.0.push_str("- ");
            self.0.push_str(&scalar(item.as_ref()));
            self.0.push('\n');
        }
        self
    }

    /// Document start, apiVersion, kind and the `metadata:` header.
    pub(super) fn begin(&mut self, kind: &str) -> &mut Self {
        self.0.push_str("---\n");
        self.kv(0, "apiVersion", API_VERSION)
            .kv(0, "kind", kind)
            .section(0, "metadata")
    }
}
