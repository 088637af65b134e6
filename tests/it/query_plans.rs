//! The plans of the filtered reads, checked with `EXPLAIN` on the SQL the code really sends (values
//! inlined): a list and a facet filtered on kind and owner (or system) read their matches through the
//! `(owner_ref | system_ref, kind, entity_ref)` index, on SQLite and on PostgreSQL, with and without
//! planner statistics; and a large first load leaves PostgreSQL's statistics fresh.

use api::catalog::search::{self, Filter, Ordering, PageRequest};
use greenroom_tests::plan::explain;
use greenroom_tests::TestDb;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::sync::{Arc, Mutex};

/// `count` entities: 60% components (owner `team-<i % 37>`, system `sys-<i % 23>`), the rest APIs.
fn catalog(count: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        let kind = if i % 5 < 3 { "Component" } else { "API" };
        let extra = if kind == "API" {
            "  definition: x\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: e-{i}\nspec:\n  type: service\n  lifecycle: {}\n  owner: team-{}\n  system: sys-{}\n{extra}",
            ["production", "experimental"][i % 2],
            i % 37,
            i % 23
        ));
    }
    out
}

/// A connection to the test's database that records every statement with its values inlined.
async fn recording(t: &TestDb) -> (DatabaseConnection, Arc<Mutex<Vec<String>>>) {
    let mut db = api::db::connect(&t.url, 2).await.expect("connect");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    db.set_metric_callback(move |info| {
        if let Ok(mut l) = sink.lock() {
            l.push(info.statement.to_string());
        }
    });
    (db, log)
}

/// The one statement `log` recorded since `from`, which must mention `needle`.
fn the_statement(log: &Mutex<Vec<String>>, from: usize, needle: &str) -> String {
    let sql: Vec<String> = log.lock().expect("log")[from..].to_vec();
    assert_eq!(sql.len(), 1, "one statement: {sql:?}");
    assert!(sql[0].contains(needle), "{}", sql[0]);
    sql[0].clone()
}

/// The list and the facet under `filter` read through `index`.
async fn assert_filtered_reads_use(
    db: &DatabaseConnection,
    log: &Mutex<Vec<String>>,
    filter: &Filter,
    index: &str,
) {
    let page = PageRequest {
        first: Some(50),
        ..PageRequest::default()
    };
    let from = log.lock().expect("log").len();
    let listed = search::list(db, filter, &search::Text::Any, Ordering::default(), &page)
        .await
        .expect("list");
    assert!(!listed.items.is_empty(), "the filter matches entities");
    let sql = the_statement(log, from, "ORDER BY");
    let plan = explain(db, &sql).await;
    assert!(
        plan.contains(index),
        "the list reads through {index}:\n{sql}\n{plan}"
    );
    if db.get_database_backend() == DbBackend::Sqlite {
        assert!(
            !plan.contains("TEMP B-TREE"),
            "in index order, no sort:\n{plan}"
        );
    }

    let from = log.lock().expect("log").len();
    let facets = search::facets(db, "lifecycle", filter)
        .await
        .expect("facets");
    assert!(!facets.is_empty());
    let sql = the_statement(log, from, "GROUP BY");
    let plan = explain(db, &sql).await;
    assert!(
        plan.contains(index),
        "the facet reads through {index}:\n{sql}\n{plan}"
    );
}

fn filter(kind: &str, owner: Option<&str>, system: Option<&str>) -> Filter {
    Filter {
        kind: vec![kind.into()],
        owner: owner.into_iter().map(str::to_string).collect(),
        system: system.into_iter().map(str::to_string).collect(),
        ..Filter::default()
    }
}

#[tokio::test]
async fn filters_on_kind_and_owner_or_system_read_their_index_with_and_without_statistics() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, catalog(400)).expect("write");
    let out = t.refresh(&file).await;
    assert_eq!(out.report.inserted, 400);
    let (db, log) = recording(&t).await;
    let by_owner = filter("Component", Some("team-3"), None);
    let by_system = filter("Component", None, Some("sys-7"));
    for stage in ["without statistics", "after ANALYZE"] {
        if stage == "after ANALYZE" {
            db.execute_unprepared("ANALYZE").await.expect("analyze");
        }
        assert_filtered_reads_use(&db, &log, &by_owner, "ix_entities_owner_kind_ref").await;
        assert_filtered_reads_use(&db, &log, &by_system, "ix_entities_system_kind_ref").await;
    }
}

/// PostgreSQL: a refresh that changed many entities refreshes the planner statistics (the first load's
/// reads are planned on the catalog as it is, not on guesses).
#[tokio::test]
async fn a_large_first_load_refreshes_the_postgres_statistics() {
    let t = TestDb::new().await;
    if t.db.get_database_backend() != DbBackend::Postgres {
        eprintln!("SKIPPED: PostgreSQL only (set GREENROOM_TEST_POSTGRES_URL)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, catalog(1200)).expect("write");
    t.refresh(&file).await;
    let analyzed = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_stat_user_tables \
                    WHERE relname = 'entities' AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row =
            t.db.query_one_raw(Statement::from_string(DbBackend::Postgres, analyzed))
                .await
                .expect("stats")
                .expect("a row");
        if row.try_get::<i64>("", "n").expect("n") == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "entities never analyzed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
