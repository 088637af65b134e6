//! GraphQL over HTTP against a real server on an ephemeral port: media types, methods, batches, GraphiQL, health.

use greenroom_tests::{TestApp, TestDb, TestServer};
use serde_json::{json, Value};

async fn server() -> (TestDb, TestServer) {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestApp::new(&t).serve().await;
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

/// The `Cache-Control` a GET of `query` is answered with.
async fn get_cache_control(s: &TestServer, query: &str) -> String {
    let r = s
        .client
        .get(s.url("/graphql"))
        .query(&[("query", query)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["vary"], "Authorization");
    r.headers()["cache-control"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn get_answers_say_how_long_they_may_be_kept() {
    let (_t, s) = server().await;
    // Catalog data, no token: shared caches may keep it for the read cache's lifetime (5 s by default).
    let catalog = "{ entities(first: 2) { totalCount nodes { ref } } }";
    assert_eq!(get_cache_control(&s, catalog).await, "public, max-age=5");
    // Deployments, tasks, sources and the audit log change without a catalog change: never kept.
    let volatile = "{ entity(ref: \"component:petstore\") { ref ... on Component { currentDeployments { version } } } }";
    assert_eq!(get_cache_control(&s, volatile).await, "no-store");
    assert_eq!(
        get_cache_control(&s, "{ tasks { pageInfo { hasNextPage } } }").await,
        "no-store"
    );
    // Errors are not kept either.
    assert_eq!(
        get_cache_control(&s, "{ entity(ref: \"::\") { ref } }").await,
        "no-store"
    );
    assert_eq!(get_cache_control(&s, "{ nope }").await, "no-store");
    // POST answers carry no caching headers.
    let r = s
        .client
        .post(s.url("/graphql"))
        .json(&json!({ "query": catalog }))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("cache-control").is_none());
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
    let s = TestApp::new(&t).serve().await;
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

/// Sends raw HTTP/1.1 `request` to the server's own address (127.0.0.1), whatever it names as `Host`; the
/// status code of the answer.
async fn raw_status(s: &TestServer, request: String) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 drives a dev-mode server.
/// The TCP connection goes to 127.0.0.1; only `Host` and `Origin` tell.
#[tokio::test]
async fn dev_mode_answers_only_requests_for_this_machine_from_pages_of_this_machine() {
    let (_t, s) = server().await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    let body = r#"{"query": "{ entities { totalCount } }"}"#;
    let post = |host: &str, origin: Option<&str>| {
        let origin = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        format!(
            "POST /graphql HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let get =
        |host: &str| format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    for host in [
        format!("evil.example:{port}"),
        "evil.example".into(),
        format!("localhost.evil.example:{port}"),
    ] {
        assert_eq!(raw_status(&s, post(&host, None)).await, 403, "{host}");
        assert_eq!(raw_status(&s, get(&host)).await, 403, "{host}");
    }
    let no_host = "GET /healthz HTTP/1.0\r\n\r\n".to_string();
    assert_eq!(raw_status(&s, no_host).await, 403, "no Host at all");
    for origin in ["http://evil.example", "null"] {
        let host = format!("127.0.0.1:{port}");
        assert_eq!(
            raw_status(&s, post(&host, Some(origin))).await,
            403,
            "{origin}"
        );
    }
    for (host, origin) in [
        (format!("127.0.0.1:{port}"), None),
        (format!("localhost:{port}"), Some("http://localhost:3000")),
        (format!("[::1]:{port}"), Some("http://127.0.0.1:5173")),
    ] {
        assert_eq!(
            raw_status(&s, post(&host, origin)).await,
            200,
            "{host} {origin:?}"
        );
    }

    // The WebSocket upgrade: a page of evil.example is refused, from its own host name or from 127.0.0.1.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    for host in ["evil.example".to_string(), format!("127.0.0.1:{port}")] {
        let mut req = s
            .url("/graphql/ws")
            .replace("http://", "ws://")
            .into_client_request()
            .unwrap();
        let h = req.headers_mut();
        h.insert("Host", host.parse().unwrap());
        h.insert("Origin", "http://evil.example".parse().unwrap());
        h.insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 403, "{host}")
            }
            other => panic!(
                "the upgrade from evil.example was accepted ({host}): {:?}",
                other.map(|_| ())
            ),
        }
    }
}
