//! PostgreSQL-specific checks. The whole suite runs on PostgreSQL when GREENROOM_TEST_POSTGRES_URL is set;
//! this file makes the backend in use visible and proves the PostgreSQL path when asked for.

use greenroom_tests::{TestDb, PG_ENV};
use serde_json::json;

#[tokio::test]
async fn suite_runs_on_postgres_when_configured() {
    if std::env::var(PG_ENV).is_err() {
        eprintln!(
            "SKIPPED: {PG_ENV} is not set; PostgreSQL tests did not run (the suite ran on SQLite)"
        );
        return;
    }
    let t = TestDb::new().await;
    assert!(t.url.starts_with("postgres"), "{}", t.url);
    let out = t.load_examples().await;
    assert_eq!(out.report.inserted, 65);
    let r = t
        .exec(
            r#"{ entities(filter: {kind: ["API"]}, query: "petstore") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert!(
        r["data"]["entities"]["totalCount"].as_i64().unwrap() >= 1,
        "{r}"
    );
}
