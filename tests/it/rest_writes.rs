//! The write side of Backstage's catalog REST API over real HTTP: registering (and dry-running) locations
//! through the read policy, removing locations and entities, refreshing, validating and analysing — each
//! needing `catalog:write` (401 / 403), under the ownership policy, and leaving an audit row as the
//! GraphQL mutation does. Runs on SQLite, and on PostgreSQL with `GREENROOM_TEST_POSTGRES_URL`.

use api::auth::jwt::{Claims, Verifier, VerifierSettings};
use api::auth::Authenticator;
use greenroom_tests::{TestApp, TestDb, TestServer};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &str = "a-test-secret-that-is-long-enough-32";

fn component(name: &str, desc: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: {name}, description: {desc}}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")
}

/// A server reading registered locations through the tests' sandbox policy; with `secret`, JWTs are
/// required (and the ownership policy is on).
async fn server(t: &TestDb, secured: bool) -> TestServer {
    let mut app = TestApp::new(t).sandboxed();
    if secured {
        let verifier = Verifier::new(VerifierSettings {
            secret: Some(SECRET.into()),
            public_keys: Vec::new(),
            jwks_url: None,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(5),
            require_jti: true,
        })
        .unwrap();
        app = app.auth(Authenticator {
            verifier,
            anonymous_read: false,
            revocations: Default::default(),
            ownership_policy: true,
        });
    }
    app.serve().await
}

fn token(sub: &str, scope: &str, groups: &[&str]) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    let c = Claims {
        sub: sub.into(),
        exp: now + 600,
        nbf: None,
        iat: Some(now),
        iss: None,
        aud: None,
        jti: Some(format!("jti-{sub}-{scope}")),
        scope: Some(scope.into()),
        groups: Some(groups.iter().map(|g| g.to_string()).collect()),
    };
    jsonwebtoken::encode(
        &Header::default(),
        &c,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let url = s.url(&format!("/api/catalog{path}"));
    let mut req = s
        .client
        .request(method.parse().unwrap(), url)
        .header("content-type", "application/json");
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// (operation, outcome) of the audit log, oldest first.
async fn audit(t: &TestDb) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = api::auth::audit::list(&t.db, 100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.operation, e.outcome))
        .collect();
    rows.reverse();
    rows
}

fn pair(op: &str, outcome: &str) -> (String, String) {
    (op.to_string(), outcome.to_string())
}

#[tokio::test]
async fn locations_are_dry_run_registered_refused_and_removed() {
    let t = TestDb::new().await;
    let s = server(&t, false).await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("catalog-info.yaml");
    std::fs::write(&f, component("writer-one", "one")).unwrap();
    let loc = json!({"type": "file", "target": f.display().to_string()});

    let (status, dry) = send(
        &s,
        "POST",
        "/locations?dryRun=true",
        Some(loc.clone()),
        None,
    )
    .await;
    assert_eq!(status, 201, "{dry}");
    assert_eq!(dry["exists"], false);
    assert_eq!(dry["entities"][0]["metadata"]["name"], "writer-one");
    let (_, all) = send(&s, "GET", "/locations", None, None).await;
    assert_eq!(all, json!([]), "a dry run stores nothing");

    let (status, added) = send(&s, "POST", "/locations", Some(loc.clone()), None).await;
    assert_eq!(status, 201, "{added}");
    let id = added["location"]["id"].as_str().unwrap().to_string();
    assert_eq!(added["location"]["type"], "file");
    let (status, e) = send(
        &s,
        "GET",
        "/entities/by-name/component/default/writer-one",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, e["metadata"]["description"].as_str()),
        (200, Some("one"))
    );

    let (status, again) = send(&s, "POST", "/locations", Some(loc.clone()), None).await;
    assert_eq!(
        (status, again["error"]["name"].as_str()),
        (409, Some("ConflictError")),
        "{again}"
    );
    let (_, dry) = send(
        &s,
        "POST",
        "/locations?dryRun=true",
        Some(loc.clone()),
        None,
    )
    .await;
    assert_eq!(dry["exists"], true, "{dry}");

    // Outside the policy's directories: refused before anything is read, nothing stored.
    let outside = json!({"type": "file", "target": "/opt/greenroom-nowhere/catalog-info.yaml"});
    let (status, refused) = send(&s, "POST", "/locations", Some(outside), None).await;
    assert_eq!(
        (status, refused["error"]["name"].as_str()),
        (400, Some("InputError")),
        "{refused}"
    );
    let (_, all) = send(&s, "GET", "/locations", None, None).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");

    let (status, _) = send(&s, "DELETE", &format!("/locations/{id}"), None, None).await;
    assert_eq!(status, 204);
    let (status, _) = send(
        &s,
        "GET",
        "/entities/by-name/component/default/writer-one",
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "the location's entities went with it");
    let (status, gone) = send(&s, "DELETE", &format!("/locations/{id}"), None, None).await;
    assert_eq!(
        (status, gone["error"]["name"].as_str()),
        (404, Some("NotFoundError"))
    );

    assert_eq!(
        audit(&t).await,
        vec![
            pair("registerLocation", "ok"),
            pair("registerLocation", "ok"),
            pair("registerLocation", "CONFLICT"),
            pair("registerLocation", "ok"),
            pair("registerLocation", "BAD_USER_INPUT"),
            pair("unregisterLocation", "ok"),
            pair("unregisterLocation", "NOT_FOUND"),
        ]
    );
}

/// The rendering of an entity kept by the read cache is dropped with the change: after a refresh, by-name,
/// by-query and the listing all show the new description, etag and relations.
#[tokio::test]
async fn a_changed_entity_is_rendered_anew_everywhere() {
    let t = TestDb::new().await;
    let s = server(&t, false).await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("catalog-info.yaml");
    let yaml = |desc: &str, owner: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: rendered, description: {desc}}}\nspec: {{type: service, lifecycle: production, owner: {owner}}}\n")
    };
    std::fs::write(&f, yaml("one", "team-a")).unwrap();
    let target = f.display().to_string();
    let body = json!({"type": "file", "target": target});
    assert_eq!(
        send(&s, "POST", "/locations", Some(body), None).await.0,
        201
    );
    let by_name = "/entities/by-name/component/default/rendered";
    let by_query = "/entities/by-query?filter=metadata.name=rendered";
    let listed = "/entities?filter=metadata.name=rendered";
    let owner_of = |e: &Value| {
        e["relations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "ownedBy")
            .map(|r| r["targetRef"].clone())
    };
    let read = |path: &'static str| {
        let s = &s;
        async move {
            let (status, body) = send(s, "GET", path, None, None).await;
            assert_eq!(status, 200, "{path}: {body}");
            match path {
                p if p.contains("by-query") => body["items"][0].clone(),
                p if p.contains("by-name") => body,
                _ => body[0].clone(),
            }
        }
    };
    let before = read(by_name).await;
    for path in [by_name, by_query, listed] {
        let e = read(path).await;
        assert_eq!(e, before, "{path}: one rendering for every endpoint");
        assert_eq!(e["metadata"]["description"], "one");
    }
    std::fs::write(&f, yaml("two", "team-b")).unwrap();
    let refresh = json!({"entityRef": "component:default/rendered"});
    assert_eq!(
        send(&s, "POST", "/refresh", Some(refresh), None).await.0,
        200
    );
    for path in [by_name, by_query, listed] {
        let e = read(path).await;
        assert_eq!(e["metadata"]["description"], "two", "{path}: {e}");
        assert_ne!(e["metadata"]["etag"], before["metadata"]["etag"], "{path}");
        assert_eq!(
            owner_of(&e),
            Some(json!("group:default/team-b")),
            "{path}: {e}"
        );
    }
}

#[tokio::test]
async fn entities_are_refreshed_removed_validated_and_analysed() {
    let t = TestDb::new().await;
    let s = server(&t, false).await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("catalog-info.yaml");
    std::fs::write(&f, component("writer-two", "one")).unwrap();
    let target = f.display().to_string();
    let (status, _) = send(
        &s,
        "POST",
        "/locations",
        Some(json!({"type": "file", "target": target})),
        None,
    )
    .await;
    assert_eq!(status, 201);

    std::fs::write(&f, component("writer-two", "two")).unwrap();
    let refresh = json!({"entityRef": "component:default/writer-two"});
    let (status, body) = send(&s, "POST", "/refresh", Some(refresh), None).await;
    assert_eq!(status, 200, "{body}");
    let path = "/entities/by-name/component/default/writer-two";
    let (_, e) = send(&s, "GET", path, None, None).await;
    assert_eq!(e["metadata"]["description"], "two", "{e}");
    let (status, body) = send(
        &s,
        "POST",
        "/refresh",
        Some(json!({"entityRef": "component:default/nope"})),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (404, Some("NotFoundError"))
    );

    let uid = e["metadata"]["uid"].as_str().unwrap().to_string();
    let (status, _) = send(&s, "DELETE", &format!("/entities/by-uid/{uid}"), None, None).await;
    assert_eq!(status, 204);
    assert_eq!(send(&s, "GET", path, None, None).await.0, 404);
    let (status, _) = send(&s, "DELETE", &format!("/entities/by-uid/{uid}"), None, None).await;
    assert_eq!(status, 404);

    let valid = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "ok"}, "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}});
    let (status, body) = send(
        &s,
        "POST",
        "/validate-entity",
        Some(json!({"entity": valid, "location": "url:https://example.com/x.yaml"})),
        None,
    )
    .await;
    assert_eq!((status, &body), (200, &json!({"errors": []})));
    let invalid = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "bad name"}});
    let (status, body) = send(
        &s,
        "POST",
        "/validate-entity",
        Some(json!({"entity": invalid, "location": "file:x.yaml"})),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.iter().all(|e| e["name"] == "InputError"), "{body}");
    assert!(
        errors
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("metadata.name")),
        "{body}"
    );
    let (status, body) = send(
        &s,
        "POST",
        "/validate-entity",
        Some(json!({"entity": valid, "location": "nowhere"})),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (400, Some("InputError"))
    );

    let (status, analysed) = send(
        &s,
        "POST",
        "/analyze-location",
        Some(json!({"location": {"type": "file", "target": target}})),
        None,
    )
    .await;
    assert_eq!(status, 200, "{analysed}");
    let files = analysed["existingEntityFiles"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{analysed}");
    assert_eq!(files[0]["isRegistered"], true);
    assert_eq!(files[0]["entity"]["metadata"]["name"], "writer-two");
    assert_eq!(analysed["generateEntities"], json!([]));

    let ops = audit(&t).await;
    assert_eq!(
        ops,
        vec![
            pair("registerLocation", "ok"),
            pair("refreshEntity", "ok"),
            pair("refreshEntity", "NOT_FOUND"),
            pair("removeEntity", "ok"),
            pair("removeEntity", "NOT_FOUND"),
        ],
        "validate and analyse write nothing and leave no audit row"
    );
}

#[tokio::test]
async fn writes_need_catalog_write_and_ownership() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = server(&t, true).await;
    let refresh = json!({"entityRef": "component:default/www-artist"});
    let (status, body) = send(&s, "POST", "/refresh", Some(refresh.clone()), None).await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (401, Some("AuthenticationError"))
    );
    let reader = token("user:default/jane", "catalog:read", &[]);
    let (status, body) = send(&s, "POST", "/refresh", Some(refresh.clone()), Some(&reader)).await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (403, Some("NotAllowedError")),
        "{body}"
    );
    let (status, _) = send(
        &s,
        "POST",
        "/locations",
        Some(json!({"type": "file", "target": "/tmp/x.yaml"})),
        Some(&reader),
    )
    .await;
    assert_eq!(status, 403);
    let moved = json!({"type": "file", "target": "/tmp/y.yaml"});
    for who in [None, Some(reader.as_str())] {
        let (status, body) = send(&s, "PUT", "/locations/1", Some(moved.clone()), who).await;
        let name = body["error"]["name"].as_str();
        assert!(
            matches!(
                (status, name),
                (401, Some("AuthenticationError")) | (403, Some("NotAllowedError"))
            ),
            "{status} {body}"
        );
    }

    // team-a owns www-artist: a writer outside it is refused, and nothing changes.
    let outsider = token(
        "user:default/nobody",
        "catalog:write",
        &["group:default/team-b"],
    );
    let (status, body) = send(
        &s,
        "POST",
        "/refresh",
        Some(refresh.clone()),
        Some(&outsider),
    )
    .await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (403, Some("NotAllowedError")),
        "{body}"
    );
    let path = "/entities/by-name/component/default/www-artist";
    let (_, e) = send(&s, "GET", path, None, Some(&reader)).await;
    let uid = e["metadata"]["uid"].as_str().unwrap().to_string();
    let (status, _) = send(
        &s,
        "DELETE",
        &format!("/entities/by-uid/{uid}"),
        None,
        Some(&outsider),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        send(&s, "GET", path, None, Some(&reader)).await.0,
        200,
        "not removed"
    );

    let owner = token(
        "user:default/someone",
        "catalog:write",
        &["group:default/team-a"],
    );
    let (status, body) = send(&s, "POST", "/refresh", Some(refresh), Some(&owner)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(
        &s,
        "DELETE",
        &format!("/entities/by-uid/{uid}"),
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(status, 204);

    let rows = api::auth::audit::list(&t.db, 100, None).await.unwrap();
    let mut seen: Vec<(String, String, String)> = rows
        .into_iter()
        .map(|e| (e.subject, e.operation, e.outcome))
        .collect();
    seen.reverse();
    let want = |s: &str, o: &str, out: &str| (s.to_string(), o.to_string(), out.to_string());
    assert_eq!(
        seen,
        vec![
            want("user:default/jane", "refreshEntity", "FORBIDDEN"),
            want("user:default/jane", "registerLocation", "FORBIDDEN"),
            want("user:default/jane", "updateLocation", "FORBIDDEN"),
            want("user:default/nobody", "refreshEntity", "FORBIDDEN"),
            want("user:default/nobody", "removeEntity", "FORBIDDEN"),
            want("user:default/someone", "refreshEntity", "ok"),
            want("user:default/someone", "removeEntity", "ok"),
        ],
        "401s are not audited (as for GraphQL); every other write is"
    );
}
