//! Keyset page requests, shared by every paginated list: a window between two keys in display order,
//! read from either end, applied to a query over one ordered column.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

/// Rows strictly after `after` and strictly before `before` (in display order): the first `size` of
/// them, or the last `size` when `from_end`. Queries read one row more, to tell whether more follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window<K> {
    pub after: Option<K>,
    pub before: Option<K>,
    pub size: u64,
    pub from_end: bool,
}

impl<K> Window<K> {
    /// The first `size` rows after `after`, as a list's first page asks.
    pub fn first(size: u64, after: Option<K>) -> Self {
        Self {
            after,
            before: None,
            size,
            from_end: false,
        }
    }

    /// Whether this is a list's first page read forward (no cursor, not from the end).
    pub fn is_first_page(&self) -> bool {
        self.after.is_none() && self.before.is_none() && !self.from_end
    }

    /// How many rows a query reads: one more than the page, to tell whether more follow.
    pub fn fetch(&self) -> u64 {
        self.size + 1
    }

    /// Whether rows are read against the display order (`from_end`): the caller then reverses them.
    pub fn reversed(&self) -> bool {
        self.from_end
    }
}

impl Window<i64> {
    /// Applies the window to `q` over the column `col`, whose display order is descending when
    /// `descending`: bounds, order (reversed when reading from the end) and the row count.
    pub fn apply<E: EntityTrait, C: ColumnTrait>(
        &self,
        mut q: Select<E>,
        col: C,
        descending: bool,
    ) -> Select<E> {
        if let Some(a) = self.after {
            q = q.filter(if descending { col.lt(a) } else { col.gt(a) });
        }
        if let Some(b) = self.before {
            q = q.filter(if descending { col.gt(b) } else { col.lt(b) });
        }
        let q = if descending != self.from_end {
            q.order_by_desc(col)
        } else {
            q.order_by_asc(col)
        };
        q.limit(self.fetch())
    }
}

/// One page read through a [`Window`]: its rows in display order and whether rows lie either side.
#[derive(Clone, Debug)]
pub struct Slice<T> {
    pub rows: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
}

impl<T> Slice<T> {
    /// The page from rows as a windowed query read them (up to `fetch()`, in query order).
    pub fn of<K>(mut rows: Vec<T>, w: &Window<K>) -> Self {
        let more = rows.len() as u64 > w.size;
        rows.truncate(w.size as usize);
        if w.from_end {
            rows.reverse();
        }
        Self {
            rows,
            has_next: if w.from_end { w.before.is_some() } else { more },
            has_previous: if w.from_end { more } else { w.after.is_some() },
        }
    }

    /// The page of `all` (every row, in display order) that `w` selects by each row's key.
    pub fn within<K: PartialOrd>(all: Vec<T>, w: &Window<K>, key: impl Fn(&T) -> K) -> Self {
        let inside: Vec<T> = all
            .into_iter()
            .filter(|r| w.after.as_ref().is_none_or(|a| key(r) > *a))
            .filter(|r| w.before.as_ref().is_none_or(|b| key(r) < *b))
            .collect();
        let take = w.fetch() as usize;
        let rows = if w.from_end {
            inside.into_iter().rev().take(take).collect()
        } else {
            inside.into_iter().take(take).collect()
        };
        Self::of(rows, w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(after: Option<i64>, before: Option<i64>, size: u64, from_end: bool) -> Window<i64> {
        Window {
            after,
            before,
            size,
            from_end,
        }
    }

    #[test]
    fn a_window_over_a_list_pages_both_ways() {
        let all: Vec<i64> = (1..=5).collect();
        let page = |win: Window<i64>| Slice::within(all.clone(), &win, |r| *r);
        let p = page(w(None, None, 2, false));
        assert_eq!(
            (p.rows, p.has_previous, p.has_next),
            (vec![1, 2], false, true)
        );
        let p = page(w(Some(2), None, 2, false));
        assert_eq!(
            (p.rows, p.has_previous, p.has_next),
            (vec![3, 4], true, true)
        );
        let p = page(w(Some(4), None, 2, false));
        assert_eq!((p.rows, p.has_previous, p.has_next), (vec![5], true, false));
        let p = page(w(None, None, 2, true));
        assert_eq!(
            (p.rows, p.has_previous, p.has_next),
            (vec![4, 5], true, false)
        );
        let p = page(w(None, Some(4), 2, true));
        assert_eq!(
            (p.rows, p.has_previous, p.has_next),
            (vec![2, 3], true, true)
        );
        let p = page(w(None, Some(2), 5, true));
        assert_eq!((p.rows, p.has_previous, p.has_next), (vec![1], false, true));
        let p = page(w(Some(1), Some(5), 9, false));
        assert_eq!(
            (p.rows, p.has_previous, p.has_next),
            (vec![2, 3, 4], true, false)
        );
    }
}
