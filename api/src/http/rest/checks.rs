//! `POST /refresh`, `POST /validate-entity` and `POST /analyze-location`: re-reading an entity's source
//! now (a write, audited as `refreshEntity`), validating an entity document as ingestion would, and
//! reading a location through the policy to report which entities it holds.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::write::{body, Write};
use super::{caller, RestError};
use crate::auth::Scope;
use crate::catalog::model::SourcePos;
use crate::catalog::sources;
use crate::http::state::AppState;
use crate::providers::sources as service;

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    entity_ref: String,
}

/// `POST /refresh` (`{entityRef}`): re-reads the source that provides the entity (200).
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: JsonBody<RefreshRequest>,
) -> Response {
    let target = match &req {
        Ok(Json(r)) => format!("entityRef={}", r.entity_ref),
        Err(_) => String::new(),
    };
    let write = Write {
        state: &state,
        headers: &headers,
        operation: "refreshEntity",
        target,
        scope: Scope::CatalogWrite,
    };
    let (db, registry) = (state.db.clone(), state.sources.clone());
    let ownership = state.auth.ownership_policy;
    write
        .run(StatusCode::OK, |caller| async move {
            let req = body(req)?;
            service::refresh_now(&db, &registry, ownership, &caller, &req.entity_ref).await?;
            Ok(json!({}))
        })
        .await
}

#[derive(serde::Deserialize)]
pub struct ValidateRequest {
    entity: Value,
    location: String,
}

/// `POST /validate-entity` (`{entity, location}`): 200 `{errors: []}` when the entity is valid; 400
/// `{errors: [{name, message}]}` with every problem (as Backstage serialises its errors) when not.
pub async fn validate_entity(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: JsonBody<ValidateRequest>,
) -> Result<Response, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let req = body(req)?;
    let location_ok = req
        .location
        .split_once(':')
        .is_some_and(|(t, rest)| !t.is_empty() && !rest.is_empty());
    if !location_ok {
        return Err(RestError::Input(format!(
            "invalid location ref '{}'; expected type:target",
            req.location
        )));
    }
    let pos = SourcePos {
        file: "request".into(),
        line: 1,
    };
    match crate::catalog::validate::validate(pos, req.entity, Vec::new()) {
        Ok(_) => Ok(Json(json!({"errors": []})).into_response()),
        Err(invalid) => {
            let errors: Vec<Value> = invalid
                .errors
                .iter()
                .map(|e| {
                    json!({"name": "InputError", "message": format!("{}: {}: {}", invalid.entity, e.field, e.message)})
                })
                .collect();
            Ok((StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response())
        }
    }
}

#[derive(serde::Deserialize)]
pub struct AnalyzeRequest {
    location: LocationSpec,
}

#[derive(serde::Deserialize)]
pub struct LocationSpec {
    #[serde(rename = "type", default = "file_type")]
    source_type: String,
    target: String,
}

fn file_type() -> String {
    "file".into()
}

/// `POST /analyze-location` (`{location: {type, target}}`): reads the location through the read policy
/// (as a dry-run registration does, so it needs `catalog:write`) and answers `existingEntityFiles` with
/// each valid entity it holds and whether the location is registered. Greenroom does not generate
/// entities for repositories that have none: `generateEntities` is always empty.
pub async fn analyze_location(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: JsonBody<AnalyzeRequest>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogWrite).await?;
    let req = body(req)?;
    let (p, _) = service::preview(
        &state.db,
        &state.sources,
        &req.location.source_type,
        &req.location.target,
    )
    .await?;
    let registered = p.exists && sources::exists(&state.db, &p.key).await?;
    let location = json!({"type": p.source_type, "target": p.target});
    let files: Vec<Value> = p
        .entities
        .iter()
        .map(|e| json!({"location": location, "isRegistered": registered, "entity": e.body}))
        .collect();
    Ok(Json(
        json!({"existingEntityFiles": files, "generateEntities": []}),
    ))
}
