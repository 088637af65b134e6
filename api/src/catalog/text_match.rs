//! What a listing's text must match: nothing, Backstage's substrings (through the trigram indexes)
//! or words (through the word indexes, see `word_search`), as conditions on `entities`.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{Condition, ConnectionTrait, DbBackend};

use super::words::WordQuery;
use super::CatalogError;
use entity::entities;

/// What a listing's text must match.
#[derive(Clone, Debug, Default)]
pub enum Text {
    /// Anything.
    #[default]
    Any,
    /// Backstage's `fullTextFilter`: every whitespace-separated term is a case-insensitive
    /// substring of the name, title, description or tags.
    Substring(String),
    /// Word search: every term is a phrase of words in one field, its last word a prefix.
    Words(WordQuery),
}

impl Text {
    /// `query` searched as words (`substring`: as Backstage's substrings); no query, or one without
    /// a letter or digit in word mode, matches everything.
    pub fn parse(query: Option<&str>, substring: bool) -> Result<Text, CatalogError> {
        Ok(match query {
            None => Text::Any,
            Some(q) if substring => Text::Substring(q.to_string()),
            Some(q) => WordQuery::parse(q)?.map_or(Text::Any, Text::Words),
        })
    }

    /// The word query, when this is one.
    pub fn words(&self) -> Option<&WordQuery> {
        match self {
            Text::Words(q) => Some(q),
            _ => None,
        }
    }

    /// The condition on `entities`, for a count.
    pub(super) fn condition(&self, backend: DbBackend) -> Condition {
        match self {
            Text::Any => Condition::all(),
            Text::Substring(s) => text_condition(backend, Some(s)),
            Text::Words(q) => {
                Condition::all().add(super::word_search::condition(backend, q, None, false))
            }
        }
    }

    /// The condition on `entities` for a listing (see [`super::word_search::listing`]), and how many
    /// rows the text matches when the listing learned that on the way.
    pub(super) async fn listing(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<(Condition, Option<u64>), CatalogError> {
        match self {
            Text::Words(q) => {
                let (cond, n) = super::word_search::listing(db, q).await?;
                Ok((Condition::all().add(cond), n))
            }
            _ => Ok((self.condition(db.get_database_backend()), None)),
        }
    }
}

/// Condition for a free-text query: every whitespace-separated term must occur (case-insensitively)
/// in the name, title, description or tags (`entities.search_text`, stored lowercased). Each term goes
/// through the store's text index: on SQLite the FTS5 trigram table `entities_fts`, on PostgreSQL the
/// `pg_trgm` index on `search_text` (which serves this `LIKE` directly).
pub(crate) fn text_condition(backend: DbBackend, query: Option<&str>) -> Condition {
    let mut all = Condition::all();
    for term in query.unwrap_or_default().split_whitespace() {
        all = all.add(term_condition(backend, &term.to_lowercase()));
    }
    all
}

/// One search term as a condition on `entities`.
fn term_condition(backend: DbBackend, term: &str) -> SimpleExpr {
    let wildcard = |c: char| matches!(c, '%' | '_' | '\\');
    if backend == DbBackend::Sqlite && !term.contains(wildcard) {
        // FTS5 serves `LIKE` from its trigram index only without an ESCAPE clause, so terms free of
        // wildcards go through it; the rest scan (same result, as below).
        let fts = Alias::new("entities_fts");
        return Expr::col((entities::Entity, entities::Column::Id)).in_subquery(
            Query::select()
                .column((fts.clone(), Alias::new("rowid")))
                .from(fts.clone())
                .and_where(Expr::col((fts, Alias::new("search_text"))).like(format!("%{term}%")))
                .to_owned(),
        );
    }
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::col((entities::Entity, entities::Column::SearchText))
        .like(sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}
