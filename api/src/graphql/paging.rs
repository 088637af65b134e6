//! The `first` argument of the paged root lists (deployments, scaffolder tasks, the audit log): one check
//! and one message. Relation lists bound `first` in `types::lists`, the dependency graph in `graph`, the
//! entity search in `catalog::search`.

use super::errors::{ApiError, GqlResultExt};

/// `first`, or `default` when it is not given; a user error unless it is 1 to `max`.
pub fn page_size(first: Option<i32>, default: i32, max: i32) -> async_graphql::Result<i32> {
    let limit = first.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::BadUserInput(format!("first must be 1 to {max}"))).gql();
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_defaults_and_is_bounded() {
        assert_eq!(page_size(None, 20, 500).ok(), Some(20));
        assert_eq!(page_size(Some(500), 20, 500).ok(), Some(500));
        for bad in [0, -1, 101] {
            let e = page_size(Some(bad), 20, 100).unwrap_err();
            assert_eq!(e.message, "first must be 1 to 100");
        }
    }
}
