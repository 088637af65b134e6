//! `@backstage/catalog-client`'s `CatalogClient` (pinned in `tests/js`) against a real server on the
//! Backstage example catalog: every read and write method (`tests/js/catalog-client.mjs`) and filter
//! predicates against `@backstage/filter-predicates` (`tests/js/catalog-predicates.mjs`), through the
//! shared runner [`greenroom_tests::js`] (skipped loudly without `npm ci` or node; a failure under CI).

use greenroom_tests::{js, TestApp, TestDb};

#[tokio::test]
async fn catalog_client_methods_work_against_the_server() {
    if js::skip("catalog_client_methods_work_against_the_server", false) {
        return;
    }
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestApp::new(&t).sandboxed().serve().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &file,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: client-written, description: one}\nspec: {type: service, lifecycle: production, owner: team-a}\n",
    )
    .unwrap();
    // The key the server stores it under is canonical; give the client that path.
    let target = std::fs::canonicalize(&file).unwrap().display().to_string();
    let (ok, text) = js::node("catalog-client.mjs", vec![s.base.clone(), target]).await;
    println!("{text}");
    assert!(ok, "catalog-client checks failed:\n{text}");
    assert!(text.contains("17 catalog-client checks passed"), "{text}");
}

/// `POST /entities/by-query` and `POST /entity-facets` with filter predicates, through the real client,
/// against `@backstage/filter-predicates` as the oracle (`tests/js/catalog-predicates.mjs`): the same
/// matches, counts, facets and invalid predicates, over the example catalog.
#[tokio::test]
async fn filter_predicates_match_what_backstage_evaluates() {
    if js::skip("filter_predicates_match_what_backstage_evaluates", false) {
        return;
    }
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = TestApp::new(&t).sandboxed().serve().await;
    let (ok, text) = js::node("catalog-predicates.mjs", vec![s.base.clone()]).await;
    println!("{text}");
    assert!(ok, "predicate checks failed:\n{text}");
    assert!(
        text.contains("predicates agree with @backstage/filter-predicates"),
        "{text}"
    );
}
