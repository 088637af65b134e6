//! `POST /entities/by-query`, `POST /entity-facets` and `POST /locations/by-query`: the predicate forms of
//! the entity query, of facets and of the location list (`{query: {$all: [...]}, ...}`), as
//! `@backstage/catalog-client`'s `queryEntities({query})`, `getEntityFacets({query})` and
//! `queryLocations` send them.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entities::{facets_body, page_body, PageRequest};
use super::{caller, RestError};
use crate::auth::Scope;
use crate::catalog::backstage::predicate::Predicate;
use crate::catalog::backstage::query::{self, Cursor, Position, SortField, Spec};
use crate::catalog::backstage::view;
use crate::catalog::sources;
use crate::http::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueryBody {
    query: Option<Value>,
    limit: Option<u64>,
    offset: Option<u64>,
    #[serde(default)]
    order_by: Vec<OrderBy>,
    full_text_filter: Option<FullText>,
    #[serde(default)]
    fields: Vec<String>,
    total_items: Option<Value>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBy {
    field: String,
    #[serde(default)]
    order: Option<String>,
}

#[derive(Deserialize)]
struct FullText {
    term: Option<String>,
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, RestError> {
    b.map(|Json(b)| b)
        .map_err(|e| RestError::Input(format!("invalid request body: {}", e.body_text())))
}

fn predicate(query: Option<Value>) -> Result<Option<Value>, RestError> {
    match query {
        None => Ok(None),
        Some(q) => Ok(Some(Predicate::parse(&q)?.as_json().clone())),
    }
}

/// The listing a body asks for: its cursor's, or the one its fields describe.
fn spec_of(b: QueryBody) -> Result<(PageRequest, Vec<String>), RestError> {
    let limit = b.limit.unwrap_or(query::DEFAULT_LIMIT);
    let total = !matches!(&b.total_items, Some(Value::Bool(false)))
        && b.total_items.as_ref().and_then(Value::as_str) != Some("exclude");
    if let Some(c) = &b.cursor {
        let cursor = Cursor::decode(c)?;
        let request = PageRequest {
            spec: cursor.spec,
            position: cursor.position,
            offset: 0,
            limit,
            total,
        };
        return Ok((request, b.fields));
    }
    let mut spec = Spec {
        predicate: predicate(b.query)?,
        text: b
            .full_text_filter
            .and_then(|f| f.term)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
        ..Spec::default()
    };
    if let Some(o) = b.order_by.first() {
        spec.sort = SortField::parse(&o.field)?;
        spec.descending = match o.order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(RestError::Input(format!(
                    "invalid order '{other}'; use asc or desc"
                )))
            }
        };
    }
    let request = PageRequest {
        spec,
        position: Position::Start,
        offset: b.offset.unwrap_or(0),
        limit,
        total,
    };
    Ok((request, b.fields))
}

/// `POST /entities/by-query`: a page of the entities matching the predicate, as `GET` answers it.
pub async fn query_entities(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Json<QueryBody>, JsonRejection>,
) -> Result<Json<super::entities::PageBody>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let (request, fields) = spec_of(body(b)?)?;
    let fields = view::Fields::parse(&fields);
    Ok(Json(page_body(&state, request, &fields).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacetsBody {
    facets: Vec<String>,
    query: Option<Value>,
}

/// `POST /entity-facets` (`{facets, query}`): facet counts over the entities matching the predicate.
pub async fn query_facets(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Json<FacetsBody>, JsonRejection>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let b = body(b)?;
    if b.facets.is_empty() {
        return Err(RestError::Input("at least one facet is required".into()));
    }
    let spec = Spec {
        predicate: predicate(b.query)?,
        ..Spec::default()
    };
    Ok(Json(facets_body(&state, &spec, &b.facets).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationsBody {
    limit: Option<u64>,
    query: Option<Value>,
    cursor: Option<String>,
}

/// Where a `queryLocations` page starts; the next page's cursor carries the query and page size.
#[derive(Serialize, Deserialize)]
struct LocationsCursor {
    query: Option<Value>,
    limit: u64,
    offset: u64,
}

/// `POST /locations/by-query` (`{limit, query}` or `{cursor}`): a page of the registered and configured
/// locations (`{id, type, target}`) matching the predicate, in id order, with `totalItems`.
pub async fn query_locations(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Json<LocationsBody>, JsonRejection>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let b = body(b)?;
    let at = match b.cursor {
        Some(c) => STANDARD
            .decode(c.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<LocationsCursor>(&bytes).ok())
            .ok_or_else(|| RestError::Input("invalid cursor".into()))?,
        None => LocationsCursor {
            query: predicate(b.query)?,
            limit: b.limit.unwrap_or(query::DEFAULT_LIMIT),
            offset: 0,
        },
    };
    let filter = at.query.as_ref().map(Predicate::parse).transpose()?;
    let limit = at.limit.clamp(1, query::MAX_LIMIT) as usize;
    let matching: Vec<Value> = sources::list(&state.db)
        .await?
        .iter()
        .map(super::locations::location_json)
        .filter(|l| filter.as_ref().is_none_or(|p| p.matches(l)))
        .collect();
    let total = matching.len();
    let start = (at.offset as usize).min(total);
    let end = (start + limit).min(total);
    let mut page = serde_json::json!({
        "items": &matching[start..end],
        "totalItems": total,
        "pageInfo": {},
    });
    if end < total {
        let next = LocationsCursor {
            query: at.query,
            limit: at.limit,
            offset: end as u64,
        };
        page["pageInfo"]["nextCursor"] =
            Value::String(STANDARD.encode(serde_json::to_vec(&next).unwrap_or_default()));
    }
    Ok(Json(page))
}
