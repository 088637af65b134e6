//! Source providers end to end: url locations against a local HTTP server, git repositories made in a
//! temp dir, file globs, the Location depth limit, the root rule, and skipping unchanged files.

use api::providers::fetch::{Fetcher, HttpLimits};
use api::providers::git::GitProvider;
use api::providers::placeholders::PlaceholderResolver;
use api::providers::url::UrlProvider;
use api::providers::{file::FileProvider, refresh, Origin, Provider, RefreshOutcome};
use greenroom_tests::remote::RemoteFiles;
use greenroom_tests::TestDb;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn component(name: &str, desc: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: {name}, description: {desc}}}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")
}

fn location(targets: &[&str]) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {{name: loc}}\nspec:\n  targets: [{}]\n",
        targets.join(", ")
    )
}

async fn run(t: &TestDb, p: impl Provider + 'static) -> RefreshOutcome {
    refresh(
        &t.db,
        Arc::new(p),
        Origin::Config,
        &api::catalog::rules::SourceRules::allow_all(),
    )
    .await
    .expect("refresh")
}

async fn description(t: &TestDb, name: &str) -> Value {
    let r = t
        .exec(
            "query($r: String!) { entity(ref: $r) { description } }",
            json!({ "r": format!("component:{name}") }),
        )
        .await;
    r["data"]["entity"]["description"].clone()
}

async fn annotation(t: &TestDb, entity_ref: &str, key: &str) -> Option<String> {
    let r = t
        .exec(
            "query($r: String!) { entity(ref: $r) { annotations { key value } } }",
            json!({ "r": entity_ref }),
        )
        .await;
    r["data"]["entity"]["annotations"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .and_then(|kv| kv["value"].as_str().map(str::to_string))
}

async fn last_error(t: &TestDb) -> Vec<Option<String>> {
    let r = t
        .exec("{ locations { nodes { lastError } } }", json!({}))
        .await;
    r["data"]["locations"]["nodes"]
        .as_array()
        .expect("locations")
        .iter()
        .map(|l| l["lastError"].as_str().map(str::to_string))
        .collect()
}

fn changed(out: &RefreshOutcome) -> usize {
    out.report.inserted + out.report.updated + out.report.deleted
}

#[tokio::test]
async fn url_locations_follow_relative_targets_use_etags_and_keep_entities_when_broken() {
    let t = TestDb::new().await;
    let remote = RemoteFiles::start().await;
    remote.put("/cat/root.yaml", &location(&["./a.yaml", "sub/b.yaml"]));
    remote.put(
        "/cat/a.yaml",
        &format!("{}---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {{name: hello}}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./hello.txt\n", component("a", "one")),
    );
    remote.put("/cat/hello.txt", "openapi: 3.0.0");
    remote.put("/cat/sub/b.yaml", &component("b", "one"));
    let provider = || {
        UrlProvider::new(
            &remote.url("/cat/root.yaml"),
            greenroom_tests::sandbox_resolver(),
        )
        .unwrap()
    };

    let out = run(&t, provider()).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.report.inserted, 4, "root Location, a, hello, b");
    let r = t
        .exec(
            r#"{ entity(ref: "api:hello") { ... on Api { definition } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entity"]["definition"], "openapi: 3.0.0", "{r}");
    assert_eq!(
        annotation(
            &t,
            "component:default/b",
            "backstage.io/managed-by-location"
        )
        .await,
        Some(format!("url:{}", remote.url("/cat/sub/b.yaml")))
    );
    assert_eq!(
        annotation(
            &t,
            "component:default/b",
            "backstage.io/managed-by-origin-location"
        )
        .await,
        Some(format!("url:{}", remote.url("/cat/root.yaml")))
    );

    // The managed-by annotations filter and facet like any other.
    let r = t
        .exec(
            r#"query($o: String!) {
                entities(filter: {annotation: [$o]}) { totalCount }
                facets(field: "metadata.annotations.backstage.io/managed-by-location") { value count }
            }"#,
            json!({"o": format!("backstage.io/managed-by-origin-location=url:{}", remote.url("/cat/root.yaml"))}),
        )
        .await;
    assert_eq!(r["data"]["entities"]["totalCount"], 4, "{r}");
    assert_eq!(r["data"]["facets"].as_array().map(Vec::len), Some(3), "{r}");

    // Unchanged: the root and b answer 304 to If-None-Match, nothing is written.
    let out = run(&t, provider()).await;
    assert_eq!(changed(&out), 0, "{:?}", out.report);
    assert!(remote.not_modified() >= 2, "{}", remote.not_modified());

    // A change is applied.
    remote.put("/cat/sub/b.yaml", &component("b", "two"));
    let out = run(&t, provider()).await;
    assert_eq!(out.report.updated, 1, "{:?}", out.report);
    assert_eq!(description(&t, "b").await, "two");

    // A 404 keeps everything and is recorded on the source.
    remote.fail("/cat/sub/b.yaml", 404);
    let out = run(&t, provider()).await;
    assert_eq!(changed(&out), 0);
    assert_eq!(description(&t, "b").await, "two");
    let errors = last_error(&t).await;
    assert!(
        errors[0].as_deref().is_some_and(|e| e.contains("404")),
        "{errors:?}"
    );

    // Removing b from the tree (and a clean read) deletes it.
    remote.put("/cat/root.yaml", &location(&["./a.yaml"]));
    let out = run(&t, provider()).await;
    assert_eq!(out.report.deleted, 1, "{:?}", out.report);
    assert_eq!(description(&t, "b").await, Value::Null);
    assert_eq!(last_error(&t).await, vec![None]);
}

#[tokio::test]
async fn url_reads_are_bounded_by_size_and_time_and_never_reach_local_files() {
    let t = TestDb::new().await;
    let remote = RemoteFiles::start().await;
    let limits = HttpLimits {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(300),
        max_bytes: 400,
        total_timeout: Duration::from_secs(10),
    };
    let policy = Arc::new(greenroom_tests::sandbox_policy());
    let resolver = PlaceholderResolver::new(Fetcher::new(limits, policy));
    let read = |path: &str| UrlProvider::new(&remote.url(path), resolver.clone()).unwrap();

    remote.put("/big.yaml", &"# padding\n".repeat(100));
    let out = run(&t, read("/big.yaml")).await;
    assert!(
        out.errors[0].contains("larger than 400 bytes"),
        "{:?}",
        out.errors
    );

    remote.put("/slow.yaml", &component("slow", "x"));
    remote.stall("/slow.yaml", Duration::from_secs(2));
    let out = run(&t, read("/slow.yaml")).await;
    assert!(out.errors[0].contains("timed out"), "{:?}", out.errors);

    remote.put(
        "/sneaky.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: sneaky}\nspec: {type: file, target: /etc/passwd}\n",
    );
    let out = run(&t, read("/sneaky.yaml")).await;
    assert!(
        out.errors[0].contains("file target '/etc/passwd' in a remote location is refused"),
        "{:?}",
        out.errors
    );

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = run(
        &t,
        UrlProvider::new(&format!("http://{closed}/x.yaml"), resolver.clone()).unwrap(),
    )
    .await;
    assert!(out.errors[0].contains("cannot connect"), "{:?}", out.errors);

    assert!(UrlProvider::new("ftp://example.com/x.yaml", resolver.clone()).is_err());
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[tokio::test]
async fn file_globs_depth_limit_and_the_root_rule() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "teams/a.yaml", &component("glob-a", "x"));
    write(d, "teams/b.yaml", &component("glob-b", "x"));
    write(d, "teams/notes.txt", "not yaml: [");
    let glob = format!("{}/teams/*.yaml", d.display());
    let out = run(&t, FileProvider::new(&glob, Default::default())).await;
    assert_eq!(out.report.inserted, 2, "{:?}", out);
    assert!(out.errors.is_empty(), "{:?}", out.errors);

    let none = format!("{}/nothing/*.yaml", d.display());
    let out = run(&t, FileProvider::new(&none, Default::default())).await;
    assert!(
        out.errors[0].contains("no file matches"),
        "{:?}",
        out.errors
    );

    // A chain of 12 Locations: the 11th hop is not followed.
    for i in 0..12 {
        write(
            d,
            &format!("chain/l{i}.yaml"),
            &location(&[&format!("./l{}.yaml", i + 1)])
                .replace("name: loc}", &format!("name: chain-{i}}}")),
        );
    }
    write(d, "chain/l12.yaml", &component("too-deep", "x"));
    let out = run(
        &t,
        FileProvider::new(
            &format!("{}/chain/l0.yaml", d.display()),
            Default::default(),
        ),
    )
    .await;
    assert!(
        out.errors
            .iter()
            .any(|e| e.contains("deeper than 10 locations")),
        "{:?}",
        out.errors
    );
    assert_eq!(description(&t, "too-deep").await, Value::Null);

    // Placeholders and targets may not leave the location's directory.
    write(d, "secret.txt", "s3cr3t");
    write(d, "outside.yaml", &component("outside", "x"));
    write(
        d,
        "inner/catalog.yaml",
        &format!("{}---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {{name: leaky}}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ../secret.txt\n", location(&["../outside.yaml"])),
    );
    let out = run(
        &t,
        FileProvider::new(
            &format!("{}/inner/catalog.yaml", d.display()),
            Default::default(),
        ),
    )
    .await;
    assert!(
        out.errors
            .iter()
            .any(|e| e.contains("outside.yaml' is outside the location's root")),
        "{:?}",
        out.errors
    );
    assert_eq!(description(&t, "outside").await, Value::Null);
    let r = t
        .exec(r#"{ entity(ref: "api:leaky") { status { hasErrors items { message } } ... on Api { definition } } }"#, json!({}))
        .await;
    assert_eq!(r["data"]["entity"]["definition"], "", "{r}");
    assert_eq!(r["data"]["entity"]["status"]["hasErrors"], true, "{r}");
    let msg = r["data"]["entity"]["status"]["items"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains("outside the location's root directory"),
        "{msg}"
    );
}

#[tokio::test]
async fn unchanged_files_are_skipped_and_placeholder_files_count_as_changes() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "root.yaml",
        &location(&["./one.yaml", "./two.yaml", "./api.yaml"]),
    );
    write(d, "one.yaml", &component("one", "x"));
    write(d, "two.yaml", &component("two", "x"));
    write(d, "api.yaml", "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: defined}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./openapi.txt\n");
    write(d, "openapi.txt", "v1");
    let root = d.join("root.yaml");
    let first = t.refresh(&root).await;
    assert_eq!(first.report.inserted, 4);

    let before = t.statement_count();
    let again = t.refresh(&root).await;
    assert_eq!(again.unchanged_files, 4, "{again:?}");
    assert_eq!(again.valid, 0, "nothing was parsed");
    assert_eq!(again.report.unchanged, 4);
    let writes = t.sql_log.lock().unwrap()[before..]
        .iter()
        .filter(|s| {
            let s = s.trim_start().to_ascii_uppercase();
            (s.starts_with("INSERT") || s.starts_with("DELETE") || s.starts_with("UPDATE"))
                && !s.contains("\"LOCATIONS\"")
        })
        .count();
    assert_eq!(writes, 0, "an unchanged re-read writes no catalog content");

    write(d, "two.yaml", &component("two", "changed"));
    let out = t.refresh(&root).await;
    assert_eq!((out.unchanged_files, out.report.updated), (3, 1), "{out:?}");
    assert_eq!(description(&t, "two").await, "changed");

    // api.yaml is unchanged but the file its placeholder reads changed.
    write(d, "openapi.txt", "v2");
    let out = t.refresh(&root).await;
    assert_eq!(out.report.updated, 1, "{out:?}");
    let r = t
        .exec(
            r#"{ entity(ref: "api:defined") { ... on Api { definition } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entity"]["definition"], "v2");

    // A removed target deletes its entities even though nothing else changed.
    write(d, "root.yaml", &location(&["./one.yaml", "./api.yaml"]));
    let out = t.refresh(&root).await;
    assert_eq!(out.report.deleted, 1, "{out:?}");
    assert_eq!(description(&t, "two").await, Value::Null);
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn git_providers_follow_commits_and_keep_entities_when_the_repository_is_unreachable() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(&repo, "catalog-info.yaml", &component("git-x", "one"));
    write(
        &repo,
        "services/y/catalog-info.yaml",
        &component("git-y", "one"),
    );
    write(
        &repo,
        "docs/other.yaml",
        &component("git-z", "not matched by the glob"),
    );
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let url = format!("file://{}", repo.display());
    let provider = |url: &str, branch: &str| {
        GitProvider::new("demo", url, Some(branch), None, Default::default())
    };

    let out = run(&t, provider(&url, "main")).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.report.inserted, 2);
    assert_eq!(description(&t, "git-z").await, Value::Null);
    assert_eq!(
        annotation(
            &t,
            "component:default/git-y",
            "backstage.io/managed-by-location"
        )
        .await,
        Some(format!("url:{url}/blob/main/services/y/catalog-info.yaml"))
    );

    // The same commit: no clone, nothing applied.
    let out = run(&t, provider(&url, "main")).await;
    assert!(out.unchanged_source, "{out:?}");

    // A new commit that changes x and removes y.
    write(&repo, "catalog-info.yaml", &component("git-x", "two"));
    git(&repo, &["rm", "-q", "services/y/catalog-info.yaml"]);
    git(&repo, &["commit", "-q", "-am", "second"]);
    let out = run(&t, provider(&url, "main")).await;
    assert_eq!((out.report.updated, out.report.deleted), (1, 1), "{out:?}");
    assert_eq!(description(&t, "git-x").await, "two");
    assert_eq!(description(&t, "git-y").await, Value::Null);

    // Same commit, different glob: read again.
    let wider = GitProvider::new(
        "demo",
        &url,
        Some("main"),
        Some("**/*.yaml"),
        Default::default(),
    );
    let out = run(&t, wider).await;
    assert!(!out.unchanged_source, "{out:?}");
    assert_eq!(description(&t, "git-z").await, "not matched by the glob");
    let out = run(&t, provider(&url, "main")).await;
    assert_eq!(out.report.deleted, 1, "{out:?}");

    // Unreachable repository or missing branch: everything stays, the error is recorded.
    let gone = format!("file://{}/missing", dir.path().display());
    let out = run(&t, provider(&gone, "main")).await;
    assert_eq!(changed(&out), 0);
    assert!(out.errors[0].contains("git ls-remote"), "{:?}", out.errors);
    let out = run(&t, provider(&url, "no-such-branch")).await;
    assert!(
        out.errors[0].contains("branch 'no-such-branch' not found"),
        "{:?}",
        out.errors
    );
    assert_eq!(description(&t, "git-x").await, "two");
    let r = t
        .exec(
            "{ locations { nodes { type target lastError entityCount } } }",
            json!({}),
        )
        .await;
    let loc = &r["data"]["locations"]["nodes"][0];
    assert_eq!(loc["type"], "git");
    assert_eq!(loc["entityCount"], 1);
    assert!(
        loc["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("no-such-branch")),
        "{r}"
    );
}

#[tokio::test]
async fn url_locations_can_be_registered_refreshed_and_unregistered() {
    let t = TestDb::new().await;
    let remote = RemoteFiles::start().await;
    remote.put("/c.yaml", &component("remote-one", "x"));
    let register = r#"mutation($t: String!, $dry: Boolean!) {
        registerLocation(input: {type: "url", target: $t, dryRun: $dry}) {
            location { id type target entityCount } entities { ref } errors } }"#;
    let target = remote.url("/c.yaml");
    let r = t.exec(register, json!({"t": target, "dry": true})).await;
    assert_eq!(
        r["data"]["registerLocation"]["entities"][0]["ref"], "component:default/remote-one",
        "{r}"
    );
    assert_eq!(description(&t, "remote-one").await, Value::Null);

    let r = t.exec(register, json!({"t": target, "dry": false})).await;
    let loc = &r["data"]["registerLocation"]["location"];
    assert_eq!(
        (loc["type"].as_str(), loc["entityCount"].as_i64()),
        (Some("url"), Some(1)),
        "{r}"
    );
    let id = loc["id"].as_str().unwrap().to_string();

    remote.put("/c.yaml", &component("remote-one", "y"));
    let r = t
        .exec(
            "mutation($id: ID!) { refreshLocation(id: $id) { lastError } }",
            json!({"id": id}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(description(&t, "remote-one").await, "y");

    let r = t
        .exec(register, json!({"t": "ftp://x/y.yaml", "dry": true}))
        .await;
    assert_eq!(
        greenroom_tests::first_error_code(&r),
        Some("BAD_USER_INPUT"),
        "{r}"
    );

    let r = t
        .exec(
            "mutation($id: ID!) { unregisterLocation(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(r["data"]["unregisterLocation"], true, "{r}");
    assert_eq!(description(&t, "remote-one").await, Value::Null);
}

#[tokio::test]
async fn unchanged_documents_of_a_changed_file_are_not_parsed_again() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("many.yaml");
    let docs = |b: &str| {
        [
            component("m1", "x"),
            component("m2", b),
            component("m3", "x"),
        ]
        .join("---\n")
    };
    std::fs::write(&f, docs("x")).unwrap();
    assert_eq!(t.refresh(&f).await.report.inserted, 3);

    std::fs::write(&f, docs("changed")).unwrap();
    let out = t.refresh(&f).await;
    assert_eq!(out.valid, 1, "only the changed document is parsed: {out:?}");
    assert_eq!(
        (out.report.updated, out.report.unchanged, out.report.deleted),
        (1, 2, 0)
    );
    assert_eq!(description(&t, "m2").await, "changed");

    // Dropping a document deletes only its entity.
    std::fs::write(
        &f,
        [component("m1", "x"), component("m3", "x")].join("---\n"),
    )
    .unwrap();
    let out = t.refresh(&f).await;
    assert_eq!((out.valid, out.report.deleted), (0, 1), "{out:?}");
    assert_eq!(description(&t, "m2").await, Value::Null);
    assert_eq!(description(&t, "m1").await, "x");
}

#[tokio::test]
async fn an_update_rewrites_relation_and_search_rows_only_when_they_change() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.yaml");
    let doc = |desc: &str, owner: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: c, description: {desc}, tags: [rust]}}\nspec: {{type: service, lifecycle: production, owner: {owner}}}\n")
    };
    std::fs::write(&f, doc("one", "team-a")).unwrap();
    t.refresh(&f).await;
    let row_writes = |from: usize| {
        t.sql_log.lock().unwrap()[from..]
            .iter()
            .filter(|s| {
                let s = s.to_ascii_uppercase();
                s.contains("\"RELATIONS\"") || s.contains("\"ENTITY_SEARCH\"")
            })
            .filter(|s| !s.trim_start().to_ascii_uppercase().starts_with("SELECT"))
            .count()
    };

    let before = t.statement_count();
    std::fs::write(&f, doc("two", "team-a")).unwrap();
    assert_eq!(t.refresh(&f).await.report.updated, 1);
    assert_eq!(
        row_writes(before),
        0,
        "a description change keeps relation and search rows"
    );
    assert_eq!(description(&t, "c").await, "two");

    let before = t.statement_count();
    std::fs::write(&f, doc("two", "team-b")).unwrap();
    assert_eq!(t.refresh(&f).await.report.updated, 1);
    assert!(row_writes(before) > 0);
    let r = t
        .exec(r#"{ entity(ref: "component:c") { relations(type: "ownedBy") { targetRef } } entities(filter: {tag: ["rust"]}) { totalCount } }"#, json!({}))
        .await;
    assert_eq!(
        r["data"]["entity"]["relations"],
        json!([{"targetRef": "group:default/team-b"}]),
        "{r}"
    );
    assert_eq!(r["data"]["entities"]["totalCount"], 1, "{r}");
}

#[tokio::test]
async fn a_configured_git_source_is_refreshed_by_the_mutation_with_its_settings() {
    use api::providers::{scheduler::Schedule, Registry, Scheduled};
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "trunk"]);
    write(
        &repo,
        "team/catalog.yaml",
        &component("via-mutation", "one"),
    );
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let url = format!("file://{}", repo.display());
    let provider: Arc<dyn Provider> = Arc::new(GitProvider::new(
        "custom",
        &url,
        Some("trunk"),
        Some("**/catalog.yaml"),
        Default::default(),
    ));
    refresh(
        &t.db,
        provider.clone(),
        Origin::Config,
        &api::catalog::rules::SourceRules::allow_all(),
    )
    .await
    .unwrap();
    assert_eq!(description(&t, "via-mutation").await, "one");

    write(
        &repo,
        "team/catalog.yaml",
        &component("via-mutation", "two"),
    );
    git(&repo, &["commit", "-q", "-am", "second"]);
    let registry = Arc::new(Registry {
        configured: vec![Scheduled {
            provider,
            schedule: Schedule {
                interval: Duration::from_secs(3600),
                timeout: Duration::from_secs(60),
            },
            rules: api::catalog::rules::SourceRules::allow_all(),
        }],
        ..Registry::default()
    });
    let app = greenroom_tests::TestApp::new(&t).sources(registry).admin();
    let exec = |q: &'static str, v: Value| app.exec(q, v);
    let r = exec("{ locations { nodes { id type target } } }", json!({})).await;
    let loc = &r["data"]["locations"]["nodes"][0];
    assert_eq!(
        (loc["type"].as_str(), loc["target"].as_str()),
        (Some("git"), Some(url.as_str()))
    );
    let r = exec(
        "mutation($id: ID!) { refreshLocation(id: $id) { lastError entityCount } }",
        json!({"id": loc["id"]}),
    )
    .await;
    assert_eq!(
        r["data"]["refreshLocation"],
        json!({"lastError": null, "entityCount": 1}),
        "{r}"
    );
    assert_eq!(description(&t, "via-mutation").await, "two");
}

#[tokio::test]
async fn after_an_incomplete_read_a_clean_read_still_deletes_what_a_changed_file_dropped() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "root.yaml", &location(&["./a.yaml", "./b.yaml"]));
    write(
        d,
        "a.yaml",
        &[component("keep", "x"), component("drop", "x")].join("---\n"),
    );
    write(d, "b.yaml", &component("other", "x"));
    let root = d.join("root.yaml");
    t.refresh(&root).await;

    // `drop` leaves a.yaml while b.yaml is broken: nothing is deleted yet.
    write(d, "a.yaml", &component("keep", "x"));
    write(d, "b.yaml", "kind: [");
    let out = t.refresh(&root).await;
    assert_eq!(out.report.deleted, 0, "{out:?}");
    assert_eq!(description(&t, "drop").await, "x");

    // b.yaml is fixed; a.yaml is unchanged since the incomplete read, and `drop` must go now.
    write(d, "b.yaml", &component("other", "x"));
    let out = t.refresh(&root).await;
    assert_eq!(out.report.deleted, 1, "{out:?}");
    assert_eq!(description(&t, "drop").await, Value::Null);
}

#[tokio::test]
async fn a_placeholder_that_failed_is_read_again_once_its_file_appears() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "api.yaml", "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: later}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./generated.txt\n");
    let f = d.join("api.yaml");
    t.refresh(&f).await;
    write(d, "generated.txt", "generated");
    let out = t.refresh(&f).await;
    assert_eq!((out.unchanged_files, out.report.updated), (0, 1), "{out:?}");
    let r = t
        .exec(
            r#"{ entity(ref: "api:later") { status { hasErrors } ... on Api { definition } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["entity"]["definition"], "generated", "{r}");
    assert_eq!(r["data"]["entity"]["status"]["hasErrors"], false, "{r}");
}

#[tokio::test]
async fn glob_location_targets_expand_like_backstage_within_the_root() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "repo/catalog-info.yaml",
        &location(&["./plugins/**/catalog-info.yaml", "../*.yaml"]),
    );
    write(
        d,
        "repo/plugins/a/catalog-info.yaml",
        &component("plugin-a", "x"),
    );
    write(
        d,
        "repo/plugins/b/c/catalog-info.yaml",
        &component("plugin-c", "x"),
    );
    write(
        d,
        "repo/plugins/b/notes.yaml",
        &component("not-matched", "x"),
    );
    write(d, "outside.yaml", &component("outside", "x"));
    let root = d.join("repo/catalog-info.yaml").display().to_string();
    let out = run(&t, FileProvider::new(&root, Default::default())).await;
    assert_eq!(description(&t, "plugin-a").await, "x", "{out:?}");
    assert_eq!(description(&t, "plugin-c").await, "x", "{out:?}");
    assert_eq!(description(&t, "not-matched").await, Value::Null);
    assert_eq!(description(&t, "outside").await, Value::Null);
    assert!(
        out.errors
            .iter()
            .any(|e| e.contains("'../*.yaml' is outside the location's root")),
        "{:?}",
        out.errors
    );
    // A new file matching the glob is found although the Location's own file did not change.
    write(
        d,
        "repo/plugins/new/catalog-info.yaml",
        &component("plugin-new", "x"),
    );
    run(&t, FileProvider::new(&root, Default::default())).await;
    assert_eq!(description(&t, "plugin-new").await, "x");
}
