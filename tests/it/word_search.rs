//! Word search (`entities(query:)`, the default `queryMatch: WORD_PREFIX`) answers exactly what a
//! brute-force word match over the stored documents answers — match sets, `totalCount`, the
//! `RELEVANCE` order page by page in both directions, highlights — on a generated catalog, after
//! every kind of write, and for rows stored before word search existed; and its plans use the stores'
//! word indexes.

use greenroom_tests::plan::{explain, Rng};
use greenroom_tests::TestDb;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

const NAME_WORDS: &[&str] = &[
    "payments", "pay", "checkout", "cart", "billing", "search", "api", "v2", "ledger", "paypal",
];
const TEXT_WORDS: &[&str] = &[
    "Payments",
    "PAY",
    "checkout",
    "Billing",
    "ÉCOLE",
    "straße",
    "服务",
    "under_score",
    "v2.1",
    "search-index",
    "ledger",
    "fast",
    "100%",
];

fn name(rng: &mut Rng, i: usize) -> String {
    let parts: Vec<&str> = (0..1 + rng.next() % 3)
        .map(|_| rng.pick(NAME_WORDS))
        .collect();
    format!("{}-{i}", parts.join("-"))
}

fn text(rng: &mut Rng, words: usize) -> String {
    let w: Vec<&str> = (0..words).map(|_| rng.pick(TEXT_WORDS)).collect();
    w.join(" ")
}

/// `count` components and APIs with generated names, titles, descriptions and tags.
fn catalog(seed: u64, count: usize) -> String {
    let mut rng = Rng(seed);
    let mut out = String::new();
    for i in 0..count {
        let kind = if i % 4 == 0 { "API" } else { "Component" };
        let n = name(&mut rng, i);
        let (title_len, desc_len) = ((rng.next() % 3) as usize, (rng.next() % 30) as usize);
        let title = text(&mut rng, title_len);
        let desc = text(&mut rng, desc_len);
        let tags: Vec<&str> = (0..rng.next() % 3).map(|_| rng.pick(NAME_WORDS)).collect();
        let spec = if kind == "API" {
            "type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: x"
        } else {
            "type: service\n  lifecycle: production\n  owner: team-a"
        };
        out.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {n}\n  title: {title:?}\n  description: {desc:?}\n  tags: [{}]\nspec:\n  {spec}\n",
            tags.join(", ")
        ));
    }
    out
}

/// An entity as the reference sees it: ref, stored name, and the words of each field in order of
/// relevance (name, title, tags, description).
struct Row {
    entity_ref: String,
    name: String,
    fields: [Vec<String>; 4],
}

/// The words of `s`: maximal runs of letters and digits, lowercased.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur).to_lowercase());
        }
    }
    if !cur.is_empty() {
        out.push(cur.to_lowercase());
    }
    out
}

async fn rows(t: &TestDb) -> Vec<Row> {
    let backend = t.db.get_database_backend();
    let all =
        t.db.query_all_raw(Statement::from_string(
            backend,
            "SELECT entity_ref, name, body FROM entities",
        ))
        .await
        .expect("read entities");
    all.into_iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.try_get::<String>("", "body").expect("body"))
                .expect("json");
            let m = &body["metadata"];
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            let tags: Vec<&str> = m["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            Row {
                entity_ref: r.try_get("", "entity_ref").expect("ref"),
                name: r.try_get("", "name").expect("name"),
                fields: [
                    words(&s("name")),
                    words(&s("title")),
                    words(&tags.join(" ")),
                    words(&s("description")),
                ],
            }
        })
        .collect()
}

/// Whether the term (its words, the last a prefix) appears in `field`.
fn term_in(term: &[String], field: &[String]) -> bool {
    let n = term.len();
    field.len() >= n
        && (0..=field.len() - n).any(|i| {
            (0..n - 1).all(|k| field[i + k] == term[k])
                && field[i + n - 1].starts_with(term[n - 1].as_str())
        })
}

/// The reference: `(tier, name, ref)` of every match of `q`, in relevance order.
fn brute_force(rows: &[Row], q: &str) -> Vec<(usize, String, String)> {
    let terms: Vec<Vec<String>> = q
        .split_whitespace()
        .map(words)
        .filter(|t| !t.is_empty())
        .collect();
    let mut out: Vec<(usize, String, String)> = rows
        .iter()
        .filter_map(|r| {
            let mut tier = 0;
            for t in &terms {
                tier = tier.max(r.fields.iter().position(|f| term_in(t, f))?);
            }
            Some((tier, r.name.clone(), r.entity_ref.clone()))
        })
        .collect();
    out.sort();
    out
}

/// Queries drawn from the catalog's words: prefixes of 1 to 6 characters, whole words in other
/// cases, two terms, phrase terms with a hyphen, non-ASCII, punctuation only, and nothing.
fn queries(seed: u64, rows: &[Row]) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut out: Vec<String> = [
        "pay",
        "PAYM",
        "payments-a",
        "search-ind",
        "école",
        "STRASSE",
        "服",
        "v2.1",
        "100",
        "--",
        "zzzz",
        "pay che",
        "under_sc",
        "ledger fast",
        "payments api",
    ]
    .map(String::from)
    .to_vec();
    for _ in 0..40 {
        let r = &rows[(rng.next() % rows.len() as u64) as usize];
        let f = &r.fields[(rng.next() % 4) as usize];
        let Some(w) = f.get((rng.next() % f.len().max(1) as u64) as usize) else {
            continue;
        };
        let chars: Vec<char> = w.chars().collect();
        let len = 1 + (rng.next() as usize) % chars.len().min(6);
        let piece: String = chars[..len].iter().collect();
        if rng.next().is_multiple_of(3) {
            out.push(format!("{} {}", piece.to_uppercase(), rng.pick(NAME_WORDS)));
        } else {
            out.push(piece);
        }
    }
    out
}

const PAGE: &str =
    "query($q: String, $first: Int, $after: String, $last: Int, $before: String, $o: EntityOrder) {
  entities(query: $q, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ref } highlight { field text parts { text matched } } }
  }
}";

async fn page(t: &TestDb, vars: Value) -> Value {
    let r = t.exec(PAGE, vars.clone()).await;
    assert!(r["errors"].is_null(), "{vars}: {r}");
    r["data"]["entities"].clone()
}

fn refs(p: &Value) -> Vec<String> {
    p["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["ref"].as_str().expect("ref").to_string())
        .collect()
}

/// The whole relevance order, read forwards `size` at a time and then backwards from the end.
async fn relevance_both_ways(t: &TestDb, q: &str, size: i64) -> (Vec<String>, Vec<String>) {
    let o = json!({"field": "RELEVANCE"});
    let (mut fwd, mut after) = (Vec::new(), Value::Null);
    loop {
        let p = page(t, json!({"q": q, "o": o, "first": size, "after": after})).await;
        fwd.extend(refs(&p));
        if p["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    let (mut back, mut before) = (Vec::new(), Value::Null);
    loop {
        let p = page(t, json!({"q": q, "o": o, "last": size, "before": before})).await;
        let mut r = refs(&p);
        r.extend(back);
        back = r;
        if p["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = p["pageInfo"]["startCursor"].clone();
    }
    (fwd, back)
}

async fn assert_matches_brute_force(t: &TestDb, seed: u64) {
    let all = rows(t).await;
    for q in queries(seed, &all) {
        let expected = brute_force(&all, &q);
        let by_ref: std::collections::BTreeSet<String> =
            expected.iter().map(|e| e.2.clone()).collect();
        let p = page(t, json!({"q": q, "first": 500})).await;
        let found: std::collections::BTreeSet<String> = refs(&p).into_iter().collect();
        assert_eq!(found, by_ref, "matches of {q:?}");
        assert_eq!(p["totalCount"], expected.len(), "totalCount of {q:?}");
        if words(&q).is_empty() {
            // Nothing to search for: everything matches, and there is no relevance to order by.
            assert_eq!(found.len(), all.len(), "{q:?}");
            continue;
        }
        let order: Vec<String> = expected.iter().map(|e| e.2.clone()).collect();
        let (fwd, back) = relevance_both_ways(t, &q, 16).await;
        assert_eq!(fwd, order, "relevance order of {q:?}, forwards");
        assert_eq!(back, order, "relevance order of {q:?}, backwards");
        let top = page(t, json!({"q": q, "o": {"field": "RELEVANCE"}, "first": 20})).await;
        let terms: Vec<Vec<String>> = q
            .split_whitespace()
            .map(words)
            .filter(|t| !t.is_empty())
            .collect();
        for edge in top["edges"].as_array().unwrap() {
            let h = &edge["highlight"];
            // The most relevant field among those where the most terms match.
            let row = all
                .iter()
                .find(|r| r.entity_ref == edge["node"]["ref"])
                .unwrap();
            let hits = |f: &Vec<String>| terms.iter().filter(|t| term_in(t, f)).count();
            let most = row.fields.iter().map(hits).max().unwrap_or(0);
            let best = row.fields.iter().position(|f| hits(f) == most).unwrap();
            let label = ["name", "title", "tags", "description"][best];
            assert_eq!(h["field"], label, "{q:?}: {h}");
            let parts = h["parts"].as_array().expect("parts");
            let joined: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            assert_eq!(h["text"].as_str(), Some(joined.as_str()), "{h}");
            assert!(parts.iter().any(|p| p["matched"] == true), "{q:?}: {h}");
        }
    }
}

#[tokio::test]
async fn word_search_answers_what_a_brute_force_word_match_answers_after_every_write() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog-info.yaml");
    std::fs::write(&file, catalog(5, 240)).expect("write catalog");
    t.refresh(&file).await;
    assert_matches_brute_force(&t, 21).await;

    // New names, titles, descriptions and tags; entities removed and added.
    std::fs::write(&file, catalog(6, 180)).expect("rewrite catalog");
    t.refresh(&file).await;
    assert_matches_brute_force(&t, 22).await;

    // Rows stored before word search existed have no words until the server fills them in.
    t.db.execute_unprepared(
        "UPDATE entities SET words_name = NULL, words_title = NULL, words_tags = NULL, words_description = NULL",
    )
    .await
    .expect("forget words");
    let gone = page(&t, json!({"q": "pay", "first": 5})).await;
    assert_eq!(gone["totalCount"], 0, "{gone}");
    let filled = api::catalog::words::backfill(&t.db)
        .await
        .expect("backfill");
    assert_eq!(filled, rows(&t).await.len() as u64);
    assert_matches_brute_force(&t, 23).await;
}

#[tokio::test]
async fn relevance_needs_a_word_query_and_substrings_stay_reachable() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let r = t
        .exec(
            r#"{ entities(orderBy: {field: RELEVANCE}) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    let count = |q: &'static str, m: &'static str| {
        let t = &t;
        async move {
            let r = t
                .exec(
                    &format!(r#"{{ entities(query: "{q}", queryMatch: {m}) {{ totalCount }} }}"#),
                    json!({}),
                )
                .await;
            r["data"]["entities"]["totalCount"].as_i64().unwrap_or(-1)
        }
    };
    // `tstore` is inside `petstore`: a substring, not the start of a word.
    assert!(count("tstore", "SUBSTRING").await > 0);
    assert_eq!(count("tstore", "WORD_PREFIX").await, 0);
    assert!(count("petst", "WORD_PREFIX").await > 0);
}

#[tokio::test]
async fn word_searches_go_through_the_word_index() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog-info.yaml");
    std::fs::write(&file, catalog(3, 60)).expect("write catalog");
    t.refresh(&file).await;
    let before = t.statement_count();
    page(
        &t,
        json!({"q": "pay", "o": {"field": "RELEVANCE"}, "first": 5}),
    )
    .await;
    let sql: Vec<String> = t.sql_log.lock().expect("log")[before..].to_vec();
    let backend = t.db.get_database_backend();
    let (marker, plan, index) = match backend {
        DbBackend::Sqlite => (
            "entities_words MATCH",
            explain(
                &t.db,
                "SELECT entity_ref FROM entities WHERE id IN \
                 (SELECT rowid FROM entities_words WHERE entities_words MATCH '\"pay\"*')",
            )
            .await,
            "VIRTUAL TABLE INDEX",
        ),
        _ => (
            "to_tsquery",
            explain(
                &t.db,
                "SELECT entity_ref FROM entities WHERE words @@ to_tsquery('simple', 'pay:*')",
            )
            .await,
            "ix_entities_words",
        ),
    };
    assert!(sql.iter().any(|s| s.contains(marker)), "{sql:?}");
    assert!(
        !sql.iter()
            .any(|s| s.contains("entities_fts") || s.contains("LIKE")),
        "word search does not scan the text: {sql:?}"
    );
    assert!(
        plan.contains(index),
        "the plan uses the word index:\n{plan}"
    );
}
