//! Greenroom: a Backstage-compatible software catalog served as a GraphQL API.

pub mod auth;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod deployments;
pub mod graphql;
pub mod http;
pub mod providers;
pub mod server;

use clap::Parser;
use std::process::ExitCode;

/// Parses the command line, sets up logging (`RUST_LOG`) and runs the command.
pub async fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    cli::dispatch(cli).await
}
