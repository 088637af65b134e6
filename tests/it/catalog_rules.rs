//! `catalog.rules` (issue 16), through the registry the server builds from its config: without rules only
//! Component, API and Location enter (Backstage's default), refused entities are reported with file, line
//! and kind and their valid siblings are kept; global rules by kind, `spec.type` and location pattern; a
//! configured location's own rules; bad rules are config errors; the shipped greenroom.yaml loads every
//! kind of the example catalog.

use api::config::Config;
use api::providers::{refresh, Origin, Registry};
use greenroom_tests::{TestApp, TestDb};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

const MIXED: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: svc}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: svc-api}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: x}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: db}
spec: {type: database, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: bucket}
spec: {type: s3-bucket, owner: team-a}
";

const TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: NAME}
spec: {owner: team-a, type: service, steps: [{id: log, action: debug:log, input: {message: hi}}]}
";

fn registry(dir: &Path, rules: &str, locations: &str) -> Registry {
    let text = format!(
        "catalog:\n  allow:\n    files: ['{}']\n{rules}{locations}",
        dir.display()
    );
    let config = Config::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    config.catalog.registry().expect("a registry")
}

/// Registers `file` and returns (stored refs of the file, problems).
async fn register(app: &TestApp, file: &Path) -> (Vec<String>, Vec<String>) {
    let r = app
        .exec(
            r#"mutation($t: String!) { registerLocation(input: {type: "file", target: $t}) { entities { ref } errors } }"#,
            json!({"t": file.display().to_string()}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let done = &r["data"]["registerLocation"];
    let strings =
        |v: &serde_json::Value, f: &dyn Fn(&serde_json::Value) -> Option<String>| -> Vec<String> {
            let mut out: Vec<String> = v.as_array().unwrap().iter().filter_map(f).collect();
            out.sort();
            out
        };
    (
        strings(&done["entities"], &|e| {
            e["ref"].as_str().map(str::to_string)
        }),
        strings(&done["errors"], &|e| e.as_str().map(str::to_string)),
    )
}

async fn stored(t: &TestDb) -> Vec<String> {
    let r = t
        .exec("{ entities(first: 500) { nodes { ref } } }", json!({}))
        .await;
    let mut refs: Vec<String> = r["data"]["entities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ref"].as_str().unwrap().to_string())
        .collect();
    refs.sort();
    refs
}

#[tokio::test]
async fn without_rules_only_component_api_and_location_enter() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.yaml");
    std::fs::write(&file, MIXED).unwrap();
    let app = TestApp::new(&t)
        .sources(Arc::new(registry(dir.path(), "", "")))
        .admin();
    let (_, problems) = register(&app, &file).await;
    assert_eq!(
        stored(&t).await,
        ["api:default/svc-api", "component:default/svc"]
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    let group = problems
        .iter()
        .find(|p| p.contains("group:default/team-a"))
        .expect("the group refused");
    assert!(group.contains("mixed.yaml:10"), "{group}");
    assert!(
        group.contains("kind Group is not allowed from this location (see catalog.rules)"),
        "{group}"
    );
}

#[tokio::test]
async fn rules_allow_by_kind_spec_type_and_location_pattern() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    let other = dir.path().join("other");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(dir.path().join("mixed.yaml"), MIXED).unwrap();
    std::fs::write(
        templates.join("a.yaml"),
        TEMPLATE.replace("NAME", "allowed"),
    )
    .unwrap();
    std::fs::write(other.join("b.yaml"), TEMPLATE.replace("NAME", "refused")).unwrap();
    let rules = format!(
        "  rules:\n    - allow: [component, {{kind: Resource, spec.type: Database}}]\n    - allow: [Template]\n      locations:\n        - type: file\n          pattern: '{}/templates/*.yaml'\n",
        dir.path().canonicalize().unwrap().display()
    );
    let app = TestApp::new(&t)
        .sources(Arc::new(registry(dir.path(), &rules, "")))
        .admin();
    let (_, problems) = register(&app, &dir.path().join("mixed.yaml")).await;
    let refused: Vec<bool> = ["svc-api", "team-a", "bucket"]
        .iter()
        .map(|n| {
            problems
                .iter()
                .any(|p| p.contains(&format!("/{n}:")) && p.contains("not allowed"))
        })
        .collect();
    assert_eq!(refused, [true, true, true], "{problems:?}");
    register(&app, &templates.join("a.yaml")).await;
    let (_, problems) = register(&app, &other.join("b.yaml")).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("template:default/refused")),
        "{problems:?}"
    );
    assert_eq!(
        stored(&t).await,
        [
            "component:default/svc",
            "resource:default/db",
            "template:default/allowed"
        ]
    );
}

#[tokio::test]
async fn a_configured_location_reads_the_kinds_of_its_own_rules() {
    let t = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("org.yaml");
    std::fs::write(&org, MIXED).unwrap();
    let locations = format!(
        "  locations:\n    - type: file\n      target: {}\n      rules:\n        - allow: [Group]\n        - allow: [Resource]\n",
        org.display()
    );
    let reg = registry(dir.path(), "", &locations);
    let source = &reg.configured[0];
    let out = refresh(
        &t.db,
        source.provider.clone(),
        Origin::Config,
        &source.rules,
    )
    .await
    .unwrap();
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    assert_eq!(stored(&t).await.len(), 5);
    // The same kinds from a registered location are refused: the rules are that location's own.
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        MIXED
            .replace("team-a}", "team-b}")
            .replace("name: ", "name: x-"),
    )
    .unwrap();
    let app = TestApp::new(&t).sources(Arc::new(reg)).admin();
    let (_, problems) = register(&app, &other).await;
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[test]
fn bad_rules_are_config_errors() {
    for (rules, says) in [
        ("  rules:\n    - allow: [Component]\n      deny: [User]\n", "unknown field `deny`"),
        ("  rules:\n    - allow: [Component]\n      locations: [{type: file, exact: /a, pattern: '/b*'}]\n", "both exact and pattern"),
        ("  locations:\n    - type: file\n      target: x.yaml\n      rules: [{allow: [User], locations: []}]\n", "unknown field `locations`"),
    ] {
        let text = format!("catalog:\n{rules}");
        let err = match Config::from_yaml(&text) {
            Err(e) => e.to_string(),
            Ok(c) => c.catalog.registry().err().map(|e| e.to_string()).unwrap_or_default(),
        };
        assert!(err.contains(says), "{text}: {err}");
    }
}

#[tokio::test]
async fn the_shipped_config_loads_every_kind_of_the_example_catalog() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("greenroom.yaml")).unwrap();
    let examples = root.join("examples").canonicalize().unwrap();
    let text = text.replace(
        "target: examples/",
        &format!("target: {}/", examples.display()),
    );
    let config = Config::from_yaml(&text).unwrap();
    let reg = config.catalog.registry().unwrap();
    let t = TestDb::new().await;
    let source = &reg.configured[0];
    let out = refresh(
        &t.db,
        source.provider.clone(),
        Origin::Config,
        &source.rules,
    )
    .await
    .unwrap();
    assert!(
        out.invalid.is_empty() && out.errors.is_empty(),
        "{:?} {:?}",
        out.invalid,
        out.errors
    );
    let r = t
        .exec("{ facets(field: \"kind\") { value } }", json!({}))
        .await;
    let kinds: Vec<&str> = r["data"]["facets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["value"].as_str())
        .collect();
    for k in [
        "Component",
        "API",
        "Group",
        "User",
        "System",
        "Domain",
        "Resource",
        "Location",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}
