//! Command line: `serve`, `migrate`, `schema`, `validate`, `bench`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "greenroom",
    version,
    about = "A Backstage-compatible software catalog served as a GraphQL API"
)]
pub struct Cli {
    /// Config file (YAML). Defaults to ./greenroom.yaml when present.
    #[arg(long, global = true, env = "GREENROOM_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (migrates the database and loads the configured locations).
    Serve {
        /// Address to listen on (overrides server.listen).
        #[arg(long, env = "GREENROOM_LISTEN")]
        listen: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL SDL.
    Schema,
    /// Validate catalog files (following Location entities); exit 1 when anything is invalid.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Measure ingest, throughput and memory on generated catalogs (SQLite).
    Bench(crate::bench::BenchArgs),
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Schema => {
            print!("{}", crate::graphql::schema::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => Ok(validate(&files).await),
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref())?;
            let db = crate::db::connect(&config.database.url, 1).await?;
            crate::db::migrate(&db).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { listen } => {
            let mut config = Config::load(cli.config.as_deref())?;
            if let Some(l) = listen {
                config.server.listen = l;
            }
            crate::server::serve(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            crate::bench::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn validate(files: &[PathBuf]) -> ExitCode {
    let resolver = crate::providers::placeholders::PlaceholderResolver::default();
    let mut valid = 0usize;
    let mut problems = 0usize;
    for f in files {
        let read = crate::providers::file::read_file_location(f, &resolver).await;
        valid += read.entities.len();
        for e in &read.invalid {
            println!("{e}");
        }
        for e in &read.errors {
            println!("{e}");
        }
        problems += read.invalid.len() + read.errors.len();
    }
    println!("{valid} valid entities, {problems} problems");
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
