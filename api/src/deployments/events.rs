//! Deployment events for live subscribers: each recorded deployment and status change. On PostgreSQL an
//! event goes out as a `NOTIFY` and every replica's listener (this one's included) hands it to its own
//! subscribers, so a subscriber sees what any replica recorded; on SQLite (one process) it is handed over
//! directly.

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use std::sync::Arc;
use tokio::sync::broadcast;

use super::service::{self, Deployment};

/// A new deployment or a status change (the deployment as it is now).
pub type Event = Arc<Deployment>;

const CHANNEL: &str = "greenroom_deployments";

/// The channel of this process. Slow subscribers skip what they missed rather than hold writers back.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
    /// A PostgreSQL listener runs for this channel (announcements go through `NOTIFY`).
    listening: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
            listening: Arc::default(),
        }
    }
}

impl Events {
    /// Hands an event to this process's subscribers.
    pub fn publish(&self, d: Deployment) {
        // No subscriber is not an error.
        let _ = self.tx.send(Arc::new(d));
    }

    /// Announces a change to every replica (PostgreSQL with a listener running), or to this process's
    /// subscribers.
    pub async fn announce(&self, db: &DatabaseConnection, d: Deployment) {
        let listening = self.listening.load(std::sync::atomic::Ordering::SeqCst);
        if db.get_database_backend() != DatabaseBackend::Postgres || !listening {
            return self.publish(d);
        }
        let notify = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), d.id.to_string().into()],
        );
        if let Err(e) = db.execute_raw(notify).await {
            tracing::warn!(error = %e, "could not notify other replicas; delivering locally");
            self.publish(d);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// On PostgreSQL, listens for announcements and publishes each deployment here (one listener per
    /// server: it holds a connection of its own); ends when the database goes away. Elsewhere does
    /// nothing. Returns once the listener is subscribed.
    pub async fn listen(&self, db: &DatabaseConnection) {
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return;
        }
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
        let (events, db) = (self.clone(), db.clone());
        tokio::spawn(async move {
            let pool = db.get_postgres_connection_pool();
            let mut listener = match sea_orm::sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "deployment events: cannot listen");
                    return;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "deployment events: cannot listen");
                return;
            }
            events
                .listening
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = ready_tx.send(());
            let mut failures = 0;
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        failures = 0;
                        let Ok(id) = n.payload().parse::<i64>() else {
                            continue;
                        };
                        if let Ok(Some(d)) = service::by_id(&db, id).await {
                            events.publish(d);
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        if failures > 3 {
                            tracing::warn!(error = %e, "deployment events: listener stopped");
                            events
                                .listening
                                .store(false, std::sync::atomic::Ordering::SeqCst);
                            return;
                        }
                    }
                }
            }
        });
        let _ = ready_rx.await;
    }
}
