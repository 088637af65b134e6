//! Indexed text search over `entities.search_text` (lowercased name, title, description and tags): on
//! SQLite an FTS5 trigram index kept in step with `entities` by triggers (so every write transaction
//! updates it), on PostgreSQL a `pg_trgm` GIN index. Both answer the same case-insensitive substring
//! `LIKE` the catalog has always used, without scanning every row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE entities_fts USING fts5(search_text, content='entities', content_rowid='id', tokenize='trigram')",
    "INSERT INTO entities_fts(entities_fts) VALUES ('rebuild')",
    "CREATE TRIGGER entities_fts_insert AFTER INSERT ON entities BEGIN \
       INSERT INTO entities_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER entities_fts_delete AFTER DELETE ON entities BEGIN \
       INSERT INTO entities_fts(entities_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER entities_fts_update AFTER UPDATE OF id, search_text ON entities BEGIN \
       INSERT INTO entities_fts(entities_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); \
       INSERT INTO entities_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS entities_fts_update",
    "DROP TRIGGER IF EXISTS entities_fts_delete",
    "DROP TRIGGER IF EXISTS entities_fts_insert",
    "DROP TABLE IF EXISTS entities_fts",
];

/// `pg_trgm` is a trusted extension (PostgreSQL 13+): a database owner may create it. Where it cannot
/// be created, the catalog still works and searches scan (logged by the server as a notice).
const POSTGRES_UP: &[&str] = &[
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; \
     EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm is not available: text search scans'; END $$",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
     CREATE INDEX IF NOT EXISTS ix_entities_search_trgm ON entities USING gin (search_text gin_trgm_ops); \
     END IF; END $$",
];

const POSTGRES_DOWN: &[&str] = &["DROP INDEX IF EXISTS ix_entities_search_trgm"];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for s in statements {
        db.execute_unprepared(s).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, SQLITE_UP).await,
            DbBackend::Postgres => run(manager, POSTGRES_UP).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, SQLITE_DOWN).await,
            DbBackend::Postgres => run(manager, POSTGRES_DOWN).await,
            _ => Ok(()),
        }
    }
}
