//! What measuring Greenroom on real templates (issue 17, `tests/js/measure-templates.mjs`) found, each
//! fixed and kept here: a dry run skips an action this server does not have (as it skips the actions
//! that need a service) while a task with it still fails; a `required` list naming a field twice is
//! accepted, as Backstage's validator accepts it; a skeleton adding what its template never passed
//! (`values.destination.owner + "/"`) or keeping a GitHub workflow's `${{ matrix.python-version }}`
//! renders what nunjucks renders (`undefined/undefined`, `NaN`) instead of failing the step; a
//! `debug:log` without a `message` logs nothing, as Backstage's.

use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, WorkerSettings};
use greenroom_tests::{fixtures, TestDb};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn loaded() -> TestDb {
    let t = TestDb::new().await;
    let out = t
        .refresh(&fixtures().join("scaffolder/corpus/templates.yaml"))
        .await;
    assert!(out.errors.is_empty() && out.invalid.is_empty(), "{out:?}");
    t
}

async fn dry_run(t: &TestDb, template: &str, values: Value) -> Value {
    let r = t
        .exec(
            r#"mutation($t: String!, $v: JSON!) { dryRunTemplate(input: {templateRef: $t, values: $v}) {
                status log files { path content } } }"#,
            json!({ "t": format!("template:{template}"), "v": values }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["dryRunTemplate"].clone()
}

fn logged(run: &Value, text: &str) -> bool {
    run["log"].as_array().is_some_and(|l| {
        l.iter()
            .any(|x| x.as_str().is_some_and(|x| x.contains(text)))
    })
}

#[tokio::test]
async fn a_dry_run_skips_an_action_this_server_does_not_have() {
    let t = loaded().await;
    let run = dry_run(&t, "corpus-service-action", json!({"name": "svc"})).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert!(
        logged(&run, "dry run: argocd:create-resources skipped"),
        "{run}"
    );
    // The later steps run, and the skipped step's outputs are undefined; a debug:log whose message
    // is then undefined (its key dropped) logs nothing, as Backstage's (`message` is optional there).
    assert!(logged(&run, "after svc []"), "{run}");
    assert!(logged(&run, "[unset] step_end: completed"), "{run}");
}

#[tokio::test]
async fn a_task_with_an_action_this_server_does_not_have_fails_naming_it() {
    let t = loaded().await;
    let r = t
        .exec(
            r#"mutation { createTask(input: {templateRef: "template:corpus-service-action", values: {name: "svc"}}) { id } }"#,
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let registry = std::sync::Arc::new(Registry::reading(&greenroom_tests::sandbox_sources()));
    let settings = WorkerSettings {
        poll: Duration::from_millis(50),
        ..Default::default()
    };
    let _worker = worker::spawn(t.db.clone(), registry, "worker-0".into(), settings);
    let started = Instant::now();
    let task = loop {
        let r = t
            .exec(
                r#"query($id: ID!) { task(id: $id) { status events { nodes { message } } } }"#,
                json!({"id": id}),
            )
            .await;
        let task = r["data"]["task"].clone();
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&task["status"].as_str().unwrap_or("")) {
            break task;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(task["status"], "FAILED", "{task}");
    assert!(
        task.to_string()
            .contains("unknown action 'argocd:create-resources'"),
        "{task}"
    );
}

#[tokio::test]
async fn a_required_list_naming_a_field_twice_is_accepted() {
    let t = loaded().await;
    let run = dry_run(
        &t,
        "corpus-required-twice",
        json!({"name": "svc", "owner": "team-a"}),
    )
    .await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert!(logged(&run, "svc of team-a"), "{run}");
}

#[tokio::test]
async fn javascript_arithmetic_on_what_a_template_never_passed_renders_as_nunjucks_renders_it() {
    let t = loaded().await;
    let run = dry_run(&t, "corpus-undefined-slug", json!({"name": "svc"})).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let file = |path: &str| {
        run["files"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["path"] == path))
            .map(|f| f["content"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no {path} in {run}"))
    };
    assert!(
        file("catalog-info.yaml").contains("github.com/project-slug: undefined/undefined\n"),
        "{run}"
    );
    assert!(
        file(".github/workflows/ci.yml").contains("python-version: NaN\n"),
        "{run}"
    );
}
