//! The GraphQL API: schema, resolvers, loaders and error mapping. Resolvers are thin; logic lives in `catalog`.

pub mod admin;
pub mod completion;
pub mod connection;
pub mod context;
pub mod deployment_live;
pub mod deployments;
pub mod errors;
pub mod fast;
pub mod graph;
pub mod guard;
pub mod ids;
pub mod inputs;
pub mod loaders;
pub mod node;
pub mod prefetch;
pub mod query;
pub mod scaffolder;
pub mod schema;
pub mod sources;
pub mod task;
pub mod time;
pub mod types;
pub mod variables;
