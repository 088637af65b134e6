//! Word search in listings: the condition a word query adds (FTS5's `entities_words` on SQLite, the
//! `words` tsvector on PostgreSQL), the plan picked by how many rows match (on SQLite from the
//! matches read once, see `word_matches`), bounded counts, and pages in relevance order: first the
//! entities where every term is in the name, then in the name or title, then also the tags, then
//! anywhere (the description); by name within each.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use super::word_matches::{ids_condition, read_ids, MatchMap};
use super::words::{WordQuery, FIELDS};
use super::CatalogError;
use entity::entities;

/// Relevance tiers: tier `t` holds the entities whose every term matches within the first `t + 1`
/// fields of [`FIELDS`] and not within the first `t`.
pub const TIERS: usize = FIELDS.len();

/// From this many matches on, a listing walks its ordering's index and checks each row against the
/// match set; below it, it reads the matches and sorts them. (At 100,000 entities either costs well
/// under a millisecond around this point.)
pub const DENSE: u64 = 1_000;

/// The FTS5 expression of `q` for a tier (`None`: any field).
fn fts5(q: &WordQuery, tier: Option<usize>) -> String {
    match tier {
        None => q.fts5(&FIELDS),
        Some(0) => q.fts5(&FIELDS[..1]),
        Some(t) => format!("({}) NOT ({})", q.fts5(&FIELDS[..=t]), q.fts5(&FIELDS[..t])),
    }
}

/// The `tsquery` text of `q` for a tier (`None`: any field).
fn tsquery(q: &WordQuery, tier: Option<usize>) -> String {
    match tier {
        None => q.tsquery(&FIELDS),
        Some(0) => q.tsquery(&FIELDS[..1]),
        Some(t) => format!(
            "({}) & !({})",
            q.tsquery(&FIELDS[..=t]),
            q.tsquery(&FIELDS[..t])
        ),
    }
}

/// Entities matching `q` (in `tier`, or anywhere) as a condition on `entities`. `dense` keeps
/// SQLite's planner from driving the query from the match set (the `+` makes the id an expression),
/// so it walks the ordering's index instead.
pub(crate) fn condition(
    backend: DbBackend,
    q: &WordQuery,
    tier: Option<usize>,
    dense: bool,
) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => Expr::cust_with_values(
            "\"entities\".\"words\" @@ to_tsquery('simple', $1)",
            [tsquery(q, tier)],
        ),
        _ => {
            let plus = if dense { "+" } else { "" };
            Expr::cust_with_values(
                format!(
                    "{plus}\"entities\".\"id\" IN (SELECT rowid FROM entities_words WHERE entities_words MATCH ?)"
                ),
                [fts5(q, tier)],
            )
        }
    }
}

/// Matches of `q` in `tier` counted from the index alone, up to `cap + 1` (SQLite only: the FTS5
/// table holds exactly one row per entity).
async fn index_count(
    db: &impl ConnectionTrait,
    q: &WordQuery,
    tier: Option<usize>,
    cap: u64,
) -> Result<u64, CatalogError> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM (SELECT rowid FROM entities_words WHERE entities_words MATCH ? LIMIT ?)",
            [fts5(q, tier).into(), (cap + 1).into()],
        ))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Whether a listing of `q`'s matches (in `tier`) should walk its ordering's index (see [`DENSE`]),
/// probed on the index (for listings whose matches span more ids than a [`MatchMap`] covers).
async fn dense(
    db: &impl ConnectionTrait,
    q: &WordQuery,
    tier: Option<usize>,
) -> Result<bool, CatalogError> {
    Ok(index_count(db, q, tier, DENSE - 1).await? >= DENSE)
}

/// The condition a listing of `q`'s matches adds to its filter, and how many rows match `q` when it
/// learned that. On SQLite the matches are read once: at least [`DENSE`] of them go into a
/// [`MatchMap`] and the listing walks its ordering's index checking it; fewer, the listing looks them
/// up and sorts them.
pub(crate) async fn listing(
    db: &impl ConnectionTrait,
    q: &WordQuery,
) -> Result<(SimpleExpr, Option<u64>), CatalogError> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Sqlite {
        return Ok((condition(backend, q, None, false), None));
    }
    let ids = read_ids(db, &fts5(q, None)).await?;
    let n = ids.len() as u64;
    if n < DENSE {
        return Ok((ids_condition(&ids), Some(n)));
    }
    let mut map = MatchMap::default();
    Ok(match map.mark(&ids, 1) {
        Some(_) => (map.into_condition(1), Some(n)),
        None => (condition(backend, q, None, true), Some(n)),
    })
}

/// The relevance tiers of `q`'s matches read so far on SQLite: tier `t` marked `t + 1` in the map,
/// read in order, since each tier is what its fields match less what the earlier tiers hold.
#[derive(Default)]
struct Tiers {
    map: MatchMap,
    /// The ids of each tier read.
    ids: Vec<Vec<i64>>,
    /// The ids span more than a map covers: conditions go to the word index.
    spread: bool,
}

impl Tiers {
    /// The condition for tier `t` of `q`'s matches (reading the tiers up to it first); `None` when
    /// the tier is empty.
    async fn condition(
        &mut self,
        db: &impl ConnectionTrait,
        q: &WordQuery,
        t: usize,
    ) -> Result<Option<SimpleExpr>, CatalogError> {
        let backend = db.get_database_backend();
        if backend != DbBackend::Sqlite {
            return Ok(Some(condition(backend, q, Some(t), false)));
        }
        while !self.spread && self.ids.len() <= t {
            let k = self.ids.len();
            let ids = read_ids(db, &q.fts5(&FIELDS[..=k])).await?;
            match self.map.mark(&ids, k as u8 + 1) {
                Some(tier) => self.ids.push(tier),
                None => self.spread = true,
            }
        }
        Ok(Some(match self.ids.get(t) {
            _ if self.spread => condition(backend, q, Some(t), dense(db, q, Some(t)).await?),
            Some(ids) if ids.is_empty() => return Ok(None),
            Some(ids) if ids.len() as u64 >= DENSE => self.map.condition(t as u8 + 1),
            Some(ids) => ids_condition(ids),
            None => condition(backend, q, Some(t), false),
        }))
    }

    /// Every match of `q`, when every tier has been read.
    fn total(&self) -> Option<u64> {
        (!self.spread && self.ids.len() == TIERS)
            .then(|| self.ids.iter().map(|t| t.len() as u64).sum())
    }
}

/// The bounded count of `q`'s matches when nothing else filters them, from the index alone on
/// SQLite; `None` where the general count applies.
pub(crate) async fn unfiltered_count(
    db: &impl ConnectionTrait,
    q: &WordQuery,
    cap: u64,
) -> Result<Option<u64>, CatalogError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(None);
    }
    Ok(Some(index_count(db, q, None, cap).await?))
}

/// A position in relevance order: tier, name, ref.
type Position = (usize, String, String);

fn encode(p: &Position) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::json!([p.0.to_string(), p.1, p.2]).to_string())
}

fn decode(cursor: &str) -> Result<Position, CatalogError> {
    let invalid =
        || CatalogError::InvalidInput(format!("invalid cursor '{cursor}' for this ordering"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let v: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match v.as_slice() {
        [t, n, r] => match t.parse::<usize>() {
            Ok(t) if t < TIERS => Ok((t, n.clone(), r.clone())),
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

/// Rows of one tier strictly after (`greater`) or before `(name, ref)`.
fn within(name: &str, r: &str, greater: bool) -> Condition {
    use entities::Column as C;
    let (strict, tie) = if greater {
        (C::Name.gt(name), C::EntityRef.gt(r))
    } else {
        (C::Name.lt(name), C::EntityRef.lt(r))
    };
    Condition::any()
        .add(strict)
        .add(Condition::all().add(C::Name.eq(name)).add(tie))
}

/// What a relevance page asks for, in relevance order (ascending): the bounds it lies strictly
/// between, how many rows it wants, and which way it reads.
pub(crate) struct RelevancePage {
    pub lo: Option<String>,
    pub hi: Option<String>,
    pub limit: u64,
    pub ascending: bool,
}

/// Up to `page.limit + 1` rows `(ref, tier, name)` matching `filter` and `q` between the bounds, in
/// relevance order (reversed when `page.ascending` is false), one query per tier it reaches; and how
/// many rows match `q` when every tier was read on the way.
pub(crate) async fn relevance_rows(
    db: &impl ConnectionTrait,
    filter: Condition,
    q: &WordQuery,
    page: &RelevancePage,
) -> Result<(Vec<Position>, Option<u64>), CatalogError> {
    let lo = page.lo.as_deref().map(decode).transpose()?;
    let hi = page.hi.as_deref().map(decode).transpose()?;
    let mut read = Tiers::default();
    let mut tiers: Vec<usize> = (0..TIERS)
        .filter(|t| lo.as_ref().is_none_or(|l| *t >= l.0) && hi.as_ref().is_none_or(|h| *t <= h.0))
        .collect();
    if !page.ascending {
        tiers.reverse();
    }
    let dir = if page.ascending {
        Order::Asc
    } else {
        Order::Desc
    };
    let mut out = Vec::new();
    for t in tiers {
        let want = page.limit + 1 - out.len() as u64;
        if want == 0 {
            break;
        }
        let Some(tier) = read.condition(db, q, t).await? else {
            continue; // Known to be empty.
        };
        let mut cond = filter.clone().add(tier);
        if let Some(l) = lo.as_ref().filter(|l| l.0 == t) {
            cond = cond.add(within(&l.1, &l.2, true));
        }
        if let Some(h) = hi.as_ref().filter(|h| h.0 == t) {
            cond = cond.add(within(&h.1, &h.2, false));
        }
        let rows: Vec<(String, String)> = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .column(entities::Column::Name)
            .filter(cond)
            .order_by(entities::Column::Name, dir.clone())
            .order_by(entities::Column::EntityRef, dir.clone())
            .limit(want)
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|(r, n)| (t, n, r)));
    }
    Ok((out, read.total()))
}

/// The rows [`relevance_rows`] read as `(cursor, ref)`.
pub(crate) fn with_cursors(rows: Vec<Position>) -> Vec<(String, String)> {
    rows.into_iter().map(|p| (encode(&p), p.2)).collect()
}
