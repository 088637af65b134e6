//! Global object IDs and page cursors: one opaque encoding, `base64url("<Type>:<key>")`, so an ID names
//! its type and no two objects of any types share one (Relay's and Apollo's stores key on it).

use async_graphql::ID;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use super::errors::{ApiError, GqlResultExt};

/// The GraphQL types that implement `Node`, as their IDs name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A catalog entity; the key is its ref.
    Entity,
    /// A deployment; the key is its row id.
    Deployment,
    /// A catalog source; the key is its row id.
    LocationSource,
    /// A scaffolder task; the key is its id.
    Task,
    /// A task's step; the key is `<task id>#<index>` (step ids may repeat).
    TaskStep,
    /// A template's step; the key is `<template ref>#<index>`.
    TemplateStep,
    /// An entry of a task's log; the key is its row id.
    TaskEvent,
    /// An audit log entry; the key is its row id.
    AuditEntry,
}

const KINDS: [Kind; 8] = [
    Kind::Entity,
    Kind::Deployment,
    Kind::LocationSource,
    Kind::Task,
    Kind::TaskStep,
    Kind::TemplateStep,
    Kind::TaskEvent,
    Kind::AuditEntry,
];

impl Kind {
    /// The type's name, as the ID carries it (and as error messages say it).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Entity => "Entity",
            Kind::Deployment => "Deployment",
            Kind::LocationSource => "LocationSource",
            Kind::Task => "Task",
            Kind::TaskStep => "TaskStep",
            Kind::TemplateStep => "TemplateStep",
            Kind::TaskEvent => "TaskEvent",
            Kind::AuditEntry => "AuditEntry",
        }
    }
}

/// The separator of a two-part key: refs, task ids and step ids never hold it.
pub const PART: char = '#';

/// The global ID of the object `key` of type `kind`.
pub fn encode(kind: Kind, key: &str) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{key}", kind.name())))
}

/// The type and key inside a global ID, if it is one.
pub fn decode(id: &str) -> Option<(Kind, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (name, key) = text.split_once(':')?;
    let kind = KINDS.into_iter().find(|k| k.name() == name)?;
    (!key.is_empty()).then(|| (kind, key.to_string()))
}

/// The key of `id`, which must be a global ID of type `kind` (a `BAD_USER_INPUT` otherwise).
pub fn expect(id: &str, kind: Kind) -> async_graphql::Result<String> {
    match decode(id) {
        Some((k, key)) if k == kind => Ok(key),
        _ => Err(ApiError::BadUserInput(format!(
            "'{id}' is not the ID of a {}",
            kind.name()
        )))
        .gql(),
    }
}

/// A numeric key of `id` (deployments, sources, events and audit entries are row ids).
pub fn expect_number(id: &str, kind: Kind) -> async_graphql::Result<i64> {
    expect(id, kind)?
        .parse()
        .map_err(|_| ApiError::BadUserInput(format!("'{id}' is not the ID of a {}", kind.name())))
        .gql()
}

/// A two-part key: the owner's key and the step's index.
pub fn pair(owner: &str, step: &str) -> String {
    format!("{owner}{PART}{step}")
}

/// A page cursor over `kind` at `key`: opaque like an ID, and never mistaken for one.
pub fn cursor(kind: Kind, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{}:{key}", kind.name()))
}

/// The key inside a cursor made by [`cursor`] for `kind` (a `BAD_USER_INPUT` otherwise).
pub fn from_cursor(c: &str, kind: Kind) -> async_graphql::Result<String> {
    let bad = || ApiError::BadUserInput(format!("'{c}' is not a {} cursor", kind.name()));
    let text = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    text.strip_prefix("cursor:")
        .and_then(|t| t.strip_prefix(kind.name()))
        .and_then(|t| t.strip_prefix(':'))
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .ok_or_else(bad)
        .gql()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_name_their_type() {
        for kind in KINDS {
            let id = encode(kind, "42");
            assert_eq!(decode(&id), Some((kind, "42".to_string())));
            assert_eq!(expect(&id, kind).ok().as_deref(), Some("42"));
            for other in KINDS.into_iter().filter(|o| *o != kind) {
                assert_ne!(encode(other, "42"), id, "{kind:?} and {other:?} collide");
                assert!(expect(&id, other).is_err());
            }
        }
        let step = encode(Kind::TaskStep, &pair("t-1", "0"));
        assert_eq!(decode(&step).map(|d| d.1).as_deref(), Some("t-1#0"));
    }

    #[test]
    fn what_is_not_an_id_is_refused() {
        for bad in ["", "42", "!!", "RGVwbG95bWVudDo", "Tm9wZTox"] {
            // "Deployment:" (no key) and "Nope:1" (no such type) among them.
            assert_eq!(decode(bad), None, "{bad}");
        }
        let e = expect_number(&encode(Kind::Deployment, "x"), Kind::Deployment).unwrap_err();
        assert!(
            e.message.contains("is not the ID of a Deployment"),
            "{}",
            e.message
        );
    }

    #[test]
    fn cursors_are_not_ids() {
        let c = cursor(Kind::Deployment, "7");
        assert_eq!(decode(&c), None);
        assert_eq!(from_cursor(&c, Kind::Deployment).ok().as_deref(), Some("7"));
        assert!(from_cursor(&c, Kind::Task).is_err());
        assert!(from_cursor(&encode(Kind::Deployment, "7"), Kind::Deployment).is_err());
    }
}
