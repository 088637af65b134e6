//! Shared support for the end-to-end tests: a fresh database per test (SQLite file, or PostgreSQL when
//! `GREENROOM_TEST_POSTGRES_URL` is set), fixtures, the application built by [`TestApp`] (in-process
//! execution, or a real HTTP server: [`TestServer`]), and the real binary as a child process.

use api::catalog::cache::EntityCache;
use api::graphql::schema::GreenroomSchema;
use api::http::state::AppState;
use api::server::router;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod app;
pub mod git;
pub mod js;
pub mod pg;
pub mod plan;
pub mod process;
pub mod remote;

pub use app::TestApp;
pub use pg::PG_ENV;

/// The tests' own fixture folder (copied from Backstage's examples).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn examples_root() -> PathBuf {
    fixtures().join("backstage-examples").join("root.yaml")
}

/// A fresh, migrated database; dropped (PostgreSQL) or deleted (SQLite) with the value.
pub struct TestDb {
    pub db: DatabaseConnection,
    pub url: String,
    /// The SQL of every statement executed through `db`.
    pub sql_log: Arc<std::sync::Mutex<Vec<String>>>,
    /// The read cache the schema uses (as the server's, with its default settings).
    pub cache: Arc<EntityCache>,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub fn backend() -> &'static str {
        if std::env::var(PG_ENV).is_ok() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    pub async fn new() -> Self {
        let (url, dir, pg_admin) = match pg::admin_url() {
            Some(admin_url) => {
                let name = format!(
                    "gr_t_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst)
                );
                let url = pg::create(&admin_url, &name).await;
                (url, None, Some((admin_url, name)))
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (url, Some(dir), None)
            }
        };
        let mut db = api::db::connect(&url, 4)
            .await
            .expect("connect test database");
        api::db::migrate(&db).await.expect("migrate");
        let sql_log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = sql_log.clone();
        let log_sql = std::env::var("GREENROOM_TEST_LOG_SQL").is_ok();
        db.set_metric_callback(move |info| {
            if let Ok(mut l) = log.lock() {
                l.push(info.statement.sql.clone());
            }
            if log_sql {
                let sql = info.statement.sql.clone();
                eprintln!("SQL: {}", &sql[..sql.len().min(160)]);
            }
        });
        let cache = Arc::new(api::config::CatalogConfig::default().cache());
        Self {
            db,
            url,
            sql_log,
            cache,
            _dir: dir,
            pg_admin,
        }
    }

    /// Statements executed through `db` since creation.
    pub fn statement_count(&self) -> usize {
        self.sql_log.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// The schema over this database, reading sources through [`sandbox_sources`] (attach a caller to
    /// each request).
    pub fn schema(&self) -> GreenroomSchema {
        TestApp::new(self).sandboxed().schema()
    }

    /// Runs a GraphQL operation in-process as the dev caller (every scope), reading sources through
    /// [`sandbox_sources`].
    pub async fn exec(&self, query: &str, variables: Value) -> Value {
        TestApp::new(self)
            .sandboxed()
            .admin()
            .exec(query, variables)
            .await
    }

    /// Reads and applies the file location at `path`.
    pub async fn refresh(&self, path: &std::path::Path) -> api::providers::RefreshOutcome {
        api::providers::refresh_file_location(
            &self.db,
            &path.display().to_string(),
            &Default::default(),
        )
        .await
        .expect("apply location")
    }

    /// Loads Backstage's example catalog.
    pub async fn load_examples(&self) -> api::providers::RefreshOutcome {
        api::providers::refresh_file_location(
            &self.db,
            &examples_root().display().to_string(),
            &Default::default(),
        )
        .await
        .expect("apply examples")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_admin.take() {
            pg::drop_blocking(admin_url, name);
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The read policy of the tests' own sandbox: the system temp directory (where every test makes its
/// files and repositories) and the loopback addresses (where every test server listens).
pub fn sandbox_policy() -> api::confine::Policy {
    let hosts = ["127.0.0.1", "[::1]"].map(String::from);
    api::confine::Policy::new(
        &[std::env::temp_dir()],
        &hosts,
        &[],
        api::confine::DEFAULT_MAX_FILE_BYTES,
    )
    .expect("the sandbox policy")
}

/// Sources (for `registerLocation`, `catalog:register`) read through [`sandbox_policy`].
pub fn sandbox_sources() -> Arc<api::providers::Registry> {
    Arc::new(api::providers::Registry {
        resolver: sandbox_resolver(),
        ..Default::default()
    })
}

/// A placeholder resolver (and fetcher) with [`sandbox_policy`].
pub fn sandbox_resolver() -> api::providers::placeholders::PlaceholderResolver {
    api::providers::placeholders::PlaceholderResolver::new(api::providers::fetch::Fetcher::new(
        Default::default(),
        Arc::new(sandbox_policy()),
    ))
}

/// The `extensions.code` of the first error of a response.
pub fn first_error_code(resp: &Value) -> Option<&str> {
    resp["errors"][0]["extensions"]["code"].as_str()
}

/// The stored key inside a global ID (a task's id, a deployment's row id…), for tests that look at the
/// database under the API.
pub fn key_of(global_id: &str) -> String {
    api::graphql::ids::decode(global_id)
        .map(|(_, key)| key)
        .unwrap_or_else(|| panic!("'{global_id}' is not a global ID"))
}

/// A real HTTP server on an ephemeral port, serving the full router (start one with [`TestApp::serve`]).
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    handle: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// The router over any state (authentication, limits, timeouts), served as the server serves it.
    pub async fn start_with(state: AppState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let header_read = state.timeouts.header_read;
        let app = router(state, 1 << 20);
        let handle = tokio::spawn(api::server::serve_http(
            listener,
            app,
            header_read,
            std::future::pending(),
        ));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `query` with `variables` to `/graphql`, with `token` as bearer token when given; the
    /// response body as JSON.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self.client.post(self.url("/graphql"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("POST /graphql")
            .json()
            .await
            .expect("a JSON response")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
