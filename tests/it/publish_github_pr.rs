//! `publish:github:pull-request` end to end against the fake GitHub on 127.0.0.1
//! ([`crate::fake_github`]): a real task renders a skeleton and proposes it to a seeded repository; the
//! pushed branch (cloned and compared), the pull request and reviewer calls and the task's output are
//! checked, and a wrong token, an unsupported option, `createWhenEmpty: false` and a dry run.

use crate::fake_git::{clone_files, has_branch};
use crate::fake_github::{fake_github, Fake, ORG, TOKEN};
use crate::publish_github::{dry_run, events_text, log_lines, run_template, settings};
use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, Workers};
use greenroom_tests::{fixtures, TestDb};
use serde_json::{json, Value};
use std::sync::Arc;

const TEMPLATE: &str = "template:publish-github-pr";

fn registry(fake: &Fake, token: &str) -> Registry {
    let yaml = format!(
        "integrations:\n  github:\n    - host: '127.0.0.1:{p}'\n      apiBaseUrl: 'http://127.0.0.1:{p}/api/v3'\n      token: {token}\n",
        p = fake.port
    );
    let config = api::config::Config::from_yaml(&yaml).unwrap();
    let github = config.integrations.github().unwrap();
    Registry::integrated(&greenroom_tests::sandbox_sources(), &github, &[])
}

/// The fake with `acme/catalog` seeded (a README and an existing service), a database with the
/// template and a worker.
async fn setup(token: &str) -> (Arc<Fake>, TestDb, Workers) {
    let fake = fake_github().await;
    let seeded = [
        ("README.md", "# catalog\n"),
        ("services/old/catalog-info.yaml", "kind: Component\n"),
    ];
    crate::fake_git::seed(&fake.bare(ORG, "catalog"), &seeded);
    let t = TestDb::new().await;
    let out = t
        .refresh(&fixtures().join("scaffolder").join("github-pr.yaml"))
        .await;
    assert_eq!(out.valid, 1, "{out:?}");
    let registry = Arc::new(registry(&fake, token));
    let w = worker::spawn(t.db.clone(), registry, "worker-pr".into(), settings());
    (fake, t, w)
}

fn repo_url(fake: &Fake) -> String {
    format!("127.0.0.1:{}?owner=acme&repo=catalog", fake.port)
}

#[tokio::test]
async fn a_task_pushes_a_branch_and_opens_a_pull_request_with_reviewers() {
    let (fake, t, _w) = setup(TOKEN).await;
    let task = run_template(
        &t,
        TEMPLATE,
        json!({"name": "svc", "repoUrl": repo_url(&fake)}),
    )
    .await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        fake.call_lines(),
        [
            "GET /repos/acme/catalog",
            "POST /repos/acme/catalog/pulls",
            "POST /repos/acme/catalog/pulls/1/requested_reviewers",
        ]
    );
    let pr = &fake.calls("POST", "/repos/acme/catalog/pulls")[0].body;
    assert_eq!(
        *pr,
        json!({"title": "Add svc", "body": "Adds the service svc.", "head": "add-svc",
            "base": "main", "draft": true})
    );
    let reviewers = &fake.calls("POST", "/repos/acme/catalog/pulls/1/requested_reviewers")[0];
    assert_eq!(
        reviewers.body,
        json!({"reviewers": ["bob"], "team_reviewers": ["platform"]})
    );

    // The branch holds main's files plus the rendered skeleton under targetPath, in one commit.
    let bare = fake.bare(ORG, "catalog");
    let files = clone_files(&bare, "add-svc");
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "README.md",
            "services/old/catalog-info.yaml",
            "services/svc/README.tmpl.md",
            "services/svc/catalog-info.yaml",
            "services/svc/raw/keep.txt",
            "services/svc/src/svc.js",
        ]
    );
    assert!(files["services/svc/catalog-info.yaml"].contains("name: svc"));
    let log = crate::publish_github::git_in(&bare, &["log", "--format=%s|%an", "add-svc"]);
    assert_eq!(log, "Add svc|Greenroom\nseed|Seed");
    assert!(!clone_files(&bare, "main").contains_key("services/svc/catalog-info.yaml"));

    let web = format!("http://127.0.0.1:{}/acme/catalog", fake.port);
    assert_eq!(task["output"]["links"][0]["url"], format!("{web}/pull/1"));
    assert_eq!(task["output"]["text"][0]["content"], 1);
    assert_eq!(task["output"]["text"][1]["content"], "main");
    let lines = log_lines(&task);
    let added = "Added users [bob] and teams [platform] as reviewers to Pull request 1";
    assert!(lines.iter().any(|l| l == added), "{lines:#?}");
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("x-access-token:{TOKEN}"),
    );
    let events = events_text(&task);
    assert!(!events.contains(TOKEN) && !events.contains(&basic));
}

#[tokio::test]
async fn an_existing_branch_fails_and_a_failing_reviewer_call_is_a_warning() {
    let (fake, t, _w) = setup(TOKEN).await;
    fake.fail(
        "POST",
        "/repos/acme/catalog/pulls/1/requested_reviewers",
        422,
        "Reviews may only be requested from collaborators.",
    );
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake)});
    let task = run_template(&t, TEMPLATE, values.clone()).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let warning = "warning: Failure when adding reviewers to Pull request 1, POST /repos/acme/catalog/pulls/1/requested_reviewers: HTTP 422 Reviews may only be requested from collaborators.";
    assert!(log_lines(&task).iter().any(|l| l == warning), "{task}");

    // The same branch again: the push is refused, no second pull request is opened.
    let again = run_template(&t, TEMPLATE, values).await;
    assert_eq!(again["status"], "FAILED", "{again}");
    let events = events_text(&again);
    assert!(
        events.contains("the branch 'add-svc' already exists in the repository"),
        "{events}"
    );
    assert_eq!(fake.calls("POST", "/repos/acme/catalog/pulls").len(), 1);
}

#[tokio::test]
async fn create_when_empty_false_opens_nothing_when_the_files_are_already_there() {
    let (fake, t, _w) = setup(TOKEN).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake)});
    let first = run_template(&t, TEMPLATE, values).await;
    assert_eq!(first["status"], "COMPLETED", "{first}");
    // The pull request is merged: main now holds the files.
    let bare = fake.bare(ORG, "catalog");
    crate::publish_github::git_in(
        &bare,
        &["update-ref", "refs/heads/main", "refs/heads/add-svc"],
    );

    let values = json!({"name": "svc", "repoUrl": repo_url(&fake), "branch": "again", "createWhenEmpty": false});
    let task = run_template(&t, TEMPLATE, values).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let lines = log_lines(&task);
    assert!(
        lines
            .iter()
            .any(|l| l == "No changes to commit, pull request was not created"),
        "{lines:#?}"
    );
    assert!(!has_branch(&bare, "again"));
    assert_eq!(fake.calls("POST", "/repos/acme/catalog/pulls").len(), 1);
    assert!(task["output"]["links"][0]["url"].is_null(), "{task}");
}

#[tokio::test]
async fn a_wrong_token_and_an_unsupported_option_fail_clearly() {
    let wrong = "ghs_wrong_token_0987654321";
    let (fake, t, _w) = setup(wrong).await;
    let task = run_template(
        &t,
        TEMPLATE,
        json!({"name": "svc", "repoUrl": repo_url(&fake)}),
    )
    .await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let events = events_text(&task);
    assert!(
        events.contains("GET /repos/acme/catalog: HTTP 401 Bad credentials"),
        "{events}"
    );
    assert!(!events.contains(wrong), "{events}");
    assert!(!has_branch(&fake.bare(ORG, "catalog"), "add-svc"));

    let before = fake.hits();
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake), "update": true});
    let task = run_template(&t, TEMPLATE, values).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let events = events_text(&task);
    assert!(
        events.contains(
            "publish:github:pull-request does not support input.update: true (only false)"
        ),
        "{events}"
    );
    assert_eq!(
        fake.hits(),
        before,
        "an unsupported option fails before any request"
    );
}

#[tokio::test]
async fn a_dry_run_skips_the_pull_request_with_backstages_dry_run_outputs() {
    let (fake, t, _w) = setup(TOKEN).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake)});
    let r = dry_run(&t, registry(&fake, TOKEN), TEMPLATE, values).await;
    let d: &Value = &r["data"]["dryRunTemplate"];
    assert_eq!(d["status"], "COMPLETED", "{r}");
    let log = d["log"].to_string();
    assert!(
        log.contains("[pr] log: dry run: publish:github:pull-request skipped"),
        "{log}"
    );
    assert_eq!(d["output"]["links"][0]["url"], repo_url(&fake), "{r}");
    assert_eq!(d["output"]["text"][0]["content"], 43, "{r}");
    assert_eq!(d["output"]["text"][1]["content"], "add-svc", "{r}");
    assert_eq!(fake.hits(), 0, "no request reached the fake");
}
