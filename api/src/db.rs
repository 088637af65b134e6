//! Database connection: SQLite (WAL, busy timeout) or PostgreSQL, and migrations.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// Connects with settings suited to the backend. SQLite files are created when missing (`mode=rwc`).
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections.max(1))
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        opts.map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .statement_cache_capacity(256)
                // 32 MiB page cache per connection: a location's transaction otherwise spills dirty pages
                // to the WAL over and over (most of a large ingest's time went there).
                .pragma("cache_size", "-32768")
                .pragma("temp_store", "memory")
        });
    }
    Database::connect(opts).await
}

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// True when every known migration has been applied.
pub async fn migrations_applied(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
/// a deferred transaction that reads first and writes later fails outright (`SQLITE_BUSY`, not retried)
/// when another connection wrote in between. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// One writer at a time in this process on SQLite (PostgreSQL: `None`, no gate). SQLite allows one
/// writer per file; a writer that finds the lock taken sleeps in its busy handler (1, 2, 5, 10… ms), so
/// hot write paths (deployments) queue here instead and wake as soon as the previous writer is done.
/// One gate serves every SQLite file the process has open, which only ever costs tests a little.
pub async fn write_gate(db: &DatabaseConnection) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    static GATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => Some(GATE.lock().await),
        _ => None,
    }
}

/// Writes a consistent copy of a SQLite database to `file` (`VACUUM INTO`: one read transaction, so
/// writers carry on meanwhile). Refuses an existing `file` and PostgreSQL (use `pg_dump`).
pub async fn backup(db: &DatabaseConnection, file: &std::path::Path) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    anyhow::ensure!(
        db.get_database_backend() == DatabaseBackend::Sqlite,
        "greenroom backup copies SQLite databases; for PostgreSQL use pg_dump (see README, Deploying)"
    );
    anyhow::ensure!(
        !file.exists(),
        "{} already exists; choose a new file",
        file.display()
    );
    let target = file
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "VACUUM INTO ?",
        [target.into()],
    ))
    .await?;
    Ok(())
}
