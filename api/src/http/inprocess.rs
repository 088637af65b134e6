//! Greenroom's own API called from inside the process (the scaffolder's `http:backstage:request`): the
//! request goes through the server's own router, as a given caller, never over the network. The caller
//! travels in a task-local that only [`InProcess::send`] sets, so no request from outside can claim one.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request};
use axum::Router;

use crate::auth::Caller;
use crate::scaffolder::actions::backstage_request::{Backend, BackendRequest, BackendResponse};

/// Most bytes of a response kept for the action.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

tokio::task_local! {
    static ACTING: Caller;
}

/// The caller of an in-process request being handled (`None` for every request from the network).
pub fn acting() -> Option<Caller> {
    ACTING.try_with(Caller::clone).ok()
}

/// The server's router as a [`Backend`].
pub struct InProcess {
    router: Router,
}

impl InProcess {
    pub fn new(router: Router) -> Self {
        Self { router }
    }
}

fn request(r: BackendRequest) -> Result<Request<Body>, String> {
    let method = Method::from_bytes(r.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = Request::builder()
        .method(method)
        .uri(&r.path)
        .body(Body::from(r.body))
        .map_err(|e| format!("'{}': {e}", r.path))?;
    let headers = req.headers_mut();
    for (k, v) in r.headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("header '{k}'"))?;
        let value = HeaderValue::from_str(&v).map_err(|_| format!("header '{k}' value"))?;
        headers.append(name, value);
    }
    // Addressed to this machine, as a dev-mode server requires.
    headers.insert(header::HOST, HeaderValue::from_static("localhost"));
    Ok(req)
}

#[async_trait::async_trait]
impl Backend for InProcess {
    async fn send(
        &self,
        caller: &Caller,
        request: BackendRequest,
    ) -> Result<BackendResponse, String> {
        use tower_service::Service;
        let req = self::request(request)?;
        let mut router = self.router.clone();
        let resp = ACTING
            .scope(caller.clone(), async move { router.call(req).await })
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = axum::body::to_bytes(resp.into_body(), MAX_RESPONSE_BYTES)
            .await
            .map_err(|_| format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"))?;
        Ok(BackendResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}
