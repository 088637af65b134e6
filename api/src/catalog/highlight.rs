//! Highlights for word search results: the most relevant field of an entity where a query's terms
//! match, as the text people read (the document's own spelling), cut into matched and unmatched parts.
//! Computed from the document, the same on both stores.

use serde_json::Value;

use super::words::{Field, WordQuery, FIELDS};

/// Longest highlighted text; a longer field is cut around its first match.
pub const MAX_CHARS: usize = 160;
/// How much text a cut keeps before the first match.
const LEAD_CHARS: usize = 40;

/// A field's text in parts, `true` where a term matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Highlight {
    pub field: Field,
    pub parts: Vec<(String, bool)>,
}

impl Highlight {
    /// The text of every part.
    pub fn text(&self) -> String {
        self.parts.iter().map(|(t, _)| t.as_str()).collect()
    }
}

/// The text word search reads for `field` in `doc`, as written.
fn field_text(doc: &Value, field: Field) -> String {
    let meta = &doc["metadata"];
    let s = |k: &str| meta[k].as_str().unwrap_or_default().to_string();
    match field {
        Field::Name => s("name"),
        Field::Title => s("title"),
        Field::Description => s("description"),
        Field::Tags => meta["tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
    }
}

/// The words of `text` with their byte ranges, lowercased.
fn words(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_alphanumeric() && i < text.len(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i, text[s..i].to_lowercase()));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Where the first `prefix.len()` lowercased bytes of `word` (at byte `start` of the text) end in
/// the text; the whole word where lowercasing changes lengths.
fn prefix_end(text: &str, (start, end): (usize, usize), prefix: &str) -> usize {
    let mut lowered = 0;
    for (i, c) in text[start..end].char_indices() {
        if lowered >= prefix.len() {
            return if lowered == prefix.len() {
                start + i
            } else {
                end
            };
        }
        lowered += c.to_lowercase().map(char::len_utf8).sum::<usize>();
    }
    end
}

/// Byte ranges of `text` where the terms of `q` match, and how many terms matched at all.
fn matches(text: &str, q: &WordQuery) -> (Vec<(usize, usize)>, usize) {
    let ws = words(text);
    let mut spans = Vec::new();
    let mut matched = 0;
    for term in &q.terms {
        let n = term.len();
        let mut any = false;
        for i in 0..ws.len().saturating_sub(n - 1) {
            let exact = (0..n - 1).all(|k| ws[i + k].2 == term[k]);
            let last = &ws[i + n - 1];
            if exact && last.2.starts_with(term[n - 1].as_str()) {
                spans.push((ws[i].0, prefix_end(text, (last.0, last.1), &term[n - 1])));
                any = true;
            }
        }
        matched += usize::from(any);
    }
    spans.sort_unstable();
    (spans, matched)
}

/// The most relevant field of `doc` with the most terms of `q` matching, in parts; `None` when no
/// term matches any field.
pub fn highlight(q: &WordQuery, doc: &Value) -> Option<Highlight> {
    // (field, its text, the matched byte ranges, how many terms matched)
    type Candidate = (Field, String, Vec<(usize, usize)>, usize);
    let mut best: Option<Candidate> = None;
    for field in FIELDS {
        let text = field_text(doc, field);
        let (spans, n) = matches(&text, q);
        if n > best.as_ref().map_or(0, |b| b.3) {
            best = Some((field, text, spans, n));
        }
    }
    let (field, text, spans, _) = best?;
    Some(Highlight {
        field,
        parts: cut(&text, &spans),
    })
}

/// `text` in parts by `spans` (sorted; overlaps merged), cut to [`MAX_CHARS`] around the first.
fn cut(text: &str, spans: &[(usize, usize)]) -> Vec<(String, bool)> {
    let (from, to) = window(text, spans.first().map_or(0, |s| s.0));
    let mut parts: Vec<(String, bool)> = Vec::new();
    if from > 0 {
        parts.push(("…".to_string(), false));
    }
    let mut at = from;
    for &(s, e) in spans {
        let (s, e) = (s.max(at), e.min(to));
        if s >= e {
            continue;
        }
        if s > at {
            parts.push((text[at..s].to_string(), false));
        }
        parts.push((text[s..e].to_string(), true));
        at = e;
    }
    if at < to {
        parts.push((text[at..to].to_string(), false));
    }
    if to < text.len() {
        parts.push(("…".to_string(), false));
    }
    parts
}

/// The byte range of at most [`MAX_CHARS`] characters of `text` that shows the byte `first`.
fn window(text: &str, first: usize) -> (usize, usize) {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let chars = bounds.len() - 1;
    if chars <= MAX_CHARS {
        return (0, text.len());
    }
    let at = bounds.partition_point(|&b| b < first);
    let start = at.saturating_sub(LEAD_CHARS).min(chars - MAX_CHARS);
    (bounds[start], bounds[start + MAX_CHARS])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(h: &Highlight) -> Vec<(&str, bool)> {
        h.parts.iter().map(|(t, m)| (t.as_str(), *m)).collect()
    }

    #[test]
    fn the_most_relevant_matching_field_is_marked_as_written() {
        let doc = json!({"metadata": {"name": "payments-api", "title": "Payments API",
            "description": "Takes PAYMENTS.", "tags": ["java", "pay-v2"]}});
        let q = WordQuery::parse("pay").unwrap().unwrap();
        let h = highlight(&q, &doc).unwrap();
        assert_eq!(h.field, Field::Name);
        assert_eq!(parts(&h), [("pay", true), ("ments-api", false)]);
        let q = WordQuery::parse("java pay-v").unwrap().unwrap();
        let h = highlight(&q, &doc).unwrap();
        assert_eq!(h.field, Field::Tags);
        assert_eq!(
            parts(&h),
            [("java", true), (", ", false), ("pay-v", true), ("2", false)]
        );
        let q = WordQuery::parse("takes").unwrap().unwrap();
        assert_eq!(highlight(&q, &doc).unwrap().field, Field::Description);
        assert_eq!(
            highlight(&WordQuery::parse("zz").unwrap().unwrap(), &doc),
            None
        );
    }

    #[test]
    fn long_text_is_cut_around_the_first_match() {
        let long = format!("{} needle {}", "a ".repeat(100), "b ".repeat(100));
        let doc = json!({"metadata": {"name": "x", "description": long}});
        let h = highlight(&WordQuery::parse("needle").unwrap().unwrap(), &doc).unwrap();
        let text = h.text();
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        assert_eq!(text.chars().count(), MAX_CHARS + 2);
        assert!(h.parts.iter().any(|(t, m)| t == "needle" && *m));
    }
}
