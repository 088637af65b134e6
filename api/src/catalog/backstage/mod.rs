//! Backstage's catalog semantics over the store, shared by the REST transport: filters (`filter`) and predicates (`predicate`),
//! entity serialisation and `fields` pruning (`view`), and cursor-paginated listing (`query`).

pub mod ancestry;
pub mod filter;
pub mod predicate;
pub mod query;
pub mod view;
