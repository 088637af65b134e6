//! Facets answered from the counts ingest keeps (`facet_counts`) equal a brute-force count over the
//! listed entities, for every supported field under many filters (GraphQL and the REST API), after a
//! first load, a refresh that changes, adds and removes entities, an unregistered location and a
//! removed entity; a facet over kinds reads only the counts (its plan uses their index), a rebuild
//! from the stored entities gives the same counts, and other filters group rows through an index.

use api::catalog::backstage::filter::original_values;
use api::catalog::backstage::query::{self, Position, Spec};
use api::catalog::search::{self, Filter, Ordering, PageRequest};
use api::catalog::store::builtin_kind;
use greenroom_tests::plan::{explain, Rng};
use greenroom_tests::TestDb;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const LIFECYCLES: &[&str] = &["production", "Production", "experimental", "deprecated"];
const OWNERS: &[&str] = &["group-a", "group-b", "team-c", "user:jane", "ops/group-d"];
const TAGS: &[&str] = &["java", "go", "rust", "web", "data"];
const TIERS: &[&str] = &["gold", "silver", "Gold"];
const NAMESPACES: &[&str] = &["default", "default", "ops"];

/// Labels, annotations and tags some entities have.
fn extras(rng: &mut Rng) -> String {
    let mut out = String::new();
    if !rng.next().is_multiple_of(3) {
        out.push_str(&format!("  labels:\n    tier: {}\n", rng.pick(TIERS)));
    }
    if rng.next().is_multiple_of(2) {
        out.push_str(&format!(
            "  annotations:\n    example.com/team: {}\n",
            rng.pick(OWNERS).replace(['/', ':'], "-")
        ));
    }
    let tags: BTreeSet<&str> = (0..rng.next() % 3).map(|_| rng.pick(TAGS)).collect();
    if !tags.is_empty() {
        let tags: Vec<&str> = tags.into_iter().collect();
        out.push_str(&format!("  tags: [{}]\n", tags.join(", ")));
    }
    out
}

/// `count` entities of five kinds named `<prefix>-<i>` (every third one in the `ops` namespace), their
/// spec fields drawn from the lists above; `seed` changes what they hold, not who they are.
fn catalog(seed: u64, prefix: &str, count: usize) -> String {
    let mut rng = Rng(seed);
    let mut out = String::new();
    for i in 0..count {
        let ns = rng.pick(NAMESPACES);
        let head = |kind: &str, extra: &str| {
            format!("---\napiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {prefix}-{i}\n  namespace: {ns}\n{extra}spec:\n")
        };
        let extra = extras(&mut rng);
        let owner = rng.pick(OWNERS);
        let system = format!("sys-{}", rng.next() % 3);
        let body = match i % 5 {
            0 | 1 => format!(
                "{}  type: {}\n  lifecycle: {}\n  owner: {owner}\n  system: {system}\n",
                head("Component", &extra),
                rng.pick(&["service", "website", "Library"]),
                rng.pick(LIFECYCLES)
            ),
            2 => format!(
                "{}  type: {}\n  lifecycle: {}\n  owner: {owner}\n  definition: x\n",
                head("API", &extra),
                rng.pick(&["openapi", "grpc"]),
                rng.pick(LIFECYCLES)
            ),
            3 => format!(
                "{}  type: database\n  owner: {owner}\n  system: {system}\n",
                head("Resource", &extra)
            ),
            _ => format!("{}  type: team\n  children: []\n", head("Group", &extra)),
        };
        out.push_str(&body);
    }
    out
}

/// The GraphQL facet fields checked (every supported kind of field).
const FIELDS: &[&str] = &[
    "kind",
    "namespace",
    "type",
    "lifecycle",
    "owner",
    "system",
    "tag",
    "metadata.labels.tier",
    "metadata.annotations.example.com/team",
    "metadata.annotations.backstage.io/managed-by-location",
];

fn kinds(k: &[&str]) -> Filter {
    Filter {
        kind: k.iter().map(|s| s.to_string()).collect(),
        ..Filter::default()
    }
}

/// Filters on the kind alone (answered from the counts) and others (grouped rows).
fn filters() -> Vec<Filter> {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Filter::default(),
        kinds(&["Component"]),
        kinds(&["component", "API"]),
        kinds(&["group"]),
        kinds(&["nothing"]),
        Filter {
            namespace: v(&["ops"]),
            ..kinds(&["component"])
        },
        Filter {
            lifecycle: v(&["production"]),
            ..Filter::default()
        },
        Filter {
            tag: v(&["java"]),
            ..kinds(&["component"])
        },
        Filter {
            owner: v(&["group-a"]),
            ..Filter::default()
        },
        Filter {
            label: v(&["tier=gold"]),
            ..Filter::default()
        },
        Filter {
            annotation: v(&["example.com/team"]),
            ..kinds(&["api"])
        },
        Filter {
            has_errors: Some(false),
            ..Filter::default()
        },
        Filter {
            or: vec![kinds(&["component"]), kinds(&["resource"])],
            ..Filter::default()
        },
        Filter {
            not: Some(Box::new(kinds(&["component"]))),
            ..Filter::default()
        },
        Filter {
            and: vec![kinds(&["api"])],
            ..Filter::default()
        },
    ]
}

/// The refs matching `filter`, page by page.
async fn listed(t: &TestDb, filter: &Filter) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut after = None;
    loop {
        let page = PageRequest {
            first: Some(500),
            after: after.clone(),
            ..PageRequest::default()
        };
        let p = search::list(
            &t.db,
            filter,
            &search::Text::Any,
            Ordering::default(),
            &page,
        )
        .await
        .expect("list");
        after = p.items.last().map(|(c, _)| c.clone());
        out.extend(p.items.into_iter().map(|(_, r)| r));
        if !p.has_next {
            return out;
        }
    }
}

/// Every stored value of every GraphQL facet field, by ref: the `entities` columns and the
/// `entity_search` rows, read row by row.
async fn stored_values(t: &TestDb) -> BTreeMap<String, BTreeMap<&'static str, Vec<String>>> {
    let backend = t.db.get_database_backend();
    let read = |sql: &str| t.db.query_all_raw(Statement::from_string(backend, sql));
    let mut out: BTreeMap<String, BTreeMap<&'static str, Vec<String>>> = BTreeMap::new();
    let columns = [
        ("kind", "kind"),
        ("namespace", "namespace"),
        ("type", "spec_type"),
        ("lifecycle", "lifecycle"),
        ("owner", "owner_ref"),
        ("system", "system_ref"),
        (
            "metadata.annotations.backstage.io/managed-by-location",
            "managed_by_location",
        ),
    ];
    for row in read("SELECT * FROM entities").await.expect("entities") {
        let r: String = row.try_get("", "entity_ref").expect("ref");
        let slot = out.entry(r).or_default();
        for (field, col) in columns {
            if let Some(v) = row.try_get::<Option<String>>("", col).expect("column") {
                slot.entry(field).or_default().push(v);
            }
        }
    }
    let keys = [
        ("tag", "tag"),
        ("metadata.labels.tier", "label:tier"),
        (
            "metadata.annotations.example.com/team",
            "annotation:example.com/team",
        ),
    ];
    let rows = read("SELECT entity_ref, key, value FROM entity_search")
        .await
        .expect("search rows");
    for row in rows {
        let r: String = row.try_get("", "entity_ref").expect("ref");
        let key: String = row.try_get("", "key").expect("key");
        let value: Option<String> = row.try_get("", "value").expect("value");
        if let (Some((field, _)), Some(v)) = (keys.iter().find(|(_, k)| *k == key), value) {
            if let Some(slot) = out.get_mut(&r) {
                slot.entry(field).or_default().push(v);
            }
        }
    }
    out
}

/// Counts most frequent first, then by value (as facets answer).
fn ordered(counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut list: Vec<(String, u64)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

async fn assert_graphql_facets(t: &TestDb, stage: &str) {
    let values = stored_values(t).await;
    for filter in filters() {
        let refs = listed(t, &filter).await;
        for field in FIELDS {
            let mut expected: BTreeMap<String, u64> = BTreeMap::new();
            for r in &refs {
                for v in values
                    .get(r)
                    .and_then(|m| m.get(field))
                    .into_iter()
                    .flatten()
                {
                    let v = match *field {
                        "kind" => builtin_kind(v).map(str::to_string).unwrap_or(v.clone()),
                        _ => v.clone(),
                    };
                    *expected.entry(v).or_default() += 1;
                }
            }
            let found = search::facets(&t.db, field, &filter).await.expect("facets");
            assert_eq!(
                found,
                ordered(expected),
                "{stage}: {field} under {filter:?}"
            );
        }
    }
}

/// REST filters: the kind alone (answered from the counts) and others (counted over the documents).
const REST_FILTERS: &[&[&str]] = &[
    &[],
    &["kind=component"],
    &["kind=component,kind=API"],
    &["kind=component", "kind=group"],
    &["kind"],
    &["kind=component,spec.lifecycle=production"],
    &["metadata.namespace=ops"],
];
const REST_FACETS: &[&str] = &[
    "kind",
    "Kind",
    "metadata.namespace",
    "spec.lifecycle",
    "spec.type",
    "spec.owner",
    "spec.system",
    "metadata.tags",
    "metadata.labels.tier",
];

async fn assert_rest_facets(t: &TestDb, stage: &str) {
    for filter in REST_FILTERS {
        let spec = Spec {
            filter: filter.iter().map(|s| s.to_string()).collect(),
            ..Spec::default()
        };
        let listed = query::all(&t.db, &t.cache, &spec, Position::Start, 0)
            .await
            .expect("list");
        let facets: Vec<String> = REST_FACETS.iter().map(|s| s.to_string()).collect();
        let found = query::facet_counts(&t.db, &t.cache, &spec, &facets)
            .await
            .expect("facets");
        for facet in REST_FACETS {
            let mut expected: BTreeMap<String, u64> = BTreeMap::new();
            for (e, rels) in &listed {
                let values: BTreeSet<String> =
                    original_values(e.body(), rels, &facet.to_lowercase())
                        .into_iter()
                        .collect();
                for v in values {
                    *expected.entry(v).or_default() += 1;
                }
            }
            assert_eq!(
                found.get(*facet),
                Some(&ordered(expected)),
                "{stage}: REST {facet} under {filter:?}"
            );
        }
    }
}

async fn assert_all(t: &TestDb, stage: &str) {
    assert_graphql_facets(t, stage).await;
    assert_rest_facets(t, stage).await;
}

/// Every row of `facet_counts`, in key order.
async fn counts_table(t: &impl ConnectionTrait) -> Vec<(String, String, String, i64)> {
    let backend = t.get_database_backend();
    let sql = "SELECT field, kind, value, n FROM facet_counts ORDER BY field, kind, value";
    t.query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("counts")
        .into_iter()
        .map(|r| {
            (
                r.try_get("", "field").expect("field"),
                r.try_get("", "kind").expect("kind"),
                r.try_get("", "value").expect("value"),
                r.try_get("", "n").expect("n"),
            )
        })
        .collect()
}

#[tokio::test]
async fn facets_equal_a_brute_force_count_after_every_write() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, catalog(7, "a", 150)).expect("write a");
    std::fs::write(&b, catalog(9, "b", 60)).expect("write b");
    let outcome = t.refresh(&a).await;
    assert!(
        outcome.errors.is_empty() && outcome.invalid.is_empty(),
        "{outcome:?}"
    );
    // `b` is registered at run time, so it can be unregistered.
    let register = r#"mutation($t: String!) {
        registerLocation(input: {type: "file", target: $t}) { location { id } errors } }"#;
    let r = t
        .exec(register, json!({ "t": b.display().to_string() }))
        .await;
    let id = r["data"]["registerLocation"]["location"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("registered: {r}"))
        .to_string();
    assert_all(&t, "first load").await;

    // The same entities with other values, the last 30 gone and 40 new ones.
    let mut changed = catalog(8, "a", 120);
    changed.push_str(&catalog(3, "new", 40));
    std::fs::write(&a, changed).expect("rewrite a");
    let outcome = t.refresh(&a).await;
    assert!(outcome.errors.is_empty(), "{outcome:?}");
    assert_all(&t, "after a refresh").await;

    let r = t
        .exec(
            "mutation($id: ID!) { unregisterLocation(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r["data"]["unregisterLocation"], true, "{r}");
    assert_all(&t, "after unregistering a location").await;

    for r in ["component:default/a-0", "api:ops/a-2", "group:default/a-4"] {
        api::catalog::ingest::remove_entity(&t.db, r)
            .await
            .expect("remove");
    }
    assert_all(&t, "after removing entities").await;

    // Rebuilding from the stored entities gives exactly the counts every write kept.
    let kept = counts_table(&t.db).await;
    assert!(!kept.is_empty());
    let txn = t.db.begin().await.expect("begin");
    api::catalog::facet_counts::rebuild(&txn)
        .await
        .expect("rebuild");
    assert_eq!(counts_table(&txn).await, kept, "rebuilt counts");
    txn.rollback().await.expect("rollback");
}

/// A database migrated while it held entities is marked; start-up rebuilds the counts once.
#[tokio::test]
async fn a_marked_database_gets_its_counts_rebuilt() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a.yaml");
    std::fs::write(&a, catalog(5, "a", 40)).expect("write a");
    t.refresh(&a).await;
    let kept = counts_table(&t.db).await;
    let backend = t.db.get_database_backend();
    for sql in [
        "DELETE FROM facet_counts WHERE field = 'c:lifecycle'",
        "UPDATE facet_counts SET n = n + 5 WHERE field = 'c:kind'",
        "INSERT INTO facet_counts (field, kind, value, n) VALUES ('!rebuild', '', '', 1)",
    ] {
        t.db.execute_raw(Statement::from_string(backend, sql))
            .await
            .expect("tamper");
    }
    use api::catalog::facet_counts::rebuild_if_marked;
    assert!(rebuild_if_marked(&t.db).await.expect("rebuild"));
    assert_eq!(counts_table(&t.db).await, kept);
    assert!(!rebuild_if_marked(&t.db).await.expect("no marker"));
}

#[tokio::test]
async fn a_facet_over_kinds_reads_only_the_counts_through_their_index() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a.yaml");
    std::fs::write(&a, catalog(4, "a", 200)).expect("write a");
    t.refresh(&a).await;

    let before = t.statement_count();
    search::facets(&t.db, "spec.lifecycle", &kinds(&["Component"]))
        .await
        .expect("facets");
    let spec = Spec {
        filter: vec!["kind=component".into()],
        ..Spec::default()
    };
    query::facet_counts(&t.db, &t.cache, &spec, &["spec.lifecycle".into()])
        .await
        .expect("REST facets");
    let sql: Vec<String> = t.sql_log.lock().expect("log")[before..].to_vec();
    assert_eq!(sql.len(), 2, "one statement per facet: {sql:?}");
    for s in &sql {
        assert!(s.contains("facet_counts"), "{s}");
        assert!(
            !s.contains("\"entities\"") && !s.contains("entity_search"),
            "a facet over kinds reads no entity rows: {s}"
        );
    }
    let plan = explain(
        &t.db,
        "SELECT value, CAST(SUM(n) AS BIGINT) FROM facet_counts \
         WHERE field = 'c:lifecycle' AND kind IN ('component') GROUP BY value",
    )
    .await;
    let indexed = match t.db.get_database_backend() {
        DbBackend::Sqlite => plan.contains("SEARCH facet_counts USING INDEX"),
        _ => plan.contains("Index") && plan.contains("facet_counts_pkey"),
    };
    assert!(indexed, "the counts are read through their key:\n{plan}");

    // Any other filter groups the matching rows, starting from an index of the filter's columns.
    let plan = explain(
        &t.db,
        "SELECT lifecycle, COUNT(*) FROM entities WHERE kind IN ('component') \
         AND namespace IN ('ops') AND lifecycle IS NOT NULL GROUP BY lifecycle",
    )
    .await;
    let indexed = match t.db.get_database_backend() {
        DbBackend::Sqlite => plan.contains("USING INDEX") || plan.contains("COVERING INDEX"),
        _ => plan.contains("Index"),
    };
    assert!(indexed, "other filters go through an index:\n{plan}");
}
