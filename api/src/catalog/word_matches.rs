//! A word query's matches read once per request on SQLite: the row ids FTS5 finds, in one statement
//! (their number is the exact count). Many are kept as a byte map (one byte per id, 0 where nothing
//! matches) that a listing's walk down its ordering's index checks per row; a few are handed back as
//! a list to look up. Nothing is kept between requests; this replaces building the match set again
//! for the plan probe, the count and the page.

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
    /// Marks with `mark` (non-zero) those of `ids` that carry no mark yet, and returns them; `None`
    /// when the ids span more than the map may cover.
    pub(crate) fn mark(&mut self, ids: &[i64], mark: u8) -> Option<Vec<i64>> {
        let (Some(&lo), Some(&hi)) = (ids.iter().min(), ids.iter().max()) else {
            return Some(Vec::new());
        };
        if !self.cover(lo, hi) {
            return None;
        }
        let mut marked = Vec::with_capacity(ids.len());
        for &id in ids {
            let slot = &mut self.bytes[(id - self.base) as usize];
            if *slot == 0 {
                *slot = mark;
                marked.push(id);
            }
        }
        Some(marked)
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
        Self::mark_condition(self.base, self.bytes.clone(), mark)
    }

    /// [`Self::condition`], the map moved into it.
    pub(crate) fn into_condition(self, mark: u8) -> SimpleExpr {
        Self::mark_condition(self.base, self.bytes, mark)
    }

    fn mark_condition(base: i64, bytes: Vec<u8>, mark: u8) -> SimpleExpr {
        Expr::cust_with_values(
            format!(
                "CASE WHEN \"entities\".\"id\" >= ? THEN substr(?, \"entities\".\"id\" - ? + 1, 1) END = x'{mark:02x}'"
            ),
            [
                base.into(),
                sea_orm::Value::Bytes(Some(bytes)),
                base.into(),
            ],
        )
    }
}

/// The condition on `entities`: the row is one of `ids` (a few: the database looks each up).
pub(crate) fn ids_condition(ids: &[i64]) -> SimpleExpr {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    Expr::cust_with_values(
        "\"entities\".\"id\" IN (SELECT value FROM json_each(?))",
        [format!("[{}]", list.join(","))],
    )
}

/// The ids of the rows matching `fts5`, read as one row (the ids joined by commas), so that a
/// large match costs one statement and no per-row overhead between the database and the server.
pub(crate) async fn read_ids(
    db: &impl ConnectionTrait,
    fts5: &str,
) -> Result<Vec<i64>, CatalogError> {
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

/// The ids in `text` (decimal, joined by commas), parsed by hand: a broad match has thousands.
fn parse_ids(text: &str) -> Result<Vec<i64>, CatalogError> {
    let bad = || {
        CatalogError::Db(sea_orm::DbErr::Custom(format!(
            "the word index returned row ids that are not numbers: '{}'",
            text.chars().take(40).collect::<String>()
        )))
    };
    let mut ids = Vec::with_capacity(text.len() / 4 + 1);
    let (mut n, mut digits) = (0i64, 0usize);
    for &b in text.as_bytes() {
        match b {
            b'0'..=b'9' => {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(b - b'0')))
                    .ok_or_else(bad)?;
                digits += 1;
            }
            b',' if digits > 0 => {
                ids.push(n);
                (n, digits) = (0, 0);
            }
            _ => return Err(bad()),
        }
    }
    match digits {
        0 if !text.is_empty() => Err(bad()),
        0 => Ok(ids),
        _ => {
            ids.push(n);
            Ok(ids)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_grows_both_ways_and_keeps_the_first_mark() {
        let mut m = MatchMap::default();
        assert_eq!(m.mark(&[11, 12], 1), Some(vec![11, 12]));
        assert_eq!(m.mark(&[5, 20, 12], 2), Some(vec![5, 20]));
        assert_eq!(m.base, 5);
        assert_eq!(m.bytes.len(), 16);
        assert_eq!(
            (m.bytes[11 - 5], m.bytes[20 - 5], m.bytes[6 - 5]),
            (1, 2, 0)
        );
        assert_eq!(m.mark(&[], 3), Some(vec![]));
        assert_eq!(m.mark(&[1, MAX_SPAN + 10], 3), None);
        assert_eq!(parse_ids("3,1,2").unwrap(), vec![3, 1, 2]);
        assert!(parse_ids("").unwrap().is_empty());
        assert_eq!(parse_ids("7").unwrap(), vec![7]);
        for bad in ["1,x", "1,", ",1", "1,,2", "-1", "99999999999999999999"] {
            assert!(parse_ids(bad).is_err(), "{bad}");
        }
    }
}
