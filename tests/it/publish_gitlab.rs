//! `publish:gitlab` and `publish:gitlab:merge-request` end to end against a fake GitLab on 127.0.0.1
//! ([`crate::fake_gitlab`]): real tasks render a skeleton and publish it; the fake's calls, the pushed
//! repositories (cloned and compared) and the tasks' outputs are checked, as are a subgroup namespace,
//! `skipExisting`, an unknown namespace, a wrong or missing token, unsupported options and dry runs.

use crate::fake_git::{clone_files, has_branch};
use crate::fake_gitlab::{fake_gitlab, Fake, GROUP, TOKEN};
use crate::publish_github::{dry_run, events_text, git_in, log_lines, run_template, settings};
use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, Workers};
use greenroom_tests::{fixtures, TestDb};
use serde_json::{json, Value};
use std::sync::Arc;

/// The registry with the fake configured in `integrations.gitlab` (`token: None`: none configured).
fn registry(fake: &Fake, token: Option<&str>) -> Registry {
    let mut yaml = format!(
        "integrations:\n  gitlab:\n    - host: '127.0.0.1:{p}'\n      apiBaseUrl: 'http://127.0.0.1:{p}/api/v4'\n",
        p = fake.port
    );
    if let Some(t) = token {
        yaml.push_str(&format!("      token: {t}\n"));
    }
    let config = api::config::Config::from_yaml(&yaml).unwrap();
    let gitlab = config.integrations.gitlab().unwrap();
    Registry::integrated(&greenroom_tests::sandbox_sources(), &[], &gitlab)
}

async fn setup(token: Option<&str>) -> (Arc<Fake>, TestDb, Workers) {
    let fake = fake_gitlab().await;
    let t = TestDb::new().await;
    for f in ["gitlab.yaml", "gitlab-mr.yaml"] {
        let out = t.refresh(&fixtures().join("scaffolder").join(f)).await;
        assert_eq!(out.valid, 1, "{f}: {out:?}");
    }
    let registry = Arc::new(registry(&fake, token));
    let w = worker::spawn(t.db.clone(), registry, "worker-gl".into(), settings());
    (fake, t, w)
}

fn repo_url(fake: &Fake, owner: &str, repo: &str) -> String {
    format!("127.0.0.1:{}?owner={owner}&repo={repo}", fake.port)
}

#[tokio::test]
async fn a_task_creates_the_project_pushes_the_skeleton_and_sets_branches_and_variables() {
    let (fake, t, _w) = setup(Some(TOKEN)).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "svc")});
    let task = run_template(&t, "template:publish-gitlab", values).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        fake.call_lines(),
        [
            "GET /namespaces/acme",
            "POST /projects",
            "POST /projects/100/repository/branches",
            "POST /projects/100/protected_branches",
            "POST /projects/100/variables",
        ]
    );
    let created = &fake.calls("POST", "/projects")[0].body;
    assert_eq!(
        *created,
        json!({"namespace_id": 10, "name": "svc", "visibility": "internal",
            "topics": ["backstage", "greenroom"], "description": "Service svc",
            "ci_config_path": ".gitlab/ci.yml"})
    );
    let branch = &fake.calls("POST", "/projects/100/repository/branches")[0];
    assert_eq!(branch.query, "branch=develop&ref=main");
    let protect = &fake.calls("POST", "/projects/100/protected_branches")[0];
    assert_eq!(protect.query, "name=main");
    let variable = &fake.calls("POST", "/projects/100/variables")[0].body;
    assert_eq!(variable["key"], "SERVICE_NAME");
    assert_eq!(variable["value"], "svc");
    assert_eq!(variable["environment_scope"], "*");
    assert_eq!(variable["variable_type"], "env_var");

    let bare = fake.bare(GROUP, "svc");
    let files = clone_files(&bare, "main");
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "README.tmpl.md",
            "catalog-info.yaml",
            "raw/keep.txt",
            "src/svc.js"
        ]
    );
    assert!(files["catalog-info.yaml"].contains("name: svc"));
    assert_eq!(git_in(&bare, &["log", "--format=%s", "main"]), "Create svc");
    assert!(
        has_branch(&bare, "develop"),
        "the develop branch was created from main"
    );

    let web = format!("http://127.0.0.1:{}/acme/svc", fake.port);
    let head = git_in(&bare, &["rev-parse", "refs/heads/main"]);
    assert_eq!(task["output"]["links"][0]["url"], web);
    assert_eq!(
        task["output"]["links"][1]["url"],
        format!("{web}/-/blob/main")
    );
    assert_eq!(task["output"]["text"][0]["content"], head.as_str());
    assert_eq!(task["output"]["text"][1]["content"], 100);
    assert_eq!(task["output"]["text"][2]["content"], true);
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("oauth2:{TOKEN}"),
    );
    let events = events_text(&task);
    assert!(
        !events.contains(TOKEN) && !events.contains(&basic),
        "{events}"
    );
}

#[tokio::test]
async fn a_subgroup_namespace_is_looked_up_encoded_and_skip_existing_reuses_the_project() {
    let (fake, t, _w) = setup(Some(TOKEN)).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, "acme/platform", "svc"), "skipExisting": true});
    let task = run_template(&t, "template:publish-gitlab", values.clone()).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        fake.call_lines()[..3],
        [
            "GET /namespaces/acme%2Fplatform",
            "GET /groups/acme%2Fplatform/projects",
            "POST /projects",
        ]
    );
    assert_eq!(fake.calls("POST", "/projects")[0].body["namespace_id"], 11);
    assert!(has_branch(&fake.bare("acme/platform", "svc"), "main"));

    // Again: the project exists, nothing is created or pushed, `created` is false.
    let again = run_template(&t, "template:publish-gitlab", values).await;
    assert_eq!(again["status"], "COMPLETED", "{again}");
    assert_eq!(fake.calls("POST", "/projects").len(), 1);
    assert_eq!(again["output"]["text"][2]["content"], false);
    assert_eq!(again["output"]["text"][1]["content"], 100);
    let lines = log_lines(&again);
    assert!(
        lines
            .iter()
            .any(|l| l == "Repo svc already exists in namespace acme/platform."),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn an_unknown_namespace_a_wrong_token_and_no_token_fail_clearly() {
    let (fake, t, _w) = setup(Some(TOKEN)).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, "nobody", "svc")});
    let task = run_template(&t, "template:publish-gitlab", values).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert!(
        events_text(&task).contains(
            "The namespace nobody is not found or the user doesn't have permissions to access it"
        ),
        "{task}"
    );

    let wrong = "glpat-wrong-token-0987654321";
    let (fake, t, _w) = setup(Some(wrong)).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "svc")});
    let task = run_template(&t, "template:publish-gitlab", values).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let events = events_text(&task);
    assert!(
        events.contains("GET /namespaces/acme: HTTP 401 401 Unauthorized"),
        "{events}"
    );
    assert!(!events.contains(wrong), "{events}");
    assert!(!fake.bare(GROUP, "svc").exists());

    let (fake, t, _w) = setup(None).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "svc")});
    let task = run_template(&t, "template:publish-gitlab", values).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let expected = format!("No token available for host 127.0.0.1:{}", fake.port);
    assert!(events_text(&task).contains(&expected), "{task}");
    assert_eq!(fake.hits(), 0, "no request reached the fake");
}

/// The fake with `acme/catalog` seeded.
fn seed_catalog(fake: &Fake) -> u64 {
    let files = [
        ("README.md", "# catalog\n"),
        ("services/old/catalog-info.yaml", "kind: Component\n"),
    ];
    fake.seed_project(GROUP, "catalog", &files)
}

#[tokio::test]
async fn a_merge_request_task_pushes_a_branch_and_opens_the_merge_request() {
    let (fake, t, _w) = setup(Some(TOKEN)).await;
    seed_catalog(&fake);
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "catalog")});
    let task = run_template(&t, "template:publish-gitlab-mr", values).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        fake.call_lines(),
        [
            "GET /projects/acme%2Fcatalog",
            "GET /projects/acme%2Fcatalog/repository/branches/add-svc",
            "GET /users",
            "GET /users",
            "GET /users",
            "POST /projects/acme%2Fcatalog/merge_requests",
        ]
    );
    let mr = &fake.calls("POST", "/projects/acme%2Fcatalog/merge_requests")[0].body;
    assert_eq!(
        *mr,
        json!({"source_branch": "add-svc", "target_branch": "main", "title": "Add svc",
            "description": "Adds the service svc.", "remove_source_branch": true,
            "assignee_id": 20, "reviewer_ids": [21], "labels": "scaffolder,new-service"})
    );
    let bare = fake.bare(GROUP, "catalog");
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
    assert_eq!(
        git_in(&bare, &["log", "-1", "--format=%s", "add-svc"]),
        "Add svc"
    );
    let web = format!("http://127.0.0.1:{}/acme/catalog", fake.port);
    assert_eq!(
        task["output"]["links"][0]["url"],
        format!("{web}/-/merge_requests/1")
    );
    assert_eq!(task["output"]["text"][0]["content"], "acme/catalog");
    assert_eq!(task["output"]["text"][1]["content"], "acme/catalog");
    assert_eq!(task["output"]["text"][2]["content"], "main");
    let lines = log_lines(&task);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("warning: no GitLab user nobody")),
        "{lines:#?}"
    );

    // Again: the branch exists, Backstage's error names it and its merge request.
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "catalog")});
    let again = run_template(&t, "template:publish-gitlab-mr", values).await;
    assert_eq!(again["status"], "FAILED", "{again}");
    let expected = format!("The branch creation failed because the branch already exists at: {web}/-/tree/add-svc. Additionally, there is a Merge Request for this branch: {web}/-/merge_requests/1");
    assert!(events_text(&again).contains(&expected), "{again}");
}

#[tokio::test]
async fn merge_request_options_taken_only_at_their_default_are_refused_by_name() {
    let (fake, t, _w) = setup(Some(TOKEN)).await;
    seed_catalog(&fake);
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "catalog"), "commitAction": "delete"});
    let task = run_template(&t, "template:publish-gitlab-mr", values).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    assert!(
        events_text(&task).contains(
            "publish:gitlab:merge-request does not support input.commitAction: delete (only auto, create, update)"
        ),
        "{task}"
    );
    assert_eq!(fake.hits(), 0);
}

#[tokio::test]
async fn dry_runs_skip_both_actions_with_example_outputs() {
    let (fake, t, _w) = setup(Some(TOKEN)).await;
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "svc")});
    let r = dry_run(
        &t,
        registry(&fake, Some(TOKEN)),
        "template:publish-gitlab",
        values,
    )
    .await;
    let d: &Value = &r["data"]["dryRunTemplate"];
    assert_eq!(d["status"], "COMPLETED", "{r}");
    assert!(
        d["log"]
            .to_string()
            .contains("dry run: publish:gitlab skipped"),
        "{r}"
    );
    assert_eq!(d["output"]["links"][0]["url"], "<example>", "{r}");
    assert_eq!(d["output"]["text"][1]["content"], 0, "{r}");
    assert_eq!(d["output"]["text"][2]["content"], false, "{r}");

    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "catalog")});
    let r = dry_run(
        &t,
        registry(&fake, Some(TOKEN)),
        "template:publish-gitlab-mr",
        values,
    )
    .await;
    let d: &Value = &r["data"]["dryRunTemplate"];
    assert_eq!(d["status"], "COMPLETED", "{r}");
    assert!(
        d["log"]
            .to_string()
            .contains("dry run: publish:gitlab:merge-request skipped"),
        "{r}"
    );
    assert_eq!(d["output"]["links"][0]["url"], "<example>", "{r}");
    assert_eq!(d["output"]["text"][2]["content"], "<example>", "{r}");
    assert_eq!(fake.hits(), 0, "no request reached the fake");
}

#[tokio::test]
async fn a_failing_project_variable_fails_the_step_naming_it() {
    let (fake, t, _w) = setup(Some(TOKEN)).await;
    // The fake echoes the token in its error: the action must not show it.
    let message = json!(format!(
        "key (SERVICE_NAME) has already been taken for {TOKEN}"
    ));
    fake.fail("POST", "/projects/100/variables", 400, message);
    let values = json!({"name": "svc", "repoUrl": repo_url(&fake, GROUP, "svc")});
    let task = run_template(&t, "template:publish-gitlab", values).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let events = events_text(&task);
    let expected = "Environment variable creation failed for SERVICE_NAME. POST /projects/100/variables: HTTP 400 key (SERVICE_NAME) has already been taken for ********";
    assert!(events.contains(expected), "{events}");
    assert!(!events.contains(TOKEN), "{events}");
}
