//! The catalog domain: entity model, refs, validation, relations, ingest (writes) and store/search (reads).

pub mod backstage;
pub mod bulk;
pub mod cache;
mod checker;
pub mod cycles;
pub mod facet_counts;
pub mod graph;
pub mod highlight;
pub mod ingest;
pub mod kinds;
pub mod model;
pub mod refs;
pub mod relations;
mod rows;
pub mod rules;
pub mod search;
pub mod sources;
pub mod store;
pub mod text_match;
pub mod uid;
pub mod validate;
mod word_matches;
pub mod word_search;
pub mod words;
pub mod yaml_depth;
pub mod yaml_value;

/// Errors of catalog operations. `Invalid*` are the caller's fault; `Db` is internal.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid entity reference: {0}")]
    InvalidRef(#[from] refs::RefError),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The run's lease on its source was taken over: it wrote nothing.
    #[error("lost the lease on {0}")]
    LeaseLost(String),
}
