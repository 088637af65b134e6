//! No N+1: a nested page query issues the same number of SQL statements for 10 and for 100 components.

use greenroom_tests::TestDb;
use serde_json::json;
use std::fmt::Write;

fn catalog(components: usize) -> String {
    let mut y = String::new();
    for g in 0..5 {
        let _ = write!(y, "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {{name: team-{g}}}\nspec: {{type: team, children: []}}\n");
        let _ = write!(y, "---\napiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {{name: sys-{g}}}\nspec: {{owner: team-{g}}}\n");
    }
    for i in 0..components {
        let _ = write!(
            y,
            "---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {{name: api-{i:03}}}\nspec: {{type: openapi, lifecycle: production, owner: team-{}, definition: x}}\n",
            i % 5
        );
        let deps = if i > 0 {
            format!("[component:comp-{:03}, resource:db-{}]", i - 1, i % 3)
        } else {
            "[]".into()
        };
        let _ = write!(
            y,
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: comp-{i:03}}}\nspec: {{type: service, lifecycle: production, owner: team-{}, system: sys-{}, dependsOn: {deps}, providesApis: [api-{i:03}]}}\n",
            i % 5,
            i % 5
        );
    }
    y
}

#[tokio::test]
async fn nested_page_statement_count_does_not_grow_with_page_size() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog(120)).unwrap();
    let out = api::providers::refresh_file_location(
        &t.db,
        &file.display().to_string(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);

    let q = r#"query($n: Int!) { entities(filter: {kind: ["component"]}, first: $n) { nodes { ref
        owner { ref } ... on Component { system { ref owner { ref } } dependsOn { ref } providesApis { ref } } } } }"#;
    // No read cache here: this test counts the SQL the loaders issue.
    let cache = std::sync::Arc::new(api::catalog::cache::EntityCache::new(
        std::time::Duration::ZERO,
        0,
    ));
    let app = greenroom_tests::TestApp::new(&t).cache(cache).admin();
    let mut counts = Vec::new();
    for n in [10, 100] {
        let before = t.statement_count();
        let r = app.exec(q, json!({ "n": n })).await;
        assert!(r["errors"].is_null(), "{r}");
        let nodes = r["data"]["entities"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n as usize);
        assert!(nodes
            .iter()
            .all(|c| !c["owner"].is_null() && !c["system"].is_null()));
        assert_eq!(
            nodes[5]["dependsOn"].as_array().unwrap().len(),
            1,
            "component dep resolves, db is dangling"
        );
        assert_eq!(nodes[5]["providesApis"].as_array().unwrap().len(), 1);
        counts.push(t.statement_count() - before);
    }
    assert_eq!(counts[0], counts[1], "statements for 10 vs 100: {counts:?}");
    assert!(counts[1] <= 8, "too many statements: {counts:?}");
}

/// The read cache stays within its byte budget however much a query reads, and answers the same as
/// without it; with room to spare it keeps what it read.
#[tokio::test]
async fn the_read_cache_stays_within_its_byte_budget() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let q = r#"{ entities(first: 100) { nodes { ref owner { ref } ... on Component { dependsOn { ref } providesApis { ref } } } } }"#;
    let cache = |bytes: usize| {
        std::sync::Arc::new(
            api::catalog::cache::EntityCache::new(std::time::Duration::from_secs(60), 20_000)
                .with_max_bytes(bytes),
        )
    };
    let roomy = cache(64 << 20);
    let reference = greenroom_tests::TestApp::new(&t)
        .cache(roomy.clone())
        .admin()
        .exec(q, json!({}))
        .await;
    assert!(reference["errors"].is_null(), "{reference}");
    let (entries, bytes) = roomy.held();
    assert!(
        entries >= 65 && bytes > 30_000,
        "kept {entries} entries, {bytes} bytes"
    );

    let budget = 30_000;
    let tight = cache(budget);
    let app = greenroom_tests::TestApp::new(&t)
        .cache(tight.clone())
        .admin();
    for _ in 0..3 {
        let r = app.exec(q, json!({})).await;
        assert_eq!(r, reference);
        let (_, held) = tight.held();
        assert!(held <= budget, "holds {held} bytes, budget {budget}");
    }
}
