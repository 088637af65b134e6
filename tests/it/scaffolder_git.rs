//! Templates read from a git source fetch their skeletons from that source (issue 17, item 12): the run
//! checks the repository out through the source's own provider (the read policy applies), `fetch:*`
//! paths are relative to the template's file and may climb to the repository's root, never above it.

use greenroom_tests::{TestApp, TestDb};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: from-git
spec:
  owner: group:default/team-a
  type: service
  steps:
    - id: skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values: { name: '${{ parameters.name }}' }
    - id: shared
      action: fetch:plain
      input:
        url: ../../shared
        targetPath: shared
"#;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare repository holding `files`, pushed on `main`; returns its `file://` URL.
fn repository(root: &Path, files: &[(&str, &str)]) -> String {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (path, text) in files {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let bare = root.join("repo.git");
    git(root, &["init", "-q", "--bare", bare.to_str().unwrap()]);
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "templates"]);
    git(
        &work,
        &["push", "-q", bare.to_str().unwrap(), "HEAD:refs/heads/main"],
    );
    format!("file://{}", bare.canonicalize().unwrap().display())
}

async fn dry_run(app: &TestApp) -> serde_json::Value {
    let r = app
        .exec(
            r#"mutation { dryRunTemplate(input: {templateRef: "template:from-git", values: {name: "svc"}}) { status log files { path content } } }"#,
            json!({}),
        )
        .await;
    r["data"]["dryRunTemplate"].clone()
}

#[tokio::test]
async fn a_template_from_a_git_source_fetches_its_skeleton_from_that_source() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let url = repository(
        &root,
        &[
            ("templates/svc/template.yaml", TEMPLATE),
            ("templates/svc/skeleton/README.md", "# ${{ values.name }}\n"),
            ("shared/LICENSE", "shared licence\n"),
        ],
    );
    let config = format!(
        "catalog:\n  rules:\n    - allow: [Template]\n  allow:\n    files: ['{}']\n",
        root.display()
    );
    let config = api::config::Config::from_yaml(&config).unwrap();
    let sources = Arc::new(config.catalog.registry().unwrap());
    let app = TestApp::new(&t).sources(sources).admin();
    let target = format!("{url}#main:templates/svc/template.yaml");
    let r = app
        .exec(
            r#"mutation($t: String!) { registerLocation(input: {type: "git", target: $t}) { entities { ref } errors } }"#,
            json!({"t": target}),
        )
        .await;
    assert_eq!(
        r["data"]["registerLocation"],
        json!({"entities": [{"ref": "template:default/from-git"}], "errors": []}),
        "{r}"
    );
    let run = dry_run(&app).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let file = |path: &str| {
        run["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["content"].clone())
    };
    assert_eq!(file("README.md"), Some(json!("# svc\n")), "{run}");
    assert_eq!(
        file("shared/LICENSE"),
        Some(json!("shared licence\n")),
        "{run}"
    );

    // Above the repository's root is refused, naming the input, and no server path is shown.
    let escaping = TEMPLATE.replace("url: ../../shared", "url: ../../../outside");
    std::fs::write(root.join("outside"), "not the template's\n").unwrap();
    let url2 = repository(
        &root.join("second"),
        &[
            (
                "templates/svc/template.yaml",
                &escaping.replace("from-git", "escaping"),
            ),
            ("templates/svc/skeleton/README.md", "x\n"),
        ],
    );
    let r = app
        .exec(
            r#"mutation($t: String!) { registerLocation(input: {type: "git", target: $t}) { errors } }"#,
            json!({"t": format!("{url2}#main:templates/svc/template.yaml")}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let r = app
        .exec(
            r#"mutation { dryRunTemplate(input: {templateRef: "template:escaping", values: {name: "svc"}}) { status log } }"#,
            json!({}),
        )
        .await;
    let run = &r["data"]["dryRunTemplate"];
    assert_eq!(run["status"], "FAILED", "{r}");
    let log = run["log"].to_string();
    assert!(
        log.contains("../../../outside") && log.contains("leaves"),
        "{log}"
    );
    assert!(!log.contains(&root.display().to_string()), "{log}");
}
