//! SeaORM entities: one module per table. Rows only; the public GraphQL types live in `api`.

pub mod audit_log;
pub mod deployments;
pub mod entities;
pub mod entity_search;
pub mod facet_counts;
pub mod locations;
pub mod relations;
pub mod revoked_tokens;
pub mod task_events;
pub mod tasks;
