//! Word search over broad matches (more rows than `word_search::DENSE`, where a listing walks its
//! ordering's index instead of sorting the matches): every order, both directions, relevance tiers
//! dense and sparse in one listing, filtered and unfiltered counts — checked against a catalog whose
//! matches are known by construction; and on SQLite one read of the matches per request, whatever
//! their number.

use greenroom_tests::TestDb;
use serde_json::{json, Value};

/// One generated entity: its ref, name, and its relevance tier for `pay` (`None`: no match).
struct Made {
    entity_ref: String,
    name: String,
    kind: &'static str,
    tier: Option<usize>,
}

/// 2,500 entities: `pay` in the name of 1,050 (tier 0), only in the title of 1,050 (tier 1, titles
/// `Payments b1050`…), only in the tags of 100, only in the description of 100, and 200 without it.
fn catalog() -> (String, Vec<Made>) {
    let (mut yaml, mut made) = (String::new(), Vec::new());
    for i in 0..2500 {
        let (name, title, tags, desc, tier) = match i {
            0..1050 => (format!("pay-a{i:04}"), String::new(), "", "x", Some(0)),
            1050..2100 => (
                format!("svc-b{i:04}"),
                format!("Payments b{i}"),
                "",
                "x",
                Some(1),
            ),
            2100..2200 => (
                format!("svc-c{i:04}"),
                String::new(),
                "payments",
                "x",
                Some(2),
            ),
            2200..2300 => (
                format!("svc-d{i:04}"),
                String::new(),
                "",
                "runs pay",
                Some(3),
            ),
            _ => (format!("other-e{i:04}"), String::new(), "", "nothing", None),
        };
        let title = if title.is_empty() {
            String::new()
        } else {
            format!("  title: {title:?}\n")
        };
        let kind = if i % 3 == 0 { "API" } else { "Component" };
        let spec = if kind == "API" {
            "type: openapi\n  lifecycle: production\n  owner: team-a\n  definition: x"
        } else {
            "type: service\n  lifecycle: production\n  owner: team-a"
        };
        yaml.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n{title}  description: {desc:?}\n  tags: [{tags}]\nspec:\n  {spec}\n"
        ));
        made.push(Made {
            entity_ref: format!("{}:default/{name}", kind.to_lowercase()),
            name,
            kind,
            tier,
        });
    }
    (yaml, made)
}

const PAGE: &str = "query($q: String, $f: EntityFilter, $o: EntityOrder, $first: Int, $after: String, $last: Int, $before: String) {
  entities(query: $q, filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
    totalCount totalCountExact
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { ref }
  }
}";

async fn page(t: &TestDb, vars: Value) -> Value {
    let r = t.exec(PAGE, vars.clone()).await;
    assert!(r["errors"].is_null(), "{vars}: {r}");
    r["data"]["entities"].clone()
}

fn refs(p: &Value) -> Vec<String> {
    p["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["ref"].as_str().expect("ref").to_string())
        .collect()
}

/// The whole listing of `vars`, forwards `size` at a time, then backwards from the end; every page's
/// `totalCount` is `total`.
async fn both_ways(t: &TestDb, vars: Value, size: i64, total: usize) -> (Vec<String>, Vec<String>) {
    let with = |extra: Value| {
        let mut v = vars.clone();
        v.as_object_mut()
            .expect("vars")
            .extend(extra.as_object().expect("extra").clone());
        v
    };
    let (mut fwd, mut after) = (Vec::new(), Value::Null);
    loop {
        let p = page(t, with(json!({"first": size, "after": after}))).await;
        assert_eq!(p["totalCount"], total, "{vars}");
        fwd.extend(refs(&p));
        if p["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    let (mut back, mut before) = (Vec::new(), Value::Null);
    loop {
        let p = page(t, with(json!({"last": size, "before": before}))).await;
        assert_eq!(p["totalCount"], total, "{vars}");
        back.splice(0..0, refs(&p));
        if p["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = p["pageInfo"]["startCursor"].clone();
    }
    (fwd, back)
}

async fn assert_order(t: &TestDb, vars: Value, expected: Vec<String>) {
    let (fwd, back) = both_ways(t, vars.clone(), 400, expected.len()).await;
    assert_eq!(fwd.len(), expected.len(), "{vars}");
    assert!(fwd == expected, "{vars}: forwards");
    assert!(back == expected, "{vars}: backwards");
}

#[tokio::test]
async fn broad_word_matches_list_count_and_rank_like_narrow_ones() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog-info.yaml");
    let (yaml, made) = catalog();
    std::fs::write(&file, yaml).expect("write catalog");
    let out = t.refresh(&file).await;
    assert!(out.invalid.is_empty(), "{:?}", out.invalid.first());
    let matching: Vec<&Made> = made.iter().filter(|m| m.tier.is_some()).collect();

    let mut by_ref: Vec<String> = matching.iter().map(|m| m.entity_ref.clone()).collect();
    by_ref.sort();
    assert_order(&t, json!({"q": "pay"}), by_ref.clone()).await;
    by_ref.reverse();
    let desc = json!({"field": "REF", "direction": "DESC"});
    assert_order(&t, json!({"q": "PAY", "o": desc}), by_ref).await;

    let mut by_name: Vec<(String, String)> = matching
        .iter()
        .map(|m| (m.name.clone(), m.entity_ref.clone()))
        .collect();
    by_name.sort();
    let names = by_name.into_iter().map(|(_, r)| r).collect();
    assert_order(&t, json!({"q": "pa", "o": {"field": "NAME"}}), names).await;

    let mut ranked: Vec<(usize, String, String)> = matching
        .iter()
        .map(|m| (m.tier.unwrap_or(9), m.name.clone(), m.entity_ref.clone()))
        .collect();
    ranked.sort();
    let ranked = ranked.into_iter().map(|(_, _, r)| r).collect();
    assert_order(&t, json!({"q": "pay", "o": {"field": "RELEVANCE"}}), ranked).await;

    // Two terms, 950 titles (fewer than the walk's threshold); a filter on the kind.
    let mut b1: Vec<String> = (1050..2000).map(|i| made[i].entity_ref.clone()).collect();
    b1.sort();
    assert_order(&t, json!({"q": "pay b1"}), b1).await;
    let mut apis: Vec<String> = matching
        .iter()
        .filter(|m| m.kind == "API")
        .map(|m| m.entity_ref.clone())
        .collect();
    apis.sort();
    assert_order(&t, json!({"q": "pay", "f": {"kind": ["API"]}}), apis).await;
    let none = page(&t, json!({"q": "zzz", "first": 5})).await;
    assert_eq!(
        (none["totalCount"].clone(), refs(&none).len()),
        (json!(0), 0)
    );
}

#[tokio::test]
async fn a_broad_word_search_reads_its_matches_once() {
    let t = TestDb::new().await;
    if t.db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return; // PostgreSQL matches through the GIN index within the page's own statement.
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog-info.yaml");
    std::fs::write(&file, catalog().0).expect("write catalog");
    t.refresh(&file).await;
    for vars in [
        json!({"q": "pay", "first": 20}),
        json!({"q": "pay", "first": 20, "o": {"field": "NAME", "direction": "DESC"}}),
        json!({"q": "pay", "last": 20}),
    ] {
        let before = t.statement_count();
        let p = page(&t, vars.clone()).await;
        assert_eq!(p["totalCount"], 2300, "{vars}");
        let sql: Vec<String> = t.sql_log.lock().expect("log")[before..].to_vec();
        let reads = sql
            .iter()
            .filter(|s| s.contains("entities_words MATCH"))
            .count();
        assert_eq!(
            reads, 1,
            "one read of the matches for the page and the count: {sql:?}"
        );
        assert!(
            !sql.iter().any(|s| s.contains("IN (SELECT rowid")),
            "the page checks the matches it read, not a set built again: {sql:?}"
        );
    }
}
