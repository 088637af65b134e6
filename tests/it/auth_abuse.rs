//! Authentication under attack, each test written as the exploit: tokens that leave out the claims that
//! bind them (issuer, audience, `jti`), unknown key ids against a slow JWKS server, subscriptions that
//! outlive their token, and floods of anonymous, dev-mode and invalid-token requests from one address.

use api::auth::jwt::{Claims, Verifier, VerifierSettings};
use api::auth::Authenticator;
use futures_util::{SinkExt, StreamExt};
use greenroom_tests::remote::RemoteFiles;
use greenroom_tests::{TestApp, TestDb, TestServer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "an-abuse-test-secret-that-is-32-bytes";
const COUNT: &str = "{ entities { totalCount } }";

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn claims(sub: &str, scope: &str, ttl: u64) -> Claims {
    Claims {
        sub: sub.into(),
        exp: now() + ttl,
        nbf: None,
        iat: Some(now()),
        iss: None,
        aud: None,
        jti: Some(format!("jti-{sub}-{}", uuid_like())),
        scope: Some(scope.into()),
        groups: None,
    }
}

fn uuid_like() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    (u128::from(std::process::id()) << 64) | u128::from(N.fetch_add(1, Ordering::SeqCst))
}

fn hs(c: &Claims) -> String {
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), c, &key).unwrap()
}

fn key_file(name: &str) -> String {
    std::fs::read_to_string(greenroom_tests::fixtures().join("keys").join(name)).unwrap()
}

/// A server with authentication: `settings` adjusts the verifier, `state` the rest.
async fn server(
    t: &TestDb,
    settings: impl FnOnce(&mut VerifierSettings),
    app: impl FnOnce(TestApp) -> TestApp,
    anonymous_read: bool,
) -> TestServer {
    let mut s = VerifierSettings {
        secret: Some(SECRET.into()),
        ..VerifierSettings::default()
    };
    settings(&mut s);
    let auth = Authenticator {
        verifier: Verifier::new(s).unwrap(),
        anonymous_read,
        revocations: Default::default(),
        ownership_policy: false,
    };
    let events = api::deployments::events::Events::default();
    events.listen(&t.db).await;
    app(TestApp::new(t).auth(auth).events(events)).serve().await
}

/// POSTs `query` from `client` (`None`: the server's client); returns (status, body).
async fn post_from(
    s: &TestServer,
    client: Option<&reqwest::Client>,
    token: Option<&str>,
    headers: &[(&str, &str)],
    query: &str,
) -> (u16, Value) {
    let mut req = client
        .unwrap_or(&s.client)
        .post(s.url("/graphql"))
        .json(&json!({ "query": query }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_configured_issuer_and_audience_are_required_not_only_checked_when_present() {
    let t = TestDb::new().await;
    let s = server(
        &t,
        |v| {
            v.issuer = Some("https://issuer.test".into());
            v.audience = Some("greenroom".into());
        },
        |a| a,
        false,
    )
    .await;
    let bare = claims("user:default/mallory", "admin", 600);
    let only_iss = Claims {
        iss: Some("https://issuer.test".into()),
        ..bare.clone()
    };
    let only_aud = Claims {
        aud: Some(json!("greenroom")),
        ..bare.clone()
    };
    for (name, c, claim) in [
        ("neither", &bare, "claim"),
        ("no aud", &only_iss, "'aud'"),
        ("no iss", &only_aud, "'iss'"),
    ] {
        let (status, body) = post_from(&s, None, Some(&hs(c)), &[], COUNT).await;
        assert_eq!(
            (status, code(&body)),
            (401, "UNAUTHENTICATED"),
            "{name}: {body}"
        );
        assert!(message(&body).contains(claim), "{name}: {body}");
    }
    let both = Claims {
        iss: only_iss.iss.clone(),
        aud: only_aud.aud.clone(),
        ..bare
    };
    let (status, body) = post_from(&s, None, Some(&hs(&both)), &[], COUNT).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn tokens_without_a_jti_which_could_never_be_revoked_are_refused() {
    let t = TestDb::new().await;
    let s = server(&t, |_| {}, |a| a, false).await;
    let unrevocable = Claims {
        jti: None,
        ..claims("bot:forever", "admin", 10 * 365 * 86_400)
    };
    let (status, body) = post_from(&s, None, Some(&hs(&unrevocable)), &[], COUNT).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    assert!(message(&body).contains("jti"), "{body}");
}

#[tokio::test]
async fn unknown_kids_against_a_slow_jwks_server_never_delay_tokens_with_known_keys() {
    let t = TestDb::new().await;
    let jwks = RemoteFiles::start().await;
    jwks.put("/jwks.json", &key_file("jwks.json"));
    let s = Arc::new(
        server(
            &t,
            |v| v.jwks_url = Some(jwks.url("/jwks.json")),
            |a| a,
            false,
        )
        .await,
    );
    let rsa = EncodingKey::from_rsa_pem(key_file("rsa.key").as_bytes()).unwrap();
    let signed = |kid: &str| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &claims("bot:ci", "catalog:read", 600), &rsa).unwrap()
    };
    let known = signed("test-rsa");
    let (status, body) = post_from(&s, None, Some(&known), &[], COUNT).await;
    assert_eq!(status, 200, "{body}");
    // From now on the key server takes far longer to answer than the verifier waits for it.
    jwks.stall("/jwks.json", Duration::from_secs(60));
    let mut flood = Vec::new();
    for i in 0..40 {
        let (s, token) = (s.clone(), signed(&format!("unknown-{i}")));
        flood.push(tokio::spawn(async move {
            let started = Instant::now();
            let (status, _) = post_from(&s, None, Some(&token), &[], COUNT).await;
            (status, started.elapsed())
        }));
    }
    // Wait for the flood to reach the key server (one fetch is in flight), then ask with the known key.
    let deadline = Instant::now() + Duration::from_secs(10);
    while jwks.hits("/jwks.json") < 2 {
        assert!(Instant::now() < deadline, "no refetch for an unknown kid");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = post_from(&s, None, Some(&known), &[], COUNT).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a known kid waited {:?} behind unknown ones",
            started.elapsed()
        );
    }
    for f in flood {
        let (status, took) = f.await.unwrap();
        assert_eq!(status, 401);
        assert!(
            took < Duration::from_secs(15),
            "a fetch was not bounded: {took:?}"
        );
    }
    assert_eq!(
        jwks.hits("/jwks.json"),
        2,
        "40 unknown kids made one refetch, not one each"
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` connection authenticated with `token`, subscribed to `deploymentEvents`.
async fn subscribe(s: &TestServer, token: &str) -> Ws {
    let mut req = s
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let mut ws = tokio_tungstenite::connect_async(req).await.unwrap().0;
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    ws.send(Message::text(init.to_string())).await.unwrap();
    match next(&mut ws, Duration::from_secs(10)).await {
        Some(Message::Text(t)) => assert!(t.contains("connection_ack"), "{t}"),
        other => panic!("no ack: {other:?}"),
    }
    let sub = json!({"id": "1", "type": "subscribe", "payload": {"query":
        "subscription { deploymentEvents { version } }"}});
    ws.send(Message::text(sub.to_string())).await.unwrap();
    ws
}

/// The next frame other than pings, within `wait`.
async fn next(ws: &mut Ws, wait: Duration) -> Option<Message> {
    let fut = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                _ => return None,
            }
        }
    };
    tokio::time::timeout(wait, fut).await.ok().flatten()
}

const RECORD: &str = r#"mutation($v: String!) { recordDeployment(input: {entityRef: "component:artist-lookup", environment: "staging", version: $v}) { id } }"#;

async fn record(s: &TestServer, bot: &str, version: &str) {
    let resp = s
        .client
        .post(s.url("/graphql"))
        .bearer_auth(bot)
        .json(&json!({"query": RECORD, "variables": {"v": version}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// Reads frames until the socket closes; panics on a delivered event or no close within `wait`.
async fn expect_closed_4403(ws: &mut Ws, wait: Duration, why: &str) {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next(ws, left).await {
            Some(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::from(4403), "{frame:?}");
                assert!(frame.reason.contains(why), "{frame:?}");
                return;
            }
            Some(Message::Text(t)) => {
                assert!(!t.contains("\"next\""), "delivered after {why}: {t}")
            }
            other => panic!("not closed with 4403 ({why}) within {wait:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_subscription_is_closed_with_4403_once_its_token_expires() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t, |v| v.leeway = Duration::ZERO, |a| a, false).await;
    let short = hs(&claims("user:default/watcher", "catalog:read", 2));
    let bot = hs(&claims("bot:ci", "deployments:write catalog:read", 600));
    let mut ws = subscribe(&s, &short).await;
    let expires = Instant::now() + Duration::from_secs(3);
    // Deployments keep happening; none may reach the socket once the token has expired.
    let recorder = {
        let (base, bot) = (s.base.clone(), bot.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..100 {
                let _ = client
                    .post(format!("{base}/graphql"))
                    .bearer_auth(&bot)
                    .json(&json!({"query": RECORD, "variables": {"v": format!("x.{i}")}}))
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match next(&mut ws, deadline.saturating_duration_since(Instant::now())).await {
            Some(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::from(4403), "{frame:?}");
                assert!(frame.reason.contains("expired"), "{frame:?}");
                break;
            }
            Some(Message::Text(t)) => assert!(
                Instant::now() < expires + Duration::from_secs(1) || !t.contains("\"next\""),
                "delivered after expiry: {t}"
            ),
            other => panic!("the socket outlived its token: {other:?}"),
        }
    }
    recorder.abort();
}

#[tokio::test]
async fn a_subscription_is_closed_with_4403_once_its_token_is_revoked() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t, |_| {}, |a| a, false).await;
    let watcher = claims("user:default/watcher", "catalog:read", 600);
    let bot = hs(&claims("bot:ci", "deployments:write catalog:read", 600));
    let admin = hs(&claims("user:default/root", "admin", 600));
    let mut ws = subscribe(&s, &hs(&watcher)).await;
    // The subscription delivers (it is active once the server processed it: record until one arrives).
    let mut delivered = false;
    for i in 0..100 {
        record(&s, &bot, &format!("1.{i}")).await;
        if let Some(Message::Text(t)) = next(&mut ws, Duration::from_millis(200)).await {
            if t.contains("\"next\"") {
                delivered = true;
                break;
            }
        }
    }
    assert!(delivered, "no event before the revocation");
    let revoke = "mutation($j: String!) { revokeToken(jti: $j) }";
    let resp: Value = s
        .client
        .post(s.url("/graphql"))
        .bearer_auth(&admin)
        .json(&json!({"query": revoke, "variables": {"j": watcher.jti}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["data"]["revokeToken"], true, "{resp}");
    record(&s, &bot, "after-revocation").await;
    expect_closed_4403(&mut ws, Duration::from_secs(10), "revoked").await;
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Requests from `client` until one gets 429 (at most `limit`); the 429's body.
async fn until_429(
    s: &TestServer,
    client: &reqwest::Client,
    token: Option<&str>,
    headers: &[(&str, &str)],
    limit: usize,
) -> Option<Value> {
    for _ in 0..limit {
        let (status, body) = post_from(s, Some(client), token, headers, COUNT).await;
        if status == 429 {
            return Some(body);
        }
    }
    None
}

fn rate(app: TestApp) -> TestApp {
    app.rate_limit(0.2, 3.0)
}

#[tokio::test]
async fn anonymous_callers_have_a_bucket_per_client_address() {
    let t = TestDb::new().await;
    let s = server(&t, |_| {}, rate, true).await;
    let (one, two) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    let refused = until_429(&s, &one, None, &[], 10)
        .await
        .expect("one address past its burst gets 429");
    assert_eq!(code(&refused), "RATE_LIMITED", "{refused}");
    let (status, body) = post_from(&s, Some(&two), None, &[], COUNT).await;
    assert_eq!(status, 200, "another address has its own bucket: {body}");
}

#[tokio::test]
async fn dev_mode_has_a_bucket_per_client_address() {
    let t = TestDb::new().await;
    let s = rate(TestApp::new(&t)).serve().await;
    let (one, two) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    assert!(
        until_429(&s, &one, None, &[], 10).await.is_some(),
        "a dev-mode address past its burst gets 429"
    );
    let (status, body) = post_from(&s, Some(&two), None, &[], COUNT).await;
    assert_eq!(status, 200, "dev mode keeps a bucket per address: {body}");
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it() {
    let t = TestDb::new().await;
    let s = server(
        &t,
        |_| {},
        |app| rate(app).trusted_proxies(&["127.0.0.1"]),
        true,
    )
    .await;
    let (proxy, direct) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    let alice = [("X-Forwarded-For", "203.0.113.5")];
    let bob = [("X-Forwarded-For", "203.0.113.6")];
    assert!(until_429(&s, &proxy, None, &alice, 10).await.is_some());
    let (status, _) = post_from(&s, Some(&proxy), None, &bob, COUNT).await;
    assert_eq!(
        status, 200,
        "behind the trusted proxy, another client has its own bucket"
    );
    // An untrusted peer cannot pick a fresh bucket by naming another address.
    assert!(until_429(&s, &direct, None, &[], 10).await.is_some());
    let spoofed = [("X-Forwarded-For", "198.51.100.77")];
    let (status, _) = post_from(&s, Some(&direct), None, &spoofed, COUNT).await;
    assert_eq!(
        status, 429,
        "X-Forwarded-For from an untrusted peer is ignored"
    );
}

#[tokio::test]
async fn invalid_tokens_from_one_address_get_429_after_the_burst() {
    let t = TestDb::new().await;
    let s = server(&t, |_| {}, rate, false).await;
    let (one, two) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    let forged = {
        let c = claims("user:default/root", "admin", 600);
        let key = EncodingKey::from_secret(b"a-guessed-secret-that-is-32-bytes-long");
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &key).unwrap()
    };
    for token in [forged.as_str(), "garbage"] {
        let (status, body) = post_from(&s, Some(&two), Some(token), &[], COUNT).await;
        assert_eq!(status, 401, "{body}");
    }
    let refused = until_429(&s, &one, Some(&forged), &[], 10)
        .await
        .expect("invalid tokens are rate-limited");
    assert_eq!(code(&refused), "RATE_LIMITED", "{refused}");
    let (status, _) = post_from(&s, Some(&one), Some("garbage"), &[], COUNT).await;
    assert_eq!(status, 429, "whatever the token, until the bucket refills");
}

/// A raw `graphql-transport-ws` connection, not yet initialised.
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

/// Sends `frames` in order, then expects the socket to close with `code`.
async fn expect_close(s: &TestServer, frames: &[String], code: u16) {
    let mut ws = connect(s).await;
    for f in frames {
        ws.send(Message::text(f.clone())).await.unwrap();
    }
    loop {
        match next(&mut ws, Duration::from_secs(10)).await {
            Some(Message::Close(Some(frame))) => {
                assert_eq!(frame.code, CloseCode::from(code), "{frames:?}: {frame:?}");
                return;
            }
            Some(Message::Text(t)) if t.contains("connection_ack") => continue,
            other => panic!("{frames:?}: not closed with {code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_refusals_use_the_graphql_ws_close_codes() {
    let t = TestDb::new().await;
    let s = server(&t, |_| {}, |a| a, false).await;
    let init = |token: Option<&str>| {
        match token {
        Some(t) => json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {t}")}}),
        None => json!({"type": "connection_init"}),
    }
    .to_string()
    };
    let reader = hs(&claims("user:default/watcher", "catalog:read", 600));
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query":
        "subscription { deploymentEvents { version } }"}})
    .to_string();
    // No credentials, and credentials that do not verify: 4401.
    expect_close(&s, &[init(None)], 4401).await;
    expect_close(&s, &[init(Some("not-a-token"))], 4401).await;
    // A subscribe before the connection is acknowledged: 4401.
    expect_close(&s, std::slice::from_ref(&subscribe), 4401).await;
    // A frame that is no protocol message: 4400.
    expect_close(&s, &["{not json".to_string()], 4400).await;
    // A second connection_init: 4429.
    expect_close(&s, &[init(Some(&reader)), init(Some(&reader))], 4429).await;
}

#[tokio::test]
async fn subscription_events_are_completed_with_nulls_at_error_paths() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t, |_| {}, |a| a, false).await;
    let reader = hs(&claims("user:default/watcher", "catalog:read", 600));
    let bot = hs(&claims("bot:ci", "deployments:write catalog:read", 600));
    let mut ws = connect(&s).await;
    let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {reader}")}});
    ws.send(Message::text(init.to_string())).await.unwrap();
    assert!(
        matches!(next(&mut ws, Duration::from_secs(10)).await, Some(Message::Text(t)) if t.contains("connection_ack"))
    );
    // `entity` is nullable; its non-null `relations(first: 0)` fails.
    let sub = json!({"id": "1", "type": "subscribe", "payload": {"query":
        "subscription { deploymentEvents { version entity { ref relations(first: 0) { type } } } }"}});
    ws.send(Message::text(sub.to_string())).await.unwrap();
    // The subscription is live once the server has read it: record until an event arrives.
    for i in 0..100 {
        record(&s, &bot, &format!("9.{i}")).await;
        if let Some(Message::Text(t)) = next(&mut ws, Duration::from_millis(200)).await {
            let msg: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(msg["type"], "next", "{msg}");
            let event = &msg["payload"]["data"]["deploymentEvents"];
            assert!(event["version"].is_string(), "{msg}");
            assert!(
                event.as_object().unwrap().contains_key("entity") && event["entity"].is_null(),
                "{msg}"
            );
            assert_eq!(
                msg["payload"]["errors"][0]["path"],
                json!(["deploymentEvents", "entity", "relations"]),
                "{msg}"
            );
            return;
        }
    }
    panic!("no event arrived");
}
