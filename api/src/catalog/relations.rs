//! Spec fields that hold entity references, and the relation pairs they produce (both directions).

use super::model::Entity;
use super::refs::EntityRef;
use serde_json::Value;

pub const OWNED_BY: &str = "ownedBy";
pub const OWNER_OF: &str = "ownerOf";
pub const PART_OF: &str = "partOf";
pub const HAS_PART: &str = "hasPart";
pub const PROVIDES_API: &str = "providesApi";
pub const API_PROVIDED_BY: &str = "apiProvidedBy";
pub const CONSUMES_API: &str = "consumesApi";
pub const API_CONSUMED_BY: &str = "apiConsumedBy";
pub const DEPENDS_ON: &str = "dependsOn";
pub const DEPENDENCY_OF: &str = "dependencyOf";
pub const PARENT_OF: &str = "parentOf";
pub const CHILD_OF: &str = "childOf";
pub const MEMBER_OF: &str = "memberOf";
pub const HAS_MEMBER: &str = "hasMember";

/// A spec field holding one or many entity references.
#[derive(Clone, Copy, Debug)]
pub struct RefField {
    pub key: &'static str,
    pub many: bool,
    pub default_kind: Option<&'static str>,
    /// Relation from the entity to the target, and back.
    pub forward: &'static str,
    pub reverse: &'static str,
}

const fn f(
    key: &'static str,
    many: bool,
    default_kind: Option<&'static str>,
    forward: &'static str,
    reverse: &'static str,
) -> RefField {
    RefField {
        key,
        many,
        default_kind,
        forward,
        reverse,
    }
}

const OWNER: RefField = f("owner", false, Some("group"), OWNED_BY, OWNER_OF);
const SYSTEM: RefField = f("system", false, Some("system"), PART_OF, HAS_PART);
const DEPENDS: RefField = f("dependsOn", true, None, DEPENDS_ON, DEPENDENCY_OF);
const DEPENDENCY: RefField = f("dependencyOf", true, None, DEPENDENCY_OF, DEPENDS_ON);

const COMPONENT: &[RefField] = &[
    OWNER,
    SYSTEM,
    f(
        "subcomponentOf",
        false,
        Some("component"),
        PART_OF,
        HAS_PART,
    ),
    f(
        "providesApis",
        true,
        Some("api"),
        PROVIDES_API,
        API_PROVIDED_BY,
    ),
    f(
        "consumesApis",
        true,
        Some("api"),
        CONSUMES_API,
        API_CONSUMED_BY,
    ),
    DEPENDS,
    DEPENDENCY,
];
const API: &[RefField] = &[OWNER, SYSTEM];
const RESOURCE: &[RefField] = &[OWNER, SYSTEM, DEPENDS, DEPENDENCY];
const SYSTEM_FIELDS: &[RefField] = &[OWNER, f("domain", false, Some("domain"), PART_OF, HAS_PART)];
const DOMAIN: &[RefField] = &[
    OWNER,
    f("subdomainOf", false, Some("domain"), PART_OF, HAS_PART),
];
const GROUP: &[RefField] = &[
    f("parent", false, Some("group"), CHILD_OF, PARENT_OF),
    f("children", true, Some("group"), PARENT_OF, CHILD_OF),
    f("members", true, Some("user"), HAS_MEMBER, MEMBER_OF),
];
const USER: &[RefField] = &[f("memberOf", true, Some("group"), MEMBER_OF, HAS_MEMBER)];
const OWNER_ONLY: &[RefField] = &[OWNER];
const NONE: &[RefField] = &[];

/// The reference-holding spec fields of a kind (case-insensitive). Unknown kinds only get `owner`.
pub fn ref_fields(kind: &str) -> &'static [RefField] {
    match kind.to_ascii_lowercase().as_str() {
        "component" => COMPONENT,
        "api" => API,
        "resource" => RESOURCE,
        "system" => SYSTEM_FIELDS,
        "domain" => DOMAIN,
        "group" => GROUP,
        "user" => USER,
        "location" => NONE,
        _ => OWNER_ONLY,
    }
}

/// One directed relation edge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationEdge {
    pub source: String,
    pub rel_type: &'static str,
    pub target: String,
}

/// Every relation an entity's spec implies, in both directions, deduplicated.
pub fn relations_of(entity: &Entity) -> Vec<RelationEdge> {
    let me = entity.entity_ref.to_string();
    let ns = entity.entity_ref.namespace.as_str();
    let spec = entity.spec();
    let mut out = Vec::new();
    for field in ref_fields(entity.kind()) {
        let targets: Vec<&str> = match spec.get(field.key) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        for t in targets {
            let Ok(target) = EntityRef::parse_spec(t, field.default_kind, ns) else {
                continue;
            };
            let target = target.to_string();
            out.push(RelationEdge {
                source: me.clone(),
                rel_type: field.forward,
                target: target.clone(),
            });
            out.push(RelationEdge {
                source: target,
                rel_type: field.reverse,
                target: me.clone(),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Canonical ref of a single-valued ref field (`owner`, `system`), if present and parseable.
pub fn single_ref(entity: &Entity, key: &str) -> Option<String> {
    let field = ref_fields(entity.kind()).iter().find(|f| f.key == key)?;
    let raw = entity.spec_str(key)?;
    EntityRef::parse_spec(raw, field.default_kind, &entity.entity_ref.namespace)
        .ok()
        .map(|r| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::SourcePos;
    use crate::catalog::validate::validate;
    use serde_json::json;

    #[test]
    fn component_relations_both_ways() {
        let e = validate(
            SourcePos {
                file: "x".into(),
                line: 1,
            },
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                   "metadata": {"name": "svc", "namespace": "ops"},
                   "spec": {"type": "service", "lifecycle": "production", "owner": "team-a",
                            "system": "default/audio", "providesApis": ["petstore"],
                            "dependsOn": ["resource:db"]}}),
            vec![],
        )
        .unwrap();
        let rels = relations_of(&e);
        let has = |s: &str, t: &str, d: &str| {
            rels.iter()
                .any(|r| r.source == s && r.rel_type == t && r.target == d)
        };
        assert!(has("component:ops/svc", OWNED_BY, "group:ops/team-a"));
        assert!(has("group:ops/team-a", OWNER_OF, "component:ops/svc"));
        assert!(has("component:ops/svc", PART_OF, "system:default/audio"));
        assert!(has(
            "api:ops/petstore",
            API_PROVIDED_BY,
            "component:ops/svc"
        ));
        assert!(has("resource:ops/db", DEPENDENCY_OF, "component:ops/svc"));
        assert_eq!(rels.len(), 8);
        assert_eq!(single_ref(&e, "owner").as_deref(), Some("group:ops/team-a"));
    }
}
