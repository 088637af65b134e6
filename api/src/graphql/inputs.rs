//! Input types: the entity filter and ordering, converted to the catalog's own.

use async_graphql::{Enum, InputObject};

use crate::catalog::search::{Filter, OrderField, Ordering};

/// Filter entities. Lists are any-of; fields are all-of; `and`, `or` and `not` compose filters.
#[derive(InputObject, Default, Clone)]
pub struct EntityFilter {
    /// Kinds, case-insensitive (e.g. `Component`).
    pub kind: Option<Vec<String>>,
    /// Namespaces, case-insensitive (e.g. `default`).
    pub namespace: Option<Vec<String>>,
    /// Owner refs; short forms allowed (`team-a` means `group:default/team-a`).
    pub owner: Option<Vec<String>>,
    /// Lifecycles from `spec.lifecycle`, case-insensitive (e.g. `production`).
    pub lifecycle: Option<Vec<String>>,
    /// Types from `spec.type`, case-insensitive (e.g. `service`).
    #[graphql(name = "type")]
    pub spec_type: Option<Vec<String>>,
    /// Tags from `metadata.tags`, case-insensitive.
    pub tag: Option<Vec<String>>,
    /// System refs; short forms allowed.
    pub system: Option<Vec<String>>,
    /// `key=value` or `key` (present with any value).
    pub label: Option<Vec<String>>,
    /// `key=value` or `key` (present with any value).
    pub annotation: Option<Vec<String>>,
    /// Entities whose status has (or has no) errors.
    pub has_errors: Option<bool>,
    /// Entities matching every one of these filters.
    pub and: Option<Vec<EntityFilter>>,
    /// Entities matching at least one of these filters.
    pub or: Option<Vec<EntityFilter>>,
    /// Entities not matching this filter.
    pub not: Option<Box<EntityFilter>>,
}

impl From<EntityFilter> for Filter {
    fn from(f: EntityFilter) -> Self {
        Filter {
            kind: f.kind.unwrap_or_default(),
            namespace: f.namespace.unwrap_or_default(),
            owner: f.owner.unwrap_or_default(),
            lifecycle: f.lifecycle.unwrap_or_default(),
            spec_type: f.spec_type.unwrap_or_default(),
            tag: f.tag.unwrap_or_default(),
            system: f.system.unwrap_or_default(),
            label: f.label.unwrap_or_default(),
            annotation: f.annotation.unwrap_or_default(),
            has_errors: f.has_errors,
            and: f
                .and
                .unwrap_or_default()
                .into_iter()
                .map(Filter::from)
                .collect(),
            or: f
                .or
                .unwrap_or_default()
                .into_iter()
                .map(Filter::from)
                .collect(),
            not: f.not.map(|n| Box::new(Filter::from(*n))),
        }
    }
}

/// What to sort entities by; ties are broken by ref.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum EntityOrderField {
    /// Canonical ref `kind:namespace/name` (the default).
    #[default]
    Ref,
    /// Entity name (as in the ref), then ref.
    Name,
    /// Kind (as in the ref), then ref.
    Kind,
    /// Word search relevance (needs a `query`): entities with every term in the name first, then in
    /// the name or title, then also in the tags, then anywhere; by name, then ref, within each.
    Relevance,
}

/// How `query` matches text.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum TextMatch {
    /// Words (the default): every whitespace-separated term is a phrase of words in the name, title,
    /// tags or description, its last word a prefix (`pay` finds `payments-api`, `payments-a` too;
    /// `ments` does not). Served by the stores' word indexes; supports `RELEVANCE` and highlights.
    #[default]
    WordPrefix,
    /// Backstage's `fullTextFilter`: every term is a case-insensitive substring (`ments` finds
    /// `payments-api`).
    Substring,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OrderDirection {
    /// Ascending (the default).
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// How to order a page of entities.
#[derive(InputObject, Clone, Default)]
pub struct EntityOrder {
    /// The sort key (default `REF`).
    #[graphql(default)]
    pub field: EntityOrderField,
    /// The sort direction (default `ASC`).
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<EntityOrder> for Ordering {
    fn from(o: EntityOrder) -> Self {
        Ordering {
            field: match o.field {
                EntityOrderField::Ref => OrderField::Ref,
                EntityOrderField::Name => OrderField::Name,
                EntityOrderField::Kind => OrderField::Kind,
                EntityOrderField::Relevance => OrderField::Relevance,
            },
            descending: o.direction == OrderDirection::Desc,
        }
    }
}
