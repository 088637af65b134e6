//! Where a provider reads: a local file or an HTTP(S) URL ([`Place`]), Backstage's location refs for them,
//! and the content digest readers record. A leaf: the walker, the placeholder resolver and the URL
//! provider all build on it.

use reqwest::Url;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use super::error::ProviderError;

/// One readable place: a local file or an HTTP(S) URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    File(PathBuf),
    Url(Url),
}

impl Place {
    /// Backstage's location ref form: `file:/abs/path` or `url:https://…`.
    pub fn location_ref(&self) -> String {
        match self {
            Place::File(p) => format!("file:{}", p.display()),
            Place::Url(u) => format!("url:{u}"),
        }
    }

    pub fn parse_ref(text: &str) -> Option<Place> {
        if let Some(p) = text.strip_prefix("file:") {
            return Some(Place::File(PathBuf::from(p)));
        }
        Url::parse(text.strip_prefix("url:")?).ok().map(Place::Url)
    }

    /// Resolves a Location target of type `ty` (default: this place's type) relative to this place.
    /// A remote place never leads to a local file.
    pub fn join(&self, ty: Option<&str>, target: &str) -> Result<Place, ProviderError> {
        let ty = ty.unwrap_or(match self {
            Place::File(_) => "file",
            Place::Url(_) => "url",
        });
        match (ty, self) {
            ("file", Place::File(p)) => {
                let dir = p.parent().unwrap_or(Path::new("/"));
                Ok(Place::File(dir.join(target)))
            }
            ("file", Place::Url(_)) => Err(ProviderError::Target(format!(
                "file target '{target}' in a remote location is refused"
            ))),
            ("url", base) => {
                let url = match (Url::parse(target), base) {
                    (Ok(u), _) => u,
                    (Err(_), Place::Url(b)) => b.join(target).map_err(|e| {
                        ProviderError::Target(format!("url target '{target}': {e}"))
                    })?,
                    (Err(e), Place::File(_)) => {
                        return Err(ProviderError::Target(format!(
                            "url target '{target}' is not a URL: {e}"
                        )))
                    }
                };
                http_url(url).map(Place::Url)
            }
            (other, _) => Err(ProviderError::Target(format!(
                "location type '{other}' for target '{target}' is not supported (use file or url)"
            ))),
        }
    }
}

/// Accepts only `http` and `https` URLs.
pub fn http_url(url: Url) -> Result<Url, ProviderError> {
    match url.scheme() {
        "http" | "https" => Ok(url),
        s => Err(ProviderError::Target(format!(
            "'{url}': scheme '{s}' is not supported (use http or https)"
        ))),
    }
}

/// The hex SHA-256 of `text` (what file records and placeholder dependencies compare).
pub fn digest(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}
