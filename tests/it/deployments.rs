//! Deployments end to end: a CI-style client with a bot token records a run through its statuses,
//! retries are idempotent, illegal moves and bad input are refused with nothing stored, and current
//! deployments load without N+1.

use api::auth::jwt::{issue, Verifier, VerifierSettings};
use api::auth::Authenticator;
use greenroom_tests::{TestApp, TestDb, TestServer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "deployments-test-secret-of-32-bytes!";

fn token(sub: &str, scope: &str) -> String {
    issue(SECRET, sub, scope, Duration::from_secs(600), None, None)
        .unwrap()
        .0
}

async fn server(t: &TestDb) -> TestServer {
    let auth = Authenticator {
        verifier: Verifier::new(VerifierSettings {
            secret: Some(SECRET.into()),
            leeway: Duration::from_secs(5),
            ..VerifierSettings::default()
        })
        .unwrap(),
        anonymous_read: false,
        revocations: Default::default(),
        ownership_policy: false,
    };
    // As the server does: one event channel with its PostgreSQL listener (a no-op on SQLite).
    let events = api::deployments::events::Events::default();
    events.listen(&t.db).await;
    TestApp::new(t).auth(auth).events(events).serve().await
}

async fn gql(s: &TestServer, token: &str, query: &str, variables: Value) -> Value {
    s.gql(Some(token), query, variables).await
}

const RECORD: &str = r#"mutation($i: RecordDeploymentInput!) {
    recordDeployment(input: $i) { id status version environment recordedBy entity { ref } } }"#;
const UPDATE: &str = r#"mutation($id: ID!, $s: DeploymentStatus!) {
    updateDeploymentStatus(id: $id, status: $s) { id status finishedAt } }"#;
const COUNT: &str = "{ deployments(first: 500) { nodes { id } } }";

fn code(v: &Value) -> Option<&str> {
    greenroom_tests::first_error_code(v)
}

async fn count(s: &TestServer, reader: &str) -> usize {
    gql(s, reader, COUNT, json!({})).await["data"]["deployments"]["nodes"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(usize::MAX)
}

#[tokio::test]
async fn a_ci_run_goes_pending_to_succeeded_and_retries_change_nothing() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t).await;
    let bot = token("bot:ci", "deployments:write catalog:read");
    let reader = token("user:default/jane", "catalog:read");
    let input = json!({"i": {"entityRef": "component:artist-lookup", "environment": "production",
        "version": "1.4.2", "commitSha": "abc123", "commitTime": "2026-11-25T10:00:00Z",
        "url": "https://ci.example.com/runs/7", "idempotencyKey": "run-7"}});

    let r = gql(&s, &bot, RECORD, input.clone()).await;
    let d = &r["data"]["recordDeployment"];
    assert_eq!(d["status"], "PENDING", "{r}");
    assert_eq!(d["recordedBy"], "bot:ci");
    assert_eq!(d["entity"]["ref"], "component:default/artist-lookup");
    let id = d["id"].as_str().unwrap().to_string();

    // A retry with the same key returns the first deployment.
    let again = gql(&s, &bot, RECORD, input.clone()).await;
    assert_eq!(
        again["data"]["recordDeployment"]["id"],
        id.as_str(),
        "{again}"
    );
    assert_eq!(count(&s, &reader).await, 1);

    for status in ["IN_PROGRESS", "SUCCEEDED"] {
        let r = gql(&s, &bot, UPDATE, json!({"id": id, "s": status})).await;
        assert_eq!(r["data"]["updateDeploymentStatus"]["status"], status, "{r}");
    }
    let r = gql(&s, &bot, UPDATE, json!({"id": id, "s": "IN_PROGRESS"})).await;
    assert_eq!(code(&r), Some("CONFLICT"), "{r}");

    // Bad input stores nothing.
    let unknown =
        json!({"i": {"entityRef": "component:nope", "environment": "production", "version": "1"}});
    assert_eq!(
        code(&gql(&s, &bot, RECORD, unknown).await),
        Some("NOT_FOUND")
    );
    let bad_env = json!({"i": {"entityRef": "component:artist-lookup", "environment": "moon", "version": "1"}});
    assert_eq!(
        code(&gql(&s, &bot, RECORD, bad_env).await),
        Some("BAD_USER_INPUT")
    );
    let r = gql(&s, &reader, RECORD, input.clone()).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
    assert_eq!(count(&s, &reader).await, 1);

    // What runs where.
    let r = gql(
        &s,
        &reader,
        r#"{ entity(ref: "component:artist-lookup") { ... on Component {
            currentDeployments { version environment status }
            deployments(environment: "production") { nodes { version } pageInfo { hasNextPage } } } } }"#,
        json!({}),
    )
    .await;
    let c = &r["data"]["entity"];
    assert_eq!(
        c["currentDeployments"],
        json!([{"version": "1.4.2", "environment": "production", "status": "SUCCEEDED"}]),
        "{r}"
    );
    assert_eq!(c["deployments"]["nodes"][0]["version"], "1.4.2");
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_row() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = Arc::new(server(&t).await);
    let bot = token("bot:ci", "deployments:write catalog:read");
    let input = json!({"i": {"entityRef": "component:artist-lookup", "environment": "staging",
        "version": "2.0.0", "idempotencyKey": "run-race"}});
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, bot, input) = (s.clone(), bot.clone(), input.clone());
        tasks.push(tokio::spawn(
            async move { gql(&s, &bot, RECORD, input).await },
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        ids.insert(
            r["data"]["recordDeployment"]["id"]
                .as_str()
                .map(str::to_string),
        );
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids.iter().all(Option::is_some));
    assert_eq!(count(&s, &bot).await, 1);
}

#[tokio::test]
async fn current_deployments_of_a_page_take_a_constant_number_of_statements() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let list = t
        .exec(
            r#"{ entities(filter: {kind: ["component"]}, first: 100) { nodes { ref } } }"#,
            json!({}),
        )
        .await;
    let refs: Vec<String> = list["data"]["entities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ref"].as_str().unwrap().to_string())
        .collect();
    assert!(refs.len() >= 8, "{refs:?}");
    for (i, r) in refs.iter().enumerate() {
        let q = r#"mutation($i: RecordDeploymentInput!) { recordDeployment(input: $i) { id } }"#;
        let v = json!({"i": {"entityRef": r, "environment": "production", "version": format!("1.{i}"), "status": "SUCCEEDED"}});
        let out = t.exec(q, v).await;
        assert!(out["errors"].is_null(), "{out}");
    }
    let page = |n: usize| {
        format!(
            r#"{{ entities(filter: {{kind: ["component"]}}, first: {n}) {{ nodes {{ ref ... on Component {{ currentDeployments {{ version }} deployments(first: 2, environment: "production") {{ nodes {{ version }} pageInfo {{ hasNextPage }} }} }} }} }} }}"#
        )
    };
    let t = &t;
    let statements = |q: String| async move {
        let before = t.statement_count();
        let r = t.exec(&q, json!({})).await;
        assert!(r["errors"].is_null(), "{r}");
        (t.statement_count() - before, r)
    };
    // The fewest of three runs each: a busy machine can split one loader batch in two now and then.
    let mut small = usize::MAX;
    let mut large = usize::MAX;
    let mut r = Value::Null;
    for _ in 0..3 {
        small = small.min(statements(page(2)).await.0);
        let (n, out) = statements(page(refs.len())).await;
        large = large.min(n);
        r = out;
    }
    assert_eq!(small, large, "statements must not grow with the page size");
    let versions = r["data"]["entities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["currentDeployments"][0]["version"].is_string())
        .count();
    assert_eq!(versions, refs.len());
    let listed = r["data"]["entities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["deployments"]["nodes"].as_array().map(Vec::len) == Some(1))
        .count();
    assert_eq!(listed, refs.len(), "{r}");

    // Groups list what they own, also batched.
    let groups = |n: usize| {
        format!(
            r#"{{ entities(filter: {{kind: ["group"]}}, first: {n}) {{ nodes {{ ref ... on Group {{ deployments(first: 50) {{ nodes {{ entityRef }} }} }} }} }} }}"#
        )
    };
    let (small, _) = statements(groups(1)).await;
    let (large, r) = statements(groups(50)).await;
    assert_eq!(small, large, "group lists must not grow with the page size");
    let total: usize = r["data"]["entities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["deployments"]["nodes"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0)
        })
        .sum();
    assert!(total >= 1, "{r}");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message as JSON, within 10 s.
async fn next_json(ws: &mut Ws) -> Value {
    next_within(ws, Duration::from_secs(10))
        .await
        .expect("a message within 10 s")
}

/// The next text message as JSON, if one arrives within `wait`.
async fn next_within(ws: &mut Ws, wait: Duration) -> Option<Value> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let fut = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(wait, fut).await.ok()
}

#[tokio::test]
async fn the_subscription_streams_new_deployments_and_status_changes() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t).await;
    let bot = token("bot:ci", "deployments:write catalog:read");
    let reader = token("user:default/watcher", "catalog:read");
    let ws_url = s.url("/graphql/ws").replace("http://", "ws://");
    let connect = || async {
        let mut req = ws_url.clone().into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        tokio_tungstenite::connect_async(req).await.unwrap().0
    };
    // Without a token the connection is refused.
    let mut anon = connect().await;
    anon.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(10), anon.next())
        .await
        .unwrap();
    assert!(
        !matches!(&refused, Some(Ok(Message::Text(t))) if t.contains("connection_ack")),
        "{refused:?}"
    );

    let mut ws = connect().await;
    ws.send(Message::text(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {reader}")}}).to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    // Queries are not served over the socket.
    ws.send(Message::text(json!({"id": "q", "type": "subscribe", "payload": {"query": "{ entities { totalCount } }"}}).to_string()))
        .await
        .unwrap();
    let q = next_json(&mut ws).await;
    assert_eq!(
        q["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{q}"
    );
    assert!(q["payload"]["data"].is_null(), "{q}");
    ws.send(Message::text(json!({"id": "1", "type": "subscribe", "payload": {"query":
        "subscription { deploymentEvents(filter: {environment: \"production\"}) { id version status recordedBy entity { ref } } }"}}).to_string()))
        .await
        .unwrap();
    // The subscription is active once the server has processed the message: record until an event
    // arrives (a staging deployment each time too, which the filter drops).
    let record = |env: &str, version: String| json!({"i": {"entityRef": "component:artist-lookup", "environment": env, "version": version}});
    let mut got = Vec::new();
    for attempt in 0..100 {
        gql(&s, &bot, RECORD, record("staging", format!("0.{attempt}"))).await;
        gql(
            &s,
            &bot,
            RECORD,
            record("production", format!("1.{attempt}")),
        )
        .await;
        if let Some(msg) = next_within(&mut ws, Duration::from_millis(200)).await {
            if msg["type"] == "next" && msg["id"] == "1" {
                got.push(msg["payload"]["data"]["deploymentEvents"].clone());
                break;
            }
        }
    }
    assert_eq!(got.len(), 1, "no event arrived");
    let id = got[0]["id"].clone();
    gql(&s, &bot, UPDATE, json!({"id": id, "s": "SUCCEEDED"})).await;
    loop {
        let msg = next_json(&mut ws).await;
        let d = &msg["payload"]["data"]["deploymentEvents"];
        if msg["id"] == "1" && d["id"] == id && d["status"] == "SUCCEEDED" {
            got.push(d.clone());
            break;
        }
    }
    assert_eq!(got[0]["status"], "PENDING", "{got:?}");
    assert_eq!(got[0]["recordedBy"], "bot:ci");
    assert_eq!(got[0]["entity"]["ref"], "component:default/artist-lookup");
    assert_eq!(
        (got[1]["version"].as_str(), got[1]["status"].as_str()),
        (Some("1.0"), Some("SUCCEEDED"))
    );
}

#[tokio::test]
async fn dora_metrics_match_a_hand_computed_fixture() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let at = |h: i64| {
        chrono::DateTime::from_timestamp(1_790_000_000 + h * 3600, 0)
            .unwrap()
            .to_rfc3339()
    };
    // Lead times 1h, 3h, 2h; the failure at 10h is restored by the success at 12h; one cancelled run.
    for (v, status, commit, finished) in [
        ("1", "SUCCEEDED", Some(0), 1),
        ("2", "SUCCEEDED", Some(2), 5),
        ("3", "FAILED", Some(9), 10),
        ("4", "CANCELLED", None, 11),
        ("5", "SUCCEEDED", Some(10), 12),
    ] {
        let mut input = json!({"entityRef": "component:artist-lookup", "environment": "production",
            "version": v, "status": status, "finishedAt": at(finished)});
        if let Some(c) = commit {
            input["commitTime"] = json!(at(c));
        }
        let r = t
            .exec(
                "mutation($i: RecordDeploymentInput!) { recordDeployment(input: $i) { id } }",
                json!({"i": input}),
            )
            .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let r = t
        .exec(
            r#"{ entity(ref: "component:artist-lookup") { ... on Component {
                doraMetrics(window: "2d", environment: "production") {
                    deployments successful failed deploymentFrequencyPerDay leadTimeMedianSeconds
                    leadTimeP90Seconds changeFailureRate timeToRestoreMedianSeconds } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["entity"]["doraMetrics"],
        json!({"deployments": 5, "successful": 3, "failed": 1, "deploymentFrequencyPerDay": 1.5,
            "leadTimeMedianSeconds": 7200.0, "leadTimeP90Seconds": 10800.0,
            "changeFailureRate": 0.25, "timeToRestoreMedianSeconds": 7200.0}),
        "{r}"
    );
    // The owning group sees the same deployments.
    let r = t
        .exec(r#"{ entity(ref: "group:team-a") { ... on Group { doraMetrics(window: "2d") { deployments } } } }"#, json!({}))
        .await;
    assert_eq!(r["data"]["entity"]["doraMetrics"]["deployments"], 5, "{r}");
}

#[tokio::test]
async fn on_postgres_a_subscriber_sees_deployments_recorded_by_another_replica() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    if std::env::var(greenroom_tests::PG_ENV).is_err() {
        eprintln!(
            "SKIPPED: {} is not set; cross-replica deployment events need PostgreSQL",
            greenroom_tests::PG_ENV
        );
        return;
    }
    let t = TestDb::new().await;
    t.load_examples().await;
    // Two servers, each with its own schema and event channel, on one database.
    let watched = server(&t).await;
    let other = server(&t).await;
    let bot = token("bot:ci", "deployments:write catalog:read");
    let reader = token("user:default/watcher", "catalog:read");
    let mut req = watched
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let mut ws = tokio_tungstenite::connect_async(req).await.unwrap().0;
    ws.send(Message::text(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {reader}")}}).to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    ws.send(Message::text(
        json!({"id": "1", "type": "subscribe", "payload": {"query":
        "subscription { deploymentEvents { version recordedBy } }"}})
        .to_string(),
    ))
    .await
    .unwrap();
    let mut seen = None;
    for attempt in 0..100 {
        let input = json!({"i": {"entityRef": "component:artist-lookup", "environment": "staging", "version": format!("9.{attempt}")}});
        gql(&other, &bot, RECORD, input).await;
        if let Some(msg) = next_within(&mut ws, Duration::from_millis(200)).await {
            if msg["type"] == "next" {
                seen = Some(msg["payload"]["data"]["deploymentEvents"].clone());
                break;
            }
        }
    }
    let seen = seen.expect("an event recorded on the other server arrives");
    assert_eq!(seen["recordedBy"], "bot:ci", "{seen}");
    assert!(
        seen["version"].as_str().unwrap().starts_with("9."),
        "{seen}"
    );
}

#[tokio::test]
async fn concurrent_records_each_get_their_own_row_and_one_audit_entry() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = Arc::new(server(&t).await);
    let bot = token("bot:ci", "deployments:write catalog:read");
    let admin = token("user:default/admin", "admin catalog:read");
    let refs = ["component:artist-lookup", "component:wayback-search"];
    // 24 writers at once: unkeyed ones, keyed ones, a pair sharing one key, and one unknown entity.
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (s, bot) = (s.clone(), bot.clone());
        let mut input = json!({"entityRef": refs[i % 2], "environment": "staging",
            "version": format!("3.{i}")});
        if i % 3 == 0 {
            input["idempotencyKey"] = json!(format!("run-{i}"));
        }
        if i == 22 || i == 23 {
            input["idempotencyKey"] = json!("run-shared");
        }
        if i == 21 {
            input["entityRef"] = json!("component:does-not-exist");
        }
        tasks.push(tokio::spawn(async move {
            (i, gql(&s, &bot, RECORD, json!({ "i": input })).await)
        }));
    }
    let mut shared = std::collections::HashSet::new();
    for task in tasks {
        let (i, r) = task.await.unwrap();
        if i == 21 {
            assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
            continue;
        }
        let d = &r["data"]["recordDeployment"];
        assert!(r["errors"].is_null(), "{r}");
        if i >= 22 {
            shared.insert(d["id"].as_str().map(str::to_string));
            continue;
        }
        // Each writer gets the row it sent, not a neighbour's from the same batch.
        assert_eq!(d["version"], format!("3.{i}"), "{r}");
        assert_eq!(
            d["entity"]["ref"],
            format!("{}", refs[i % 2].replace(':', ":default/")),
            "{r}"
        );
    }
    assert_eq!(shared.len(), 1, "one row for the shared key: {shared:?}");
    assert_eq!(count(&s, &bot).await, 22, "21 distinct runs + one shared");

    // One audit entry per call: 23 ok (22 rows + the retry that returned the shared row), one NOT_FOUND.
    let log = "{ auditLog(first: 100) { nodes { subject operation target outcome } } }";
    let body = gql(&s, &admin, log, json!({})).await;
    let entries = body["data"]["auditLog"]["nodes"]
        .as_array()
        .expect("audit log")
        .clone();
    let deploys: Vec<&Value> = entries
        .iter()
        .filter(|e| e["operation"] == "recordDeployment")
        .collect();
    assert_eq!(deploys.len(), 24, "{body}");
    let ok = deploys.iter().filter(|e| e["outcome"] == "ok").count();
    assert_eq!(ok, 23, "{body}");
    assert!(deploys.iter().any(|e| e["outcome"] == "NOT_FOUND"
        && e["target"]
            .as_str()
            .unwrap_or("")
            .contains("does-not-exist")));
    assert!(
        deploys.iter().all(|e| e["subject"] == "bot:ci"
            && e["target"].as_str().unwrap_or("").starts_with("input=")),
        "{body}"
    );
}

#[tokio::test]
async fn reads_over_http_see_a_new_deployment_at_once() {
    // The response cache must not answer deployment queries from before a new deployment.
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t).await;
    let bot = token("bot:ci", "deployments:write catalog:read");
    let q = r#"{ entity(ref: "component:artist-lookup") { ... on Component { currentDeployments { version } } } }"#;
    for version in ["1.0.0", "1.0.1", "1.0.2"] {
        let r = gql(
            &s,
            &bot,
            RECORD,
            json!({"i": {"entityRef": "component:artist-lookup", "environment": "production",
                "version": version, "status": "SUCCEEDED"}}),
        )
        .await;
        assert!(r["errors"].is_null(), "{r}");
        let r = gql(&s, &bot, q, json!({})).await;
        assert_eq!(
            r["data"]["entity"]["currentDeployments"][0]["version"], version,
            "{r}"
        );
    }
}
