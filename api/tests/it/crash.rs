//! What the crash-recovery tests share: a store (SQLite file or a fresh PostgreSQL database), servers
//! that are killed with SIGKILL, a catalog served over local HTTP that can be held mid-read, and checks of
//! the database after a crash (integrity, exact catalog state).

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_tests::pg;

/// A database the servers of one test share.
pub struct Store {
    pub url: String,
    pub db: DatabaseConnection,
    pub postgres: bool,
    /// PostgreSQL: the admin URL and the database to drop afterwards.
    admin: Option<(String, String)>,
}

impl Store {
    /// A SQLite file in `dir`.
    pub async fn sqlite(dir: &Path) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.join("greenroom.db").display());
        let db = api::db::connect(&url, 2).await.expect("connect");
        api::db::migrate(&db).await.expect("migrate");
        Store {
            url,
            db,
            postgres: false,
            admin: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (said loudly) when PostgreSQL is not configured.
    pub async fn postgres(test: &str) -> Option<Store> {
        let Some(admin_url) = pg::admin_url() else {
            eprintln!(
                "SKIPPED: {} is not set; {test} did not run on PostgreSQL",
                pg::PG_ENV
            );
            return None;
        };
        let name = format!("gr_crash_{test}_{}", std::process::id());
        let url = pg::create(&admin_url, &name).await;
        let db = api::db::connect(&url, 2).await.expect("connect");
        api::db::migrate(&db).await.expect("migrate");
        Some(Store {
            url,
            db,
            postgres: true,
            admin: Some((admin_url, name)),
        })
    }

    /// Drops the PostgreSQL database (after the servers are gone).
    pub async fn cleanup(self) {
        self.db.close().await.ok();
        if let Some((admin_url, name)) = self.admin {
            pg::drop(&admin_url, &name).await;
        }
    }

    pub async fn rows(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        let backend = self.db.get_database_backend();
        self.db
            .query_all_raw(Statement::from_string(backend, sql.to_string()))
            .await
            .expect(sql)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.rows(sql).await[0]
            .try_get_by_index::<i64>(0)
            .expect(sql)
    }

    /// Every stored entity: (ref, description), sorted.
    pub async fn catalog(&self) -> Vec<(String, Option<String>)> {
        self.rows("SELECT entity_ref, description FROM entities ORDER BY entity_ref")
            .await
            .iter()
            .map(|r| {
                (
                    r.try_get_by_index::<String>(0).unwrap(),
                    r.try_get_by_index::<Option<String>>(1).unwrap(),
                )
            })
            .collect()
    }

    /// The store's own integrity check (SQLite `integrity_check`; PostgreSQL `amcheck` on every B-tree
    /// index), and the catalog's own invariants: search rows and relations belong to stored entities.
    pub async fn assert_consistent(&self) {
        if self.postgres {
            let amcheck = self
                .db
                .execute_unprepared("CREATE EXTENSION IF NOT EXISTS amcheck")
                .await;
            match amcheck {
                Ok(_) => {
                    self.rows(
                        "SELECT bt_index_check(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                         JOIN pg_am am ON am.oid = c.relam \
                         WHERE am.amname = 'btree' AND c.relnamespace = 'public'::regnamespace",
                    )
                    .await;
                }
                Err(e) => eprintln!("SKIPPED: amcheck is not available ({e}); indexes not checked"),
            }
        } else {
            let r = self.rows("PRAGMA integrity_check").await;
            assert_eq!(r[0].try_get_by_index::<String>(0).unwrap(), "ok");
        }
        for (what, sql) in [
            (
                "search rows without an entity",
                "SELECT COUNT(*) FROM entity_search s WHERE NOT EXISTS \
                 (SELECT 1 FROM entities e WHERE e.entity_ref = s.entity_ref)",
            ),
            (
                "entities without a search row (each has a tag)",
                "SELECT COUNT(*) FROM entities e WHERE NOT EXISTS \
                 (SELECT 1 FROM entity_search s WHERE s.entity_ref = e.entity_ref)",
            ),
            (
                "relations of no stored entity",
                "SELECT COUNT(*) FROM relations r WHERE NOT EXISTS \
                 (SELECT 1 FROM entities e WHERE e.entity_ref = r.origin_ref)",
            ),
        ] {
            assert_eq!(self.count(sql).await, 0, "{what}");
        }
    }

    /// The process id of the server holding the lease of the source whose key contains `part`.
    pub async fn lease_holder_pid(&self, part: &str) -> Option<u32> {
        let rows = self.rows("SELECT name, holder FROM leases").await;
        rows.iter().find_map(|r| {
            let name = r.try_get_by_index::<String>(0).ok()?;
            let holder = r.try_get_by_index::<String>(1).ok()?;
            name.contains(part)
                .then(|| holder.split('-').next()?.parse().ok())
                .flatten()
        })
    }
}

/// `n` components (each with a tag, so each has a search row), version `v`: in version 2, every tenth entity has a new description (10% changed).
pub fn catalog_yaml(n: usize, v: u32) -> String {
    let mut out = String::with_capacity(n * 200);
    for i in 0..n {
        let version = if v >= 2 && i % 10 == 0 { v } else { 1 };
        out.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc-{i:05}\n  description: v{version}\n  tags: [t{}]\nspec:\n  type: service\n  lifecycle: production\n  owner: team-{}\n",
            i % 5,
            i % 20
        ));
    }
    out
}

/// The catalog [`catalog_yaml`] stores: (ref, description), sorted.
pub fn expected(n: usize, v: u32) -> Vec<(String, Option<String>)> {
    let mut out: Vec<_> = (0..n)
        .map(|i| {
            let version = if v >= 2 && i % 10 == 0 { v } else { 1 };
            (
                format!("component:default/svc-{i:05}"),
                Some(format!("v{version}")),
            )
        })
        .collect();
    out.sort();
    out
}

/// A catalog served at `url` by a local HTTP server. While held, a request waits (the reading server is
/// then mid-read, holding its lease) until released.
pub struct Source {
    pub url: String,
    body: Arc<Mutex<String>>,
    hold: tokio::sync::watch::Sender<bool>,
    /// Requests that arrived.
    pub arrived: Arc<AtomicUsize>,
    /// Requests after this many wait as if held (see [`Source::hold_after`]).
    hold_from: Arc<AtomicUsize>,
}

impl Source {
    pub async fn serve(body: String) -> Source {
        let body = Arc::new(Mutex::new(body));
        let (hold, held) = tokio::sync::watch::channel(false);
        let arrived = Arc::new(AtomicUsize::new(0));
        let hold_from = Arc::new(AtomicUsize::new(usize::MAX));
        let (b, a, from) = (body.clone(), arrived.clone(), hold_from.clone());
        let app = axum::Router::new().route(
            "/catalog.yaml",
            axum::routing::get(move || {
                let (b, a, from, mut held) = (b.clone(), a.clone(), from.clone(), held.clone());
                async move {
                    let k = a.fetch_add(1, Ordering::SeqCst) + 1;
                    if k > from.load(Ordering::SeqCst) {
                        // Held until `hold_after(usize::MAX)`: polled, as the flag is not a watch.
                        while k > from.load(Ordering::SeqCst) {
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                    }
                    let _ = held.wait_for(|h| !*h).await;
                    b.lock().unwrap().clone()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/catalog.yaml", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Source {
            url,
            body,
            hold,
            arrived,
            hold_from,
        }
    }

    pub fn set(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }

    pub fn hold(&self, on: bool) {
        self.hold.send_replace(on);
    }

    /// Answers the first `n` requests and holds every later one (`usize::MAX` releases them).
    pub fn hold_after(&self, n: usize) {
        self.hold_from.store(n, Ordering::SeqCst);
    }

    pub fn arrivals(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }
}

/// Polls `check` every 50 ms until it yields a value; panics with `what` after `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A config: the store, one url location, `refresh` lines (YAML under `catalog.refresh`).
pub fn config(dir: &Path, store: &Store, source: &str, refresh: &str) -> std::path::PathBuf {
    let path = dir.join("greenroom.yaml");
    std::fs::write(
        &path,
        format!(
            "server:\n  listen: 127.0.0.1:0\n  limits:\n    rateLimitPerSecond: 0\ndatabase:\n  url: {}\ncatalog:\n  refresh: {{{refresh}}}\n  locations:\n    - type: url\n      target: {source}\n",
            store.url
        ),
    )
    .unwrap();
    path
}
