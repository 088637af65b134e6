//! Bounded relation lists: what a list field counts for the complexity limit, how many items it returns,
//! and the per-request budget of list items that backs the static count up at run time.

use async_graphql::Context;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::config::MAX_LIST_SIZE;
use crate::graphql::errors::{ApiError, Code, GqlResultExt};

/// `server.limits.defaultListSize`: what a list field without `first` counts and returns at most. The
/// complexity rules of the derived schema cannot reach schema data, so the value is process-wide; the
/// server sets it once when it builds its schema.
static DEFAULT_LIST_SIZE: AtomicUsize = AtomicUsize::new(20);

/// Sets the size a list field without `first` counts and returns (clamped to 1..=[`MAX_LIST_SIZE`]).
pub fn set_default_list_size(n: usize) {
    DEFAULT_LIST_SIZE.store(n.clamp(1, MAX_LIST_SIZE), Ordering::Relaxed);
}

/// The size a list field without `first` counts and returns.
pub fn default_list_size() -> usize {
    DEFAULT_LIST_SIZE.load(Ordering::Relaxed)
}

/// The items a list field may return, for the complexity limit: `first` when given, else the default.
pub fn list_weight(first: Option<i32>) -> usize {
    match first {
        Some(n) => n.clamp(1, MAX_LIST_SIZE as i32) as usize,
        None => default_list_size(),
    }
}

/// The items a page of `first` (default 20, at most 500) may hold, for the complexity limit.
pub fn page_weight(first: Option<i32>) -> usize {
    first.unwrap_or(20).clamp(1, MAX_LIST_SIZE as i32) as usize
}

/// Complexity of a field returning `weight` items that each cost `child`: saturating, and capped far below
/// `usize::MAX` so the sums the engine adds on top cannot wrap around.
pub fn cost(weight: usize, child: usize) -> usize {
    weight
        .saturating_mul(child)
        .saturating_add(1)
        .min(u32::MAX as usize)
}

/// Most list items one operation may materialise (`server.limits.maxComplexity`), in schema data.
#[derive(Clone, Copy, Debug)]
pub struct ItemLimit(pub usize);

/// List items materialised by one operation so far (request data, attached by `schema::prepare`).
#[derive(Default)]
pub struct ItemBudget {
    used: AtomicUsize,
    truncation_reported: AtomicBool,
}

/// How many items a list field returns for `first`: `first` (1 to [`MAX_LIST_SIZE`]) or the default.
pub fn list_len(first: Option<i32>) -> async_graphql::Result<usize> {
    match first {
        None => Ok(default_list_size()),
        Some(n) if (1..=MAX_LIST_SIZE as i32).contains(&n) => Ok(n as usize),
        Some(_) => Err(ApiError::BadUserInput(format!(
            "first must be between 1 and {MAX_LIST_SIZE}"
        )))
        .gql(),
    }
}

/// Counts `n` materialised list items against the operation's budget; past it, `COMPLEXITY_LIMIT`.
pub fn charge(ctx: &Context<'_>, n: usize) -> async_graphql::Result<()> {
    let (Some(budget), Some(limit)) = (ctx.data_opt::<ItemBudget>(), ctx.data_opt::<ItemLimit>())
    else {
        return Ok(());
    };
    let used = budget
        .used
        .fetch_add(n, Ordering::Relaxed)
        .saturating_add(n);
    if used > limit.0 {
        return Err(ApiError::Limit(
            Code::ComplexityLimit,
            format!(
                "the query reads more than {} list items; select less, or pass a smaller first",
                limit.0
            ),
        )
        .into());
    }
    Ok(())
}

/// Keeps at most `limit` of `items`; when some are left out, says so once per operation with a
/// `LIST_TRUNCATED` error at this field (the data is still returned).
pub fn truncate<T>(ctx: &Context<'_>, items: &mut Vec<T>, limit: usize) {
    if items.len() <= limit {
        return;
    }
    items.truncate(limit);
    let first_time = ctx
        .data_opt::<ItemBudget>()
        .is_none_or(|b| !b.truncation_reported.swap(true, Ordering::Relaxed));
    if first_time {
        let message = format!(
            "{} has more than the {limit} items returned; pass first (at most {MAX_LIST_SIZE}) for more",
            ctx.field().name()
        );
        let err =
            ApiError::Limit(Code::ListTruncated, message).into_server_error(Some(ctx.item.pos));
        ctx.add_error(ctx.set_error_path(err));
    }
}
