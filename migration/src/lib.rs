//! Database migrations: append-only, portable between SQLite and PostgreSQL; imports no `entity`.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_catalog;
mod m20261125_000002_leases;
mod m20261125_000003_location_status;
mod m20261125_000004_source_cursor;
mod m20261125_000005_entity_digests;
mod m20261125_000006_auth;
mod m20261125_000007_deployments;
mod m20261126_000008_scaffolder;
mod m20261126_000009_task_pinning;
mod m20261127_000010_entity_uid;
mod m20261201_000011_text_search;
mod m20261201_000012_kind_name_index;
mod m20261201_000013_facet_counts;
mod m20261201_000014_word_search;
mod m20261201_000015_filter_indexes;

pub use m20261201_000013_facet_counts::REBUILD_MARKER as FACET_REBUILD_MARKER;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_catalog::Migration),
            Box::new(m20261125_000002_leases::Migration),
            Box::new(m20261125_000003_location_status::Migration),
            Box::new(m20261125_000004_source_cursor::Migration),
            Box::new(m20261125_000005_entity_digests::Migration),
            Box::new(m20261125_000006_auth::Migration),
            Box::new(m20261125_000007_deployments::Migration),
            Box::new(m20261126_000008_scaffolder::Migration),
            Box::new(m20261126_000009_task_pinning::Migration),
            Box::new(m20261127_000010_entity_uid::Migration),
            Box::new(m20261201_000011_text_search::Migration),
            Box::new(m20261201_000012_kind_name_index::Migration),
            Box::new(m20261201_000013_facet_counts::Migration),
            Box::new(m20261201_000014_word_search::Migration),
            Box::new(m20261201_000015_filter_indexes::Migration),
        ]
    }
}
