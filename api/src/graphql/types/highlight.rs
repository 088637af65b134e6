//! `SearchHighlight`: where a word search result matches, for result lists (see `catalog::highlight`).

use async_graphql::SimpleObject;

use crate::catalog::highlight::Highlight;

/// The most relevant field where a word `query` matches, in parts.
#[derive(SimpleObject)]
pub struct SearchHighlight {
    /// `name`, `title`, `tags` or `description`.
    pub field: String,
    /// The field's text as written (tags joined by `, `; a long description cut to about 160
    /// characters around its first match, with `…` where it was cut).
    pub text: String,
    /// `text` in order, cut where matches start and end: render the `matched` ones highlighted.
    pub parts: Vec<HighlightPart>,
}

/// A piece of a highlighted text.
#[derive(SimpleObject)]
pub struct HighlightPart {
    /// The piece of text, as written.
    pub text: String,
    /// Whether a query term matched this piece.
    pub matched: bool,
}

impl From<Highlight> for SearchHighlight {
    fn from(h: Highlight) -> Self {
        SearchHighlight {
            field: h.field.label().to_string(),
            text: h.text(),
            parts: h
                .parts
                .into_iter()
                .map(|(text, matched)| HighlightPart { text, matched })
                .collect(),
        }
    }
}
