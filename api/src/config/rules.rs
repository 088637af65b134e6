//! `catalog.rules` and `catalog.locations[].rules` as written (Backstage's shape), and the domain's
//! [`KindRules`] they build.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::catalog::rules::{Allow, KindRules, LocationMatch, Rule};

/// One entry of `catalog.rules`: the kinds it allows, optionally only from some locations.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub allow: Vec<AllowConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<RuleLocationConfig>>,
}

/// A kind (`Component`), or a kind with one `spec.type` (`{kind: Resource, spec.type: database}`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum AllowConfig {
    Kind(String),
    Typed(TypedAllowConfig),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TypedAllowConfig {
    pub kind: String,
    #[serde(rename = "spec.type", default, skip_serializing_if = "Option::is_none")]
    pub spec_type: Option<String>,
}

/// Which locations a rule covers: a type, and an `exact` target or a glob `pattern` (not both).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleLocationConfig {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// One entry of a location's own `rules`: kinds it may provide.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LocationRuleConfig {
    pub allow: Vec<String>,
}

impl AllowConfig {
    fn build(&self) -> Allow {
        match self {
            AllowConfig::Kind(k) => Allow::kind(k),
            AllowConfig::Typed(t) => Allow {
                kind: t.kind.to_lowercase(),
                spec_type: t.spec_type.as_ref().map(|s| s.to_lowercase()),
            },
        }
    }
}

/// The catalog's rules: `catalog.rules` when given, else Backstage's default (Component, API, Location).
pub fn kind_rules(rules: &Option<Vec<RuleConfig>>) -> Result<KindRules, ConfigError> {
    let Some(rules) = rules else {
        return Ok(KindRules::backstage_default());
    };
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let at = |msg: String| ConfigError::Invalid(format!("catalog.rules[{i}]: {msg}"));
        let locations = match &r.locations {
            None => None,
            Some(ls) => Some(
                ls.iter()
                    .map(|l| location_match(l).map_err(&at))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        out.push(Rule {
            allow: r.allow.iter().map(AllowConfig::build).collect(),
            locations,
        });
    }
    Ok(KindRules::Rules(out))
}

fn location_match(l: &RuleLocationConfig) -> Result<LocationMatch, String> {
    if l.exact.is_some() && l.pattern.is_some() {
        return Err("a rule location cannot have both exact and pattern".into());
    }
    let pattern = l
        .pattern
        .as_deref()
        .map(glob::Pattern::new)
        .transpose()
        .map_err(|e| format!("pattern: {e}"))?;
    let exact = match (l.kind.as_str(), &l.exact) {
        ("file", Some(path)) => Some(absolute(path)),
        (_, exact) => exact.clone(),
    };
    Ok(LocationMatch {
        source_type: l.kind.clone(),
        exact,
        pattern,
    })
}

/// A file target (made relative to the config file when it was loaded) as the providers name the file
/// they read: canonical when it exists, else absolute.
fn absolute(path: &str) -> String {
    let p = std::path::Path::new(path);
    std::fs::canonicalize(p)
        .or_else(|_| std::env::current_dir().map(|d| d.join(p)))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.to_string())
}

/// A location's own rules, as the kinds they allow.
pub fn own_rules(rules: &[LocationRuleConfig]) -> Vec<Allow> {
    rules
        .iter()
        .flat_map(|r| r.allow.iter().map(|k| Allow::kind(k)))
        .collect()
}
