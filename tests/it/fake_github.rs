//! A fake GitHub on 127.0.0.1 for `publish:github` (tests/it/publish_github.rs): the REST calls it makes
//! (users, create repository for an organisation or the authenticated user, topics, team and collaborator
//! access, branch protection; for `publish:github:pull-request` get repository, pull request and
//! reviewers) with GitHub's shapes and token auth, calls it can be told to fail, and git smart HTTP
//! (`git-http-backend` as CGI over bare repositories the fake creates or a test seeds).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The only token the fake accepts.
pub const TOKEN: &str = "ghs_fake_token_1234567890";
/// The organisation `GET /users/{owner}` calls an `Organization`.
pub const ORG: &str = "acme";
/// The authenticated user: `GET /users/ann` is a `User`, and `POST /user/repos` creates under it.
pub const USER: &str = "ann";

/// One REST call the fake answered: method, path (under `/api/v3`) and JSON body.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// A REST call the fake answers with an error instead.
struct Failure {
    method: String,
    path: String,
    status: StatusCode,
    message: String,
}

pub struct Fake {
    root: tempfile::TempDir,
    pub port: u16,
    calls: Mutex<Vec<Call>>,
    failures: Mutex<Vec<Failure>>,
    /// Every request received (REST and git, authorised or not).
    hits: AtomicUsize,
    /// Pull requests opened so far (their numbers count from 1).
    pulls: AtomicUsize,
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

    /// Answers `method path` with `status` and GitHub's error body with `message` (the call is recorded).
    pub fn fail(&self, method: &str, path: &str, status: u16, message: &str) {
        self.failures.lock().unwrap().push(Failure {
            method: method.into(),
            path: path.into(),
            status: StatusCode::from_u16(status).unwrap(),
            message: message.into(),
        });
    }

    pub fn bare(&self, owner: &str, repo: &str) -> std::path::PathBuf {
        self.root.path().join(owner).join(format!("{repo}.git"))
    }
}

/// Starts the fake on an ephemeral loopback port.
pub async fn fake_github() -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = Arc::new(Fake {
        root: tempfile::tempdir().unwrap(),
        port: listener.local_addr().unwrap().port(),
        calls: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        hits: AtomicUsize::new(0),
        pulls: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    fake
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest"});
    (status, axum::Json(body)).into_response()
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.hits.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if uri.path().contains(".git/") {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"));
        if auth != format!("Basic {basic}") {
            let mut r = error(StatusCode::UNAUTHORIZED, "Bad credentials");
            r.headers_mut().insert(
                "www-authenticate",
                "Basic realm=\"GitHub\"".parse().unwrap(),
            );
            return r;
        }
        return crate::fake_git::cgi(fake.root.path(), &method, &uri, &headers, body).await;
    }
    let Some(path) = uri.path().strip_prefix("/api/v3") else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    if auth != format!("token {TOKEN}") && auth != format!("Bearer {TOKEN}") {
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.calls.lock().unwrap().push(Call {
        method: method.to_string(),
        path: path.to_string(),
        body: body.clone(),
    });
    let failure = {
        let failures = fake.failures.lock().unwrap();
        failures
            .iter()
            .find(|f| f.method == method.as_str() && f.path == path)
            .map(|f| (f.status, f.message.clone()))
    };
    if let Some((status, message)) = failure {
        return error(status, &message);
    }
    api_call(&fake, &method, path, &body)
}

/// The REST endpoints `publish:github` uses, with GitHub's shapes.
fn api_call(fake: &Fake, method: &Method, path: &str, body: &Value) -> Response {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["users", login]) => {
            let kind = match *login {
                ORG => "Organization",
                USER => "User",
                _ => return error(StatusCode::NOT_FOUND, "Not Found"),
            };
            axum::Json(json!({"login": login, "id": 7, "type": kind})).into_response()
        }
        ("POST", ["orgs", ORG, "repos"]) => create(fake, ORG, body),
        ("POST", ["user", "repos"]) => create(fake, USER, body),
        ("PUT", ["repos", _, _, "topics"]) => {
            axum::Json(json!({"names": body["names"]})).into_response()
        }
        // Add or update team repository permissions: 204 No Content.
        ("PUT", ["orgs", ORG, "teams", _, "repos", ORG, _]) => {
            StatusCode::NO_CONTENT.into_response()
        }
        // Add a repository collaborator: 201 with the invitation.
        ("PUT", ["repos", o, r, "collaborators", user]) => (
            StatusCode::CREATED,
            axum::Json(json!({
                "id": 1, "repository": {"full_name": format!("{o}/{r}")},
                "invitee": {"login": user}, "permissions": body["permission"],
            })),
        )
            .into_response(),
        ("PUT", ["repos", o, r, "branches", b, "protection"]) => axum::Json(json!({
            "url": format!("http://127.0.0.1:{}/api/v3/repos/{o}/{r}/branches/{b}/protection", fake.port),
            "enforce_admins": {"enabled": body["enforce_admins"]},
            "required_pull_request_reviews": body["required_pull_request_reviews"],
        }))
        .into_response(),
        ("GET", ["repos", o, r]) => repository(fake, o, r),
        ("POST", ["repos", o, r, "pulls"]) => pull(fake, o, r, body),
        ("POST", ["repos", _, _, "pulls", n, "requested_reviewers"]) => axum::Json(json!({
            "number": n.parse::<u64>().unwrap_or(0),
            "requested_reviewers": body["reviewers"].as_array().into_iter().flatten()
                .map(|l| json!({"login": l, "type": "User"})).collect::<Vec<_>>(),
            "requested_teams": body["team_reviewers"].as_array().into_iter().flatten()
                .map(|t| json!({"slug": t, "name": t})).collect::<Vec<_>>(),
        }))
        .into_response(),
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `GET /repos/{owner}/{repo}` of a bare repository the test seeded.
fn repository(fake: &Fake, owner: &str, name: &str) -> Response {
    if !fake.bare(owner, name).exists() {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let web = format!("http://127.0.0.1:{}/{owner}/{name}", fake.port);
    axum::Json(json!({
        "id": 1296269, "name": name, "full_name": format!("{owner}/{name}"),
        "owner": {"login": owner}, "private": false, "html_url": web,
        "clone_url": format!("{web}.git"), "default_branch": "main",
    }))
    .into_response()
}

/// `POST /repos/{owner}/{repo}/pulls`: GitHub's 422 when `head` was not pushed, else the pull request.
fn pull(fake: &Fake, owner: &str, name: &str, body: &Value) -> Response {
    let bare = fake.bare(owner, name);
    let (head, base) = (
        body["head"].as_str().unwrap_or(""),
        body["base"].as_str().unwrap_or(""),
    );
    if !crate::fake_git::has_branch(&bare, head) || !crate::fake_git::has_branch(&bare, base) {
        let errors = json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]);
        let body = json!({"message": "Validation Failed", "errors": errors});
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
    }
    let open = fake.calls("POST", &format!("/repos/{owner}/{name}/pulls"));
    if open.iter().filter(|c| c.body["head"] == head).count() > 1 {
        let message = format!("A pull request already exists for {owner}:{head}.");
        let body = json!({"message": "Validation Failed", "errors": [{"message": message}]});
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
    }
    let number = fake.pulls.fetch_add(1, Ordering::SeqCst) + 1;
    let web = format!("http://127.0.0.1:{}/{owner}/{name}", fake.port);
    let pr = json!({
        "number": number, "state": "open", "title": body["title"], "body": body["body"],
        "draft": body["draft"], "html_url": format!("{web}/pull/{number}"),
        "head": {"ref": head}, "base": {"ref": base},
    });
    (StatusCode::CREATED, axum::Json(pr)).into_response()
}

/// `POST /orgs/{org}/repos` or `POST /user/repos`: a bare repository, and the created repository as
/// GitHub describes it.
fn create(fake: &Fake, owner: &str, body: &Value) -> Response {
    let name = body["name"].as_str().unwrap_or_default();
    let bare = fake.bare(owner, name);
    if bare.exists() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Repository creation failed.",
                "errors": [{"resource": "Repository", "code": "custom", "field": "name",
                "message": "name already exists on this account"}]})),
        )
            .into_response();
    }
    let ok = std::process::Command::new("git")
        .args(["init", "--quiet", "--bare", "-b", "main"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(ok.success());
    let web = format!("http://127.0.0.1:{}/{owner}/{name}", fake.port);
    let visibility = body["visibility"]
        .as_str()
        .unwrap_or(if body["private"] == true {
            "private"
        } else {
            "public"
        });
    let kind = if owner == ORG { "Organization" } else { "User" };
    let repo = json!({
        "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name,
        "full_name": format!("{owner}/{name}"), "owner": {"login": owner, "type": kind},
        "private": body["private"], "visibility": visibility, "description": body["description"],
        "html_url": web, "clone_url": format!("{web}.git"), "git_url": format!("git://127.0.0.1/{owner}/{name}.git"),
        "ssh_url": format!("git@127.0.0.1:{owner}/{name}.git"), "default_branch": "main", "topics": [],
    });
    (StatusCode::CREATED, axum::Json(repo)).into_response()
}
