//! The crash-consistency matrix with the real binary, on SQLite and PostgreSQL: a server is killed with
//! SIGKILL at chosen points of an initial ingest and of a refresh that changes 10% of the entities (while
//! it reads, holding its lease; on PostgreSQL also inside its write transaction, just before the commit).
//! After each kill the database passes its integrity check and holds exactly the before state; the
//! restarted server (on PostgreSQL also a surviving replica) has the source read within the lease ttl
//! plus the read time, and `/readyz` names the source until then. Also: `greenroom backup` while serving,
//! restored into a fresh server.

use crate::crash::{catalog_yaml, config, expected, wait_for, Source, Store};
use crate::serve;
use sea_orm::{ConnectionTrait, TransactionTrait};
use std::time::{Duration, Instant};

const N: usize = 3000;
/// The recovery target: a dead holder's lease lapses within 30 s; plus the time to read the catalog.
const TARGET: Duration = Duration::from_secs(30);
const READ_TIME: Duration = Duration::from_secs(20);

/// Until the store holds `want` (the whole catalog of one version).
async fn wait_catalog(store: &Store, want: &[(String, Option<String>)], within: Duration) {
    wait_for("the catalog", within, || async {
        (store.catalog().await == want).then_some(())
    })
    .await;
}

/// Until a server began reading the held source (one more request arrived than `before`).
async fn wait_read_started(source: &Source, before: usize) {
    wait_for("a read of the source", Duration::from_secs(30), || async {
        (source.arrivals() > before).then_some(())
    })
    .await;
}

/// PostgreSQL: locks every lease row in a transaction of the test's own. A run's commit renews its lease
/// inside its write transaction, so it now waits there, everything written and nothing committed, until
/// this transaction ends.
async fn lock_leases(store: &Store) -> sea_orm::DatabaseTransaction {
    let txn = store.db.begin().await.expect("begin");
    txn.execute_unprepared("SELECT * FROM leases FOR UPDATE")
        .await
        .expect("lock leases");
    txn
}

/// PostgreSQL: until a backend that has written entities waits for a lock (the fenced commit).
async fn wait_write_blocked(store: &Store) {
    wait_for("the write to wait at its fence", Duration::from_secs(30), || async {
        let n = store
            .count(
                "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.relation = 'entities'::regclass AND l.mode = 'RowExclusiveLock' AND l.granted \
                 AND a.wait_event_type = 'Lock' AND a.datname = current_database()",
            )
            .await;
        (n > 0).then_some(())
    })
    .await;
}

/// Kill points of the first load: mid-read (a request held at the source), and on PostgreSQL inside the
/// write transaction. The restart uses the default lease ttl (15 s) and must load within the target.
async fn initial_ingest(store: Store, dir: &std::path::Path, in_write: bool) {
    let source = Source::serve(catalog_yaml(N, 1)).await;
    let cfg = config(dir, &store, &source.url, "");
    source.hold(true);
    let first = serve(&cfg);
    wait_read_started(&source, 0).await;
    let lock = if in_write {
        let lock = lock_leases(&store).await;
        source.hold(false);
        wait_write_blocked(&store).await;
        Some(lock)
    } else {
        None
    };
    let killed = first.kill9();
    if let Some(lock) = lock {
        lock.rollback().await.expect("unlock");
    }
    store.assert_consistent().await;
    assert!(
        store.catalog().await.is_empty(),
        "a partial first load was kept"
    );

    source.hold(true);
    let second = serve(&cfg);
    let (code, body) = second.readyz().await;
    assert_eq!(code, 503, "ready before the catalog was loaded: {body}");
    let pending = body["pending"].as_array().cloned().unwrap_or_default();
    assert!(
        pending
            .iter()
            .any(|p| p.as_str().unwrap_or("").contains("/catalog.yaml")),
        "readyz names the pending source: {body}"
    );
    let health = reqwest::get(format!("{}/healthz", second.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "healthz is liveness only");
    source.hold(false);
    wait_catalog(&store, &expected(N, 1), TARGET + READ_TIME).await;
    let recovery = killed.elapsed();
    wait_for("ready", Duration::from_secs(10), || async {
        (second.readyz().await.0 == 200).then_some(())
    })
    .await;
    let point = if in_write { "in the write" } else { "mid-read" };
    let backend = if store.postgres {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!("initial ingest, SIGKILL {point} ({backend}): catalog of {N} complete {recovery:?} after the kill (target {:?})", TARGET + READ_TIME);
    assert!(recovery < TARGET + READ_TIME);
    store.assert_consistent().await;
    drop(second);
    store.cleanup().await;
}

/// A refresh that changes 10% of the entities, killed mid-read (and on PostgreSQL in its write): the
/// store keeps exactly the before state; the restarted server applies the after state.
async fn refresh_changing_tenth(store: Store, dir: &std::path::Path, in_write: bool) {
    let source = Source::serve(catalog_yaml(N, 1)).await;
    let cfg = config(dir, &store, &source.url, "interval: 1s, leaseTtl: 3s");
    let first = serve(&cfg);
    wait_catalog(&store, &expected(N, 1), Duration::from_secs(60)).await;
    let before = source.arrivals();
    source.hold(true);
    source.set(catalog_yaml(N, 2));
    wait_read_started(&source, before).await;
    let lock = if in_write {
        let lock = lock_leases(&store).await;
        source.hold(false);
        wait_write_blocked(&store).await;
        Some(lock)
    } else {
        None
    };
    let killed = first.kill9();
    if let Some(lock) = lock {
        lock.rollback().await.expect("unlock");
    }
    store.assert_consistent().await;
    assert_eq!(
        store.catalog().await,
        expected(N, 1),
        "not the before state"
    );

    source.hold(false);
    let second = serve(&cfg);
    wait_catalog(&store, &expected(N, 2), Duration::from_secs(3) + READ_TIME).await;
    let point = if in_write { "in the write" } else { "mid-read" };
    let backend = if store.postgres {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!(
        "10% refresh, SIGKILL {point} ({backend}): after state applied {:?} after the kill (lease ttl 3s)",
        killed.elapsed()
    );
    store.assert_consistent().await;
    drop(second);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_ingest_killed_mid_read_recovers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite(dir.path()).await;
    initial_ingest(store, dir.path(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_ingest_killed_mid_read_and_in_its_write_recovers_on_postgres() {
    for in_write in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let test = if in_write {
            "ingest_write"
        } else {
            "ingest_read"
        };
        let Some(store) = Store::postgres(test).await else {
            return;
        };
        initial_ingest(store, dir.path(), in_write).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_killed_mid_read_keeps_the_before_state_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite(dir.path()).await;
    refresh_changing_tenth(store, dir.path(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_killed_mid_read_and_in_its_write_keeps_the_before_state_on_postgres() {
    for in_write in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let test = if in_write {
            "refresh_write"
        } else {
            "refresh_read"
        };
        let Some(store) = Store::postgres(test).await else {
            return;
        };
        refresh_changing_tenth(store, dir.path(), in_write).await;
    }
}

/// SQLite, kill points in time rather than in state: a file location of N entities, killed as soon as
/// its run holds the lease, then again at growing delays into the first load. Whatever the phase, the
/// store holds nothing or everything, and the restart completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_load_killed_at_growing_delays_is_all_or_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite(dir.path()).await;
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog_yaml(N, 1)).unwrap();
    let cfg = dir.path().join("greenroom.yaml");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  listen: 127.0.0.1:0\ndatabase:\n  url: {}\ncatalog:\n  refresh: {{leaseTtl: 2s}}\n  locations:\n    - type: file\n      target: {}\n",
            store.url,
            file.display()
        ),
    )
    .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for delay_ms in [0u64, 100, 300, 1000] {
        store
            .db
            .execute_unprepared("DELETE FROM leases")
            .await
            .unwrap();
        let server = serve(&cfg);
        wait_for("the lease", Duration::from_secs(30), || async {
            store
                .lease_holder_pid("catalog.yaml")
                .await
                .filter(|p| *p == server.pid())
        })
        .await;
        let target = Instant::now() + Duration::from_millis(delay_ms);
        tokio::time::sleep_until(target.into()).await;
        server.kill9();
        store.assert_consistent().await;
        let n = store.catalog().await.len();
        assert!(
            n == 0 || n == N,
            "killed {delay_ms} ms into the run: {n} of {N} entities"
        );
        seen.insert(n);
        if n == N {
            break;
        }
    }
    eprintln!("first load killed at growing delays (SQLite): states seen after the kills {seen:?}");
    let killed = Instant::now();
    let server = serve(&cfg);
    wait_catalog(&store, &expected(N, 1), Duration::from_secs(2) + READ_TIME).await;
    eprintln!(
        "restart after the last kill: catalog complete in {:?}",
        killed.elapsed()
    );
    drop(server);
}

/// PostgreSQL, two replicas: the one reading the source is killed mid-read; the survivor takes the
/// source over and applies it within the target (default lease ttl).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surviving_replica_takes_over_a_killed_refresh_on_postgres() {
    let Some(store) = Store::postgres("replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = Source::serve(catalog_yaml(N, 1)).await;
    let cfg = config(dir.path(), &store, &source.url, "interval: 1s");
    let a = serve(&cfg);
    let b = serve(&cfg);
    wait_catalog(&store, &expected(N, 1), Duration::from_secs(60)).await;
    let before = source.arrivals();
    source.hold(true);
    source.set(catalog_yaml(N, 2));
    wait_read_started(&source, before).await;
    let holder = wait_for("the lease holder", Duration::from_secs(10), || {
        store.lease_holder_pid("catalog.yaml")
    })
    .await;
    let (victim, survivor) = if holder == a.pid() { (a, b) } else { (b, a) };
    assert_eq!(
        victim.pid(),
        holder,
        "the lease is held by one of the two servers"
    );
    let killed = victim.kill9();
    store.assert_consistent().await;
    assert_eq!(
        store.catalog().await,
        expected(N, 1),
        "not the before state"
    );
    source.hold(false);
    wait_catalog(&store, &expected(N, 2), TARGET + READ_TIME).await;
    let took = killed.elapsed();
    eprintln!(
        "replica killed mid-refresh (PostgreSQL): the survivor applied the source {took:?} after the kill (target {:?})",
        TARGET + READ_TIME
    );
    assert_eq!(
        store.lease_holder_pid("catalog.yaml").await,
        Some(survivor.pid()),
        "the survivor holds the lease"
    );
    drop(survivor);
    store.cleanup().await;
}

/// `greenroom backup FILE` while the server serves (and refreshes every second); the copy, restored as a
/// fresh server's database, holds the same catalog. An existing FILE is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_restores_into_a_fresh_server() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::sqlite(dir.path()).await;
    let source = Source::serve(catalog_yaml(N, 1)).await;
    let cfg = config(dir.path(), &store, &source.url, "interval: 1s");
    let server = serve(&cfg);
    wait_catalog(&store, &expected(N, 1), Duration::from_secs(60)).await;

    let file = dir.path().join("backup.db");
    let backup = || {
        crate::bin()
            .args(["--config", &cfg.display().to_string(), "backup"])
            .arg(&file)
            .output()
            .expect("run backup")
    };
    let out = backup();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = backup();
    assert!(!again.status.success(), "an existing file is overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let original = store.catalog().await;
    drop(server);

    // Restore: the backup file becomes a new server's database (no sources configured).
    let restored_dir = tempfile::tempdir().unwrap();
    let db_file = restored_dir.path().join("greenroom.db");
    std::fs::copy(&file, &db_file).unwrap();
    let restored_url = format!("sqlite://{}?mode=rwc", db_file.display());
    let restored_cfg = restored_dir.path().join("greenroom.yaml");
    std::fs::write(
        &restored_cfg,
        format!("server:\n  listen: 127.0.0.1:0\ndatabase:\n  url: {restored_url}\n"),
    )
    .unwrap();
    let restored = serve(&restored_cfg);
    assert_eq!(restored.readyz().await.0, 200);
    let r = restored
        .gql("{ entities { totalCount } }", serde_json::json!({}))
        .await;
    assert_eq!(r["data"]["entities"]["totalCount"], N, "{r}");
    let copy = Store::sqlite(restored_dir.path()).await;
    copy.assert_consistent().await;
    assert_eq!(
        copy.catalog().await,
        original,
        "the restored catalog differs"
    );
    drop(restored);
}

/// `recordDeployment` from 8 concurrent clients (the batching writer at work), SIGKILL once 100 were
/// answered: every deployment answered with data before the kill is stored, and the store is consistent.
async fn deployments_under_load(store: Store, dir: &std::path::Path) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let source = Source::serve(catalog_yaml(20, 1)).await;
    let cfg = config(dir, &store, &source.url, "");
    let first = serve(&cfg);
    wait_catalog(&store, &expected(20, 1), TARGET + READ_TIME).await;
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for w in 0..8 {
        let (addr, answered, stop) = (first.addr.clone(), answered.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let q = serde_json::json!({
                    "query": "mutation($i: RecordDeploymentInput!) { recordDeployment(input: $i) { version } }",
                    "variables": {"i": {"entityRef": format!("component:svc-{:05}", i % 20),
                                        "environment": "production", "version": format!("w{w}-{i}")}}
                });
                let Ok(resp) = client.post(format!("{addr}/graphql")).json(&q).send().await else {
                    break;
                };
                let Ok(body) = resp.json::<serde_json::Value>().await else {
                    break;
                };
                if let Some(v) = body["data"]["recordDeployment"]["version"].as_str() {
                    answered.lock().unwrap().push(v.to_string());
                }
            }
        }));
    }
    wait_for("100 answered deployments", Duration::from_secs(60), || {
        let n = answered.lock().unwrap().len();
        async move { (n >= 100).then_some(()) }
    })
    .await;
    first.kill9();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        let _ = c.await;
    }
    store.assert_consistent().await;
    let stored: std::collections::HashSet<String> = store
        .rows("SELECT version FROM deployments")
        .await
        .iter()
        .filter_map(|r| r.try_get::<String>("", "version").ok())
        .collect();
    let answered = answered.lock().unwrap().clone();
    let lost: Vec<&String> = answered.iter().filter(|v| !stored.contains(*v)).collect();
    assert!(
        lost.is_empty(),
        "answered before the kill, then lost: {lost:?}"
    );
    eprintln!(
        "recordDeployment under load, SIGKILL: {} answered, all stored ({} rows)",
        answered.len(),
        stored.len()
    );
    let second = serve(&cfg);
    let r = second
        .gql(
            "{ deployments(first: 1) { nodes { version } } }",
            serde_json::json!({}),
        )
        .await;
    assert!(
        r["errors"].is_null(),
        "the restarted server serves deployments: {r}"
    );
    drop(second);
    store.cleanup().await;
}

/// `registerLocation` killed while its first refresh reads the new source: the catalog is exactly the
/// before state; the restarted server reads the registered source and reaches exactly the after state.
async fn register_killed_mid_read(store: Store, dir: &std::path::Path) {
    let base = Source::serve(catalog_yaml(5, 1)).await;
    let mut extra_yaml = String::new();
    for i in 0..3 {
        extra_yaml.push_str(&format!("---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: reg-{i}, description: r, tags: [reg]}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n"));
    }
    let extra = Source::serve(extra_yaml).await;
    let cfg = config(dir, &store, &base.url, "interval: 1s");
    // Registered locations may read the extra source's host (the read policy).
    let host = extra
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace(
            "catalog:\n",
            &format!("catalog:\n  allow:\n    hosts: ['{host}']\n"),
        ),
    )
    .unwrap();
    let before = expected(5, 1);
    let mut after = before.clone();
    after.extend((0..3).map(|i| (format!("component:default/reg-{i}"), Some("r".to_string()))));
    after.sort();

    let first = serve(&cfg);
    wait_catalog(&store, &before, TARGET + READ_TIME).await;
    // The dry read (first request) is answered; the refresh's read (second) is held.
    extra.hold_after(1);
    let (addr, target) = (first.addr.clone(), extra.url.clone());
    let registering = tokio::spawn(async move {
        let q = serde_json::json!({"query": format!(
            "mutation {{ registerLocation(input: {{type: \"url\", target: \"{target}\"}}) {{ location {{ id }} }} }}"
        )});
        let _ = reqwest::Client::new()
            .post(format!("{addr}/graphql"))
            .json(&q)
            .send()
            .await;
    });
    wait_read_started(&extra, 1).await;
    let killed = first.kill9();
    let _ = registering.await;
    store.assert_consistent().await;
    assert_eq!(
        store.catalog().await,
        before,
        "a half-applied registration was kept"
    );

    extra.hold_after(usize::MAX);
    let second = serve(&cfg);
    wait_for(
        "before or after, never a mix",
        TARGET + READ_TIME,
        || async {
            let now = store.catalog().await;
            assert!(now == before || now == after, "a mixed catalog: {now:?}");
            (now == after).then_some(())
        },
    )
    .await;
    eprintln!(
        "registerLocation, SIGKILL mid-read ({}): registered source applied {:?} after the kill",
        if store.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        killed.elapsed()
    );
    store.assert_consistent().await;
    drop(second);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_deployments_survive_a_kill_under_load() {
    let dir = tempfile::tempdir().unwrap();
    deployments_under_load(Store::sqlite(dir.path()).await, dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    if let Some(store) = Store::postgres("deployments_load").await {
        deployments_under_load(store, dir.path()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_killed_mid_read_is_before_or_after() {
    let dir = tempfile::tempdir().unwrap();
    register_killed_mid_read(Store::sqlite(dir.path()).await, dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    if let Some(store) = Store::postgres("register_read").await {
        register_killed_mid_read(store, dir.path()).await;
    }
}
