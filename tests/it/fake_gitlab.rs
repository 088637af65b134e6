//! A fake GitLab on 127.0.0.1 for `publish:gitlab` and `publish:gitlab:merge-request`
//! (tests/it/publish_gitlab.rs): the REST API v4 calls they make (namespaces, current user, projects,
//! members, branches, protected branches, variables, users, merge requests) with GitLab's shapes and
//! `PRIVATE-TOKEN` / OAuth bearer auth, calls it can be told to fail, and git smart HTTP
//! (`git-http-backend` as CGI over the projects' bare repositories, as `oauth2:<token>`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The only token the fake accepts.
pub const TOKEN: &str = "glpat-fake-token-1234567890";
/// The group `acme` (id 10) and its subgroup `acme/platform` (id 11); the user `ann` (id 20, the token's
/// user) and `bob` (id 21).
pub const GROUP: &str = "acme";

const NAMESPACES: &[(&str, u64, &str)] = &[
    ("acme", 10, "group"),
    ("acme/platform", 11, "group"),
    ("ann", 20, "user"),
];
const USERS: &[(&str, u64)] = &[("ann", 20), ("bob", 21)];

/// One REST call the fake answered: method, path (under `/api/v4`, as sent), query and JSON body.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
}

/// A project the fake holds.
#[derive(Clone)]
struct Project {
    id: u64,
    namespace: String,
    path: String,
    json: Value,
}

pub struct Fake {
    root: tempfile::TempDir,
    pub port: u16,
    calls: Mutex<Vec<Call>>,
    failures: Mutex<Vec<(String, String, StatusCode, Value)>>,
    projects: Mutex<Vec<Project>>,
    merge_requests: Mutex<Vec<(u64, Value)>>,
    hits: AtomicUsize,
}

impl Fake {
    /// The recorded calls of `method path`.
    pub fn calls(&self, method: &str, path: &str) -> Vec<Call> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.method == method && c.path == path)
            .cloned()
            .collect()
    }

    /// Every recorded REST call as `METHOD path`, in order.
    pub fn call_lines(&self) -> Vec<String> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }

    /// How many requests of any kind reached the fake.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Answers `method path` with `status` and GitLab's error body `{"message": message}`.
    pub fn fail(&self, method: &str, path: &str, status: u16, message: Value) {
        let status = StatusCode::from_u16(status).unwrap();
        let entry = (method.to_string(), path.to_string(), status, message);
        self.failures.lock().unwrap().push(entry);
    }

    /// The bare repository of `namespace/path`.
    pub fn bare(&self, namespace: &str, path: &str) -> std::path::PathBuf {
        self.root.path().join(namespace).join(format!("{path}.git"))
    }

    /// A project `namespace/path` whose `main` holds `files`; returns its id.
    pub fn seed_project(&self, namespace: &str, path: &str, files: &[(&str, &str)]) -> u64 {
        crate::fake_git::seed(&self.bare(namespace, path), files);
        let ns = NAMESPACES.iter().find(|n| n.0 == namespace).unwrap();
        let body = json!({"name": path, "namespace_id": ns.1, "visibility": "private"});
        let p = self.add_project(ns, path, &body);
        p.id
    }

    fn add_project(&self, ns: &(&str, u64, &str), path: &str, body: &Value) -> Project {
        let mut projects = self.projects.lock().unwrap();
        let id = 100 + projects.len() as u64;
        let full = format!("{}/{path}", ns.0);
        let web = format!("http://127.0.0.1:{}/{full}", self.port);
        let json = json!({
            "id": id, "name": body["name"], "path": path, "path_with_namespace": full,
            "namespace": {"id": ns.1, "full_path": ns.0, "kind": ns.2},
            "visibility": body["visibility"], "description": body["description"],
            "topics": body["topics"].as_array().cloned().unwrap_or_default(),
            "default_branch": "main", "web_url": web, "http_url_to_repo": format!("{web}.git"),
            "ssh_url_to_repo": format!("git@127.0.0.1:{full}.git"),
        });
        let p = Project {
            id,
            namespace: ns.0.to_string(),
            path: path.to_string(),
            json,
        };
        projects.push(p.clone());
        p
    }

    /// The project `:id` names: a number or a URL-encoded `namespace/path`.
    fn project(&self, id: &str) -> Option<Project> {
        let projects = self.projects.lock().unwrap();
        projects
            .iter()
            .find(|p| p.id.to_string() == id || format!("{}/{}", p.namespace, p.path) == id)
            .cloned()
    }
}

/// Starts the fake on an ephemeral loopback port.
pub async fn fake_gitlab() -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = Arc::new(Fake {
        root: tempfile::tempdir().unwrap(),
        port: listener.local_addr().unwrap().port(),
        calls: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        projects: Mutex::new(Vec::new()),
        merge_requests: Mutex::new(Vec::new()),
        hits: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    fake
}

fn error(status: StatusCode, message: Value) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        json!(format!("404 {what} Not Found")),
    )
}

/// `%XX`-decoding of a path segment.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query parameter, form-decoded.
fn param(query: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://x/?{query}")).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.hits.fetch_add(1, Ordering::SeqCst);
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if uri.path().contains(".git/") {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{TOKEN}"));
        if header("authorization") != format!("Basic {basic}") {
            let mut r = error(StatusCode::UNAUTHORIZED, json!("HTTP Basic: Access denied"));
            let realm = "Basic realm=\"GitLab\"".parse().unwrap();
            r.headers_mut().insert("www-authenticate", realm);
            return r;
        }
        return crate::fake_git::cgi(fake.root.path(), &method, &uri, &headers, body).await;
    }
    let Some(path) = uri.path().strip_prefix("/api/v4") else {
        return not_found("");
    };
    let authorised =
        header("private-token") == TOKEN || header("authorization") == format!("Bearer {TOKEN}");
    if !authorised {
        return error(StatusCode::UNAUTHORIZED, json!("401 Unauthorized"));
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let query = uri.query().unwrap_or("").to_string();
    fake.calls.lock().unwrap().push(Call {
        method: method.to_string(),
        path: path.to_string(),
        query: query.clone(),
        body: body.clone(),
    });
    let failure = {
        let failures = fake.failures.lock().unwrap();
        failures
            .iter()
            .find(|f| f.0 == method.as_str() && f.1 == path)
            .map(|f| (f.2, f.3.clone()))
    };
    if let Some((status, message)) = failure {
        return error(status, message);
    }
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    api_call(&fake, method.as_str(), &parts, &query, &body)
}

/// The REST endpoints the actions use, with GitLab's shapes.
fn api_call(fake: &Fake, method: &str, parts: &[&str], query: &str, body: &Value) -> Response {
    match (method, parts) {
        ("GET", ["namespaces", id]) => match NAMESPACES.iter().find(|n| n.0 == *id) {
            Some((path, nid, kind)) => axum::Json(json!({
                "id": nid, "name": path, "path": path, "kind": kind, "full_path": path,
            }))
            .into_response(),
            None => not_found("Namespace"),
        },
        ("GET", ["user"]) => axum::Json(json!({"id": 20, "username": "ann"})).into_response(),
        ("GET", ["users"]) => {
            let name = param(query, "username").unwrap_or_default();
            let found: Vec<Value> = USERS
                .iter()
                .filter(|u| u.0 == name)
                .map(|u| json!({"id": u.1, "username": u.0}))
                .collect();
            axum::Json(json!(found)).into_response()
        }
        ("GET", ["groups" | "users", ns, "projects"]) => {
            let search = param(query, "search").unwrap_or_default();
            let projects = fake.projects.lock().unwrap();
            let found: Vec<Value> = projects
                .iter()
                .filter(|p| p.namespace == *ns && p.path.contains(&search))
                .map(|p| p.json.clone())
                .collect();
            axum::Json(json!(found)).into_response()
        }
        ("POST", ["projects"]) => create(fake, body),
        ("GET", ["projects", id]) => match fake.project(id) {
            Some(p) => axum::Json(p.json).into_response(),
            None => not_found("Project"),
        },
        ("POST", ["projects", id, rest @ ..]) | ("GET", ["projects", id, rest @ ..]) => {
            let Some(p) = fake.project(id) else {
                return not_found("Project");
            };
            project_call(fake, method, &p, rest, query, body)
        }
        _ => not_found(""),
    }
}

/// `POST /projects`: a bare repository in the namespace, and the project as GitLab describes it.
fn create(fake: &Fake, body: &Value) -> Response {
    let Some(ns) = NAMESPACES.iter().find(|n| body["namespace_id"] == n.1) else {
        return error(StatusCode::NOT_FOUND, json!("404 Namespace Not Found"));
    };
    let name = body["name"].as_str().unwrap_or_default();
    let path = body["path"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| name.to_lowercase().replace(' ', "-"));
    let bare = fake.bare(ns.0, &path);
    if bare.exists() {
        let taken = json!({"name": ["has already been taken"], "path": ["has already been taken"]});
        return error(StatusCode::BAD_REQUEST, taken);
    }
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    let ok = std::process::Command::new("git")
        .args(["init", "--quiet", "--bare", "-b", "main"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(ok.success());
    let p = fake.add_project(ns, &path, body);
    (StatusCode::CREATED, axum::Json(p.json)).into_response()
}

/// Git in the project's bare repository.
fn git_bare(fake: &Fake, p: &Project, args: &[&str]) -> bool {
    std::process::Command::new("git")
        .arg("--git-dir")
        .arg(fake.bare(&p.namespace, &p.path))
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `/projects/:id/...` calls.
fn project_call(
    fake: &Fake,
    method: &str,
    p: &Project,
    rest: &[&str],
    query: &str,
    body: &Value,
) -> Response {
    let web = p.json["web_url"].as_str().unwrap_or_default().to_string();
    let bare = fake.bare(&p.namespace, &p.path);
    let has = |b: &str| crate::fake_git::has_branch(&bare, b);
    match (method, rest) {
        ("POST", ["members"]) => (
            StatusCode::CREATED,
            axum::Json(json!({"id": body["user_id"], "access_level": body["access_level"]})),
        )
            .into_response(),
        ("POST", ["repository", "branches"]) => {
            let (name, from) = (param(query, "branch"), param(query, "ref"));
            let (Some(name), Some(from)) = (name, from) else {
                return error(StatusCode::BAD_REQUEST, json!("400 Bad request"));
            };
            let from_ref = format!("refs/heads/{from}");
            let to = format!("refs/heads/{name}");
            if !has(&from) || !git_bare(fake, p, &["update-ref", &to, &from_ref]) {
                return error(
                    StatusCode::BAD_REQUEST,
                    json!("Invalid reference name: ref"),
                );
            }
            let b = json!({"name": name, "web_url": format!("{web}/-/tree/{name}")});
            (StatusCode::CREATED, axum::Json(b)).into_response()
        }
        ("GET", ["repository", "branches", name]) if has(name) => {
            axum::Json(json!({"name": name, "web_url": format!("{web}/-/tree/{name}")}))
                .into_response()
        }
        ("GET", ["repository", "branches", _]) => not_found("Branch"),
        ("POST", ["protected_branches"]) => {
            let name = param(query, "name").unwrap_or_default();
            let levels = json!([{"access_level": 40, "access_level_description": "Maintainers"}]);
            let b = json!({"id": 1, "name": name, "push_access_levels": levels});
            (StatusCode::CREATED, axum::Json(b)).into_response()
        }
        ("POST", ["variables"]) => (StatusCode::CREATED, axum::Json(body.clone())).into_response(),
        ("GET", ["merge_requests"]) => {
            let source = param(query, "source_branch").unwrap_or_default();
            let mrs = fake.merge_requests.lock().unwrap();
            let found: Vec<Value> = mrs
                .iter()
                .filter(|(id, mr)| *id == p.id && mr["source_branch"] == source.as_str())
                .map(|(_, mr)| mr.clone())
                .collect();
            axum::Json(json!(found)).into_response()
        }
        ("POST", ["merge_requests"]) => merge_request(fake, p, &web, body, &has),
        _ => not_found(""),
    }
}

/// `POST /projects/:id/merge_requests`: 409/400 as GitLab answers them, else the merge request.
fn merge_request(
    fake: &Fake,
    p: &Project,
    web: &str,
    body: &Value,
    has: &dyn Fn(&str) -> bool,
) -> Response {
    let source = body["source_branch"].as_str().unwrap_or_default();
    let target = body["target_branch"].as_str().unwrap_or_default();
    if !has(source) || !has(target) {
        return error(StatusCode::BAD_REQUEST, json!(["Source branch is invalid"]));
    }
    let mut mrs = fake.merge_requests.lock().unwrap();
    if mrs
        .iter()
        .any(|(id, mr)| *id == p.id && mr["source_branch"] == source)
    {
        let text = "Another open merge request already exists for this source branch: !1";
        return error(StatusCode::CONFLICT, json!([text]));
    }
    let iid = mrs.iter().filter(|(id, _)| *id == p.id).count() + 1;
    let labels: Vec<&str> = body["labels"]
        .as_str()
        .map(|l| l.split(',').collect())
        .unwrap_or_default();
    let reviewers: Vec<Value> = body["reviewer_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|id| json!({"id": id}))
        .collect();
    let mr = json!({
        "id": 9000 + iid, "iid": iid, "project_id": p.id, "state": "opened",
        "title": body["title"], "description": body["description"],
        "source_branch": source, "target_branch": target,
        "assignee": body["assignee_id"].as_u64().map(|id| json!({"id": id})),
        "reviewers": reviewers, "labels": labels,
        "force_remove_source_branch": body["remove_source_branch"],
        "web_url": format!("{web}/-/merge_requests/{iid}"),
    });
    mrs.push((p.id, mr.clone()));
    (StatusCode::CREATED, axum::Json(mr)).into_response()
}
