//! Task secrets (`createTask(input: {secrets})`): kept only in the memory of the server that received
//! them, never in the database or the event log. A task with secrets is pinned to that server (only its
//! workers claim it); if that server dies, the task is recovered without them and fails. Templates may
//! use a secret only whole (`${{ secrets.NAME }}`), never transformed ([`Refs`]).

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

/// A template string with its `${{ secrets.NAME }}` references taken out: each is replaced by a random
/// placeholder before rendering and by the secret's value after, so a secret never enters the engine
/// and no filter, test, operator or block can transform it. A placeholder the template mangled is simply
/// not replaced. Any other mention of `secrets` in a tag is refused.
pub struct Refs {
    text: String,
    /// (placeholder, secret value)
    pairs: Vec<(String, String)>,
}

/// `secrets.NAME`, `secrets['NAME']` or `secrets["NAME"]`, alone in a `${{ }}` (whitespace control allowed).
static BARE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r#"^\s*[-+]?\s*secrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^'\\]*)'\s*\]|\[\s*"([^"\\]*)"\s*\])\s*[-+]?\s*$"#,
    )
    .expect("regex")
});

/// The name `secrets` used as a variable (not `x.secrets`, not inside a quoted key).
static MENTION: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r#"(?:^|[^A-Za-z0-9_.'"])secrets\b"#).expect("regex"));

/// A use of `secrets` other than a whole `${{ secrets.NAME }}`.
#[derive(Debug, thiserror::Error)]
#[error(
    "secrets may only be used whole, as ${{{{ secrets.NAME }}}}: filters, tests, operators and blocks on \
     secrets are refused"
)]
pub struct SecretUse;

impl Refs {
    /// Takes the secret references out of `text`.
    pub fn take_out(text: &str, secrets: &Map<String, Value>) -> Result<Self, SecretUse> {
        let mut out = Self {
            text: String::with_capacity(text.len()),
            pairs: Vec::new(),
        };
        if !text.contains("secrets") {
            out.text.push_str(text);
            return Ok(out);
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let mut rest = text;
        loop {
            let next = [("${{", "}}"), ("{%", "%}")]
                .into_iter()
                .filter_map(|(open, close)| rest.find(open).map(|at| (at, open, close)))
                .min_by_key(|(at, _, _)| *at);
            let Some((at, open, close)) = next else {
                out.text.push_str(rest);
                break;
            };
            let after = &rest[at + open.len()..];
            let Some(end) = after.find(close) else {
                out.text.push_str(rest);
                break;
            };
            let inner = &after[..end];
            out.text.push_str(&rest[..at]);
            if let Some(c) = BARE.captures(inner).filter(|_| open == "${{") {
                let name = c
                    .get(1)
                    .or_else(|| c.get(2))
                    .or_else(|| c.get(3))
                    .map_or("", |m| m.as_str());
                let value = secrets.get(name).and_then(Value::as_str).unwrap_or("");
                let placeholder = format!("@@gR-sEcReT-{nonce}-{}@@", out.pairs.len());
                out.text.push_str(&placeholder);
                out.pairs.push((placeholder, value.to_string()));
            } else if MENTION.is_match(inner) {
                return Err(SecretUse);
            } else {
                out.text
                    .push_str(&rest[at..at + open.len() + end + close.len()]);
            }
            rest = &after[end + close.len()..];
        }
        Ok(out)
    }

    /// The text to render.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The rendering with every intact placeholder replaced by its secret.
    pub fn put_back(&self, rendered: Value) -> Value {
        if self.pairs.is_empty() {
            return rendered;
        }
        match rendered {
            Value::String(s) => Value::String(
                self.pairs
                    .iter()
                    .fold(s, |s, (p, v)| s.replace(p.as_str(), v)),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.put_back(v)).collect())
            }
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, v)| (k, self.put_back(v))).collect())
            }
            other => other,
        }
    }
}
