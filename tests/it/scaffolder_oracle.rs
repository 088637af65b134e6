//! The differential test of Greenroom's `${{ }}` rendering against nunjucks configured the way
//! Backstage's scaffolder configures it (`tests/js/nunjucks-oracle.mjs`): every case of the corpus
//! (`tests/fixtures/scaffolder/oracle/cases.json`), every skeleton file under
//! `tests/fixtures/scaffolder/`, and generated combinations of expression shapes and value types must
//! render the same (or fail on both sides), unless the difference is on the documented allow-list
//! (`tests/fixtures/scaffolder/oracle/allowed.json`). An allow-list entry that no longer matches a
//! difference fails the test too, so the list stays true.

use api::scaffolder::expr;
use greenroom_tests::js;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scaffolder")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read the fixture");
    serde_json::from_str(&text).expect("the fixture is JSON")
}

/// Values of every type templates meet, for the generated cases.
fn values() -> Vec<(&'static str, Value)> {
    vec![
        ("str", json!("my-App service")),
        ("empty", json!("")),
        ("int", json!(8080)),
        ("float", json!(2.5)),
        ("neg", json!(-3)),
        ("yes", json!(true)),
        ("no", json!(false)),
        ("nil", json!(null)),
        ("list", json!(["a", "b"])),
        ("nested", json!([1, [2, 3], null, "x"])),
        ("emptylist", json!([])),
        ("object", json!({"a": 1, "b": "two"})),
        ("unicode", json!("Ünïcødé naïve")),
        ("html", json!("<b>bold</b> & <i>x</i>")),
        ("multiline", json!("line one\nline two\n\nline four")),
        ("repourl", json!("github.com?owner=acme&repo=my-svc")),
        ("entityref", json!("group:default/team-a")),
    ]
}

/// Expression shapes, `V` standing for the value (`values.v`) or nothing at all (`values.missing`).
const SHAPES: &[&str] = &[
    "${{ V }}",
    "${{ V | dump }}",
    "${{ V | default('fallback') }}",
    "${{ V | default('fallback', true) }}",
    "${{ V | length }}",
    "${{ V | upper }}",
    "${{ V | lower }}",
    "${{ V | title }}",
    "${{ V | capitalize }}",
    "${{ V | trim }}",
    "${{ V | join('-') }}",
    "${{ V | first }}",
    "${{ V | last }}",
    "${{ V | replace('a', 'A') }}",
    "${{ V | replace('e', 'E', 1) }}",
    "${{ V | truncate(6) }}",
    "${{ V | truncate(6, true, '…') }}",
    "${{ V | urlencode }}",
    "${{ V | wordcount }}",
    "${{ V | striptags }}",
    "${{ V | nl2br }}",
    "${{ V | center(20) }}",
    "${{ V | indent(2) }}",
    "${{ V | reverse }}",
    "${{ V | sort }}",
    "${{ V | parseRepoUrl | dump }}",
    "${{ V | projectSlug }}",
    "${{ V | parseEntityRef | dump }}",
    "${{ V == 'a' }}",
    "${{ V === 8080 }}",
    "${{ V !== null }}",
    "${{ not V }}",
    "${{ V and 'yes' }}",
    "${{ V or 'no' }}",
    "${{ 'yes' if V else 'no' }}",
    "${{ V is defined }}",
    "${{ V is null }}",
    "${{ V is string }}",
    "${{ V is number }}",
    "${{ [V, V] }}",
    "${{ V + 1 }}",
    "${{ V ~ '!' }}",
    "{% if V %}yes{% else %}no{% endif %}",
    "{% for x in V %}<${{ x }}>{% endfor %}",
    "{% for x in V %}${{ loop.index }}:${{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
    "{% set y = V %}[${{ y }}]",
    "${{ V.length }}",
    "${{ V.split('-') }}",
    "${{ V.toUpperCase() }}",
    "${{ V.startsWith('my') }}",
    "${{ V.includes('a') }}",
    "${{ V.replaceAll('-', '_') }}",
];

fn generated() -> Vec<Value> {
    let mut cases = Vec::new();
    let mut ctx = serde_json::Map::new();
    for (name, v) in values() {
        ctx.insert(name.to_string(), v);
    }
    let context = json!({ "values": ctx });
    for (s, shape) in SHAPES.iter().enumerate() {
        for (name, _) in values().into_iter().chain([("missing", Value::Null)]) {
            cases.push(json!({
                "id": format!("gen/{s:02}/{name}"),
                "template": shape.replace('V', &format!("values.{name}")),
                "context": context,
                "shape": shape,
            }));
        }
    }
    cases
}

/// Every file of the fixture skeletons, rendered with values like the templates pass.
fn skeleton_files() -> Vec<Value> {
    let context = json!({"values": {"name": "my-svc", "owner": "group:default/team-a", "port": 8080,
        "description": "A service", "repoUrl": "github.com?owner=acme&repo=my-svc", "tags": ["a", "b"]}});
    let mut cases = Vec::new();
    let mut stack = vec![fixtures()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // The hostile skeleton exists to exhaust fuel, which nunjucks does not have.
            if path.is_dir() && !path.ends_with("hostile-skeleton") && !path.ends_with("oracle") {
                stack.push(path);
            } else if dir != fixtures() && path.is_file() {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let rel = path.strip_prefix(fixtures()).unwrap_or(&path);
                    cases.push(json!({"id": format!("skeleton/{}", rel.display()),
                        "template": text, "context": context}));
                }
            }
        }
    }
    cases
}

/// `fetch:template`'s `trimBlocks` / `lstripBlocks` (block tags at line starts, indented, inline, with
/// comments and `{%-` trims, under each combination of the two) and `cookiecutterCompat` (`{{ }}`,
/// `cookiecutter.*`, `jsonify`).
fn whitespace_options() -> Vec<Value> {
    let templates = [
        "{% if values.on %}\nyes\n{% endif %}\nafter\n",
        "  {% for x in values.items %}\n  - ${{ x }}\n  {% endfor %}\nend\n",
        "a {% if values.on %}b{% endif %} c\n",
        "{# note #}\nline\n    {# indented note #}\nnext\n",
        "{%- if values.on %}\n  x\n{%- endif %}\n",
        "\t{% set n = 2 %}\n${{ n }}\n",
        "{% raw %}\n${{ kept }}\n{% endraw %}\n",
    ];
    let context = json!({"values": {"on": true, "items": ["a", "b"]}});
    let mut cases = Vec::new();
    for (i, t) in templates.iter().enumerate() {
        for (trim, lstrip) in [(true, false), (false, true), (true, true)] {
            cases.push(json!({
                "id": format!("whitespace/{i}/trim={trim}/lstrip={lstrip}"),
                "template": t,
                "context": context,
                "options": {"trimBlocks": trim, "lstripBlocks": lstrip},
            }));
        }
    }
    let context = json!({"cookiecutter": {"name": "my-svc", "port": 8080, "tags": ["a", "b"],
        "meta": {"owner": "team-a", "on": true}}});
    let templates = [
        "name: {{ cookiecutter.name }}\nport: {{ cookiecutter.port }}\n",
        "tags: {{ cookiecutter.tags | jsonify }}\nmeta: {{ cookiecutter.meta | jsonify }}\n",
        "kept: ${{ github.sha }}\n{% if cookiecutter.meta.on %}on{% endif %}\n",
        "{{ cookiecutter.missing }}|{{ cookiecutter.name | upper }}|{# c #}\n",
        "{% for t in cookiecutter.tags %}{{ loop.index }}={{ t }} {% endfor %}\n",
    ];
    for (i, t) in templates.iter().enumerate() {
        cases.push(json!({
            "id": format!("cookiecutter/{i}"),
            "template": t,
            "context": context,
            "options": {"cookiecutterCompat": true},
        }));
    }
    cases
}

fn greenroom(template: &str, context: &Value, options: &Value) -> Result<String, String> {
    let flag = |k: &str| options[k].as_bool().unwrap_or(false);
    let env = expr::environment_with(expr::FileOptions {
        trim_blocks: flag("trimBlocks"),
        lstrip_blocks: flag("lstripBlocks"),
        cookiecutter: flag("cookiecutterCompat"),
    });
    let ctx = minijinja::Value::from_serialize(context);
    expr::render_text(&env, template, &ctx, expr::limits().max_render_bytes)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn greenroom_renders_like_backstage_nunjucks() {
    if js::skip("greenroom_renders_like_backstage_nunjucks", false) {
        return;
    }
    let mut cases: Vec<Value> = read_json(&fixtures().join("oracle/cases.json"))
        .as_array()
        .expect("cases.json is a list")
        .clone();
    cases.extend(skeleton_files());
    cases.extend(generated());
    cases.extend(whitespace_options());
    let reference = js::oracle("nunjucks-oracle.mjs", &cases).await;
    // Each entry: {"match": a regex over case ids, "reason": why the difference is kept}.
    let allow: Vec<(regex::Regex, String)> = read_json(&fixtures().join("oracle/allowed.json"))
        .as_array()
        .expect("allowed.json is a list")
        .iter()
        .map(|a| {
            let pattern = a["match"]
                .as_str()
                .expect("an allow-list entry has a match");
            let why = a["reason"].as_str().unwrap_or_default().to_string();
            assert!(!why.is_empty(), "the allowed difference {pattern} says why");
            (regex::Regex::new(pattern).expect("a valid regex"), why)
        })
        .collect();

    let (mut failures, mut allowed_hits, mut same) = (Vec::new(), Vec::new(), 0);
    for case in &cases {
        let id = case["id"].as_str().expect("an id");
        let theirs = &reference[id];
        let ours = greenroom(
            case["template"].as_str().expect("a template"),
            &case["context"],
            &case["options"],
        );
        let agree = match (&ours, theirs.get("ok")) {
            (Ok(a), Some(b)) => b.as_str() == Some(a.as_str()),
            (Err(_), None) => true,
            _ => false,
        };
        if agree {
            same += 1;
        } else if allow.iter().any(|(re, _)| re.is_match(id)) {
            allowed_hits.push(id.to_string());
        } else {
            failures.push(format!(
                "{id}: {}\n  greenroom: {ours:?}\n  nunjucks:  {theirs}",
                case["template"]
            ));
        }
    }
    let stale: Vec<&str> = allow
        .iter()
        .filter(|(re, _)| !allowed_hits.iter().any(|h| re.is_match(h)))
        .map(|(re, _)| re.as_str())
        .collect();
    eprintln!(
        "oracle: {} cases, {same} identical, {} allowed differences, {} failures",
        cases.len(),
        allowed_hits.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences from nunjucks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        stale.is_empty(),
        "allow-list entries that match no difference any more: {stale:?}"
    );
}
