//! Addresses of the people calling: networks in CIDR notation (the `trusted_proxies` setting)
//! and the client behind trusted reverse proxies, taken from `X-Forwarded-For`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix_len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an IP address or network (e.g. \"10.0.0.1\", \"10.0.0.0/8\", \"::1\")")]
pub struct NetworkParseError {
    text: String,
}

impl FromStr for IpNetwork {
    type Err = NetworkParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || NetworkParseError {
            text: text.to_owned(),
        };
        let (address, prefix_len) = match text.trim().split_once('/') {
            Some((address, prefix)) => {
                // Only plain decimal digits: "+8" and " 8" are not prefixes.
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(refuse());
                }
                let address: IpAddr = address.parse().map_err(|_| refuse())?;
                let prefix_len: u8 = prefix.parse().map_err(|_| refuse())?;
                (address, prefix_len)
            }
            None => {
                let address: IpAddr = text.trim().parse().map_err(|_| refuse())?;
                (address, max_prefix(address))
            }
        };
        if prefix_len > max_prefix(address) {
            return Err(refuse());
        }
        Ok(IpNetwork {
            address,
            prefix_len,
        })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

fn max_prefix(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket reports) as the
/// IPv4 address it is.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl IpNetwork {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (canonical(self.address), canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let shift = 32 - u32::from(self.prefix_len.min(32));
                let mask = u32::MAX.checked_shl(shift).unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let shift = 128 - u32::from(self.prefix_len.min(128));
                let mask = u128::MAX.checked_shl(shift).unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// One hop of `X-Forwarded-For`: an address, possibly with a port (`10.0.0.1:5000`,
/// `[2001:db8::1]:443`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// The address a request came from. The connecting peer, unless it is a trusted proxy: then
/// the rightmost hop of `X-Forwarded-For` that is not itself a trusted proxy (hops further left
/// were written by the client and prove nothing). A hop that does not parse stops the walk at
/// the last trusted address, so a garbled header can never make anyone else's address.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted_proxies: &[IpNetwork],
) -> IpAddr {
    let peer = canonical(peer);
    let trusted = |address: IpAddr| trusted_proxies.iter().any(|net| net.contains(address));
    if !trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop_address(hop) {
            Some(address) if trusted(address) => client = address,
            Some(address) => return address,
            None => return client,
        }
    }
    client
}

/// Percent-encodes a URL query component or path segment (RFC 3986 unreserved kept).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => {
                let _ = std::fmt::Write::write_fmt(&mut out, format_args!("%{byte:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn networks_parse_and_contain_what_they_should() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.7", "192.168.1.7", true),
            ("192.168.1.7", "192.168.1.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("127.0.0.1/32", "::ffff:127.0.0.1", true),
            ("2001:db8::/32", "2001:db8:1::5", true),
            ("2001:db8::/32", "2001:db9::5", false),
            ("::1", "::1", true),
            ("::/0", "10.0.0.1", false),
        ];
        for (network, address, expected) in cases {
            let parsed: IpNetwork = network.parse().expect(network);
            assert_eq!(
                parsed.contains(ip(address)),
                *expected,
                "{network} ∋ {address}"
            );
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "nope",
            "10.0.0.0/8/8",
        ] {
            let error = bad.parse::<IpNetwork>().expect_err(bad);
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop_and_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNetwork> = ["10.0.0.0/8", "127.0.0.1"]
            .iter()
            .map(|n| n.parse().expect("network"))
            .collect();
        let cases: &[(&str, &[&str], &str)] = &[
            // Not a proxy of ours: the header is ignored, whatever it says.
            ("203.0.113.9", &["198.51.100.1"], "203.0.113.9"),
            // A trusted proxy with no header: the proxy itself.
            ("10.0.0.2", &[], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            // A client prepending a forged hop: the proxy appended the real one on the right.
            ("10.0.0.2", &["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
            // Two of our proxies in a row.
            ("10.0.0.2", &["198.51.100.1, 10.0.0.3"], "198.51.100.1"),
            // Several header lines are one list.
            ("10.0.0.2", &["1.2.3.4", "198.51.100.1"], "198.51.100.1"),
            ("10.0.0.2", &["198.51.100.1:5555"], "198.51.100.1"),
            ("10.0.0.2", &["[2001:db8::7]:443"], "2001:db8::7"),
            // Garbage stops at the last trusted address.
            ("10.0.0.2", &["198.51.100.1, unknown"], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1, 10.0.0.3, "], "10.0.0.2"),
            // Every hop trusted: the leftmost.
            ("10.0.0.2", &["10.0.0.5, 10.0.0.3"], "10.0.0.5"),
            ("::ffff:127.0.0.1", &["198.51.100.1"], "198.51.100.1"),
        ];
        for (peer, header, expected) in cases {
            assert_eq!(
                client_address(ip(peer), header.iter().copied(), &trusted),
                ip(expected),
                "{peer} {header:?}"
            );
        }
        assert_eq!(
            client_address(ip("10.0.0.2"), ["198.51.100.1"], &[]),
            ip("10.0.0.2"),
            "no trusted proxies by default"
        );
    }
}
