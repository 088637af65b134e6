//! Word search's text model, one definition for both stores and for highlights: the words an entity
//! is indexed by (per field, most relevant field first) and what a query asks for (each term a phrase
//! of words whose last word is a prefix), written out as an FTS5 expression or a `tsquery`.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::CatalogError;

/// A field word search indexes. The order is relevance: a match in an earlier field ranks first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    Title,
    Tags,
    Description,
}

/// Every field, most relevant first.
pub const FIELDS: [Field; 4] = [Field::Name, Field::Title, Field::Tags, Field::Description];

impl Field {
    /// The `entities` column (and FTS5 column) holding the field's words.
    pub fn column(self) -> &'static str {
        match self {
            Field::Name => "words_name",
            Field::Title => "words_title",
            Field::Tags => "words_tags",
            Field::Description => "words_description",
        }
    }

    /// The field's `tsvector` weight on PostgreSQL.
    fn weight(self) -> char {
        match self {
            Field::Name => 'A',
            Field::Title => 'B',
            Field::Tags => 'C',
            Field::Description => 'D',
        }
    }

    /// The field's name in results (`highlight.field`).
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Title => "title",
            Field::Tags => "tags",
            Field::Description => "description",
        }
    }
}

/// Most terms in one query, and most words in one term.
pub const MAX_TERMS: usize = 16;
pub const MAX_TERM_WORDS: usize = 8;

/// `text`'s words, lowercased: every maximal run of letters and digits.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// `text` as stored for word search: its words joined by single spaces.
pub fn normalize(text: &str) -> String {
    tokens(text).collect::<Vec<_>>().join(" ")
}

/// A parsed word query: every term must match; a term matches where its words appear in a row
/// within one field, the last of them as a prefix (`pay` finds `payments-api`, `payments-a` too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordQuery {
    pub terms: Vec<Vec<String>>,
}

impl WordQuery {
    /// The terms of `q` (separated by whitespace); terms without a letter or digit are ignored, and
    /// a query without any is `None` (it matches everything, like an empty search box).
    pub fn parse(q: &str) -> Result<Option<WordQuery>, CatalogError> {
        let mut terms = Vec::new();
        for term in q.split_whitespace() {
            let words: Vec<String> = tokens(term).collect();
            if words.len() > MAX_TERM_WORDS {
                return Err(CatalogError::InvalidInput(format!(
                    "query term '{term}' has more than {MAX_TERM_WORDS} words"
                )));
            }
            if !words.is_empty() {
                terms.push(words);
            }
        }
        if terms.len() > MAX_TERMS {
            return Err(CatalogError::InvalidInput(format!(
                "query has more than {MAX_TERMS} terms"
            )));
        }
        Ok((!terms.is_empty()).then_some(WordQuery { terms }))
    }

    /// The FTS5 expression matching rows where every term occurs in one of `fields`.
    pub fn fts5(&self, fields: &[Field]) -> String {
        let filter = if fields.len() == FIELDS.len() {
            String::new()
        } else {
            let cols: Vec<&str> = fields.iter().map(|f| f.column()).collect();
            format!("{{{}}} : ", cols.join(" "))
        };
        // Words are letters and digits only, so quoting them needs no escapes.
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|t| format!("{filter}\"{}\"*", t.join(" ")))
            .collect();
        terms.join(" AND ")
    }

    /// The `tsquery` text matching rows where every term occurs in one of `fields`. A term of several
    /// words is a phrase within one field's weight: the fields' vectors are concatenated, so without
    /// the weight a phrase could run from the end of one field into the next.
    pub fn tsquery(&self, fields: &[Field]) -> String {
        let all = fields.len() == FIELDS.len();
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|t| match t.as_slice() {
                [w] if all => format!("'{w}':*"),
                [w] => format!(
                    "'{w}':*{}",
                    fields.iter().map(|f| f.weight()).collect::<String>()
                ),
                _ => {
                    let per_field: Vec<String> =
                        fields.iter().map(|f| phrase(t, f.weight())).collect();
                    format!("({})", per_field.join(" | "))
                }
            })
            .collect();
        terms.join(" & ")
    }
}

/// `words` as a `tsquery` phrase in the field of `weight`, the last word a prefix.
fn phrase(words: &[String], weight: char) -> String {
    let last = words.len() - 1;
    let parts: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let star = if i == last { "*" } else { "" };
            format!("'{w}':{star}{weight}")
        })
        .collect();
    format!("({})", parts.join(" <-> "))
}

/// Fills in the words of rows stored before word search existed (their columns are NULL), from
/// their stored documents, in batches; returns how many rows it filled.
pub async fn backfill(db: &DatabaseConnection) -> Result<u64, CatalogError> {
    let backend = db.get_database_backend();
    let mut filled = 0;
    loop {
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id, body FROM entities WHERE words_name IS NULL ORDER BY id LIMIT 500",
            ))
            .await?;
        if rows.is_empty() {
            return Ok(filled);
        }
        let txn = sea_orm::TransactionTrait::begin(db).await?;
        for row in &rows {
            let id: i32 = row.try_get("", "id")?;
            let body: String = row.try_get("", "body")?;
            let doc: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let words = document_words(&doc);
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                update_sql(backend),
                [
                    words[0].clone().into(),
                    words[1].clone().into(),
                    words[2].clone().into(),
                    words[3].clone().into(),
                    id.into(),
                ],
            ))
            .await?;
        }
        txn.commit().await?;
        filled += rows.len() as u64;
    }
}

fn update_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "UPDATE entities SET words_name = $1, words_title = $2, words_tags = $3, \
             words_description = $4 WHERE id = $5"
        }
        _ => {
            "UPDATE entities SET words_name = ?, words_title = ?, words_tags = ?, \
             words_description = ? WHERE id = ?"
        }
    }
}

/// The four word columns of an entity document, in [`FIELDS`] order.
pub fn document_words(doc: &serde_json::Value) -> [String; 4] {
    let meta = &doc["metadata"];
    let text = |k: &str| meta[k].as_str().map(normalize).unwrap_or_default();
    [
        text("name"),
        text("title"),
        normalize(&tag_text(doc)),
        text("description"),
    ]
}

/// An entity's tags as one text (one tag after another).
pub fn tag_text(doc: &serde_json::Value) -> String {
    doc["metadata"]["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        assert_eq!(
            normalize("Payments-API v2.1_beta"),
            "payments api v2 1 beta"
        );
        assert_eq!(normalize("ÉCOLE straße 服务"), "école straße 服务");
        assert_eq!(normalize("--"), "");
    }

    #[test]
    fn queries_become_fts5_and_tsquery_expressions() {
        let q = WordQuery::parse("pay  component-00 -").unwrap().unwrap();
        assert_eq!(q.terms, vec![vec!["pay"], vec!["component", "00"]]);
        assert_eq!(q.fts5(&FIELDS), "\"pay\"* AND \"component 00\"*");
        assert_eq!(
            q.fts5(&FIELDS[..2]),
            "{words_name words_title} : \"pay\"* AND {words_name words_title} : \"component 00\"*"
        );
        assert_eq!(
            q.tsquery(&FIELDS),
            "'pay':* & (('component':A <-> '00':*A) | ('component':B <-> '00':*B) | \
             ('component':C <-> '00':*C) | ('component':D <-> '00':*D))"
        );
        assert_eq!(
            q.tsquery(&FIELDS[..1]),
            "'pay':*A & (('component':A <-> '00':*A))"
        );
        assert_eq!(WordQuery::parse(" - ").unwrap(), None);
        assert!(WordQuery::parse(&"a ".repeat(17)).is_err());
    }
}
