//! `url` locations: YAML over HTTP(S) read through the shared [`Fetcher`](super::fetch::Fetcher) (its
//! timeouts, size limit and `ETag` / `If-None-Match`), with relative targets resolved against the URL.

use reqwest::Url;
use tokio::sync::mpsc;

use super::error::ProviderError;
use super::place::{http_url, Place};
use super::placeholders::PlaceholderResolver;
use super::walk::{Batch, Scope, Walker};
use super::{Cursor, Provider, ReadEnd};

/// The key a URL location is stored under (credentials masked: keys show in metrics and logs).
pub fn url_location_key(url: &Url) -> String {
    format!("url:{}", crate::confine::mask_userinfo(url.as_str()))
}

/// Parses a `url` location target (http or https only).
pub fn parse_target(target: &str) -> Result<Url, ProviderError> {
    let url = Url::parse(target)
        .map_err(|e| ProviderError::Target(format!("'{target}' is not a URL: {e}")))?;
    http_url(url)
}

/// A YAML file served over HTTP(S), with the locations it points at.
pub struct UrlProvider {
    key: String,
    target: String,
    url: Url,
    resolver: PlaceholderResolver,
}

impl UrlProvider {
    /// Uses `key` as the source's stored key.
    pub fn set_key(&mut self, key: &str) {
        self.key = key.to_string();
    }

    /// A configured location (its host is allowed by the configuration that names it).
    pub fn new(target: &str, resolver: PlaceholderResolver) -> Result<Self, ProviderError> {
        let url = parse_target(target)?;
        Ok(Self {
            key: url_location_key(&url),
            target: crate::confine::mask_userinfo(target),
            url,
            resolver,
        })
    }

    /// A location registered at run time: no credentials in the URL, and a host the policy allows.
    pub fn registered(target: &str, resolver: PlaceholderResolver) -> Result<Self, ProviderError> {
        let url = parse_target(target)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(crate::confine::Refused::Credentials(url_location_key(&url)).into());
        }
        resolver.policy().check_url(&url)?;
        Self::new(target, resolver)
    }
}

#[async_trait::async_trait]
impl Provider for UrlProvider {
    fn key(&self) -> &str {
        &self.key
    }
    fn source_type(&self) -> &'static str {
        "url"
    }
    fn target(&self) -> &str {
        &self.target
    }
    async fn read(
        &self,
        previous: Cursor,
        out: mpsc::Sender<Batch>,
    ) -> Result<ReadEnd, ProviderError> {
        let scope = Scope {
            root: None,
            origin: self.key.clone(),
            label: None,
        };
        let walker = Walker::new(
            vec![Place::Url(self.url.clone())],
            scope,
            self.resolver.clone(),
            previous,
        );
        let files = super::walk_into(walker, &out).await;
        Ok(ReadEnd::Snapshot {
            cursor: Cursor {
                files,
                ..Cursor::default()
            },
        })
    }
}
