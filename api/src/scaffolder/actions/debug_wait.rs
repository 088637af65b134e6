//! `debug:wait`: waits (at most 10 minutes); a cancellation ends the wait at once.

use super::{Action, ActionContext, ActionError};
use std::time::Duration;

pub struct Wait;

/// Longest wait a template may ask for.
const MAX_WAIT: Duration = Duration::from_secs(600);

#[async_trait::async_trait]
impl Action for Wait {
    fn id(&self) -> &'static str {
        "debug:wait"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let ms = cx
            .input
            .get("milliseconds")
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
            + cx.input
                .get("seconds")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0)
                * 1000.0
            + cx.input
                .get("minutes")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0)
                * 60_000.0;
        if !(0.0..=MAX_WAIT.as_millis() as f64).contains(&ms) {
            return Err(ActionError::Input(format!(
                "debug:wait takes 0 to {MAX_WAIT:?}"
            )));
        }
        cx.log.log(&format!("waiting {ms} ms")).await;
        // The worker drops this future when the task is cancelled, which ends the wait at once.
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        Ok(())
    }
}
