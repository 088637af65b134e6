//! Real GraphQL clients against a live server on an ephemeral port (issue 15): the `graphql-ws` client
//! (subscriptions, and the close codes a frontend sees when the server refuses), Apollo Client (relay-style
//! pagination merged in its normalized cache, partial data with `errorPolicy: 'all'`, cache identities) and
//! Relay (fragments compiled by relay-compiler against `schema.graphql`, run by relay-runtime). Each runs a
//! script in `tests/js` that prints one `ok`/`FAIL` line per check and exits non-zero on a failure; like
//! the other JS checks they skip without `npm ci` (and fail under CI: see `greenroom_tests::js`).

use api::auth::jwt::{issue, Verifier, VerifierSettings};
use api::auth::Authenticator;
use greenroom_tests::js::{self, node};
use greenroom_tests::{TestApp, TestDb, TestServer};
use std::time::{Duration, Instant};

const SECRET: &str = "clients-test-secret-of-at-least-32-bytes";

/// A token for `sub` with `scope`, and its `jti`.
fn token(sub: &str, scope: &str) -> (String, String) {
    let (token, claims) = issue(SECRET, sub, scope, Duration::from_secs(600), None, None).unwrap();
    (token, claims.jti.expect("issued tokens carry a jti"))
}

/// A server over the example catalog that needs a token for everything, with its deployment event
/// channel (as `serve` wires it).
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
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = authenticated(&t).await;
    let (reader, _) = token("user:default/jane", "catalog:read");
    let (bot, _) = token("bot:ci", "deployments:write catalog:read");
    let (no_scope, _) = token("user:default/nos", "scaffolder:run");
    let (watcher, watcher_jti) = token("user:default/watcher", "catalog:read");
    let (admin, _) = token("user:default/root", "admin");
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
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = authenticated(&t).await;
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
    let t = TestDb::new().await;
    t.load_examples().await;
    let s = authenticated(&t).await;
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
