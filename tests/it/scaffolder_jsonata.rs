//! Roadie's JSONata actions in dry runs (issue 17): `roadiehq:utils:jsonata` gives the next step its
//! value, `:json:transform` and `:yaml:transform` read a workspace file and write what Roadie's
//! `JSON.stringify` / `YAML.stringify` write (the expected texts were printed by npm `jsonata` 2.2.2 and
//! `yaml` 2.9.1); bad expressions and runaway ones fail the step with JSONata's error code.

use super::scaffolder_actions::{dry, loaded};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn jsonata_gives_the_next_step_its_value_in_order() {
    let t = loaded().await;
    let data = json!({"service": {"name": "a", "endpoints": [{"path": "/a"}, {"path": "/b"}]}});
    let expression = r#"{ "routes": service.endpoints.path, "count": $count(service.endpoints) }"#;
    let run = dry(
        &t,
        "roadie-jsonata",
        None,
        json!({"data": data, "expression": expression}),
    )
    .await;
    run.completed();
    assert_eq!(
        run.result(),
        &json!({"result": {"routes": ["/a", "/b"], "count": 2}})
    );
    // The object keeps the expression's order, as JavaScript's does (`dump` is JSON.stringify).
    assert_eq!(
        run.file("result.json"),
        r#"{"routes":["/a","/b"],"count":2}"#
    );

    // No match is no output, and the step that needs it is skipped.
    let run = dry(
        &t,
        "roadie-jsonata",
        None,
        json!({"data": data, "expression": "service.missing"}),
    )
    .await;
    run.completed();
    assert_eq!(run.result(), &json!({}));
    assert!(!run.files.contains_key("result.json"), "{:?}", run.files);
}

#[tokio::test]
async fn jsonata_errors_fail_the_step_with_their_code() {
    let t = loaded().await;
    let run = dry(
        &t,
        "roadie-jsonata",
        None,
        json!({"data": {}, "expression": "a.("}),
    )
    .await;
    run.failed_with("JSONata failed to evaluate the expression: S02");
    let run = dry(&t, "roadie-jsonata", None, json!({"data": {}})).await;
    run.failed_with("input.expression is required");

    // An expression that never ends is stopped by the time bound.
    let start = Instant::now();
    let endless = "($f := function($n){ $f($n + 1) }; $f(0))";
    let run = dry(
        &t,
        "roadie-jsonata",
        None,
        json!({"data": {}, "expression": endless}),
    )
    .await;
    run.failed_with("D1012");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn json_transform_writes_json_stringify_text_or_the_value() {
    let t = loaded().await;
    let seed = Some((
        "package.json",
        r#"{"name":"x","scripts":{"test":"jest"},"version":"1.0.0"}"#,
    ));
    let expression = r#"$merge([$, {"version": "2.0.0"}])"#;
    let input = json!({"path": "package.json", "expression": expression, "space": "  "});
    let run = dry(&t, "roadie-jsonata-json", seed, input).await;
    run.completed();
    assert_eq!(
        run.result()["result"],
        json!("{\n  \"name\": \"x\",\n  \"scripts\": {\n    \"test\": \"jest\"\n  },\n  \"version\": \"2.0.0\"\n}")
    );
    let input = json!({"path": "package.json", "expression": expression, "replacer": ["name"]});
    let run = dry(&t, "roadie-jsonata-json", seed, input).await;
    assert_eq!(run.completed().result()["result"], json!(r#"{"name":"x"}"#));
    let input = json!({"path": "package.json", "expression": "scripts", "as": "object"});
    let run = dry(&t, "roadie-jsonata-json", seed, input).await;
    assert_eq!(run.completed().result()["result"], json!({"test": "jest"}));

    let input = json!({"path": "package.json", "expression": "$", "as": "text"});
    let run = dry(&t, "roadie-jsonata-json", seed, input).await;
    run.failed_with("input.as must be \"string\" or \"object\"");
    let input = json!({"path": "../package.json", "expression": "$"});
    let run = dry(&t, "roadie-jsonata-json", seed, input).await;
    run.failed_with("leaves the directory it must stay in");
    let seed = Some(("bad.json", "{not json"));
    let input = json!({"path": "bad.json", "expression": "$"});
    let run = dry(&t, "roadie-jsonata-json", seed, input).await;
    run.failed_with("input.path: bad.json is not valid JSON");
}

#[tokio::test]
async fn yaml_transform_reads_one_or_every_document_and_writes_yaml_text() {
    let t = loaded().await;
    let docs = "kind: Component\nmetadata:\n  name: svc\n  tags: [a, b]\n---\nkind: API\nmetadata:\n  name: svc-api\n";
    let seed = Some(("catalog-info.yaml", docs));
    let expression = r#"$[kind="Component"].{"name": metadata.name, "tags": metadata.tags, "apis": $$[kind="API"].metadata.name}"#;
    let input = json!({"path": "catalog-info.yaml", "expression": expression, "loadAll": true});
    let run = dry(&t, "roadie-jsonata-yaml", seed, input.clone()).await;
    assert_eq!(
        run.completed().result()["result"],
        json!("name: svc\ntags:\n  - a\n  - b\napis: svc-api\n")
    );
    let mut indented = input.clone();
    indented["options"] = json!({"indent": 4});
    let run = dry(&t, "roadie-jsonata-yaml", seed, indented).await;
    assert_eq!(
        run.completed().result()["result"],
        json!("name: svc\ntags:\n    - a\n    - b\napis: svc-api\n")
    );
    let mut object = input.clone();
    object["as"] = json!("object");
    let run = dry(&t, "roadie-jsonata-yaml", seed, object).await;
    assert_eq!(
        run.completed().result()["result"],
        json!({"name": "svc", "tags": ["a", "b"], "apis": "svc-api"})
    );

    // Without loadAll a file of two documents is refused, naming the option.
    let input = json!({"path": "catalog-info.yaml", "expression": "kind"});
    let run = dry(&t, "roadie-jsonata-yaml", seed, input).await;
    run.failed_with("holds 2 YAML documents (use loadAll: true)");
    let seed = Some(("one.yaml", "kind: Component\n"));
    let input = json!({"path": "one.yaml", "expression": "kind", "as": "object"});
    let run = dry(&t, "roadie-jsonata-yaml", seed, input).await;
    assert_eq!(run.completed().result()["result"], json!("Component"));
}
