//! The differential test of Greenroom's JSONata (`api::scaffolder::jsonata`, the engine of the
//! `roadiehq:utils:jsonata*` actions) against npm `jsonata` 2.2.2, the engine Roadie's actions call
//! (`tests/js/jsonata-oracle.mjs`). Every expression below, and every generated combination of a
//! function with a field of each type, must give the same value, no value on both sides, or an error
//! with the same JSONata code on both sides — unless it is on the allow-list at the end of this file,
//! which says why (an entry that no longer differs fails the test, so the list stays true).

use api::scaffolder::jsonata;
use greenroom_tests::js;
use serde_json::{json, Value};

/// The document most cases read: a service as a template's values describe one.
fn document() -> Value {
    json!({
        "name": "payments-api", "owner": "team-a", "tags": ["java", "payments", "pci"],
        "port": 8080, "ratio": 2.5, "enabled": true, "nothing": null, "empty": "", "none": [],
        "endpoints": [
            {"path": "/users", "method": "GET", "auth": true, "weight": 3},
            {"path": "/health", "method": "GET", "auth": false, "weight": 1},
            {"path": "/admin", "method": "POST", "auth": true, "weight": 5}
        ],
        "team": {"members": ["alice", "bob", "charlie"], "lead": {"name": "dana", "since": 2019}},
        "matrix": [[1, 2], [3, [4, 5]]],
        "desc": "Takes payments.\nSecond line, with  two spaces.",
        "url": "https://github.com/acme/payments?x=1&y=a b",
        "version": "1.20.3"
    })
}

/// Expressions of every construct templates write: paths, predicates, wildcards, operators, object
/// and array constructors, blocks, variables, lambdas, higher-order functions, regular expressions,
/// ordering, grouping, positional and context bindings, transforms, and the function library.
const EXPRESSIONS: &[&str] = &[
    "name",
    "team.lead.name",
    "endpoints.path",
    "endpoints[0]",
    "endpoints[-1].path",
    "endpoints[auth=true].path",
    "endpoints[auth=false]",
    "endpoints[weight > 2].method",
    "endpoints[method='GET' and auth].path",
    "endpoints[[0,2]].path",
    "tags[1]",
    "tags[9]",
    "matrix[1][1][0]",
    "matrix.$",
    "*.name",
    "**.name",
    "$.team.*",
    "team.lead.%.members",
    "missing",
    "missing.deeper",
    "nothing",
    "empty",
    "none",
    "$count(none)",
    "port + 1",
    "port - 0.5",
    "port * ratio",
    "port / 3",
    "port % 7",
    "-port",
    "ratio * 2 = 5",
    "port > 8000 and enabled",
    "port < 10 or $not(enabled)",
    "name & '-' & owner",
    "name & port",
    "'x' & nothing",
    "port = '8080'",
    "tags = 'java'",
    "'pci' in tags",
    "enabled ? 'on' : 'off'",
    "missing ? 1 : 2",
    "nothing ? 1 : 2",
    "empty ? 1 : 2",
    "[1..5]",
    "[1..5][$ % 2 = 0]",
    "[name, owner]",
    "[tags]",
    "[[1,2],[3]]",
    "[]",
    "{}",
    r#"{"name": name, "port": port}"#,
    r#"{"n": missing, "p": port}"#,
    r#"endpoints{method: path}"#,
    r#"endpoints{method: $count(path)}"#,
    r#"endpoints.{"p": path, "w": weight * 2}"#,
    r#"{"routes": endpoints.path, "count": $count(endpoints)}"#,
    "($x := port; $y := 2; $x * $y)",
    "($f := function($a, $b){ $a + $b }; $f(2, 3))",
    "($fact := function($n){ $n <= 1 ? 1 : $n * $fact($n - 1) }; $fact(10))",
    "$map(tags, function($v, $i){ $i & ':' & $v })",
    "$filter(endpoints, function($e){ $e.auth }).path",
    "$reduce([1..5], function($a, $b){ $a + $b })",
    "$reduce(tags, function($a, $b){ $a & ',' & $b }, 'start')",
    "$zip([1,2,3], ['a','b','c'])",
    "$sift(team.lead, function($v){ $type($v) = 'number' })",
    "$each(team.lead, function($v, $k){ $k & '=' & $v })",
    "$single(endpoints, function($e){ $e.method = 'POST' }).path",
    "$merge([team.lead, {'since': 2020, 'role': 'lead'}])",
    "$keys(team.lead)",
    "$keys(endpoints)",
    "$lookup(team.lead, 'name')",
    "$spread(team.lead)",
    "$append(tags, 'new')",
    "$append(name, port)",
    "$count(tags)",
    "$sum(endpoints.weight)",
    "$max(endpoints.weight)",
    "$min(endpoints.weight)",
    "$average(endpoints.weight)",
    "$distinct(endpoints.method)",
    "$reverse(tags)",
    "$sort(tags)",
    "$sort(endpoints, function($a, $b){ $a.weight > $b.weight }).path",
    "$shuffle([]) = []",
    "endpoints^(weight).path",
    "endpoints^(>weight).path",
    "endpoints^(method, >weight).path",
    "endpoints#$i[$i > 0].path",
    "endpoints@$e.$e.path",
    "tags#$i.{'i': $i, 'v': $}",
    "$string(port)",
    "$string(team)",
    "$string(tags)",
    "$string(ratio)",
    "$string(1e21)",
    "$string(0.1 + 0.2)",
    "$number('42')",
    "$number('0x1F')",
    "$number('4.5e2')",
    "$boolean(empty)",
    "$boolean(none)",
    "$boolean(tags)",
    "$not(nothing)",
    "$exists(missing)",
    "$exists(nothing)",
    "$type(team)",
    "$type(nothing)",
    "$type(missing)",
    "$length(name)",
    "$length('ünïcødé')",
    "$substring(name, 3)",
    "$substring(name, -3)",
    "$substring(name, 2, 4)",
    "$substringBefore(url, '?')",
    "$substringAfter(url, '://')",
    "$uppercase(name)",
    "$lowercase('ÀB')",
    "$trim('  a   b  ')",
    "$trim(desc)",
    "$pad(name, 15, '*')",
    "$pad(name, -15)",
    "$contains(name, 'pay')",
    "$contains(name, /PAY/i)",
    "$split(version, '.')",
    "$split(name, '-', 1)",
    "$split(desc, /\\s+/)",
    "$join(tags, ', ')",
    "$join(tags)",
    "$match(version, /(\\d+)\\.(\\d+)/)",
    "$match(name, /a/)",
    "$replace(name, '-', '_')",
    "$replace(name, /(\\w+)-(\\w+)/, '$2 $1')",
    "$replace(desc, /\\n/, ' ', 1)",
    "$replace(name, 'a', function($m){ $uppercase($m.match) })",
    "$base64encode(name)",
    "$base64decode('cGF5bWVudHM=')",
    "$base64decode('my-service')",
    "$encodeUrlComponent('a b&c')",
    "$encodeUrl(url)",
    "$decodeUrlComponent('a%20b')",
    "$decodeUrl('https://x.org/a%20b')",
    "$abs(-5)",
    "$floor(ratio)",
    "$ceil(ratio)",
    "$round(2.5)",
    "$round(3.5)",
    "$round(1234.5678, 2)",
    "$round(1234.5678, -2)",
    "$power(2, 10)",
    "$sqrt(16)",
    "$formatNumber(1234.5, '#,##0.00')",
    "$formatBase(255, 16)",
    "$formatInteger(1999, 'I')",
    "$parseInteger('MCMXCIX', 'I')",
    "$eval('1 + 2')",
    "$eval('[1,2,3]')",
    "$fromMillis(0)",
    "$toMillis('2024-01-02T03:04:05Z')",
    "$fromMillis(1700000000000, '[Y0001]-[M01]-[D01]')",
    "$assert(port > 0, 'bad port')",
    "$ ~> |team.lead|{'since': 2021}|",
    "$ ~> |endpoints|{'secure': auth}, ['weight']|",
    "name ~> $uppercase()",
    "tags ~> $join('/')",
    "$sum(endpoints.(weight * 2))",
    "$count(endpoints[auth])",
    "$string(endpoints[0])",
    "endpoints.path[0]",
    "(endpoints.path)[0]",
    "$exists(team.lead.name) and team.lead.since < 2020",
    "$hasUpload := $exists(missing)",
    r#"($has := $exists(url) and $trim($string(url)) != ""; {"content": $has ? url : "none"})"#,
    r#"{"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": name, "tags": tags[$ != 'pci']}, "spec": {"owner": "group:" & owner}}"#,
    "$error('stop')",
    "undefinedFunction()",
    "$sum(tags)",
    "name + 1",
    "$substring(port, 1)",
    "[1..1e9]",
    "$join([1,2])",
    "{'a': 1}.a.b.c",
    "$string(function(){1})",
    "'a' < 1",
    // Syntax errors.
    "a.(",
    "{",
    "[1, 2",
    "$f(",
    "a ? ",
    "1 +",
    "'unterminated",
    "a[",
    "name name",
    ")",
    "a := 1",
    "function($x){",
    "/[/",
    "{'a' 1}",
    "@",
    "#",
];

/// Functions of one argument, and what each is applied to.
const FUNCTIONS: &[&str] = &[
    "$string",
    "$number",
    "$boolean",
    "$not",
    "$exists",
    "$type",
    "$count",
    "$sum",
    "$keys",
    "$reverse",
    "$sort",
    "$distinct",
    "$length",
    "$uppercase",
    "$trim",
    "$join",
    "$abs",
    "$floor",
    "$spread",
    "$append(F, 1)",
    "$merge",
    "$each(F, function($v){ $v })",
];
const FIELDS: &[&str] = &[
    "name",
    "tags",
    "port",
    "ratio",
    "enabled",
    "nothing",
    "empty",
    "none",
    "endpoints",
    "team",
    "missing",
    "matrix",
    "team.lead",
    "endpoints.weight",
    "'42'",
];

/// Differences kept on purpose: (case id, why).
const ALLOWED: &[(&str, &str)] = &[
    (
        "e: $replace(name, 'a', function($m){ $uppercase($m.match) })",
        "a function replacement with a text (not regex) pattern: jsonata-js writes the function's \
         JavaScript source into the result; jsonata-core refuses it (T-error)",
    ),
    (
        "e: $encodeUrl(url)",
        "jsonata-core's $encodeUrl leaves a space as is; jsonata-js (encodeURI) writes %20",
    ),
    (
        "g: $spread(matrix)",
        "$spread of nested lists: jsonata-js flattens them, jsonata-core keeps them",
    ),
    (
        "e: /[/",
        "an invalid regular expression: jsonata-js refuses it (S0302), jsonata-core reads it as empty",
    ),
    (
        "e: $base64decode('my-service')",
        "base64 that does not decode to UTF-8: jsonata-js gives the bytes as Latin-1 text, jsonata-core \
         refuses it",
    ),
    (
        "e: a.(",
        "an expression cut short: jsonata-js says S0203 (expected a token), jsonata-core S0207 (unexpected end); both refuse it",
    ),
    (
        "e: {",
        "an expression cut short: jsonata-js says S0203 (expected a token), jsonata-core S0207 (unexpected end); both refuse it",
    ),
    (
        "e: $f(",
        "an expression cut short: jsonata-js says S0203 (expected a token), jsonata-core S0207 (unexpected end); both refuse it",
    ),
    (
        "e: a[",
        "an expression cut short: jsonata-js says S0203 (expected a token), jsonata-core S0207 (unexpected end); both refuse it",
    ),
    (
        "e: function($x){",
        "an expression cut short: jsonata-js says S0203 (expected a token), jsonata-core S0207 (unexpected end); both refuse it",
    ),
];

/// Every case: {id, expression, data}.
fn cases() -> Vec<Value> {
    let mut out = Vec::new();
    for e in EXPRESSIONS {
        out.push(json!({"id": format!("e: {e}"), "expression": e, "data": document()}));
    }
    for f in FUNCTIONS {
        for field in FIELDS {
            let e = if f.contains('F') {
                f.replace('F', field)
            } else {
                format!("{f}({field})")
            };
            out.push(json!({"id": format!("g: {e}"), "expression": e, "data": document()}));
        }
    }
    // Data that is not an object: a list, a string, a number and nothing.
    for (i, data) in [json!([1, 2, 3]), json!("text"), json!(7), Value::Null]
        .into_iter()
        .enumerate()
    {
        for e in ["$", "$count($)", "$[0]", "$string($)", "$ + 1", "$.length"] {
            out.push(json!({"id": format!("d{i}: {e}"), "expression": e, "data": data}));
        }
    }
    out
}

/// Greenroom's outcome of a case, in the oracle's words: {"ok"}, {"undefined"} or {"err": text}.
async fn greenroom(case: &Value) -> Value {
    let expression = case["expression"].as_str().expect("an expression");
    match jsonata::evaluate(expression, case["data"].clone()).await {
        Ok(Some(v)) => json!({"ok": v}),
        Ok(None) => json!({"undefined": true}),
        Err(e) => json!({"err": e.to_string()}),
    }
}

/// Whether the two outcomes agree: the same value, both undefined, or errors with the same code.
fn agree(ours: &Value, theirs: &Value) -> bool {
    match (ours.get("err"), theirs.get("err")) {
        (Some(a), Some(code)) => code.as_str().is_some_and(|c| {
            a.as_str()
                .is_some_and(|a| a.contains(c) || !c.chars().any(|ch| ch.is_ascii_digit()))
        }),
        (None, None) => {
            ours.get("ok") == theirs.get("ok") && ours.get("undefined") == theirs.get("undefined")
        }
        _ => false,
    }
}

#[tokio::test]
async fn greenroom_evaluates_jsonata_like_npm_jsonata() {
    if js::skip("greenroom_evaluates_jsonata_like_npm_jsonata", false) {
        return;
    }
    let cases = cases();
    let ids: std::collections::BTreeSet<&str> =
        cases.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), cases.len(), "every case has its own id");
    let reference = js::oracle("jsonata-oracle.mjs", &cases).await;
    let (mut differ, mut allowed_hits, mut errors) = (Vec::new(), Vec::new(), 0);
    for case in &cases {
        let id = case["id"].as_str().expect("an id");
        let theirs = reference
            .get(id)
            .unwrap_or_else(|| panic!("no reference for {id}"));
        let ours = greenroom(case).await;
        errors += usize::from(theirs.get("err").is_some());
        if agree(&ours, theirs) {
            continue;
        }
        match ALLOWED.iter().find(|(a, _)| *a == id) {
            Some(_) => allowed_hits.push(id.to_string()),
            None => differ.push(format!("{id}\n  greenroom: {ours}\n  jsonata:   {theirs}")),
        }
    }
    let stale: Vec<_> = ALLOWED
        .iter()
        .filter(|(a, _)| !allowed_hits.iter().any(|h| h == a))
        .collect();
    assert!(
        differ.is_empty() && stale.is_empty(),
        "{} of {} cases differ from npm jsonata:\n{}\nallow-list entries that no longer differ: {stale:?}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
    // The corpus exercises both outcomes.
    assert!(errors > 10 && errors < cases.len() / 2, "{errors} errors");
}
