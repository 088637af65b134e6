//! The entity envelope: YAML documents parsed with their source position, and validated entities.

use serde_json::{Map, Value};
use std::fmt;

use super::refs::EntityRef;

/// Backstage's annotation naming the location an entity was read from (`file:/abs/path`, `url:https://…`).
pub const MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";
/// Backstage's annotation naming the registered location (the source) whose tree the entity came from.
pub const MANAGED_BY_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";

/// Where a document came from: a file (or URL) and the 1-based line its document starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePos {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for SourcePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One status item attached to a stored entity (Backstage's `status.items`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusItem {
    #[serde(rename = "type")]
    pub kind: String,
    pub level: String,
    pub message: String,
}

/// A validated entity, ready to be stored.
#[derive(Clone, Debug)]
pub struct Entity {
    pub entity_ref: EntityRef,
    /// The whole document (apiVersion, kind, metadata with namespace filled in, spec).
    pub body: Value,
    pub status: Vec<StatusItem>,
    pub source: SourcePos,
    /// Digest of the source document and its file (set by providers; see `providers::walk`).
    pub doc_hash: Option<String>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl Entity {
    pub fn kind(&self) -> &str {
        self.body
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    pub fn metadata(&self) -> &Map<String, Value> {
        self.body
            .get("metadata")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    }
    pub fn spec(&self) -> &Map<String, Value> {
        self.body
            .get("spec")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    }
    pub fn spec_str(&self, key: &str) -> Option<&str> {
        self.spec().get(key).and_then(Value::as_str)
    }
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata().get(key).and_then(Value::as_str)
    }
}

/// A YAML document that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("{pos}: invalid YAML: {message}")]
pub struct YamlError {
    pub pos: SourcePos,
    pub message: String,
}

/// One YAML document of a multi-document text: the line it starts on and its text.
pub struct RawDocument {
    pub line: usize,
    pub text: String,
}

/// Splits multi-document YAML text at `---` markers, keeping the line each document starts on.
/// Empty documents (comments only) are skipped.
/// A byte-order mark before the first document is dropped, and so are directives (`%YAML 1.2`, `%TAG`)
/// before a document's `---` (their line stays, blank, so line numbers hold).
pub fn split_documents(text: &str) -> Vec<RawDocument> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut docs = Vec::new();
    let mut start_line = 1usize;
    let mut current = String::new();
    let flush = |line: usize, chunk: &mut String, docs: &mut Vec<RawDocument>| {
        let empty = chunk.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t == "..."
        });
        let text = std::mem::take(chunk);
        if !empty {
            docs.push(RawDocument { line, text });
        }
    };
    for (idx, line) in text.lines().enumerate() {
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            flush(start_line, &mut current, &mut docs);
            start_line = idx + 1;
            // keep content after the marker on the same line (e.g. `--- {a: 1}`)
            current.push_str(line.trim_start_matches("---"));
            current.push('\n');
        } else {
            let directive = line.starts_with('%')
                && current.lines().all(|l| {
                    let t = l.trim();
                    t.is_empty() || t.starts_with('#')
                });
            if !directive {
                current.push_str(line.trim_end_matches('\r'));
            }
            current.push('\n');
        }
    }
    flush(start_line, &mut current, &mut docs);
    docs
}

/// Parses one document of `file`.
/// How deeply a document may nest unless configured otherwise (`catalog.limits.maxYamlDepth`).
pub const DEFAULT_MAX_DEPTH: usize = 64;

pub fn parse_document(file: &str, doc: &RawDocument) -> Result<(SourcePos, Value), YamlError> {
    parse_document_within(file, doc, DEFAULT_MAX_DEPTH)
}

/// Parses one document, refusing (without parsing) one that nests deeper than `max_depth`.
pub fn parse_document_within(
    file: &str,
    doc: &RawDocument,
    max_depth: usize,
) -> Result<(SourcePos, Value), YamlError> {
    let pos = SourcePos {
        file: file.to_string(),
        line: doc.line,
    };
    if super::yaml_depth::deeper_than(&doc.text, max_depth) {
        return Err(YamlError {
            pos,
            message: format!("the document nests deeper than {max_depth} levels; not parsed"),
        });
    }
    super::yaml_value::parse(&doc.text, max_depth)
        .map(|v| (pos.clone(), v))
        .map_err(|e| YamlError {
            pos: SourcePos {
                file: file.to_string(),
                line: doc.line + e.line - 1,
            },
            message: e.message,
        })
}

/// Splits multi-document YAML text and parses each document, keeping the line each starts on.
pub fn parse_documents(file: &str, text: &str) -> Vec<Result<(SourcePos, Value), YamlError>> {
    split_documents(text)
        .iter()
        .map(|d| parse_document(file, d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_with_lines() {
        let text = "# comment\n---\na: 1\n---\nb: [1,\n---\nc: 3\n";
        let docs = parse_documents("x.yaml", text);
        assert_eq!(docs.len(), 3);
        let (pos, v) = docs[0].as_ref().unwrap();
        assert_eq!(pos.line, 2);
        assert_eq!(v["a"], 1);
        let err = docs[1].as_ref().unwrap_err();
        assert!(err.pos.line >= 4, "{err}");
        assert_eq!(docs[2].as_ref().unwrap().0.line, 6);
    }

    #[test]
    fn bom_directives_and_duplicate_keys() {
        let docs = parse_documents("x.yaml", "\u{feff}%YAML 1.2\n---\na: 1\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].as_ref().unwrap().1["a"], 1);
        let dup = parse_documents("x.yaml", "a: 1\nb: 2\na: 3\n");
        assert!(dup[0].is_err(), "a duplicate key must be refused");
        let null = parse_documents("x.yaml", "~\n---\na: 1\n");
        assert!(null[0].as_ref().unwrap().1.is_null());
    }
}
