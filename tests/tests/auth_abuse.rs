//! Authentication under attack, each test written as the exploit: tokens that leave out the claims that
//! bind them (issuer, audience, `jti`), unknown key ids against a slow JWKS server, subscriptions that
//! outlive their token, and floods of anonymous, dev-mode and invalid-token requests from one address.

use api::auth::jwt::{Claims, Verifier, VerifierSettings};
use api::auth::limits::RateLimiter;
use api::auth::Authenticator;
use api::server::AppState;
use futures_util::{SinkExt, StreamExt};
use greenroom_tests::remote::RemoteFiles;
use greenroom_tests::{TestDb, TestServer};
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
    state: impl FnOnce(&mut AppState),
    anonymous_read: bool,
) -> TestServer {
    let mut s = VerifierSettings {
        secret: Some(SECRET.into()),
        ..VerifierSettings::default()
    };
    settings(&mut s);
    let auth = Arc::new(Authenticator {
        verifier: Verifier::new(s).unwrap(),
        anonymous_read,
        revocations: Default::default(),
        ownership_policy: false,
    });
    let mut st = AppState::dev(t.db.clone());
    let events = api::deployments::events::Events::default();
    events.listen(&t.db).await;
    st.schema = api::graphql::schema::build_full(
        t.db.clone(),
        t.cache.clone(),
        Arc::default(),
        auth.clone(),
        &Default::default(),
        Arc::new(api::config::DeploymentsConfig::default().environments()),
        events,
    );
    st.auth = auth;
    state(&mut st);
    TestServer::start_with(st).await
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
        |_| {},
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
    let s = server(&t, |_| {}, |_| {}, false).await;
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
            |_| {},
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
