//! A large first load into an empty catalog (issue 18): on PostgreSQL it is a bulk load (the catalog
//! tables taken, their secondary indexes dropped and built again before the commit); on SQLite it is
//! written row by row as before. Either way the catalog is complete and queryable afterwards, every
//! index is back with its definition, readers during the load see nothing or everything, a rolled-back
//! load leaves the empty catalog and its indexes as they were, and a load into a catalog that already
//! holds entities is not a bulk load.

use api::bench::generate::{generate, GenOptions};
use greenroom_tests::TestDb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Entities of the generated catalog: above `BULK_MIN`, so a first load of it is a bulk load.
const N: usize = 2_500;

fn catalog(dir: &Path, n: usize, seed: u64) -> PathBuf {
    let out = dir.join(format!("catalog-{seed}"));
    generate(
        &GenOptions {
            entities: n,
            seed,
            per_file: 100,
        },
        &out,
    )
    .expect("generate")
    .root
}

/// The catalog tables' index definitions (PostgreSQL; empty on SQLite).
async fn index_definitions(t: &TestDb) -> Vec<String> {
    if t.db.get_database_backend() != DbBackend::Postgres {
        return Vec::new();
    }
    let rows =
        t.db.query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT indexdef FROM pg_indexes WHERE tablename IN ('entities', 'relations', \
             'entity_search') ORDER BY indexname",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "indexdef").unwrap())
        .collect()
}

async fn count(t: &TestDb, sql: &str) -> i64 {
    let row =
        t.db.query_one_raw(Statement::from_string(t.db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// The object id of the entities' (kind, ref) index (PostgreSQL; 0 on SQLite): a bulk load builds it
/// anew (unique indexes stay, and keep enforcing uniqueness during the load).
async fn ref_index_oid(t: &TestDb) -> i64 {
    if !is_postgres(t) {
        return 0;
    }
    count(t, "SELECT 'ix_entities_kind_ref'::regclass::oid::bigint").await
}

fn is_postgres(t: &TestDb) -> bool {
    t.db.get_database_backend() == DbBackend::Postgres
}

#[tokio::test]
async fn a_large_first_load_is_complete_queryable_and_keeps_every_index() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let root = catalog(dir.path(), N, 7);
    let before = index_definitions(&t).await;
    let empty_oid = ref_index_oid(&t).await;
    // Readers during the load see the empty catalog or the whole one, never part of it.
    let reader = {
        let db = api::db::connect(&t.url, 1).await.unwrap();
        tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            loop {
                let row = db
                    .query_one_raw(Statement::from_string(
                        db.get_database_backend(),
                        "SELECT COUNT(*) FROM entities WHERE kind = 'component'",
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                let n: i64 = row.try_get_by_index(0).unwrap();
                seen.insert(n);
                if n > 0 {
                    return seen;
                }
            }
        })
    };
    let out = t.refresh(&root).await;
    assert!(out.errors.is_empty() && out.invalid.is_empty(), "{out:?}");
    assert_eq!(
        out.report.inserted,
        N + 1,
        "the generated entities and the root"
    );
    let seen = reader.await.unwrap();
    let components = count(&t, "SELECT COUNT(*) FROM entities WHERE kind = 'component'").await;
    assert!(
        seen.iter().all(|n| *n == 0 || *n == components),
        "a reader saw part of the load: {seen:?} of {components}"
    );
    assert_eq!(index_definitions(&t).await, before);
    let loaded_oid = ref_index_oid(&t).await;
    assert_eq!(
        loaded_oid != empty_oid,
        is_postgres(&t),
        "a bulk load on PostgreSQL only"
    );
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM entities").await,
        (N + 1) as i64
    );
    assert!(count(&t, "SELECT COUNT(*) FROM relations").await > N as i64);

    // Lookups, filters, word search and facets answer from the rebuilt indexes.
    let r = t
        .exec(
            r#"{ entities(filter: {kind: ["Component"]}, first: 3) { totalCount nodes { ref owner { ref } } }
                 facets(field: "spec.lifecycle", filter: {kind: ["Component"]}) { value count } }"#,
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(r["data"]["entities"]["totalCount"], json!(components));
    let first = r["data"]["entities"]["nodes"][0]["ref"]
        .as_str()
        .unwrap()
        .to_string();
    let one = t
        .exec(
            "query($r: String!) { entity(ref: $r) { ref } }",
            json!({"r": first}),
        )
        .await;
    assert_eq!(one["data"]["entity"]["ref"], json!(first), "{one}");
    let name = first.rsplit('/').next().unwrap();
    let found = t
        .exec(
            "query($q: String!) { entities(query: $q, first: 5) { nodes { ref } } }",
            json!({"q": name}),
        )
        .await;
    let refs = found["data"]["entities"]["nodes"].to_string();
    assert!(refs.contains(&first), "word search for {name}: {found}");
    if is_postgres(&t) {
        let plan = greenroom_tests::plan::explain(
            &t.db,
            &format!("SELECT id FROM entities WHERE entity_ref = '{first}'"),
        )
        .await;
        assert!(plan.contains("ux_entities_ref"), "{plan}");
    }

    // An unchanged re-read writes nothing; a second location's first load (the catalog is not empty)
    // goes row by row.
    let again = t.refresh(&root).await;
    assert!(!again.report.changed(), "{:?}", again.report);
    let other = catalog(dir.path(), N, 8);
    let second = t.refresh(&other).await;
    assert!(second.errors.is_empty(), "{second:?}");
    assert!(
        !second.report.conflicts.is_empty(),
        "the same refs: conflicts"
    );
    assert_eq!(ref_index_oid(&t).await, loaded_oid, "not a bulk load");
    assert_eq!(index_definitions(&t).await, before);
}

#[tokio::test]
async fn a_rolled_back_bulk_load_leaves_the_empty_catalog_and_its_indexes() {
    let t = TestDb::new().await;
    let before = index_definitions(&t).await;
    let oid = ref_index_oid(&t).await;
    let key = "file:/nowhere/catalog.yaml";
    let applier = api::catalog::ingest::Applier::begin_sized(&t.db, key, 100_000)
        .await
        .unwrap();
    let dropped: Vec<String> = applier
        .bulk()
        .map(|b| b.index_names().map(String::from).collect())
        .unwrap_or_default();
    if is_postgres(&t) {
        assert!(
            dropped.contains(&"ix_entities_kind_ref".to_string()),
            "{dropped:?}"
        );
        // Unique indexes stay, enforcing uniqueness while the load writes.
        assert!(
            !dropped.contains(&"ux_entities_ref".to_string()),
            "{dropped:?}"
        );
        assert!(
            dropped.contains(&"ix_relations_source".to_string()),
            "{dropped:?}"
        );
        assert!(!dropped.iter().any(|n| n.ends_with("_pkey")), "{dropped:?}");
    } else {
        assert!(dropped.is_empty(), "SQLite has no bulk load");
    }
    drop(applier);
    assert_eq!(index_definitions(&t).await, before);
    assert_eq!(
        ref_index_oid(&t).await,
        oid,
        "the same indexes, not rebuilt ones"
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM entities").await, 0);

    // Small loads, and loads into a catalog that holds entities, are written row by row.
    let small = api::catalog::ingest::Applier::begin_sized(&t.db, key, 10)
        .await
        .unwrap();
    assert!(small.bulk().is_none());
    drop(small);
    t.load_examples().await;
    let later = api::catalog::ingest::Applier::begin_sized(&t.db, key, 100_000)
        .await
        .unwrap();
    assert!(later.bulk().is_none(), "the catalog is not empty");
}
