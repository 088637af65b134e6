//! The `DateTime` scalar: every timestamp the API serves (a deployment, a source, an audit entry, a task
//! and its events) is RFC 3339 in UTC with milliseconds and `Z`; any RFC 3339 timestamp is read, whatever
//! its offset; anything else is `BAD_USER_INPUT` naming the field.

use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, WorkerSettings};
use greenroom_tests::{first_error_code, fixtures, TestDb};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `2026-12-01T12:00:00.000Z`: the one spelling.
fn is_the_one_format(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    s.len() == 24
        && s.ends_with('Z')
        && b[10] == b'T'
        && b[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[track_caller]
fn one_format(what: &str, v: &Value) {
    assert!(
        is_the_one_format(v),
        "{what}: {v} is not RFC 3339 UTC with milliseconds and Z"
    );
}

#[tokio::test]
async fn every_timestamp_served_is_utc_with_milliseconds_and_z() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let out = t
        .refresh(&fixtures().join("scaffolder/template.yaml"))
        .await;
    assert_eq!(out.valid, 1, "{out:?}");

    // A deployment, its times given with an offset and without a fraction.
    let r = t
        .exec(
            r#"mutation { recordDeployment(input: {entityRef: "component:petstore", environment: "production",
                 version: "1.0.0", status: SUCCEEDED, commitTime: "2026-11-25T11:00:00+01:00",
                 startedAt: "2026-11-25T10:30:00Z", finishedAt: "2026-11-25T10:45:00.5Z"})
                 { commitTime startedAt finishedAt createdAt } }"#,
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let d = &r["data"]["recordDeployment"];
    assert_eq!(d["commitTime"], "2026-11-25T10:00:00.000Z", "{r}");
    assert_eq!(d["startedAt"], "2026-11-25T10:30:00.000Z", "{r}");
    assert_eq!(d["finishedAt"], "2026-11-25T10:45:00.500Z", "{r}");
    one_format("Deployment.createdAt", &d["createdAt"]);

    // A filter bound with an offset is read as the instant it names.
    let r = t
        .exec(
            r#"{ a: deployments(filter: {since: "2000-01-01T01:00:00+01:00"}) { nodes { createdAt } }
                 b: deployments(filter: {until: "2000-01-01T00:00:00Z"}) { nodes { createdAt } } }"#,
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(
        r["data"]["a"]["nodes"].as_array().map(Vec::len),
        Some(1),
        "{r}"
    );
    assert_eq!(r["data"]["b"]["nodes"], json!([]), "{r}");

    // A source.
    let r = t
        .exec(
            "{ locations { nodes { lastRefreshAt lastSuccessAt } } }",
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let loc = &r["data"]["locations"]["nodes"][0];
    one_format("LocationSource.lastRefreshAt", &loc["lastRefreshAt"]);
    one_format("LocationSource.lastSuccessAt", &loc["lastSuccessAt"]);

    // An audit entry (the recordDeployment above).
    let r = t
        .exec(
            "{ auditLog(first: 5) { nodes { operation at } } }",
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let log = r["data"]["auditLog"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!log.is_empty(), "{r}");
    for e in &log {
        one_format("AuditEntry.at", &e["at"]);
    }

    // A task, run by a worker: its times, its steps' and its events'.
    let registry = Arc::new(Registry::reading(&greenroom_tests::sandbox_sources()));
    let settings = WorkerSettings {
        poll: Duration::from_millis(50),
        ..Default::default()
    };
    let _worker = worker::spawn(t.db.clone(), registry, "worker-0".into(), settings);
    let r = t
        .exec(
            r#"mutation($v: JSON!) { createTask(input: {templateRef: "template:service", values: $v}) { id createdAt } }"#,
            json!({ "v": { "name": "svc", "owner": "team-a" } }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    one_format("Task.createdAt", &r["data"]["createTask"]["createdAt"]);
    let id = r["data"]["createTask"]["id"].clone();
    let q = r#"query($id: ID!) { task(id: $id) { status createdAt startedAt finishedAt
        steps { startedAt finishedAt } events { nodes { at } } } }"#;
    let started = Instant::now();
    let task = loop {
        let r = t.exec(q, json!({ "id": id })).await;
        assert!(r["errors"].is_null(), "{r}");
        let task = r["data"]["task"].clone();
        if !task["finishedAt"].is_null() {
            break task;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never finished: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for f in ["createdAt", "startedAt", "finishedAt"] {
        one_format(&format!("Task.{f}"), &task[f]);
    }
    let steps = task["steps"].as_array().cloned().unwrap_or_default();
    assert!(!steps.is_empty(), "{task}");
    // A skipped step has neither time; every time a step has is in the one format.
    let ran: Vec<_> = steps.iter().filter(|s| !s["startedAt"].is_null()).collect();
    assert!(!ran.is_empty(), "{task}");
    for s in ran {
        one_format("TaskStep.startedAt", &s["startedAt"]);
        one_format("TaskStep.finishedAt", &s["finishedAt"]);
    }
    let events = task["events"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!events.is_empty(), "{task}");
    for e in &events {
        one_format("TaskEvent.at", &e["at"]);
    }
}

#[tokio::test]
async fn a_timestamp_that_is_not_rfc_3339_is_bad_user_input_naming_the_field() {
    let t = TestDb::new().await;
    t.load_examples().await;
    for (query, field) in [
        (
            r#"{ deployments(filter: {since: "yesterday"}) { nodes { id } } }"#,
            "since",
        ),
        (
            r#"{ deployments(filter: {until: "2026-12-01"}) { nodes { id } } }"#,
            "until",
        ),
        (
            r#"mutation { recordDeployment(input: {entityRef: "component:petstore", environment: "production",
                 version: "1", commitTime: "12:00"}) { id } }"#,
            "commitTime",
        ),
    ] {
        let r = t.exec(query, json!({})).await;
        assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{field}: {r}");
        let message = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{field}: ")) && message.contains("RFC 3339"),
            "{field}: {r}"
        );
    }
    // As a variable too.
    let r = t
        .exec(
            "query($s: DateTime) { deployments(filter: {since: $s}) { nodes { id } } }",
            json!({ "s": "not a time" }),
        )
        .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
}
