//! Backstage identity fields: `metadata.uid` (a UUID derived from the entity ref, so it stays the same
//! across updates and replicas) and `metadata.etag` (a digest of what is stored, so it changes on every
//! update); and the start-up fill of `uid` for rows written before the column existed.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use sha2::{Digest, Sha256};

use super::CatalogError;
use entity::entities;

/// The `metadata.uid` of the entity `entity_ref` (canonical, lowercase): a UUID (version 8, RFC 9562)
/// made of the first bytes of the ref's SHA-256.
pub fn entity_uid(entity_ref: &str) -> String {
    let digest = Sha256::digest(entity_ref.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The `metadata.etag` of a stored entity: changes whenever its document, status or relations change.
pub fn etag(hash: &str, derived_hash: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(hash.as_bytes());
    h.update([0]);
    h.update(derived_hash.unwrap_or_default().as_bytes());
    format!("{:x}", h.finalize())[..32].to_string()
}

/// Fills `uid` for rows that have none (written before the column existed); returns how many.
pub async fn fill_missing(db: &impl ConnectionTrait) -> Result<usize, CatalogError> {
    let mut filled = 0;
    loop {
        let refs: Vec<String> = entities::Entity::find()
            .select_only()
            .column(entities::Column::EntityRef)
            .filter(entities::Column::Uid.is_null())
            .limit(500)
            .into_tuple()
            .all(db)
            .await?;
        if refs.is_empty() {
            return Ok(filled);
        }
        for r in &refs {
            entities::Entity::update_many()
                .col_expr(entities::Column::Uid, Expr::value(entity_uid(r)))
                .filter(entities::Column::EntityRef.eq(r.as_str()))
                .exec(db)
                .await?;
        }
        filled += refs.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_stable_distinct_uuids() {
        let a = entity_uid("component:default/a");
        assert_eq!(a, entity_uid("component:default/a"));
        assert_ne!(a, entity_uid("component:default/b"));
        assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
    }

    #[test]
    fn etags_change_with_either_digest() {
        let e = etag("h1", Some("d1"));
        assert_ne!(e, etag("h2", Some("d1")));
        assert_ne!(e, etag("h1", Some("d2")));
    }
}
