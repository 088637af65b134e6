//! `catalog.rules`: which entity kinds each location may provide, as Backstage's catalog decides it
//! (global rules, optionally limited to some locations, plus each configured location's own rules;
//! without `catalog.rules`, Backstage's default: Component, API and Location only).

use std::sync::Arc;

use super::model::Entity;

/// An allowed kind (any case), optionally only with one `spec.type` (any case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow {
    pub kind: String,
    pub spec_type: Option<String>,
}

impl Allow {
    /// Any entity of `kind`.
    pub fn kind(kind: &str) -> Self {
        Self {
            kind: kind.to_lowercase(),
            spec_type: None,
        }
    }

    fn matches(&self, e: &Entity) -> bool {
        if !e.kind().eq_ignore_ascii_case(&self.kind) {
            return false;
        }
        match &self.spec_type {
            None => true,
            Some(t) => e
                .spec_str("type")
                .is_some_and(|s| s.eq_ignore_ascii_case(t)),
        }
    }
}

/// Which locations a rule covers: those of `source_type` (`file`, `url`) whose target is `exact`, or
/// matches `pattern` (a glob, any case), or any target when neither is given.
#[derive(Clone, Debug)]
pub struct LocationMatch {
    pub source_type: String,
    pub exact: Option<String>,
    pub pattern: Option<glob::Pattern>,
}

impl LocationMatch {
    fn matches(&self, source_type: &str, target: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: false,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        self.source_type == source_type
            && self.exact.as_deref().is_none_or(|x| x == target)
            && self
                .pattern
                .as_ref()
                .is_none_or(|p| p.matches_with(target, options))
    }
}

/// One rule: these kinds are allowed from these locations (`None`: every location).
#[derive(Clone, Debug)]
pub struct Rule {
    pub allow: Vec<Allow>,
    pub locations: Option<Vec<LocationMatch>>,
}

impl Rule {
    fn covers(&self, source_type: &str, target: &str) -> bool {
        self.locations
            .as_ref()
            .is_none_or(|ls| ls.iter().any(|l| l.matches(source_type, target)))
    }
}

/// The rules of the whole catalog (`catalog.rules`), or none at all (every kind allowed: what
/// `greenroom validate` and a registry built in code read with; the default).
#[derive(Clone, Debug, Default)]
pub enum KindRules {
    Rules(Vec<Rule>),
    #[default]
    AllowAll,
}

impl KindRules {
    /// Backstage's default when `catalog.rules` is absent: Component, API and Location from anywhere.
    pub fn backstage_default() -> Self {
        KindRules::Rules(vec![Rule {
            allow: ["Component", "API", "Location"].map(Allow::kind).to_vec(),
            locations: None,
        }])
    }

    /// The rules a source reads with: these, plus the source's own (a configured location's `rules`).
    pub fn for_source(self: &Arc<Self>, own: &[Allow]) -> SourceRules {
        SourceRules {
            global: self.clone(),
            own: own.to_vec(),
        }
    }
}

/// The rules one source reads with.
#[derive(Clone, Debug)]
pub struct SourceRules {
    global: Arc<KindRules>,
    own: Vec<Allow>,
}

impl SourceRules {
    /// Every kind allowed.
    pub fn allow_all() -> Self {
        Self {
            global: Arc::new(KindRules::AllowAll),
            own: Vec::new(),
        }
    }

    /// Whether `e`, read from the location `location_ref` (`file:/abs/path`, `url:https://…`), may
    /// enter the catalog. The source's own rules cover everything it reads.
    pub fn allows(&self, e: &Entity, location_ref: &str) -> bool {
        let KindRules::Rules(rules) = self.global.as_ref() else {
            return true;
        };
        if self.own.iter().any(|a| a.matches(e)) {
            return true;
        }
        let (source_type, target) = location_ref.split_once(':').unwrap_or(("", location_ref));
        rules
            .iter()
            .any(|r| r.covers(source_type, target) && r.allow.iter().any(|a| a.matches(e)))
    }

    /// The message of an entity these rules refuse.
    pub fn refusal(e: &Entity) -> String {
        format!(
            "kind {} is not allowed from this location (see catalog.rules)",
            e.kind()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(kind: &str, spec_type: Option<&str>) -> Entity {
        let body = json!({"apiVersion": "backstage.io/v1alpha1", "kind": kind,
            "metadata": {"name": "x"}, "spec": {"type": spec_type}});
        let pos = crate::catalog::model::SourcePos {
            file: "x.yaml".into(),
            line: 1,
        };
        crate::catalog::model::Entity {
            entity_ref: crate::catalog::refs::EntityRef::parse(
                &format!("{kind}:x"),
                None,
                "default",
            )
            .unwrap(),
            body,
            status: Vec::new(),
            source: pos,
            doc_hash: None,
        }
    }

    #[test]
    fn the_default_allows_what_backstage_allows() {
        let rules = Arc::new(KindRules::backstage_default()).for_source(&[]);
        for (kind, ok) in [
            ("Component", true),
            ("API", true),
            ("Location", true),
            ("Group", false),
            ("User", false),
            ("Template", false),
        ] {
            assert_eq!(
                rules.allows(&entity(kind, Some("t")), "file:/c/a.yaml"),
                ok,
                "{kind}"
            );
        }
        let own = Arc::new(KindRules::backstage_default()).for_source(&[Allow::kind("group")]);
        assert!(own.allows(&entity("Group", None), "file:/c/org.yaml"));
        assert!(SourceRules::allow_all().allows(&entity("Group", None), "file:/c/a.yaml"));
    }

    #[test]
    fn rules_match_spec_types_and_locations() {
        let rules = Arc::new(KindRules::Rules(vec![
            Rule {
                allow: vec![Allow {
                    kind: "resource".into(),
                    spec_type: Some("database".into()),
                }],
                locations: None,
            },
            Rule {
                allow: vec![Allow::kind("Template")],
                locations: Some(vec![LocationMatch {
                    source_type: "url".into(),
                    exact: None,
                    pattern: Some(
                        glob::Pattern::new("https://git.example/*/templates/*.yaml").unwrap(),
                    ),
                }]),
            },
        ]))
        .for_source(&[]);
        assert!(rules.allows(&entity("Resource", Some("Database")), "file:/a.yaml"));
        assert!(!rules.allows(&entity("Resource", Some("bucket")), "file:/a.yaml"));
        assert!(!rules.allows(&entity("Resource", None), "file:/a.yaml"));
        assert!(rules.allows(
            &entity("Template", None),
            "url:https://GIT.example/org/templates/t.yaml"
        ));
        assert!(!rules.allows(
            &entity("Template", None),
            "url:https://git.example/org/sub/templates/t.yaml"
        ));
        assert!(!rules.allows(
            &entity("Template", None),
            "file:/git.example/org/templates/t.yaml"
        ));
    }
}
