//! Backstage's catalog REST API (`/api/catalog`) over real HTTP on the Backstage example catalog: filter
//! semantics, `fields`, by-query cursors, lookups, Backstage-shaped errors, and the same authentication,
//! scopes and rate limits as GraphQL. Runs on SQLite, and on PostgreSQL with `GREENROOM_TEST_POSTGRES_URL`.

use api::auth::jwt::{Claims, Verifier, VerifierSettings};
use api::auth::Authenticator;
use greenroom_tests::{TestApp, TestDb, TestServer};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const SECRET: &str = "a-test-secret-that-is-long-enough-32";

async fn examples() -> (TestDb, TestServer) {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestApp::new(&t).serve().await;
    (t, s)
}

async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    let resp = s
        .client
        .get(s.url(&format!("/api/catalog{path}")))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The sorted refs (kind:namespace/name) of a list of entities.
fn refs(items: &Value) -> Vec<String> {
    let mut v: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}/{}",
                e["kind"].as_str().unwrap().to_lowercase(),
                e["metadata"]["namespace"].as_str().unwrap(),
                e["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

async fn count(s: &TestServer, query: &str) -> usize {
    let (status, body) = get(s, &format!("/entities?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body.as_array().unwrap().len()
}

#[tokio::test]
async fn filters_follow_backstage_semantics() {
    let (_t, s) = examples().await;
    assert_eq!(count(&s, "").await, 65);
    assert_eq!(count(&s, "filter=kind=component").await, 13);
    // Case-insensitive keys and values; conditions in a set are AND'd, sets are OR'd.
    assert_eq!(
        count(&s, "filter=KIND=Component,Spec.Type=SERVICE").await,
        10
    );
    assert_eq!(count(&s, "filter=kind=api&filter=kind=domain").await, 13);
    // The same key twice in one set: either value.
    assert_eq!(count(&s, "filter=kind=api,kind=domain").await, 13);
    // A bare key: the field exists. Array items also match as `key.item=true`.
    assert_eq!(
        count(&s, "filter=kind=component,metadata.tags.java").await,
        3
    );
    assert_eq!(
        count(&s, "filter=kind=component,metadata.tags=java").await,
        3
    );
    assert_eq!(
        count(&s, "filter=metadata.tags.java=true,kind=component").await,
        3
    );
    // Any field path (checked on the documents), and relations by their Backstage names.
    assert_eq!(
        count(&s, "filter=kind=component,spec.owner=team-a").await,
        5
    );
    assert_eq!(
        count(
            &s,
            "filter=kind=component,relations.ownedBy=group:default/team-a"
        )
        .await,
        5
    );
    assert_eq!(
        count(
            &s,
            "filter=kind=component,metadata.annotations.backstage.io/linguist"
        )
        .await,
        count(
            &s,
            "filter=metadata.annotations.backstage.io/linguist,kind=Component"
        )
        .await
    );
    assert_eq!(count(&s, "filter=kind=component,spec.nothing").await, 0);
    assert_eq!(
        count(&s, "filter=kind=component&limit=4&offset=10").await,
        3
    );
    let (_, ordered) = get(&s, "/entities?filter=kind=user&order=desc:metadata.name").await;
    let names: Vec<&str> = ordered
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn entities_are_serialised_as_backstage_does_and_fields_prune() {
    let (_t, s) = examples().await;
    let (status, e) = get(&s, "/entities/by-name/component/default/artist-lookup").await;
    assert_eq!(status, 200, "{e}");
    let uid = e["metadata"]["uid"].as_str().unwrap().to_string();
    assert!(uuid_like(&uid), "{uid}");
    assert!(e["metadata"]["etag"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let rels: BTreeSet<(String, String)> = e["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap().into(),
                r["targetRef"].as_str().unwrap().into(),
            )
        })
        .collect();
    for want in [
        ("ownedBy", "group:default/team-a"),
        ("partOf", "system:default/artist-engagement-portal"),
        ("dependsOn", "resource:default/artists-db"),
    ] {
        assert!(rels.contains(&(want.0.into(), want.1.into())), "{rels:?}");
    }
    let ann = &e["metadata"]["annotations"];
    assert!(
        ann["backstage.io/managed-by-location"].as_str().is_some(),
        "{ann}"
    );
    assert!(
        ann["backstage.io/managed-by-origin-location"]
            .as_str()
            .is_some(),
        "{ann}"
    );

    let (_, by_uid) = get(&s, &format!("/entities/by-uid/{uid}")).await;
    assert_eq!(by_uid["metadata"]["name"], "artist-lookup");

    let (_, pruned) = get(
        &s,
        "/entities?filter=kind=component,metadata.name=artist-lookup&fields=kind,metadata.name&fields=metadata.annotations.backstage.io/linguist",
    )
    .await;
    assert_eq!(
        pruned,
        json!([{"kind": "Component", "metadata": {"name": "artist-lookup", "annotations": {
            "backstage.io/linguist": "https://github.com/backstage/backstage/tree/master/plugins/playlist"}}}])
    );

    let (status, body) = s
        .client
        .post(s.url("/api/catalog/entities/by-refs?filter=kind=component"))
        .json(&json!({"entityRefs": ["component:artist-lookup", "group:default/team-a", "component:default/nope"], "fields": ["metadata.name"]}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 200);
    let body: Value = body.json().await.unwrap();
    assert_eq!(
        body,
        json!({"items": [{"metadata": {"name": "artist-lookup"}}, null, null]})
    );

    let (_, facets) = get(
        &s,
        "/entity-facets?facet=kind&facet=spec.type&filter=kind=component",
    )
    .await;
    assert_eq!(
        facets["facets"]["kind"],
        json!([{"value": "Component", "count": 13}])
    );
    assert_eq!(
        facets["facets"]["spec.type"][0],
        json!({"value": "service", "count": 10})
    );
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.split('-').map(str::len).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
}

#[tokio::test]
async fn by_query_cursors_walk_forward_and_back_and_stay_stable() {
    let (t, s) = examples().await;
    let base = "/entities/by-query?filter=kind=component&orderField=metadata.name,asc&limit=5&fields=metadata.name";
    let (status, first) = get(&s, base).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["totalItems"], 13);
    assert!(first["pageInfo"].get("prevCursor").is_none());
    let mut names: Vec<String> = Vec::new();
    let mut page = first.clone();
    let mut pages = Vec::new();
    loop {
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["metadata"]["name"].as_str().unwrap().to_string()),
        );
        pages.push(page.clone());
        let Some(next) = page["pageInfo"]["nextCursor"].as_str() else {
            break;
        };
        if pages.len() == 1 {
            // A change before the cursor does not shift the pages after it.
            remove_first_component(&t).await;
        }
        let (status, p) = get(&s, &format!("/entities/by-query?cursor={next}&limit=5")).await;
        assert_eq!(status, 200, "{p}");
        page = p;
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(names.len(), 13, "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "ordered, no duplicates");
    let prev = pages[1]["pageInfo"]["prevCursor"].as_str().unwrap();
    let (_, back) = get(&s, &format!("/entities/by-query?cursor={prev}&limit=5")).await;
    // The first page again, minus the entity removed meanwhile.
    let again: Vec<&Value> = back["items"].as_array().unwrap().iter().collect();
    assert_eq!(again.len(), 4, "{back}");
    assert_eq!(
        again[3]["metadata"]["name"],
        pages[0]["items"][4]["metadata"]["name"]
    );

    let (_, text) = get(
        &s,
        "/entities/by-query?fullTextFilterTerm=Playback%20SDK&limit=50",
    )
    .await;
    assert_eq!(refs(&text["items"]), vec!["component:default/playback-sdk"]);
}

/// Deletes the alphabetically first component straight from the store (as an unregister would).
async fn remove_first_component(t: &TestDb) {
    use sea_orm::ConnectionTrait;
    t.db.execute_unprepared(
        "DELETE FROM entities WHERE entity_ref = (SELECT MIN(entity_ref) FROM entities WHERE kind = 'component')",
    )
    .await
    .unwrap();
    api::catalog::cache::invalidate_all();
}

#[tokio::test]
async fn errors_have_backstage_shape() {
    let (_t, s) = examples().await;
    let (status, body) = get(&s, "/entities/by-name/component/default/missing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["name"], "NotFoundError");
    assert_eq!(
        body["request"],
        json!({"method": "GET", "url": "/api/catalog/entities/by-name/component/default/missing"})
    );
    assert_eq!(body["response"], json!({"statusCode": 404}));
    for path in [
        "/entities?filter==x",
        "/entities/by-query?cursor=not-a-cursor",
        "/entities/by-query?orderField=metadata.name,sideways",
        "/entities?limit=-1",
        "/entity-facets",
    ] {
        let (status, body) = get(&s, path).await;
        assert_eq!(
            (status, body["error"]["name"].as_str()),
            (400, Some("InputError")),
            "{path}: {body}"
        );
    }
    for path in [
        "/entities/by-uid/nope",
        "/locations/999999",
        "/locations/by-entity/component/default/missing",
        "/nothing-here",
    ] {
        let (status, body) = get(&s, path).await;
        assert_eq!(
            (status, body["error"]["name"].as_str()),
            (404, Some("NotFoundError")),
            "{path}: {body}"
        );
    }
    let resp = s
        .client
        .post(s.url("/api/catalog/entities/by-refs"))
        .json(&json!({"entityRefs": ["no kind"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["name"], "InputError");
    assert!(
        !body.to_string().contains("/tmp"),
        "no server paths: {body}"
    );
}

#[tokio::test]
async fn locations_are_listed_and_found_by_entity() {
    let (_t, s) = examples().await;
    let (_, all) = get(&s, "/locations").await;
    let first = &all[0]["data"];
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["type"], "file");
    let (_, one) = get(&s, &format!("/locations/{id}")).await;
    assert_eq!(&one, first);
    let (_, of) = get(&s, "/locations/by-entity/component/default/artist-lookup").await;
    assert_eq!(&of, first);
    let (status, anc) = get(
        &s,
        "/entities/by-name/component/default/artist-lookup/ancestry",
    )
    .await;
    assert_eq!(status, 200, "{anc}");
    assert_eq!(
        anc["items"][0]["entity"]["metadata"]["name"],
        "artist-lookup"
    );
    assert_eq!(
        anc["rootEntityRef"], "location:default/greenroom-fixtures-root",
        "{anc}"
    );
}

fn token(sub: &str, scope: &str) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    let c = Claims {
        sub: sub.into(),
        exp: now + 600,
        nbf: None,
        iat: Some(now),
        iss: None,
        aud: None,
        jti: Some(format!("jti-{sub}")),
        scope: Some(scope.into()),
        groups: None,
    };
    jsonwebtoken::encode(
        &Header::default(),
        &c,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn secured(t: &TestDb, anonymous_read: bool, rate: f64) -> TestServer {
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
    TestApp::new(t)
        .auth(Authenticator {
            verifier,
            anonymous_read,
            revocations: Default::default(),
            ownership_policy: false,
        })
        .rate_limit(rate, rate.max(1.0))
        .serve()
        .await
}

async fn status_with(s: &TestServer, token: Option<&str>) -> (u16, Value) {
    let mut req = s
        .client
        .get(s.url("/api/catalog/entities?filter=kind=group"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn tokens_scopes_and_rate_limits_apply_as_for_graphql() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = secured(&t, false, 0.0).await;
    let (status, body) = status_with(&s, None).await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (401, Some("AuthenticationError")),
        "{body}"
    );
    let (status, body) = status_with(&s, Some("not-a-token")).await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (401, Some("AuthenticationError")),
        "{body}"
    );
    let (status, body) = status_with(&s, Some(&token("bot:deployer", "deployments:write"))).await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (403, Some("NotAllowedError")),
        "{body}"
    );
    let (status, body) = status_with(&s, Some(&token("user:default/jane", "catalog:read"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 9);

    let open = secured(&t, true, 0.0).await;
    assert_eq!(status_with(&open, None).await.0, 200);

    let limited = secured(&t, true, 1.0).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(status_with(&limited, None).await.0);
    }
    assert!(seen.contains(&429), "{seen:?}");
}
