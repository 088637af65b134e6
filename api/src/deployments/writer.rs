//! Group commit for recorded deployments: concurrent `record` calls are written together, one batch per
//! transaction, each with its audit row. SQLite has one writer at a time, and a transaction per
//! mutation capped throughput well below what CI fleets send; PostgreSQL saves commits the same way.

use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryTrait};
use std::collections::{HashMap, VecDeque};
use tokio::sync::{mpsc, oneshot, OnceCell};

use crate::auth::audit::{self, AuditDraft};
use entity::deployments;

/// Most deployments written in one transaction.
const MAX_BATCH: usize = 256;

struct Job {
    row: deployments::ActiveModel,
    audit: Option<AuditDraft>,
    /// `None`: the subject's idempotency key was already used (the row was not inserted).
    reply: oneshot::Sender<Result<Option<deployments::Model>, DbErr>>,
}

/// The batching writer of one database; its task starts at the first write and ends with the writer.
pub struct Writer {
    db: DatabaseConnection,
    queue: OnceCell<mpsc::Sender<Job>>,
}

impl Writer {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            queue: OnceCell::new(),
        }
    }

    /// Inserts `row` (and `audit` with it); `None` when the row's (subject, idempotency key) exists.
    pub async fn insert(
        &self,
        row: deployments::ActiveModel,
        audit: Option<AuditDraft>,
    ) -> Result<Option<deployments::Model>, DbErr> {
        let queue = self
            .queue
            .get_or_init(|| async {
                let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
                tokio::spawn(run(self.db.clone(), rx));
                tx
            })
            .await;
        let (reply, answer) = oneshot::channel();
        let gone = || DbErr::Custom("the deployment writer stopped".into());
        queue
            .send(Job { row, audit, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut jobs);
        let size = batch.len();
        match write(&db, &batch).await {
            Ok(saved) => {
                for (job, saved) in batch.into_iter().zip(saved) {
                    let _ = job.reply.send(Ok(saved));
                }
            }
            // One bad row must not fail the others: write them one by one.
            Err(e) if size > 1 => {
                tracing::warn!(error = %e, size, "deployment batch failed; writing its rows one by one");
                for job in batch {
                    let one = write(&db, std::slice::from_ref(&job)).await;
                    let _ = job.reply.send(one.map(|mut v| v.pop().flatten()));
                }
            }
            Err(e) => {
                if let Some(job) = batch.into_iter().next() {
                    let _ = job.reply.send(Err(e));
                }
            }
        }
    }
}

/// Inserts `jobs` in one transaction; per job, its saved row or `None` when its key was taken.
async fn write(
    db: &DatabaseConnection,
    jobs: &[Job],
) -> Result<Vec<Option<deployments::Model>>, DbErr> {
    let _gate = crate::db::write_gate(db).await;
    let txn = crate::db::begin_write(db).await?;
    let mut insert = deployments::Entity::insert_many(jobs.iter().map(|j| j.row.clone()))
        .on_conflict(
            OnConflict::columns([
                deployments::Column::RecordedBy,
                deployments::Column::IdempotencyKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .into_query();
    insert.returning_all();
    let mut saved = deployments::Entity::find()
        .from_raw_sql(db.get_database_backend().build(&insert))
        .all(&txn)
        .await?;
    // Ids grow in insertion order: rows without a key come back in the order they were sent.
    saved.sort_by_key(|d| d.id);
    let mut keyed = HashMap::new();
    let mut unkeyed = VecDeque::new();
    for d in saved {
        match &d.idempotency_key {
            Some(k) => {
                keyed.insert((d.recorded_by.clone(), k.clone()), d);
            }
            None => unkeyed.push_back(d),
        }
    }
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let key = match (&job.row.recorded_by, &job.row.idempotency_key) {
            (sea_orm::ActiveValue::Set(s), sea_orm::ActiveValue::Set(Some(k))) => {
                Some((s.clone(), k.clone()))
            }
            _ => None,
        };
        out.push(match key {
            Some(k) => keyed.remove(&k),
            None => {
                Some(unkeyed.pop_front().ok_or_else(|| {
                    DbErr::Custom("an inserted deployment was not returned".into())
                })?)
            }
        });
    }
    let drafts: Vec<&AuditDraft> = jobs
        .iter()
        .zip(&out)
        .filter(|(_, saved)| saved.is_some())
        .filter_map(|(job, _)| job.audit.as_ref())
        .collect();
    audit::record_many(&txn, &drafts, "ok").await?;
    txn.commit().await?;
    Ok(out)
}
