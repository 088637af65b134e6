//! Dependency-graph queries on a hand-made catalog with known answers (`fixtures/graph/catalog.yaml`: a
//! diamond, a cycle, an API provider with consumers, a dangling reference): `Entity.graph`, `impact`,
//! `path` and `dependencyCycles`, their limits, and statements that grow with depth, not with nodes.

use greenroom_tests::{first_error_code, fixtures, TestDb};
use serde_json::{json, Value};

async fn catalog() -> TestDb {
    let t = TestDb::new().await;
    let out = t.refresh(&fixtures().join("graph/catalog.yaml")).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    t
}

const GRAPH: &str = r#"query($r: String!, $d: GraphDirection, $rel: [String!], $depth: Int, $k: [String!], $f: Int) {
  entity(ref: $r) { graph(direction: $d, relations: $rel, maxDepth: $depth, kinds: $k, first: $f) {
    nodes { ref depth entity { ref kind } } edges { source type target } truncated } } }"#;

async fn graph(t: &TestDb, vars: Value) -> Value {
    let r = t.exec(GRAPH, vars).await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["entity"]["graph"].clone()
}

fn nodes(g: &Value) -> Vec<(String, i64)> {
    g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["ref"].as_str().unwrap().to_string(),
                n["depth"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn edges(g: &Value) -> Vec<String> {
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["source"].as_str().unwrap(),
                e["type"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            )
        })
        .collect()
}

fn owned(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(r, d)| (r.to_string(), *d)).collect()
}

#[tokio::test]
async fn a_diamond_is_walked_once_per_node_both_ways() {
    let t = catalog().await;
    let g = graph(&t, json!({"r": "component:d-top"})).await;
    assert_eq!(
        nodes(&g),
        owned(&[
            ("component:default/d-top", 0),
            ("component:default/d-left", 1),
            ("component:default/d-right", 1),
            ("resource:default/d-bottom", 2),
        ])
    );
    let diamond = vec![
        "component:default/d-left dependsOn resource:default/d-bottom",
        "component:default/d-right dependsOn resource:default/d-bottom",
        "component:default/d-top dependsOn component:default/d-left",
        "component:default/d-top dependsOn component:default/d-right",
    ];
    assert_eq!(edges(&g), diamond);
    assert_eq!(g["truncated"], false);
    assert_eq!(g["nodes"][3]["entity"]["kind"], "Resource");

    // Incoming from the bottom: the same edges, in the direction of their type.
    let g = graph(
        &t,
        json!({"r": "resource:d-bottom", "d": "INCOMING", "rel": ["dependsOn"]}),
    )
    .await;
    assert_eq!(
        nodes(&g),
        owned(&[
            ("resource:default/d-bottom", 0),
            ("component:default/d-left", 1),
            ("component:default/d-right", 1),
            ("component:default/d-top", 2),
        ])
    );
    assert_eq!(edges(&g), diamond);

    // Depth, kinds and first limit the walk.
    let g = graph(&t, json!({"r": "component:d-top", "depth": 1})).await;
    assert_eq!(nodes(&g).len(), 3);
    let g = graph(&t, json!({"r": "component:d-top", "k": ["Component"]})).await;
    assert_eq!(nodes(&g).len(), 3, "{g}");
    assert_eq!(edges(&g).len(), 2, "{g}");
    let g = graph(&t, json!({"r": "component:d-top", "f": 2})).await;
    assert_eq!(nodes(&g).len(), 2);
    assert_eq!(g["truncated"], true);
}

#[tokio::test]
async fn a_cycle_ends_the_walk_and_a_dangling_reference_is_a_node_without_entity() {
    let t = catalog().await;
    let g = graph(&t, json!({"r": "component:cyc-a", "depth": 10})).await;
    assert_eq!(
        nodes(&g),
        owned(&[
            ("component:default/cyc-a", 0),
            ("component:default/cyc-b", 1),
            ("component:default/cyc-c", 2),
        ])
    );
    assert_eq!(edges(&g).len(), 3, "{g}");

    let g = graph(&t, json!({"r": "component:checkout"})).await;
    assert_eq!(
        nodes(&g),
        owned(&[
            ("component:default/checkout", 0),
            ("api:default/orders-api", 1),
            ("component:default/ghost", 1),
        ])
    );
    assert!(g["nodes"][2]["entity"].is_null(), "{g}");
    assert_eq!(g["nodes"][1]["entity"]["kind"], "API");
}

#[tokio::test]
async fn both_directions_reach_providers_consumers_and_their_neighbours() {
    let t = catalog().await;
    let g = graph(&t, json!({"r": "api:orders-api", "d": "BOTH", "depth": 2})).await;
    assert_eq!(
        nodes(&g),
        owned(&[
            ("api:default/orders-api", 0),
            ("component:default/billing", 1),
            ("component:default/checkout", 1),
            ("component:default/orders", 1),
            ("component:default/ghost", 2),
            ("component:default/web", 2),
            ("resource:default/orders-db", 2),
            ("system:default/shop", 2),
        ])
    );
    let e = edges(&g);
    assert!(e.contains(&"component:default/orders providesApi api:default/orders-api".into()));
    assert!(e.contains(&"component:default/billing consumesApi api:default/orders-api".into()));
    assert!(e.contains(&"component:default/web dependsOn component:default/checkout".into()));
    assert!(e.contains(&"component:default/orders partOf system:default/shop".into()));
}

#[tokio::test]
async fn impact_groups_everything_downstream_by_owner_with_shortest_paths() {
    let t = catalog().await;
    let q = r#"query($r: String!, $d: Int) { impact(ref: $r, maxDepth: $d) {
        ref count truncated
        entities { ref depth entity { kind } }
        owners { ownerRef owner { name } entities { ref } }
        paths { nodes { ref } } } }"#;
    let r = t.exec(q, json!({"r": "resource:orders-db"})).await;
    assert!(r["errors"].is_null(), "{r}");
    let i = &r["data"]["impact"];
    assert_eq!(i["ref"], "resource:default/orders-db");
    assert_eq!(i["count"], 5);
    assert_eq!(i["truncated"], false);
    let affected: Vec<(String, i64)> = i["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["ref"].as_str().unwrap().into(),
                e["depth"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        affected,
        owned(&[
            ("component:default/orders", 1),
            ("api:default/orders-api", 2),
            ("component:default/billing", 3),
            ("component:default/checkout", 3),
            ("component:default/web", 4),
        ])
    );
    assert_eq!(
        i["owners"],
        json!([
            {"ownerRef": "group:default/team-a", "owner": {"name": "team-a"},
             "entities": [{"ref": "component:default/web"}]},
            {"ownerRef": "group:default/team-b", "owner": {"name": "team-b"},
             "entities": [{"ref": "component:default/billing"}, {"ref": "component:default/checkout"}]},
            {"ownerRef": "group:default/team-c", "owner": {"name": "team-c"},
             "entities": [{"ref": "component:default/orders"}, {"ref": "api:default/orders-api"}]},
        ])
    );
    let to_web: Vec<&str> = i["paths"][4]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        to_web,
        vec![
            "resource:default/orders-db",
            "component:default/orders",
            "api:default/orders-api",
            "component:default/checkout",
            "component:default/web"
        ]
    );
    let r = t.exec(q, json!({"r": "resource:orders-db", "d": 2})).await;
    assert_eq!(r["data"]["impact"]["count"], 2, "{r}");
    let r = t.exec(q, json!({"r": "resource:nope"})).await;
    assert_eq!(first_error_code(&r), Some("NOT_FOUND"), "{r}");
}

#[tokio::test]
async fn cycles_and_paths_have_their_known_answers() {
    let t = catalog().await;
    let q = r#"query($f: EntityFilter) { dependencyCycles(filter: $f) { refs componentSize entities { name } } }"#;
    let r = t.exec(q, json!({})).await;
    assert_eq!(
        r["data"]["dependencyCycles"],
        json!([{"refs": ["component:default/cyc-a", "component:default/cyc-b", "component:default/cyc-c"],
                "componentSize": 3,
                "entities": [{"name": "cyc-a"}, {"name": "cyc-b"}, {"name": "cyc-c"}]}]),
        "{r}"
    );
    let r = t.exec(q, json!({"f": {"kind": ["Component"]}})).await;
    assert_eq!(r["data"]["dependencyCycles"][0]["componentSize"], 3, "{r}");
    let r = t.exec(q, json!({"f": {"owner": ["team-b"]}})).await;
    assert_eq!(r["data"]["dependencyCycles"], json!([]), "{r}");

    let p = r#"query($a: String!, $b: String!, $rel: [String!]) { path(from: $a, to: $b, relations: $rel) { ref } }"#;
    let r = t
        .exec(p, json!({"a": "component:web", "b": "resource:orders-db"}))
        .await;
    assert!(r["errors"].is_null(), "{r}");
    assert!(
        r["data"]["path"].is_null(),
        "no path along the default relations: {r}"
    );
    let r = t
        .exec(
            p,
            json!({"a": "component:web", "b": "resource:orders-db",
                   "rel": ["dependsOn", "consumesApi", "apiProvidedBy"]}),
        )
        .await;
    assert_eq!(
        r["data"]["path"],
        json!([{"ref": "component:default/web"}, {"ref": "component:default/checkout"},
               {"ref": "api:default/orders-api"}, {"ref": "component:default/orders"},
               {"ref": "resource:default/orders-db"}]),
        "{r}"
    );
    let r = t
        .exec(p, json!({"a": "component:web", "b": "component:ghost"}))
        .await;
    assert_eq!(first_error_code(&r), Some("NOT_FOUND"), "{r}");
}

#[tokio::test]
async fn limits_are_user_errors() {
    let t = catalog().await;
    for vars in [
        json!({"r": "component:d-top", "depth": 11}),
        json!({"r": "component:d-top", "f": 5001}),
        json!({"r": "component:d-top", "f": 0}),
        json!({"r": "component:d-top", "rel": ["likes"]}),
    ] {
        let r = t.exec(GRAPH, vars.clone()).await;
        assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{vars}: {r}");
    }
    let r = t
        .exec(
            r#"{ impact(ref: "resource:orders-db", maxDepth: 20) { count } }"#,
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
    let r = t
        .exec(r#"{ dependencyCycles(first: 100000) { refs } }"#, json!({}))
        .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
}

#[tokio::test]
async fn statements_grow_with_depth_not_with_nodes() {
    let t = catalog().await;
    // Warm nothing: each walk reads its levels and then its nodes' entities.
    let mut counts = Vec::new();
    for (start, depth) in [("component:d-left", 3), ("api:orders-api", 3)] {
        let before = t.statement_count();
        let g = graph(&t, json!({"r": start, "d": "BOTH", "depth": depth})).await;
        counts.push((nodes(&g).len(), t.statement_count() - before));
    }
    // (nodes, statements): a walk of 3 levels takes at most 3 level statements plus 2 entity loads,
    // whether it reaches 5 nodes or 12.
    assert!(counts[0].0 < counts[1].0, "{counts:?}");
    for (_, statements) in &counts {
        assert!(*statements <= 5, "{counts:?}");
    }
}
