//! Revoked token ids. Every replica keeps the list in memory and reloads it when it is older than
//! `REFRESH`, so a revocation made anywhere is honoured everywhere within seconds.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QuerySelect,
};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

use super::AuthError;
use entity::revoked_tokens;

const REFRESH: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct Revocations {
    loaded: RwLock<Option<(HashSet<String>, Instant)>>,
}

impl Revocations {
    pub async fn is_revoked(&self, db: &DatabaseConnection, jti: &str) -> Result<bool, AuthError> {
        {
            let loaded = self.loaded.read().await;
            if let Some((set, at)) = loaded.as_ref() {
                if at.elapsed() < REFRESH {
                    return Ok(set.contains(jti));
                }
            }
        }
        let mut loaded = self.loaded.write().await;
        if let Some((set, at)) = loaded.as_ref() {
            if at.elapsed() < REFRESH {
                return Ok(set.contains(jti));
            }
        }
        let set: HashSet<String> = revoked_tokens::Entity::find()
            .select_only()
            .column(revoked_tokens::Column::Jti)
            .into_tuple::<String>()
            .all(db)
            .await
            .map_err(|e| AuthError::Internal(format!("loading revoked tokens: {e}")))?
            .into_iter()
            .collect();
        let revoked = set.contains(jti);
        *loaded = Some((set, Instant::now()));
        Ok(revoked)
    }

    /// Forgets the loaded list (this replica sees a revocation it made at once).
    pub async fn invalidate(&self) {
        *self.loaded.write().await = None;
    }
}

/// Adds `jti` to the revocation list (revoking twice is not an error).
pub async fn revoke(db: &impl ConnectionTrait, jti: &str, by: &str) -> Result<(), DbErr> {
    let row = revoked_tokens::ActiveModel {
        jti: Set(jti.to_string()),
        revoked_by: Set(by.to_string()),
        revoked_at: Set(chrono::Utc::now().timestamp_millis()),
    };
    revoked_tokens::Entity::insert(row)
        .on_conflict_do_nothing_on([revoked_tokens::Column::Jti])
        .exec(db)
        .await?;
    Ok(())
}
