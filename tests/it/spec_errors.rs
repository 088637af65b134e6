//! Execution errors as the GraphQL spec handles them: an errored field is `null` at its path, and a
//! `null` in a non-null position propagates to the nearest nullable parent, in process, over HTTP and in
//! batches (WebSocket subscriptions: `deployments.rs`).

use greenroom_tests::{TestApp, TestDb, TestServer};
use serde_json::{json, Value};

async fn loaded() -> TestDb {
    let t = TestDb::new().await;
    t.load_examples().await;
    t
}

/// The paths of the response's errors.
fn error_paths(r: &Value) -> Vec<Value> {
    r["errors"]
        .as_array()
        .map(|es| es.iter().map(|e| e["path"].clone()).collect())
        .unwrap_or_default()
}

/// Asserts that `data` has the key `key` and that it holds `null`.
fn assert_null_key(data: &Value, key: &str, r: &Value) {
    let obj = data
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {r}"));
    assert!(obj.contains_key(key), "no `{key}` key: {r}");
    assert!(obj[key].is_null(), "`{key}` is not null: {r}");
}

#[tokio::test]
async fn a_failed_nullable_root_field_is_null_beside_its_siblings() {
    let t = loaded().await;
    let r = t
        .exec(
            r#"{ entity(ref: "component:nope") { ref } bad: entity(ref: "::") { ref }
                 ok: entity(ref: "component:petstore") { ref } }"#,
            json!({}),
        )
        .await;
    assert_null_key(&r["data"], "entity", &r);
    assert_null_key(&r["data"], "bad", &r);
    assert_eq!(r["data"]["ok"]["ref"], "component:default/petstore", "{r}");
    assert_eq!(error_paths(&r), vec![json!(["bad"])], "{r}");
    assert_eq!(r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn an_only_failed_root_field_gives_data_with_a_null_not_null_data() {
    let t = loaded().await;
    let r = t
        .exec(r#"{ bad: entity(ref: "::") { ref } }"#, json!({}))
        .await;
    assert_eq!(r["data"], json!({ "bad": null }), "{r}");
}

#[tokio::test]
async fn a_failed_non_null_field_nulls_its_nullable_parent() {
    let t = loaded().await;
    // `relations` is `[Relation!]!` on a nullable `entity`; `first: 0` is refused.
    let r = t
        .exec(
            r#"{ e: entity(ref: "component:petstore") { ref relations(first: 0) { type } }
                 ok: entity(ref: "component:petstore") { ref } }"#,
            json!({}),
        )
        .await;
    assert_null_key(&r["data"], "e", &r);
    assert_eq!(r["data"]["ok"]["ref"], "component:default/petstore", "{r}");
    assert_eq!(error_paths(&r), vec![json!(["e", "relations"])], "{r}");
}

#[tokio::test]
async fn nested_positions_null_the_nearest_nullable_ancestor() {
    let t = loaded().await;
    // `owner` (nullable) holds the failing non-null field; the entity itself stays, with its ref. Through
    // an inline fragment and a named fragment alike.
    let r = t
        .exec(
            r#"{ entity(ref: "component:petstore") { ref owner { ...Rel } }
                 other: entity(ref: "component:petstore") { ref ... on Component { owner { ref x: relations(first: 0) { type } } } } }
               fragment Rel on Entity { relations(first: 0) { type } }"#,
            json!({}),
        )
        .await;
    let e = &r["data"]["entity"];
    assert_eq!(e["ref"], "component:default/petstore", "{r}");
    assert_null_key(e, "owner", &r);
    let o = &r["data"]["other"];
    assert_eq!(o["ref"], "component:default/petstore", "{r}");
    assert_null_key(o, "owner", &r);
}

#[tokio::test]
async fn list_items_null_where_the_list_allows_and_propagate_where_not() {
    let t = loaded().await;
    // `entitiesByRefs` is `[Entity]!`: the failing item alone is null.
    let r = t
        .exec(
            r#"{ entitiesByRefs(refs: ["component:petstore"]) { ref relations(first: 0) { type } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"], json!({ "entitiesByRefs": [null] }), "{r}");
    assert_eq!(
        error_paths(&r),
        vec![json!(["entitiesByRefs", 0, "relations"])],
        "{r}"
    );
    // `entities { nodes }` is non-null all the way to the root: `data` itself is null.
    let r = t
        .exec(
            "{ entities(first: 2) { nodes { ref relations(first: 0) { type } } } }",
            json!({}),
        )
        .await;
    assert!(r["data"].is_null(), "{r}");
    assert!(!r["errors"].as_array().unwrap().is_empty(), "{r}");
}

async fn post(s: &TestServer, body: Value) -> (u16, Value) {
    let resp = s
        .client
        .post(s.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn http_and_batches_complete_responses_too() {
    let t = loaded().await;
    let s = TestApp::new(&t).serve().await;
    let q = r#"{ ok: entity(ref: "component:petstore") { ref } e: entity(ref: "component:petstore") { relations(first: 0) { type } } }"#;
    let (status, r) = post(&s, json!({ "query": q })).await;
    assert_eq!(status, 200, "{r}");
    assert_null_key(&r["data"], "e", &r);
    assert_eq!(r["data"]["ok"]["ref"], "component:default/petstore", "{r}");
    let (status, r) = post(
        &s,
        json!([{ "query": q }, { "query": "{ bad: entity(ref: \"::\") { ref } }" }]),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_null_key(&r[0]["data"], "e", &r);
    assert_eq!(r[1]["data"], json!({ "bad": null }), "{r}");
}

#[tokio::test]
async fn a_missing_required_variable_is_a_request_error() {
    let t = loaded().await;
    let s = TestApp::new(&t).serve().await;
    let q = "query($ref: String!) { entity(ref: $ref) { ref } }";
    for body in [
        json!({ "query": q }),
        json!({ "query": q, "variables": { "ref": null } }),
    ] {
        let (status, r) = post(&s, body).await;
        assert_eq!(status, 400, "{r}");
        assert!(r.get("data").is_none(), "{r}");
        let e = &r["errors"][0];
        // Left out: refused here; given `null`: refused by the engine's validation.
        let code = e["extensions"]["code"].as_str();
        assert!(
            matches!(code, Some("BAD_USER_INPUT" | "GRAPHQL_VALIDATION_FAILED")),
            "{r}"
        );
        assert!(e["extensions"].get("requestId").is_none(), "{r}");
        assert!(e.get("path").is_none(), "{r}");
    }
    let (_, r) = post(&s, json!({ "query": q })).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    assert!(
        r["errors"][0]["message"].as_str().unwrap().contains("$ref"),
        "{r}"
    );
    // A default value or a nullable variable needs nothing.
    let (status, r) = post(
        &s,
        json!({ "query": "query($ref: String! = \"component:petstore\", $x: Int) { entity(ref: $ref) { ref relations(first: $x) { type } } }" }),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["data"]["entity"]["ref"], "component:default/petstore",
        "{r}"
    );
}
