//! Greenroom: a Backstage-compatible software catalog served as a GraphQL API.

pub mod auth;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod confine;
pub mod db;
pub mod deployments;
pub mod duration;
pub mod errors;
pub mod graphql;
pub mod http;
pub mod keyset;
#[cfg(test)]
mod layering;
pub mod metrics;
pub mod pause;
pub mod providers;
pub mod scaffolder;
pub mod server;

use clap::Parser;
use std::process::ExitCode;

/// Parses the command line, sets up logging (`RUST_LOG`; format from `GREENROOM_LOG_FORMAT` or
/// `server.logFormat`) and runs the command.
pub async fn run() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse();
    init_logging(&cli);
    cli::dispatch(cli).await
}

/// Human lines on a terminal, JSON lines otherwise (or as `server.logFormat` / `GREENROOM_LOG_FORMAT` says).
fn init_logging(cli: &cli::Cli) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // A config that does not load is reported by the command itself; logging then uses the default.
    let format = std::env::var("GREENROOM_LOG_FORMAT").ok().or_else(|| {
        config::Config::load(cli.config.as_deref())
            .ok()
            .map(|c| c.server.log_format)
    });
    let json = match format.as_deref() {
        Some("json") => true,
        Some("text") => false,
        _ => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
