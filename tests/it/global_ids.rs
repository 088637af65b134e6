//! Global object IDs (issue 15): every type with an `id: ID!` implements `Node`; no two objects of any
//! types share an ID (Apollo's and Relay's stores key on it); `node(id:)` gives each object back; two
//! tasks' steps of the same name stay apart; an input refuses the ID of another type.

use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, WorkerSettings};
use greenroom_tests::{first_error_code, TestDb};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: ids
spec:
  owner: group:default/team-a
  type: job
  parameters:
    - properties:
        fail: { type: boolean }
  steps:
    - id: hello
      name: Hello
      action: debug:log
      input: { message: hello }
    - id: maybe
      name: Maybe
      if: ${{ parameters.fail }}
      action: fs:rename
      input:
        files: [{ from: not-there, to: elsewhere }]
"#;

#[tokio::test]
async fn every_type_with_an_id_implements_node() {
    let t = TestDb::new().await;
    let r = t
        .exec(
            "{ __schema { types { name kind interfaces { name } fields { name type { kind ofType { name } } } } } }",
            json!({}),
        )
        .await;
    let mut with_id = Vec::new();
    for ty in r["data"]["__schema"]["types"].as_array().unwrap() {
        let has_id = ty["fields"].as_array().is_some_and(|fs| {
            fs.iter()
                .any(|f| f["name"] == "id" && f["type"]["ofType"]["name"] == "ID")
        });
        if ty["kind"] != "OBJECT" || !has_id {
            continue;
        }
        let name = ty["name"].as_str().unwrap();
        let node = ty["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "Node");
        assert!(node, "{name} has an id but does not implement Node");
        with_id.push(name.to_string());
    }
    for expected in [
        "Task",
        "TaskStep",
        "TemplateStep",
        "TaskEvent",
        "Deployment",
        "LocationSource",
        "AuditEntry",
        "Component",
    ] {
        assert!(
            with_id.iter().any(|n| n == expected),
            "{expected} not among {with_id:?}"
        );
    }
}

/// Polls the task until it has finished.
async fn finished(t: &TestDb, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let r = t
            .exec(
                "query($id: ID!) { task(id: $id) { id status steps { id stepId status } events { nodes { id } } } }",
                json!({"id": id}),
            )
            .await;
        let task = r["data"]["task"].clone();
        if matches!(task["status"].as_str(), Some("COMPLETED" | "FAILED")) {
            return task;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What `node(id:)` gives back for `id`: its type and id.
async fn node(t: &TestDb, id: &str) -> (String, String) {
    let r = t
        .exec(
            "query($id: ID!) { node(id: $id) { __typename id } }",
            json!({"id": id}),
        )
        .await;
    assert!(r["errors"].is_null(), "{id}: {r}");
    let n = &r["data"]["node"];
    (
        n["__typename"].as_str().unwrap_or("null").into(),
        n["id"].as_str().unwrap_or("").into(),
    )
}

#[tokio::test]
async fn ids_are_unique_across_types_and_node_resolves_each() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ids.yaml");
    std::fs::write(&file, TEMPLATE).unwrap();
    let r = t
        .exec(
            r#"mutation($t: String!) { registerLocation(input: {type: "file", target: $t}) { location { id } errors } }"#,
            json!({"t": file.display().to_string()}),
        )
        .await;
    assert!(
        r["errors"].is_null() && r["data"]["registerLocation"]["errors"] == json!([]),
        "{r}"
    );
    let registry = Arc::new(Registry::reading(&greenroom_tests::sandbox_sources()));
    let settings = WorkerSettings {
        poll: Duration::from_millis(20),
        ..Default::default()
    };
    let _w = worker::spawn(t.db.clone(), registry, "ids-worker".into(), settings);
    let record = r#"mutation { recordDeployment(input: {entityRef: "artist-lookup", environment: "production", version: "1"}) { id } }"#;
    assert!(t.exec(record, json!({})).await["errors"].is_null());
    api::auth::audit::record(&t.db, "dev", "recordDeployment", None, "ok")
        .await
        .unwrap();

    let create = r#"mutation($f: Boolean!) { createTask(input: {templateRef: "template:ids", values: {fail: $f}}) { id } }"#;
    let mut tasks = Vec::new();
    for fail in [false, true] {
        let r = t.exec(create, json!({"f": fail})).await;
        let id = r["data"]["createTask"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_string();
        tasks.push(finished(&t, &id).await);
    }
    assert_eq!(
        (tasks[0]["status"].as_str(), tasks[1]["status"].as_str()),
        (Some("COMPLETED"), Some("FAILED"))
    );
    // The same step of two tasks: two objects, each with its own status, also through node(id:).
    let maybe: Vec<&Value> = tasks.iter().map(|t| &t["steps"][1]).collect();
    assert_eq!(
        (&maybe[0]["stepId"], &maybe[1]["stepId"]),
        (&json!("maybe"), &json!("maybe"))
    );
    assert_ne!(maybe[0]["id"], maybe[1]["id"]);
    for (step, status) in maybe.iter().zip(["SKIPPED", "FAILED"]) {
        assert_eq!(step["status"], status, "{step}");
        let r = t
            .exec(
                "query($id: ID!) { node(id: $id) { ... on TaskStep { stepId status } } }",
                json!({"id": step["id"]}),
            )
            .await;
        assert_eq!(
            r["data"]["node"],
            json!({"stepId": "maybe", "status": status}),
            "{r}"
        );
    }

    let all = t
        .exec(
            r#"{ entities(first: 500) { nodes { __typename id } }
                 deployments { nodes { __typename id } }
                 locations { nodes { __typename id } }
                 auditLog { nodes { __typename id } }
                 entity(ref: "template:ids") { ... on Template { steps { __typename id } } } }"#,
            json!({}),
        )
        .await;
    assert!(all["errors"].is_null(), "{all}");
    let mut objects: Vec<(String, String)> = Vec::new();
    let mut push = |list: &Value| {
        for o in list.as_array().unwrap() {
            objects.push((
                o["__typename"].as_str().unwrap().into(),
                o["id"].as_str().unwrap().into(),
            ));
        }
    };
    for list in ["entities", "deployments", "locations", "auditLog"] {
        push(&all["data"][list]["nodes"]);
    }
    push(&all["data"]["entity"]["steps"]);
    for task in &tasks {
        push(&json!([{"__typename": "Task", "id": task["id"]}]));
        push(
            &task["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| json!({"__typename": "TaskStep", "id": s["id"]}))
                .collect(),
        );
        push(
            &task["events"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| json!({"__typename": "TaskEvent", "id": e["id"]}))
                .collect(),
        );
    }
    let kinds: HashSet<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "Component",
        "Deployment",
        "LocationSource",
        "AuditEntry",
        "TemplateStep",
        "Task",
        "TaskStep",
        "TaskEvent",
    ] {
        assert!(kinds.contains(k), "no {k} among {kinds:?}");
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (kind, id) in &objects {
        if let Some(other) = seen.insert(id, kind) {
            panic!("{kind} and {other} share the ID {id}");
        }
    }
    for (kind, id) in &objects {
        assert_eq!(node(&t, id).await, (kind.clone(), id.clone()));
    }

    // An ID of one type is refused where another is expected; what is not an ID is refused too.
    let deployment = all["data"]["deployments"]["nodes"][0]["id"].clone();
    let task = tasks[0]["id"].clone();
    for (q, id) in [
        (
            "mutation($id: ID!) { updateDeploymentStatus(id: $id, status: SUCCEEDED) { id } }",
            &task,
        ),
        ("query($id: ID!) { task(id: $id) { id } }", &deployment),
        (
            "mutation($id: ID!) { cancelTask(id: $id) { id } }",
            &deployment,
        ),
        (
            "mutation($id: ID!) { refreshLocation(id: $id) { id } }",
            &task,
        ),
        ("query($id: ID!) { node(id: $id) { id } }", &json!("42")),
    ] {
        let r = t.exec(q, json!({"id": id})).await;
        assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{q}: {r}");
    }
}
