//! A local HTTP server standing in for a remote catalog host: serves files from a map with ETags,
//! counts requests per path, and can be told to fail or stall a path.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Files {
    bodies: HashMap<String, String>,
    failing: HashMap<String, u16>,
    stalled: HashMap<String, Duration>,
    /// Stalled only from the second request on.
    stalled_later: HashMap<String, Duration>,
    redirects: HashMap<String, String>,
    hits: HashMap<String, usize>,
    not_modified: usize,
}

type Shared = Arc<Mutex<Files>>;

pub struct RemoteFiles {
    pub base: String,
    files: Shared,
    handle: tokio::task::JoinHandle<()>,
}

impl RemoteFiles {
    pub async fn start() -> Self {
        let files: Shared = Arc::default();
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(files.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            files,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Files) -> T) -> T {
        f(&mut self.files.lock().expect("remote files lock"))
    }

    /// Serves `body` at `path` (and clears any failure set for it).
    pub fn put(&self, path: &str, body: &str) {
        self.with(|f| {
            f.failing.remove(path);
            f.bodies.insert(path.to_string(), body.to_string());
        });
    }

    /// Answers `path` with `status` from now on.
    pub fn fail(&self, path: &str, status: u16) {
        self.with(|f| f.failing.insert(path.to_string(), status));
    }

    /// Waits `delay` before answering `path`.
    pub fn stall(&self, path: &str, delay: Duration) {
        self.with(|f| f.stalled.insert(path.to_string(), delay));
    }

    /// Requests received for `path`.
    /// Answers `path` at once the first time and after `delay` from then on.
    pub fn stall_after_first(&self, path: &str, delay: Duration) {
        self.with(|f| f.stalled_later.insert(path.to_string(), delay));
    }

    /// Answers `path` with `302 Found` to `location`.
    pub fn redirect(&self, path: &str, location: &str) {
        self.with(|f| f.redirects.insert(path.to_string(), location.to_string()));
    }

    pub fn hits(&self, path: &str) -> usize {
        self.with(|f| f.hits.get(path).copied().unwrap_or(0))
    }

    /// `304 Not Modified` answers sent.
    pub fn not_modified(&self) -> usize {
        self.with(|f| f.not_modified)
    }
}

impl Drop for RemoteFiles {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

fn etag(body: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

async fn serve(State(files): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let stall = {
        let Ok(mut f) = files.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let hits = f.hits.entry(path.clone()).or_default();
        *hits += 1;
        let later = (*hits > 1).then(|| f.stalled_later.get(&path).copied());
        f.stalled.get(&path).copied().or(later.flatten())
    };
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    let Ok(mut f) = files.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Some(to) = f.redirects.get(&path) {
        return (StatusCode::FOUND, [("location", to.clone())]).into_response();
    }
    if let Some(code) = f.failing.get(&path) {
        return StatusCode::from_u16(*code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let Some(body) = f.bodies.get(&path).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let tag = etag(&body);
    let matches = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == tag);
    if matches {
        f.not_modified += 1;
        return (StatusCode::NOT_MODIFIED, [("etag", tag)]).into_response();
    }
    (
        [("etag", tag), ("content-type", "application/yaml".into())],
        body,
    )
        .into_response()
}
