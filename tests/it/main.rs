//! The end-to-end suite as one integration binary (one link step instead of one per story): a module per
//! story, all on the support crate `greenroom_tests` (TestDb, TestApp, TestServer, the sandbox policy).

mod auth;
mod auth_abuse;
mod bounds;
mod catalog_client;
mod catalog_rules;
mod clients;
mod connections;
mod dataloader;
mod deployments;
mod ecosystem;
mod fake_github;
mod fixtures;
mod global_ids;
mod graph;
mod graphql_api;
mod http;
mod parity;
mod postgres;
mod providers;
mod publish_github;
mod refresh;
mod rest_api;
mod rest_writes;
mod scaffolder;
mod scaffolder_actions;
mod scaffolder_files;
mod scaffolder_git;
mod scaffolder_oracle;
mod scaffolder_steps;
mod schema_snapshot;
mod security;
mod spec_errors;
mod text_search;
mod timestamps;
mod validate_agreement;
