//! `debug:log`: writes a message to the task's log (none: nothing, as Backstage's `message` is optional).

use super::{Action, ActionContext, ActionError};

pub struct Log;

#[async_trait::async_trait]
impl Action for Log {
    fn id(&self) -> &'static str {
        "debug:log"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let message = match cx.input.get("message") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            // Backstage's `message` is optional (an undefined one drops its key): nothing to log.
            None => return Ok(()),
        };
        cx.log.log(&message).await;
        Ok(())
    }
}
