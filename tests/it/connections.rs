//! Relay connections everywhere (issue 15): deployments (root, per entity, per environment), tasks, a
//! task's events, the audit log and locations page forward with `first/after` and back with
//! `last/before`, each walk giving exactly the one-page list in order, with `pageInfo` telling the truth;
//! a cursor of one list is refused by another.

use greenroom_tests::{first_error_code, TestDb};
use serde_json::{json, Value};

const PAGE: &str = "edges { cursor node { id } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }";
const ARGS: &str = "first: $first, after: $after, last: $last, before: $before";
const VARS: &str = "$first: Int, $after: String, $last: Int, $before: String";

/// One list: the field selection with `{ARGS}` and `{PAGE}` filled in, and the path to its connection.
struct List {
    name: &'static str,
    query: String,
    path: Vec<&'static str>,
}

fn list(name: &'static str, field: &str, path: &[&'static str]) -> List {
    let body = field.replace("ARGS", ARGS).replace("PAGE", PAGE);
    let task = if body.contains("$task") {
        ", $task: ID!"
    } else {
        ""
    };
    List {
        name,
        query: format!("query({VARS}{task}) {{ {body} }}"),
        path: path.to_vec(),
    }
}

async fn page(t: &TestDb, l: &List, task: &Value, vars: Value) -> Value {
    let mut vars = vars;
    if l.query.contains("$task") {
        vars["task"] = task.clone();
    }
    let r = t.exec(&l.query, vars).await;
    assert!(r["errors"].is_null(), "{}: {r}", l.name);
    let mut at = &r["data"];
    for p in &l.path {
        at = &at[p];
    }
    at.clone()
}

fn ids(conn: &Value) -> Vec<String> {
    let edges: Vec<String> = conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    let nodes: Vec<String> = conn["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(edges, nodes, "edges and nodes disagree");
    let info = &conn["pageInfo"];
    let first = conn["edges"][0]["cursor"].clone();
    let last = conn["edges"]
        .as_array()
        .unwrap()
        .last()
        .map(|e| e["cursor"].clone())
        .unwrap_or(Value::Null);
    assert_eq!((&info["startCursor"], &info["endCursor"]), (&first, &last));
    edges
}

/// Walks `l` forward three at a time and back three at a time; both equal the one-page list.
async fn walk(t: &TestDb, l: &List, task: &Value, at_least: usize) -> String {
    let all = ids(&page(t, l, task, json!({"first": 100})).await);
    assert!(
        all.len() >= at_least,
        "{}: only {} items",
        l.name,
        all.len()
    );
    let mut forward = Vec::new();
    let mut after = Value::Null;
    loop {
        let conn = page(t, l, task, json!({"first": 3, "after": after})).await;
        assert_eq!(
            conn["pageInfo"]["hasPreviousPage"],
            !after.is_null(),
            "{}: {conn}",
            l.name
        );
        forward.extend(ids(&conn));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(forward, all, "{}: walking forward", l.name);
    let mut backward = Vec::new();
    let mut before = Value::Null;
    loop {
        let conn = page(t, l, task, json!({"last": 3, "before": before})).await;
        assert_eq!(
            conn["pageInfo"]["hasNextPage"],
            !before.is_null(),
            "{}: {conn}",
            l.name
        );
        let mut got = ids(&conn);
        got.extend(backward);
        backward = got;
        if conn["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = conn["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(backward, all, "{}: walking back", l.name);
    // A window between two cursors: what lies strictly between them.
    let between = page(t, l, task, json!({"first": 100, "after": cursor_at(t, l, task, 0).await, "before": cursor_at(t, l, task, 4).await})).await;
    assert_eq!(
        ids(&between),
        all[1..4].to_vec(),
        "{}: between two cursors",
        l.name
    );
    cursor_at(t, l, task, 0).await.as_str().unwrap().to_string()
}

async fn cursor_at(t: &TestDb, l: &List, task: &Value, i: usize) -> Value {
    page(t, l, task, json!({"first": 100})).await["edges"][i]["cursor"].clone()
}

#[tokio::test]
async fn every_list_pages_both_ways_as_a_relay_connection() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let file = dir.path().join(format!("c{i}.yaml"));
        let doc = format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: paged-{i}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n");
        std::fs::write(&file, doc).unwrap();
        let r = t
            .exec(
                r#"mutation($t: String!) { registerLocation(input: {type: "file", target: $t}) { errors } }"#,
                json!({"t": file.display().to_string()}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let record = r#"mutation($v: String!, $e: String!) { recordDeployment(input: {entityRef: "artist-lookup", environment: $e, version: $v}) { id } }"#;
    for i in 0..7 {
        let env = if i % 2 == 0 { "production" } else { "staging" };
        let r = t
            .exec(record, json!({"v": format!("1.{i}"), "e": env}))
            .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let template = greenroom_tests::fixtures().join("scaffolder/resumable.yaml");
    t.refresh(&template).await;
    let create =
        r#"mutation { createTask(input: {templateRef: "template:resumable", values: {}}) { id } }"#;
    let mut task = Value::Null;
    for _ in 0..7 {
        task = t.exec(create, json!({})).await["data"]["createTask"]["id"].clone();
    }
    let key = greenroom_tests::key_of(task.as_str().unwrap());
    for i in 0..7 {
        api::scaffolder::tasks::event(&t.db, &key, None, "log", &format!("line {i}"))
            .await
            .unwrap();
        api::auth::audit::record(
            &t.db,
            "dev",
            "recordDeployment",
            Some(format!("n={i}")),
            "ok",
        )
        .await
        .unwrap();
    }

    let lists = [
        list(
            "deployments",
            "deployments(ARGS) { PAGE }",
            &["deployments"],
        ),
        list(
            "component deployments",
            r#"entity(ref: "component:artist-lookup") { ... on Component { deployments(ARGS) { PAGE } } }"#,
            &["entity", "deployments"],
        ),
        list("tasks", "tasks(ARGS) { PAGE }", &["tasks"]),
        list(
            "task events",
            "task(id: $task) { events(ARGS) { PAGE totalCount } }",
            &["task", "events"],
        ),
        list("audit log", "auditLog(ARGS) { PAGE }", &["auditLog"]),
        list(
            "locations",
            "locations(ARGS) { PAGE totalCount }",
            &["locations"],
        ),
    ];
    let mut cursors = Vec::new();
    for l in &lists {
        cursors.push(walk(&t, l, &task, 5).await);
    }
    let counted = page(&t, &lists[3], &task, json!({"first": 1})).await;
    assert!(counted["totalCount"].as_i64().unwrap() >= 7, "{counted}");
    let counted = page(&t, &lists[5], &task, json!({"first": 1})).await;
    assert!(counted["totalCount"].as_i64().unwrap() >= 6, "{counted}");
    // Newest first where the list says so: the last deployment recorded comes first.
    let newest = t
        .exec("{ deployments(first: 1) { nodes { version } } }", json!({}))
        .await;
    assert_eq!(
        newest["data"]["deployments"]["nodes"][0]["version"], "1.6",
        "{newest}"
    );

    // A cursor of one list means nothing to another (the component's deployments share the root's).
    for (i, l) in lists.iter().enumerate() {
        let foreign = &cursors[(i + 2) % lists.len()];
        let r = t
            .exec(
                &l.query,
                json!({"first": 2, "after": foreign, "task": task}),
            )
            .await;
        assert_eq!(
            first_error_code(&r),
            Some("BAD_USER_INPUT"),
            "{}: {r}",
            l.name
        );
    }
    let r = t.exec(&lists[0].query, json!({"first": 0})).await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
    let r = t.exec(&lists[0].query, json!({"last": 501})).await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
}
