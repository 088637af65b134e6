//! Database leases: a source is refreshed only by the replica holding its lease, so several servers on one
//! PostgreSQL refresh each source once per interval. While a run is in progress its lease is short and
//! renewed by a heartbeat, so a killed holder's claim lapses within seconds; the run's write checks the
//! lease in its own transaction ([`Fence`]) and writes nothing once the lease is lost. Holders release
//! their leases on shutdown.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};
use std::time::Duration;

/// This process's holder id: pid plus start time, unique enough across replicas.
pub fn holder_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn stmt(db: &impl ConnectionTrait, sql_pg: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => sql_pg.to_string(),
        // `$n` placeholders become `?` (they appear in order in every statement here).
        _ => {
            let mut out = String::with_capacity(sql_pg.len());
            let mut chars = sql_pg.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Claims `name` for `holder` for `ttl` when it is free, expired or already ours. True when claimed.
pub async fn try_acquire(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, DbErr> {
    let now = now_ms();
    let expires = now + ttl.as_millis() as i64;
    let sql = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
               ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
               WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder";
    let res = db
        .execute_raw(stmt(
            db,
            sql,
            vec![name.into(), holder.into(), expires.into(), now.into()],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Releases every lease `holder` has (on shutdown), so another replica can take over at once.
pub async fn release_all(db: &impl ConnectionTrait, holder: &str) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db,
        "DELETE FROM leases WHERE holder = $1",
        vec![holder.into()],
    ))
    .await?;
    Ok(())
}

/// Extends `holder`'s lease `name` to `ttl` from now. False when the lease is no longer `holder`'s
/// (another process took it over after it expired).
pub async fn renew(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, DbErr> {
    let expires = now_ms() + ttl.as_millis() as i64;
    let res = db
        .execute_raw(stmt(
            db,
            "UPDATE leases SET expires_at = $1 WHERE name = $2 AND holder = $3",
            vec![expires.into(), name.into(), holder.into()],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

/// When the lease `name` expires (epoch ms), if anyone holds it.
pub async fn expires_at(db: &impl ConnectionTrait, name: &str) -> Result<Option<i64>, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db,
            "SELECT expires_at FROM leases WHERE name = $1",
            vec![name.into()],
        ))
        .await?;
    row.map(|r| r.try_get_by_index::<i64>(0)).transpose()
}

/// A run's proof that it still holds its lease, checked inside the run's write transaction just before it
/// commits: the check renews the lease row, which on PostgreSQL locks it until the commit (a takeover
/// waits, then finds the lease renewed) and on SQLite happens under the single write lock.
#[derive(Clone, Debug)]
pub struct Fence {
    pub name: String,
    pub holder: String,
    pub ttl: Duration,
}

impl Fence {
    /// True when the lease is still ours (and now renewed for `ttl`).
    pub async fn holds(&self, txn: &impl ConnectionTrait) -> Result<bool, DbErr> {
        renew(txn, &self.name, &self.holder, self.ttl).await
    }
}
