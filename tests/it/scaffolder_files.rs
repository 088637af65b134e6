//! How `fetch:template`, `fetch:plain` and `fs:delete` treat a skeleton's files, as Backstage's do:
//! `templateFileExtension`, `copyWithoutTemplating`/`copyWithoutRender` globs, path segments that render
//! empty or to several directories, the first write kept unless `replace`, modes and links kept (in the
//! workspace and in a `publish:git` push), links that would leave the skeleton refused, and globs in
//! `fs:delete` that never expand through a link out of the workspace.

use api::scaffolder::actions::{Action, ActionContext, ActionError, Registry};
use api::scaffolder::worker::{self, WorkerSettings, Workers};
use greenroom_tests::{fixtures, TestDb};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Trees = Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>;

/// Records the task's workspace (`mode content`, `-> target` for links; `.git` left out) by task id.
struct Inspect {
    seen: Trees,
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            out.insert(
                rel,
                format!("-> {}", std::fs::read_link(&p).unwrap().display()),
            );
        } else if meta.is_dir() {
            if e.file_name() != ".git" {
                walk(root, &p, out);
            }
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string();
            out.insert(
                rel,
                format!("{:o} {text}", meta.permissions().mode() & 0o777),
            );
        }
    }
}

#[async_trait::async_trait]
impl Action for Inspect {
    fn id(&self) -> &'static str {
        "test:inspect"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let mut tree = BTreeMap::new();
        walk(&cx.workspace, &cx.workspace, &mut tree);
        self.seen.lock().unwrap().insert(cx.task_id.clone(), tree);
        Ok(())
    }
}

/// A team action that puts a link in the workspace to a directory outside it (what a hostile or buggy
/// custom action could leave behind).
struct Link;

#[async_trait::async_trait]
impl Action for Link {
    fn id(&self) -> &'static str {
        "test:link"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let at = cx.workspace_path(cx.input_str("name")?)?;
        std::os::unix::fs::symlink(cx.input_str("to")?, at)
            .map_err(|e| ActionError::File("link".into(), e))
    }
}

struct Setup {
    t: TestDb,
    seen: Trees,
    _workers: Vec<Workers>,
}

async fn setup(workers: usize) -> Setup {
    let t = TestDb::new().await;
    let out = t
        .refresh(&fixtures().join("scaffolder/files-cases.yaml"))
        .await;
    assert!(out.errors.is_empty() && out.invalid.is_empty(), "{out:?}");
    assert_eq!(out.valid, 7, "{out:?}");
    let seen = Trees::default();
    let mut registry = Registry::reading(&greenroom_tests::sandbox_sources());
    registry.add(Arc::new(Inspect { seen: seen.clone() }));
    registry.add(Arc::new(Link));
    let registry = Arc::new(registry);
    let settings = WorkerSettings {
        poll: Duration::from_millis(50),
        task_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let ws = (0..workers)
        .map(|i| {
            worker::spawn(
                t.db.clone(),
                registry.clone(),
                format!("w{i}"),
                settings.clone(),
            )
        })
        .collect();
    Setup {
        t,
        seen,
        _workers: ws,
    }
}

/// Dry-runs `template` with `values`: its status, files (path → content) and log.
async fn dry_run(
    t: &TestDb,
    template: &str,
    values: Value,
) -> (String, BTreeMap<String, String>, String) {
    let r = t
        .exec(
            r#"mutation($t: String!, $v: JSON!) { dryRunTemplate(input: {templateRef: $t, values: $v}) {
                status files { path content } log } }"#,
            json!({ "t": format!("template:{template}"), "v": values }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let d = &r["data"]["dryRunTemplate"];
    let files = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let content = f["content"].as_str().unwrap_or("<binary>").to_string();
            (f["path"].as_str().unwrap().to_string(), content)
        })
        .collect();
    (
        d["status"].as_str().unwrap().to_string(),
        files,
        d["log"].to_string(),
    )
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

/// Runs `template` as a task and waits (polling, with a deadline) until it is finished.
async fn run_task(s: &Setup, template: &str, values: Value) -> (Value, BTreeMap<String, String>) {
    let r = s
        .t
        .exec(
            r#"mutation($t: String!, $v: JSON!) { createTask(input: {templateRef: $t, values: $v}) { id } }"#,
            json!({ "t": format!("template:{template}"), "v": values }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let r =
            s.t.exec(
                r#"query($id: ID!) { task(id: $id) { status events { nodes { message } } } }"#,
                json!({ "id": id }),
            )
            .await;
        let task = r["data"]["task"].clone();
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&task["status"].as_str().unwrap_or("")) {
            let seen = s.seen.lock().unwrap();
            let tree = seen.values().next().cloned().unwrap_or_default();
            return (task, tree);
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn template_file_extension_renders_only_those_files_and_strips_it() {
    let s = setup(0).await;
    let (status, files, log) = dry_run(&s.t, "files-ext", json!({})).await;
    assert_eq!(status, "COMPLETED", "{log}");
    let want = expect(&[
        ("README.md", "# orders\n"),
        ("config.yaml.j2", "name: ${{ values.name }}\n"),
        ("orders-notes.txt", "notes ${{ values.name }}\n"),
        ("raw.txt", "kept ${{ values.name }}\n"),
        ("j2/README.md.njk", "# ${{ values.name }}\n"),
        ("j2/config.yaml", "name: orders\n"),
        ("j2/orders-notes.txt", "notes ${{ values.name }}\n"),
        ("j2/raw.txt", "kept ${{ values.name }}\n"),
    ]);
    assert_eq!(files, want);
}

#[tokio::test]
async fn copy_without_templating_globs_match_as_backstage_s_and_names_still_render() {
    let s = setup(0).await;
    let (status, files, log) = dry_run(&s.t, "files-copy", json!({})).await;
    assert_eq!(status, "COMPLETED", "{log}");
    let raw = "run: ${{ values.name }}\n";
    let want = expect(&[
        // A directory pattern covers the files inside; `docs/*` only docs' own entries.
        ("a/.env", "NAME=orders\n"),
        ("a/.github/workflows/ci.yml", raw),
        ("a/docs/orders.md", "doc ${{ values.name }}\n"),
        ("a/docs/sub/deep.md", "deep orders\n"),
        ("a/src/app.txt", "app orders\n"),
        ("b/.env", "NAME=orders\n"),
        ("b/.github/workflows/ci.yml", raw),
        ("b/docs/orders.md", "doc orders\n"),
        ("b/docs/sub/deep.md", "deep orders\n"),
        ("b/src/app.txt", "app orders\n"),
        // The deprecated copyWithoutRender leaves matched names as they are too.
        ("c/.env", "NAME=orders\n"),
        ("c/.github/workflows/ci.yml", "run: orders\n"),
        ("c/docs/${{ values.name }}.md", "doc ${{ values.name }}\n"),
        ("c/docs/sub/deep.md", "deep orders\n"),
        ("c/src/app.txt", "app orders\n"),
    ]);
    assert_eq!(files, want);
}

#[tokio::test]
async fn empty_segments_skip_entries_slashes_make_directories_and_the_first_write_is_kept() {
    let s = setup(0).await;
    let (status, files, log) = dry_run(&s.t, "files-paths", json!({})).await;
    assert_eq!(status, "COMPLETED", "{log}");
    let want = expect(&[
        ("kept/here.txt", "here\n"),
        ("new.txt", "new\n"),
        ("same.txt", "first\n"),
        ("src/com/example/app/Main.java", "package orders;\n"),
        // replace: true lets the later fetch win.
        ("r/kept/here.txt", "here\n"),
        ("r/new.txt", "new\n"),
        ("r/same.txt", "first\n"),
        ("r/src/com/example/app/Main.java", "package orders;\n"),
        // fetch:plain overwrites, as Backstage's fs.copy does.
        ("p/kept/here.txt", "here\n"),
        ("p/new.txt", "new\n"),
        ("p/same.txt", "second\n"),
        ("p/src/com/example/app/Main.java", "package orders;\n"),
    ]);
    assert_eq!(files, want);
}

#[tokio::test]
async fn bad_option_combinations_and_escaping_links_are_refused_by_name() {
    let s = setup(0).await;
    for (which, text) in [
        (
            "both",
            "copyWithoutRender and input.copyWithoutTemplating cannot be used together",
        ),
        (
            "ext-and-copy",
            "templateFileExtension cannot be used with copyWithoutTemplating",
        ),
        (
            "escape",
            "escape.txt: a symbolic link in a skeleton must point to a file of the skeleton",
        ),
    ] {
        let (status, files, log) = dry_run(&s.t, "files-bad", json!({ "which": which })).await;
        assert_eq!(status, "FAILED", "{which}: {log}");
        assert!(log.contains(text), "{which}: {log}");
        assert!(
            !log.contains("/files-cases/"),
            "{which}: no server path: {log}"
        );
        assert!(
            files.values().all(|c| !c.contains("outside the skeleton")),
            "{files:?}"
        );
    }
}

#[tokio::test]
async fn modes_and_links_survive_fetch_and_publish_git() {
    let s = setup(1).await;
    let remote_dir = tempfile::tempdir().unwrap();
    let (bare, remote) = greenroom_tests::git::bare_repo(remote_dir.path(), "modes.git");
    let (task, tree) = run_task(&s, "files-modes", json!({ "remoteUrl": remote })).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let want = expect(&[
        ("README.md", "644 readme orders\n"),
        ("bin/tool", "755 #!/bin/sh\necho tool\n"),
        ("gradlew", "755 #!/bin/sh\necho orders\n"),
        ("link.md", "-> README.md"),
        ("plain/README.md", "644 readme ${{ values.name }}\n"),
        ("plain/bin/tool", "755 #!/bin/sh\necho tool\n"),
        ("plain/gradlew", "755 #!/bin/sh\necho ${{ values.name }}\n"),
        ("plain/link.md", "-> README.md"),
    ]);
    assert_eq!(tree, want);
    let ls = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&bare)
        .args(["ls-tree", "-r", "--format=%(objectmode) %(path)", "main"])
        .output()
        .unwrap();
    let ls = String::from_utf8_lossy(&ls.stdout).to_string();
    for line in [
        "100755 gradlew",
        "100755 bin/tool",
        "100644 README.md",
        "120000 link.md",
        "100755 plain/gradlew",
    ] {
        assert!(ls.lines().any(|l| l == line), "{line} in:\n{ls}");
    }
}

#[tokio::test]
async fn fs_delete_globs_include_dot_files_and_never_expand_through_a_link_out() {
    let s = setup(1).await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim.txt"), "mine").unwrap();
    let to = outside.path().display().to_string();
    let (task, tree) = run_task(&s, "files-delete", json!({ "outside": to })).await;
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert!(
        outside.path().join("victim.txt").exists(),
        "deleted outside the workspace"
    );
    let want = expect(&[("ext", &format!("-> {to}")), ("keep.txt", "644 keep\n")]);
    assert_eq!(tree, want);
}

/// `trimBlocks` and `lstripBlocks` reach the renderer: block tags on their own lines leave no blank or
/// indented lines behind (the same skeleton without them keeps both, as nunjucks does).
/// `cookiecutterCompat` renders `{{ cookiecutter.* }}` in names and contents, with `jsonify`.
#[tokio::test]
async fn trim_blocks_lstrip_blocks_and_cookiecutter_compat_reach_the_renderer() {
    let s = setup(0).await;
    let (status, files, log) = dry_run(&s.t, "files-blocks", json!({})).await;
    assert_eq!(status, "COMPLETED", "{log}");
    let want = expect(&[
        ("plain/list.txt", "\n  \n  - a\n  \n  - b\n  \n\nend\n"),
        ("trimmed/list.txt", "  - a\n  - b\nend\n"),
        ("cookie/orders.txt", "name: orders\ntags: [\"a\",\"b\"]\n"),
    ]);
    assert_eq!(files, want);
}
