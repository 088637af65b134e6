//! `publish:github` end to end against a fake GitHub on 127.0.0.1: its REST API (the request and response
//! shapes of users, create repository, topics and branch protection, with token auth) and git smart HTTP
//! (`git-http-backend` run as CGI over bare repositories the fake creates). A real task renders a skeleton
//! and publishes it; the fake's calls, the bare repository and the task's output and events are checked.

use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, WorkerSettings, Workers};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use greenroom_tests::{fixtures, TestDb};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "ghs_fake_token_1234567890";

/// One REST call the fake answered: method, path (under `/api/v3`) and JSON body.
#[derive(Clone, Debug)]
struct Call {
    method: String,
    path: String,
    body: Value,
}

struct Fake {
    root: tempfile::TempDir,
    port: u16,
    calls: Mutex<Vec<Call>>,
}

impl Fake {
    fn calls(&self, method: &str, path: &str) -> Vec<Call> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.method == method && c.path == path)
            .cloned()
            .collect()
    }

    fn bare(&self, owner: &str, repo: &str) -> std::path::PathBuf {
        self.root.path().join(owner).join(format!("{repo}.git"))
    }
}

/// Starts the fake on an ephemeral loopback port.
async fn fake_github() -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = Arc::new(Fake {
        root: tempfile::tempdir().unwrap(),
        port: listener.local_addr().unwrap().port(),
        calls: Mutex::new(Vec::new()),
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
        return cgi(&fake, &method, &uri, &headers, body).await;
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
    api_call(&fake, &method, path, &body)
}

/// The REST endpoints `publish:github` uses, with GitHub's shapes.
fn api_call(fake: &Fake, method: &Method, path: &str, body: &Value) -> Response {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["users", login]) => {
            let kind = if *login == "acme" { "Organization" } else { "User" };
            axum::Json(json!({"login": login, "id": 7, "type": kind})).into_response()
        }
        ("POST", ["orgs", org, "repos"]) => create(fake, org, body),
        ("POST", ["user", "repos"]) => create(fake, "ann", body),
        ("PUT", ["repos", _, _, "topics"]) => {
            axum::Json(json!({"names": body["names"]})).into_response()
        }
        ("PUT", ["repos", o, r, "branches", b, "protection"]) => axum::Json(json!({
            "url": format!("http://127.0.0.1:{}/api/v3/repos/{o}/{r}/branches/{b}/protection", fake.port),
            "enforce_admins": {"enabled": body["enforce_admins"]},
            "required_pull_request_reviews": body["required_pull_request_reviews"],
        }))
        .into_response(),
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `POST /orgs/{org}/repos`: a bare repository, and the created repository as GitHub describes it.
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
    let repo = json!({
        "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name,
        "full_name": format!("{owner}/{name}"), "owner": {"login": owner, "type": "Organization"},
        "private": body["private"], "visibility": visibility, "description": body["description"],
        "html_url": web, "clone_url": format!("{web}.git"), "git_url": format!("git://127.0.0.1/{owner}/{name}.git"),
        "ssh_url": format!("git@127.0.0.1:{owner}/{name}.git"), "default_branch": "main", "topics": [],
    });
    (StatusCode::CREATED, axum::Json(repo)).into_response()
}

/// Git smart HTTP: `git-http-backend` as a CGI program over the fake's bare repositories.
async fn cgi(
    fake: &Fake,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut child = tokio::process::Command::new("/usr/lib/git-core/git-http-backend")
        .env("GIT_PROJECT_ROOT", fake.root.path())
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "x-access-token")
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&body).await;
    });
    let out = child.wait_with_output().await.unwrap();
    writer.await.unwrap();
    let raw = out.stdout;
    let (head_end, skip) = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (i, 4),
        None => (
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .unwrap_or(raw.len()),
            2,
        ),
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut builder = Response::builder().status(200);
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.eq_ignore_ascii_case("status") {
            let code = v
                .trim()
                .split(' ')
                .next()
                .unwrap_or("200")
                .parse()
                .unwrap_or(500);
            builder = builder.status(code);
        } else {
            builder = builder.header(k.trim(), v.trim());
        }
    }
    let rest = raw.get(head_end + skip..).unwrap_or_default().to_vec();
    builder.body(axum::body::Body::from(rest)).unwrap()
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        concurrency: 2,
        poll: Duration::from_millis(50),
        heartbeat: Duration::from_millis(300),
        stale_after: Duration::from_secs(2),
        task_timeout: Duration::from_secs(60),
        ..Default::default()
    }
}

/// A database with the template and a worker whose `publish:github` knows the fake as configured in
/// `integrations.github` (with `token`).
async fn setup(fake: &Fake, token: &str) -> (TestDb, Workers) {
    let t = TestDb::new().await;
    let out = t.refresh(&fixtures().join("scaffolder/github.yaml")).await;
    assert_eq!(out.valid, 1, "{out:?}");
    let yaml = format!(
        "integrations:\n  github:\n    - host: '127.0.0.1:{p}'\n      apiBaseUrl: 'http://127.0.0.1:{p}/api/v3'\n      token: {token}\n",
        p = fake.port
    );
    let config = api::config::Config::from_yaml(&yaml).unwrap();
    let github = config.integrations.github().unwrap();
    let registry = Registry::integrated(&greenroom_tests::sandbox_sources(), &github);
    let w = worker::spawn(
        t.db.clone(),
        Arc::new(registry),
        "worker-gh".into(),
        settings(),
    );
    (t, w)
}

const CREATE: &str = r#"mutation($v: JSON!) { createTask(input: {templateRef: "template:publish-github", values: $v}) { id } }"#;
const TASK: &str = r#"query($id: ID!) { task(id: $id) { status output events { nodes { kind stepId message } } } }"#;

/// Starts the task with `values` and polls it until it is finished (within 30 s).
async fn run_task(t: &TestDb, values: Value) -> Value {
    let r = t.exec(CREATE, json!({ "v": values })).await;
    assert!(r["errors"].is_null(), "{r}");
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let task = t.exec(TASK, json!({ "id": id })).await["data"]["task"].clone();
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&task["status"].as_str().unwrap_or("")) {
            return task;
        }
        assert!(Instant::now() < deadline, "task still {task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn git_in(bare: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(bare)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn events_text(task: &Value) -> String {
    task["events"].to_string()
}

#[tokio::test]
async fn a_task_creates_the_org_repository_pushes_the_skeleton_and_protects_main() {
    let fake = fake_github().await;
    let (t, _w) = setup(&fake, TOKEN).await;
    let repo_url = format!("127.0.0.1:{}?owner=acme&repo=svc", fake.port);
    let task = run_task(&t, json!({"name": "svc", "repoUrl": repo_url})).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");

    let created = fake.calls("POST", "/orgs/acme/repos");
    assert_eq!(created.len(), 1, "the org repository is created once");
    let body = &created[0].body;
    assert_eq!(body["name"], "svc");
    assert_eq!(body["description"], "Service svc");
    assert_eq!(body["visibility"], "internal");
    assert_eq!(body["private"], false);
    assert!(fake.calls("POST", "/user/repos").is_empty());
    let topics = fake.calls("PUT", "/repos/acme/svc/topics");
    assert_eq!(topics[0].body["names"], json!(["backstage", "greenroom"]));
    let protection = fake.calls("PUT", "/repos/acme/svc/branches/main/protection");
    assert_eq!(protection.len(), 1, "protectDefaultBranch defaults to true");
    let p = &protection[0].body;
    assert_eq!(p["enforce_admins"], true);
    assert_eq!(
        p["required_pull_request_reviews"]["require_code_owner_reviews"],
        true
    );
    assert_eq!(p["required_status_checks"]["strict"], true);

    let bare = fake.bare("acme", "svc");
    let head = git_in(&bare, &["rev-parse", "refs/heads/main"]);
    assert_eq!(git_in(&bare, &["log", "--format=%s", "main"]), "Create svc");
    let files = git_in(&bare, &["ls-tree", "-r", "--name-only", "main"]);
    for f in ["catalog-info.yaml", "raw/keep.txt", "src/svc.js"] {
        assert!(files.lines().any(|l| l == f), "{f} in {files}");
    }
    assert!(git_in(&bare, &["show", "main:catalog-info.yaml"]).contains("name: svc"));

    let web = format!("http://127.0.0.1:{}/acme/svc", fake.port);
    assert_eq!(task["output"]["links"][0]["url"], format!("{web}.git"));
    assert_eq!(task["output"]["text"][0]["content"], head.as_str());
    assert_eq!(
        task["output"]["text"][1]["content"],
        format!("{web}/blob/main")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"));
    let events = events_text(&task);
    assert!(
        !events.contains(TOKEN) && !events.contains(&basic),
        "{events}"
    );
}

#[tokio::test]
async fn a_wrong_token_fails_clearly_without_showing_it() {
    let fake = fake_github().await;
    let wrong = "ghs_wrong_token_0987654321";
    let (t, _w) = setup(&fake, wrong).await;
    let repo_url = format!("127.0.0.1:{}?owner=acme&repo=svc", fake.port);
    let task = run_task(&t, json!({"name": "svc", "repoUrl": repo_url})).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let events = events_text(&task);
    assert!(
        events.contains("GET /users/acme: HTTP 401 Bad credentials"),
        "{events}"
    );
    assert!(!events.contains(wrong), "{events}");
    assert!(!fake.bare("acme", "svc").exists(), "nothing was created");
}

#[tokio::test]
async fn a_host_without_an_integration_fails_naming_it() {
    let fake = fake_github().await;
    let (t, _w) = setup(&fake, TOKEN).await;
    let task = run_task(
        &t,
        json!({"name": "svc", "repoUrl": "git.unknown.example?owner=acme&repo=svc"}),
    )
    .await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let events = events_text(&task);
    assert!(
        events.contains("No matching integration configuration for host git.unknown.example"),
        "{events}"
    );
    assert!(
        fake.calls.lock().unwrap().is_empty(),
        "no call reached the fake"
    );
}
