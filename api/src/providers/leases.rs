//! Database leases: a source is refreshed only by the replica holding its lease, so several servers on one
//! PostgreSQL refresh each source once per interval. A lease expires on its own; holders release theirs
//! on shutdown.

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
