//! For the tests that check indexes on generated catalogs: a seeded generator, so every run builds
//! the same catalog, and the store's plan of a query.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// The plan of `sql` (`EXPLAIN` on PostgreSQL with sequential scans off, as on a large table;
/// `EXPLAIN QUERY PLAN` on SQLite): one line per row, its text columns joined by spaces.
pub async fn explain(db: &DatabaseConnection, sql: &str) -> String {
    let backend = db.get_database_backend();
    let txn = db.begin().await.expect("begin");
    let prefix = if backend == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .expect("planner setting");
        "EXPLAIN"
    } else {
        "EXPLAIN QUERY PLAN"
    };
    let rows = txn
        .query_all_raw(Statement::from_string(backend, format!("{prefix} {sql}")))
        .await
        .expect("explain");
    txn.rollback().await.ok();
    rows.iter()
        .map(|r| {
            r.column_names()
                .iter()
                .filter_map(|c| r.try_get::<String>("", c).ok())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
