//! Why a provider could not be built or could not read: [`ProviderError`], by kind. A leaf: every
//! provider module returns it, and callers (sources, config, actions, the transports) map it.

use crate::confine::Refused;

/// Why a provider (or a reader it drives: the fetcher, a glob walk, git, a placeholder) failed. The texts
/// are what clients and read reports show: they name only what the caller gave (a target, a URL, a glob).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A target, location type, URL or git target that no provider reads (the text names it).
    #[error("{0}")]
    Target(String),
    /// The read policy refused a file, host, address or remote.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// A glob or git target that matches no file (the text names it).
    #[error("{0}")]
    NoMatch(String),
    /// A glob walk that could not finish: stopped, or over its entry bound.
    #[error("{0}")]
    Walk(String),
    /// An HTTP read answered with a status other than success or `304`.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// An HTTP response body over the size limit.
    #[error("response is larger than {0} bytes")]
    TooLarge(usize),
    /// An HTTP read that timed out.
    #[error("timed out")]
    Timeout,
    /// An HTTP read that could not connect or broke off (a stable description, or the redirect policy's
    /// words).
    #[error("{0}")]
    Unreachable(String),
    /// Content that was read but cannot be used: not UTF-8, invalid JSON or YAML, nested too deeply, an
    /// unexpected `304`.
    #[error("{0}")]
    Unreadable(String),
    /// The `git` CLI failed (its last line of stderr, credentials masked), or the remote has no such
    /// branch.
    #[error("{0}")]
    Git(String),
    /// A git read's checkout directory could not be created.
    #[error("cannot create a checkout directory: {0}")]
    Checkout(std::io::Error),
}
