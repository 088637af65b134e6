//! Skeletons named by URL (issue 17, item 12): a template read from a `url` source fetches its relative
//! skeletons (`./skeleton`, `../../shared`) from the repository tree its URL names, and an absolute
//! `https://…/tree/<ref>/<path>` `url:` is fetched the same way — shallowly over git smart HTTP from a
//! real `git http-backend` on 127.0.0.1, only on hosts the read policy allows. A host it does not allow
//! is refused before anything connects to it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use greenroom_tests::{TestApp, TestDb};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: from-url
spec:
  owner: group:default/team-a
  type: service
  steps:
    - id: skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values: { name: '${{ parameters.name }}' }
    - id: shared
      action: fetch:plain
      input:
        url: ../../shared
        targetPath: shared
    - id: absolute
      action: fetch:plain
      input:
        url: ${{ parameters.other }}
        targetPath: other
"#;

/// A forge on 127.0.0.1: `GET /org/repo/blob/main/<path>` answers the file's raw text (as a url
/// source reads it), everything else is git smart HTTP over the bare repositories under `root`.
struct Forge {
    root: tempfile::TempDir,
    files: BTreeMap<String, String>,
    port: u16,
    git_hits: AtomicUsize,
}

async fn handle(
    State(forge): State<Arc<Forge>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(path) = uri.path().strip_prefix("/org/repo/blob/main/") {
        return match forge.files.get(path) {
            Some(text) => text.clone().into_response(),
            None => axum::http::StatusCode::NOT_FOUND.into_response(),
        };
    }
    forge.git_hits.fetch_add(1, Ordering::SeqCst);
    crate::fake_git::cgi(forge.root.path(), &method, &uri, &headers, body).await
}

async fn forge(files: &[(&str, &str)]) -> Arc<Forge> {
    let root = tempfile::tempdir().unwrap();
    crate::fake_git::seed(&root.path().join("org/repo.git"), files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let forge = Arc::new(Forge {
        root,
        files: files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
        port: listener.local_addr().unwrap().port(),
        git_hits: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(forge.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    forge
}

/// A listener that only counts the connections it accepts (a host the policy does not allow).
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (port, count)
}

async fn dry_run(app: &TestApp, other: &str) -> Value {
    let r = app
        .exec(
            r#"mutation($v: JSON!) { dryRunTemplate(input: {templateRef: "template:from-url", values: $v}) { status log files { path content } } }"#,
            json!({"v": {"name": "svc", "other": other}}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["dryRunTemplate"].clone()
}

fn file(run: &Value, path: &str) -> Option<Value> {
    run["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .map(|f| f["content"].clone())
}

#[tokio::test]
async fn a_template_from_a_url_source_fetches_its_skeletons_from_the_repository_tree() {
    let t = TestDb::new().await;
    let forge = forge(&[
        ("templates/svc/template.yaml", TEMPLATE),
        ("templates/svc/skeleton/README.md", "# ${{ values.name }}\n"),
        ("shared/LICENSE", "shared licence\n"),
        ("other/skel/notes.txt", "from another path\n"),
    ])
    .await;
    let (denied_port, denied_hits) = counting_listener().await;
    let host = format!("127.0.0.1:{}", forge.port);
    let config =
        format!("catalog:\n  rules:\n    - allow: [Template]\n  allow:\n    hosts: ['{host}']\n");
    let config = api::config::Config::from_yaml(&config).unwrap();
    let app = TestApp::new(&t)
        .sources(Arc::new(config.catalog.registry().unwrap()))
        .admin();
    let target = format!("http://{host}/org/repo/blob/main/templates/svc/template.yaml");
    let r = app
        .exec(
            r#"mutation($t: String!) { registerLocation(input: {type: "url", target: $t}) { entities { ref } errors } }"#,
            json!({"t": target}),
        )
        .await;
    assert_eq!(
        r["data"]["registerLocation"],
        json!({"entities": [{"ref": "template:default/from-url"}], "errors": []}),
        "{r}"
    );
    assert_eq!(forge.git_hits.load(Ordering::SeqCst), 0);

    let other = format!("http://{host}/org/repo/tree/main/other/skel");
    let run = dry_run(&app, &other).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(file(&run, "README.md"), Some(json!("# svc\n")), "{run}");
    assert_eq!(
        file(&run, "shared/LICENSE"),
        Some(json!("shared licence\n"))
    );
    assert_eq!(
        file(&run, "other/notes.txt"),
        Some(json!("from another path\n"))
    );
    assert!(file(&run, ".git/HEAD").is_none() && file(&run, "other/.git/HEAD").is_none());
    assert!(forge.git_hits.load(Ordering::SeqCst) > 0);

    // A blob URL of a directory, and a ref that is a commit, work too.
    let run = dry_run(
        &app,
        &format!("http://{host}/org/repo/blob/main/other/skel"),
    )
    .await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let commit = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(forge.root.path().join("org/repo.git"))
        .args(["rev-parse", "main"])
        .output()
        .unwrap();
    let commit = String::from_utf8(commit.stdout).unwrap().trim().to_string();
    let run = dry_run(
        &app,
        &format!("http://{host}/org/repo/tree/{commit}/other/skel"),
    )
    .await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(
        file(&run, "other/notes.txt"),
        Some(json!("from another path\n"))
    );

    // A path the repository does not have, and a host the policy does not allow: clear errors, and the
    // refused host is never connected to.
    let run = dry_run(&app, &format!("http://{host}/org/repo/tree/main/nothing")).await;
    assert_eq!(run["status"], "FAILED", "{run}");
    assert!(
        run["log"]
            .to_string()
            .contains("no 'nothing' in the repository at main"),
        "{run}"
    );
    let denied = format!("http://127.0.0.1:{denied_port}/org/repo/tree/main/other/skel");
    let run = dry_run(&app, &denied).await;
    assert_eq!(run["status"], "FAILED", "{run}");
    let log = run["log"].to_string();
    assert!(
        log.contains("host is not one this server may connect to"),
        "{log}"
    );
    assert_eq!(
        denied_hits.load(Ordering::SeqCst),
        0,
        "nothing connects before the policy allows it"
    );
    let meta = "http://169.254.169.254/org/repo/tree/main/x";
    let run = dry_run(&app, meta).await;
    assert_eq!(run["status"], "FAILED", "{run}");
}

#[tokio::test]
async fn relative_skeletons_of_a_url_template_stay_in_its_repository() {
    let t = TestDb::new().await;
    let escaping = TEMPLATE
        .replace("url: ../../shared", "url: ../../../elsewhere")
        .replace("from-url", "escaping");
    let forge = forge(&[
        ("t/template.yaml", &escaping),
        ("t/skeleton/README.md", "x\n"),
    ])
    .await;
    let host = format!("127.0.0.1:{}", forge.port);
    let config =
        format!("catalog:\n  rules:\n    - allow: [Template]\n  allow:\n    hosts: ['{host}']\n");
    let config = api::config::Config::from_yaml(&config).unwrap();
    let app = TestApp::new(&t)
        .sources(Arc::new(config.catalog.registry().unwrap()))
        .admin();
    let r = app
        .exec(
            r#"mutation($t: String!) { registerLocation(input: {type: "url", target: $t}) { errors } }"#,
            json!({"t": format!("http://{host}/org/repo/blob/main/t/template.yaml")}),
        )
        .await;
    assert_eq!(r["data"]["registerLocation"]["errors"], json!([]), "{r}");
    let r = app
        .exec(
            r#"mutation { dryRunTemplate(input: {templateRef: "template:escaping", values: {name: "svc", other: "."}}) { status log } }"#,
            json!({}),
        )
        .await;
    let run = &r["data"]["dryRunTemplate"];
    assert_eq!(run["status"], "FAILED", "{r}");
    let log = run["log"].to_string();
    assert!(
        log.contains("'../../../elsewhere' leaves the template's repository"),
        "{log}"
    );
}

/// A worker whose actions know the fake GitHub as an integration, with `token` (or none).
fn tree_worker(t: &TestDb, port: u16, token: Option<&str>) -> api::scaffolder::worker::Workers {
    let token = token
        .map(|t| format!("      token: {t}\n"))
        .unwrap_or_default();
    let yaml = format!(
        "integrations:\n  github:\n    - host: '127.0.0.1:{port}'\n      apiBaseUrl: 'http://127.0.0.1:{port}/api/v3'\n{token}"
    );
    let config = api::config::Config::from_yaml(&yaml).unwrap();
    let github = config.integrations.github().unwrap();
    let registry = api::scaffolder::actions::Registry::integrated(
        &greenroom_tests::sandbox_sources(),
        &github,
        &[],
    );
    api::scaffolder::worker::spawn(
        t.db.clone(),
        Arc::new(registry),
        format!("worker-tree-{}", token.len()),
        crate::publish_github::settings(),
    )
}

#[tokio::test]
async fn a_skeleton_on_an_integration_host_is_fetched_with_its_token() {
    use crate::fake_github::{fake_github, TOKEN};
    let fake = fake_github().await;
    crate::fake_git::seed(
        &fake.bare("acme", "skel"),
        &[("sub/hello.txt", "private skeleton\n")],
    );
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let template = format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {{name: private}}\nspec:\n  owner: team-a\n  type: service\n  steps:\n    - id: fetch\n      action: fetch:plain\n      input:\n        url: 'http://127.0.0.1:{p}/acme/skel/tree/main/sub'\n",
        p = fake.port
    );
    std::fs::write(dir.path().join("t.yaml"), template).unwrap();
    assert_eq!(t.refresh(&dir.path().join("t.yaml")).await.valid, 1);

    // The fake refuses git without the token: without one configured the fetch fails.
    let worker = tree_worker(&t, fake.port, None);
    let task = crate::publish_github::run_template(&t, "template:private", json!({})).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert!(task["events"].to_string().contains("git fetch"), "{task}");
    worker.shutdown(std::time::Duration::from_secs(5)).await;

    let _worker = tree_worker(&t, fake.port, Some(TOKEN));
    let task = crate::publish_github::run_template(&t, "template:private", json!({})).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let events = task["events"].to_string();
    assert!(events.contains("fetched 1 files"), "{events}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"));
    assert!(
        !events.contains(TOKEN) && !events.contains(&basic),
        "{events}"
    );
}
