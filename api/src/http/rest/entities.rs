//! `/entities…` and `/entity-facets`: listing (`filter`, `fields`, `limit`, `offset`, `order`), queries
//! with cursors (`by-query`), lookups by uid, name and refs, ancestry and facets; removing one by uid.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use super::{caller, Params, RestError};
use crate::auth::Scope;
use crate::catalog::backstage::filter::EntityFilter;
use crate::catalog::backstage::query::{self, Cursor, Loaded, Position, SortField, Spec};
use crate::catalog::backstage::{ancestry, view};
use crate::catalog::refs::EntityRef;
use crate::http::state::AppState;

/// `items` as Backstage serialises them, with only `fields` kept; `generation` is the read cache's,
/// taken before the items were read (so their renderings may be kept).
fn render(
    state: &AppState,
    generation: u64,
    items: &[Loaded],
    fields: &view::Fields,
) -> Vec<view::Raw> {
    view::render_all(&state.cache, generation, items, fields)
}

/// `order=asc:metadata.name` (GET /entities): only the first directive is used.
fn legacy_order(params: &Params, spec: &mut Spec) -> Result<(), RestError> {
    if let Some(o) = params.one("order") {
        let (dir, field) = o.split_once(':').unwrap_or(("asc", o.as_str()));
        spec.sort = SortField::parse(field)?;
        spec.descending = dir.eq_ignore_ascii_case("desc");
    }
    Ok(())
}

/// `GET /entities`: every matching entity (or `limit` of them from `offset` / `after`), as an array.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<view::Raw>>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let generation = state.cache.generation();
    let params = Params::parse(raw.as_deref());
    let mut spec = Spec {
        filter: params.all("filter"),
        ..Spec::default()
    };
    legacy_order(&params, &mut spec)?;
    let fields = view::Fields::parse(&params.all("fields"));
    let offset = params.number("offset")?.unwrap_or(0);
    let position = match params.one("after") {
        Some(a) => Cursor::decode(&a)?.position,
        None => Position::Start,
    };
    let items = match params.number("limit")? {
        Some(limit) => {
            query::page(
                &state.db,
                &state.cache,
                &spec,
                &position,
                limit.min(query::MAX_LIMIT),
                offset,
            )
            .await?
            .items
        }
        None => query::all(&state.db, &state.cache, &spec, position, offset).await?,
    };
    Ok(Json(render(&state, generation, &items, &fields)))
}

/// The spec, position and offset of a `by-query` request (a cursor carries the first two).
fn query_spec(params: &Params) -> Result<(Spec, Position, u64), RestError> {
    if let Some(c) = params.one("cursor") {
        let cursor = Cursor::decode(&c)?;
        return Ok((cursor.spec, cursor.position, 0));
    }
    let mut spec = Spec {
        filter: params.all("filter"),
        text: params
            .one("fullTextFilterTerm")
            .map(|t| t.trim().to_string()),
        ..Spec::default()
    };
    if let Some(o) = params.all("orderField").first() {
        let (field, dir) = o.split_once(',').unwrap_or((o.as_str(), "asc"));
        spec.sort = SortField::parse(field)?;
        spec.descending = match dir.trim().to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(RestError::Input(format!(
                    "invalid order '{other}'; use asc or desc"
                )))
            }
        };
    }
    EntityFilter::parse(&spec.filter)?;
    Ok((spec, Position::Start, params.number("offset")?.unwrap_or(0)))
}

/// `GET /entities/by-query`: one page, `totalItems`, and cursors to the next and previous pages.
pub async fn by_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<PageBody>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let params = Params::parse(raw.as_deref());
    let (spec, position, offset) = query_spec(&params)?;
    let limit = params.number("limit")?.unwrap_or(query::DEFAULT_LIMIT);
    let fields = view::Fields::parse(&params.all("fields"));
    let total = params.one("totalItems").as_deref() != Some("exclude");
    let request = PageRequest {
        spec,
        position,
        offset,
        limit,
        total,
    };
    Ok(Json(page_body(&state, request, &fields).await?))
}

/// One `by-query` page to answer (GET with parameters, POST with a predicate body).
pub struct PageRequest {
    pub spec: Spec,
    pub position: Position,
    pub offset: u64,
    pub limit: u64,
    /// Whether to count `totalItems`.
    pub total: bool,
}

/// The `by-query` response (keys in Backstage's order).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageBody {
    items: Vec<view::Raw>,
    page_info: PageInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_items: Option<u64>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_cursor: Option<String>,
}

/// The `by-query` response: the page's items, `totalItems` and cursors to the next and previous pages.
pub async fn page_body(
    state: &AppState,
    r: PageRequest,
    fields: &view::Fields,
) -> Result<PageBody, RestError> {
    let PageRequest {
        spec,
        position,
        offset,
        limit,
        total,
    } = r;
    let limit = limit.min(query::MAX_LIMIT);
    let generation = state.cache.generation();
    let page = query::page(&state.db, &state.cache, &spec, &position, limit, offset).await?;
    let key = |i: Option<&Loaded>| i.map(|(e, _)| query::key_of(e, spec.sort));
    let (first, last) = (key(page.items.first()), key(page.items.last()));
    let backwards = matches!(position, Position::Before(..));
    let cursor = |p: Position| {
        Cursor {
            spec: spec.clone(),
            position: p,
        }
        .encode()
    };
    // Forward pages have more after them when `more`; a backward page always has the page it came from.
    let next = match (&last, backwards || page.more) {
        (Some((v, r)), true) => Some(cursor(Position::After(v.clone(), r.clone()))),
        _ => None,
    };
    let has_prev = if backwards {
        page.more
    } else {
        !matches!(position, Position::Start) || offset > 0
    };
    let prev = match (&first, has_prev) {
        (Some((v, r)), true) => Some(cursor(Position::Before(v.clone(), r.clone()))),
        _ => None,
    };
    let total_items = match total {
        true => Some(query::count(&state.db, &state.cache, &spec).await?),
        false => None,
    };
    Ok(PageBody {
        items: render(state, generation, &page.items, fields),
        page_info: PageInfo {
            next_cursor: next,
            prev_cursor: prev,
        },
        total_items,
    })
}

/// `GET /entities/by-uid/{uid}`.
pub async fn by_uid(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    match query::by_uid(&state.db, &state.cache, &uid).await? {
        Some((e, rels)) => Ok(Json(view::entity_json(&e, &rels))),
        None => Err(RestError::NotFound(format!("No entity with uid {uid}"))),
    }
}

/// `DELETE /entities/by-uid/{uid}`: removes the entity (204; its source provides it again at its next
/// read if it still has it), under the ownership policy.
pub async fn remove_by_uid(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> axum::response::Response {
    let write = super::write::Write {
        state: &state,
        headers: &headers,
        operation: "removeEntity",
        target: format!("uid={uid}"),
        scope: Scope::CatalogWrite,
    };
    let (db, ownership) = (state.db.clone(), state.auth.ownership_policy);
    write
        .run(axum::http::StatusCode::NO_CONTENT, |caller| async move {
            crate::providers::sources::remove_entity(&db, ownership, &caller, &uid).await?;
            Ok(())
        })
        .await
}

/// The stored entity named by a path, or Backstage's 404.
async fn named(
    state: &AppState,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Loaded, RestError> {
    let r = EntityRef::new(kind, namespace, name).to_string();
    query::load(&state.db, &state.cache, &[r])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            RestError::NotFound(format!(
                "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            ))
        })
}

/// `GET /entities/by-name/{kind}/{namespace}/{name}`.
pub async fn by_name(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<view::Raw>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let generation = state.cache.generation();
    let loaded = named(&state, &kind, &namespace, &name).await?;
    let none = view::Fields::default();
    let mut one = render(&state, generation, std::slice::from_ref(&loaded), &none);
    one.pop()
        .map(Json)
        .ok_or_else(|| RestError::NotFound(format!("No entity named '{name}'")))
}

/// `GET /entities/by-name/{kind}/{namespace}/{name}/ancestry`: the entity and the Location entities
/// that led to it, with each one's parents.
pub async fn ancestry(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let start = named(&state, &kind, &namespace, &name).await?;
    let chain = ancestry::of(&state.db, &state.cache, start).await?;
    let items: Vec<Value> = chain
        .iter()
        .map(|(loaded, parents)| {
            json!({"entity": view::entity_json(&loaded.0, &loaded.1), "parentEntityRefs": parents})
        })
        .collect();
    let root = chain
        .iter()
        .rev()
        .find(|(_, parents)| parents.is_empty())
        .map(|(l, _)| l.0.entity_ref.clone());
    Ok(Json(json!({"rootEntityRef": root, "items": items})))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ByRefs {
    entity_refs: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

/// `POST /entities/by-refs`: `{items}` in request order, `null` for refs that are missing or do not
/// match the `filter` parameters.
pub async fn by_refs(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Json<ByRefs>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let Json(body) =
        body.map_err(|e| RestError::Input(format!("invalid request body: {}", e.body_text())))?;
    if body.entity_refs.len() > 10_000 {
        return Err(RestError::Input(
            "at most 10000 entityRefs per request".into(),
        ));
    }
    let params = Params::parse(raw.as_deref());
    let filter = EntityFilter::parse(&params.all("filter"))?;
    let fields = view::Fields::parse(&body.fields);
    let refs = body
        .entity_refs
        .iter()
        .map(|r| EntityRef::parse_full(r).map(|r| r.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RestError::Input(e.to_string()))?;
    let loaded = query::load(&state.db, &state.cache, &refs).await?;
    let by_ref: std::collections::HashMap<&str, &Loaded> = loaded
        .iter()
        .map(|l| (l.0.entity_ref.as_str(), l))
        .collect();
    let items: Vec<Value> = refs
        .iter()
        .map(|r| match by_ref.get(r.as_str()) {
            Some((e, rels)) if filter.matches(e, rels) => fields.apply(view::entity_json(e, rels)),
            _ => Value::Null,
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /entity-facets?facet=kind&filter=…`: `{facets: {field: [{value, count}]}}`.
pub async fn facets(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, RestError> {
    caller(&state, &headers, Scope::CatalogRead).await?;
    let params = Params::parse(raw.as_deref());
    let facets = params.all("facet");
    if facets.is_empty() {
        return Err(RestError::Input("at least one facet is required".into()));
    }
    let spec = Spec {
        filter: params.all("filter"),
        ..Spec::default()
    };
    Ok(Json(facets_body(&state, &spec, &facets).await?))
}

/// `{facets: {field: [{value, count}]}}` for the entities matching `spec`.
pub async fn facets_body(
    state: &AppState,
    spec: &Spec,
    facets: &[String],
) -> Result<Value, RestError> {
    let counts = query::facet_counts(&state.db, &state.cache, spec, facets).await?;
    let out: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(f, list)| {
            let list: Vec<Value> = list
                .into_iter()
                .map(|(value, count)| json!({"value": value, "count": count}))
                .collect();
            (f, Value::Array(list))
        })
        .collect();
    Ok(json!({ "facets": out }))
}
