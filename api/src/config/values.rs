//! Plain values the configuration hands to the layers above it (the schema's operation limits, the
//! server's connection timeouts). They import nothing from those layers, so `config` stays below them.

use std::time::Duration;

/// Most items a list field returns, and the largest `server.limits.defaultListSize`.
pub const MAX_LIST_SIZE: usize = 500;

/// Limits on what one GraphQL operation may ask for (`server.limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationLimits {
    pub max_depth: usize,
    /// Each field costs 1; a page or list costs its size (`first`, else its default) times its selection.
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub introspection: bool,
    /// What a list field without `first` counts for complexity and returns at most (process-wide, see
    /// `graphql::types::lists`).
    pub default_list_size: usize,
}

impl Default for OperationLimits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_complexity: 20_000,
            max_aliases: 30,
            max_root_fields: 20,
            introspection: true,
            default_list_size: 20,
        }
    }
}

/// How long a client may take to send a request head, a request body, and a WebSocket's
/// `connection_init` (`server.headerReadTimeout`, `bodyReadTimeout`, `websocketInitTimeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    pub header_read: Duration,
    pub body_read: Duration,
    pub websocket_init: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            websocket_init: Duration::from_secs(5),
        }
    }
}
