//! Public GraphQL types: the `Entity` interface and one object per kind (`Node` is in `node`).

mod common;
pub mod fields;
pub mod graph;
pub mod highlight;
mod kinds;
pub mod lists;
mod org;
mod values;

use async_graphql::{Interface, ID};
use std::sync::Arc;

use crate::catalog::store::StoredEntity;
pub(crate) use common::spec_ref;
pub use kinds::{Api, Component, Domain, GenericEntity, Location, Resource, System, Template};
pub use org::{Group, User};
pub use values::{EntityStatus, KeyValue, Link, Profile, Relation, StatusItem};

/// Global ID of an entity: base64url of `Entity:<ref>` (see `ids`).
pub fn node_id(entity_ref: &str) -> ID {
    super::ids::encode(super::ids::Kind::Entity, entity_ref)
}

/// An enum with one variant per entity kind (and any `extra` variants), and `from_stored`: the
/// `Entity` interface here, and `Node` (with the other types that have a global ID) in `graphql::node`.
macro_rules! entity_enum {
    ($(#[$m:meta])* $name:ident $(; $($extra:ident($ety:ident)),* $(,)?)?) => {
        $(#[$m])*
        pub enum $name {
            Component(Component),
            Api(Api),
            Resource(Resource),
            System(System),
            Domain(Domain),
            Group(Group),
            User(User),
            Location(Location),
            Template(Template),
            GenericEntity(GenericEntity),
            $($($extra($ety),)*)?
        }

        impl $name {
            pub fn from_stored(e: Arc<StoredEntity>) -> Self {
                match e.kind.as_str() {
                    "component" => Self::Component(Component(e)),
                    "api" => Self::Api(Api(e)),
                    "resource" => Self::Resource(Resource(e)),
                    "system" => Self::System(System(e)),
                    "domain" => Self::Domain(Domain(e)),
                    "group" => Self::Group(Group(e)),
                    "user" => Self::User(User(e)),
                    "location" => Self::Location(Location(e)),
                    "template" => Self::Template(Template(e)),
                    _ => Self::GenericEntity(GenericEntity(e)),
                }
            }
        }
    };
}

pub(crate) use entity_enum;

entity_enum!(
    /// A catalog entity of any kind (Backstage envelope: apiVersion, kind, metadata, spec).
    #[derive(Interface)]
    #[graphql(
        name = "Entity",
        field(name = "id", ty = "ID", desc = "Opaque global ID of the entity, accepted by `node(id:)`."),
        field(name = "ref", ty = "String", method = "entity_ref", desc = "Canonical reference `kind:namespace/name` (lowercase)."),
        field(name = "kind", ty = "String", desc = "The kind as written, e.g. `Component`."),
        field(name = "apiVersion", ty = "String", method = "api_version", desc = "The document's `apiVersion`, e.g. `backstage.io/v1alpha1` (empty when absent)."),
        field(name = "namespace", ty = "String", desc = "The namespace from `metadata.namespace`, or the ref's namespace when absent."),
        field(name = "name", ty = "String", desc = "The name from `metadata.name` as written, or the ref's name when absent."),
        field(name = "title", ty = "Option<String>", desc = "Display title from `metadata.title`."),
        field(name = "description", ty = "Option<String>", desc = "Human-readable description from `metadata.description`."),
        field(name = "tags", ty = "Vec<String>", desc = "Tags from `metadata.tags`."),
        field(name = "labels", ty = "Vec<KeyValue>", desc = "Labels from `metadata.labels`, as key/value pairs."),
        field(name = "annotations", ty = "Vec<KeyValue>", desc = "Annotations from `metadata.annotations`, as key/value pairs."),
        field(name = "links", ty = "Vec<Link>", desc = "Links from `metadata.links` (entries without a `url` are left out)."),
        field(name = "spec", ty = "async_graphql::Json<serde_json::Value>", desc = "The raw `spec` as JSON."),
        field(name = "owner", ty = "Option<Entity>", desc = "The owning Group or User (null when absent or not in the catalog)."),
        field(
            name = "relations",
            ty = "Vec<Relation>",
            desc = "Outgoing relations, optionally of one type (e.g. `ownedBy`, `dependsOn`): at most `first` (default `server.limits.defaultListSize`, at most 500).",
            arg(name = "type", ty = "Option<String>", desc = "Only relations of this type, any case (e.g. `ownedBy`, `dependsOn`); all types when absent."),
            arg(name = "first", ty = "Option<i32>", desc = "At most this many (1 to 500; default `server.limits.defaultListSize`).")
        ),
        field(name = "status", ty = "EntityStatus", desc = "The entity's status: its status items and whether any is an error."),
        field(
            name = "graph",
            ty = "crate::graphql::types::graph::EntityGraph",
            desc = "The subgraph reached from this entity, breadth first, each entity once.",
            arg(name = "direction", ty = "Option<crate::graphql::types::graph::GraphDirection>", default_with = "Some(crate::graphql::types::graph::GraphDirection::Outgoing)", desc = "Which way to follow `relations` (default `OUTGOING`)."),
            arg(name = "relations", ty = "Option<Vec<String>>", desc = "Relation types to follow, any case: at least one (default dependsOn, consumesApi, providesApi, partOf)."),
            arg(name = "max_depth", ty = "Option<i32>", default = 3, desc = "Most steps from this entity (0 to 10; default 3)."),
            arg(name = "kinds", ty = "Option<Vec<String>>", desc = "Only reach and walk through entities of these kinds, any case (default: all kinds); this entity is always included."),
            arg(name = "first", ty = "Option<i32>", default = 5000, desc = "Most nodes, this entity included (1 to 5000; default 5000); `truncated` says when some were left out.")
        )
    )]
    Entity
);
