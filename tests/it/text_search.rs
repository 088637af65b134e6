//! Text search through the stores' indexes (SQLite FTS5 trigram, PostgreSQL pg_trgm) answers exactly
//! what a brute-force substring match over the same rows answers, stays in step with every write, and
//! the query plans use the index.

use greenroom_tests::plan::{explain, Rng};
use greenroom_tests::TestDb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use std::collections::BTreeSet;

const SYLLABLES: &[&str] = &[
    "pay", "ment", "or", "der", "cart", "ship", "ping", "au", "th", "us", "er", "inv", "ent",
    "ory", "ka", "fka", "log", "gw", "api", "x",
];
const WORDS: &[&str] = &[
    "handles",
    "Payments",
    "ÉCOLE",
    "straße",
    "服务",
    "100%_done",
    "under_score",
    "back\\slash",
    "fast",
    "Tiny",
    "ok",
];

fn name(rng: &mut Rng, i: usize) -> String {
    let parts = 1 + rng.next() % 3;
    let mut n: String = (0..parts).map(|_| rng.pick(SYLLABLES)).collect();
    n.push_str(&format!("-{i}"));
    n
}

/// `count` components, their names, titles, descriptions and tags drawn from the lists above.
fn catalog(seed: u64, count: usize) -> String {
    let mut rng = Rng(seed);
    let mut out = String::new();
    for i in 0..count {
        let n = name(&mut rng, i);
        let desc: Vec<&str> = (0..1 + rng.next() % 4).map(|_| rng.pick(WORDS)).collect();
        let tag = rng.pick(SYLLABLES);
        out.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {n}\n  title: {title:?}\n  description: {desc:?}\n  tags: [{tag}]\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
            title = format!("The {} service", rng.pick(WORDS)),
            desc = desc.join(" "),
        ));
    }
    out
}

/// Queries drawn from the catalog: pieces of names (1 to 6 characters), whole words in any case, two
/// terms, wildcard characters, non-ASCII text, and terms nothing has.
fn queries(seed: u64, rows: &[(String, String)]) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut out: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    out.extend(
        [
            "%", "_", "\\", "100%", "e_s", "SS", "é", "务", "zzzz", "ÉcOlE", "pay ment", "x api",
        ]
        .map(String::from),
    );
    for _ in 0..120 {
        let (r, _) = &rows[(rng.next() % rows.len() as u64) as usize];
        let name: Vec<char> = r.rsplit('/').next().unwrap_or(r).chars().collect();
        let len = 1 + (rng.next() % 6) as usize;
        let start = (rng.next() as usize) % name.len().saturating_sub(len).max(1);
        let piece: String = name.iter().skip(start).take(len).collect();
        if rng.next().is_multiple_of(3) {
            out.push(format!("{} {}", piece.to_uppercase(), rng.pick(SYLLABLES)));
        } else {
            out.push(piece);
        }
    }
    out
}

/// Every entity whose search text holds every term of `q` (lowercased), by reading every row.
fn brute_force(rows: &[(String, String)], q: &str) -> BTreeSet<String> {
    let terms: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    rows.iter()
        .filter(|(_, text)| terms.iter().all(|t| text.contains(t.as_str())))
        .map(|(r, _)| r.clone())
        .collect()
}

async fn rows(t: &TestDb) -> Vec<(String, String)> {
    let backend = t.db.get_database_backend();
    t.db.query_all_raw(Statement::from_string(
        backend,
        "SELECT entity_ref, search_text FROM entities",
    ))
    .await
    .expect("read entities")
    .into_iter()
    .map(|r| {
        (
            r.try_get::<String>("", "entity_ref").expect("ref"),
            r.try_get::<String>("", "search_text").expect("text"),
        )
    })
    .collect()
}

async fn search(t: &TestDb, q: &str) -> (BTreeSet<String>, i64) {
    let resp = t
        .exec(
            "query($q: String) { entities(query: $q, queryMatch: SUBSTRING, first: 500) { totalCount nodes { ref } } }",
            json!({ "q": q }),
        )
        .await;
    let page = &resp["data"]["entities"];
    assert!(page.is_object(), "query {q:?}: {resp}");
    let refs = page["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["ref"].as_str().map(String::from))
        .collect();
    (refs, page["totalCount"].as_i64().unwrap_or(-1))
}

async fn assert_matches_brute_force(t: &TestDb, seed: u64) {
    let all = rows(t).await;
    assert!(!all.is_empty());
    for q in queries(seed, &all) {
        let expected = brute_force(&all, &q);
        let (found, total) = search(t, &q).await;
        assert_eq!(found, expected, "query {q:?}");
        assert_eq!(total, expected.len() as i64, "totalCount of {q:?}");
    }
}

#[tokio::test]
async fn indexed_search_answers_what_a_scan_answers_and_follows_every_write() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog-info.yaml");
    std::fs::write(&file, catalog(7, 300)).expect("write catalog");
    t.refresh(&file).await;
    assert_matches_brute_force(&t, 11).await;

    // A new read changes descriptions and names, removes and adds entities: the index follows the
    // write transaction (inserts, deletes and updates alike).
    std::fs::write(&file, catalog(8, 200)).expect("rewrite catalog");
    t.refresh(&file).await;
    assert_matches_brute_force(&t, 12).await;
    let (gone, _) = search(&t, "-299").await;
    assert!(
        gone.is_empty(),
        "entities removed from the source are not found"
    );
}

#[tokio::test]
async fn searches_go_through_the_text_index() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog-info.yaml");
    std::fs::write(&file, catalog(3, 50)).expect("write catalog");
    t.refresh(&file).await;
    let before = t.statement_count();
    search(&t, "payment").await;
    let sql: Vec<String> = t.sql_log.lock().expect("log")[before..].to_vec();
    let backend = t.db.get_database_backend();
    let plan = match backend {
        DbBackend::Sqlite => {
            assert!(
                sql.iter().any(|s| s.contains("entities_fts")),
                "searches read the FTS5 index: {sql:?}"
            );
            explain(
                &t.db,
                "SELECT entity_ref FROM entities WHERE id IN \
                 (SELECT rowid FROM entities_fts WHERE search_text LIKE '%payment%')",
            )
            .await
        }
        _ => {
            assert!(
                sql.iter()
                    .any(|s| s.contains("search_text") && s.contains("LIKE")),
                "searches match search_text: {sql:?}"
            );
            explain(
                &t.db,
                "SELECT entity_ref FROM entities WHERE search_text LIKE '%payment%'",
            )
            .await
        }
    };
    let uses_index = match backend {
        DbBackend::Sqlite => plan.contains("VIRTUAL TABLE INDEX"),
        _ => plan.contains("ix_entities_search_trgm"),
    };
    assert!(uses_index, "the plan uses the text index:\n{plan}");
}

/// `totalCount` is bounded: a count reads at most `cap + 1` matching rows and says when it stopped, so a
/// search over a huge match set costs the same as over a small one; below the bound it is exact (the
/// brute-force number of matches).
#[tokio::test]
async fn the_total_count_is_exact_below_its_bound_and_says_so_above_it() {
    use api::catalog::search::{count_bounded, Filter, Text};
    let t = TestDb::new().await;
    t.load_examples().await;
    let all = t
        .exec("{ entities(first: 500) { nodes { ref name } } }", json!({}))
        .await;
    let nodes = all["data"]["entities"]["nodes"].as_array().unwrap().clone();
    let everything = nodes.len() as u64;
    assert!(everything > 20);
    let filter = Filter::default();
    assert_eq!(
        count_bounded(&t.db, &filter, &Text::Any, 10_000)
            .await
            .unwrap(),
        (everything, true)
    );
    assert_eq!(
        count_bounded(&t.db, &filter, &Text::Any, 5).await.unwrap(),
        (5, false)
    );
    assert_eq!(
        count_bounded(&t.db, &filter, &Text::Any, everything)
            .await
            .unwrap(),
        (everything, true)
    );
    let wayback = nodes
        .iter()
        .filter(|n| n["name"].as_str().unwrap().contains("wayback"))
        .count() as u64;
    assert!(wayback >= 2);
    assert_eq!(
        count_bounded(&t.db, &filter, &Text::Substring("wayback".into()), 1)
            .await
            .unwrap(),
        (1, false)
    );
    let r = t
        .exec(
            r#"{ entities(query: "wayback", first: 1) { totalCount totalCountExact } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["entities"],
        json!({"totalCount": wayback, "totalCountExact": true}),
        "{r}"
    );
}
