//! `debug:log`: writes a message to the task's log.

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
            None => return Err(ActionError::input("input.message is required")),
        };
        cx.log.log(&message).await;
        Ok(())
    }
}
