//! `schema.graphql` is exactly what the server serves (built without a database).

#[test]
fn checked_in_sdl_matches_the_server() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let served = api::graphql::schema::sdl();
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != served {
        if std::env::var("UPDATE_SCHEMA").is_ok() {
            std::fs::write(&path, &served).expect("write schema.graphql");
        } else {
            panic!("schema.graphql is out of date: run `cargo run -p api -- schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test)");
        }
    }
}

/// Every type, field, input field and enum value the server serves has a description, so codegen tools
/// and GraphiQL's docs have something to show. Built-in scalars and `__` introspection types are exempt.
#[test]
fn every_type_field_and_enum_value_has_a_description() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    use async_graphql::Positioned;

    const BUILT_IN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];
    let described =
        |d: &Option<Positioned<String>>| d.as_ref().is_some_and(|d| !d.node.trim().is_empty());

    let sdl = api::graphql::schema::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).expect("the served SDL parses");
    let mut missing = Vec::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if name.starts_with("__") || BUILT_IN_SCALARS.contains(&name) {
            continue;
        }
        if !described(&ty.description) {
            missing.push(format!("type {name}"));
        }
        let members: Vec<(&str, &Option<Positioned<String>>)> = match &ty.kind {
            TypeKind::Object(o) => o
                .fields
                .iter()
                .map(|f| (f.node.name.node.as_str(), &f.node.description))
                .collect(),
            TypeKind::Interface(i) => i
                .fields
                .iter()
                .map(|f| (f.node.name.node.as_str(), &f.node.description))
                .collect(),
            TypeKind::InputObject(i) => i
                .fields
                .iter()
                .map(|f| (f.node.name.node.as_str(), &f.node.description))
                .collect(),
            TypeKind::Enum(e) => e
                .values
                .iter()
                .map(|v| (v.node.value.node.as_str(), &v.node.description))
                .collect(),
            TypeKind::Scalar | TypeKind::Union(_) => Vec::new(),
        };
        missing.extend(
            members
                .into_iter()
                .filter(|(_, d)| !described(d))
                .map(|(member, _)| format!("{name}.{member}")),
        );
    }
    assert!(
        missing.is_empty(),
        "{} schema elements have no description (add `///` doc comments or `desc = \"...\"`):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

/// Every argument of every field (objects, interfaces and the root types) and of every custom directive
/// has a description, so GraphiQL and codegen can say what a value means, its default and its bounds.
/// Arguments of the built-in `@include`, `@skip`, `@deprecated`, `@specifiedBy` and `@oneOf` are exempt.
#[test]
fn every_argument_has_a_description() {
    use async_graphql::parser::types::{InputValueDefinition, TypeKind, TypeSystemDefinition};
    use async_graphql::Positioned;

    const BUILT_IN_DIRECTIVES: [&str; 5] =
        ["include", "skip", "deprecated", "specifiedBy", "oneOf"];
    let undescribed = |owner: &str, args: &[Positioned<InputValueDefinition>]| -> Vec<String> {
        args.iter()
            .filter(|a| {
                a.node
                    .description
                    .as_ref()
                    .is_none_or(|d| d.node.trim().is_empty())
            })
            .map(|a| format!("{owner}({}:)", a.node.name.node))
            .collect()
    };

    let sdl = api::graphql::schema::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).expect("the served SDL parses");
    let mut missing = Vec::new();
    let mut checked = 0;
    for def in &doc.definitions {
        match def {
            TypeSystemDefinition::Type(ty) => {
                let ty = &ty.node;
                let name = ty.name.node.as_str();
                if name.starts_with("__") {
                    continue;
                }
                let fields = match &ty.kind {
                    TypeKind::Object(o) => &o.fields,
                    TypeKind::Interface(i) => &i.fields,
                    _ => continue,
                };
                for f in fields {
                    let f = &f.node;
                    checked += f.arguments.len();
                    missing.extend(undescribed(
                        &format!("{name}.{}", f.name.node),
                        &f.arguments,
                    ));
                }
            }
            TypeSystemDefinition::Directive(d) => {
                let d = &d.node;
                if BUILT_IN_DIRECTIVES.contains(&d.name.node.as_str()) {
                    continue;
                }
                checked += d.arguments.len();
                missing.extend(undescribed(&format!("@{}", d.name.node), &d.arguments));
            }
            TypeSystemDefinition::Schema(_) => {}
        }
    }
    assert!(checked > 0, "the SDL walk found no arguments at all");
    assert!(
        missing.is_empty(),
        "{} arguments have no description (add `#[graphql(desc = \"...\")]` to the argument):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}
