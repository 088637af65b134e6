//! The audit log: one row per mutation (subject, operation, target, time, outcome), newest first.

use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use entity::audit_log;

/// One audit entry as the API shows it.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub subject: String,
    pub operation: String,
    pub target: Option<String>,
    pub outcome: String,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(m: audit_log::Model) -> Self {
        Self {
            id: m.id,
            at: m.at,
            subject: m.subject,
            operation: m.operation,
            target: m.target,
            outcome: m.outcome,
        }
    }
}

/// An audit row a mutation writes itself, in the same transaction as its change.
#[derive(Clone, Debug)]
pub struct AuditDraft {
    pub subject: String,
    pub operation: String,
    pub target: Option<String>,
}

pub async fn record(
    db: &impl ConnectionTrait,
    subject: &str,
    operation: &str,
    target: Option<String>,
    outcome: &str,
) -> Result<(), DbErr> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        at: Set(chrono::Utc::now().timestamp_millis()),
        subject: Set(subject.to_string()),
        operation: Set(operation.to_string()),
        target: Set(target),
        outcome: Set(outcome.to_string()),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Writes one row per draft with the same `outcome`, in one statement (none for no drafts).
pub async fn record_many(
    db: &impl ConnectionTrait,
    drafts: &[&AuditDraft],
    outcome: &str,
) -> Result<(), DbErr> {
    if drafts.is_empty() {
        return Ok(());
    }
    let at = chrono::Utc::now().timestamp_millis();
    audit_log::Entity::insert_many(drafts.iter().map(|d| audit_log::ActiveModel {
        id: NotSet,
        at: Set(at),
        subject: Set(d.subject.clone()),
        operation: Set(d.operation.clone()),
        target: Set(d.target.clone()),
        outcome: Set(outcome.to_string()),
    }))
    .exec(db)
    .await?;
    Ok(())
}

/// Up to `limit` entries older than `before` (an id), newest first, optionally of one subject.
pub async fn list(
    db: &impl ConnectionTrait,
    limit: u64,
    before: Option<i64>,
    subject: Option<&str>,
) -> Result<Vec<AuditEntry>, DbErr> {
    let mut q = audit_log::Entity::find().order_by_desc(audit_log::Column::Id);
    if let Some(b) = before {
        q = q.filter(audit_log::Column::Id.lt(b));
    }
    if let Some(s) = subject {
        q = q.filter(audit_log::Column::Subject.eq(s));
    }
    Ok(q.limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(AuditEntry::from)
        .collect())
}
