//! `/locations…`: the catalog's sources as Backstage locations (`{id, type, target}`): listing, lookups,
//! and registering / removing them through [`crate::providers::sources`] (as GraphQL does).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use super::write::{body, Write};
use super::{caller, Params, RestError};
use crate::auth::Scope;
use crate::catalog::refs::EntityRef;
use crate::catalog::sources::{self, SourceStatus};
use crate::http::state::AppState;
use crate::providers::sources as service;

pub(super) fn location_json(s: &SourceStatus) -> Value {
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

#[derive(serde::Deserialize)]
pub struct NewLocation {
    #[serde(rename = "type", default = "file_type")]
    source_type: String,
    target: String,
}

fn file_type() -> String {
    "file".into()
}

/// `POST /locations[?dryRun=true]`: 201 with `{location, entities, exists}` (a dry run reports what it
/// would add and whether it exists; a registration answers `entities: []`, as Backstage does). An
/// existing location is a 409 `ConflictError`; what the read policy refuses is a 400 `InputError`.
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    new: Result<Json<NewLocation>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let params = Params::parse(raw.as_deref());
    let dry_run = params
        .one("dryRun")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let on_conflict = params.one("onConflict");
    let target = match &new {
        Ok(Json(n)) => format!("location={}:{} dryRun={dry_run}", n.source_type, n.target),
        Err(_) => format!("dryRun={dry_run}"),
    };
    let write = Write {
        state: &state,
        headers: &headers,
        operation: "registerLocation",
        target,
        scope: Scope::CatalogWrite,
    };
    write
        .run(StatusCode::CREATED, |_| async {
            let new = body(new)?;
            let (db, registry) = (&state.db, &state.sources);
            let (kind, target) = (&new.source_type, &new.target);
            let done = match on_conflict.as_deref() {
                Some("refresh") if !dry_run => {
                    service::register_or_refresh(db, registry, kind, target).await?
                }
                None | Some("reject" | "refresh") => {
                    service::register(db, registry, kind, target, dry_run).await?
                }
                Some(other) => {
                    return Err(RestError::Input(format!(
                        "invalid onConflict '{other}'; use reject or refresh"
                    )))
                }
            };
            let p = &done.preview;
            if dry_run {
                if let Some(first) = p.errors.first() {
                    return Err(RestError::Input(format!(
                        "{} problem(s) reading the location; the first: {first}",
                        p.errors.len()
                    )));
                }
                let entities: Vec<&Value> = p.entities.iter().map(|e| &e.body).collect();
                let id = format!("{}:{}", p.source_type, p.target);
                return Ok(json!({
                    "location": {"id": id, "type": p.source_type, "target": p.target},
                    "entities": entities,
                    "exists": p.exists,
                }));
            }
            let location = done.location.as_ref().map(location_json);
            Ok(json!({"location": location, "entities": []}))
        })
        .await
}

/// `DELETE /locations/{id}`: removes a registered location and the entities only it provided (204).
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let write = Write {
        state: &state,
        headers: &headers,
        operation: "unregisterLocation",
        target: format!("id={id}"),
        scope: Scope::CatalogWrite,
    };
    write
        .run(StatusCode::NO_CONTENT, |_| async {
            service::unregister(&state.db, &id).await?;
            Ok(())
        })
        .await
}

/// `PUT /locations/{id}` with `{type, target}`: points a registered location elsewhere and reads it
/// (200 with the location). A missing id is a 404, a location from the config file or one the read
/// policy refuses a 400, a target another location already has a 409.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    new: Result<Json<NewLocation>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let target = match &new {
        Ok(Json(n)) => format!("id={id} location={}:{}", n.source_type, n.target),
        Err(_) => format!("id={id}"),
    };
    let write = Write {
        state: &state,
        headers: &headers,
        operation: "updateLocation",
        target,
        scope: Scope::CatalogWrite,
    };
    write
        .run(StatusCode::OK, |_| async {
            let new = body(new)?;
            let (db, registry) = (&state.db, &state.sources);
            let updated = service::update(db, registry, &id, &new.source_type, &new.target).await?;
            Ok(location_json(&updated))
        })
        .await
}
