//! `http:backstage:request` with the real binary: a task lists entities through Greenroom's own
//! `/api/catalog/entities` (and reads one by name, and asks `/graphql`), as its creator, inside the
//! process; its output uses `steps.x.output.body`. Error cases: a non-2xx answer with and without
//! `continueOnBadResponse`, a path Greenroom does not serve, a bad method, a write the creator's token
//! does not allow, and a dry run that runs GET and skips POST. On SQLite, or on a fresh PostgreSQL
//! database when `GREENROOM_TEST_POSTGRES_URL` is set.

use greenroom_tests::pg;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: alpha}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: beta}
spec: {type: website, lifecycle: production, owner: team-a}
";

const TEMPLATES: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: lists}
spec:
  owner: team-a
  type: service
  steps:
    - id: list
      action: http:backstage:request
      input:
        method: GET
        path: /api/catalog/entities
        params: { filter: kind=component, order: 'asc:metadata.name' }
    - id: one
      action: http:backstage:request
      input:
        method: GET
        path: catalog/entities/by-name/component/default/beta
        logRequestPath: false
    - id: gql
      action: http:backstage:request
      input:
        method: POST
        path: /graphql
        headers: { content-type: application/json }
        body: { query: '{ entity(ref: "component:alpha") { name } }' }
    - id: missing
      action: http:backstage:request
      input:
        method: GET
        path: /api/catalog/entities/by-name/component/default/${{ parameters.missing }}
        continueOnBadResponse: true
    - id: write
      action: http:backstage:request
      input:
        method: POST
        path: /api/catalog/locations
        body: { type: url, target: 'https://example.com/x.yaml' }
        continueOnBadResponse: true
  output:
    count: ${{ steps.list.output.body | length }}
    first: ${{ steps.list.output.body[0].metadata.name }}
    code: ${{ steps.list.output.code }}
    type: ${{ steps.one.output.body.spec.type }}
    json: ${{ steps.one.output.headers['content-type'] }}
    graphql: ${{ steps.gql.output.body.data.entity.name }}
    missing: ${{ steps.missing.output.code }}
    missingError: ${{ steps.missing.output.body.error.name }}
    write: ${{ steps.write.output.code }}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: failing}
spec:
  owner: team-a
  type: service
  steps:
    - id: call
      action: http:backstage:request
      input:
        method: ${{ parameters.method }}
        path: ${{ parameters.path }}
"#;

fn config(dir: &Path, db_url: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("catalog.yaml"), CATALOG).unwrap();
    std::fs::write(dir.join("templates.yaml"), TEMPLATES).unwrap();
    let cfg = dir.join("greenroom.yaml");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  listen: 127.0.0.1:0\n  limits:\n    rateLimitPerSecond: 0\ndatabase:\n  url: '{db_url}'\nauth:\n  jwt:\n    secret: '{SECRET}'\ncatalog:\n  rules:\n    - allow: [Component, Template]\n  locations:\n    - type: file\n      target: {}\n    - type: file\n      target: {}\n",
            dir.join("catalog.yaml").display(),
            dir.join("templates.yaml").display(),
        ),
    )
    .unwrap();
    cfg
}

fn token(cfg: &Path, subject: &str, scopes: &str) -> String {
    let out = crate::bin()
        .args(["--config", &cfg.display().to_string()])
        .args(["token", "issue", "--subject", subject, "--scope", scopes])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Client {
    http: reqwest::Client,
    addr: String,
    token: String,
}

impl Client {
    /// Waits until the catalog file's entities are loaded: it is read in its own provider run,
    /// which may end after the templates' one.
    async fn wait_for_catalog(&self) {
        let started = Instant::now();
        loop {
            let r = self
                .gql(
                    r#"{ entity(ref: "component:default/beta") { name } }"#,
                    json!({}),
                )
                .await;
            if r["data"]["entity"]["name"] == "beta" {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{r}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        self.http
            .post(format!("{}/graphql", self.addr))
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Starts `template` (once the templates are loaded) and waits until it ends.
    async fn run(&self, template: &str, values: Value) -> Value {
        let create = "mutation($t: String!, $v: JSON!) { createTask(input: {templateRef: $t, values: $v}) { id } }";
        let started = Instant::now();
        let id = loop {
            let r = self.gql(create, json!({"t": template, "v": values})).await;
            if let Some(id) = r["data"]["createTask"]["id"].as_str() {
                break id.to_string();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{r}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let task = "query($id: ID!) { task(id: $id) { status output events { nodes { stepId message } } } }";
        loop {
            let r = self.gql(task, json!({"id": id})).await;
            let t = &r["data"]["task"];
            if !["OPEN", "PROCESSING"].contains(&t["status"].as_str().unwrap_or("?")) {
                return t.clone();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{r}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn scenario(db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), db_url);
    let server = crate::serve(&cfg);
    let client = |token: String| Client {
        http: reqwest::Client::new(),
        addr: server.addr.clone(),
        token,
    };
    let reader = client(token(
        &cfg,
        "user:default/ann",
        "scaffolder:run catalog:read",
    ));

    reader.wait_for_catalog().await;
    let task = reader
        .run("template:lists", json!({"missing": "nope"}))
        .await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(
        task["output"],
        json!({
            "count": 2, "first": "alpha", "code": 200, "type": "website",
            "json": "application/json", "graphql": "alpha",
            "missing": 404, "missingError": "NotFoundError",
            // The creator's token has no catalog:write, and neither has their task.
            "write": 403,
        }),
        "{task}"
    );
    let log = task["events"].to_string();
    assert!(
        log.contains("GET request against /api/catalog/entities?filter=kind%3Dcomponent"),
        "{log}"
    );
    assert!(
        !log.contains("/default/beta"),
        "logRequestPath: false hides the path: {log}"
    );

    let failing = |method: &str, path: &str| json!({"method": method, "path": path});
    for (values, expected) in [
        (
            failing(
                "GET",
                "/api/catalog/entities/by-name/component/default/nope",
            ),
            "status 404",
        ),
        (
            failing("GET", "/proxy/snyk/org/projects"),
            "input.path '/proxy/snyk/org/projects' is not an API Greenroom serves",
        ),
        (
            failing("FETCH", "/api/catalog/entities"),
            "input.method 'FETCH' is not one of GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE",
        ),
    ] {
        let task = reader.run("template:failing", values).await;
        assert_eq!(task["status"], "FAILED", "{task}");
        assert!(
            task["events"].to_string().contains(expected),
            "{expected}: {task}"
        );
    }

    // A dry run sends GET and skips POST (nothing is registered).
    let writer = client(token(
        &cfg,
        "user:default/bo",
        "scaffolder:run catalog:read catalog:write",
    ));
    let r = writer
        .gql(
            r#"mutation { dryRunTemplate(input: {templateRef: "template:lists", values: {missing: "x"}}) { status log output } }"#,
            json!({}),
        )
        .await;
    let run = &r["data"]["dryRunTemplate"];
    assert_eq!(run["status"], "COMPLETED", "{r}");
    assert_eq!(run["output"]["count"], 2, "{r}");
    assert!(
        run["log"]
            .to_string()
            .contains("dry run: skipped the POST request against /api/catalog/locations"),
        "{r}"
    );
    // A dry run skips a POST before building its request, as Roadie's does: a path Greenroom does
    // not serve (a `/proxy/…` of an adopter's Backstage) is then no error; a GET to it still is.
    let dry = |values: Value| {
        let writer = &writer;
        async move {
            let r = writer
                .gql(
                    "mutation($v: JSON!) { dryRunTemplate(input: {templateRef: \"template:failing\", values: $v}) { status log } }",
                    json!({"v": values}),
                )
                .await;
            r["data"]["dryRunTemplate"].clone()
        }
    };
    let run = dry(failing("POST", "/proxy/argocd/api/applications")).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert!(
        run["log"]
            .to_string()
            .contains("dry run: skipped the POST request against /proxy/argocd/api/applications"),
        "{run}"
    );
    let run = dry(failing("GET", "/proxy/argocd/api/applications")).await;
    assert_eq!(run["status"], "FAILED", "{run}");
    assert!(
        run["log"]
            .to_string()
            .contains("is not an API Greenroom serves"),
        "{run}"
    );
    let r = writer.gql("{ locations { target } }", json!({})).await;
    assert!(!r.to_string().contains("example.com"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_calls_greenrooms_own_apis_as_its_creator() {
    pg::on_fresh_database(
        "gr_backstage_request",
        |url| async move { scenario(&url).await },
    )
    .await;
}
