//! The audit log: one row per mutation (subject, operation, target, time, outcome), newest first.

use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::keyset::{Slice, Window};
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

/// Up to `limit` entries, newest first, optionally of one subject.
pub async fn list(
    db: &impl ConnectionTrait,
    limit: u64,
    subject: Option<&str>,
) -> Result<Vec<AuditEntry>, DbErr> {
    Ok(page(db, &Window::first(limit, None), subject).await?.rows)
}

/// The page of entries (optionally of one subject) that `w` selects, newest first (keyed by id).
pub async fn page(
    db: &impl ConnectionTrait,
    w: &Window<i64>,
    subject: Option<&str>,
) -> Result<Slice<AuditEntry>, DbErr> {
    let mut q = audit_log::Entity::find();
    if let Some(s) = subject {
        q = q.filter(audit_log::Column::Subject.eq(s));
    }
    let rows = w.apply(q, audit_log::Column::Id, true).all(db).await?;
    Ok(Slice::of(
        rows.into_iter().map(AuditEntry::from).collect(),
        w,
    ))
}

/// One entry by its id.
pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> Result<Option<AuditEntry>, DbErr> {
    Ok(audit_log::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(AuditEntry::from))
}
