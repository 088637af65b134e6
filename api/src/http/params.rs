//! The GraphQL request a `GET /graphql` query string carries: `application/x-www-form-urlencoded` pairs,
//! and `query`, `operationName`, `variables` and `extensions` (the last two as JSON text) from them.

use async_graphql::Request;
use serde_json::json;
use std::collections::HashMap;

/// Why a query string is not a GraphQL request (the text follows `invalid query parameters: `).
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("bad percent-encoding")]
    PercentEncoding,
    #[error("parameters must be UTF-8")]
    NotUtf8,
    #[error("invalid {0}: {1}")]
    Json(&'static str, serde_json::Error),
    #[error("{0} must be a JSON object")]
    NotAnObject(&'static str),
    #[error("{0}")]
    Request(serde_json::Error),
}

/// The GraphQL request in a GET query string: `query`, `operationName`, and `variables` / `extensions` as
/// JSON text.
pub(crate) fn request(params: &HashMap<String, String>) -> Result<Request, ParamError> {
    let json_param = |name: &'static str| -> Result<serde_json::Value, ParamError> {
        match params.get(name).filter(|v| !v.is_empty()) {
            Some(text) => serde_json::from_str(text).map_err(|e| ParamError::Json(name, e)),
            None => Ok(serde_json::Value::Null),
        }
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "query".into(),
        json!(params.get("query").cloned().unwrap_or_default()),
    );
    if let Some(name) = params.get("operationName").filter(|n| !n.is_empty()) {
        body.insert("operationName".into(), json!(name));
    }
    for name in ["variables", "extensions"] {
        let v = json_param(name)?;
        if !v.is_null() {
            if !v.is_object() {
                return Err(ParamError::NotAnObject(name));
            }
            body.insert(name.into(), v);
        }
    }
    serde_json::from_value(serde_json::Value::Object(body)).map_err(ParamError::Request)
}

/// Decodes `application/x-www-form-urlencoded` pairs (a repeated name keeps its last value).
pub(crate) fn pairs(raw: &str) -> Result<HashMap<String, String>, ParamError> {
    let mut out = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k)?, percent_decode(v)?);
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, ParamError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(ParamError::PercentEncoding)?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ParamError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_and_builds_the_request() {
        let p = pairs("query=%7B+a+%7D&variables=%7B%22x%22%3A1%7D&operationName=").unwrap();
        assert_eq!(p["query"], "{ a }");
        let r = request(&p).unwrap();
        assert_eq!(r.query, "{ a }");
        assert!(r.operation_name.is_none());
        assert_eq!(
            pairs("q=%zz").unwrap_err().to_string(),
            "bad percent-encoding"
        );
        assert_eq!(
            pairs("q=%ff").unwrap_err().to_string(),
            "parameters must be UTF-8"
        );
        let list = pairs("query=x&variables=%5B1%5D").unwrap();
        assert_eq!(
            request(&list).unwrap_err().to_string(),
            "variables must be a JSON object"
        );
        let bad = pairs("query=x&extensions=%7B").unwrap();
        assert!(request(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("invalid extensions: "));
    }
}
