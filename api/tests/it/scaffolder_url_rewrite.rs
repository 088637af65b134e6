//! Skeletons named by URL on a machine whose git configuration rewrites URLs (`url.<base>.insteadOf`,
//! an internal mirror): the real binary, started with such a rewrite in its environment, fetches
//! `https://mirror.example/org/repo/tree/main/skel` from the mirror it rewrites to; the read policy
//! allows the URL as named and checks where git really goes, so a rewrite to a directory outside the
//! allowed roots is refused, and so is a named host the policy does not list. On SQLite, or on a fresh
//! PostgreSQL database when `GREENROOM_TEST_POSTGRES_URL` is set.

use greenroom_tests::pg;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TEMPLATES: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: mirrored}
spec:
  owner: team-a
  type: service
  steps:
    - id: fetch
      action: fetch:template
      input:
        url: ${{ parameters.url }}
        values: { name: '${{ parameters.name }}' }
"#;

/// A bare repository at `bare` whose `main` holds `skel/README.md`.
fn mirror(bare: &Path, readme: &str) {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("skel")).unwrap();
    std::fs::write(work.path().join("skel/README.md"), readme).unwrap();
    let git = |dir: &Path, args: &[&str]| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "-C",
            ])
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(work.path(), &["init", "-q", "-b", "main"]);
    git(work.path(), &["add", "."]);
    git(work.path(), &["commit", "-q", "-m", "skeleton"]);
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    let (from, to) = (
        work.path().display().to_string(),
        bare.display().to_string(),
    );
    git(work.path(), &["clone", "-q", "--bare", &from, &to]);
}

async fn dry_run(server: &greenroom_tests::process::Server, url: &str) -> Value {
    let started = Instant::now();
    loop {
        let r = server
            .gql(
                r#"mutation($v: JSON!) { dryRunTemplate(input: {templateRef: "template:mirrored", values: $v}) { status log files { path content } } }"#,
                json!({"v": {"name": "svc", "url": url}}),
            )
            .await;
        // Until the catalog has read the template, the mutation names no template.
        if r["errors"].is_null() {
            return r["data"]["dryRunTemplate"].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scenario(db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let allowed = root.join("allowed");
    let outside = tempfile::tempdir().unwrap();
    mirror(&allowed.join("org/repo.git"), "# ${{ values.name }}\n");
    mirror(&outside.path().join("org/repo.git"), "outside\n");
    std::fs::write(root.join("templates.yaml"), TEMPLATES).unwrap();
    let cfg = root.join("greenroom.yaml");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  listen: 127.0.0.1:0\n  limits:\n    rateLimitPerSecond: 0\ndatabase:\n  url: '{db_url}'\n\
             catalog:\n  rules:\n    - allow: [Template]\n  locations:\n    - type: file\n      target: {}\n\
             \x20 allow:\n    files: ['{}']\n    hosts: [mirror.example, outside.example]\n",
            root.join("templates.yaml").display(),
            root.display(),
        ),
    )
    .unwrap();
    // The machine's git configuration, as GIT_CONFIG_* variables: two rewrites.
    let rewrites = [
        ("mirror.example", allowed.display().to_string()),
        ("outside.example", outside.path().display().to_string()),
        ("denied.example", allowed.display().to_string()),
    ];
    let mut env: Vec<(String, String)> =
        vec![("GIT_CONFIG_COUNT".into(), rewrites.len().to_string())];
    for (i, (host, to)) in rewrites.iter().enumerate() {
        env.push((
            format!("GIT_CONFIG_KEY_{i}"),
            format!("url.file://{to}/.insteadOf"),
        ));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), format!("https://{host}/")));
    }
    let env: Vec<(&str, &Path)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), Path::new(v)))
        .collect();
    let server = crate::serve_with(&cfg, &env);

    let run = dry_run(&server, "https://mirror.example/org/repo/tree/main/skel").await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(
        run["files"],
        json!([{"path": "README.md", "content": "# svc\n"}]),
        "{run}"
    );

    // Rewritten to a directory the policy does not allow: where git would go is what is checked.
    let run = dry_run(&server, "https://outside.example/org/repo/tree/main/skel").await;
    assert_eq!(run["status"], "FAILED", "{run}");
    let log = run["log"].to_string();
    assert!(
        log.contains("git configuration sends it to a remote the read policy does not allow"),
        "{log}"
    );
    assert!(
        !log.contains(&outside.path().display().to_string()),
        "{log}"
    );
    // A host the policy does not list is refused as named, wherever git would send it.
    let run = dry_run(&server, "https://denied.example/org/repo/tree/main/skel").await;
    assert_eq!(run["status"], "FAILED", "{run}");
    let log = run["log"].to_string();
    assert!(log.contains("https://denied.example/org/repo.git"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_the_machines_git_rewrites_is_fetched_from_where_it_points_under_the_policy() {
    pg::on_fresh_database("gr_url_rewrite", |url| async move { scenario(&url).await }).await;
}
