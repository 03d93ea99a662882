//! Which address a request comes from, for the sign-in throttle. `X-Forwarded-For` is believed
//! only when the connection comes from a configured proxy; otherwise anyone could pick a fresh
//! address for every guess.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// Networks of reverse proxies whose `X-Forwarded-For` is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

fn prefix_matches(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    // An IPv4 client seen through an IPv6 socket is `::ffff:a.b.c.d`.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses (`127.0.0.1`); the error names
    /// the entry.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<TrustedProxies, String> {
        let mut out = Vec::with_capacity(list.len());
        for entry in list {
            let entry = entry.as_ref().trim();
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (entry, None),
            };
            let bad = || format!("{entry:?} is not an IP address or CIDR like 10.0.0.0/8");
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
            };
            out.push((addr, bits));
        }
        Ok(TrustedProxies(out))
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(net, bits)| prefix_matches(*net, *bits, ip))
    }

    /// The client's address: the peer, or — when the peer is a trusted proxy — the right-most
    /// `X-Forwarded-For` address that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().parse::<IpAddr>())
            .collect::<Result<_, _>>()
            // A malformed chain is not believed at all.
            .unwrap_or_default();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.contains(hop) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let p = TrustedProxies::parse(&["10.0.0.0/8", "127.0.0.1", "fd00::/8"]).unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(p.client_ip(proxy, &xff("203.0.113.5")), "203.0.113.5".parse::<IpAddr>().unwrap());
        // A client cannot prepend its own choice: the right-most untrusted hop is the client.
        assert_eq!(
            p.client_ip(proxy, &xff("1.2.3.4, 203.0.113.5, 10.9.9.9")),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(p.client_ip(stranger, &xff("203.0.113.5")), stranger);
        assert_eq!(p.client_ip(proxy, &HeaderMap::new()), proxy);
        assert_eq!(p.client_ip(proxy, &xff("not-an-ip")), proxy);
        assert_eq!(
            p.client_ip("::ffff:10.0.0.1".parse().unwrap(), &xff("2001:db8::1")),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert!(p.contains("fd12::1".parse().unwrap()));
        assert!(!p.contains("127.0.0.2".parse().unwrap()));
        assert!(TrustedProxies::default().client_ip(proxy, &xff("203.0.113.5")) == proxy);
        assert!(TrustedProxies::parse(&["0.0.0.0/0"]).unwrap().contains(stranger));
        for bad in ["10.0.0.0/33", "banana", "10.0.0/8", "::/129", ""] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
