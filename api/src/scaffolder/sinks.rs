//! Where a run's events and step states go: the task's rows ([`DbSink`], under its claim) or a dry run's
//! memory ([`MemorySink`]). Secret values are masked in every event and stored step output; events are
//! capped in size.

use sea_orm::DatabaseConnection;
use serde_json::{Map, Value};
use std::sync::Mutex;

use super::actions::Sink;
use super::{tasks, StepState};

/// A task's rows, written under its claim; nothing is written once the claim is lost.
pub struct DbSink {
    pub db: DatabaseConnection,
    pub task_id: String,
    pub claim: tasks::Claim,
    /// Values replaced by `***` in every event and stored step output.
    pub secrets: Vec<String>,
    /// Set when the task is no longer this run's (recovered by another worker, handed back).
    pub lost: std::sync::atomic::AtomicBool,
}

impl DbSink {
    fn lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `message` with every secret value masked.
pub fn redact(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// A JSON value with every secret masked in its strings.
pub fn redact_value(value: Value, secrets: &[String]) -> Value {
    if secrets.is_empty() {
        return value;
    }
    serde_json::to_string(&value)
        .ok()
        .map(|t| redact(&t, secrets))
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Longest event message stored; longer ones are cut (after masking) with a note.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// `message` masked and cut to [`MAX_EVENT_BYTES`].
fn event_text(message: &str, secrets: &[String]) -> String {
    let mut out = redact(message, secrets);
    if out.len() > MAX_EVENT_BYTES {
        let total = out.len();
        let mut cut = MAX_EVENT_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(&format!("… [cut: {total} bytes]"));
    }
    out
}

#[async_trait::async_trait]
impl Sink for DbSink {
    async fn event(&self, step: Option<&str>, kind: &str, message: &str) {
        if self.lost() {
            return;
        }
        let message = event_text(message, &self.secrets);
        if let Err(e) = tasks::event(&self.db, &self.task_id, step, kind, &message).await {
            tracing::warn!(error = %e, task = %self.task_id, "could not write a task event");
        }
    }

    async fn steps(&self, state: &[StepState]) {
        if self.lost() {
            return;
        }
        // Step outputs are stored (for resuming): mask secrets in them too.
        let state: Vec<StepState> = if self.secrets.is_empty() {
            state.to_vec()
        } else {
            serde_json::to_string(state)
                .ok()
                .map(|t| redact(&t, &self.secrets))
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default()
        };
        if let Err(e) = tasks::save_steps(&self.db, &self.task_id, &self.claim, &state).await {
            tracing::warn!(error = %e, task = %self.task_id, "could not save step states");
        }
    }
}

/// A dry run's log, in memory.
#[derive(Default)]
pub struct MemorySink {
    pub lines: Mutex<Vec<String>>,
    pub secrets: Vec<String>,
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    async fn event(&self, step: Option<&str>, kind: &str, message: &str) {
        let line = match step {
            Some(s) => format!("[{s}] {kind}: {message}"),
            None => format!("{kind}: {message}"),
        };
        if let Ok(mut l) = self.lines.lock() {
            l.push(event_text(&line, &self.secrets));
        }
    }

    async fn steps(&self, _state: &[StepState]) {}
}

/// The string values of a task's secrets (what events must never show), also as they look inside JSON
/// text (escaped), longest first.
pub fn secret_values(secrets: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = secrets
        .values()
        .filter_map(Value::as_str)
        .filter(|s| s.len() >= 3)
        .flat_map(|s| {
            let escaped = serde_json::to_string(s).unwrap_or_default();
            let escaped = escaped.trim_matches('"').to_string();
            [s.to_string(), escaped]
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// The files under `dir` (paths relative to `root`, `.git` left out) with their text (None when not
/// UTF-8): what a dry run wrote.
pub(super) fn collect(
    root: &std::path::Path,
    dir: &std::path::Path,
    out: &mut Vec<(String, Option<String>)>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if e.file_name() != ".git" {
                collect(root, &p, out);
            }
        } else if let Ok(rel) = p.strip_prefix(root) {
            let content = std::fs::read(&p)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            out.push((rel.display().to_string(), content));
        }
    }
}
