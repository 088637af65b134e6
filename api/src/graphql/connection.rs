//! Relay connections for every paginated list: the page arguments (`first/after`, `last/before`) read
//! into a [`Window`], a [`Page`] of nodes with their cursors, and the `connection!` macro that gives each
//! node type its `XConnection` and `XEdge` types.

use super::errors::{ApiError, GqlResultExt};
use super::ids::{self, Kind};
use crate::keyset::{Slice, Window};

type Res<T> = async_graphql::Result<T>;

/// The page arguments as a field got them.
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// Forward arguments only (`first`, `after`).
    pub fn forward(first: Option<i32>, after: Option<String>) -> Self {
        Self {
            first,
            after,
            last: None,
            before: None,
        }
    }

    /// The window these arguments ask for over cursors of `kind`, whose keys `key` parses: `first`
    /// (default `default`, 1 to `max`) from the start or `after`, else `last` back from the end or
    /// `before`; a user error for a size out of range or a cursor that is not one of this list's.
    pub fn window<K>(
        &self,
        kind: Kind,
        default: i32,
        max: i32,
        key: impl Fn(&str) -> Option<K>,
    ) -> Res<Window<K>> {
        let parse = |c: &Option<String>| -> Res<Option<K>> {
            c.as_deref()
                .map(|c| {
                    let raw = ids::from_cursor(c, kind)?;
                    key(&raw)
                        .ok_or_else(|| {
                            ApiError::BadUserInput(format!("'{c}' is not a {} cursor", kind.name()))
                        })
                        .gql()
                })
                .transpose()
        };
        let from_end = self.first.is_none() && self.last.is_some();
        let (size, name) = if from_end {
            (self.last, "last")
        } else {
            (self.first, "first")
        };
        let size = size.unwrap_or(default);
        if !(1..=max).contains(&size) {
            return Err(ApiError::BadUserInput(format!("{name} must be 1 to {max}"))).gql();
        }
        Ok(Window {
            after: parse(&self.after)?,
            before: parse(&self.before)?,
            size: size as u64,
            from_end,
        })
    }
}

/// Relay pagination information for a page of any list.
#[derive(async_graphql::SimpleObject)]
pub struct PageInfo {
    /// True when more items come after this page.
    pub has_next_page: bool,
    /// True when items come before this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page; null when the page is empty.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page; null when the page is empty.
    pub end_cursor: Option<String>,
}

/// A page of nodes with their cursors, and what lies either side; `total` where a list counts it.
pub struct Page<N> {
    pub items: Vec<(String, N)>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: Option<i64>,
}

impl<N> Page<N> {
    /// The page of a slice, each row's cursor (over `kind`) made from `key`, each node by `node`.
    pub fn of<R>(
        slice: Slice<R>,
        kind: Kind,
        key: impl Fn(&R) -> String,
        node: impl Fn(R) -> N,
    ) -> Self {
        Self {
            items: slice
                .rows
                .into_iter()
                .map(|r| (ids::cursor(kind, &key(&r)), node(r)))
                .collect(),
            has_next: slice.has_next,
            has_previous: slice.has_previous,
            total: None,
        }
    }

    /// The same page with its list's total count.
    pub fn counted(mut self, total: i64) -> Self {
        self.total = Some(total);
        self
    }

    /// Relay's page info of this page.
    pub fn info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next,
            has_previous_page: self.has_previous,
            start_cursor: self.items.first().map(|(c, _)| c.clone()),
            end_cursor: self.items.last().map(|(c, _)| c.clone()),
        }
    }

    /// The total, which a counted list always sets.
    pub fn total(&self) -> Res<i64> {
        self.total
            .ok_or_else(|| ApiError::Internal("a counted list was not counted".into()))
            .gql()
    }
}

/// `connection!(XConnection, XEdge, X, "connection doc", "edge doc")` declares a Relay connection of
/// `X` (which is `Clone`): `edges { cursor node }`, `nodes` and `pageInfo`; add `counted` for
/// `totalCount`.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $doc:literal, $edge_doc:literal) => {
        $crate::graphql::connection::connection!(@make $conn, $edge, $node, $doc, $edge_doc, []);
    };
    ($conn:ident, $edge:ident, $node:ty, $doc:literal, $edge_doc:literal, counted) => {
        $crate::graphql::connection::connection!(@make $conn, $edge, $node, $doc, $edge_doc, [
            /// How many items the list holds, across all pages.
            async fn total_count(&self) -> async_graphql::Result<i64> {
                self.0.total()
            }
        ]);
    };
    (@make $conn:ident, $edge:ident, $node:ty, $doc:literal, $edge_doc:literal, [$($extra:tt)*]) => {
        #[doc = $doc]
        pub struct $conn(pub $crate::graphql::connection::Page<$node>);

        #[doc = $edge_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Opaque cursor of this item, for `after` or `before`.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        #[doc = $doc]
        #[async_graphql::Object]
        impl $conn {
            /// The items of the page with their cursors.
            async fn edges(&self) -> Vec<$edge> {
                self.0
                    .items
                    .iter()
                    .map(|(c, n)| $edge {
                        cursor: c.clone(),
                        node: n.clone(),
                    })
                    .collect()
            }
            /// The items of the page, without cursors.
            async fn nodes(&self) -> Vec<$node> {
                self.0.items.iter().map(|(_, n)| n.clone()).collect()
            }
            /// Cursors and whether more pages exist.
            async fn page_info(&self) -> $crate::graphql::connection::PageInfo {
                self.0.info()
            }
            $($extra)*
        }
    };
}
pub(crate) use connection;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_arguments_are_checked() {
        let args = |first, last, after: Option<&str>| PageArgs {
            first,
            after: after.map(str::to_string),
            last,
            before: None,
        };
        let num = |s: &str| s.parse::<i64>().ok();
        let w = args(None, None, None)
            .window(Kind::Deployment, 20, 500, num)
            .unwrap();
        assert_eq!((w.size, w.from_end), (20, false));
        let w = args(None, Some(3), None)
            .window(Kind::Deployment, 20, 500, num)
            .unwrap();
        assert_eq!((w.size, w.from_end), (3, true));
        let e = args(Some(0), None, None)
            .window(Kind::Deployment, 20, 500, num)
            .unwrap_err();
        assert_eq!(e.message, "first must be 1 to 500");
        let e = args(None, Some(501), None)
            .window(Kind::Deployment, 20, 500, num)
            .unwrap_err();
        assert_eq!(e.message, "last must be 1 to 500");
        let c = ids::cursor(Kind::Deployment, "9");
        let w = args(None, None, Some(&c))
            .window(Kind::Deployment, 20, 500, num)
            .unwrap();
        assert_eq!(w.after, Some(9));
        let other = ids::cursor(Kind::Task, "9");
        assert!(args(None, None, Some(&other))
            .window(Kind::Deployment, 20, 500, num)
            .is_err());
        let junk = ids::cursor(Kind::Deployment, "x");
        assert!(args(None, None, Some(&junk))
            .window(Kind::Deployment, 20, 500, num)
            .is_err());
    }
}
