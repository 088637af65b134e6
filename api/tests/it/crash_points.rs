//! Kills that land at an exact state, through the binary's test pause points (`api::pause`), on SQLite and
//! PostgreSQL: inside the write transaction (everything written, nothing committed) of a first load, of a
//! refresh that changes 10% of the entities and of an `unregisterLocation`; and right after an unregister
//! was answered. After each kill: the store's integrity check passes and the catalog is exactly the before
//! state (the after state for the answered unregister); the restarted server reaches the after state
//! within the recovery target, never passing through a mix.

use crate::crash::{catalog_yaml, config, expected, wait_for, Source, Store};
use crate::{serve, serve_paused};
use api::pause::{CATALOG_WRITE, UNREGISTER_WRITE};
use greenroom_tests::process::Server;
use std::path::{Path, PathBuf};
use std::time::Duration;

const N: usize = 3000;
/// Entities of the registered source in the unregister cases.
const M: usize = 400;
/// The recovery target: a dead holder's lease lapses within 30 s; plus the time to read the catalog.
const TARGET: Duration = Duration::from_secs(30);
const READ_TIME: Duration = Duration::from_secs(20);

type Catalog = Vec<(String, Option<String>)>;

/// The directory of the pause points' files: arm a point, then wait until a server paused there.
struct Pause(tempfile::TempDir);

impl Pause {
    fn new() -> Pause {
        Pause(tempfile::tempdir().unwrap())
    }

    fn dir(&self) -> &Path {
        self.0.path()
    }

    fn arm(&self, point: &str) {
        std::fs::write(self.dir().join(format!("{point}.arm")), "").unwrap();
    }

    /// Until a server paused at `point`: the marker's text (its pid and what it is about to commit).
    async fn reached(&self, point: &str) -> String {
        let marker = self.dir().join(format!("{point}.reached"));
        wait_for(point, Duration::from_secs(60), || {
            let marker = marker.clone();
            async move { std::fs::read_to_string(marker).ok() }
        })
        .await
    }
}

fn backend(store: &Store) -> &'static str {
    if store.postgres {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

/// Until the store holds `after`; every state seen meanwhile is exactly `before` or `after`.
async fn wait_before_or_after(
    store: &Store,
    before: &[(String, Option<String>)],
    after: &[(String, Option<String>)],
    within: Duration,
) {
    wait_for("the after state, never a mix", within, || async {
        let now = store.catalog().await;
        assert!(
            now == before || now == after,
            "a mixed catalog of {} entities ({} before, {} after)",
            now.len(),
            before.len(),
            after.len()
        );
        (now == after).then_some(())
    })
    .await;
}

async fn wait_ready(server: &Server) {
    wait_for("ready", Duration::from_secs(30), || async {
        (server.readyz().await.0 == 200).then_some(())
    })
    .await;
}

/// The first load, killed inside its write transaction: nothing is kept; the restart (default lease
/// ttl) loads the whole catalog within the target, and `/readyz` waits for it.
async fn first_load_in_write(store: Store, dir: &Path) {
    let pause = Pause::new();
    pause.arm(CATALOG_WRITE);
    let source = Source::serve(catalog_yaml(N, 1)).await;
    let cfg = config(dir, &store, &source.url, "");
    let first = serve_paused(&cfg, pause.dir());
    let pending = pause.reached(CATALOG_WRITE).await;
    assert!(
        pending.starts_with(&format!("pid={} ", first.pid()))
            && pending.contains(&format!(" inserted={N} ")),
        "{pending}"
    );
    let killed = first.kill9();
    store.assert_consistent().await;
    assert!(
        store.catalog().await.is_empty(),
        "a partial first load was kept"
    );

    let second = serve(&cfg);
    assert_eq!(
        second.readyz().await.0,
        503,
        "ready before the catalog was loaded"
    );
    wait_before_or_after(&store, &[], &expected(N, 1), TARGET + READ_TIME).await;
    let recovery = killed.elapsed();
    wait_ready(&second).await;
    eprintln!(
        "first load, SIGKILL inside its write ({}): catalog of {N} complete {recovery:?} after the kill (target {:?})",
        backend(&store),
        TARGET + READ_TIME
    );
    assert!(recovery < TARGET + READ_TIME);
    store.assert_consistent().await;
    drop(second);
    store.cleanup().await;
}

/// A refresh that changes 10% of the entities, killed inside its write transaction: exactly the before
/// state is kept; the restarted server applies the after state.
async fn refresh_in_write(store: Store, dir: &Path) {
    let pause = Pause::new();
    let source = Source::serve(catalog_yaml(N, 1)).await;
    let cfg = config(dir, &store, &source.url, "interval: 1s, leaseTtl: 3s");
    let first = serve_paused(&cfg, pause.dir());
    wait_before_or_after(&store, &[], &expected(N, 1), Duration::from_secs(60)).await;
    // Unchanged re-reads write nothing and do not pause: the first write after this is the 10% change.
    pause.arm(CATALOG_WRITE);
    source.set(catalog_yaml(N, 2));
    let pending = pause.reached(CATALOG_WRITE).await;
    assert!(
        pending.contains(&format!(" inserted=0 updated={} deleted=0", N / 10)),
        "{pending}"
    );
    let killed = first.kill9();
    store.assert_consistent().await;
    assert_eq!(
        store.catalog().await,
        expected(N, 1),
        "not the before state"
    );

    let second = serve(&cfg);
    let within = Duration::from_secs(3) + READ_TIME;
    wait_before_or_after(&store, &expected(N, 1), &expected(N, 2), within).await;
    eprintln!(
        "10% refresh, SIGKILL inside its write ({}): after state applied {:?} after the kill (lease ttl 3s)",
        backend(&store),
        killed.elapsed()
    );
    store.assert_consistent().await;
    drop(second);
    store.cleanup().await;
}

/// A configured source of 5 entities, and a second one of `M` that may be registered at run time.
struct Registration {
    cfg: PathBuf,
    base: Source,
    extra: Source,
    only_base: Catalog,
    with_extra: Catalog,
}

async fn registration(store: &Store, dir: &Path) -> Registration {
    let base = Source::serve(catalog_yaml(5, 1)).await;
    let mut yaml = String::new();
    for i in 0..M {
        yaml.push_str(&format!("---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: reg-{i:04}, description: r, tags: [reg]}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n"));
    }
    let extra = Source::serve(yaml).await;
    let cfg = config(dir, store, &base.url, "interval: 1s, leaseTtl: 3s");
    // Registered locations may read the extra source's host (the read policy).
    let host = extra
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let allow = format!("catalog:\n  allow:\n    hosts: ['{host}']\n");
    std::fs::write(&cfg, text.replace("catalog:\n", &allow)).unwrap();
    let only_base = expected(5, 1);
    let mut with_extra = only_base.clone();
    with_extra.extend((0..M).map(|i| (format!("component:default/reg-{i:04}"), Some("r".into()))));
    with_extra.sort();
    Registration {
        cfg,
        base,
        extra,
        only_base,
        with_extra,
    }
}

/// Registers the extra source once the configured one is loaded; its global ID.
async fn register(store: &Store, server: &Server, reg: &Registration) -> String {
    wait_before_or_after(store, &[], &reg.only_base, TARGET + READ_TIME).await;
    let q = "mutation($t: String!) { registerLocation(input: {type: \"url\", target: $t}) { location { id } } }";
    let r = server
        .gql(q, serde_json::json!({ "t": reg.extra.url }))
        .await;
    let id = r["data"]["registerLocation"]["location"]["id"].as_str();
    let id = id
        .unwrap_or_else(|| panic!("not registered: {r}"))
        .to_string();
    assert_eq!(
        store.catalog().await,
        reg.with_extra,
        "the registration was not applied"
    );
    id
}

const UNREGISTER: &str = "mutation($id: ID!) { unregisterLocation(id: $id) }";

async fn locations(store: &Store) -> i64 {
    store.count("SELECT COUNT(*) FROM locations").await
}

/// `unregisterLocation` killed inside its transaction (location and entities deleted, not committed):
/// the registration stays whole; the restarted server keeps reading it, and unregisters it when asked.
async fn unregister_in_write(store: Store, dir: &Path) {
    let pause = Pause::new();
    let reg = registration(&store, dir).await;
    let first = serve_paused(&reg.cfg, pause.dir());
    let id = register(&store, &first, &reg).await;
    pause.arm(UNREGISTER_WRITE);
    let (addr, vars) = (first.addr.clone(), serde_json::json!({ "id": id }));
    let unregistering = tokio::spawn(async move {
        let body = serde_json::json!({ "query": UNREGISTER, "variables": vars });
        let resp = reqwest::Client::new()
            .post(format!("{addr}/graphql"))
            .json(&body)
            .send()
            .await;
        resp.ok()?.json::<serde_json::Value>().await.ok()
    });
    let pending = pause.reached(UNREGISTER_WRITE).await;
    assert!(pending.contains(&format!(" entities={M}")), "{pending}");
    let killed = first.kill9();
    let answer = unregistering.await.unwrap();
    assert!(answer.is_none(), "answered before its commit: {answer:?}");
    store.assert_consistent().await;
    assert_eq!(
        store.catalog().await,
        reg.with_extra,
        "not the before state"
    );
    assert_eq!(
        locations(&store).await,
        2,
        "the location row went without its entities"
    );

    let reads = reg.extra.arrivals();
    let second = serve(&reg.cfg);
    wait_ready(&second).await;
    wait_for(
        "a read of the registered source",
        TARGET + READ_TIME,
        || async { (reg.extra.arrivals() > reads).then_some(()) },
    )
    .await;
    eprintln!(
        "unregisterLocation, SIGKILL inside its write ({}): before state kept, registered source read again {:?} after the kill",
        backend(&store),
        killed.elapsed()
    );
    assert_eq!(
        store.catalog().await,
        reg.with_extra,
        "not the before state"
    );
    let r = second
        .gql(UNREGISTER, serde_json::json!({ "id": id }))
        .await;
    assert_eq!(r["data"]["unregisterLocation"], true, "{r}");
    assert_eq!(store.catalog().await, reg.only_base, "not the after state");
    store.assert_consistent().await;
    drop(second);
    store.cleanup().await;
}

/// `unregisterLocation` answered with data, then SIGKILL at once: the removal is durable; the restarted
/// server reads the configured source again and never the unregistered one.
async fn unregister_answered(store: Store, dir: &Path) {
    let reg = registration(&store, dir).await;
    let first = serve(&reg.cfg);
    let id = register(&store, &first, &reg).await;
    let r = first.gql(UNREGISTER, serde_json::json!({ "id": id })).await;
    let killed = first.kill9();
    assert_eq!(r["data"]["unregisterLocation"], true, "{r}");
    store.assert_consistent().await;
    assert_eq!(
        store.catalog().await,
        reg.only_base,
        "an answered unregister was lost"
    );
    assert_eq!(
        locations(&store).await,
        1,
        "the unregistered location row survived"
    );

    let (reads, base_reads) = (reg.extra.arrivals(), reg.base.arrivals());
    let second = serve(&reg.cfg);
    wait_ready(&second).await;
    wait_for(
        "a read of the configured source",
        TARGET + READ_TIME,
        || async { (reg.base.arrivals() > base_reads).then_some(()) },
    )
    .await;
    eprintln!(
        "unregisterLocation answered, then SIGKILL ({}): after state kept, configured source read again {:?} after the kill",
        backend(&store),
        killed.elapsed()
    );
    assert_eq!(
        reg.extra.arrivals(),
        reads,
        "the unregistered source was read again"
    );
    assert_eq!(store.catalog().await, reg.only_base, "not the after state");
    store.assert_consistent().await;
    drop(second);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_killed_inside_its_write_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    first_load_in_write(Store::sqlite(dir.path()).await, dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    if let Some(store) = Store::postgres("point_first_load").await {
        first_load_in_write(store, dir.path()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_killed_inside_its_write_keeps_the_before_state() {
    let dir = tempfile::tempdir().unwrap();
    refresh_in_write(Store::sqlite(dir.path()).await, dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    if let Some(store) = Store::postgres("point_refresh").await {
        refresh_in_write(store, dir.path()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregister_killed_inside_its_write_keeps_the_registration_whole() {
    let dir = tempfile::tempdir().unwrap();
    unregister_in_write(Store::sqlite(dir.path()).await, dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    if let Some(store) = Store::postgres("point_unregister").await {
        unregister_in_write(store, dir.path()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_unregister_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    unregister_answered(Store::sqlite(dir.path()).await, dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    if let Some(store) = Store::postgres("unregister_answered").await {
        unregister_answered(store, dir.path()).await;
    }
}
