//! The ownership policy for writes that touch an entity: with `auth.policy.ownership`, a subject may
//! change an entity only when its owner group is in the token's `groups` claim, or the subject's User
//! entity is a member of that group. `admin` bypasses it.

use sea_orm::DatabaseConnection;

use super::{AuthError, Caller, Scope};
use crate::catalog::store;

/// `Ok` when `caller` may write to the entity `entity_ref` under the ownership policy.
pub async fn check_owner(
    db: &DatabaseConnection,
    caller: &Caller,
    entity_ref: &str,
) -> Result<(), AuthError> {
    if caller.has(Scope::Admin) {
        return Ok(());
    }
    let internal = |e: crate::catalog::CatalogError| AuthError::Internal(e.to_string());
    let found = store::entities_by_refs(db, &[entity_ref.to_string()])
        .await
        .map_err(internal)?;
    let Some(owner) = found.first().and_then(|e| e.owner_ref.clone()) else {
        return Err(AuthError::Forbidden(format!(
            "{entity_ref} has no owner; only admin may change it"
        )));
    };
    if caller.groups.iter().any(|g| g.eq_ignore_ascii_case(&owner)) {
        return Ok(());
    }
    let user = crate::catalog::refs::EntityRef::parse_full(&caller.subject)
        .map(|r| r.to_string())
        .unwrap_or_default();
    let memberships = store::relations_from(db, &[(user, "memberOf".to_string())])
        .await
        .map_err(internal)?;
    if memberships
        .iter()
        .any(|r| r.target_ref.eq_ignore_ascii_case(&owner))
    {
        return Ok(());
    }
    Err(AuthError::Forbidden(format!(
        "{} is not a member of {owner}, which owns {entity_ref}",
        caller.subject
    )))
}

/// With the ownership policy on (`ownership`: `auth.policy.ownership`), `Ok` only when `caller` may
/// write to the entity `entity_ref`; with it off, always `Ok`. Both transports call this.
pub async fn enforce(
    db: &DatabaseConnection,
    ownership: bool,
    caller: &Caller,
    entity_ref: &str,
) -> Result<(), AuthError> {
    if ownership {
        check_owner(db, caller, entity_ref).await?;
    }
    Ok(())
}
