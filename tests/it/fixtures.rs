//! Backstage's own example catalog loads with the right counts; invalid files are rejected without harm.

use greenroom_tests::TestDb;
use serde_json::json;

#[tokio::test]
async fn backstage_examples_load_with_manifest_counts() {
    let t = TestDb::new().await;
    let out = t.load_examples().await;
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.report.inserted, 65);

    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            greenroom_tests::fixtures().join("backstage-examples/MANIFEST.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let resp = t
        .exec(
            "{ facets(field: \"kind\") { value count } entities { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(resp["data"]["entities"]["totalCount"], 65);
    for (kind, count) in manifest["totals_per_kind"].as_object().unwrap() {
        let found = resp["data"]["facets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["value"] == *kind)
            .unwrap_or_else(|| panic!("no facet for {kind}: {resp}"));
        assert_eq!(found["count"], *count, "{kind}");
    }
    // Every entity the manifest lists is there by ref.
    let refs: Vec<String> = manifest["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}/{}",
                e["kind"].as_str().unwrap(),
                e["namespace"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            )
        })
        .collect();
    let resp = t
        .exec(
            "query($r: [String!]!) { entitiesByRefs(refs: $r) { ref } }",
            json!({ "r": refs }),
        )
        .await;
    let found = resp["data"]["entitiesByRefs"].as_array().unwrap();
    assert_eq!(found.len(), 65);
    assert!(found.iter().all(|e| !e.is_null()), "{resp}");
}

#[tokio::test]
async fn text_placeholders_local_resolve_and_remote_ones_leave_a_status_error() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let resp = t
        .exec(
            r#"{ webhook: entity(ref: "api:default/petstore-webhook") { ... on Api { definition } status { hasErrors } }
                 spotify: entity(ref: "api:spotify") { ... on Api { definition } status { hasErrors items { type level message } } }
                 broken: entities(filter: { hasErrors: true }) { totalCount nodes { ref } } }"#,
            json!({}),
        )
        .await;
    let d = &resp["data"];
    let webhook_def = d["webhook"]["definition"].as_str().unwrap();
    let on_disk = std::fs::read_to_string(
        greenroom_tests::fixtures().join("backstage-examples/apis/petstore-webhook.oas.yaml"),
    )
    .unwrap();
    assert_eq!(webhook_def, on_disk);
    assert_eq!(d["webhook"]["status"]["hasErrors"], false);
    assert_eq!(d["spotify"]["definition"], "");
    assert_eq!(d["spotify"]["status"]["hasErrors"], true);
    let msg = d["spotify"]["status"]["items"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.starts_with("spec.definition: placeholder $text 'https://github.com/"),
        "{msg}"
    );
    assert_eq!(d["broken"]["totalCount"], 3, "{resp}");
}

#[tokio::test]
async fn reapplying_an_unchanged_location_writes_nothing() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let before = t.sql_log.lock().unwrap().len();
    let again = t.load_examples().await;
    assert_eq!(again.report.unchanged, 65);
    assert!(!again.report.changed());
    // No catalog content is written: only the source's refresh status is updated.
    let log = t.sql_log.lock().unwrap();
    let writes: Vec<&String> = log[before..]
        .iter()
        .filter(|sql| {
            let s = sql.trim_start().to_ascii_uppercase();
            s.starts_with("INSERT") || s.starts_with("UPDATE") || s.starts_with("DELETE")
        })
        .filter(|sql| !sql.contains("\"locations\""))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[tokio::test]
async fn invalid_fixture_is_rejected_with_file_line_and_field_and_poisons_nothing() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let dir = tempfile::tempdir().unwrap();
    // Location targets must stay inside the location's directory: copy the fixture in.
    let invalid = dir.path().join("invalid-component.yaml");
    std::fs::copy(
        greenroom_tests::fixtures().join("backstage-invalid/components/invalid-component.yaml"),
        &invalid,
    )
    .unwrap();
    let good = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: fine}\nspec: {type: service, lifecycle: production, owner: team-a}\n";
    std::fs::write(
        dir.path().join("root.yaml"),
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {{name: mixed}}\nspec:\n  targets: [{}, ./good.yaml]\n",
            invalid.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("good.yaml"), good).unwrap();
    let out = api::providers::refresh_file_location(
        &t.db,
        &dir.path().join("root.yaml").display().to_string(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(out.invalid.len(), 1);
    let msg = out.invalid[0].to_string();
    assert!(msg.contains("invalid-component.yaml:1:"), "{msg}");
    assert!(
        msg.contains("metadata.name: 'invalid component' is not a valid name"),
        "{msg}"
    );
    assert_eq!(out.report.inserted, 2); // the Location and `fine`
    let resp = t.exec("{ entities { totalCount } }", json!({})).await;
    assert_eq!(resp["data"]["entities"]["totalCount"], 67);
}

#[tokio::test]
async fn a_broken_file_keeps_what_was_stored_and_removed_entities_go() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("catalog.yaml");
    let doc = |name: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: {name}}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")
    };
    std::fs::write(&root, format!("{}---\n{}", doc("a"), doc("b"))).unwrap();
    assert_eq!(t.refresh(&root).await.report.inserted, 2);

    // Broken YAML in the same file: nothing is deleted.
    std::fs::write(&root, format!("{}---\nkind: [unclosed\n", doc("a"))).unwrap();
    let out = t.refresh(&root).await;
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(out.errors[0].contains("catalog.yaml:"), "{:?}", out.errors);
    assert_eq!(out.report.deleted, 0);
    let resp = t.exec("{ entities { totalCount } }", json!({})).await;
    assert_eq!(resp["data"]["entities"]["totalCount"], 2);

    // A clean read without `b` removes it, and its relations with it.
    std::fs::write(&root, doc("a")).unwrap();
    let out = t.refresh(&root).await;
    assert_eq!(out.report.deleted, 1);
    let resp = t
        .exec(
            r#"{ entities { totalCount } entity(ref: "group:team-a") { ref } }"#,
            json!({}),
        )
        .await;
    assert_eq!(resp["data"]["entities"]["totalCount"], 1);
    let rels = t
        .exec(
            r#"{ entity(ref: "component:a") { relations { type targetRef target { ref } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(rels["data"]["entity"]["relations"][0]["type"], "ownedBy");
    assert_eq!(
        rels["data"]["entity"]["relations"][0]["targetRef"],
        "group:default/team-a"
    );
    assert!(rels["data"]["entity"]["relations"][0]["target"].is_null());
}

#[tokio::test]
async fn the_same_ref_from_a_second_location_is_a_conflict_and_the_first_keeps_it() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let doc = |desc: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: shared, description: {desc}}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")
    };
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, doc("from-a")).unwrap();
    std::fs::write(&b, doc("from-b")).unwrap();
    assert_eq!(t.refresh(&a).await.report.inserted, 1);
    let second = t.refresh(&b).await;
    assert_eq!(second.report.inserted, 0);
    assert_eq!(second.report.conflicts.len(), 1);
    let msg = &second.report.conflicts[0];
    assert!(
        msg.contains("CONFLICT: component:default/shared is already provided by file:"),
        "{msg}"
    );
    assert!(
        msg.contains("a.yaml") && msg.contains("b.yaml"),
        "names both sources: {msg}"
    );
    let r = t
        .exec("{ locations { nodes { target lastError } } }", json!({}))
        .await;
    let b_status = r["data"]["locations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["target"].as_str().unwrap().ends_with("b.yaml"))
        .unwrap()
        .clone();
    assert!(
        b_status["lastError"].as_str().unwrap().contains("CONFLICT"),
        "{r}"
    );
    let r = t
        .exec(
            r#"{ entity(ref: "component:shared") { description } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entity"]["description"], "from-a");
    // Nothing flips between refreshes.
    for _ in 0..2 {
        t.refresh(&b).await;
        t.refresh(&a).await;
    }
    let r = t
        .exec(
            r#"{ entity(ref: "component:shared") { description } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entity"]["description"], "from-a");
}
