//! Authentication, scopes and hardening over real HTTP: every bad token, missing scope and abusive query
//! gets its code and status, and nothing in the store changes.

use api::auth::jwt::{Claims, Verifier, VerifierSettings};
use api::auth::Authenticator;
use greenroom_tests::remote::RemoteFiles;
use greenroom_tests::{TestApp, TestDb, TestServer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &str = "a-test-secret-that-is-long-enough-32";

fn keys() -> std::path::PathBuf {
    greenroom_tests::fixtures().join("keys")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(keys().join(name)).unwrap()
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn claims(sub: &str, scope: &str) -> Claims {
    Claims {
        sub: sub.into(),
        exp: now() + 600,
        nbf: None,
        iat: Some(now()),
        iss: None,
        aud: None,
        jti: Some(format!("jti-{sub}-{scope}").replace(' ', "_")),
        scope: Some(scope.into()),
        groups: None,
    }
}

fn hs(c: &Claims) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        c,
    )
}

fn sign(alg: Algorithm, key: &EncodingKey, c: &Claims) -> String {
    jsonwebtoken::encode(&Header::new(alg), c, key).unwrap()
}

struct Setup {
    public_keys: Vec<String>,
    jwks_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    anonymous_read: bool,
    rate: f64,
    limits: api::config::OperationLimits,
    request_timeout: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            public_keys: Vec::new(),
            jwks_url: None,
            issuer: None,
            audience: None,
            anonymous_read: false,
            rate: 0.0,
            limits: Default::default(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

async fn server(t: &TestDb, s: Setup) -> TestServer {
    let verifier = Verifier::new(VerifierSettings {
        secret: Some(SECRET.into()),
        public_keys: s.public_keys,
        jwks_url: s.jwks_url,
        issuer: s.issuer,
        audience: s.audience,
        leeway: Duration::from_secs(5),
        require_jti: true,
    })
    .unwrap();
    let auth = Authenticator {
        verifier,
        anonymous_read: s.anonymous_read,
        revocations: Default::default(),
        ownership_policy: false,
    };
    TestApp::new(t)
        .sandboxed()
        .auth(auth)
        .limits(s.limits)
        .rate_limit(s.rate, s.rate.max(1.0))
        .request_timeout(s.request_timeout)
        .serve()
        .await
}

/// POSTs a GraphQL operation; returns (status, body, headers).
async fn post(
    s: &TestServer,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = s
        .client
        .post(s.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

const COUNT: &str = "{ entities { totalCount } }";
const REGISTER: &str = r#"mutation($t: String!) { registerLocation(input: {type: "file", target: $t}) { location { id } } }"#;

#[tokio::test]
async fn get_answers_for_a_token_are_private_and_refusals_are_not_kept() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t, Setup::default()).await;
    let token = hs(&claims("user:default/jane", "catalog:read"));
    let get = |token: Option<String>| {
        let mut r = s.client.get(s.url("/graphql")).query(&[("query", COUNT)]);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let r = get(Some(token)).await.unwrap();
    assert_eq!(r.status(), 200);
    // What a token may read depends on the token: only the browser's own cache may keep it.
    assert_eq!(r.headers()["cache-control"], "private, max-age=5");
    assert_eq!(r.headers()["vary"], "Authorization");
    let refused = get(None).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn bad_tokens_are_401_and_good_ones_read() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(
        &t,
        Setup {
            issuer: Some("https://issuer.test".into()),
            audience: Some("greenroom".into()),
            ..Setup::default()
        },
    )
    .await;
    let mut good = claims("user:default/jane", "catalog:read");
    good.iss = Some("https://issuer.test".into());
    good.aud = Some("greenroom".into());

    let (status, body, _) = post(&s, Some(&hs(&good)), COUNT, json!({})).await;
    assert_eq!(
        (status, body["data"]["entities"]["totalCount"].as_i64()),
        (200, Some(65)),
        "{body}"
    );

    let expired = Claims {
        exp: now() - 60,
        ..good.clone()
    };
    let early = Claims {
        nbf: Some(now() + 600),
        ..good.clone()
    };
    let wrong_iss = Claims {
        iss: Some("https://evil.test".into()),
        ..good.clone()
    };
    let wrong_aud = Claims {
        aud: Some("other".into()),
        ..good.clone()
    };
    let other_secret = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-that-is-long-enough!!"),
        &good,
    );
    let none = {
        use base64::Engine;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b.encode(serde_json::to_string(&good).unwrap())
        )
    };
    // An HS256 token whose "secret" is the RSA public key: algorithm confusion.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(read("rsa.pub").as_bytes()),
        &good,
    );
    for (name, token, expected) in [
        ("garbage", "not-a-token".to_string(), "malformed"),
        ("alg none", none, "malformed"),
        ("wrong signature", other_secret, "signature"),
        ("confusion", confused, "signature"),
        ("expired", hs(&expired), "expired"),
        ("not yet valid", hs(&early), "not valid yet"),
        ("wrong issuer", hs(&wrong_iss), "issuer"),
        ("wrong audience", hs(&wrong_aud), "audience"),
    ] {
        let (status, body, headers) = post(&s, Some(&token), COUNT, json!({})).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(code(&body), "UNAUTHENTICATED", "{name}: {body}");
        let msg = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(msg.contains(expected), "{name}: {msg}");
        assert_eq!(headers["www-authenticate"], "Bearer", "{name}");
    }
    let (status, body, _) = post(&s, None, COUNT, json!({})).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    let resp = s
        .client
        .post(s.url("/graphql"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({"query": COUNT}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn public_keys_of_each_family_and_a_jwks_url_verify_tokens() {
    let t = TestDb::new().await;
    let jwks = RemoteFiles::start().await;
    jwks.put("/jwks.json", &read("jwks.json"));
    let s = server(
        &t,
        Setup {
            public_keys: vec![read("ec.pub"), read("ed.pub")],
            jwks_url: Some(jwks.url("/jwks.json")),
            ..Setup::default()
        },
    )
    .await;
    let c = claims("bot:ci", "catalog:read");
    let ec = sign(
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(read("ec.key").as_bytes()).unwrap(),
        &c,
    );
    let ed = sign(
        Algorithm::EdDSA,
        &EncodingKey::from_ed_pem(read("ed.key").as_bytes()).unwrap(),
        &c,
    );
    let rsa_key = EncodingKey::from_rsa_pem(read("rsa.key").as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rsa".into());
    let rs = jsonwebtoken::encode(&header, &c, &rsa_key).unwrap();
    for (name, token) in [("ES256", ec), ("EdDSA", ed), ("RS256 via JWKS", rs)] {
        let (status, body, _) = post(&s, Some(&token), COUNT, json!({})).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    assert_eq!(jwks.hits("/jwks.json"), 1, "the key set is cached");
    header.kid = Some("unknown".into());
    let unknown = jsonwebtoken::encode(&header, &c, &rsa_key).unwrap();
    let (status, _, _) = post(&s, Some(&unknown), COUNT, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        jwks.hits("/jwks.json"),
        2,
        "an unknown kid fetches the set again"
    );
    let (status, _, _) = post(&s, Some(&unknown), COUNT, json!({})).await;
    assert_eq!(
        (status, jwks.hits("/jwks.json")),
        (401, 2),
        "but not on every request"
    );
}

#[tokio::test]
async fn a_refused_field_beside_permitted_data_is_a_200_with_that_data() {
    let t = TestDb::new().await;
    let s = server(&t, Setup::default()).await;
    let reader = hs(&claims("user:default/reader", "catalog:read"));
    let q = "{ entities { totalCount } auditLog(first: 1) { nodes { subject } } }";
    let (status, body, _) = post(&s, Some(&reader), q, json!({})).await;
    assert_eq!((status, code(&body)), (200, "FORBIDDEN"), "{body}");
    assert!(body["data"]["entities"]["totalCount"].is_number(), "{body}");
    assert!(body["data"]["auditLog"].is_null(), "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["auditLog"]), "{body}");
    // With no data left (a non-null root field refused), the refusal keeps its 403.
    let writer = hs(&claims("bot:ci", "catalog:write"));
    let (status, body, _) = post(&s, Some(&writer), COUNT, json!({})).await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");
}

#[tokio::test]
async fn scopes_gate_mutations_and_every_mutation_is_audited() {
    let t = TestDb::new().await;
    let s = server(
        &t,
        Setup {
            anonymous_read: true,
            ..Setup::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: gated}\nspec: {type: service, lifecycle: production, owner: team-a}\n").unwrap();
    let target = json!({"t": file.display().to_string()});
    let reader = hs(&claims("user:default/reader", "catalog:read"));
    let writer = hs(&claims("bot:ci", "catalog:write"));
    let admin = hs(&claims("user:default/root", "admin"));

    // Anonymous may read (allowAnonymousRead) but not write.
    let (status, body, _) = post(&s, None, COUNT, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = post(&s, None, REGISTER, target.clone()).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    // A reader is forbidden to write; nothing is stored.
    let (status, body, _) = post(&s, Some(&reader), REGISTER, target.clone()).await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");
    let (_, body, _) = post(
        &s,
        Some(&reader),
        "{ locations { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"]["locations"]["nodes"], json!([]), "{body}");
    // A writer may.
    let (status, body, _) = post(&s, Some(&writer), REGISTER, target.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["registerLocation"]["location"]["id"].is_string(),
        "{body}"
    );
    // A writer without catalog:read cannot read.
    let (status, body, _) = post(&s, Some(&writer), COUNT, json!({})).await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");

    // The audit log, for admin only.
    let log = "{ auditLog(first: 10) { nodes { subject operation target outcome at } } }";
    let (status, body, _) = post(&s, Some(&reader), log, json!({})).await;
    // Refused at a nullable field: `data` holds the null, so the status is 200 (GraphQL over HTTP).
    assert_eq!((status, code(&body)), (200, "FORBIDDEN"), "{body}");
    assert_eq!(body["data"], json!({ "auditLog": null }), "{body}");
    let (status, body, _) = post(&s, Some(&admin), log, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let outcomes: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("bot:ci", "ok"),
            ("user:default/reader", "FORBIDDEN"),
            ("anonymous", "UNAUTHENTICATED")
        ]
    );
    assert_eq!(entries[0]["operation"], "registerLocation");
    assert!(
        entries[0]["target"].as_str().unwrap().contains("c.yaml"),
        "{entries:?}"
    );

    // Paging and the subject filter.
    let page = "query($a: String, $s: String) { auditLog(first: 1, after: $a, subject: $s) { nodes { subject } pageInfo { endCursor } } }";
    let (_, first, _) = post(&s, Some(&admin), page, json!({})).await;
    let cursor = first["data"]["auditLog"]["pageInfo"]["endCursor"].clone();
    let (_, next, _) = post(&s, Some(&admin), page, json!({"a": cursor})).await;
    assert_eq!(
        next["data"]["auditLog"]["nodes"][0]["subject"], "user:default/reader",
        "{next}"
    );
    let (_, only, _) = post(&s, Some(&admin), page, json!({"s": "anonymous"})).await;
    assert_eq!(
        only["data"]["auditLog"]["nodes"][0]["subject"], "anonymous",
        "{only}"
    );

    // Revoking the writer's token: refused from then on (this replica at once).
    let jti = claims("bot:ci", "catalog:write").jti.unwrap();
    let (status, body, _) = post(
        &s,
        Some(&admin),
        "mutation($j: String!) { revokeToken(jti: $j) }",
        json!({"j": jti}),
    )
    .await;
    assert_eq!(
        (status, &body["data"]["revokeToken"]),
        (200, &json!(true)),
        "{body}"
    );
    let (status, body, _) = post(&s, Some(&writer), REGISTER, target).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"), "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
}

#[tokio::test]
async fn abusive_queries_are_refused_with_their_codes() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(
        &t,
        Setup {
            limits: api::config::OperationLimits {
                max_depth: 6,
                max_complexity: 2_000,
                max_aliases: 3,
                max_root_fields: 4,
                introspection: false,
                ..Default::default()
            },
            ..Setup::default()
        },
    )
    .await;
    let token = hs(&claims("user:default/jane", "catalog:read"));
    let tok = Some(token.as_str());
    let deep = r#"{ entity(ref: "component:artist-web") { ... on Component { owner { ... on Group { parent { ... on Group { parent { ... on Group { parent { ... on Group { parent { ref } } } } } } } } } } } }"#;
    let wide = "{ a: entities { totalCount } b: entities { totalCount } c: entities { totalCount } d: entities { totalCount } }";
    let wide_roots = "{ entities { totalCount } locations { nodes { id } } facets(field: \"kind\") { value } node(id: \"x\") { id } entity(ref: \"component:x\") { ref } }";
    let heavy = "{ entities(first: 500) { nodes { ref name title description tags } } }";
    let huge = "{ entities(first: 100000) { totalCount } }";
    let introspection = "{ __schema { types { name } } }";
    for (name, query, expected_status, expected_code) in [
        ("deep", deep, 400, "GRAPHQL_VALIDATION_FAILED"),
        ("aliases", wide, 400, "BAD_USER_INPUT"),
        ("root fields", wide_roots, 400, "BAD_USER_INPUT"),
        ("complexity", heavy, 400, "GRAPHQL_VALIDATION_FAILED"),
        ("huge first", huge, 200, "BAD_USER_INPUT"),
    ] {
        let (status, body, _) = post(&s, tok, query, json!({})).await;
        assert_eq!(
            (status, code(&body)),
            (expected_status, expected_code),
            "{name}: {body}"
        );
    }

    // A fragment that spreads itself many times is refused at once (not expanded).
    let spreads = "...A ".repeat(100);
    let cyclic = format!("query {{ ...A }} fragment A on Query {{ {spreads} }}");
    let started = std::time::Instant::now();
    let (status, body, _) = post(&s, tok, &cyclic, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // With introspection off the schema is not described.
    let (status, body, _) = post(&s, tok, introspection, json!({})).await;
    assert_eq!(status, 200);
    assert!(body["data"]["__schema"].is_null(), "{body}");

    // Oversized body: 413 before anything runs.
    let big = "x".repeat(2 << 20);
    let resp = s
        .client
        .post(s.url("/graphql"))
        .header("Authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"query\": \"{{ entities {{ totalCount }} }}\", \"x\": \"{big}\"}}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
}

#[tokio::test]
async fn a_subject_over_its_rate_gets_429_with_retry_after() {
    let t = TestDb::new().await;
    let s = server(
        &t,
        Setup {
            rate: 2.0,
            ..Setup::default()
        },
    )
    .await;
    let token = hs(&claims("bot:noisy", "catalog:read"));
    let other = hs(&claims("bot:quiet", "catalog:read"));
    let mut refused = None;
    for _ in 0..10 {
        let (status, body, headers) = post(&s, Some(&token), COUNT, json!({})).await;
        if status == 429 {
            refused = Some((body, headers));
            break;
        }
    }
    let (body, headers) = refused.expect("the burst of 2 is exceeded within 10 requests");
    assert_eq!(code(&body), "RATE_LIMITED");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let (status, _, _) = post(&s, Some(&other), COUNT, json!({})).await;
    assert_eq!(status, 200, "another subject has its own bucket");
}

#[tokio::test]
async fn internal_errors_carry_a_request_id_and_no_detail() {
    use sea_orm::ConnectionTrait;
    let t = TestDb::new().await;
    let s = server(&t, Setup::default()).await;
    t.db.execute_unprepared("DROP TABLE audit_log")
        .await
        .unwrap();
    let admin = hs(&claims("user:default/root", "admin"));
    let (_, body, _) = post(
        &s,
        Some(&admin),
        "{ auditLog { nodes { subject } } }",
        json!({}),
    )
    .await;
    let err = &body["errors"][0];
    assert_eq!(err["extensions"]["code"], "INTERNAL", "{body}");
    assert_eq!(err["message"], "internal error");
    assert_eq!(
        err["extensions"]["requestId"].as_str().map(str::len),
        Some(32),
        "{body}"
    );
    assert!(
        !body.to_string().to_lowercase().contains("audit_log"),
        "{body}"
    );
}

#[tokio::test]
async fn the_ownership_policy_lets_owners_and_admins_refresh_an_entity() {
    use api::auth::{Caller, Scope};
    let t = TestDb::new().await;
    t.load_examples().await;
    let app = TestApp::new(&t).auth(Authenticator {
        verifier: None,
        anonymous_read: false,
        revocations: Default::default(),
        ownership_policy: true,
    });
    let caller = |sub: &str, scopes: &[Scope], groups: &[&str]| Caller {
        subject: sub.into(),
        scopes: scopes.iter().copied().collect(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        jti: None,
        authenticated: true,
    };
    let refresh = |c: Caller| {
        let req = async_graphql::Request::new(
            r#"mutation { refreshEntity(ref: "component:www-artist") { ref } }"#,
        );
        let req = app.prepare(req).data(c);
        let schema = app.schema();
        async move { serde_json::to_value(schema.execute(req).await).unwrap() }
    };
    let write = [Scope::CatalogWrite];
    // team-a owns www-artist; breanna.davison is a member of team-a.
    let member = refresh(caller("user:default/breanna.davison", &write, &[])).await;
    assert!(member["errors"].is_null(), "{member}");
    let by_claim = refresh(caller("bot:deploy", &write, &["group:default/team-a"])).await;
    assert!(by_claim["errors"].is_null(), "{by_claim}");
    let stranger = refresh(caller("bot:other", &write, &["group:default/team-b"])).await;
    assert_eq!(
        greenroom_tests::first_error_code(&stranger),
        Some("FORBIDDEN"),
        "{stranger}"
    );
    let admin = refresh(caller("user:default/root", &[Scope::Admin], &[])).await;
    assert!(admin["errors"].is_null(), "{admin}");
}

#[tokio::test]
async fn cors_answers_only_allowed_origins_and_slow_requests_time_out() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestApp::new(&t)
        .cors_origins(&["https://portal.example.com"])
        .request_timeout(Duration::from_nanos(1))
        .serve()
        .await;
    let preflight = |origin: &'static str| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url("/graphql"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type, apollographql-client-name, apollographql-client-version, traceparent",
            )
            .send()
    };
    let ok = preflight("https://portal.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://portal.example.com"
    );
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "apollographql-client-name",
        "apollographql-client-version",
        "traceparent",
    ] {
        assert!(allowed.split(',').any(|a| a.trim() == h), "{h}: {allowed}");
    }
    // The list is configurable (`server.limits.corsHeaders`).
    let n = TestApp::new(&t)
        .cors_origins(&["https://portal.example.com"])
        .cors_headers(&["authorization", "content-type"])
        .serve()
        .await;
    let resp = n
        .client
        .request(reqwest::Method::OPTIONS, n.url("/graphql"))
        .header("Origin", "https://portal.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "traceparent")
        .send()
        .await
        .unwrap();
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(!allowed.contains("traceparent"), "{allowed}");
    assert!(allowed.contains("authorization"), "{allowed}");
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // A query that resolves thousands of fields (several database round trips, milliseconds of work)
    // outlives a 1 ns budget, whatever the timer's millisecond granularity: 503 with TIMEOUT.
    let heavy = "{ entities(first: 500) { nodes { ref name title description tags \
        annotations { key value } labels { key value } \
        relations { type targetRef target { ref name title relations { targetRef } } } } } }";
    let (status, body, _) = post(&s, None, heavy, json!({})).await;
    assert_eq!((status, code(&body)), (503, "TIMEOUT"), "{body}");
}

/// A forbidden mutation in a batch does not lift the request timeout for the batch's queries.
#[tokio::test]
async fn a_refused_mutation_does_not_lift_the_timeout_of_its_batch() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(
        &t,
        Setup {
            request_timeout: Duration::from_nanos(1),
            ..Setup::default()
        },
    )
    .await;
    let reader = hs(&claims("user:default/jane", "catalog:read"));
    // Thousands of fields, several database round trips: it outlives a 1 ns budget.
    let heavy = "{ entities(first: 500) { nodes { ref name title description tags \
        annotations { key value } labels { key value } \
        relations { type targetRef target { ref name title relations { targetRef } } } } } }";
    let batch = json!([
        {"query": REGISTER, "variables": {"t": "/tmp/none.yaml"}},
        {"query": heavy},
    ]);
    let resp = s
        .client
        .post(s.url("/graphql"))
        .header("Authorization", format!("Bearer {reader}"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body[0]), "FORBIDDEN", "{body}");
    assert_eq!(code(&body[1]), "TIMEOUT", "{body}");
    assert!(body[1]["data"].is_null(), "{body}");
}
