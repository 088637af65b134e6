//! JSONata evaluation for Roadie's `roadiehq:utils:jsonata*` actions, on the `jsonata-core` engine:
//! bounded in expression size, time, depth, sequence length and result size, run off the async
//! runtime, and stopped when the step that waits for it is dropped (a cancelled task).

use jsonata_core::evaluator::{CancelToken, EvaluatorOptions};
use jsonata_core::value::JValue;
use jsonata_core::Expression;
use serde_json::Value;
use std::time::Duration;

/// The longest expression taken, in bytes.
pub const MAX_EXPRESSION: usize = 64 * 1024;
/// How long one evaluation may run.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// The largest result kept, in bytes of its JSON text.
pub const MAX_RESULT: usize = 8 * 1024 * 1024;
/// How deep an evaluation may nest (jsonata-js's `stack` option).
const MAX_DEPTH: usize = 2_000;
/// The longest sequence an evaluation may build (jsonata-js's `sequence` option).
const MAX_SEQUENCE: usize = 1_000_000;

/// Why an expression gave no result. The texts are JSONata's own (with its error codes), and never
/// name anything of the server's.
#[derive(Debug, thiserror::Error)]
pub enum JsonataError {
    #[error("the expression is {0} bytes long; at most {MAX_EXPRESSION} are taken")]
    TooLong(usize),
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Evaluation(String),
    #[error("the result is over {MAX_RESULT} bytes")]
    TooLarge,
    #[error("the evaluation stopped unexpectedly")]
    Stopped,
}

/// Cancels the evaluation it guards when dropped before the evaluation ended (the awaiting step was
/// dropped: its task was cancelled).
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// `expression` evaluated against `data`, as jsonata-js's `evaluate` would: `None` when the result is
/// undefined (no match).
pub async fn evaluate(expression: &str, data: Value) -> Result<Option<Value>, JsonataError> {
    if expression.len() > MAX_EXPRESSION {
        return Err(JsonataError::TooLong(expression.len()));
    }
    let token = CancelToken::new();
    let guard = CancelOnDrop(token.clone());
    let expression = expression.to_string();
    let job = tokio::task::spawn_blocking(move || evaluate_blocking(&expression, data, token));
    let out = job.await.map_err(|_| JsonataError::Stopped)?;
    drop(guard);
    out
}

/// The evaluation itself, on a blocking thread; a panic in the engine is caught and reported.
fn evaluate_blocking(
    expression: &str,
    data: Value,
    token: CancelToken,
) -> Result<Option<Value>, JsonataError> {
    let run = std::panic::AssertUnwindSafe(|| {
        let compiled =
            Expression::compile(expression).map_err(|e| JsonataError::Syntax(e.to_string()))?;
        let options = EvaluatorOptions {
            timeout_ms: Some(TIMEOUT.as_millis() as u64),
            cancel: Some(token),
            max_stack_depth: Some(MAX_DEPTH),
            max_sequence_length: Some(MAX_SEQUENCE),
        };
        let result = compiled
            .evaluate_with_options(&JValue::from(data), options)
            .map_err(|e| JsonataError::Evaluation(e.to_string()))?;
        plain(&result)
    });
    std::panic::catch_unwind(run).unwrap_or(Err(JsonataError::Stopped))
}

/// A result as plain JSON, as `JSON.stringify` would see it: undefined is none, and object members
/// that are undefined are left out.
fn plain(result: &JValue) -> Result<Option<Value>, JsonataError> {
    if result.is_undefined() {
        return Ok(None);
    }
    let text = serde_json::to_string(&Defined(result)).map_err(|_| JsonataError::Stopped)?;
    if text.len() > MAX_RESULT {
        return Err(JsonataError::TooLarge);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|_| JsonataError::Stopped)
}

/// Serialises a value leaving out object members whose value is undefined (as `JSON.stringify`).
struct Defined<'a>(&'a JValue);

impl serde::Serialize for Defined<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            JValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&Defined(item))?;
                }
                seq.end()
            }
            JValue::Object(map) => {
                let mut m = s.serialize_map(None)?;
                for (k, v) in map.iter().filter(|(_, v)| !v.is_undefined()) {
                    m.serialize_entry(k, &Defined(v))?;
                }
                m.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn evaluates_paths_functions_and_objects() {
        let data = json!({"a": {"b": [1, 2, 3]}, "name": "svc"});
        let got = evaluate(r#"{"sum": $sum(a.b), "n": $uppercase(name)}"#, data).await;
        assert_eq!(got.unwrap(), Some(json!({"sum": 6, "n": "SVC"})));
    }

    #[tokio::test]
    async fn no_match_is_none_and_bad_input_is_an_error() {
        assert_eq!(evaluate("missing", json!({})).await.unwrap(), None);
        let syntax = evaluate("a.(", json!({})).await.unwrap_err();
        assert!(matches!(syntax, JsonataError::Syntax(_)), "{syntax}");
        let long = "a".repeat(MAX_EXPRESSION + 1);
        assert!(matches!(
            evaluate(&long, json!({})).await,
            Err(JsonataError::TooLong(_))
        ));
    }

    #[tokio::test]
    async fn runaway_evaluations_are_stopped() {
        // Unbounded recursion hits the depth bound; an endless loop the time bound.
        let deep = evaluate("($f := function($n){ $f($n + 1) + 1 }; $f(0))", json!({})).await;
        assert!(matches!(deep, Err(JsonataError::Evaluation(_))), "{deep:?}");
        // A tail call loops without nesting: only the time bound ends it.
        let start = std::time::Instant::now();
        let endless = evaluate("($f := function($n){ $f($n + 1) }; $f(0))", json!({})).await;
        assert!(
            matches!(&endless, Err(JsonataError::Evaluation(e)) if e.contains("D1012")),
            "{endless:?}"
        );
        assert!(start.elapsed() < TIMEOUT * 3);
    }

    #[tokio::test]
    async fn undefined_members_are_left_out() {
        let got = evaluate(r#"{"a": x, "b": 1}"#, json!({})).await.unwrap();
        assert_eq!(got, Some(json!({"b": 1})));
    }
}
