//! Deployment events for live subscribers on this replica: each recorded deployment and status change.

use std::sync::Arc;
use tokio::sync::broadcast;

use super::service::Deployment;

/// A new deployment or a status change (the deployment as it is now).
pub type Event = Arc<Deployment>;

/// The channel of this replica. Slow subscribers skip what they missed rather than hold writers back.
#[derive(Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Self(broadcast::channel(1024).0)
    }
}

impl Events {
    pub fn publish(&self, d: Deployment) {
        // No subscriber is not an error.
        let _ = self.0.send(Arc::new(d));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}
