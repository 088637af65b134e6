//! A first load into an empty catalog on PostgreSQL: the catalog tables' secondary indexes are dropped
//! inside the load's write transaction and built again, from their own definitions, just before it
//! commits (building an index over the loaded rows costs a fraction of maintaining it row by row).
//!
//! The transaction first takes the catalog tables exclusively (`ACCESS EXCLUSIVE`, waiting at most
//! [`LOCK_WAIT`]), then checks that `entities` holds no row; otherwise, or when the lock is not granted in
//! time, it rolls back to a savepoint (which releases the lock) and the load writes row by row as any
//! other. While a bulk load runs, readers of the catalog tables wait for its commit and then see the whole
//! catalog at once (before it, they would have seen an empty one); a rolled-back or killed load leaves
//! the indexes as they were, since PostgreSQL's DDL is transactional. Nothing else can store an entity
//! meanwhile, so the load skips the look-ups for refs another location provides.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, TransactionTrait};

use super::CatalogError;

/// Entities a first load must have read ahead before it is written as a bulk load: below this, dropping
/// and building the indexes costs more than it saves.
pub const BULK_MIN: usize = 2_000;

/// How long a bulk load waits for the catalog tables' lock (readers in flight finish in milliseconds).
const LOCK_WAIT: &str = "2s";

/// The tables a bulk load takes and whose indexes it rebuilds.
const TABLES: [&str; 3] = ["entities", "relations", "entity_search"];

/// The indexes dropped by a bulk load, to be built again before it commits.
#[derive(Debug)]
pub struct BulkLoad {
    /// (name, `CREATE INDEX` statement) of each dropped index.
    indexes: Vec<(String, String)>,
}

impl BulkLoad {
    /// On PostgreSQL, with at least [`BULK_MIN`] entities `expected` and an empty catalog, takes the
    /// catalog tables and drops their secondary indexes (not unique ones, nor those of primary keys or
    /// constraints).
    /// `None`: the load goes row by row, and `txn` holds no lock it did not hold before.
    pub async fn begin(
        txn: &DatabaseTransaction,
        expected: usize,
    ) -> Result<Option<Self>, CatalogError> {
        if expected < BULK_MIN || txn.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(None);
        }
        let savepoint = txn.begin().await?;
        match take_empty(&savepoint).await {
            Ok(Some(indexes)) => {
                savepoint.commit().await?;
                Ok(Some(Self { indexes }))
            }
            Ok(None) => {
                savepoint.rollback().await?;
                Ok(None)
            }
            Err(e) => {
                tracing::info!("first load written row by row: {e}");
                savepoint.rollback().await?;
                Ok(None)
            }
        }
    }

    /// Builds the dropped indexes again, each from its own definition.
    pub async fn finish(self, txn: &DatabaseTransaction) -> Result<(), CatalogError> {
        let started = std::time::Instant::now();
        for (_, create) in &self.indexes {
            txn.execute_unprepared(create).await?;
        }
        tracing::info!(
            indexes = self.indexes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "bulk load: indexes built"
        );
        Ok(())
    }

    /// The names of the indexes this load dropped.
    pub fn index_names(&self) -> impl Iterator<Item = &str> {
        self.indexes.iter().map(|(name, _)| name.as_str())
    }
}

/// Whether `entities` holds a row.
async fn stored(txn: &DatabaseTransaction) -> Result<bool, CatalogError> {
    let row = txn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM entities) AS stored",
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<bool>("", "stored")).transpose()? != Some(false))
}

/// Takes the catalog tables; when `entities` is empty, drops their secondary indexes and returns what
/// they were (`None` when it is not empty).
async fn take_empty(
    txn: &DatabaseTransaction,
) -> Result<Option<Vec<(String, String)>>, CatalogError> {
    let pg = DatabaseBackend::Postgres;
    // Checked before the lock too, so a load into a catalog that holds entities never waits for it.
    if stored(txn).await? {
        return Ok(None);
    }
    txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
        .await?;
    txn.execute_unprepared(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        TABLES.join(", ")
    ))
    .await?;
    txn.execute_unprepared("SET LOCAL lock_timeout TO DEFAULT")
        .await?;
    if stored(txn).await? {
        return Ok(None);
    }
    // Indexes of the current schema's catalog tables, except those a constraint owns (primary keys) and
    // unique ones (`ux_entities_ref`), which keep enforcing uniqueness while the load writes.
    let rows = txn
        .query_all_raw(Statement::from_string(
            pg,
            format!(
                "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS create \
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_class t ON t.oid = x.indrelid \
                 WHERE t.relnamespace = current_schema()::regnamespace AND t.relname IN ('{}') \
                 AND NOT x.indisunique \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) \
                 ORDER BY i.relname",
                TABLES.join("', '")
            ),
        ))
        .await?;
    let mut indexes = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("", "name")?;
        let create: String = row.try_get("", "create")?;
        txn.execute_unprepared(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
            .await?;
        indexes.push((name, create));
    }
    Ok(Some(indexes))
}
