//! Crash recovery with the real binary: a server is killed with SIGKILL while a task runs; after a
//! restart on the same database the task is failed with a `recovered` event, or, for a template that
//! opted in, started over and completed — never left in PROCESSING.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn gql(client: &reqwest::Client, addr: &str, query: &str, variables: Value) -> Value {
    client
        .post(format!("{addr}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const TASK: &str =
    "query($id: ID!) { task(id: $id) { status steps { stepId status } events { nodes { kind message } } } }";

/// Polls until `done(task)` holds.
async fn wait_for(
    client: &reqwest::Client,
    addr: &str,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let r = gql(client, addr, TASK, json!({ "id": id })).await;
        let task = r["data"]["task"].clone();
        if done(&task) {
            return task;
        }
        assert!(started.elapsed() < within, "task {id}: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create(client: &reqwest::Client, addr: &str, template: &str, values: Value) -> String {
    // The templates are read at start-up; wait for them.
    let started = Instant::now();
    loop {
        let r = gql(
            client,
            addr,
            "mutation($t: String!, $v: JSON!) { createTask(input: {templateRef: $t, values: $v}) { id } }",
            json!({ "t": template, "v": values }),
        )
        .await;
        if let Some(id) = r["data"]["createTask"]["id"].as_str() {
            return id.to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn running_wait(task: &Value) -> bool {
    task["steps"].as_array().is_some_and(|s| {
        s.iter()
            .any(|s| s["stepId"] == "wait" && s["status"] == "PROCESSING")
    })
}

#[test]
fn a_task_survives_kill_9_of_its_server() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("greenroom.yaml");
    let fixtures = repo().join("tests/fixtures/scaffolder");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  listen: 127.0.0.1:0\n  limits:\n    rateLimitPerSecond: 0\ndatabase:\n  url: sqlite://{}?mode=rwc\ncatalog:\n  rules:\n    - allow: [Component, API, Location, Template, System, Domain, Resource, Group, User]\n  locations:\n    - type: file\n      target: {}\n    - type: file\n      target: {}\nscaffolder:\n  heartbeat: 200ms\n  staleAfter: 1s\n",
            dir.path().join("gr.db").display(),
            fixtures.join("template.yaml").display(),
            fixtures.join("recoverable.yaml").display(),
        ),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();

    let first = crate::serve(&cfg);
    let addr = first.addr.clone();
    let (failing, again) = rt.block_on(async {
        let failing = create(
            &client,
            &addr,
            "template:service",
            json!({"name": "svc", "owner": "team-a", "waitSeconds": 60}),
        )
        .await;
        let again = create(
            &client,
            &addr,
            "template:recoverable",
            json!({"waitSeconds": 5}),
        )
        .await;
        for id in [&again, &failing] {
            wait_for(&client, &addr, id, Duration::from_secs(30), running_wait).await;
        }
        (failing, again)
    });
    first.kill9(); // SIGKILL: no shutdown, no hand-back

    let second = crate::serve(&cfg);
    let addr = second.addr.clone();
    rt.block_on(async {
        let task = wait_for(&client, &addr, &failing, Duration::from_secs(30), |t| {
            t["status"] != "PROCESSING"
        })
        .await;
        assert_eq!(task["status"], "FAILED", "{task}");
        let events = task["events"]["nodes"].as_array().unwrap();
        assert!(events.iter().any(|e| e["kind"] == "recovered"), "{task}");
        let task = wait_for(&client, &addr, &again, Duration::from_secs(30), |t| {
            ["COMPLETED", "FAILED", "CANCELLED"].contains(&t["status"].as_str().unwrap_or(""))
        })
        .await;
        assert_eq!(task["status"], "COMPLETED", "{task}");
        let kinds: Vec<&str> = task["events"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"recovered"), "{kinds:?}");
        assert_eq!(kinds.last(), Some(&"completion"));
    });
    drop(second);
}
