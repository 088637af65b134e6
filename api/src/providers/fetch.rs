//! The HTTP client every provider read goes through (url locations and placeholders): connect, read and
//! total timeouts, a size limit, `ETag` / `If-None-Match`, and the read policy's host and redirect rules.
//! A leaf: it knows nothing of walks, placeholders or providers.

use reqwest::header::{CONTENT_LENGTH, ETAG, IF_NONE_MATCH};
use reqwest::{StatusCode, Url};
use std::sync::Arc;
use std::time::Duration;

use super::error::ProviderError;
use crate::confine::Policy;

/// Limits for every HTTP read (locations and placeholders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Largest response body accepted.
    pub max_bytes: usize,
    /// Longest a whole response may take (a server dribbling bytes cannot hold a read).
    pub total_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            max_bytes: 8 << 20,
            total_timeout: Duration::from_secs(60),
        }
    }
}

/// A shared HTTP client with the limits and the read policy applied.
#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    max_bytes: usize,
    policy: Arc<Policy>,
}

impl Default for Fetcher {
    /// Default limits and the default policy (no host beyond those of configured sources: none).
    fn default() -> Self {
        Self::new(HttpLimits::default(), Arc::default())
    }
}

/// The result of a GET.
pub enum Fetched {
    /// `304`: the ETag sent still matches.
    NotModified,
    Body {
        text: String,
        etag: Option<String>,
    },
}

impl Fetcher {
    pub fn new(limits: HttpLimits, policy: Arc<Policy>) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .read_timeout(limits.read_timeout)
            .timeout(limits.total_timeout)
            .user_agent(concat!("greenroom/", env!("CARGO_PKG_VERSION")));
        Self {
            http: policy.client(builder),
            max_bytes: limits.max_bytes,
            policy,
        }
    }

    /// The policy this fetcher (and the readers that hold it) obey.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// GETs `url` (conditionally when `etag` is given) if the policy allows it, refusing bodies over the
    /// size limit.
    pub async fn get(&self, url: &Url, etag: Option<&str>) -> Result<Fetched, ProviderError> {
        self.policy.check_url(url)?;
        let mut req = self.http.get(url.clone());
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        let mut resp = req.send().await.map_err(describe)?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !resp.status().is_success() {
            return Err(ProviderError::Status(resp.status()));
        }
        let too_big = || ProviderError::TooLarge(self.max_bytes);
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_bytes) {
            return Err(too_big());
        }
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body)
            .map_err(|_| ProviderError::Unreadable("response is not UTF-8".into()))?;
        Ok(Fetched::Body { text, etag })
    }
}

/// A stable description (it ends up in entity status, whose content is compared between reads): a
/// connect failure reads the same whether it was refused, unresolved or timed out.
fn describe(e: reqwest::Error) -> ProviderError {
    let unreachable = |text: &str| ProviderError::Unreachable(text.into());
    if e.is_redirect() {
        // The policy's own words (a refused hop names only the URL it was sent to).
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            if c.source().is_none() {
                return unreachable(&crate::confine::mask_text(&c.to_string()));
            }
            cause = c.source();
        }
        return unreachable("redirect refused");
    }
    if e.is_connect() {
        unreachable("cannot connect")
    } else if e.is_timeout() {
        ProviderError::Timeout
    } else if e.is_body() || e.is_decode() {
        unreachable("the response broke off")
    } else {
        // No OS or resolver text: it can name addresses and tell open ports from closed ones.
        unreachable("request failed")
    }
}
