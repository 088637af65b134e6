//! `http:backstage:request` (Roadie's): a request to the backend's own APIs as the task's creator. In
//! Greenroom the backend is Greenroom itself: `/api/catalog/…` (or Roadie's plugin form `/catalog/…`)
//! is its Backstage catalog REST API and `/graphql` its GraphQL API, called inside the process through
//! a [`Backend`] the server injects (the request never leaves the process), as the creator with the
//! scopes their token had when they created the task, never more. Any other path fails naming it.

use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{Action, ActionContext, ActionError};
use crate::auth::Caller;

/// A request to the backend: method, path and query (`/api/catalog/entities?filter=…`), headers,
/// body.
pub struct BackendRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The backend's answer.
pub struct BackendResponse {
    pub status: u16,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Greenroom's own APIs, called as `caller` without leaving the process (the server implements it over
/// its router).
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    async fn send(
        &self,
        caller: &Caller,
        request: BackendRequest,
    ) -> Result<BackendResponse, String>;
}

/// Where the server puts its [`Backend`] once its router is built (the registry exists before it).
pub type BackendSlot = Arc<OnceLock<Arc<dyn Backend>>>;

pub struct BackstageRequest {
    backend: BackendSlot,
}

impl BackstageRequest {
    pub fn new(backend: BackendSlot) -> Self {
        Self { backend }
    }
}

/// The methods a dry run sends (it skips the others, as Roadie's dry run does).
const SAFE: [&str; 3] = ["GET", "HEAD", "OPTIONS"];
const METHODS: [&str; 7] = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];
const INPUTS: [&str; 10] = [
    "method",
    "path",
    "headers",
    "params",
    "body",
    "logRequestPath",
    "continueOnBadResponse",
    "timeout",
    "useBackstageToken",
    "idempotencyKey",
];

/// What Greenroom serves of a Backstage backend path: `/api/catalog/…` and `/catalog/…` (Roadie's
/// `/<pluginId>/…`) are the catalog API, `/graphql` and `/api/graphql` the GraphQL API.
pub fn backend_path(path: &str) -> Result<String, ActionError> {
    let (route, query) = match path.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (path, None),
    };
    let trimmed = route.trim_start_matches('/');
    let rest = trimmed.strip_prefix("api/").unwrap_or(trimmed);
    let (plugin, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let refused = || {
        ActionError::Input(format!(
            "input.path '{path}' is not an API Greenroom serves: its backend is the catalog \
             (/api/catalog/…) and /graphql"
        ))
    };
    if tail.split('/').any(|s| s == ".." || s == ".") || path.contains('#') {
        return Err(refused());
    }
    let mapped = match plugin {
        "catalog" => format!("/api/catalog/{tail}"),
        "graphql" if tail.is_empty() => "/graphql".to_string(),
        _ => return Err(refused()),
    };
    Ok(match query {
        Some(q) => format!("{mapped}?{q}"),
        None => mapped,
    })
}

/// A JSON scalar as text (strings as they are), for headers and query parameters.
fn text(key: &str, v: &Value) -> Result<String, ActionError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ActionError::Input(format!(
            "input.{key} values must be strings, numbers or booleans"
        ))),
    }
}

fn entries(cx: &ActionContext, key: &str) -> Result<Vec<(String, String)>, ActionError> {
    match cx.input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), text(key, v)?)))
            .collect(),
        Some(_) => Err(ActionError::Input(format!("input.{key} must be an object"))),
    }
}

fn flag(cx: &ActionContext, key: &str, default: bool) -> Result<bool, ActionError> {
    match cx.input.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ActionError::Input(format!("input.{key} must be a boolean"))),
    }
}

/// The request the step's input describes.
fn request(cx: &ActionContext) -> Result<BackendRequest, ActionError> {
    if let Some(unknown) = cx
        .input
        .as_object()
        .and_then(|m| m.keys().find(|k| !INPUTS.contains(&k.as_str())))
    {
        return Err(ActionError::Input(format!(
            "http:backstage:request has no input '{unknown}' (inputs: {})",
            INPUTS.join(", ")
        )));
    }
    let method = cx.input_str("method")?.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(ActionError::Input(format!(
            "input.method '{method}' is not one of {}",
            METHODS.join(", ")
        )));
    }
    // A dry run sends only the safe methods and, as Roadie's, returns before building the others'
    // request: their path need not be one Greenroom serves (a `/proxy/…` POST is skipped, not refused).
    let raw = cx.input_str("path")?;
    let mut path = if cx.dry_run && !SAFE.contains(&method.as_str()) {
        raw.to_string()
    } else {
        backend_path(raw)?
    };
    let params = entries(cx, "params")?;
    if !params.is_empty() {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(params);
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&query.finish());
    }
    // The request is the creator's by construction: a template's own Authorization is not sent.
    let mut headers: Vec<(String, String)> = entries(cx, "headers")?
        .into_iter()
        .filter(|(k, _)| {
            !["authorization", "host", "content-length"].contains(&k.to_ascii_lowercase().as_str())
        })
        .collect();
    let body = match cx.input.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "application/json".into()));
            }
            other.to_string().into_bytes()
        }
    };
    Ok(BackendRequest {
        method,
        path,
        headers,
        body,
    })
}

/// The response as Roadie's action outputs it: JSON bodies parsed (`application/json`, and here also
/// `…+json` such as GraphQL's `application/graphql-response+json`), others as `{message: text}`.
fn body_of(response: &BackendResponse) -> Result<Value, ActionError> {
    let json = response.headers.iter().any(|(k, v)| {
        k == "content-type" && (v.contains("application/json") || v.contains("+json"))
    });
    if json && !response.body.is_empty() {
        return serde_json::from_slice(&response.body)
            .map_err(|e| ActionError::Failed(format!("could not parse the response body: {e}")));
    }
    Ok(json!({ "message": String::from_utf8_lossy(&response.body) }))
}

#[async_trait::async_trait]
impl Action for BackstageRequest {
    fn id(&self) -> &'static str {
        "http:backstage:request"
    }

    async fn run(&self, cx: &mut ActionContext) -> Result<(), ActionError> {
        let request = request(cx)?;
        let keep_going = flag(cx, "continueOnBadResponse", false)?;
        let shown = if flag(cx, "logRequestPath", true)? {
            format!("{} request against {}", request.method, request.path)
        } else {
            format!("{} request", request.method)
        };
        let timeout = match cx.input.get("timeout") {
            None | Some(Value::Null) => Duration::from_secs(60),
            Some(v) => Duration::from_millis(v.as_u64().ok_or_else(|| {
                ActionError::input("input.timeout must be a number of milliseconds")
            })?),
        };
        if cx.dry_run && !SAFE.contains(&request.method.as_str()) {
            cx.log.log(&format!("dry run: skipped the {shown}")).await;
            return Ok(());
        }
        let backend = self.backend.get().cloned().ok_or_else(|| {
            ActionError::input(
                "http:backstage:request: this server's APIs are not wired to its workers",
            )
        })?;
        cx.log.log(&format!("sending a {shown}")).await;
        let response = tokio::time::timeout(timeout, backend.send(&cx.caller, request))
            .await
            .map_err(|_| ActionError::Failed(format!("the {shown} took longer than {timeout:?}")))?
            .map_err(|e| ActionError::Failed(format!("the {shown} failed: {e}")))?;
        let body = body_of(&response)?;
        let bad = response.status >= 400;
        if bad {
            let message = format!(
                "there was an issue with the {shown}: status {}, body {body}",
                response.status
            );
            if !keep_going {
                return Err(ActionError::Failed(message));
            }
            cx.log.log(&message).await;
        }
        let headers: Map<String, Value> = if bad {
            Map::new() // as Roadie's action: a bad response carries on without its headers
        } else {
            response
                .headers
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        };
        cx.output.insert("code".into(), json!(response.status));
        cx.output.insert("headers".into(), Value::Object(headers));
        cx.output.insert("body".into(), body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_what_greenroom_serves() {
        let ok = |p: &str| backend_path(p).unwrap();
        assert_eq!(
            ok("/api/catalog/entities?filter=kind=component"),
            "/api/catalog/entities?filter=kind=component"
        );
        assert_eq!(
            ok("catalog/entities/by-name/component/default/x"),
            "/api/catalog/entities/by-name/component/default/x"
        );
        assert_eq!(ok("/graphql"), "/graphql");
        assert_eq!(ok("/api/graphql"), "/graphql");
        for bad in [
            "/proxy/snyk/org",
            "/api/scaffolder/v2/tasks",
            "/api/catalog/../x",
            "/graphql/ws",
            "/",
        ] {
            let e = backend_path(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
