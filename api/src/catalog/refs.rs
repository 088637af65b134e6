//! Entity references: `[kind:][namespace/]name`, parsed case-insensitively into canonical `kind:namespace/name`.

use std::fmt;

pub const DEFAULT_NAMESPACE: &str = "default";

/// A canonical (lowercase) entity reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefError {
    #[error("entity reference is empty")]
    Empty,
    #[error("entity reference '{0}' has no kind and none can be inferred")]
    MissingKind(String),
    #[error("entity reference '{0}' is malformed")]
    Malformed(String),
}

impl EntityRef {
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_ascii_lowercase(),
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        }
    }

    /// Parses `[kind:][namespace/]name`, filling in `default_kind` and `default_namespace`.
    pub fn parse(
        input: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<Self, RefError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(RefError::Empty);
        }
        let (kind, rest) = match s.split_once(':') {
            Some((k, r)) => (Some(k), r),
            None => (None, s),
        };
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, rest),
        };
        let kind = match kind.or(default_kind) {
            Some(k) => k,
            None => return Err(RefError::MissingKind(s.to_string())),
        };
        let namespace = namespace.unwrap_or(default_namespace);
        let bad = |part: &str| {
            part.is_empty() || part.contains([':', '/']) || part.chars().any(char::is_whitespace)
        };
        if bad(kind) || bad(namespace) || bad(name) {
            return Err(RefError::Malformed(s.to_string()));
        }
        Ok(Self::new(kind, namespace, name))
    }

    /// Parses a full ref as a client would send it: kind required, namespace defaults to `default`.
    pub fn parse_full(input: &str) -> Result<Self, RefError> {
        Self::parse(input, None, DEFAULT_NAMESPACE)
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_and_full_forms() {
        let r = EntityRef::parse("team-a", Some("Group"), "default").unwrap();
        assert_eq!(r.to_string(), "group:default/team-a");
        let r = EntityRef::parse("Component:Ops/Petstore", None, "default").unwrap();
        assert_eq!(r.to_string(), "component:ops/petstore");
        let r = EntityRef::parse("prod/db", Some("resource"), "x").unwrap();
        assert_eq!(r.to_string(), "resource:prod/db");
        let r = EntityRef::parse("user:jdoe", Some("group"), "ns").unwrap();
        assert_eq!(r.to_string(), "user:ns/jdoe");
    }

    #[test]
    fn rejects_bad_refs() {
        assert_eq!(EntityRef::parse_full(""), Err(RefError::Empty));
        assert!(matches!(
            EntityRef::parse_full("petstore"),
            Err(RefError::MissingKind(_))
        ));
        assert!(matches!(
            EntityRef::parse_full("a:b/c/d"),
            Err(RefError::Malformed(_))
        ));
        assert!(matches!(
            EntityRef::parse_full("component:/x"),
            Err(RefError::Malformed(_))
        ));
        assert!(matches!(
            EntityRef::parse_full("component:a b"),
            Err(RefError::Malformed(_))
        ));
    }
}
