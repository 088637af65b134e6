//! The one table of GraphQL fields resolved through relations: the kinds' relation lists take their
//! relation type from it (at compile time), and `graphql::prefetch` walks it to warm the loaders.

use crate::catalog::relations as rel;

/// GraphQL fields resolved through relations, and the relation type each follows.
pub const RELATION_FIELDS: &[(&str, &str)] = &[
    ("dependsOn", rel::DEPENDS_ON),
    ("dependencyOf", rel::DEPENDENCY_OF),
    ("providesApis", rel::PROVIDES_API),
    ("consumesApis", rel::CONSUMES_API),
    ("providers", rel::API_PROVIDED_BY),
    ("consumers", rel::API_CONSUMED_BY),
    ("components", rel::HAS_PART),
    ("apis", rel::HAS_PART),
    ("resources", rel::HAS_PART),
    ("systems", rel::HAS_PART),
    ("subcomponents", rel::HAS_PART),
    ("subdomains", rel::HAS_PART),
    ("members", rel::HAS_MEMBER),
    ("memberOf", rel::MEMBER_OF),
    ("ownerOf", rel::OWNER_OF),
    ("children", rel::PARENT_OF),
    ("parent", rel::CHILD_OF),
];

/// The relation type the field `name` follows, `name` written as Rust does (`depends_on`) or as GraphQL
/// does (`dependsOn`). Used in `const` items, so a field missing from [`RELATION_FIELDS`] does not compile.
pub const fn relation_of(name: &str) -> &'static str {
    let mut i = 0;
    while i < RELATION_FIELDS.len() {
        let (field, rel_type) = RELATION_FIELDS[i];
        if same_name(name.as_bytes(), field.as_bytes()) {
            return rel_type;
        }
        i += 1;
    }
    panic!("a relation field missing from RELATION_FIELDS")
}

/// Whether `name` (snake or camel case) is the camel-case GraphQL field name `field`.
const fn same_name(name: &[u8], field: &[u8]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < name.len() && j < field.len() {
        let c = if name[i] == b'_' && i + 1 < name.len() {
            i += 1;
            name[i].to_ascii_uppercase()
        } else {
            name[i]
        };
        if c != field[j] {
            return false;
        }
        i += 1;
        j += 1;
    }
    i == name.len() && j == field.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_and_graphql_names_find_the_same_relation() {
        assert_eq!(relation_of("depends_on"), rel::DEPENDS_ON);
        assert_eq!(relation_of("dependsOn"), rel::DEPENDS_ON);
        assert_eq!(relation_of("owner_of"), rel::OWNER_OF);
        assert_eq!(relation_of("children"), rel::PARENT_OF);
        assert!(!same_name(b"depends_o", b"dependsOn"));
        assert!(!same_name(b"dependson", b"dependsOn"));
        assert!(!same_name(b"depends_on_", b"dependsOn"));
    }
}
