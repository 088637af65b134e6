//! A word query's matches read once per request on SQLite: the row ids FTS5 finds, in one statement,
//! kept as a byte map (one byte per id, 0 where nothing matches) that a listing's walk down its
//! ordering's index checks per row, and whose size is the exact count. Nothing is kept between
//! requests; the map replaces building the match set again for the plan probe, the count and the page.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::CatalogError;

/// The largest id span a map covers (bytes of memory per request); past it, listings fall back to
/// conditions on the word index itself.
const MAX_SPAN: i64 = 8 << 20;

/// The ids of `entities` rows matching an FTS5 expression, one byte each (the mark of the set
/// they were added with), from the smallest id on.
#[derive(Debug, Default)]
pub(crate) struct MatchMap {
    base: i64,
    bytes: Vec<u8>,
}

impl MatchMap {
    /// Adds the rows matching `fts5` that carry no mark yet with `mark` (non-zero), and returns
    /// how many it marked; `None` when the ids span more than the map may cover.
    pub(crate) async fn add(
        &mut self,
        db: &impl ConnectionTrait,
        fts5: &str,
        mark: u8,
    ) -> Result<Option<u64>, CatalogError> {
        let ids = read_ids(db, fts5).await?;
        let (Some(&lo), Some(&hi)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(Some(0));
        };
        if !self.cover(lo, hi) {
            return Ok(None);
        }
        let mut added = 0;
        for id in ids {
            let slot = &mut self.bytes[(id - self.base) as usize];
            if *slot == 0 {
                *slot = mark;
                added += 1;
            }
        }
        Ok(Some(added))
    }

    /// Grows the map to cover `lo..=hi`; false when that spans more than [`MAX_SPAN`].
    fn cover(&mut self, lo: i64, hi: i64) -> bool {
        if self.bytes.is_empty() {
            self.base = lo;
        }
        let base = self.base.min(lo);
        let end = (self.base + self.bytes.len() as i64).max(hi + 1);
        if end - base > MAX_SPAN {
            return false;
        }
        if base < self.base {
            let mut grown = vec![0; (self.base - base) as usize];
            grown.extend_from_slice(&self.bytes);
            self.bytes = grown;
            self.base = base;
        }
        self.bytes.resize((end - base) as usize, 0);
        true
    }

    /// The condition on `entities`: the row carries `mark`. It reads one byte of the map per row,
    /// and is not indexable, so a listing ordered by an index walks that index.
    pub(crate) fn condition(&self, mark: u8) -> SimpleExpr {
        Expr::cust_with_values(
            format!(
                "CASE WHEN \"entities\".\"id\" >= ? THEN substr(?, \"entities\".\"id\" - ? + 1, 1) END = x'{mark:02x}'"
            ),
            [
                self.base.into(),
                sea_orm::Value::Bytes(Some(self.bytes.clone())),
                self.base.into(),
            ],
        )
    }
}

/// The ids of the rows matching `fts5`, read as one row (the ids joined by commas), so that a
/// large match costs one statement and no per-row overhead between the database and the server.
async fn read_ids(db: &impl ConnectionTrait, fts5: &str) -> Result<Vec<i64>, CatalogError> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT group_concat(rowid) AS ids FROM entities_words WHERE entities_words MATCH ?",
            [fts5.into()],
        ))
        .await?;
    let text: Option<String> = match row {
        Some(r) => r.try_get("", "ids")?,
        None => None,
    };
    parse_ids(text.as_deref().unwrap_or_default())
}

fn parse_ids(text: &str) -> Result<Vec<i64>, CatalogError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| {
                    CatalogError::Db(sea_orm::DbErr::Custom(format!(
                        "the word index returned the row id '{s}'"
                    )))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_grows_both_ways_and_keeps_the_first_mark() {
        let mut m = MatchMap::default();
        assert!(m.cover(10, 12));
        m.bytes[1] = 1;
        assert!(m.cover(5, 20));
        assert_eq!(m.base, 5);
        assert_eq!(m.bytes.len(), 16);
        assert_eq!(m.bytes[11 - 5], 1);
        assert!(!m.cover(1, MAX_SPAN + 10));
        assert_eq!(parse_ids("3,1,2").unwrap(), vec![3, 1, 2]);
        assert!(parse_ids("").unwrap().is_empty());
        assert!(parse_ids("1,x").is_err());
    }
}
