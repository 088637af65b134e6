//! `publish:github` end to end against a fake GitHub on 127.0.0.1 ([`crate::fake_github`]): a real task
//! renders a skeleton and publishes it; the fake's calls, the bare repository and the task's output and
//! events are checked, for an organisation and a user owner, `access`, `protectDefaultBranch: false`,
//! failing topics and protection calls, and a dry run (which must not reach the fake at all).

use crate::fake_github::{fake_github, Fake, ORG, TOKEN, USER};
use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, WorkerSettings, Workers};
use base64::Engine;
use greenroom_tests::{fixtures, TestDb};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn settings() -> WorkerSettings {
    WorkerSettings {
        concurrency: 2,
        poll: Duration::from_millis(50),
        heartbeat: Duration::from_millis(300),
        stale_after: Duration::from_secs(2),
        task_timeout: Duration::from_secs(60),
        ..Default::default()
    }
}

/// The action registry with `publish:github` knowing the fake as configured in `integrations.github`
/// (with `token`).
fn registry(fake: &Fake, token: &str) -> Registry {
    let yaml = format!(
        "integrations:\n  github:\n    - host: '127.0.0.1:{p}'\n      apiBaseUrl: 'http://127.0.0.1:{p}/api/v3'\n      token: {token}\n",
        p = fake.port
    );
    let config = api::config::Config::from_yaml(&yaml).unwrap();
    let github = config.integrations.github().unwrap();
    Registry::integrated(&greenroom_tests::sandbox_sources(), &github, &[])
}

/// A database with the templates and a worker running [`registry`].
async fn setup(fake: &Fake, token: &str) -> (TestDb, Workers) {
    let t = TestDb::new().await;
    for f in [
        "github.yaml",
        "github-access.yaml",
        "github-unprotected.yaml",
    ] {
        let out = t.refresh(&fixtures().join("scaffolder").join(f)).await;
        assert_eq!(out.valid, 1, "{f}: {out:?}");
    }
    let w = worker::spawn(
        t.db.clone(),
        Arc::new(registry(fake, token)),
        "worker-gh".into(),
        settings(),
    );
    (t, w)
}

const CREATE: &str = r#"mutation($t: String!, $v: JSON!) { createTask(input: {templateRef: $t, values: $v}) { id } }"#;
const TASK: &str = r#"query($id: ID!) { task(id: $id) { status output events { nodes { kind stepId message } } } }"#;

/// Starts a task of `template:publish-github` with `values` and polls it until it is finished.
async fn run_task(t: &TestDb, values: Value) -> Value {
    run_template(t, "template:publish-github", values).await
}

/// Starts a task of `template` with `values` and polls it until it is finished (within 30 s).
pub(crate) async fn run_template(t: &TestDb, template: &str, values: Value) -> Value {
    let r = t.exec(CREATE, json!({ "t": template, "v": values })).await;
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

pub(crate) fn git_in(bare: &Path, args: &[&str]) -> String {
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

pub(crate) fn events_text(task: &Value) -> String {
    task["events"].to_string()
}

/// The token appears in none of the task's events, neither as written nor as git's Basic credentials.
fn assert_token_hidden(task: &Value) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}"));
    let events = events_text(task);
    assert!(
        !events.contains(TOKEN) && !events.contains(&basic),
        "{events}"
    );
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
    assert_token_hidden(&task);
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
    assert_eq!(fake.hits(), 0, "no request reached the fake");
}

/// The messages of the task's `log` events, in order.
pub(crate) fn log_lines(task: &Value) -> Vec<String> {
    task["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "log")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn repo_url(fake: &Fake, owner: &str, repo: &str) -> String {
    format!("127.0.0.1:{}?owner={owner}&repo={repo}", fake.port)
}

#[tokio::test]
async fn a_user_owner_gets_a_user_repository_not_an_org_one() {
    let fake = fake_github().await;
    let (t, _w) = setup(&fake, TOKEN).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, USER, "svc")});
    let task = run_task(&t, values).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");

    assert_eq!(
        fake.call_lines(),
        [
            "GET /users/ann",
            "POST /user/repos",
            "PUT /repos/ann/svc/topics",
            "PUT /repos/ann/svc/branches/main/protection",
        ],
        "the user's repository is created with POST /user/repos, never under /orgs"
    );
    let created = fake.calls("POST", "/user/repos");
    let body = &created[0].body;
    assert_eq!(body["name"], "svc");
    assert_eq!(body["description"], "Service svc");
    assert_eq!(body["private"], false, "internal is not private");
    assert!(
        body.get("visibility").is_none(),
        "a user repository has no visibility: {body}"
    );

    let bare = fake.bare(USER, "svc");
    let head = git_in(&bare, &["rev-parse", "refs/heads/main"]);
    assert_eq!(git_in(&bare, &["log", "--format=%s", "main"]), "Create svc");
    assert!(git_in(&bare, &["show", "main:catalog-info.yaml"]).contains("name: svc"));
    assert!(!fake.bare(ORG, "svc").exists());

    let web = format!("http://127.0.0.1:{}/ann/svc", fake.port);
    assert_eq!(task["output"]["links"][0]["url"], format!("{web}.git"));
    assert_eq!(task["output"]["text"][0]["content"], head.as_str());
    assert_eq!(
        task["output"]["text"][1]["content"],
        format!("{web}/blob/main")
    );
    assert!(
        log_lines(&task).contains(&format!("created {web}")),
        "{task}"
    );
}

#[tokio::test]
async fn access_grants_admin_to_a_team_or_a_collaborator() {
    let fake = fake_github().await;
    let (t, _w) = setup(&fake, TOKEN).await;
    let template = "template:publish-github-access";

    let team = json!({"name": "svc-team", "repoUrl": repo_url(&fake, ORG, "svc-team"), "access": "acme/platform"});
    let task = run_template(&t, template, team).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        fake.call_lines(),
        [
            "GET /users/acme",
            "POST /orgs/acme/repos",
            "PUT /orgs/acme/teams/platform/repos/acme/svc-team",
            "PUT /repos/acme/svc-team/branches/main/protection",
        ]
    );
    let granted = fake.calls("PUT", "/orgs/acme/teams/platform/repos/acme/svc-team");
    assert_eq!(granted[0].body, json!({"permission": "admin"}));
    git_in(
        &fake.bare(ORG, "svc-team"),
        &["rev-parse", "refs/heads/main"],
    );

    let user =
        json!({"name": "svc-user", "repoUrl": repo_url(&fake, ORG, "svc-user"), "access": "bob"});
    let task = run_template(&t, template, user).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        fake.call_lines()[4..],
        [
            "GET /users/acme",
            "POST /orgs/acme/repos",
            "PUT /repos/acme/svc-user/collaborators/bob",
            "PUT /repos/acme/svc-user/branches/main/protection",
        ]
    );
    let granted = fake.calls("PUT", "/repos/acme/svc-user/collaborators/bob");
    assert_eq!(granted[0].body, json!({"permission": "admin"}));
    git_in(
        &fake.bare(ORG, "svc-user"),
        &["rev-parse", "refs/heads/main"],
    );
}

#[tokio::test]
async fn protect_default_branch_false_makes_no_protection_call() {
    let fake = fake_github().await;
    let (t, _w) = setup(&fake, TOKEN).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, ORG, "svc")});
    let task = run_template(&t, "template:publish-github-unprotected", values).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        fake.call_lines(),
        [
            "GET /users/acme",
            "POST /orgs/acme/repos",
            "PUT /repos/acme/svc/topics"
        ]
    );
    let bare = fake.bare(ORG, "svc");
    git_in(&bare, &["rev-parse", "refs/heads/main"]);
    let web = format!("http://127.0.0.1:{}/acme/svc", fake.port);
    assert_eq!(task["output"]["links"][0]["url"], format!("{web}.git"));
    assert_eq!(
        task["output"]["links"][1]["url"],
        format!("{web}/blob/main")
    );
}

#[tokio::test]
async fn failing_topics_and_protection_are_warnings_and_the_task_completes() {
    let fake = fake_github().await;
    // The fake echoes the token in one error message: the action must not show it.
    fake.fail(
        "PUT",
        "/repos/acme/svc/topics",
        422,
        &format!("Invalid topics for token {TOKEN}"),
    );
    let paywall = "Upgrade to GitHub Pro or make this repository public to enable this feature.";
    fake.fail(
        "PUT",
        "/repos/acme/svc/branches/main/protection",
        403,
        paywall,
    );
    let (t, _w) = setup(&fake, TOKEN).await;
    let task = run_task(
        &t,
        json!({"name": "svc", "repoUrl": repo_url(&fake, ORG, "svc")}),
    )
    .await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(fake.calls("PUT", "/repos/acme/svc/topics").len(), 1);
    let protection = fake.calls("PUT", "/repos/acme/svc/branches/main/protection");
    assert_eq!(protection.len(), 1);

    let log = log_lines(&task);
    let topics = "warning: skipping topics backstage greenroom, PUT /repos/acme/svc/topics: HTTP 422 Invalid topics for token ********";
    assert!(log.iter().any(|l| l == topics), "{log:#?}");
    let protect = format!("warning: skipping default branch protection on 'svc', PUT /repos/acme/svc/branches/main/protection: HTTP 403 {paywall}");
    assert!(log.contains(&protect), "{log:#?}");

    let head = git_in(&fake.bare(ORG, "svc"), &["rev-parse", "refs/heads/main"]);
    assert_eq!(task["output"]["text"][0]["content"], head.as_str());
    assert_token_hidden(&task);
}

#[tokio::test]
async fn a_dry_run_skips_publish_github_and_never_reaches_the_fake() {
    let fake = fake_github().await;
    let (t, _w) = setup(&fake, TOKEN).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, ORG, "svc")});
    let r = dry_run(
        &t,
        registry(&fake, TOKEN),
        "template:publish-github",
        values,
    )
    .await;
    let d = &r["data"]["dryRunTemplate"];
    assert_eq!(d["status"], "COMPLETED", "{r}");
    let log: Vec<&str> = d["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        log.contains(&"[publish] log: dry run: publish:github skipped"),
        "{log:?}"
    );
    assert!(
        d["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "catalog-info.yaml"),
        "the fetch step ran: {r}"
    );
    assert_eq!(fake.hits(), 0, "no request reached the fake");
    assert!(fake.call_lines().is_empty());
    assert!(!fake.bare(ORG, "svc").exists());
    // Example outputs, as Backstage's dry run gives for an action without dry-run support.
    assert_eq!(d["output"]["links"][0]["url"], "<example>", "{r}");
    assert_eq!(d["output"]["text"][0]["content"], "<example>", "{r}");
}

/// `dryRunTemplate` of `template` with `values`, through a schema with `actions` (the same registry a
/// worker would run; TestApp's knows no integrations). Returns the whole response.
pub(crate) async fn dry_run(t: &TestDb, actions: Registry, template: &str, values: Value) -> Value {
    let config = api::config::Config::default();
    let schema = api::graphql::schema::build(api::graphql::schema::Parts {
        db: t.db.clone(),
        cache: t.cache.clone(),
        sources: greenroom_tests::sandbox_sources(),
        auth: Arc::new(api::auth::Authenticator::dev_mode()),
        limits: config.server.limits.schema_limits(),
        environments: Arc::new(config.deployments.environments()),
        events: api::deployments::events::Events::default(),
        actions: Arc::new(actions),
    });
    let query = r#"mutation($t: String!, $v: JSON!) { dryRunTemplate(input: {templateRef: $t, values: $v}) {
        status log output files { path } } }"#;
    let variables = json!({"t": template, "v": values});
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(api::auth::Caller::dev());
    let request = api::graphql::schema::prepare(request, &t.db, &t.cache);
    let r = serde_json::to_value(schema.execute(request).await).unwrap();
    assert!(r["errors"].is_null(), "{r}");
    r
}
