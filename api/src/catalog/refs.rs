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

    /// Parses a ref written in an entity's spec as Backstage's `parseEntityRef` does: the first `:` ends
    /// the kind unless a `/` comes before it, the first `/` ends the namespace, and the rest (which may hold
    /// `:`, `/` or spaces) is the name; only an empty part is refused.
    pub fn parse_spec(
        input: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<Self, RefError> {
        if input.is_empty() {
            return Err(RefError::Empty);
        }
        let slash = input.find('/');
        let colon = input.find(':').filter(|c| slash.is_none_or(|s| s > *c));
        let kind = colon.map(|c| &input[..c]);
        let after_kind = colon.map_or(0, |c| c + 1);
        let namespace = slash.map(|s| &input[after_kind..s]);
        let name = &input[slash.map_or(after_kind, |s| s + 1).max(after_kind)..];
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(RefError::Malformed(input.to_string()));
        }
        let Some(kind) = kind.or(default_kind) else {
            return Err(RefError::MissingKind(input.to_string()));
        };
        Ok(Self::new(
            kind,
            namespace.unwrap_or(default_namespace),
            name,
        ))
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
    fn spec_refs_parse_as_backstage_parses_them() {
        let p = |s| EntityRef::parse_spec(s, Some("Group"), "ns").map(|r| r.to_string());
        assert_eq!(p("team a").unwrap(), "group:ns/team a");
        assert_eq!(p("component:my db").unwrap(), "component:ns/my db");
        assert_eq!(p("a:b:c").unwrap(), "a:ns/b:c");
        assert_eq!(p("a/b/c").unwrap(), "group:a/b/c");
        assert_eq!(p("ops/x:y").unwrap(), "group:ops/x:y");
        for bad in ["", "group:", ":x", "a:/x", "ns/"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            EntityRef::parse_spec("x", None, "default"),
            Err(RefError::MissingKind(_))
        ));
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
