//! Queries that no schema extension changes run on the schema without extensions (async-graphql's
//! per-field fast path, see `api::graphql::fast`): they answer exactly as the full schema does, errors,
//! paths and completion included, and so do the queries that go to the full schema.

use greenroom_tests::{TestApp, TestDb};
use serde_json::{json, Value};

/// The page the benchmark reads (a page of 100 components with owner, system and dependsOn).
const PAGE: &str = r#"{ entities(filter: {kind: ["Component"]}, first: 100) { nodes { ref name ... on Component { owner { ref } system { ref } dependsOn { ref } } } } }"#;

/// `query` answered as the server answers it (the plain schema when it can) and on the full schema.
async fn both(t: &TestDb, query: &str, variables: Value) -> (Value, Value) {
    let app = TestApp::new(t).sandboxed().admin();
    let plain = app.exec(query, variables.clone()).await;
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let full = app.schema().execute(app.prepare(request)).await;
    (
        plain,
        serde_json::to_value(&full).expect("response is JSON"),
    )
}

#[tokio::test]
async fn the_page_and_other_reads_answer_as_on_the_full_schema() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let reads = [
        (PAGE, json!({})),
        (
            "query One($r: String!) { entity(ref: $r) { __typename ref ...F } } fragment F on Component { lifecycle owner { ref } }",
            json!({ "r": "component:default/petstore" }),
        ),
        (
            "{ a: entities(first: 3) { nodes { ref kind relations { type target { ref } } } } }",
            json!({}),
        ),
    ];
    for (query, variables) in reads {
        let (plain, full) = both(&t, query, variables).await;
        assert!(plain["errors"].is_null(), "{plain}");
        assert_eq!(plain, full, "{query}");
    }
    let (page, _) = both(&t, PAGE, json!({})).await;
    let nodes = page["data"]["entities"]["nodes"].as_array().expect("nodes");
    assert!(!nodes.is_empty(), "{page}");
    assert!(
        nodes.iter().any(|n| n["owner"]["ref"].is_string()),
        "{page}"
    );
}

#[tokio::test]
async fn errors_keep_their_paths_and_completion_on_either_schema() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let cases = [
        // `relations` is declared on the `Entity` interface: async-graphql gives its error no path,
        // so the query runs again on the full schema.
        "{ entities(first: 2) { nodes { ref relations(first: 0) { type } } } }",
        // Through the concrete type the error has its path: completed on the plain schema.
        "{ entities(filter: {kind: [\"Component\"]}, first: 2) { nodes { ref ... on Component { dependsOn(first: 0) { ref } } } } }",
        "{ entity(ref: \"::\") { ref } ok: entity(ref: \"component:petstore\") { ref } }",
        // Refused before execution (an unknown field).
        "{ entities(first: 1) { nodes { nope } } }",
    ];
    for query in cases {
        let (plain, full) = both(&t, query, json!({})).await;
        assert!(
            !plain["errors"].as_array().expect("errors").is_empty(),
            "{plain}"
        );
        assert_eq!(plain, full, "{query}");
    }
    for (query, path) in [
        (cases[0], json!(["entities", "nodes", 0, "relations"])),
        (cases[1], json!(["entities", "nodes", 0, "dependsOn"])),
    ] {
        let (r, _) = both(&t, query, json!({})).await;
        let paths: Vec<&Value> = r["errors"]
            .as_array()
            .map_or(Vec::new(), |es| es.iter().map(|e| &e["path"]).collect());
        assert!(paths.contains(&&path), "{r}");
    }
}

#[tokio::test]
async fn what_an_extension_answers_is_unchanged() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let app = TestApp::new(&t).sandboxed().admin();
    let r = app
        .exec("query($r: String!) { entity(ref: $r) { ref } }", json!({}))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    assert!(r["data"].is_null(), "{r}");
    let r = app.exec("{ __schema { description } }", json!({})).await;
    assert_eq!(r["data"]["__schema"]["description"], Value::Null, "{r}");
    assert!(r["errors"].is_null(), "{r}");
}
