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
                // A small page cache for every connection (readers share the OS page cache): with 8
                // connections of 32 MiB each, RSS under a read load at 100,000 entities grew past 400
                // MiB. A catalog write widens its own connection's cache (see `widen_cache`).
                .pragma("cache_size", format!("-{READ_CACHE_KIB}"))
                .pragma("temp_store", "memory")
        });
    }
    Database::connect(opts).await
}

/// Page cache (KiB) of a connection that is not writing a catalog transaction.
const READ_CACHE_KIB: u32 = 4096;
/// Page cache (KiB) of a connection writing a catalog transaction: its dirty pages stay in memory instead
/// of spilling to the WAL over and over (most of a large ingest's time went there).
const WRITE_CACHE_KIB: u32 = 32768;

/// On SQLite, gives the connection of `txn` the large page cache of a catalog write.
pub async fn widen_cache(txn: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
    set_cache(txn, WRITE_CACHE_KIB).await
}

/// On SQLite, gives the connection of `txn` back the small page cache of readers; called just before the
/// commit, so the pages the commit cleans are freed instead of kept.
pub async fn narrow_cache(txn: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
    set_cache(txn, READ_CACHE_KIB).await
}

async fn set_cache(txn: &sea_orm::DatabaseTransaction, kib: u32) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DatabaseBackend};
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        txn.execute_unprepared(&format!("PRAGMA cache_size = -{kib}"))
            .await?;
    }
    Ok(())
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

/// The catalog tables whose planner statistics [`analyze_catalog`] refreshes.
const CATALOG_TABLES: &str = "entities, relations, entity_search, facet_counts";

/// On PostgreSQL, refreshes the planner statistics of the catalog tables (`ANALYZE`). Without statistics (a first load, before
/// autovacuum gets to the tables) the planner guesses: a filter on kind and owner intersected the
/// owner's rows with every entity of the kind. SQLite: nothing.
pub async fn analyze_catalog(conn: &impl sea_orm::ConnectionTrait) -> Result<(), DbErr> {
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        conn.execute_unprepared(&format!("ANALYZE {CATALOG_TABLES}"))
            .await?;
    }
    Ok(())
}

/// Entities a committed write must change before [`analyze_after_write`] refreshes the statistics.
const ANALYZE_AFTER: usize = 1_000;

/// After a committed catalog write that changed `changed` entities (at least [`ANALYZE_AFTER`]),
/// refreshes PostgreSQL's planner statistics on a task of its own (the writer does not wait; a failure
/// is only logged), so the reads right after a first load are planned on the catalog as it is.
pub fn analyze_after_write(db: &DatabaseConnection, changed: usize) {
    if changed < ANALYZE_AFTER || db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return;
    }
    let db = db.clone();
    tokio::spawn(async move {
        if let Err(e) = analyze_catalog(&db).await {
            tracing::warn!("refreshing the planner statistics after a large write: {e}");
        }
    });
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

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    async fn cache_size(db: &impl ConnectionTrait) -> i64 {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "PRAGMA cache_size",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    }

    #[tokio::test]
    async fn a_catalog_write_widens_its_page_cache_and_leaves_it_small() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
        let db = super::connect(&url, 1).await.unwrap();
        assert_eq!(cache_size(&db).await, -i64::from(super::READ_CACHE_KIB));
        let txn = db.begin().await.unwrap();
        super::widen_cache(&txn).await.unwrap();
        assert_eq!(cache_size(&txn).await, -i64::from(super::WRITE_CACHE_KIB));
        super::narrow_cache(&txn).await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(cache_size(&db).await, -i64::from(super::READ_CACHE_KIB));
    }
}
