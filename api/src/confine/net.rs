//! Hosts: which URLs and git remotes may be connected to, which addresses a host name may resolve to,
//! and the DNS resolver and redirect policy that enforce it inside the HTTP client.

use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::{mask_userinfo, Policy, Refused};

/// One allowed host: a name or IP literal (lowercase), an optional port and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    host: String,
    port: Option<u16>,
    path: Option<String>,
}

impl HostRule {
    /// `host`, `host:port`, `host/path`, `host:port/path` (IPv6 as `[::1]:8080`).
    pub fn parse(text: &str) -> Result<Self, super::RuleError> {
        let bad = || super::RuleError::NotAHost(text.to_string());
        if text.contains("://") || text.trim().is_empty() {
            return Err(bad());
        }
        let url = Url::parse(&format!("http://{text}")).map_err(|_| bad())?;
        let host = url
            .host_str()
            .ok_or_else(bad)?
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad());
        }
        let path = match url.path() {
            "/" | "" => None,
            p => Some(p.to_string()),
        };
        Ok(Self {
            host,
            port: url.port(),
            path,
        })
    }

    /// The host and port a configured source's URL names (http, https, ssh; scp-like `user@host:path`).
    pub fn of_url(url: &str) -> Option<Self> {
        let (_, host, port) = remote_host(url)?;
        Some(Self {
            host,
            port,
            path: None,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>, path: &str) -> bool {
        self.host == host
            && self.port.is_none_or(|p| Some(p) == port)
            && self.path.as_deref().is_none_or(|pre| path.starts_with(pre))
    }
}

/// What an address may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Public,
    /// Loopback, private, carrier-grade NAT, unique local: only when listed.
    Private,
    /// Link-local, unspecified, multicast, broadcast, documentation and reserved ranges: never.
    Never,
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || o[0] >= 240
            {
                Class::Never
            } else if v4.is_loopback()
                || v4.is_private()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
            {
                Class::Private
            } else {
                Class::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify(IpAddr::V4(v4));
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return classify(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            if v6.is_unspecified() || v6.is_multicast() || (s[0] & 0xffc0) == 0xfe80 {
                Class::Never
            } else if v6.is_loopback() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
                Class::Private
            } else {
                Class::Public
            }
        }
    }
}

/// `(scheme, host, port)` of an http(s)/ssh URL or an scp-like `user@host:path` remote.
fn remote_host(remote: &str) -> Option<(String, String, Option<u16>)> {
    if let Ok(url) = Url::parse(remote) {
        let host = url
            .host_str()?
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        return Some((url.scheme().to_string(), host, url.port_or_known_default()));
    }
    // scp-like: [user@]host:path (no scheme, no slash before the colon)
    let (before, _) = remote.split_once(':')?;
    if before.contains('/') || before.is_empty() {
        return None;
    }
    let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
    Some(("scp".into(), host.to_ascii_lowercase(), None))
}

impl Policy {
    fn host_listed(&self, host: &str, port: Option<u16>, path: &str) -> bool {
        self.hosts.iter().any(|r| r.matches(host, port, path))
    }

    /// Whether a connection to `ip` is allowed for a URL naming `host`.
    fn address_allowed(&self, host: &str, ip: IpAddr) -> bool {
        match classify(ip) {
            Class::Public => true,
            Class::Never => false,
            Class::Private => {
                host.parse::<IpAddr>().is_ok_and(|h| h == ip)
                    || (host == "localhost" && ip.is_loopback())
                    || self.private_networks.iter().any(|n| n.contains(&ip))
            }
        }
    }

    /// Whether the server may GET `url`: http(s), no credentials unless configured, an allowed host,
    /// and an IP literal outside the ranges never connected to. (Names are checked again when resolved.)
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let shown = mask_userinfo(url.as_str());
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme(shown, url.scheme().to_string()));
        }
        let Some(host) = url.host_str() else {
            return Err(Refused::Host(shown));
        };
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        if !self.host_listed(&host, url.port_or_known_default(), url.path()) {
            return Err(Refused::Host(shown));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            if !self.address_allowed(&host, ip) {
                return Err(Refused::Address(shown));
            }
        }
        Ok(())
    }

    /// Whether `git` may fetch from or push to `remote`: a `file://` URL or path inside an allowed
    /// directory, or an http(s)/ssh remote on an allowed host (resolved and checked now). Returns the
    /// one protocol git may then use (`GIT_ALLOW_PROTOCOL`).
    pub async fn check_git_remote(&self, remote: &str) -> Result<&'static str, Refused> {
        let protocol = self.check_git_remote_name(remote)?;
        if protocol == "file" {
            return Ok(protocol);
        }
        let shown = mask_userinfo(remote);
        let (_, host, port) = remote_host(remote).ok_or_else(|| Refused::Host(shown.clone()))?;
        let addrs = resolve(&host, port.unwrap_or(22)).await.unwrap_or_default();
        if addrs.is_empty() || !addrs.iter().all(|a| self.address_allowed(&host, a.ip())) {
            return Err(Refused::Address(shown));
        }
        Ok(protocol)
    }

    /// [`Policy::check_git_remote`] without resolving the host (for a registration's first check).
    pub fn check_git_remote_name(&self, remote: &str) -> Result<&'static str, Refused> {
        let shown = mask_userinfo(remote);
        if let Some(path) = remote.strip_prefix("file://") {
            let dir = std::fs::canonicalize(path).map_err(|_| Refused::Missing(shown.clone()))?;
            return if self.dir_allowed(&dir) {
                Ok("file")
            } else {
                Err(Refused::OutsideRoots(shown))
            };
        }
        let Some((scheme, host, port)) = remote_host(remote) else {
            return Err(Refused::Scheme(shown, "none".into()));
        };
        let protocol = match scheme.as_str() {
            "https" => "https",
            "http" => "http",
            "ssh" | "scp" => "ssh",
            other => return Err(Refused::Scheme(shown, other.to_string())),
        };
        let path = Url::parse(remote)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        if !self.host_listed(&host, port, &path) {
            return Err(Refused::Host(shown));
        }
        if host
            .parse::<IpAddr>()
            .is_ok_and(|ip| !self.address_allowed(&host, ip))
        {
            return Err(Refused::Address(shown));
        }
        Ok(protocol)
    }

    /// An HTTP client whose every connection and redirect hop obeys this policy.
    pub fn client(self: &Arc<Self>, builder: reqwest::ClientBuilder) -> reqwest::Client {
        let redirects = self.clone();
        builder
            .dns_resolver(Arc::new(Resolver {
                policy: self.clone(),
            }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if let Err(e) = redirects.check_url(attempt.url()) {
                    attempt.error(format!("redirect refused: {e}"))
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .unwrap_or_default()
    }
}

async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}

/// Resolves names and keeps only the addresses the policy allows for them.
struct Resolver {
    policy: Arc<Policy>,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = resolve(&host, 0)
                .await?
                .into_iter()
                .filter(|a| policy.address_allowed(&host, a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err("the host's address is one this server never connects to".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], private: &[&str]) -> Policy {
        let hosts: Vec<String> = hosts.iter().map(|s| s.to_string()).collect();
        let private: Vec<String> = private.iter().map(|s| s.to_string()).collect();
        Policy::new(&[], &hosts, &private, 10).unwrap()
    }

    fn ok(p: &Policy, url: &str) -> bool {
        p.check_url(&Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn hosts_ports_and_paths_must_be_listed() {
        let p = policy(&["example.com", "127.0.0.1:8080/cat", "[::1]"], &[]);
        assert!(ok(&p, "https://example.com/a.yaml"));
        assert!(ok(&p, "http://EXAMPLE.com:81/a.yaml"));
        assert!(!ok(&p, "https://other.example.com/a.yaml"));
        assert!(ok(&p, "http://127.0.0.1:8080/cat/x.yaml"));
        assert!(!ok(&p, "http://127.0.0.1:8080/other"));
        assert!(!ok(&p, "http://127.0.0.1:8081/cat/x.yaml"));
        assert!(ok(&p, "http://[::1]:9/x"));
        assert!(!ok(&p, "ftp://example.com/x"));
    }

    #[test]
    fn link_local_and_reserved_addresses_are_never_allowed_even_when_listed() {
        let p = policy(
            &["169.254.169.254", "[fe80::1]", "0.0.0.0", "224.0.0.1"],
            &[],
        );
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
        ] {
            assert_eq!(
                p.check_url(&Url::parse(url).unwrap()),
                Err(Refused::Address(url.to_string())),
                "{url}"
            );
        }
    }

    #[test]
    fn names_resolve_to_private_addresses_only_when_allowed() {
        let p = policy(&["intra.example"], &["10.0.0.0/8"]);
        assert!(p.address_allowed("intra.example", "10.1.2.3".parse().unwrap()));
        assert!(!p.address_allowed("intra.example", "192.168.1.1".parse().unwrap()));
        assert!(!p.address_allowed("intra.example", "127.0.0.1".parse().unwrap()));
        assert!(p.address_allowed("localhost", "127.0.0.1".parse().unwrap()));
        assert!(p.address_allowed("intra.example", "93.184.216.34".parse().unwrap()));
        assert!(!p.address_allowed("x", "::ffff:169.254.1.1".parse().unwrap()));
        assert!(!p.address_allowed("x", "::ffff:127.0.0.1".parse().unwrap()));
        assert!(!p.address_allowed("x", "fd00::1".parse().unwrap()));
    }

    #[test]
    fn rules_parse_and_name_their_mistakes() {
        assert!(HostRule::parse("https://x").is_err());
        assert!(HostRule::parse("user:pw@x").is_err());
        assert!(HostRule::parse("").is_err());
        assert_eq!(
            HostRule::parse("https://x").unwrap_err().to_string(),
            "'https://x' is not host[:port][/path]"
        );
        let nets = ["10.0.0.0/99".to_string()];
        assert_eq!(
            Policy::new(&[], &[], &nets, 1).unwrap_err().to_string(),
            "'10.0.0.0/99' is not an IP network (CIDR) or address"
        );
        assert_eq!(
            HostRule::of_url("git@github.com:org/repo.git"),
            Some(HostRule {
                host: "github.com".into(),
                port: None,
                path: None
            })
        );
    }
}
