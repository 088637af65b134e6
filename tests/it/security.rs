//! Issue 13's holes in the read policy, each written as the exploit (the test fails if the exploit
//! works): root escapes through globs and placeholders, SSRF with read-back, endless files, symlink
//! loops, deep YAML, a slow source holding SQLite's write lock, half-kept registrations and credentials
//! shown back. Every network probe listens on 127.0.0.1 and asserts whether the server connected.

use api::confine::Policy;
use api::providers::fetch::{Fetcher, HttpLimits};
use api::providers::placeholders::PlaceholderResolver;
use api::providers::scheduler::Schedule;
use api::providers::Registry;
use greenroom_tests::remote::RemoteFiles;
use greenroom_tests::{first_error_code, TestApp, TestDb};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn component(name: &str, description: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  description: {description}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")
}

fn location(targets: &[&str]) -> String {
    let list = targets.join(", ");
    format!("apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {{name: loc}}\nspec: {{targets: [{list}]}}\n")
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn resolver(policy: Policy) -> PlaceholderResolver {
    PlaceholderResolver::new(Fetcher::new(HttpLimits::default(), Arc::new(policy)))
}

/// The schema with `policy` and a source timeout of `timeout`.
fn schema(t: &TestDb, policy: Policy, timeout: Duration) -> TestApp {
    let registry = Registry {
        resolver: resolver(policy),
        default_schedule: Some(Schedule {
            interval: Duration::from_secs(3600),
            timeout,
        }),
        ..Default::default()
    };
    TestApp::new(t).sources(Arc::new(registry)).admin()
}

fn allowing(dirs: &[&Path], hosts: &[String], max_bytes: u64) -> Policy {
    let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    Policy::new(&dirs, hosts, &[], max_bytes).unwrap()
}

const REGISTER: &str = r#"mutation($type: String!, $t: String!, $dry: Boolean!) {
    registerLocation(input: {type: $type, target: $t, dryRun: $dry}) { location { id target } entities { ref } errors } }"#;

async fn register(_t: &TestDb, s: &TestApp, ty: &str, target: &str) -> Value {
    let vars = json!({"type": ty, "t": target, "dry": false});
    s.exec(REGISTER, vars).await
}

async fn exec(_t: &TestDb, s: &TestApp, q: &str) -> Value {
    s.exec(q, json!({})).await
}

async fn nothing_stored(t: &TestDb, s: &TestApp) {
    let r = exec(
        t,
        s,
        "{ locations { nodes { id } } entities { totalCount } }",
    )
    .await;
    assert_eq!(r["data"]["locations"]["nodes"], json!([]), "{r}");
    assert_eq!(r["data"]["entities"]["totalCount"], 0, "{r}");
}

/// A TCP listener on 127.0.0.1 that counts the connections it accepts.
struct Canary {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Canary {
    async fn start() -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((_socket, _)) = l.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            port,
            accepted,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn no_glob_placeholder_or_symlink_reads_outside_the_allowed_directories() {
    let t = TestDb::new().await;
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let a = std::fs::canonicalize(allowed.path()).unwrap();
    let s = schema(&t, allowing(&[&a], &[], 1 << 20), Duration::from_secs(10));
    write(outside.path(), "secret.txt", "TOP-SECRET");
    write(outside.path(), "c.yaml", &component("outsider", "x"));

    // A glob whose literal prefix is `/` (the character class hides `/tmp`), a path outside, and one that
    // does not exist: each refused the same way, before anything is read.
    let sneaky = format!(
        "/[t]{}/*.yaml",
        outside
            .path()
            .display()
            .to_string()
            .trim_start_matches("/t")
    );
    let missing = format!("{}/nothing-here.yaml", outside.path().display());
    let existing = format!("{}/c.yaml", outside.path().display());
    for target in [&sneaky, &existing, &missing] {
        let r = register(&t, &s, "file", target).await;
        assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
        let msg = r["errors"][0]["message"].as_str().unwrap();
        assert!(
            msg.contains("outside the directories this server may read"),
            "{msg}"
        );
    }
    nothing_stored(&t, &s).await;

    // Inside the allowed directory: placeholders naming /proc, a file outside, and a symlink out.
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), a.join("link.txt")).unwrap();
    let env = format!("{}/proc/self/environ", "");
    let rel_out = format!("{}/secret.txt", outside.path().display());
    let entity = |name: &str, target: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  description:\n    $text: {target}\nspec: {{type: service, lifecycle: production, owner: team-a}}\n")
    };
    let docs = [
        entity("env", &env),
        entity("abs", &rel_out),
        entity("link", "./link.txt"),
    ]
    .join("---\n");
    let f = write(&a, "catalog-info.yaml", &docs);
    let r = register(&t, &s, "file", &f.display().to_string()).await;
    assert!(r["errors"].is_null(), "{r}");
    let r = exec(
        &t,
        &s,
        r#"{ entities(filter: {kind: ["component"]}) { nodes { ref description status { items { message } } } } }"#,
    )
    .await;
    let nodes = r["data"]["entities"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{r}");
    for n in nodes {
        assert_eq!(n["description"], "", "{r}");
        let msg = n["status"]["items"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            msg.contains("outside the location's root directory"),
            "{msg}"
        );
    }
    let text = r.to_string();
    assert!(
        !text.contains("TOP-SECRET") && !text.contains("PATH="),
        "{text}"
    );
}

#[tokio::test]
async fn devices_fifos_and_oversized_files_are_not_read() {
    let t = TestDb::new().await;
    let allowed = tempfile::tempdir().unwrap();
    let a = std::fs::canonicalize(allowed.path()).unwrap();
    let s = schema(&t, allowing(&[&a], &[], 4096), Duration::from_secs(10));
    std::os::unix::fs::symlink("/dev/urandom", a.join("zero.yaml")).unwrap();
    let fifo = a.join("fifo.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    write(&a, "big.yaml", &format!("# {}\n", "x".repeat(5000)));
    write(&a, "dir.yaml/inner.yaml", &component("inner", "x"));
    let root = write(
        &a,
        "root.yaml",
        &location(&[
            "/dev/zero",
            "./zero.yaml",
            "./fifo.yaml",
            "./big.yaml",
            "./dir.yaml",
        ]),
    );
    let started = Instant::now();
    let r = register(&t, &s, "file", &root.display().to_string()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let errors: Vec<&str> = r["data"]["registerLocation"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
    assert!(
        has("'/dev/zero' is outside the location's root"),
        "{errors:?}"
    );
    assert!(
        has("zero.yaml' is outside the location's root"),
        "{errors:?}"
    );
    assert!(
        !has("urandom"),
        "an error names where a symlink points: {errors:?}"
    );
    assert!(has("fifo.yaml' is not a regular file"), "{errors:?}");
    assert!(has("big.yaml' is larger than 4096 bytes"), "{errors:?}");
    assert!(has("dir.yaml' is not a regular file"), "{errors:?}");
    // No error names a path the caller did not write.
    assert!(errors.iter().all(|e| !e.contains("/proc/")), "{errors:?}");
}

#[tokio::test]
async fn urls_placeholders_redirects_and_git_remotes_never_reach_unlisted_hosts() {
    let t = TestDb::new().await;
    let canary = Canary::start().await;
    let remote = RemoteFiles::start().await;
    let allowed = tempfile::tempdir().unwrap();
    let a = std::fs::canonicalize(allowed.path()).unwrap();
    // Only the remote file server is listed (not the canary, though both are on 127.0.0.1).
    let remote_host = remote.base.trim_start_matches("http://").to_string();
    let s = schema(
        &t,
        allowing(&[&a], std::slice::from_ref(&remote_host), 1 << 20),
        Duration::from_secs(10),
    );

    // A URL location on the canary; a closed port reads the same (no port scanning through errors).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let open = register(&t, &s, "url", &canary.url("/x.yaml")).await;
    let shut = register(&t, &s, "url", &format!("http://127.0.0.1:{closed}/x.yaml")).await;
    assert_eq!(first_error_code(&open), Some("BAD_USER_INPUT"), "{open}");
    let strip = |r: &Value, port: u16| {
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace(&port.to_string(), "PORT")
    };
    assert_eq!(strip(&open, canary.port), strip(&shut, closed));

    // A git source on the canary, and a placeholder URL in an allowed file.
    let git = register(&t, &s, "git", &format!("{}#main", canary.url("/r.git"))).await;
    assert_eq!(first_error_code(&git), Some("BAD_USER_INPUT"), "{git}");
    nothing_stored(&t, &s).await;
    let f = write(
        &a,
        "c.yaml",
        &format!("apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {{name: leaky}}\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: {}\n", canary.url("/meta")),
    );
    let r = register(&t, &s, "file", &f.display().to_string()).await;
    assert!(r["errors"].is_null(), "{r}");

    // A listed host that redirects to the canary: the hop is refused.
    remote.redirect("/root.yaml", &canary.url("/stolen.yaml"));
    let r = register(&t, &s, "url", &remote.url("/root.yaml")).await;
    assert!(r.to_string().contains("redirect refused"), "{r}");
    assert!(remote.hits("/root.yaml") >= 1, "the listed host was read");

    // A policy-checked git remote for publish:git.
    let policy = allowing(&[&a], &[remote_host], 1 << 20);
    assert!(policy
        .check_git_remote(&canary.url("/r.git"))
        .await
        .is_err());
    assert!(policy
        .check_git_remote("ext::sh -c touch% /tmp/pwned")
        .await
        .is_err());
    assert!(policy.check_git_remote("file:///etc").await.is_err());

    assert_eq!(
        canary.connections(),
        0,
        "the server connected to an unlisted host"
    );
}

#[tokio::test]
async fn symlink_loops_and_deep_documents_end_promptly() {
    let t = TestDb::new().await;
    let allowed = tempfile::tempdir().unwrap();
    let a = std::fs::canonicalize(allowed.path()).unwrap();
    let s = schema(&t, allowing(&[&a], &[], 1 << 20), Duration::from_secs(10));
    write(&a, "d/catalog-info.yaml", &component("looped", "x"));
    std::os::unix::fs::symlink(".", a.join("d/a")).unwrap();
    std::os::unix::fs::symlink(".", a.join("d/b")).unwrap();
    let deep = format!("x: {}1{}\n", "[".repeat(30_000), "]".repeat(30_000));
    write(&a, "d/deep/catalog-info.yaml", &deep);
    let started = Instant::now();
    let glob = format!("{}/**/catalog-info.yaml", a.display());
    let r = register(&t, &s, "file", &glob).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        r["data"]["registerLocation"]["entities"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{r}"
    );
    assert!(r.to_string().contains("nests deeper than 64 levels"), "{r}");

    // The same loop committed to a git repository, read by a git source.
    let repo = a.join("repo");
    std::fs::create_dir_all(repo.join("d")).unwrap();
    write(&repo, "d/catalog-info.yaml", &component("in-git", "x"));
    std::os::unix::fs::symlink(".", repo.join("d/a")).unwrap();
    std::os::unix::fs::symlink(".", repo.join("d/b")).unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "loop"]);
    let target = format!("file://{}#main:**/catalog-info.yaml", repo.display());
    let started = Instant::now();
    let r = register(&t, &s, "git", &target).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        r["data"]["registerLocation"]["entities"][0]["ref"], "component:default/in-git",
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_source_does_not_hold_the_write_lock_while_it_is_read() {
    let t = TestDb::new().await;
    let remote = RemoteFiles::start().await;
    remote.put("/root.yaml", &location(&["./a.yaml", "./slow.yaml"]));
    remote.put("/a.yaml", &component("fast", "x"));
    remote.put("/slow.yaml", &component("slow", "x"));
    remote.stall("/slow.yaml", Duration::from_secs(4));
    let provider = Arc::new(
        api::providers::url::UrlProvider::new(
            &remote.url("/root.yaml"),
            greenroom_tests::sandbox_resolver(),
        )
        .unwrap(),
    );
    let db = t.db.clone();
    let reading = tokio::spawn(async move {
        api::providers::refresh(
            &db,
            provider,
            api::providers::Origin::Config,
            &api::catalog::rules::SourceRules::allow_all(),
        )
        .await
    });
    let started = Instant::now();
    while remote.hits("/slow.yaml") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the slow target was never requested"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // While the slow file is being read, another writer commits at once.
    let write = api::catalog::sources::register(&t.db, "probe", "file", "/probe.yaml");
    let wrote = tokio::time::timeout(Duration::from_millis(1500), write).await;
    assert!(
        matches!(wrote, Ok(Ok(_))),
        "a writer waited on the read: {wrote:?}"
    );
    let out = reading.await.unwrap().unwrap();
    assert_eq!(
        out.report.inserted, 3,
        "the Location and both components: {out:?}"
    );
}

#[tokio::test]
async fn a_registration_whose_first_read_fails_is_not_kept() {
    let t = TestDb::new().await;
    let remote = RemoteFiles::start().await;
    remote.put("/c.yaml", &component("late", "x"));
    remote.stall_after_first("/c.yaml", Duration::from_secs(3));
    let host = remote.base.trim_start_matches("http://").to_string();
    let s = schema(
        &t,
        allowing(&[], &[host], 1 << 20),
        Duration::from_millis(800),
    );
    let r = register(&t, &s, "url", &remote.url("/c.yaml")).await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert!(r.to_string().contains("took longer than"), "{r}");
    nothing_stored(&t, &s).await;
}

#[tokio::test]
async fn credentials_in_urls_are_never_shown_back() {
    let t = TestDb::new().await;
    let remote = RemoteFiles::start().await;
    remote.put("/c.yaml", &component("with-creds", "x"));
    remote.put("/bad.yaml", "kind: [");
    let secret_url = |path: &str| remote.url(path).replace("http://", "http://bob:s3cr3t-pw@");

    // Registered at run time: refused, and the refusal does not repeat the password.
    let s = schema(
        &t,
        greenroom_tests::sandbox_policy(),
        Duration::from_secs(10),
    );
    let r = register(&t, &s, "url", &secret_url("/c.yaml")).await;
    assert_eq!(first_error_code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert!(!r.to_string().contains("s3cr3t"), "{r}");
    let audit = exec(
        &t,
        &s,
        "{ auditLog(first: 10) { nodes { operation target } } }",
    )
    .await;
    assert_eq!(
        audit["data"]["auditLog"]["nodes"][0]["operation"], "registerLocation",
        "{audit}"
    );
    assert!(
        !audit.to_string().contains("s3cr3t"),
        "the audit log keeps the password: {audit}"
    );

    // Configured: read with the credentials, shown without them (the host is allowed by the config).
    let cfg = api::config::Config::from_yaml(&format!(
        "catalog:\n  locations:\n    - {{type: url, target: '{}'}}\n    - {{type: url, target: '{}'}}\n",
        secret_url("/c.yaml"),
        secret_url("/bad.yaml")
    ))
    .unwrap();
    let registry = cfg.catalog.registry().unwrap();
    for source in &registry.configured {
        api::providers::refresh(
            &t.db,
            source.provider.clone(),
            api::providers::Origin::Config,
            &api::catalog::rules::SourceRules::allow_all(),
        )
        .await
        .unwrap();
    }
    let r = t
        .exec(
            r#"{ locations { nodes { target lastError } } entity(ref: "component:with-creds") { annotations { key value } } }"#,
            json!({}),
        )
        .await;
    assert!(r["data"]["entity"]["annotations"].is_array(), "{r}");
    assert!(
        r["data"]["locations"]["nodes"][1]["lastError"].is_string(),
        "{r}"
    );
    let text = r.to_string();
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("***@127.0.0.1"), "{text}");
    let metrics = api::metrics::get().render(&t.db);
    assert!(!metrics.contains("s3cr3t"), "metrics show the password");
}
