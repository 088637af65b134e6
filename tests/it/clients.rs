//! Real GraphQL clients against a live server on an ephemeral port (issue 15): the `graphql-ws` client
//! (deployment and task-log subscriptions, and the close codes a frontend sees when the server refuses),
//! Apollo Client (relay-style pagination merged in its normalized cache, partial data with
//! `errorPolicy: 'all'`, cache identities) and Relay (fragments compiled by relay-compiler against
//! `schema.graphql`, run by relay-runtime: entity pages and lists, deployment history, two tasks' steps).
//! Each runs a script in `tests/js` that prints one `ok`/`FAIL` line per check and exits non-zero on a
//! failure; like the other JS checks they skip without `npm ci` (and fail under CI: see
//! `greenroom_tests::js`).

use api::auth::jwt::{issue, Verifier, VerifierSettings};
use api::auth::Authenticator;
use api::scaffolder::actions::{Action, ActionContext, ActionError, Registry};
use api::scaffolder::worker::{self, WorkerSettings, Workers};
use greenroom_tests::js::{self, node};
use greenroom_tests::{TestApp, TestDb, TestServer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "clients-test-secret-of-at-least-32-bytes";

/// A token for `sub` with `scope`, and its `jti`.
fn token(sub: &str, scope: &str) -> (String, String) {
    let (token, claims) = issue(SECRET, sub, scope, Duration::from_secs(600), None, None).unwrap();
    (token, claims.jti.expect("issued tokens carry a jti"))
}

/// A server over the example catalog that needs a token for everything, with its deployment event
/// channel (as `serve` wires it).
/// A fresh database with Backstage's example catalog, served with authentication.
async fn examples() -> (TestDb, TestServer) {
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = authenticated(&t).await;
    (t, s)
}

async fn authenticated(t: &TestDb) -> TestServer {
    let auth = Authenticator {
        verifier: Verifier::new(VerifierSettings {
            secret: Some(SECRET.into()),
            ..VerifierSettings::default()
        })
        .unwrap(),
        anonymous_read: false,
        revocations: Default::default(),
        ownership_policy: false,
    };
    let events = api::deployments::events::Events::default();
    events.listen(&t.db).await;
    TestApp::new(t).auth(auth).events(events).serve().await
}

/// Runs `script` with `args`, prints its output and how long it took, and asserts it exited 0 with
/// every line of `expect_ok` reported as `ok <name>:` and no `FAIL` line.
async fn run(script: &str, args: Vec<String>, expect_ok: &[&str]) -> String {
    let started = Instant::now();
    let (ok, out) = node(script, args).await;
    println!("{script} ({} ms):\n{out}", started.elapsed().as_millis());
    assert!(ok, "{script} failed:\n{out}");
    assert!(!out.lines().any(|l| l.starts_with("FAIL")), "{out}");
    for name in expect_ok {
        let line = format!("ok {name}:");
        assert!(
            out.lines().any(|l| l.starts_with(&line)),
            "{script} did not report {name}:\n{out}"
        );
    }
    out
}

#[tokio::test]
async fn graphql_ws_client_sees_events_and_the_close_codes_of_refusals() {
    if js::skip(
        "graphql_ws_client_sees_events_and_the_close_codes_of_refusals",
        false,
    ) {
        return;
    }
    let (t, s) = examples().await;
    let (reader, _) = token("user:default/jane", "catalog:read");
    let (bot, _) = token("bot:ci", "deployments:write catalog:read");
    let (no_scope, _) = token("user:default/nos", "scaffolder:run");
    let (watcher, watcher_jti) = token("user:default/watcher", "catalog:read");
    let (admin, _) = token("user:default/root", "admin");
    let _workers = scaffolder(&t).await;
    let (runner, _) = token("user:default/jane", "catalog:read scaffolder:run");
    let values = json!({"name": "payments", "owner": "group:default/team-a"});
    let (task, status) = finished_task(&s, &runner, values).await;
    assert_eq!(status, "COMPLETED");
    run(
        "ws-client.mjs",
        vec![
            s.url("/graphql"),
            reader,
            bot,
            no_scope,
            watcher,
            watcher_jti,
            admin,
            "--task".into(),
            task,
            runner,
        ],
        &[
            "subscription-delivers-recorded-deployment",
            "subscription-delivers-status-change",
            "no-token-closes-4401",
            "bad-token-closes-4401",
            "not-bearer-closes-4401",
            "no-scope-subscription-forbidden",
            "malformed-message-closes-4400",
            "second-connection-init-closes-4429",
            "revoked-token-closes-4403",
            "task-events-replayed-then-complete",
            "task-events-after-a-global-id",
        ],
    )
    .await;
}

#[tokio::test]
async fn apollo_client_pages_into_its_cache_and_keeps_partial_data() {
    if js::skip(
        "apollo_client_pages_into_its_cache_and_keeps_partial_data",
        false,
    ) {
        return;
    }
    let (_t, s) = examples().await;
    let (reader, _) = token("user:default/jane", "catalog:read");
    run(
        "apollo-client.mjs",
        vec![s.url("/graphql"), reader],
        &[
            "possible-types-from-introspection",
            "fetchmore-merges-all-by-ref",
            "fetchmore-merges-components-by-name-desc",
            "lists-kept-apart-by-key-args",
            "interface-fragments-read-from-cache",
            "cache-identify-distinct",
            "error-policy-all-keeps-data",
            "partial-data-cached-whole",
            "no-apollo-warnings",
        ],
    )
    .await;
}

#[tokio::test]
async fn relay_compiles_against_the_sdl_and_reads_fragments_from_its_store() {
    if js::skip(
        "relay_compiles_against_the_sdl_and_reads_fragments_from_its_store",
        false,
    ) {
        return;
    }
    let (_t, s) = examples().await;
    let (reader, _) = token("user:default/jane", "catalog:read");
    run(
        "relay-run.mjs",
        vec![s.url("/graphql"), reader],
        &[
            "relay-compiler",
            "connection-pages-merge",
            "card-fragments-complete",
            "entity-page-fragment",
            "shared-records-normalized",
            "refetch-by-node-id",
            "no-relay-warnings",
        ],
    )
    .await;
}

/// The fixture template's `test:snapshot` step as a no-op, so that its tasks complete on this server.
struct NoSnapshot;

#[async_trait::async_trait]
impl Action for NoSnapshot {
    fn id(&self) -> &'static str {
        "test:snapshot"
    }

    async fn run(&self, _: &mut ActionContext) -> Result<(), ActionError> {
        Ok(())
    }
}

/// The fixture template `template:service` in the catalog, and a worker to run its tasks (stops when
/// dropped).
async fn scaffolder(t: &TestDb) -> Workers {
    let out = t
        .refresh(&greenroom_tests::fixtures().join("scaffolder/template.yaml"))
        .await;
    assert_eq!(out.valid, 1, "{out:?}");
    let mut registry = Registry::reading(&greenroom_tests::sandbox_sources());
    registry.add(Arc::new(NoSnapshot));
    let settings = WorkerSettings {
        poll: Duration::from_millis(50),
        heartbeat: Duration::from_millis(300),
        task_timeout: Duration::from_secs(60),
        ..WorkerSettings::default()
    };
    worker::spawn(
        t.db.clone(),
        Arc::new(registry),
        "clients-worker".into(),
        settings,
    )
}

/// Runs a task of `template:service` with `values` as `token`'s subject; waits (polling, within 30 s)
/// until it has finished; returns its id and status.
async fn finished_task(s: &TestServer, token: &str, values: Value) -> (String, String) {
    let create = r#"mutation($v: JSON!) { createTask(input: {templateRef: "template:service", values: $v}) { id } }"#;
    let r = s.gql(Some(token), create, json!({ "v": values })).await;
    let id = r["data"]["createTask"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createTask: {r}"))
        .to_string();
    let started = Instant::now();
    loop {
        let r = s
            .gql(
                Some(token),
                "query($id: ID!) { task(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await;
        let status = r["data"]["task"]["status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&status.as_str()) {
            return (id, status);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "task {id}: {r}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn relay_keeps_each_tasks_steps_and_pages_deployment_history() {
    if js::skip(
        "relay_keeps_each_tasks_steps_and_pages_deployment_history",
        false,
    ) {
        return;
    }
    let t = TestDb::new().await;
    t.load_examples().await;
    let _workers = scaffolder(&t).await;
    let s = authenticated(&t).await;
    let (user, _) = token("user:default/jane", "catalog:read scaffolder:run");
    let (bot, _) = token("bot:ci", "deployments:write catalog:read");

    // Two tasks of one template: one completes, the other fails at its `boom` step.
    let values = json!({"name": "payments", "owner": "group:default/team-a"});
    let (ok, status) = finished_task(&s, &user, values.clone()).await;
    assert_eq!(status, "COMPLETED");
    let mut failing = values;
    failing["failStep"] = json!(true);
    let (failed, status) = finished_task(&s, &user, failing).await;
    assert_eq!(status, "FAILED");

    // Eight production deployments of one component (and two elsewhere, which its history leaves out).
    let record = r#"mutation($i: RecordDeploymentInput!) { recordDeployment(input: $i) { id } }"#;
    for (env, version) in (0..8)
        .map(|i| ("production", format!("1.{i}")))
        .chain([("staging", "9.0".into()), ("staging", "9.1".into())])
    {
        let input = json!({"i": {"entityRef": "component:artist-lookup", "environment": env, "version": version}});
        let r = s.gql(Some(&bot), record, input).await;
        assert!(r["errors"].is_null(), "{r}");
    }

    run(
        "relay-run.mjs",
        vec![
            s.url("/graphql"),
            user,
            "--tasks".into(),
            format!("{ok},{failed}"),
            "--deployments".into(),
            "component:artist-lookup".into(),
        ],
        &[
            "relay-compiler",
            "deployment-history-pages-merge",
            "two-tasks-keep-their-own-steps",
            "two-tasks-keep-their-own-events",
            "task-step-by-node-id",
            "no-relay-warnings",
        ],
    )
    .await;
}
