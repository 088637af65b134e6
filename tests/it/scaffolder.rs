//! The scaffolder end to end (in-process schema, real workers, real files): templates expose their form,
//! bad values are refused field by field, a task renders a skeleton, steps fail with their log, cancel
//! stops a running action within a second, a task whose worker died is recovered, two workers never
//! run the same task, template paths cannot leave the template's directory, renderings are bounded
//! (fuel, output size) off the runtime, secrets cannot be transformed into the log, and a task's values,
//! output and events are its creator's only.

use api::scaffolder::actions::{Action, ActionContext, ActionError, Registry};
use api::scaffolder::worker::{self, WorkerSettings, Workers};
use greenroom_tests::{first_error_code, fixtures, TestApp, TestDb};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A team-defined action: copies a workspace directory out, so the test can look at what a task made.
struct Snapshot {
    to: PathBuf,
}

#[async_trait::async_trait]
impl Action for Snapshot {
    fn id(&self) -> &'static str {
        "test:snapshot"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let from = cx.workspace_path(cx.input_str("path")?)?;
        let dest = self.to.join(cx.task_id.clone());
        copy(&from, &dest).map_err(|e| ActionError::File("path".into(), e))?;
        cx.output
            .insert("copied".into(), json!(dest.display().to_string()));
        Ok(())
    }
}

/// A team-defined action that echoes its input as its output (as an action handed a secret might).
struct Echo;

#[async_trait::async_trait]
impl Action for Echo {
    fn id(&self) -> &'static str {
        "test:echo"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        if let Some(input) = cx.input.as_object() {
            cx.output.extend(input.clone());
        }
        Ok(())
    }
}

fn copy(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            copy(&e.path(), &to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

struct Setup {
    t: TestDb,
    snapshots: tempfile::TempDir,
    _workers: Vec<Workers>,
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        concurrency: 4,
        poll: Duration::from_millis(50),
        heartbeat: Duration::from_millis(300),
        stale_after: Duration::from_secs(2),
        task_timeout: Duration::from_secs(60),
        ..Default::default()
    }
}

async fn setup(workers: usize) -> Setup {
    let t = TestDb::new().await;
    for file in [
        "scaffolder/template.yaml",
        "scaffolder/publish.yaml",
        "scaffolder/secret.yaml",
        "scaffolder/resumable.yaml",
        "scaffolder/sneaky.yaml",
    ] {
        let out = t.refresh(&fixtures().join(file)).await;
        assert!(out.errors.is_empty() && out.invalid.is_empty(), "{out:?}");
        assert_eq!(out.valid, 1, "{file}: {out:?}");
    }
    let snapshots = tempfile::tempdir().unwrap();
    let mut registry = Registry::reading(&greenroom_tests::sandbox_sources());
    registry.add(Arc::new(Snapshot {
        to: snapshots.path().to_path_buf(),
    }));
    registry.add(Arc::new(Echo));
    let registry = Arc::new(registry);
    let ws = (0..workers)
        .map(|i| {
            worker::spawn(
                t.db.clone(),
                registry.clone(),
                format!("worker-{i}"),
                settings(),
            )
        })
        .collect();
    Setup {
        t,
        snapshots,
        _workers: ws,
    }
}

const CREATE: &str = r#"mutation($v: JSON!) { createTask(input: {templateRef: "template:service", values: $v}) { id status } }"#;
const TASK: &str = r#"query($id: ID!) { task(id: $id) { id status createdBy output
    steps { stepId status action startedAt finishedAt } events { nodes { id kind stepId message } } } }"#;

async fn create(t: &TestDb, values: Value) -> String {
    let r = t.exec(CREATE, json!({ "v": values })).await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["createTask"]["id"].as_str().unwrap().to_string()
}

/// Waits (on the condition, polling) until the task is finished; returns it.
async fn finished(t: &TestDb, id: &str, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let r = t.exec(TASK, json!({ "id": id })).await;
        let task = r["data"]["task"].clone();
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&task["status"].as_str().unwrap_or("")) {
            return task;
        }
        assert!(started.elapsed() < within, "task {id} still {task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (polling) until `done(task)` holds.
async fn until(t: &TestDb, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let task = t.exec(TASK, json!({ "id": id })).await["data"]["task"].clone();
        if done(&task) {
            return task;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn messages(task: &Value) -> Vec<String> {
    task["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["kind"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_template_exposes_its_form_and_renders_a_skeleton() {
    let s = setup(1).await;
    let r = s
        .t
        .exec(
            r#"{ entity(ref: "template:service") { ... on Template { parameterSchema steps { stepId name action } } } }"#,
            json!({}),
        )
        .await;
    let tpl = &r["data"]["entity"];
    assert_eq!(
        tpl["parameterSchema"]["allOf"][0]["required"],
        json!(["name", "owner"]),
        "{r}"
    );
    assert_eq!(
        tpl["steps"][0],
        json!({"stepId": "fetch", "name": "Fetch skeleton", "action": "fetch:template"})
    );

    let id = create(
        &s.t,
        json!({"name": "payments", "owner": "group:default/team-a", "port": 8080}),
    )
    .await;
    let task = finished(&s.t, &id, Duration::from_secs(20)).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(task["createdBy"], "dev");
    let statuses: Vec<(&str, &str)> = task["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stepId"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("fetch", "COMPLETED"),
            ("rename", "COMPLETED"),
            ("wait", "SKIPPED"),
            ("boom", "SKIPPED"),
            ("snapshot", "COMPLETED"),
            ("log", "COMPLETED")
        ]
    );
    assert_eq!(
        task["output"],
        json!({"links": [{"title": "Repository", "url": "https://git.example.com/payments"}],
               "text": [{"title": "Owner", "content": "group:default/team-a"}]})
    );
    let log = messages(&task);
    assert!(
        log.contains(&"log:created payments for dev".to_string()),
        "{log:?}"
    );
    assert_eq!(
        log.last().map(String::as_str),
        Some("completion:completed"),
        "{log:?}"
    );

    // What the task made: names and contents rendered, `raw/**` copied as is, the readme renamed.
    let out = s.snapshots.path().join(greenroom_tests::key_of(&id));
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert_eq!(readme, "# payments\n\nOwned by group:default/team-a.\n");
    let js = std::fs::read_to_string(out.join("src/payments.js")).unwrap();
    assert!(js.contains("name: \"payments\", port: 8080"), "{js}");
    let raw = std::fs::read_to_string(out.join("raw/keep.txt")).unwrap();
    assert_eq!(raw, "kept as is: ${{ values.name }}\n");
    assert!(!out.join("README.tmpl.md").exists());
}

#[tokio::test]
async fn invalid_values_are_refused_field_by_field_and_no_task_is_created() {
    let s = setup(0).await;
    let r =
        s.t.exec(CREATE, json!({ "v": {"name": "Not Valid", "port": 80} }))
            .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
    let fields: Vec<&str> = r["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"/name") && fields.contains(&"/port"),
        "{r}"
    );
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("owner"),
        "{r}"
    );
    let list = s.t.exec("{ tasks { nodes { id } } }", json!({})).await;
    assert_eq!(list["data"]["tasks"]["nodes"], json!([]), "{list}");
    let r =
        s.t.exec(
            r#"mutation { createTask(input: {templateRef: "template:nope", values: {}}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(first_error_code(&r), Some("NOT_FOUND"), "{r}");
}

#[tokio::test]
async fn a_failing_step_fails_the_task_with_its_log_and_later_steps_do_not_run() {
    let s = setup(1).await;
    let id = create(
        &s.t,
        json!({"name": "svc", "owner": "team-a", "failStep": true}),
    )
    .await;
    let task = finished(&s.t, &id, Duration::from_secs(20)).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let boom = task["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stepId"] == "boom")
        .unwrap();
    assert_eq!(boom["status"], "FAILED");
    let snapshot = task["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stepId"] == "snapshot")
        .unwrap();
    assert_eq!(snapshot["status"], "OPEN");
    let log = messages(&task);
    assert!(
        log.iter()
            .any(|l| l.contains("step boom (fs:rename) failed: out/does-not-exist does not exist")),
        "{log:?}"
    );
    assert_eq!(log.last().map(String::as_str), Some("completion:failed"));
    assert!(task["output"].is_null());

    // Retry runs it again from the first step (and it fails again the same way).
    let r =
        s.t.exec(
            r#"mutation($id: ID!) { retryTask(id: $id) { status } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(r["data"]["retryTask"]["status"], "OPEN", "{r}");
    let again = finished(&s.t, &id, Duration::from_secs(20)).await;
    assert_eq!(again["status"], "FAILED");
    // A completed or running task cannot be retried.
    let ok = create(&s.t, json!({"name": "svc", "owner": "team-a"})).await;
    finished(&s.t, &ok, Duration::from_secs(20)).await;
    let r =
        s.t.exec(
            r#"mutation($id: ID!) { retryTask(id: $id) { status } }"#,
            json!({"id": ok}),
        )
        .await;
    assert_eq!(first_error_code(&r), Some("CONFLICT"), "{r}");
}

#[tokio::test]
async fn cancel_stops_a_running_wait_within_a_second() {
    let s = setup(1).await;
    let id = create(
        &s.t,
        json!({"name": "svc", "owner": "team-a", "waitSeconds": 60}),
    )
    .await;
    // Wait until the wait step runs.
    until(&s.t, &id, |task| {
        task["steps"].as_array().is_some_and(|st| {
            st.iter()
                .any(|s| s["stepId"] == "wait" && s["status"] == "PROCESSING")
        })
    })
    .await;
    let asked = Instant::now();
    let r =
        s.t.exec(
            r#"mutation($id: ID!) { cancelTask(id: $id) { id } }"#,
            json!({"id": id}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let task = finished(&s.t, &id, Duration::from_secs(5)).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(task["status"], "CANCELLED", "{task}");
    let steps: Vec<&str> = task["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps[2], "CANCELLED");
    assert_eq!(steps[4], "CANCELLED");
    // Cancelling a finished task is a conflict.
    let r =
        s.t.exec(
            r#"mutation($id: ID!) { cancelTask(id: $id) { id } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(first_error_code(&r), Some("CONFLICT"), "{r}");
}

#[tokio::test]
async fn a_template_cannot_fetch_outside_its_directory() {
    let s = setup(1).await;
    for from in ["../../../../../../etc/passwd", "/etc", "./skeleton/../../"] {
        let id = create(
            &s.t,
            json!({"name": "svc", "owner": "team-a", "fetchFrom": from}),
        )
        .await;
        let task = finished(&s.t, &id, Duration::from_secs(20)).await;
        assert_eq!(task["status"], "FAILED", "{from}: {task}");
        let log = messages(&task);
        assert!(log.iter().any(|l| l.contains("leaves")), "{from}: {log:?}");
    }
}

#[tokio::test]
async fn a_task_whose_worker_died_is_recovered_and_never_left_processing() {
    let s = setup(0).await;
    let id = create(&s.t, json!({"name": "svc", "owner": "team-a"})).await;
    // A worker claims it and dies without a heartbeat.
    let claimed = api::scaffolder::tasks::claim(&s.t.db, "dead-worker")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, greenroom_tests::key_of(&id));
    let live = Arc::new(Registry::reading(&greenroom_tests::sandbox_sources()));
    let _w = worker::spawn(s.t.db.clone(), live, "live-worker".into(), settings());
    let task = finished(&s.t, &id, Duration::from_secs(20)).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let log = messages(&task);
    assert!(
        log.iter()
            .any(|l| l.starts_with("recovered:") && l.contains("dead-worker")),
        "{log:?}"
    );
}

#[tokio::test]
async fn two_workers_never_run_the_same_task() {
    let s = setup(2).await;
    let n = if greenroom_tests::TestDb::backend() == "postgres" {
        200
    } else {
        60
    };
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(create(&s.t, json!({"name": format!("svc-{i}"), "owner": "team-a"})).await);
    }
    let mut holders = std::collections::HashMap::new();
    for id in &ids {
        let task = finished(&s.t, id, Duration::from_secs(120)).await;
        assert_eq!(task["status"], "COMPLETED", "{task}");
        let starts: Vec<String> = messages(&task)
            .into_iter()
            .filter(|m| m.starts_with("log:started by"))
            .collect();
        assert_eq!(
            starts.len(),
            1,
            "{id} ran {} times: {starts:?}",
            starts.len()
        );
        *holders.entry(starts[0].clone()).or_insert(0) += 1;
    }
    // Both workers took part.
    assert_eq!(holders.len(), 2, "{holders:?}");
}

#[tokio::test]
async fn task_events_replay_then_stream_until_completion() {
    use futures_util::StreamExt;
    let s = setup(1).await;
    let id = create(
        &s.t,
        json!({"name": "svc", "owner": "team-a", "waitSeconds": 0.3}),
    )
    .await;
    let app = TestApp::new(&s.t).sandboxed().admin();
    let schema = app.schema();
    let req = async_graphql::Request::new(format!(
        r#"subscription {{ taskEvents(taskId: "{id}") {{ kind message }} }}"#
    ));
    let req = app.prepare(req);
    let events: Vec<async_graphql::Response> = tokio::time::timeout(
        Duration::from_secs(20),
        schema.execute_stream(req).collect::<Vec<_>>(),
    )
    .await
    .expect("the stream ends after completion");
    let kinds: Vec<String> = events
        .iter()
        .map(|r| {
            let v = r.data.clone().into_json().unwrap();
            format!(
                "{}:{}",
                v["taskEvents"]["kind"].as_str().unwrap(),
                v["taskEvents"]["message"].as_str().unwrap()
            )
        })
        .collect();
    assert!(kinds.contains(&"step_start:Wait".to_string()), "{kinds:?}");
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("completion:completed"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_template_is_rendered_published_to_git_and_registered_in_the_catalog() {
    let s = setup(1).await;
    let remote_dir = tempfile::tempdir().unwrap();
    let (bare, remote) = greenroom_tests::git::bare_repo(remote_dir.path(), "payments.git");
    let r = s
        .t
        .exec(
            r#"mutation($v: JSON!) { createTask(input: {templateRef: "template:publish-service", values: $v}) { id } }"#,
            json!({"v": {"name": "payments", "owner": "group:default/team-a", "remoteUrl": remote}}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let task = finished(&s.t, &id, Duration::from_secs(30)).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let commit = task["output"]["text"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(task["output"]["links"][0]["url"], remote.as_str());

    // The remote has the commit, with rendered files.
    let log = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&bare)
        .args(["log", "--format=%H %s", "main"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert_eq!(log.trim(), format!("{commit} Create payments"));
    let info = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&bare)
        .args(["show", "main:catalog-info.yaml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("name: payments"));

    // The published catalog-info.yaml is a source, and its entity is in the catalog.
    let r =
        s.t.exec(
            r#"{ entity(ref: "component:payments") { ref spec } locations { nodes { type target } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["entity"]["ref"], "component:default/payments",
        "{r}"
    );
    assert_eq!(
        r["data"]["entity"]["spec"]["owner"], "group:default/team-a",
        "{r}"
    );
    let target = format!("{remote}#main:catalog-info.yaml");
    assert!(
        r["data"]["locations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["type"] == "git" && l["target"] == target.as_str()),
        "{r}"
    );
}

#[tokio::test]
async fn secrets_reach_steps_but_never_the_database_or_the_log() {
    use sea_orm::{ConnectionTrait, Statement};
    let s = setup(1).await;
    let secret = "s3cr3t-token-value";
    let r = s
        .t
        .exec(
            r#"mutation($s: JSON!) { createTask(input: {templateRef: "template:with-secret", values: {name: "bot"}, secrets: $s}) { id } }"#,
            json!({"s": {"token": secret}}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let task = finished(&s.t, &id, Duration::from_secs(20)).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let log = messages(&task);
    assert!(
        log.contains(&"log:calling the API as bot with ***".to_string()),
        "{log:?}"
    );
    // Nothing stored holds the secret.
    let backend = s.t.db.get_database_backend();
    let mut seen = 0;
    for (table, columns) in [
        ("tasks", "values, spec, steps, output, template_ref"),
        ("task_events", "message"),
        ("audit_log", "target, operation"),
    ] {
        let rows =
            s.t.db
                .query_all_raw(Statement::from_string(
                    backend,
                    format!(
                        "SELECT {} FROM {table}",
                        columns
                            .split(", ")
                            .map(|c| format!("\"{c}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
                .await
                .unwrap();
        for row in rows {
            for col in columns.split(", ") {
                let v: Option<String> = row.try_get("", col).unwrap();
                let v = v.unwrap_or_default();
                seen += 1;
                assert!(!v.contains(secret), "{table}.{col} holds the secret: {v}");
            }
        }
    }
    assert!(seen > 5, "the check read the stored text ({seen} values)");
    let r = s
        .t
        .exec(r#"mutation { createTask(input: {templateRef: "template:with-secret", values: {}, secrets: {token: 1}}) { id } }"#, json!({}))
        .await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
}

#[tokio::test]
async fn a_dry_run_shows_the_files_and_log_and_publishes_nothing() {
    let s = setup(0).await;
    let r = s
        .t
        .exec(
            r#"mutation($v: JSON!) { dryRunTemplate(input: {templateRef: "template:publish-service", values: $v}) {
                status files { path content } log output } }"#,
            json!({"v": {"name": "orders", "owner": "group:default/team-b", "remoteUrl": "file:///nonexistent/repo.git"}}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let d = &r["data"]["dryRunTemplate"];
    assert_eq!(d["status"], "COMPLETED", "{r}");
    let files: Vec<&str> = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        vec![
            "README.tmpl.md",
            "catalog-info.yaml",
            "raw/keep.txt",
            "src/orders.js"
        ],
        "{r}"
    );
    let info = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "catalog-info.yaml")
        .unwrap();
    assert!(
        info["content"].as_str().unwrap().contains("name: orders"),
        "{r}"
    );
    let log: Vec<&str> = d["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        log.contains(&"[publish] log: dry run: publish:git skipped"),
        "{log:?}"
    );
    assert!(
        log.contains(&"[register] log: dry run: catalog:register skipped"),
        "{log:?}"
    );
    // Nothing was stored: no task, no source.
    let r =
        s.t.exec(
            "{ tasks { nodes { id } } locations { nodes { type } } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["tasks"]["nodes"], json!([]), "{r}");
    assert!(
        !r["data"]["locations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["type"] == "git"),
        "{r}"
    );
}

#[tokio::test]
async fn a_task_that_runs_past_its_timeout_fails() {
    let s = setup(0).await;
    let quick = WorkerSettings {
        task_timeout: Duration::from_millis(500),
        ..settings()
    };
    let _w = worker::spawn(
        s.t.db.clone(),
        Arc::new(Registry::reading(&greenroom_tests::sandbox_sources())),
        "impatient".into(),
        quick,
    );
    let id = create(
        &s.t,
        json!({"name": "svc", "owner": "team-a", "waitSeconds": 30}),
    )
    .await;
    let task = finished(&s.t, &id, Duration::from_secs(10)).await;
    assert_eq!(task["status"], "FAILED", "{task}");
    let log = messages(&task);
    assert!(
        log.iter().any(|l| l == "log:timed out after 500ms"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_resumable_task_continues_at_its_first_unfinished_step() {
    use api::scaffolder::{StepState, StepStatus};
    let s = setup(0).await;
    let r = s
        .t
        .exec(
            r#"mutation { createTask(input: {templateRef: "template:resumable", values: {}}) { id } }"#,
            json!({}),
        )
        .await;
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    // A worker claims it, completes the first step (with an output), and dies.
    let claimed = api::scaffolder::tasks::claim(&s.t.db, "dead-worker")
        .await
        .unwrap()
        .unwrap();
    let states = vec![
        StepState {
            id: "first".into(),
            name: "First".into(),
            action: "debug:log".into(),
            status: StepStatus::Completed,
            started_at: Some(1),
            finished_at: Some(2),
            output: Some(serde_json::from_value(json!({"note": "the first output"})).unwrap()),
        },
        StepState {
            id: "second".into(),
            name: "Second".into(),
            action: "debug:log".into(),
            status: StepStatus::Processing,
            started_at: Some(3),
            finished_at: None,
            output: None,
        },
    ];
    let claim = api::scaffolder::tasks::Claim {
        holder: "dead-worker".into(),
        attempt: claimed.attempts,
    };
    api::scaffolder::tasks::save_steps(&s.t.db, &claimed.id, &claim, &states)
        .await
        .unwrap();
    let _w = worker::spawn(
        s.t.db.clone(),
        Arc::new(Registry::reading(&greenroom_tests::sandbox_sources())),
        "live-worker".into(),
        settings(),
    );
    let task = finished(&s.t, &id, Duration::from_secs(20)).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let log = messages(&task);
    assert!(
        log.iter()
            .any(|l| l.starts_with("recovered:") && l.contains("resumes")),
        "{log:?}"
    );
    assert!(
        log.contains(&"log:completed before; skipped on resume".to_string()),
        "{log:?}"
    );
    assert!(!log.contains(&"log:first ran".to_string()), "{log:?}");
    assert!(
        log.contains(&"log:second sees the first output".to_string()),
        "{log:?}"
    );
}

#[tokio::test]
async fn running_tasks_handed_back_at_shutdown_run_again_elsewhere() {
    let s = setup(1).await;
    let id = create(
        &s.t,
        json!({"name": "svc", "owner": "team-a", "waitSeconds": 30}),
    )
    .await;
    until(&s.t, &id, |task| task["status"] == "PROCESSING").await;
    // What a stopping server does: hand its running tasks back.
    let n = api::scaffolder::tasks::release_all(&s.t.db, "worker-0")
        .await
        .unwrap();
    assert_eq!(n, 1);
    let _other = worker::spawn(
        s.t.db.clone(),
        Arc::new(Registry::reading(&greenroom_tests::sandbox_sources())),
        "worker-b".into(),
        settings(),
    );
    // Run again (by whichever worker claims it first), after the hand-back.
    until(&s.t, &id, |task| {
        let log = messages(task);
        let back = log
            .iter()
            .position(|l| l == "log:handed back by worker-0 (shutdown)");
        back.is_some_and(|b| log.iter().skip(b).any(|l| l.starts_with("log:started by")))
    })
    .await;
    let r =
        s.t.exec(
            r#"mutation($id: ID!) { cancelTask(id: $id) { id } }"#,
            json!({"id": id}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let task = finished(&s.t, &id, Duration::from_secs(5)).await;
    assert_eq!(task["status"], "CANCELLED", "{task}");
}

/// Runs `query` as `subject` holding `scopes`.
async fn exec_as(
    s: &Setup,
    subject: &str,
    scopes: &[api::auth::Scope],
    query: &str,
    vars: Value,
) -> Value {
    let caller = api::auth::Caller {
        subject: subject.into(),
        scopes: scopes.iter().copied().collect(),
        groups: Vec::new(),
        jti: None,
        authenticated: true,
    };
    TestApp::new(&s.t)
        .sandboxed()
        .caller(caller)
        .exec(query, vars)
        .await
}

#[tokio::test]
async fn only_the_creator_changes_a_task_and_registering_needs_catalog_write() {
    use api::auth::Scope;
    let s = setup(0).await;
    let run = [Scope::ScaffolderRun, Scope::CatalogRead];
    let r = exec_as(
        &s,
        "user:default/ann",
        &run,
        CREATE,
        json!({"v": {"name": "svc", "owner": "team-a"}}),
    )
    .await;
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let cancel = r#"mutation($id: ID!) { cancelTask(id: $id) { status } }"#;
    let r = exec_as(&s, "user:default/bob", &run, cancel, json!({"id": id})).await;
    assert_eq!(first_error_code(&r), Some("FORBIDDEN"), "{r}");
    let r = exec_as(&s, "user:default/ann", &run, cancel, json!({"id": id})).await;
    assert_eq!(r["data"]["cancelTask"]["status"], "CANCELLED", "{r}");
    // A template that registers sources needs catalog:write as well.
    let publish = r#"mutation { createTask(input: {templateRef: "template:publish-service", values: {name: "a", owner: "b", remoteUrl: "file:///x"}}) { id } }"#;
    let r = exec_as(&s, "user:default/ann", &run, publish, json!({})).await;
    assert_eq!(first_error_code(&r), Some("FORBIDDEN"), "{r}");
}

#[tokio::test]
async fn a_template_cannot_choose_its_own_directory() {
    let s = setup(1).await;
    let r = s
        .t
        .exec(r#"mutation { createTask(input: {templateRef: "template:sneaky", values: {}}) { id } }"#, json!({}))
        .await;
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let task = finished(&s.t, &id, Duration::from_secs(20)).await;
    // `environ` is looked up next to the template's file, not in /proc/self.
    assert_eq!(task["status"], "FAILED", "{task}");
    let log = messages(&task);
    assert!(
        log.iter()
            .any(|l| l.contains("environ") && l.contains("No such file")),
        "{log:?}"
    );
}

/// Loads `hostile.yaml` (templates `heavy` and `leaky`).
async fn load_hostile(t: &TestDb) {
    let out = t.refresh(&fixtures().join("scaffolder/hostile.yaml")).await;
    assert!(out.errors.is_empty() && out.invalid.is_empty(), "{out:?}");
    assert_eq!(out.valid, 2, "{out:?}");
}

/// Creates a task of `template` with `values` (and `secrets`) as the dev caller.
async fn create_from(t: &TestDb, template: &str, values: Value, secrets: Value) -> String {
    let r = t
        .exec(
            r#"mutation($t: String!, $v: JSON!, $s: JSON) { createTask(input: {templateRef: $t, values: $v, secrets: $s}) { id } }"#,
            json!({"t": template, "v": values, "s": secrets}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    r["data"]["createTask"]["id"].as_str().unwrap().to_string()
}

/// Every stored text of the task tables and the audit log.
async fn stored_texts(t: &TestDb) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = t.db.get_database_backend();
    let mut out = Vec::new();
    for (table, columns) in [
        ("tasks", ["values", "spec", "steps", "output"].as_slice()),
        ("task_events", ["message"].as_slice()),
        ("audit_log", ["target"].as_slice()),
    ] {
        let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let sql = format!("SELECT {} FROM {table}", cols.join(", "));
        let rows =
            t.db.query_all_raw(Statement::from_string(backend, sql))
                .await
                .unwrap();
        for row in rows {
            for col in columns {
                let v: Option<String> = row.try_get("", col).unwrap();
                out.push(v.unwrap_or_default());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_loops_run_out_of_fuel_and_the_server_keeps_answering() {
    let s = setup(1).await;
    load_hostile(&s.t).await;
    let server = TestApp::new(&s.t).serve().await;
    for which in ["loops", "file-loops"] {
        let id = create_from(&s.t, "template:heavy", json!({"which": which}), Value::Null).await;
        let started = Instant::now();
        // While it renders, the server answers at once.
        let task = loop {
            let health = server
                .client
                .get(server.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            assert!(
                health.is_ok_and(|r| r.status().is_success()),
                "{which}: /healthz did not answer while a template rendered"
            );
            let task = s.t.exec(TASK, json!({ "id": id })).await["data"]["task"].clone();
            if ["COMPLETED", "FAILED", "CANCELLED"].contains(&task["status"].as_str().unwrap_or(""))
            {
                break task;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{which}: {task}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(task["status"], "FAILED", "{which}: {task}");
        let log = messages(&task);
        assert!(
            log.iter()
                .any(|l| l.contains(which) && l.contains("ran out of fuel")),
            "{which}: {log:?}"
        );
    }
}

#[tokio::test]
async fn oversized_renderings_fail_and_no_huge_event_is_stored() {
    let s = setup(1).await;
    load_hostile(&s.t).await;
    for (which, status, needle) in [
        (
            "huge",
            "FAILED",
            "step huge: input: in '${{ 'x' * 20000000 }}': renders more than 1048576 bytes",
        ),
        (
            "file-huge",
            "FAILED",
            "huge.txt: renders more than 10485760 bytes",
        ),
        ("big-log", "COMPLETED", "… [cut: 900000 bytes]"),
    ] {
        let id = create_from(&s.t, "template:heavy", json!({"which": which}), Value::Null).await;
        let task = finished(&s.t, &id, Duration::from_secs(20)).await;
        assert_eq!(task["status"], status, "{which}: {task}");
        let log = messages(&task);
        assert!(log.iter().any(|l| l.contains(needle)), "{which}: {log:?}");
    }
    let longest = stored_texts(&s.t).await.iter().map(String::len).max();
    assert!(
        longest < Some(70_000),
        "a stored text has {longest:?} bytes"
    );
}

#[tokio::test]
async fn transformed_secrets_never_reach_the_log_or_the_database() {
    let s = setup(1).await;
    load_hostile(&s.t).await;
    let secret = json!({"token": "s3cr3t-token-value"});
    let refused = [
        "upper",
        "list-join",
        "reverse",
        "slice",
        "concat",
        "replace",
        "loop",
        "whole-map",
    ];
    for which in refused {
        let id = create_from(
            &s.t,
            "template:leaky",
            json!({"which": which}),
            secret.clone(),
        )
        .await;
        let task = finished(&s.t, &id, Duration::from_secs(20)).await;
        assert_eq!(task["status"], "FAILED", "{which}: {task}");
        let log = messages(&task);
        assert!(
            log.iter()
                .any(|l| l.contains(&format!("step {which}: input:"))
                    && l.contains("secrets may only be used whole")),
            "{which}: {log:?}"
        );
    }
    // Smuggled through a block or echoed through a step output: it renders, but never transformed.
    for which in ["smuggled", "echoed"] {
        let id = create_from(
            &s.t,
            "template:leaky",
            json!({"which": which}),
            secret.clone(),
        )
        .await;
        let task = finished(&s.t, &id, Duration::from_secs(20)).await;
        assert_eq!(task["status"], "COMPLETED", "{which}: {task}");
    }
    let texts = stored_texts(&s.t).await;
    assert!(texts.len() > 20, "{}", texts.len());
    for text in texts {
        let flat: String = text
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        for form in ["tokenvalue", "eulavnekot", "3cr3ttoken"] {
            assert!(
                !flat.contains(form),
                "a stored text holds the secret: {text}"
            );
        }
    }
}

#[tokio::test]
async fn a_task_s_values_output_and_events_are_its_creator_s_only() {
    use api::auth::Scope;
    use futures_util::StreamExt;
    let s = setup(1).await;
    let run = [Scope::ScaffolderRun, Scope::CatalogRead];
    let r = exec_as(
        &s,
        "user:default/ann",
        &run,
        CREATE,
        json!({"v": {"name": "svc", "owner": "team-a"}}),
    )
    .await;
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    finished(&s.t, &id, Duration::from_secs(20)).await;
    let read = [Scope::CatalogRead];
    let bob = "user:default/bob";
    let r = exec_as(&s, bob, &read, TASK_STATUS, json!({"id": id})).await;
    assert_eq!(r["data"]["task"]["status"], "COMPLETED", "{r}");
    for field in ["values", "output", "events { nodes { message } }"] {
        let q = format!(r#"query($id: ID!) {{ task(id: $id) {{ id {field} }} }}"#);
        let r = exec_as(&s, bob, &read, &q, json!({"id": id})).await;
        assert_eq!(first_error_code(&r), Some("FORBIDDEN"), "{field}: {r}");
        assert!(!r.to_string().contains("svc"), "{field}: {r}");
    }
    let r = exec_as(
        &s,
        bob,
        &read,
        "{ tasks { nodes { id values } } }",
        json!({}),
    )
    .await;
    assert_eq!(first_error_code(&r), Some("FORBIDDEN"), "{r}");
    assert!(!r.to_string().contains("svc"), "{r}");
    // The live log too.
    let caller = api::auth::Caller {
        subject: bob.into(),
        scopes: read.iter().copied().collect(),
        groups: Vec::new(),
        jti: None,
        authenticated: true,
    };
    let req = async_graphql::Request::new(format!(
        r#"subscription {{ taskEvents(taskId: "{id}") {{ message }} }}"#
    ));
    let app = TestApp::new(&s.t).sandboxed().caller(caller);
    let req = app.prepare(req);
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        app.schema().execute_stream(req).next(),
    )
    .await
    .expect("the subscription answers");
    let first = serde_json::to_value(first.expect("one response")).unwrap();
    assert_eq!(first_error_code(&first), Some("FORBIDDEN"), "{first}");
    // Its creator and an admin read them.
    let all = r#"query($id: ID!) { task(id: $id) { values output events { nodes { kind } } } }"#;
    for (who, scopes) in [
        ("user:default/ann", read.as_slice()),
        (
            "user:default/root",
            [Scope::Admin, Scope::CatalogRead].as_slice(),
        ),
    ] {
        let r = exec_as(&s, who, scopes, all, json!({"id": id})).await;
        assert!(r["errors"].is_null(), "{who}: {r}");
        assert_eq!(r["data"]["task"]["values"]["name"], "svc", "{who}: {r}");
    }
}

const TASK_STATUS: &str =
    r#"query($id: ID!) { task(id: $id) { status createdBy steps { stepId status } } }"#;
