//! Resource bounds, each tested as the exploit it stops: list amplification through nested relation
//! lists, oversized responses, Slowloris heads and bodies, idle WebSockets and subscription floods.

use api::config::{ConnectionTimeouts, OperationLimits};
use futures_util::{SinkExt, StreamExt};
use greenroom_tests::{TestApp, TestDb, TestServer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const DEADLINE: Duration = Duration::from_secs(10);

/// A catalog where `group:default/big` owns `n` components (generated YAML in a temp dir).
async fn big_group(n: usize) -> (TestDb, tempfile::TempDir) {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: big}\nspec: {type: team, children: []}\n",
    );
    for i in 0..n {
        yaml.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: c{i}}}\n\
             spec: {{type: service, lifecycle: production, owner: big}}\n"
        ));
    }
    let path = dir.path().join("catalog.yaml");
    std::fs::write(&path, yaml).unwrap();
    t.refresh(&path).await;
    (t, dir)
}

async fn post(s: &TestServer, query: &str) -> Value {
    let resp = s
        .client
        .post(s.url("/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

fn codes(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter_map(|e| e["extensions"]["code"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// `ownerOf { owner { ownerOf … } }` nested `levels` deep, each list with `args`.
fn nested(levels: usize, args: &str) -> String {
    let mut inner = format!("ownerOf{args} {{ ref }}");
    for _ in 1..levels {
        inner = format!("ownerOf{args} {{ owner {{ ... on Group {{ {inner} }} }} }}");
    }
    format!("{{ entity(ref: \"group:default/big\") {{ ... on Group {{ {inner} }} }} }}")
}

#[tokio::test]
async fn graphs_nested_in_graphs_are_refused_not_multiplied() {
    let (t, _dir) = big_group(8).await;
    let s = TestApp::new(&t).serve().await;
    // Every component's graph (incoming: the group's components reach the group) holds a graph again.
    let inner = "graph(direction: INCOMING, relations: [\"ownedBy\"]) { nodes { ref } }";
    let query = format!(
        "{{ entity(ref: \"group:default/big\") {{ graph(direction: INCOMING, relations: [\"ownedBy\"]) {{ nodes {{ entity {{ {inner} }} }} }} }} }}"
    );
    let body = post(&s, &query).await;
    assert!(codes(&body).contains(&"COMPLEXITY_LIMIT"), "{body}");
    // One graph alone is fine.
    let one = format!("{{ entity(ref: \"group:default/big\") {{ {inner} }} }}");
    let body = post(&s, &one).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["entity"]["graph"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(9),
        "{body}"
    );
}

#[tokio::test]
async fn nested_relation_lists_cannot_amplify_a_small_query() {
    let (t, _dir) = big_group(150).await;
    let s = TestApp::new(&t).serve().await;

    // Counting each list as its `first`, the nesting is refused before anything runs.
    for query in [nested(3, "(first: 150)"), nested(4, "")] {
        let body = post(&s, &query).await;
        assert_eq!(codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");
        assert!(body["data"].is_null(), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("complex"), "{body}");
    }

    // The original 187-byte exploit: no list returns more than it was counted as (20), and the
    // response says that lists were cut.
    let body = post(&s, &nested(3, "")).await;
    let top = body["data"]["entity"]["ownerOf"].as_array().unwrap();
    assert_eq!(top.len(), 20, "{body}");
    let second = top[0]["owner"]["ownerOf"].as_array().unwrap();
    assert_eq!(second.len(), 20);
    assert_eq!(second[0]["owner"]["ownerOf"].as_array().unwrap().len(), 20);
    assert_eq!(codes(&body), ["LIST_TRUNCATED"], "{}", body["errors"]);

    // A legitimate page of the group's components passes whole.
    let body = post(
        &s,
        "{ entity(ref: \"group:default/big\") { ... on Group { ownerOf(first: 150) { ref } } } }",
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["entity"]["ownerOf"].as_array().unwrap().len(),
        150
    );
    let body = post(
        &s,
        "{ entity(ref: \"group:default/big\") { ... on Group { ownerOf(first: 501) { ref } } } }",
    )
    .await;
    assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{body}");

    // `relations` selected through the Entity interface escapes the static count; the run-time item
    // budget stops it (150 components × the group's 150 relations).
    let through_interface =
        "{ entity(ref: \"group:default/big\") { ... on Group { ownerOf(first: 150) { \
        relations(first: 500) { target { relations(first: 500) { targetRef } } } } } } }";
    let body = post(&s, through_interface).await;
    assert!(
        codes(&body).contains(&"COMPLEXITY_LIMIT"),
        "{}",
        body["errors"]
    );
}

#[tokio::test]
async fn a_response_larger_than_the_cap_is_refused_with_a_code() {
    let (t, _dir) = big_group(150).await;
    let s = TestApp::new(&t).max_response_bytes(4096).serve().await;
    let big = "{ entity(ref: \"group:default/big\") { ... on Group { ownerOf(first: 150) { ref name } } } }";
    let body = post(&s, big).await;
    assert_eq!(codes(&body), ["RESPONSE_TOO_LARGE"], "{body}");
    assert!(body.get("data").is_none(), "{body}");
    let small = post(&s, "{ entity(ref: \"group:default/big\") { ref } }").await;
    assert_eq!(
        small["data"]["entity"]["ref"], "group:default/big",
        "{small}"
    );
}

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Everything the server sends on `stream` until it closes, or `None` if it is still open at `DEADLINE`.
async fn until_closed(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read).await.ok()?;
    Some(String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn slow_request_heads_and_bodies_are_cut_off() {
    let t = TestDb::new().await;
    let s = TestApp::new(&t)
        .timeouts(ConnectionTimeouts {
            header_read: Duration::from_millis(300),
            body_read: Duration::from_millis(300),
            ..Default::default()
        })
        .serve()
        .await;

    // Half a request line, then nothing: the server hangs up.
    let mut slow = tokio::net::TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(b"GET /healthz HT").await.unwrap();
    let started = std::time::Instant::now();
    assert!(until_closed(&mut slow).await.is_some(), "still open");
    assert!(started.elapsed() < DEADLINE);

    // A whole head but a body that never comes: 408.
    let mut slow = tokio::net::TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(
        b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"query\"",
    )
    .await
    .unwrap();
    let answer = until_closed(&mut slow).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("TIMEOUT"), "{answer}");

    // A prompt client is served as before.
    let ok = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(s: &TestServer) -> Ws {
    let mut req = s
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The next frame that is not a ping, within `DEADLINE`.
async fn next_frame(ws: &mut Ws) -> Message {
    let next = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return m,
                other => panic!("socket ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, next)
        .await
        .expect("a frame in time")
}

/// The next `error` message (skipping completions and data).
async fn next_error(ws: &mut Ws) -> Value {
    loop {
        let msg = next_json(ws).await;
        if msg["type"] == "error" {
            return msg;
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    match next_frame(ws).await {
        Message::Text(t) => serde_json::from_str(&t).unwrap(),
        other => panic!("not text: {other:?}"),
    }
}

#[tokio::test]
async fn a_websocket_that_never_initialises_is_closed_with_4408() {
    let t = TestDb::new().await;
    let s = TestApp::new(&t)
        .timeouts(ConnectionTimeouts {
            websocket_init: Duration::from_millis(300),
            ..Default::default()
        })
        .serve()
        .await;
    let mut ws = connect(&s).await;
    match next_frame(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4408, "{frame:?}"),
        other => panic!("expected a close frame: {other:?}"),
    }
}

#[tokio::test]
async fn subscriptions_past_the_cap_on_one_socket_are_refused() {
    let t = TestDb::new().await;
    let s = TestApp::new(&t).max_subscriptions(2).serve().await;
    let mut ws = connect(&s).await;
    let send = |v: Value| Message::text(v.to_string());
    ws.send(send(json!({"type": "connection_init"})))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let subscribe = |id: &str| {
        send(json!({"id": id, "type": "subscribe",
            "payload": {"query": "subscription { deploymentEvents { id } }"}}))
    };
    for id in ["a", "b", "c"] {
        ws.send(subscribe(id)).await.unwrap();
    }
    let refused = next_error(&mut ws).await;
    assert_eq!(
        (&refused["type"], &refused["id"]),
        (&json!("error"), &json!("c")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );
    // Completing one frees its place: the next subscribe runs, the one after is refused again.
    ws.send(send(json!({"id": "a", "type": "complete"})))
        .await
        .unwrap();
    ws.send(subscribe("d")).await.unwrap();
    ws.send(subscribe("e")).await.unwrap();
    let refused = next_error(&mut ws).await;
    assert_eq!(
        (&refused["type"], &refused["id"]),
        (&json!("error"), &json!("e")),
        "{refused}"
    );
}

#[tokio::test]
async fn deployment_pages_of_a_page_of_entities_draw_on_the_item_budget() {
    let (t, _dir) = big_group(10).await;
    let limits = OperationLimits {
        max_complexity: 200,
        ..Default::default()
    };
    let app = TestApp::new(&t).sandboxed().limits(limits).admin();
    let record = "mutation($i: RecordDeploymentInput!) { recordDeployment(input: $i) { id } }";
    for c in 0..10 {
        for v in 0..25 {
            let i = json!({"i": {"entityRef": format!("component:c{c}"), "environment": "production", "version": format!("1.{v}")}});
            let r = app.exec(record, i).await;
            assert!(r["errors"].is_null(), "{r}");
        }
    }
    // 10 components × 25 deployments = 250 items, past the budget of 200 that the query's static
    // complexity stays under.
    let q = "{ entities(first: 10, filter: {kind: [\"component\"]}) { nodes { ... on Component { deployments(first: 25) { nodes { id } } } } } }";
    let r = app.exec(q, json!({})).await;
    assert!(codes(&r).contains(&"COMPLEXITY_LIMIT"), "{r}");
    let one = "{ entities(first: 2, filter: {kind: [\"component\"]}) { nodes { ... on Component { deployments(first: 25) { nodes { id } } } } } }";
    let r = app.exec(one, json!({})).await;
    assert!(r["errors"].is_null(), "{r}");
}
