//! Step semantics as Backstage's runner has them (issue 17, item 11), seen through `dryRunTemplate`: an
//! unset `${{ }}` drops its input key; only a string that is one expression keeps its type (spaces make
//! it text); an expression the engine cannot render stays as written; `if: "false"` runs (JavaScript
//! truthiness) while a false expression skips; `each:` runs the action per entry; step ids may repeat;
//! `context.task.id` and `user.entity` are in the context.

use api::auth::Caller;
use greenroom_tests::{TestApp, TestDb};
use serde_json::{json, Value};

const TEMPLATE: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: semantics
spec:
  owner: group:default/team-a
  type: service
  parameters:
    - properties:
        name: { type: string }
        port: { type: number }
        flag: { type: string }
  steps:
    - id: write
      action: catalog:write
      input:
        filePath: out.json.yaml
        entity:
          name: ${{ parameters.name }}
          missing: ${{ parameters.nope }}
          empty: ''
          spaced: ' ${{ parameters.port }} '
          typed: ${{ parameters.port }}
          raw: ${{ parameters.name | nosuchfilter }}
          task: ${{ context.task.id }}
          who: ${{ user.entity.metadata.name }}
          list: ['${{ parameters.nope }}', x]
    - id: string-false
      if: 'false'
      action: debug:log
      input: { message: the string false runs }
    - id: expression-false
      if: ${{ parameters.flag == 'off' }}
      action: debug:log
      input: { message: a false expression skips }
    - id: loop
      each: ${{ ['a', 'b'] }}
      action: debug:log
      input: { message: 'item ${{ each.key }}=${{ each.value }}' }
    - id: dup
      action: debug:log
      input: { message: first of two }
    - id: dup
      action: debug:log
      input: { message: second of two }
"#;

#[tokio::test]
async fn steps_render_and_run_as_backstage_runs_them() {
    let t = TestDb::new().await;
    t.load_examples().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("semantics.yaml");
    std::fs::write(&file, TEMPLATE).unwrap();
    let out = t.refresh(&file).await;
    assert!(out.invalid.is_empty() && out.errors.is_empty(), "{out:?}");
    let jenny = Caller {
        subject: "user:default/jenny.doe".into(),
        ..Caller::dev()
    };
    let r = TestApp::new(&t)
        .caller(jenny)
        .exec(
            r#"mutation { dryRunTemplate(input: {templateRef: "template:semantics",
                values: {name: "svc", port: 8080, flag: "on"}}) { status log files { path content } } }"#,
            json!({}),
        )
        .await;
    let run = &r["data"]["dryRunTemplate"];
    assert_eq!(run["status"], "COMPLETED", "{r}");
    let written = run["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "out.json.yaml")
        .unwrap_or_else(|| panic!("no file written: {r}"));
    let entity: Value = serde_yaml_ng::from_str(written["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        entity,
        json!({
            "name": "svc",
            "spaced": " 8080 ",
            "typed": 8080,
            "raw": "${{ parameters.name | nosuchfilter }}",
            "task": "dry-run",
            "who": "jenny.doe",
            "list": [null, "x"],
        }),
        "{r}"
    );
    let log: Vec<&str> = run["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let has = |text: &str| log.iter().any(|l| l.contains(text));
    assert!(has("the string false runs"), "{log:?}");
    assert!(!has("a false expression skips"), "{log:?}");
    assert!(has("item 0=a") && has("item 1=b"), "{log:?}");
    assert!(has("first of two") && has("second of two"), "{log:?}");
}
