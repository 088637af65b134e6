//! Fresh PostgreSQL databases for tests, on the server `GREENROOM_TEST_POSTGRES_URL` names: created
//! empty (a leftover of the same name is dropped first) and dropped afterwards, forcing out connections.

use sea_orm::ConnectionTrait;

/// The variable naming the PostgreSQL server (an admin connection URL) the suite may use.
pub const PG_ENV: &str = "GREENROOM_TEST_POSTGRES_URL";

/// The admin URL of [`PG_ENV`], or `None` when the suite runs on SQLite only.
pub fn admin_url() -> Option<String> {
    std::env::var(PG_ENV).ok()
}

/// The URL of the database `name` on the server of `admin_url`.
pub fn url_of(admin_url: &str, name: &str) -> String {
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    format!("{base}/{name}")
}

/// Creates the empty database `name` on the server of `admin_url` (dropping a leftover of that name);
/// returns its URL.
pub async fn create(admin_url: &str, name: &str) -> String {
    let admin = api::db::connect(admin_url, 1)
        .await
        .expect("connect to PostgreSQL");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.execute_unprepared(&sql).await.expect(&sql);
    }
    admin.close().await.ok();
    url_of(admin_url, name)
}

/// Drops the database `name` (best effort: a test cleaning up must not fail for it).
pub async fn drop(admin_url: &str, name: &str) {
    if let Ok(admin) = api::db::connect(admin_url, 1).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        let _ = admin.close().await;
    }
}

/// [`drop`] from synchronous code (a `Drop` impl), on a runtime of its own.
pub fn drop_blocking(admin_url: String, name: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(drop(&admin_url, &name));
        }
    })
    .join();
}

/// Runs `scenario` with the URL of a fresh database: a new SQLite file, or, when [`PG_ENV`] is set, a
/// new PostgreSQL database `<name>_<pid>`, dropped afterwards.
pub async fn on_fresh_database<F, Fut>(name: &str, scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    match admin_url() {
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("gr.db").display());
            scenario(url).await;
        }
        Some(admin) => {
            let name = format!("{name}_{}", std::process::id());
            let url = create(&admin, &name).await;
            scenario(url).await;
            drop(&admin, &name).await;
        }
    }
}
