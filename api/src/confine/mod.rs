//! What the server may read and connect to: one policy that every reader calls (file and URL locations,
//! placeholders, git sources, `registerLocation`, `catalog:register`, `publish:git`).
//!
//! - Files: a registered location must lie inside an allowed directory (`catalog.allow.files`, plus the
//!   directories of the configured locations); every file read is canonicalised first, must stay inside
//!   the directory its location may read, must be a regular file outside `/proc`, `/sys` and `/dev`, and
//!   is read up to a byte limit.
//! - Hosts: a URL may name only an allowed host (`catalog.allow.hosts`, plus the hosts of the configured
//!   url and git sources), optionally with a port and a path prefix. Every redirect hop is checked again.
//!   Link-local, unspecified, multicast and reserved addresses are never connected to; loopback and
//!   private addresses only when listed as IP literals, as `localhost`, or in
//!   `catalog.allow.privateNetworks`.

mod files;
mod mask;
mod net;

pub use mask::{mask_text, mask_userinfo};
pub use net::HostRule;

use ipnet::IpNet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a read or a connection was refused. The texts name only what the caller gave (a target, a URL):
/// never a resolved path, an address or whether a port is open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("'{0}' is outside the directories this server may read (catalog.allow.files)")]
    OutsideRoots(String),
    #[error("'{0}' is outside the location's root directory")]
    OutsideLocation(String),
    #[error("'{0}' is not a regular file")]
    NotRegular(String),
    #[error("'{0}': no such file")]
    Missing(String),
    #[error("'{0}' is larger than {1} bytes")]
    TooLarge(String, u64),
    #[error("'{0}': cannot read ({1})")]
    Io(String, String),
    #[error("'{0}': host is not one this server may connect to (catalog.allow.hosts)")]
    Host(String),
    #[error("'{0}': the host's address is one this server never connects to")]
    Address(String),
    #[error("'{0}': scheme '{1}' is not supported")]
    Scheme(String, String),
    #[error("'{0}': credentials in URLs are not accepted here")]
    Credentials(String),
}

/// Why a policy cannot be built from its settings (`catalog.allow`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("'{0}' is not host[:port][/path]")]
    NotAHost(String),
    #[error("'{0}' is not an IP network (CIDR) or address")]
    NotANetwork(String),
}

/// The policy: allowed directories and hosts, and the per-file byte limit.
#[derive(Debug, Clone)]
pub struct Policy {
    roots: Vec<PathBuf>,
    hosts: Vec<HostRule>,
    private_networks: Vec<IpNet>,
    max_file_bytes: u64,
    max_yaml_depth: usize,
}

/// The default per-file byte limit (as for HTTP bodies).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 << 20;

impl Default for Policy {
    /// Nothing beyond what configured sources name: no directory for registered locations, no host.
    fn default() -> Self {
        Self {
            roots: Vec::new(),
            hosts: Vec::new(),
            private_networks: Vec::new(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_yaml_depth: crate::catalog::model::DEFAULT_MAX_DEPTH,
        }
    }
}

impl Policy {
    /// A policy allowing the directories `roots` (canonicalised; those that do not exist are dropped) and
    /// the hosts `hosts` (`host`, `host:port`, `host/path`, `host:port/path`; IPv6 in brackets).
    pub fn new(
        roots: &[PathBuf],
        hosts: &[String],
        private_networks: &[String],
        max_file_bytes: u64,
    ) -> Result<Self, RuleError> {
        let mut p = Self {
            max_file_bytes,
            ..Self::default()
        };
        for r in roots {
            p.allow_dir(r);
        }
        for h in hosts {
            p.hosts.push(HostRule::parse(h)?);
        }
        for n in private_networks {
            let net = n
                .parse::<IpNet>()
                .or_else(|_| n.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| RuleError::NotANetwork(n.clone()))?;
            p.private_networks.push(net);
        }
        Ok(p)
    }

    /// Also allows the directory `dir` (ignored when it does not exist).
    pub fn allow_dir(&mut self, dir: &Path) {
        if let Ok(c) = std::fs::canonicalize(dir) {
            if !self.roots.contains(&c) {
                self.roots.push(c);
            }
        }
    }

    /// Also allows `rule` (`host`, `host:port`, `host/path`, as in `catalog.allow.hosts`): a configured
    /// integration's host.
    pub fn allow_host(&mut self, rule: &str) -> Result<(), RuleError> {
        let rule = HostRule::parse(rule)?;
        if !self.hosts.contains(&rule) {
            self.hosts.push(rule);
        }
        Ok(())
    }

    /// Also allows the host (and port) of `url` (a configured source's), if it has one.
    pub fn allow_host_of(&mut self, url: &str) {
        if let Some(rule) = HostRule::of_url(url) {
            if !self.hosts.contains(&rule) {
                self.hosts.push(rule);
            }
        }
    }

    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// How deeply a catalog document (or a `$yaml`/`$json` target) may nest.
    pub fn max_yaml_depth(&self) -> usize {
        self.max_yaml_depth
    }

    /// Sets [`Policy::max_yaml_depth`].
    pub fn with_max_yaml_depth(mut self, depth: usize) -> Self {
        self.max_yaml_depth = depth.max(1);
        self
    }

    /// The policy shared by every reader.
    pub fn shared(self) -> Arc<Self> {
        Arc::new(self)
    }

    /// Whether the (canonical) directory `dir` lies inside an allowed directory.
    pub fn dir_allowed(&self, dir: &Path) -> bool {
        self.roots.iter().any(|r| dir.starts_with(r)) && !files::is_system(dir)
    }
}
