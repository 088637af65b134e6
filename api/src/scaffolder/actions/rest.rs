//! The REST client of the publish actions (`publish:github*`, `publish:gitlab*`): one HTTP client per
//! action whose every connection goes through the read policy with the configured integration hosts
//! allowed, calls authorised by one token, and error texts that never carry that token.

use reqwest::{Method, Url};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use crate::confine::Policy;

/// A policy with the integrations' hosts allowed, and an HTTP client that obeys it.
pub struct Client {
    pub policy: Arc<Policy>,
    http: reqwest::Client,
}

impl Client {
    /// `policy` with each of `hosts` (`host[:port]`) and the host of each of `urls` allowed.
    pub fn new<'a>(
        policy: &Policy,
        hosts: impl IntoIterator<Item = &'a str>,
        urls: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut policy = policy.clone();
        for h in hosts {
            // The configuration refuses hosts that are not host[:port]; a bad one is simply not allowed.
            let _ = policy.allow_host(h);
        }
        for u in urls {
            policy.allow_host_of(u);
        }
        let policy = Arc::new(policy);
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("greenroom/", env!("CARGO_PKG_VERSION")));
        Self {
            http: policy.client(builder),
            policy,
        }
    }
}

/// Calls to one REST API (`base`) with one token, sent in the header `auth` (name, value).
pub struct Api<'a> {
    pub client: &'a Client,
    pub base: &'a str,
    pub token: &'a str,
    pub auth: (&'static str, String),
    /// Further headers every call sends (an `accept`, an API version).
    pub headers: &'static [(&'static str, &'static str)],
}

impl Api<'_> {
    /// `method path` with `body`; the response's JSON, or an error with the server's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let shown = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let url = Url::parse(&format!("{}{path}", self.base.trim_end_matches('/')))
            .map_err(|_| format!("{shown}: not a URL"))?;
        self.client
            .policy
            .check_url(&url)
            .map_err(|e| self.scrub(&e.to_string()))?;
        let mut req = self
            .client
            .http
            .request(method, url)
            .header(self.auth.0, &self.auth.1);
        for (k, v) in self.headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out"
            } else {
                "cannot connect"
            };
            format!("{shown}: {why}")
        })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|_| format!("{shown}: cannot read the response"))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = message_of(&value)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        Err(self.scrub(&format!("{shown}: HTTP {} {message}", status.as_u16())))
    }

    /// `text` without the token (and without credentials in URLs).
    pub fn scrub(&self, text: &str) -> String {
        let text = if self.token.is_empty() {
            text.to_string()
        } else {
            text.replace(self.token, "********")
        };
        crate::confine::mask_text(&text)
    }
}

/// The error message of a GitHub (`message`) or GitLab (`message` as text or per-field object, `error`)
/// error body.
fn message_of(value: &Value) -> Option<String> {
    match (&value["message"], &value["error"]) {
        (Value::String(m), _) => Some(m.clone()),
        (Value::Object(_) | Value::Array(_), _) => Some(value["message"].to_string()),
        (_, Value::String(e)) => Some(e.clone()),
        _ => None,
    }
}

/// A path segment with everything but unreserved characters percent-encoded (GitLab's `group%2Fproject`).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string value, form-encoded.
pub fn query(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_of_both_apis_are_read() {
        assert_eq!(
            message_of(&json!({"message": "Bad credentials"})).as_deref(),
            Some("Bad credentials")
        );
        assert_eq!(
            message_of(&json!({"message": {"name": ["has already been taken"]}})).as_deref(),
            Some(r#"{"name":["has already been taken"]}"#)
        );
        assert_eq!(
            message_of(&json!({"error": "invalid_token"})).as_deref(),
            Some("invalid_token")
        );
        assert_eq!(message_of(&Value::Null), None);
    }

    #[test]
    fn segments_and_queries_are_encoded() {
        assert_eq!(segment("group/sub-1"), "group%2Fsub-1");
        assert_eq!(query("a b&c"), "a+b%26c");
    }
}
