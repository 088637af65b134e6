//! The GraphQL read contract over the example catalog: lookups, kinds, relations, filters, search,
//! pagination, facets and error codes.

use greenroom_tests::{first_error_code, TestDb};
use serde_json::{json, Value};

async fn loaded() -> TestDb {
    let t = TestDb::new().await;
    t.load_examples().await;
    t
}

fn refs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|e| e["ref"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn entity_by_ref_short_forms_case_and_missing() {
    let t = loaded().await;
    let r = t
        .exec(
            r#"{ a: entity(ref: "Component:Default/Petstore") { __typename ref kind name namespace title owner { __typename ref } }
                 b: entity(ref: "component:petstore") { ref }
                 missing: entity(ref: "component:nope") { ref } }"#,
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let a = &r["data"]["a"];
    assert_eq!(a["__typename"], "Component");
    assert_eq!(a["ref"], "component:default/petstore");
    assert_eq!(a["kind"], "Component");
    assert_eq!(a["owner"]["__typename"], "Group");
    assert_eq!(r["data"]["b"]["ref"], "component:default/petstore");
    assert!(r["data"]["missing"].is_null());
}

#[tokio::test]
async fn malformed_refs_are_bad_user_input() {
    let t = loaded().await;
    for bad in ["", "petstore", "component:a/b/c", "component:bad name"] {
        let r = t
            .exec(
                "query($r: String!) { entity(ref: $r) { ref } }",
                json!({ "r": bad }),
            )
            .await;
        assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{bad}: {r}");
    }
}

#[tokio::test]
async fn entities_by_refs_keeps_request_order_with_nulls() {
    let t = loaded().await;
    let r = t
        .exec(
            r#"{ entitiesByRefs(refs: ["user:guest", "component:nope", "group:team-a"]) { ref } }"#,
            json!({}),
        )
        .await;
    let list = r["data"]["entitiesByRefs"].as_array().unwrap();
    assert_eq!(list[0]["ref"], "user:default/guest");
    assert!(list[1].is_null());
    assert_eq!(list[2]["ref"], "group:default/team-a");
}

#[tokio::test]
async fn relations_both_ways() {
    let t = loaded().await;
    let r = t
        .exec(
            r#"{ c: entity(ref: "component:artist-lookup") { ... on Component { system { ref } dependsOn { ref } providesApis { ref } } }
                 api: entity(ref: "api:wayback-search") { ... on Api { providers { ref } system { ref } } }
                 sys: entity(ref: "system:artist-engagement-portal") { ... on System { domain { ref } components { ref } apis { ref } } }
                 g: entity(ref: "group:team-a") { ... on Group { parent { ref } members { ref } ownerOf { ref } } }
                 u: entity(ref: "user:breanna.davison") { ... on User { memberOf { ref } profile { displayName email } } }
                 rel: entity(ref: "component:artist-lookup") { relations(type: "ownedBy") { type targetRef target { ref } } } }"#,
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let d = &r["data"];
    assert_eq!(
        d["c"]["system"]["ref"],
        "system:default/artist-engagement-portal"
    );
    assert!(
        refs(&d["c"]["dependsOn"]).contains(&"resource:default/artists-db".to_string()),
        "{d}"
    );
    assert!(refs(&d["sys"]["components"]).contains(&"component:default/artist-lookup".to_string()));
    assert_eq!(d["sys"]["domain"]["ref"], "domain:default/artists");
    assert!(
        refs(&d["g"]["members"]).contains(&"user:default/breanna.davison".to_string()),
        "{d}"
    );
    assert!(refs(&d["u"]["memberOf"]).contains(&"group:default/team-a".to_string()));
    assert!(!refs(&d["g"]["ownerOf"]).is_empty());
    assert_eq!(d["rel"]["relations"][0]["type"], "ownedBy");
    assert_eq!(
        d["rel"]["relations"][0]["target"]["ref"],
        d["rel"]["relations"][0]["targetRef"]
    );
    assert_eq!(
        d["api"]["providers"].as_array().map(Vec::len),
        Some(1),
        "{d}"
    );
}

#[tokio::test]
async fn dangling_reference_resolves_once_the_target_arrives() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    std::fs::write(&a, "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: svc}\nspec: {type: service, lifecycle: production, owner: late-team}\n").unwrap();
    api::providers::refresh_file_location(&t.db, &a.display().to_string(), &Default::default())
        .await
        .unwrap();
    let q = r#"{ entity(ref: "component:svc") { owner { ref } relations { targetRef target { ref } } } }"#;
    let r = t.exec(q, json!({})).await;
    assert!(r["data"]["entity"]["owner"].is_null());
    assert_eq!(
        r["data"]["entity"]["relations"][0]["targetRef"],
        "group:default/late-team"
    );
    let b = dir.path().join("b.yaml");
    std::fs::write(&b, "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: late-team}\nspec: {type: team, children: []}\n").unwrap();
    api::providers::refresh_file_location(&t.db, &b.display().to_string(), &Default::default())
        .await
        .unwrap();
    let r = t.exec(q, json!({})).await;
    assert_eq!(
        r["data"]["entity"]["owner"]["ref"],
        "group:default/late-team"
    );
    let r = t
        .exec(
            r#"{ entity(ref: "group:late-team") { ... on Group { ownerOf { ref } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        refs(&r["data"]["entity"]["ownerOf"]),
        vec!["component:default/svc"]
    );
}

#[tokio::test]
async fn filters_compose() {
    let t = loaded().await;
    let count = |filter: Value| {
        let t = &t;
        async move {
            let r = t
                .exec(
                    "query($f: EntityFilter) { entities(filter: $f) { totalCount } }",
                    json!({ "f": filter }),
                )
                .await;
            assert!(r["errors"].is_null(), "{r}");
            r["data"]["entities"]["totalCount"].as_i64().unwrap()
        }
    };
    assert_eq!(count(json!({ "kind": ["component"] })).await, 13);
    assert_eq!(count(json!({ "kind": ["Component", "API"] })).await, 23);
    let by_owner = count(json!({ "kind": ["component"], "owner": ["team-a"] })).await;
    assert_eq!(
        by_owner,
        count(json!({ "kind": ["component"], "owner": ["group:default/team-a"] })).await
    );
    assert!(by_owner > 0);
    let not_a = count(json!({ "kind": ["component"], "not": { "owner": ["team-a"] } })).await;
    assert_eq!(by_owner + not_a, 13);
    let either = count(json!({ "or": [{ "kind": ["domain"] }, { "kind": ["system"] }] })).await;
    assert_eq!(either, 6);
    assert!(count(json!({ "tag": ["java"] })).await > 0);
    let experimental = count(json!({ "kind": ["component"], "lifecycle": ["experimental"] })).await;
    assert_eq!(experimental, 4);
    assert_eq!(
        count(json!({ "kind": ["component"], "type": ["website", "library"] })).await,
        3
    );
    assert_eq!(
        count(json!({ "system": ["artist-engagement-portal"], "kind": ["system"] })).await,
        0
    );
    assert!(count(json!({ "annotation": ["backstage.io/linguist"] })).await == 1);
    assert_eq!(
        count(json!({ "annotation": ["backstage.io/linguist=nope"] })).await,
        0
    );
    assert_eq!(count(json!({ "hasErrors": true })).await, 3);
}

#[tokio::test]
async fn text_search_is_case_insensitive_over_name_title_description_tags() {
    let t = loaded().await;
    let r = t
        .exec(
            r#"{ entities(query: "PETSTORE") { nodes { ref } } }"#,
            json!({}),
        )
        .await;
    let found = refs(&r["data"]["entities"]["nodes"]);
    assert!(
        found.contains(&"component:default/petstore".to_string()),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .all(|r| r.contains("petstore") || r.contains("pet")),
        "{found:?}"
    );
    let r = t
        .exec(
            r#"{ entities(query: "zzz-nothing") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entities"]["totalCount"], 0);
    let r = t
        .exec(
            r#"{ entities(query: "100%_", queryMatch: SUBSTRING) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["entities"]["totalCount"], 0,
        "LIKE wildcards are escaped"
    );
}

#[tokio::test]
async fn keyset_pagination_forwards_and_backwards() {
    let t = loaded().await;
    let q = r#"query($after: String, $before: String, $first: Int, $last: Int) {
        entities(first: $first, after: $after, last: $last, before: $before) {
            edges { cursor node { ref } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"#;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = t.exec(q, json!({ "first": 7, "after": after })).await;
        let conn = &r["data"]["entities"];
        for e in conn["edges"].as_array().unwrap() {
            seen.push(e["node"]["ref"].as_str().unwrap().to_string());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 65);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);

    // Backwards from the end cursor of page 2 gives page 1's tail.
    let r = t.exec(q, json!({ "first": 10 })).await;
    let cursor10 = r["data"]["entities"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t.exec(q, json!({ "last": 3, "before": cursor10 })).await;
    let back: Vec<String> = r["data"]["entities"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(back, seen[6..9].to_vec());
    assert_eq!(r["data"]["entities"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(r["data"]["entities"]["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn ordering_by_name_descending_pages_consistently() {
    let t = loaded().await;
    let q = r#"query($after: String) { entities(orderBy: {field: NAME, direction: DESC}, first: 30, after: $after) {
        nodes { name } pageInfo { endCursor hasNextPage } } }"#;
    let r1 = t.exec(q, json!({})).await;
    let end = r1["data"]["entities"]["pageInfo"]["endCursor"].clone();
    let r2 = t.exec(q, json!({ "after": end })).await;
    let names: Vec<String> = [&r1, &r2]
        .iter()
        .flat_map(|r| r["data"]["entities"]["nodes"].as_array().unwrap().clone())
        .map(|n| n["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(names.len(), 60);
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn page_size_limits_and_bad_cursors() {
    let t = loaded().await;
    let r = t
        .exec("{ entities(first: 501) { totalCount } }", json!({}))
        .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
    let r = t
        .exec("{ entities(first: -1) { totalCount } }", json!({}))
        .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"));
    let r = t
        .exec(
            r#"{ entities(after: "garbage") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"));
    let r = t.exec("{ entities { nodes { ref } } }", json!({})).await;
    assert_eq!(
        r["data"]["entities"]["nodes"].as_array().unwrap().len(),
        20,
        "default page"
    );
    let r = t
        .exec("{ entities(first: 500) { nodes { ref } } }", json!({}))
        .await;
    assert_eq!(r["data"]["entities"]["nodes"].as_array().unwrap().len(), 65);
}

#[tokio::test]
async fn facets_by_field_with_filter() {
    let t = loaded().await;
    let r = t
        .exec(
            r#"{ lc: facets(field: "spec.lifecycle", filter: {kind: ["component"]}) { value count }
                 tags: facets(field: "tag") { value count } }"#,
            json!({}),
        )
        .await;
    // `facets` is non-null at the root: a refused one nulls `data` (spec error propagation).
    let bad = t
        .exec(r#"{ bad: facets(field: "nonsense") { value } }"#, json!({}))
        .await;
    assert!(bad["data"].is_null(), "{bad}");
    assert_eq!(first_error_code(&bad), Some("BAD_USER_INPUT"));
    let lc = r["data"]["lc"].as_array().unwrap();
    let total: i64 = lc.iter().map(|f| f["count"].as_i64().unwrap()).sum();
    assert_eq!(total, 13);
    assert!(!r["data"]["tags"].as_array().unwrap().is_empty());
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(bad["errors"][0]["path"][0], "bad");
}

#[tokio::test]
async fn node_interface_round_trips_ids() {
    let t = loaded().await;
    let r = t
        .exec(r#"{ entity(ref: "domain:artists") { id } }"#, json!({}))
        .await;
    let id = r["data"]["entity"]["id"].as_str().unwrap().to_string();
    let r = t
        .exec(
            "query($id: ID!) { node(id: $id) { id ... on Domain { ref systems { ref } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r["data"]["node"]["ref"], "domain:default/artists");
    assert_eq!(r["data"]["node"]["id"], id);
    let r = t.exec(r#"{ node(id: "!!") { id } }"#, json!({})).await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn cached_reads_see_changes_as_soon_as_an_ingest_commits() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.yaml");
    let write = |desc: &str, owner: &str| {
        std::fs::write(&f, format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: svc, description: {desc}}}\nspec: {{type: service, lifecycle: production, owner: {owner}}}\n")).unwrap();
    };
    let q = r#"{ entity(ref: "component:svc") { description relations(type: "ownedBy") { targetRef } } }"#;
    write("first", "team-a");
    t.refresh(&f).await;
    for _ in 0..2 {
        let r = t.exec(q, json!({})).await;
        assert_eq!(r["data"]["entity"]["description"], "first");
        assert_eq!(
            r["data"]["entity"]["relations"][0]["targetRef"],
            "group:default/team-a"
        );
    }
    write("second", "team-b");
    assert_eq!(t.refresh(&f).await.report.updated, 1);
    let r = t.exec(q, json!({})).await;
    assert_eq!(r["data"]["entity"]["description"], "second");
    assert_eq!(
        r["data"]["entity"]["relations"][0]["targetRef"],
        "group:default/team-b"
    );
}
