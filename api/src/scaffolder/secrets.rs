//! Task secrets (`createTask(input: {secrets})`): kept only in the memory of the server that received
//! them, never in the database or the event log. A task with secrets is pinned to that server (only its
//! workers claim it); if that server dies, the task is recovered without them and fails.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

static SECRETS: LazyLock<Mutex<HashMap<String, Map<String, Value>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

static PROCESS: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string());

/// This process's token: tasks holding secrets given here are pinned to it.
pub fn process() -> &'static str {
    &PROCESS
}

/// Keeps a task's secrets until a worker of this process takes them.
pub fn put(task_id: &str, secrets: Map<String, Value>) {
    if let Ok(mut m) = SECRETS.lock() {
        m.insert(task_id.to_string(), secrets);
    }
}

/// A task's secrets (once: a retry runs without them).
pub fn take(task_id: &str) -> Option<Map<String, Value>> {
    SECRETS.lock().ok()?.remove(task_id)
}
