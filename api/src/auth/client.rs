//! Who is on the other end of a request: its client address (the TCP peer, or the address a trusted proxy
//! names in `X-Forwarded-For`), and whether a `Host` or `Origin` names this machine (dev mode answers only
//! those, against DNS rebinding).

use axum::http::HeaderMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address block: `10.0.0.0/8`, `fd00::/8`, or one address (`192.0.2.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why an entry of `server.trustedProxies` is not an address block.
#[derive(Debug, thiserror::Error)]
pub enum CidrError {
    #[error("'{0}' is not an IP address or CIDR block")]
    NotAnAddress(String),
    #[error("'{0}': the prefix length must be 0 to {1}")]
    Prefix(String, u8),
    #[error("server.trustedProxies[{0}]: {1}")]
    Entry(usize, Box<CidrError>),
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::NotAnAddress(text.to_string()))?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| CidrError::Prefix(text.to_string(), max))?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        let ip = ip.to_canonical();
        if ip.is_ipv4() != self.network.is_ipv4() {
            return false;
        }
        // Both families sit in the top bits of `bits`, so a prefix masks the top `prefix` bits.
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(0);
        bits(ip) & mask == bits(self.network) & mask
    }
}

/// `server.trustedProxies`: peers whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<Self, CidrError> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.parse::<Cidr>()
                    .map_err(|m| CidrError::Entry(i, Box::new(m)))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client address of a request from `peer`: the peer itself, unless it is a trusted proxy; then,
    /// walking `X-Forwarded-For` from its right end, the first address that is not a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            if !self.trusts(client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip,
                None => break,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:443`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The rate-limit bucket of a client address: the address itself for IPv4, its /64 for IPv6 (one host
/// usually holds a whole /64, so single IPv6 addresses would be free to rotate).
pub fn bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64));
            format!("{net}/64")
        }
    }
}

tokio::task_local! {
    static CLIENT_ADDRESS: Option<IpAddr>;
}

/// Runs `f` (a request's handling) with `client` as its client address (see [`current`]).
pub async fn with_client<F: Future>(client: Option<IpAddr>, f: F) -> F::Output {
    CLIENT_ADDRESS.scope(client, f).await
}

/// The client address of the request being handled; `None` outside a request or when the transport gave
/// no peer address.
pub fn current() -> Option<IpAddr> {
    CLIENT_ADDRESS.try_with(|c| *c).ok().flatten()
}

/// True for a host name that always means this machine: `localhost` or a loopback address, with any port
/// (`localhost:8080`, `127.0.0.1`, `[::1]:80`).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inner, tail)) if tail.is_empty() || is_port(tail) => inner,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(&format!(":{port}")) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_port(tail: &str) -> bool {
    tail.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// True for an `Origin` of a page served from this machine (`http://localhost:3000`, `https://[::1]`).
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    !rest.contains('/') && !rest.contains('@') && is_loopback_host(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks_contain_their_addresses_only() {
        let block: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped IPv6");
        let one: Cidr = "192.0.2.1".parse().unwrap();
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "x", "10.0.0.0/", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 203.0.113.7, 10.0.0.5"),
        );
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        assert_eq!(
            proxies.client(ip("192.0.2.9"), &h),
            ip("192.0.2.9"),
            "an untrusted peer's header is ignored"
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("junk"));
        assert_eq!(proxies.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_config_keys_parse_and_bad_entries_are_named() {
        let cfg = crate::config::Config::from_yaml(
            "server:\n  trustedProxies: ['10.0.0.0/8', '::1']\nauth:\n  jwt:\n    requireJti: false\n",
        )
        .unwrap();
        assert!(TrustedProxies::parse(&cfg.server.trusted_proxies).is_ok());
        assert!(!cfg.auth.jwt.require_jti);
        assert!(crate::config::Config::default().auth.jwt.require_jti);
        let err = TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.local".into()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "server.trustedProxies[1]: 'proxy.local' is not an IP address or CIDR block"
        );
        let err = TrustedProxies::parse(&["10.0.0.0/33".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "server.trustedProxies[0]: '10.0.0.0/33': the prefix length must be 0 to 32"
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        assert_eq!(
            bucket(ip("2001:db8:1:2::1")),
            bucket(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }

    #[test]
    fn only_loopback_hosts_and_origins_are_local() {
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:9000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1",
            "",
            "[::1]x",
            "localhost:x",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        assert!(is_loopback_origin("http://localhost:3000"));
        assert!(is_loopback_origin("https://[::1]"));
        for origin in [
            "null",
            "http://evil.example",
            "http://localhost.evil.example",
            "file://",
            "http://127.0.0.1@evil.example",
        ] {
            assert!(!is_loopback_origin(origin), "{origin}");
        }
    }
}
