//! Scheduled refresh of configured locations: changes are picked up within an interval, removed entities
//! go, and a broken file loses nothing.

use api::providers::scheduler::{spawn_file_locations, Schedule};
use greenroom_tests::TestDb;
use serde_json::json;
use std::time::{Duration, Instant};

fn component(name: &str, desc: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: {name}, description: {desc}}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")
}

/// Polls `query` until `check` holds (bounded), returning how long it took.
async fn wait_for(t: &TestDb, query: &str, check: impl Fn(&serde_json::Value) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let r = t.exec(query, json!({})).await;
        if check(&r) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "condition never held: {r}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_picked_up_within_an_interval_and_broken_files_lose_nothing() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &f,
        format!("{}---\n{}", component("a", "one"), component("b", "one")),
    )
    .unwrap();
    let interval = Duration::from_millis(300);
    let refreshers = spawn_file_locations(
        t.db.clone(),
        vec![f.display().to_string()],
        Schedule {
            interval,
            timeout: Duration::from_secs(10),
        },
        "test-holder".into(),
        greenroom_tests::sandbox_resolver(),
    );
    let count = r#"{ entities(filter: {kind: ["component"]}) { totalCount } }"#;
    wait_for(&t, count, |r| r["data"]["entities"]["totalCount"] == 2).await;

    // A change is visible within one interval (plus jitter and the read itself).
    std::fs::write(
        &f,
        format!("{}---\n{}", component("a", "two"), component("b", "one")),
    )
    .unwrap();
    let took = wait_for(
        &t,
        r#"{ entity(ref: "component:a") { description } }"#,
        |r| r["data"]["entity"]["description"] == "two",
    )
    .await;
    assert!(took < interval * 3, "took {took:?}");

    // Broken YAML: nothing is lost, for several intervals.
    std::fs::write(&f, format!("{}---\nkind: [broken\n", component("a", "two"))).unwrap();
    tokio::time::sleep(interval * 3).await;
    let r = t.exec(count, json!({})).await;
    assert_eq!(r["data"]["entities"]["totalCount"], 2, "{r}");

    // An entity removed from a clean file disappears.
    std::fs::write(&f, component("a", "two")).unwrap();
    wait_for(&t, count, |r| r["data"]["entities"]["totalCount"] == 1).await;
    refreshers.stop(&t.db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_one_database_refresh_a_source_once_per_interval() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("catalog-info.yaml");
    std::fs::write(&f, component("a", "one")).unwrap();
    let interval = Duration::from_millis(250);
    let schedule = Schedule {
        interval,
        timeout: Duration::from_secs(10),
    };
    let target = vec![f.display().to_string()];
    let started = Instant::now();
    let sandbox = greenroom_tests::sandbox_resolver;
    let one = spawn_file_locations(
        t.db.clone(),
        target.clone(),
        schedule,
        "replica-1".into(),
        sandbox(),
    );
    let two = spawn_file_locations(
        t.db.clone(),
        target,
        schedule,
        "replica-2".into(),
        sandbox(),
    );
    tokio::time::sleep(interval * 8).await;
    let elapsed = started.elapsed();
    let runs = one.runs.load(std::sync::atomic::Ordering::SeqCst)
        + two.runs.load(std::sync::atomic::Ordering::SeqCst);
    one.stop(&t.db).await;
    two.stop(&t.db).await;
    // Once per interval across both replicas (each alone would run about 8 times).
    let max = elapsed.as_millis() / interval.as_millis() + 1;
    assert!(
        runs >= 3 && runs as u128 <= max,
        "{runs} runs in {elapsed:?} (max {max})"
    );
}

#[tokio::test]
async fn locations_show_refresh_status_and_refresh_location_runs_a_source_now() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &f,
        format!("{}---\n{}", component("a", "one"), component("b", "one")),
    )
    .unwrap();
    t.refresh(&f).await;
    let q = "{ locations { nodes { id type target lastRefreshAt lastSuccessAt lastError entityCount } } }";
    let r = t.exec(q, json!({})).await;
    let loc = &r["data"]["locations"]["nodes"][0];
    assert_eq!(loc["type"], "file");
    assert_eq!(loc["entityCount"], 2);
    assert!(loc["lastError"].is_null());
    assert!(
        loc["lastRefreshAt"].is_string() && loc["lastSuccessAt"].is_string(),
        "{r}"
    );
    let id = loc["id"].as_str().unwrap().to_string();

    // A broken read is recorded on the source; what it provided stays.
    std::fs::write(&f, format!("{}---\nkind: [broken\n", component("a", "two"))).unwrap();
    let m =
        "mutation($id: ID!) { refreshLocation(id: $id) { lastError entityCount lastSuccessAt } }";
    let r = t.exec(m, json!({ "id": id })).await;
    let status = &r["data"]["refreshLocation"];
    assert!(
        status["lastError"]
            .as_str()
            .unwrap()
            .contains("invalid YAML"),
        "{r}"
    );
    assert_eq!(status["entityCount"], 2);
    let r = t
        .exec(
            r#"{ entity(ref: "component:a") { description } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entity"]["description"], "two");

    // refreshEntity re-reads the entity's source.
    std::fs::write(
        &f,
        format!("{}---\n{}", component("a", "three"), component("b", "one")),
    )
    .unwrap();
    let re = r#"mutation { refreshEntity(ref: "component:a") { ref description } }"#;
    let r = t.exec(re, json!({})).await;
    assert_eq!(r["data"]["refreshEntity"]["description"], "three", "{r}");
    let r = t
        .exec(
            r#"mutation { refreshEntity(ref: "component:nope") { ref } }"#,
            json!({}),
        )
        .await;
    assert_eq!(greenroom_tests::first_error_code(&r), Some("NOT_FOUND"));

    let missing = api::graphql::ids::encode(api::graphql::ids::Kind::LocationSource, "999");
    let r = t.exec(m, json!({ "id": missing })).await;
    assert_eq!(greenroom_tests::first_error_code(&r), Some("NOT_FOUND"));
    let r = t.exec(m, json!({ "id": "x" })).await;
    assert_eq!(
        greenroom_tests::first_error_code(&r),
        Some("BAD_USER_INPUT")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_dry_run_and_unregister_locations_at_run_time() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &f,
        format!(
            "{}---\n{}",
            component("a", "one"),
            component("bad name", "x")
        ),
    )
    .unwrap();
    let target = f.display().to_string();
    let register = r#"mutation($t: String!, $dry: Boolean!) {
        registerLocation(input: {type: "file", target: $t, dryRun: $dry}) { location { id entityCount } entities { ref kind } errors } }"#;

    // Dry run: reports what it would add, writes nothing.
    let r = t.exec(register, json!({ "t": target, "dry": true })).await;
    let res = &r["data"]["registerLocation"];
    assert!(res["location"].is_null(), "{r}");
    assert_eq!(res["entities"][0]["ref"], "component:default/a");
    assert!(
        res["errors"][0].as_str().unwrap().contains("metadata.name"),
        "{r}"
    );
    let r = t
        .exec(
            "{ locations { nodes { id } } entities { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["locations"]["nodes"].as_array().unwrap().len(), 0);
    assert_eq!(r["data"]["entities"]["totalCount"], 0);

    // Registering stores it and its entities; a second registration is a conflict.
    let r = t.exec(register, json!({ "t": target, "dry": false })).await;
    let id = r["data"]["registerLocation"]["location"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        r["data"]["registerLocation"]["location"]["entityCount"], 1,
        "{r}"
    );
    let r = t.exec(register, json!({ "t": target, "dry": false })).await;
    assert_eq!(
        greenroom_tests::first_error_code(&r),
        Some("CONFLICT"),
        "{r}"
    );
    let r = t
        .exec(
            register,
            json!({ "t": "/nonexistent/x.yaml", "dry": false }),
        )
        .await;
    assert_eq!(
        greenroom_tests::first_error_code(&r),
        Some("BAD_USER_INPUT")
    );

    // The scheduler picks registered locations up: a change arrives without a manual refresh.
    let refreshers = spawn_file_locations(
        t.db.clone(),
        vec![],
        Schedule {
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
        },
        "test-holder".into(),
        greenroom_tests::sandbox_resolver(),
    );
    std::fs::write(&f, component("a", "two")).unwrap();
    wait_for(
        &t,
        r#"{ entity(ref: "component:a") { description } }"#,
        |r| r["data"]["entity"]["description"] == "two",
    )
    .await;

    // Unregistering removes the source and the entities only it provided.
    let un = "mutation($id: ID!) { unregisterLocation(id: $id) }";
    let r = t.exec(un, json!({ "id": id })).await;
    assert_eq!(r["data"]["unregisterLocation"], true, "{r}");
    wait_for(
        &t,
        "{ locations { nodes { id } } entities { totalCount } }",
        |r| {
            r["data"]["entities"]["totalCount"] == 0
                && r["data"]["locations"]["nodes"]
                    .as_array()
                    .is_some_and(|l| l.is_empty())
        },
    )
    .await;
    // ...and it stays gone: the scheduler does not re-create it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = t
        .exec(
            "{ locations { nodes { id } } entities { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entities"]["totalCount"], 0, "{r}");
    assert_eq!(
        r["data"]["locations"]["nodes"].as_array().map(Vec::len),
        Some(0),
        "{r}"
    );
    let r = t.exec(un, json!({ "id": id })).await;
    assert_eq!(greenroom_tests::first_error_code(&r), Some("NOT_FOUND"));
    refreshers.stop(&t.db).await;
}
