//! GraphQL over HTTP against a real server on an ephemeral port: media types, methods, batches, GraphiQL, health.

use greenroom_tests::{TestDb, TestServer};
use serde_json::{json, Value};

async fn server() -> (TestDb, TestServer) {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestServer::start(&t.db).await;
    (t, s)
}

#[tokio::test]
async fn post_negotiates_the_response_media_type() {
    let (_t, s) = server().await;
    let q = json!({ "query": "{ entity(ref: \"component:petstore\") { ref } }" });
    let r = s
        .client
        .post(s.url("/graphql"))
        .header("accept", "application/json")
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["entity"]["ref"], "component:default/petstore");

    let r = s
        .client
        .post(s.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/graphql-response+json"
    );

    let r = s
        .client
        .post(s.url("/graphql"))
        .header("accept", "text/plain")
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
}

#[tokio::test]
async fn parse_and_validation_failures_are_4xx_with_codes() {
    let (_t, s) = server().await;
    for query in ["{ entities { ", "{ noSuchField }"] {
        // application/graphql-response+json: 400, and no `data` entry.
        let r = s
            .client
            .post(s.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
        assert!(body.get("data").is_none(), "{body}");
        // application/json: 200 with the same error.
        let r = s
            .client
            .post(s.url("/graphql"))
            .header("accept", "application/json")
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
    }
    let r = s
        .client
        .post(s.url("/graphql"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .client
        .post(s.url("/graphql"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // A resolver error is a 200 with data and a coded error.
    let r = s
        .client
        .post(s.url("/graphql"))
        .json(&json!({ "query": "{ entity(ref: \"nokind\") { ref } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn get_runs_queries_refuses_mutations_and_other_methods() {
    let (_t, s) = server().await;
    let r = s
        .client
        .get(s.url("/graphql"))
        .query(&[("query", "{ entities { totalCount } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["entities"]["totalCount"], 65);

    let r = s
        .client
        .get(s.url("/graphql"))
        .query(&[("query", "mutation { x }")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");

    let r = s
        .client
        .put(s.url("/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn batches_are_capped() {
    let (_t, s) = server().await;
    let op = json!({ "query": "{ __typename }" });
    let ok: Vec<Value> = (0..3).map(|_| op.clone()).collect();
    let r = s
        .client
        .post(s.url("/graphql"))
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 3);
    let too_many: Vec<Value> = (0..11).map(|_| op.clone()).collect();
    let r = s
        .client
        .post(s.url("/graphql"))
        .json(&too_many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn graphiql_is_served_with_embedded_assets() {
    let (_t, s) = server().await;
    let r = s
        .client
        .get(s.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("/graphql/assets/graphiql.min.js"));
    assert!(!html.contains("https://"), "no external URLs in the page");
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ] {
        let r = s
            .client
            .get(s.url(&format!("/graphql/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert!(r.bytes().await.unwrap().len() > 1000);
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let (_t, s) = server().await;
    assert_eq!(
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn repeated_queries_are_answered_fresh_after_every_ingest() {
    let t = TestDb::new().await;
    let s = TestServer::start(&t.db).await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.yaml");
    let write = |desc: &str| {
        std::fs::write(&f, format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: svc, description: {desc}}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")).unwrap();
    };
    let q = json!({ "query": "{ entities(filter: {kind: [\"Component\"]}) { totalCount nodes { description } } }" });
    let fetch = || async {
        let r = s
            .client
            .post(s.url("/graphql"))
            .json(&q)
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    };
    write("one");
    t.refresh(&f).await;
    for _ in 0..3 {
        assert_eq!(
            fetch().await["data"]["entities"]["nodes"][0]["description"],
            "one"
        );
    }
    write("two");
    t.refresh(&f).await;
    assert_eq!(
        fetch().await["data"]["entities"]["nodes"][0]["description"],
        "two"
    );
}

#[tokio::test]
async fn automatic_persisted_queries_by_hash_over_post_and_get() {
    use sha2::{Digest, Sha256};
    let (_t, s) = server().await;
    let query = "query Petstore { entity(ref: \"component:petstore\") { ref } }";
    let hash: String = Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let post = |body: Value| s.client.post(s.url("/graphql")).json(&body).send();

    // Unknown hash: the client is told to send the query.
    let r = post(json!({ "extensions": ext })).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    // A query that does not match its hash is refused and not stored.
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } });
    let r = post(json!({ "query": query, "extensions": wrong }))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Query and hash once; afterwards the hash alone, by POST or GET.
    let body: Value = post(json!({ "query": query, "extensions": ext }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["entity"]["ref"], "component:default/petstore");
    let body: Value = post(json!({ "extensions": ext }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["entity"]["ref"], "component:default/petstore",
        "{body}"
    );
    let r = s
        .client
        .get(s.url("/graphql"))
        .query(&[
            ("extensions", ext.to_string()),
            ("operationName", "Petstore".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["data"]["entity"]["ref"], "component:default/petstore",
        "{body}"
    );
}

#[tokio::test]
async fn get_selects_the_operation_by_operation_name_and_reads_variables() {
    let (_t, s) = server().await;
    let doc = "query A($r: String!) { entity(ref: $r) { ref } } mutation B { refreshEntity(ref: \"component:petstore\") { ref } }";
    let r = s
        .client
        .get(s.url("/graphql"))
        .query(&[
            ("query", doc),
            ("operationName", "A"),
            ("variables", r#"{"r": "component:petstore"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["data"]["entity"]["ref"], "component:default/petstore",
        "{body}"
    );
    let r = s
        .client
        .get(s.url("/graphql"))
        .query(&[("query", doc), ("operationName", "B")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let r = s
        .client
        .get(s.url("/graphql"))
        .query(&[("query", "{ __typename }"), ("variables", "[1]")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
