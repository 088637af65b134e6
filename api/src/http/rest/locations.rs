//! `/locations…`: the catalog's sources as Backstage locations (`{id, type, target}`).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::{caller, RestError};
use crate::auth::Scope;
use crate::catalog::refs::EntityRef;
use crate::catalog::sources::{self, SourceStatus};
use crate::server::AppState;

fn location_json(s: &SourceStatus) -> Value {
    json!({"id": s.id.to_string(), "type": s.source_type, "target": s.target})
}

/// `GET /locations`: `[{data: location}]`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Value>>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let all = sources::list(&state.db).await?;
    Ok(Json(
        all.iter()
            .map(|s| json!({ "data": location_json(s) }))
            .collect(),
    ))
}

/// `GET /locations/{id}`.
pub async fn by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let missing = || RestError::NotFound(format!("Found no location with ID {id}"));
    let n: i32 = id.trim().parse().map_err(|_| missing())?;
    let found = sources::by_id(&state.db, n).await?.ok_or_else(missing)?;
    Ok(Json(location_json(&found)))
}

/// `GET /locations/by-entity/{kind}/{namespace}/{name}`: the location that provides the entity.
pub async fn by_entity(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let r = EntityRef::new(&kind, &namespace, &name).to_string();
    match sources::of_entity(&state.db, &r).await? {
        Some(s) => Ok(Json(location_json(&s))),
        None => Err(RestError::NotFound(format!(
            "No location found for entity {r}"
        ))),
    }
}
