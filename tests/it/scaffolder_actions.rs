//! Actions real templates use (issue 17): Roadie's utility actions (`roadiehq:utils:fs:*`,
//! `serialize:*`, `merge`) write and read what Roadie's own implementation does for the same input (the
//! expected texts were produced by running `@roadiehq/scaffolder-backend-module-utils` 4.1.2's actions),
//! refuse bad input naming it and paths leaving the workspace; `catalog:fetch` reads entities as
//! Backstage's does; `catalog:register` outputs the `entityRef` an "Open in catalog" link needs.

use api::scaffolder::actions::Registry;
use api::scaffolder::worker::{self, WorkerSettings};
use greenroom_tests::{first_error_code, fixtures, TestApp, TestDb};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(crate) struct Run {
    pub status: String,
    pub files: BTreeMap<String, Option<String>>,
    pub log: Vec<String>,
    pub output: Value,
}

impl Run {
    pub fn file(&self, path: &str) -> &str {
        self.files
            .get(path)
            .and_then(|c| c.as_deref())
            .unwrap_or_else(|| panic!("no {path} in {:?}", self.files))
    }

    /// The acting step's output (`spec.output.result`).
    pub fn result(&self) -> &Value {
        &self.output["result"]
    }

    pub fn completed(&self) -> &Self {
        assert_eq!(self.status, "COMPLETED", "{:?}", self.log);
        self
    }

    /// The run failed, and its log says `text`.
    pub fn failed_with(&self, text: &str) {
        assert_eq!(self.status, "FAILED", "{:?}", self.log);
        assert!(
            self.log.iter().any(|l| l.contains(text)),
            "no '{text}' in {:?}",
            self.log
        );
    }
}

pub(crate) async fn loaded() -> TestDb {
    let t = TestDb::new().await;
    for (file, count) in [("templates.yaml", 10), ("entities.yaml", 3)] {
        let out = t
            .refresh(&fixtures().join("scaffolder/actions").join(file))
            .await;
        assert!(out.errors.is_empty() && out.invalid.is_empty(), "{out:?}");
        assert_eq!(out.valid, count, "{file}: {out:?}");
    }
    t
}

/// A dry run of `template` (one of templates.yaml) with `input` for its action, after seeding a file.
pub(crate) async fn dry(
    t: &TestDb,
    template: &str,
    seed: Option<(&str, &str)>,
    input: Value,
) -> Run {
    let mut values = json!({ "input": input });
    if let Some((path, content)) = seed {
        values["seedPath"] = json!(path);
        values["seed"] = json!(content);
    }
    let r = t
        .exec(
            r#"mutation($t: String!, $v: JSON!) { dryRunTemplate(input: {templateRef: $t, values: $v}) {
                status files { path content } log output } }"#,
            json!({ "t": format!("template:{template}"), "v": values }),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let d = &r["data"]["dryRunTemplate"];
    Run {
        status: d["status"].as_str().unwrap().to_string(),
        files: d["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let content = f["content"].as_str().map(str::to_string);
                (f["path"].as_str().unwrap().to_string(), content)
            })
            .collect(),
        log: d["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect(),
        output: d["output"].clone(),
    }
}

/// A JSON-quoted text (as Roadie's oracle printed it) as the text itself.
fn text(quoted: &str) -> String {
    serde_json::from_str(quoted).unwrap()
}

#[tokio::test]
async fn fs_write_writes_the_content_and_reformats_json_when_asked() {
    let t = loaded().await;
    let input = json!({"path": "out/config.json", "content": "{\"b\":1,\"a\":[1,2],\"c\":{}}", "preserveFormatting": true});
    let run = dry(&t, "roadie-write", None, input).await;
    run.completed();
    assert_eq!(
        run.file("out/config.json"),
        "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ],\n  \"c\": {}\n}"
    );
    assert_eq!(run.result(), &json!({"path": "out/config.json"}));
    // Content that is not JSON is written as given, even with preserveFormatting.
    let input = json!({"path": "notes.md", "content": "a: 1\n", "preserveFormatting": true});
    let run = dry(&t, "roadie-write", None, input).await;
    assert_eq!(run.completed().file("notes.md"), "a: 1\n");

    let run = dry(
        &t,
        "roadie-write",
        None,
        json!({"path": "x.txt", "content": 5}),
    )
    .await;
    run.failed_with("input.content must be a string");
    let run = dry(&t, "roadie-write", None, json!({"content": "x"})).await;
    run.failed_with("input.path is required");
    let run = dry(
        &t,
        "roadie-write",
        None,
        json!({"path": "../outside.txt", "content": "x"}),
    )
    .await;
    run.failed_with("'../outside.txt' leaves the directory it must stay in");
}

#[tokio::test]
async fn fs_append_appends_or_creates_and_stays_in_the_workspace() {
    let t = loaded().await;
    let input = json!({"path": "notes.txt", "content": "two\n"});
    let run = dry(&t, "roadie-append", Some(("notes.txt", "one\n")), input).await;
    assert_eq!(run.completed().file("notes.txt"), "one\ntwo\n");
    assert_eq!(run.result(), &json!({"path": "notes.txt"}));
    let run = dry(
        &t,
        "roadie-append",
        None,
        json!({"path": "fresh.txt", "content": "x"}),
    )
    .await;
    assert_eq!(run.completed().file("fresh.txt"), "x");
    // As Roadie (appendFileSync): a missing directory is not created.
    let run = dry(
        &t,
        "roadie-append",
        None,
        json!({"path": "new/x.txt", "content": "x"}),
    )
    .await;
    run.failed_with("new/x.txt: No such file or directory");

    let run = dry(&t, "roadie-append", None, json!({"path": "notes.txt"})).await;
    run.failed_with("input.content is required");
    let run = dry(
        &t,
        "roadie-append",
        None,
        json!({"path": "/etc/passwd", "content": "x"}),
    )
    .await;
    run.failed_with("'/etc/passwd' leaves the directory it must stay in");
}

#[tokio::test]
async fn fs_parse_reads_text_json_yaml_and_every_yaml_document() {
    let t = loaded().await;
    let info = "apiVersion: v1\nkind: Component\nmetadata:\n  name: a\n---\nkind: Group\nmetadata: {name: b}\n";
    let seed = Some(("catalog-info.yaml", info));
    let input = json!({"path": "catalog-info.yaml", "parser": "multiyaml"});
    let run = dry(&t, "roadie-parse", seed, input).await;
    assert_eq!(
        run.completed().result()["content"],
        json!([
            {"apiVersion": "v1", "kind": "Component", "metadata": {"name": "a"}},
            {"kind": "Group", "metadata": {"name": "b"}}
        ])
    );
    // `yaml` takes one document, as YAML.parse does.
    let input = json!({"path": "catalog-info.yaml", "parser": "yaml"});
    let run = dry(&t, "roadie-parse", seed, input).await;
    run.failed_with("holds 2 YAML documents (use parser: multiyaml)");
    let single = Some(("c.json", "{\"a\": [1, \"x\"]}"));
    let run = dry(
        &t,
        "roadie-parse",
        single,
        json!({"path": "c.json", "parser": "json"}),
    )
    .await;
    assert_eq!(run.completed().result()["content"], json!({"a": [1, "x"]}));
    let run = dry(
        &t,
        "roadie-parse",
        single,
        json!({"path": "c.json", "parser": "yaml"}),
    )
    .await;
    assert_eq!(run.completed().result()["content"], json!({"a": [1, "x"]}));
    let run = dry(&t, "roadie-parse", single, json!({"path": "c.json"})).await;
    assert_eq!(
        run.completed().result()["content"],
        json!("{\"a\": [1, \"x\"]}")
    );

    let run = dry(
        &t,
        "roadie-parse",
        single,
        json!({"path": "c.json", "parser": "toml"}),
    )
    .await;
    run.failed_with("input.parser must be one of yaml, json, multiyaml");
    let bad = Some(("bad.json", "{nope"));
    let run = dry(
        &t,
        "roadie-parse",
        bad,
        json!({"path": "bad.json", "parser": "json"}),
    )
    .await;
    run.failed_with("input.path: bad.json is not valid JSON");
    let run = dry(
        &t,
        "roadie-parse",
        None,
        json!({"path": "a/../../etc/hosts"}),
    )
    .await;
    run.failed_with("'a/../../etc/hosts' leaves the directory it must stay in");
}

#[tokio::test]
async fn serialize_json_follows_json_stringify_with_space_and_replacer() {
    let t = loaded().await;
    let data = json!({"a": "svc", "b": ["x", "y"], "c": {"x": 1, "y": "two", "z": null}});
    let run = dry(
        &t,
        "roadie-serialize-json",
        None,
        json!({"data": data, "space": "  "}),
    )
    .await;
    assert_eq!(
        run.completed().result()["serialized"],
        "{\n  \"a\": \"svc\",\n  \"b\": [\n    \"x\",\n    \"y\"\n  ],\n  \"c\": {\n    \"x\": 1,\n    \"y\": \"two\",\n    \"z\": null\n  }\n}"
    );
    // A replacer keeps those properties at every level, in its order.
    let input = json!({"data": data, "replacer": ["c", "x", "a"]});
    let run = dry(&t, "roadie-serialize-json", None, input).await;
    assert_eq!(
        run.completed().result()["serialized"],
        r#"{"c":{"x":1},"a":"svc"}"#
    );
    let run = dry(&t, "roadie-serialize-json", None, json!({"data": data})).await;
    assert_eq!(
        run.completed().result()["serialized"],
        r#"{"a":"svc","b":["x","y"],"c":{"x":1,"y":"two","z":null}}"#
    );

    // Keys keep the order they were written in, as JavaScript's objects do.
    let unsorted = json!({"data": {"zeta": 1, "alpha": {"y": 2, "b": 3}}});
    let run = dry(&t, "roadie-serialize-json", None, unsorted).await;
    assert_eq!(
        run.completed().result()["serialized"],
        r#"{"zeta":1,"alpha":{"y":2,"b":3}}"#
    );

    let run = dry(&t, "roadie-serialize-json", None, json!({"data": "text"})).await;
    run.failed_with("input.data must be an object");
    let run = dry(
        &t,
        "roadie-serialize-json",
        None,
        json!({"data": {}, "replacer": [1]}),
    )
    .await;
    run.failed_with("input.replacer must be a list of strings");
}

/// Keys in alphabetical order, and every quoting and folding case.
const YAML_DATA: &str = r##"{"a":"x","b":"This is a rather long description of a component that goes well beyond eighty columns wide","c":{"deeper":{"description":"This is a rather long description of a component that goes well beyond eighty columns wide"}},"d":["a","This is a rather long description of a component that goes well beyond eighty columns wide",{"j":[1,2],"k":1},[1,[2,3]]],"e":"line1\nline2\n","f":"true","g":"1.5","h":"x: y","i":"say \"hi\"","j":"","k":{},"l":[],"m":null,"n":" sp\nx","o":"it's \"q\" here: yes","p":2.5,"q":false,"r":"0x1F","s":"- item","t":"#tag","u":"line1\nline2"}"##;

/// What Roadie's `roadiehq:utils:serialize:yaml` wrote for `YAML_DATA` (indent 2, then 4, then
/// `indentSeq: false`).
const YAML_ROADIE: [&str; 3] = [
    r##""a: x\nb: This is a rather long description of a component that goes well beyond eighty\n  columns wide\nc:\n  deeper:\n    description: This is a rather long description of a component that goes well\n      beyond eighty columns wide\nd:\n  - a\n  - This is a rather long description of a component that goes well beyond\n    eighty columns wide\n  - j:\n      - 1\n      - 2\n    k: 1\n  - - 1\n    - - 2\n      - 3\ne: |\n  line1\n  line2\nf: \"true\"\ng: \"1.5\"\nh: \"x: y\"\ni: say \"hi\"\nj: \"\"\nk: {}\nl: []\nm: null\nn: |2-\n   sp\n  x\no: \"it's \\\"q\\\" here: yes\"\np: 2.5\nq: false\nr: \"0x1F\"\ns: \"- item\"\nt: \"#tag\"\nu: |-\n  line1\n  line2\n""##,
    r##""a: x\nb: This is a rather long description of a component that goes well beyond eighty\n    columns wide\nc:\n    deeper:\n        description: This is a rather long description of a component that goes well\n            beyond eighty columns wide\nd:\n    - a\n    - This is a rather long description of a component that goes well beyond\n      eighty columns wide\n    - j:\n          - 1\n          - 2\n      k: 1\n    - - 1\n      - - 2\n        - 3\ne: |\n    line1\n    line2\nf: \"true\"\ng: \"1.5\"\nh: \"x: y\"\ni: say \"hi\"\nj: \"\"\nk: {}\nl: []\nm: null\nn: |2-\n     sp\n    x\no: \"it's \\\"q\\\" here: yes\"\np: 2.5\nq: false\nr: \"0x1F\"\ns: \"- item\"\nt: \"#tag\"\nu: |-\n    line1\n    line2\n""##,
    r##""a: x\nb: This is a rather long description of a component that goes well beyond eighty\n  columns wide\nc:\n  deeper:\n    description: This is a rather long description of a component that goes well\n      beyond eighty columns wide\nd:\n- a\n- This is a rather long description of a component that goes well beyond eighty\n  columns wide\n- j:\n  - 1\n  - 2\n  k: 1\n- - 1\n  - - 2\n    - 3\ne: |\n  line1\n  line2\nf: \"true\"\ng: \"1.5\"\nh: \"x: y\"\ni: say \"hi\"\nj: \"\"\nk: {}\nl: []\nm: null\nn: |2-\n   sp\n  x\no: \"it's \\\"q\\\" here: yes\"\np: 2.5\nq: false\nr: \"0x1F\"\ns: \"- item\"\nt: \"#tag\"\nu: |-\n  line1\n  line2\n""##,
];

#[tokio::test]
async fn serialize_yaml_writes_what_the_yaml_package_writes() {
    let t = loaded().await;
    let data: Value = serde_json::from_str(YAML_DATA).unwrap();
    let options = [
        json!(null),
        json!({"indent": 4}),
        json!({"indentSeq": false}),
    ];
    for (options, expected) in options.iter().zip(YAML_ROADIE) {
        let input = json!({"data": data, "options": options});
        let run = dry(&t, "roadie-serialize-yaml", None, input).await;
        let got = run.completed().result()["serialized"].as_str().unwrap();
        assert_eq!(got, text(expected), "options {options}");
    }

    let input = json!({"data": {"a": 1}, "options": {"sortMapEntries": true}});
    let run = dry(&t, "roadie-serialize-yaml", None, input).await;
    run.failed_with("input.options.sortMapEntries is not supported");
    let run = dry(&t, "roadie-serialize-yaml", None, json!({"data": [1, 2]})).await;
    run.failed_with("input.data must be an object");
}

#[tokio::test]
async fn merge_deep_merges_json_keeping_the_file_s_order() {
    let t = loaded().await;
    let package =
        "{\n  \"name\": \"svc\",\n  \"scripts\": {\"test\": \"jest\"},\n  \"keywords\": [\"a\"]\n}";
    let content = json!({"scripts": {"lint": "eslint"}, "keywords": ["b", "a"]});
    let input = json!({"path": "package.json", "content": content, "mergeArrays": true});
    let run = dry(&t, "roadie-merge", Some(("package.json", package)), input).await;
    assert_eq!(
        run.completed().file("package.json"),
        "{\n  \"name\": \"svc\",\n  \"scripts\": {\n    \"test\": \"jest\",\n    \"lint\": \"eslint\"\n  },\n  \"keywords\": [\n    \"a\",\n    \"b\"\n  ]\n}"
    );
    assert_eq!(run.result(), &json!({"path": "package.json"}));
    // Content given as a JSON string; arrays replaced by default.
    let seed = Some(("package.json", r#"{"name":"svc","keywords":["a"]}"#));
    let input =
        json!({"path": "package.json", "content": "{\"keywords\":[\"b\"],\"version\":\"1.0.0\"}"});
    let run = dry(&t, "roadie-merge", seed, input).await;
    assert_eq!(
        run.completed().file("package.json"),
        "{\n  \"name\": \"svc\",\n  \"keywords\": [\n    \"b\"\n  ],\n  \"version\": \"1.0.0\"\n}"
    );
    // Other files are left alone, as Roadie leaves them.
    let seed = Some(("notes.txt", "x"));
    let input = json!({"path": "notes.txt", "content": {"b": 1}});
    let run = dry(&t, "roadie-merge", seed, input).await;
    assert_eq!(run.completed().file("notes.txt"), "x");
    assert_eq!(run.result(), &json!({}));

    let input = json!({"path": "missing.json", "content": {"b": 1}});
    let run = dry(&t, "roadie-merge", None, input).await;
    run.failed_with("input.path: the file missing.json does not exist");
    let input = json!({"path": "package.json", "content": "{not json"});
    let run = dry(&t, "roadie-merge", seed_package(), input).await;
    run.failed_with("input.content: not valid JSON");
    let input = json!({"path": "../package.json", "content": {"b": 1}});
    let run = dry(&t, "roadie-merge", None, input).await;
    run.failed_with("'../package.json' leaves the directory it must stay in");
}

fn seed_package() -> Option<(&'static str, &'static str)> {
    Some(("package.json", r#"{"name":"svc"}"#))
}

#[tokio::test]
async fn merge_picks_the_yaml_document_by_field() {
    let t = loaded().await;
    let app = "kind: Service\nmetadata:\n  name: svc # the service\nspec:\n  ports: [80]\n---\nkind: Deployment\nmetadata:\n  name: svc\nspec:\n  replicas: 1\n  ports:\n    - 80\n";
    let content = json!({"spec": {"replicas": 3, "ports": [8080]}});
    let by = json!({"key": "kind", "value": "Deployment"});
    let input = json!({"path": "app.yaml", "content": content, "useDocumentIncludingField": by});
    let run = dry(&t, "roadie-merge", Some(("app.yaml", app)), input).await;
    assert_eq!(
        run.completed().file("app.yaml"),
        "kind: Service\nmetadata:\n  name: svc\nspec:\n  ports:\n    - 80\n---\nkind: Deployment\nmetadata:\n  name: svc\nspec:\n  replicas: 3\n  ports:\n    - 8080\n"
    );
    let input = json!({"path": "app.yaml", "content": {"b": 1}});
    let run = dry(
        &t,
        "roadie-merge",
        Some(("app.yaml", "a: 1\n---\na: 2\n")),
        input,
    )
    .await;
    run.failed_with("app.yaml holds 2 documents: input.useDocumentIncludingField");
}

#[tokio::test]
async fn catalog_fetch_reads_entities_and_refuses_missing_ones_unless_optional() {
    let t = loaded().await;
    let input = json!({"entityRef": "billing", "defaultKind": "Component"});
    let run = dry(&t, "catalog-fetch", None, input).await;
    let entity = &run.completed().result()["entity"];
    assert_eq!(entity["metadata"]["name"], "billing");
    assert_eq!(entity["metadata"]["description"], "Bills customers");
    assert_eq!(entity["spec"]["owner"], "group:default/team-a");
    assert!(entity["metadata"]["uid"].is_string(), "{entity}");
    assert!(
        entity["relations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "ownedBy" && r["targetRef"] == "group:default/team-a"),
        "{entity}"
    );

    let run = dry(
        &t,
        "catalog-fetch",
        None,
        json!({"entityRef": "component:nope"}),
    )
    .await;
    run.failed_with("Entity component:nope not found");
    let input = json!({"entityRef": "component:nope", "optional": true});
    let run = dry(&t, "catalog-fetch", None, input).await;
    assert_eq!(run.completed().result(), &json!({"entity": null}));

    let input = json!({"entityRefs": ["ledger", "component:default/billing", "group:default/team-a"],
        "defaultKind": "component", "defaultNamespace": "finance"});
    let run = dry(&t, "catalog-fetch", None, input).await;
    let names: Vec<&Value> = run.completed().result()["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["metadata"]["name"])
        .collect();
    assert_eq!(
        names,
        [&json!("ledger"), &json!("billing"), &json!("team-a")]
    );
    let input = json!({"entityRefs": ["component:billing", "component:nope"]});
    let run = dry(&t, "catalog-fetch", None, input.clone()).await;
    run.failed_with("Entity component:nope not found");
    let input = json!({"entityRefs": ["component:billing", "component:nope"], "optional": true});
    let run = dry(&t, "catalog-fetch", None, input).await;
    let found = &run.completed().result()["entities"];
    assert_eq!(found[0]["metadata"]["name"], "billing");
    assert_eq!(found[1], Value::Null);

    let run = dry(&t, "catalog-fetch", None, json!({})).await;
    run.failed_with("input.entityRef or input.entityRefs is required");
    let run = dry(&t, "catalog-fetch", None, json!({"entityRef": "billing"})).await;
    run.failed_with("input.entityRef: entity reference 'billing' has no kind");
}

#[tokio::test]
async fn a_dry_run_of_catalog_fetch_needs_catalog_read() {
    use api::auth::{Caller, Scope};
    let t = loaded().await;
    let as_caller = |scopes: &[Scope]| Caller {
        subject: "user:default/ann".into(),
        scopes: scopes.iter().copied().collect(),
        groups: Vec::new(),
        jti: None,
        authenticated: true,
    };
    let query = r#"mutation { dryRunTemplate(input: {templateRef: "template:catalog-fetch",
        values: {input: {entityRef: "component:billing"}}}) { status output } }"#;
    let app = |scopes: &[Scope]| TestApp::new(&t).sandboxed().caller(as_caller(scopes));
    let r = app(&[Scope::ScaffolderRun]).exec(query, json!({})).await;
    assert_eq!(first_error_code(&r), Some("FORBIDDEN"), "{r}");
    let r = app(&[Scope::ScaffolderRun, Scope::CatalogRead])
        .exec(query, json!({}))
        .await;
    let d = &r["data"]["dryRunTemplate"];
    assert_eq!(d["status"], "COMPLETED", "{r}");
    assert_eq!(
        d["output"]["result"]["entity"]["metadata"]["name"],
        "billing"
    );
}

#[tokio::test]
async fn catalog_register_outputs_the_entity_ref_an_open_in_catalog_link_uses() {
    let t = TestDb::new().await;
    let out = t
        .refresh(&fixtures().join("scaffolder/actions/register.yaml"))
        .await;
    assert_eq!(out.valid, 1, "{out:?}");
    let registry = std::sync::Arc::new(Registry::reading(&greenroom_tests::sandbox_sources()));
    let settings = WorkerSettings {
        poll: Duration::from_millis(50),
        ..Default::default()
    };
    let _worker = worker::spawn(t.db.clone(), registry, "worker-0".into(), settings);
    let remote_dir = tempfile::tempdir().unwrap();
    let (_, remote) = greenroom_tests::git::bare_repo(remote_dir.path(), "linked.git");
    let r = t
        .exec(
            r#"mutation($v: JSON!) { createTask(input: {templateRef: "template:register-link", values: $v}) { id } }"#,
            json!({"v": {"name": "Linked-Svc", "remoteUrl": remote}}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let id = r["data"]["createTask"]["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let task = loop {
        let r = t
            .exec(
                r#"query($id: ID!) { task(id: $id) { status output events { nodes { message } } } }"#,
                json!({"id": id}),
            )
            .await;
        let task = r["data"]["task"].clone();
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&task["status"].as_str().unwrap_or("")) {
            break task;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{task}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(task["status"], "COMPLETED", "{task}");
    // Backstage's stringifyEntityRef: kind and namespace lowercase, the name as written.
    assert_eq!(
        task["output"]["links"][0],
        json!({"title": "Open in catalog", "icon": "catalog", "entityRef": "component:default/Linked-Svc"})
    );
    assert_eq!(
        task["output"]["text"][0]["content"],
        format!("{remote}#main:catalog-info.yaml").as_str()
    );
}
