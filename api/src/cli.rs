//! Command line: `serve`, `migrate`, `schema`, `validate`, `token`, `bench`, `backup`.

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
        /// Print one JSON report (each file's accepted entity refs and every problem) instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Issue or revoke API tokens (signed with auth.jwt.secret / GREENROOM_JWT_SECRET).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Measure ingest, throughput and memory on generated catalogs (SQLite).
    Bench(crate::bench::BenchArgs),
    /// Check configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a consistent copy of the SQLite database to FILE while the server keeps serving
    /// (`VACUUM INTO`; FILE must not exist). For PostgreSQL use `pg_dump`.
    Backup { file: PathBuf },
    /// Exit 0 when the server at --url answers /healthz (for container health checks).
    Healthcheck {
        /// Base URL of the server.
        #[arg(
            long,
            env = "GREENROOM_HEALTHCHECK_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        url: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate a config file (with GREENROOM_* overrides applied) and print the effective values,
    /// secrets masked; exit 1 with the reason when it is invalid.
    Check {
        /// The config file; defaults to --config or ./greenroom.yaml.
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Print a new HS256 token (its `jti` goes to stderr).
    Issue {
        /// The token's subject, e.g. `bot:ci` or `user:default/jane`.
        #[arg(long)]
        subject: String,
        /// Space-separated scopes: catalog:read catalog:write deployments:write scaffolder:run admin.
        #[arg(long)]
        scope: String,
        /// Lifetime: `90d`, `12h`, `30m`.
        #[arg(long, default_value = "90d")]
        ttl: String,
    },
    /// Revoke a token by its `jti` (every replica refuses it within seconds).
    Revoke { jti: String },
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Schema => {
            print!("{}", crate::graphql::schema::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files, json } => Ok(validate(&files, json).await),
        Command::Migrate => {
            let config = Config::load(cli.config.as_deref())?;
            let db = crate::db::connect(&config.database.url, 1).await?;
            crate::db::migrate(&db).await?;
            crate::catalog::uid::fill_missing(&db).await?;
            crate::catalog::facet_counts::rebuild_if_marked(&db).await?;
            crate::catalog::words::backfill(&db).await?;
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
        Command::Token(cmd) => token(cli.config.as_deref(), cmd).await,
        Command::Backup { file } => {
            let config = Config::load(cli.config.as_deref())?;
            let db = crate::db::connect(&config.database.url, 1).await?;
            crate::db::backup(&db, &file).await?;
            println!("backed up to {}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            crate::bench::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Check { file }) => {
            let path = file.or(cli.config);
            match Config::load(path.as_deref()).and_then(|c| c.to_masked_yaml()) {
                Ok(yaml) => {
                    print!("{yaml}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("invalid configuration: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Healthcheck { url } => {
            let url = format!("{}/healthz", url.trim_end_matches('/'));
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(3))
                .build()?;
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
                Ok(r) => {
                    eprintln!("{url}: HTTP {}", r.status());
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => {
                    eprintln!("{url}: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Parses `90d`, `12h`, `30m`, `45s`.
fn parse_ttl(text: &str) -> anyhow::Result<std::time::Duration> {
    crate::duration::parse(text).map_err(|e| anyhow::anyhow!("--ttl {e}"))
}

async fn token(config: Option<&std::path::Path>, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let config = Config::load(config)?;
    match cmd {
        TokenCommand::Issue {
            subject,
            scope,
            ttl,
        } => {
            let Some(secret) = config.auth.jwt.secret.as_deref() else {
                anyhow::bail!("no signing secret: set auth.jwt.secret or GREENROOM_JWT_SECRET");
            };
            let unknown: Vec<&str> = scope
                .split_whitespace()
                .filter(|s| crate::auth::Scope::parse(s).is_none())
                .collect();
            anyhow::ensure!(
                unknown.is_empty(),
                "unknown scope(s) {unknown:?}; use catalog:read catalog:write deployments:write scaffolder:run admin"
            );
            anyhow::ensure!(!subject.trim().is_empty(), "--subject must not be empty");
            let (token, claims) = crate::auth::jwt::issue(
                secret,
                &subject,
                &scope,
                parse_ttl(&ttl)?,
                config.auth.jwt.issuer.as_deref(),
                config.auth.jwt.audience.as_deref(),
            )
            .map_err(|e| anyhow::anyhow!("cannot sign the token: {e}"))?;
            eprintln!("jti: {}", claims.jti.unwrap_or_default());
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { jti } => {
            let db = crate::db::connect(&config.database.url, 1).await?;
            crate::db::migrate(&db).await?;
            crate::auth::revocation::revoke(&db, jti.trim(), "cli").await?;
            println!("revoked {jti}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What `greenroom validate` found: per file read (named as the problems name it), the refs of the
/// entities it provides; and every problem, one line each.
#[derive(Debug, Default, serde::Serialize)]
pub struct ValidateReport {
    pub files: std::collections::BTreeMap<String, Vec<String>>,
    pub problems: Vec<String>,
}

/// Reads each file (following its Location entities) exactly as `greenroom validate` does.
pub async fn validate_report(files: &[PathBuf]) -> ValidateReport {
    let resolver = crate::providers::placeholders::PlaceholderResolver::default();
    let mut report = ValidateReport::default();
    for f in files {
        let read = crate::providers::file::read_file_location(f, &resolver).await;
        for e in &read.entities {
            report
                .files
                .entry(e.source.file.clone())
                .or_default()
                .push(e.entity_ref.to_string());
        }
        report
            .problems
            .extend(read.invalid.iter().map(ToString::to_string));
        report.problems.extend(read.errors);
    }
    // A file reached from several roots is read once per root: list its entities once.
    for refs in report.files.values_mut() {
        refs.sort();
        refs.dedup();
    }
    report
}

async fn validate(files: &[PathBuf], json: bool) -> ExitCode {
    let report = validate_report(files).await;
    if json {
        match serde_json::to_string(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("cannot write the report: {e}"),
        }
    } else {
        for p in &report.problems {
            println!("{p}");
        }
        let valid: usize = report.files.values().map(Vec::len).sum();
        println!("{valid} valid entities, {} problems", report.problems.len());
    }
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
