//! The spec of each kind Backstage's processors recognise (BuiltinKindsEntityProcessor's kinds and the
//! scaffolder's Template), checked as their JSON schemas check it: which apiVersions a kind accepts, the
//! required fields, and the type of every known field (a `null` is the wrong type).

use serde_json::{Map, Value};

use super::checker::Checker;

/// The apiVersions Backstage's processor for `kind` accepts, when `kind` is a built-in kind (exact case).
pub fn api_versions(kind: &str) -> Option<&'static [&'static str]> {
    const CORE: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];
    match kind {
        "Component" | "API" | "Resource" | "System" | "Domain" | "Group" | "User" | "Location" => {
            Some(CORE)
        }
        "Template" => Some(&["scaffolder.backstage.io/v1beta3"]),
        _ => None,
    }
}

/// Whether `kind` names a built-in kind in another case (`component`): no Backstage processor takes it.
pub fn miscased_builtin(kind: &str) -> Option<&'static str> {
    [
        "Component",
        "API",
        "Resource",
        "System",
        "Domain",
        "Group",
        "User",
        "Location",
        "Template",
    ]
    .into_iter()
    .find(|k| *k != kind && k.eq_ignore_ascii_case(kind))
}

/// What a field must hold.
#[derive(Clone, Copy)]
enum T {
    /// A string of at least one character.
    Str,
    /// Any string.
    AnyStr,
    /// A string or a boolean (a Template's `if`/`when`).
    StrOrBool,
    /// A list of strings of at least one character each.
    StrList,
    /// Any mapping.
    Map,
}

fn check(c: &mut Checker, path: &str, v: &Value, t: T) {
    let ok = match t {
        T::Str => matches!(v, Value::String(s) if !s.is_empty()),
        T::AnyStr => v.is_string(),
        T::StrOrBool => v.is_string() || v.is_boolean(),
        T::Map => v.is_object(),
        T::StrList => match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(c, &format!("{path}[{i}]"), item, T::Str);
                }
                true
            }
            _ => false,
        },
    };
    if !ok {
        let what = match (t, v) {
            (T::Str, Value::String(_)) => "must not be empty",
            (T::Str | T::AnyStr, _) => "must be a string",
            (T::StrOrBool, _) => "must be a string or a boolean",
            (T::StrList, _) => "must be a list of strings",
            (T::Map, _) => "must be a mapping",
        };
        c.err(path, what);
    }
}

/// Checks the listed fields of `map` (at `path`); `required` ones must be present.
fn fields(
    c: &mut Checker,
    map: &Map<String, Value>,
    path: &str,
    required: &[&str],
    all: &[(&str, T)],
) {
    for key in required {
        if !map.contains_key(*key) {
            c.err(format!("{path}.{key}"), "is required");
        }
    }
    for (key, t) in all {
        if let Some(v) = map.get(*key) {
            check(c, &format!("{path}.{key}"), v, *t);
        }
    }
}

/// A mapping at `map[key]`, when present, checked by `inner`.
fn nested(
    c: &mut Checker,
    map: &Map<String, Value>,
    path: &str,
    key: &str,
    inner: impl FnOnce(&mut Checker, &Map<String, Value>, &str),
) {
    let path = format!("{path}.{key}");
    match map.get(key) {
        None => {}
        Some(Value::Object(m)) => inner(c, m, &path),
        Some(_) => c.err(path, "must be a mapping"),
    }
}

/// A list of mappings at `map[key]`, when present, each checked by `inner`.
fn list_of_maps(
    c: &mut Checker,
    map: &Map<String, Value>,
    path: &str,
    key: &str,
    inner: impl Fn(&mut Checker, &Map<String, Value>, &str),
) {
    let path = format!("{path}.{key}");
    match map.get(key) {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(m) => inner(c, m, &format!("{path}[{i}]")),
                    _ => c.err(format!("{path}[{i}]"), "must be a mapping"),
                }
            }
        }
        Some(_) => c.err(path, "must be a list"),
    }
}

fn profile(c: &mut Checker, spec: &Map<String, Value>) {
    nested(c, spec, "spec", "profile", |c, p, path| {
        fields(
            c,
            p,
            path,
            &[],
            &[
                ("displayName", T::Str),
                ("email", T::Str),
                ("picture", T::Str),
            ],
        );
    });
}

fn permissions(c: &mut Checker, map: &Map<String, Value>, path: &str) {
    nested(c, map, path, "backstage:permissions", |c, p, path| {
        if let Some(tags) = p.get("tags") {
            match tags.as_array() {
                Some(items) => {
                    for (i, t) in items.iter().enumerate() {
                        check(c, &format!("{path}.tags[{i}]"), t, T::AnyStr);
                    }
                }
                None => c.err(format!("{path}.tags"), "must be a list of strings"),
            }
        }
    });
}

/// A kind's spec checked by its field list alone: (kind, required fields, the type of each known field).
type KindFields = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, T)],
);

/// The spec fields of the built-in kinds (an `API` of type `mcp-server` and a `Template` are checked
/// apart: see [`check_spec`]).
const KIND_FIELDS: &[KindFields] = {
    use T::*;
    &[
        (
            "Component",
            &["type", "lifecycle", "owner"],
            &[
                ("type", Str),
                ("lifecycle", Str),
                ("owner", Str),
                ("system", Str),
                ("subcomponentOf", Str),
                ("providesApis", StrList),
                ("consumesApis", StrList),
                ("dependsOn", StrList),
            ],
        ),
        (
            "API",
            &["type", "lifecycle", "owner", "definition"],
            &[
                ("type", Str),
                ("lifecycle", Str),
                ("owner", Str),
                ("system", Str),
                ("definition", Str),
            ],
        ),
        (
            "Resource",
            &["type", "owner"],
            &[
                ("type", Str),
                ("owner", Str),
                ("dependsOn", StrList),
                ("system", Str),
            ],
        ),
        (
            "System",
            &["owner"],
            &[("owner", Str), ("domain", Str), ("type", Str)],
        ),
        (
            "Domain",
            &["owner"],
            &[("owner", Str), ("subdomainOf", Str), ("type", Str)],
        ),
        (
            "Group",
            &["type", "children"],
            &[
                ("type", Str),
                ("parent", Str),
                ("children", StrList),
                ("members", StrList),
            ],
        ),
        ("User", &["memberOf"], &[("memberOf", StrList)]),
        (
            "Location",
            &[],
            &[("type", Str), ("target", Str), ("targets", StrList)],
        ),
    ]
};

/// Checks the spec of a built-in `kind` (whose apiVersion matched).
pub fn check_spec(c: &mut Checker, kind: &str, spec: &Map<String, Value>) {
    match kind {
        "API" if spec.get("type").and_then(Value::as_str) == Some("mcp-server") => {
            return mcp_server(c, spec)
        }
        "Template" => return template(c, spec),
        _ => {}
    }
    if let Some((_, required, typed)) = KIND_FIELDS.iter().find(|(k, _, _)| *k == kind) {
        fields(c, spec, "spec", required, typed);
    }
    match kind {
        "Group" | "User" => profile(c, spec),
        "Location" => {
            if let Some(p) = spec.get("presence") {
                if !matches!(p.as_str(), Some("required" | "optional")) {
                    c.err("spec.presence", "must be 'required' or 'optional'");
                }
            }
        }
        _ => {}
    }
}

/// The spec of an `API` of type `mcp-server`: its `remotes` instead of a definition.
fn mcp_server(c: &mut Checker, spec: &Map<String, Value>) {
    use T::*;
    let s = "spec";
    fields(
        c,
        spec,
        s,
        &["type", "lifecycle", "owner", "remotes"],
        &[("lifecycle", Str), ("owner", Str), ("system", Str)],
    );
    match spec.get("remotes") {
        Some(Value::Array(items)) if items.is_empty() => {
            c.err("spec.remotes", "must list at least one remote")
        }
        Some(Value::Array(_)) => list_of_maps(c, spec, s, "remotes", |c, r, path| {
            fields(c, r, path, &["type", "url"], &[("type", Str), ("url", Str)]);
        }),
        Some(_) => c.err("spec.remotes", "must be a list"),
        None => {}
    }
}

/// A Template's spec: parameters, steps, secrets, presentation, recovery, form decorators, output.
fn template(c: &mut Checker, spec: &Map<String, Value>) {
    use T::*;
    fields(
        c,
        spec,
        "spec",
        &["type", "steps"],
        &[("type", Str), ("owner", Str), ("lifecycle", Str)],
    );
    template_parameters_and_steps(c, spec);
    nested(c, spec, "spec", "secrets", |c, m, path| {
        fields(c, m, path, &[], &[("schema", Map)])
    });
    nested(c, spec, "spec", "presentation", |c, m, path| {
        nested(c, m, path, "buttonLabels", |c, b, path| {
            fields(
                c,
                b,
                path,
                &[],
                &[
                    ("backButtonText", AnyStr),
                    ("createButtonText", AnyStr),
                    ("reviewButtonText", AnyStr),
                ],
            );
        });
    });
    nested(c, spec, "spec", "EXPERIMENTAL_recovery", |c, m, path| {
        fields(c, m, path, &[], &[("EXPERIMENTAL_strategy", AnyStr)]);
    });
    for key in ["formDecorators", "EXPERIMENTAL_formDecorators"] {
        list_of_maps(c, spec, "spec", key, |c, d, path| {
            fields(c, d, path, &[], &[("id", AnyStr), ("input", Map)]);
        });
    }
    nested(c, spec, "spec", "output", template_output);
}

/// A Template's `parameters` (a mapping or a list of them) and `steps`.
fn template_parameters_and_steps(c: &mut Checker, spec: &Map<String, Value>) {
    use T::*;
    match spec.get("parameters") {
        None => {}
        Some(Value::Object(p)) => permissions(c, p, "spec.parameters"),
        Some(Value::Array(_)) => list_of_maps(c, spec, "spec", "parameters", |c, p, path| {
            fields(c, p, path, &[], &[("when", StrOrBool)]);
            permissions(c, p, path);
        }),
        Some(_) => c.err("spec.parameters", "must be a mapping or a list of mappings"),
    }
    match spec.get("steps") {
        Some(Value::Array(_)) => list_of_maps(c, spec, "spec", "steps", |c, st, path| {
            fields(
                c,
                st,
                path,
                &["action"],
                &[
                    ("id", AnyStr),
                    ("name", AnyStr),
                    ("action", AnyStr),
                    ("input", Map),
                    ("if", StrOrBool),
                ],
            );
            permissions(c, st, path);
        }),
        Some(_) => c.err("spec.steps", "must be a list"),
        None => {}
    }
}

/// A Template's `output`: `links`, `text`, and string values.
fn template_output(c: &mut Checker, out: &Map<String, Value>, path: &str) {
    use T::*;
    list_of_maps(c, out, path, "links", |c, l, path| {
        fields(
            c,
            l,
            path,
            &[],
            &[
                ("if", StrOrBool),
                ("url", Str),
                ("entityRef", Str),
                ("title", Str),
                ("icon", Str),
            ],
        );
    });
    list_of_maps(c, out, path, "text", |c, t, path| {
        fields(
            c,
            t,
            path,
            &[],
            &[
                ("if", StrOrBool),
                ("title", Str),
                ("icon", Str),
                ("content", AnyStr),
            ],
        );
    });
    for (k, v) in out {
        if k != "links" && k != "text" && !v.is_string() {
            c.err(format!("{path}.{k}"), "must be a string");
        }
    }
}
