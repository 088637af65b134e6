//! DataLoaders: one file per key type, each an empty-key-guarded single `IN (...)` query. They are
//! created per request with a request-scoped cache ([`request`]), so prefetched rows are reused and
//! never stale. This file only re-exports.

mod deployments;
mod entities;
mod relations;
mod request;

pub use deployments::{current, lists, Current, CurrentLoader, ListLoader, Lists};
pub use entities::{entities, load_entities, Entities, EntityLoader};
pub use relations::{relations, RelKey, RelationLoader, Relations};
pub use request::{attach, insert};
