//! The default gateway, from the kernel's routing table (/proc/net/route on Linux), or from
//! the network adapters Windows reports (`GetAdaptersAddresses`, `probes::windows::adapters`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultRoute {
    pub interface: String,
    pub gateway: Ipv4Addr,
}

/// The IPv4 default routes, best (lowest metric) first. Empty means no default route.
#[cfg(windows)]
pub fn default_routes() -> Result<Vec<DefaultRoute>, String> {
    Ok(routes_from_adapters(&super::windows::adapters::adapters()?))
}

/// The IPv4 default routes, best (lowest metric) first. Empty means no default route.
#[cfg(not(windows))]
pub fn default_routes() -> Result<Vec<DefaultRoute>, String> {
    let path = std::path::Path::new("/proc/net/route");
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_route_table(&text)),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

/// Parses /proc/net/route: hex, little-endian addresses; flag 0x1 up, 0x2 gateway.
pub fn parse_route_table(text: &str) -> Vec<DefaultRoute> {
    let mut routes: Vec<(u32, DefaultRoute)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [
                interface,
                destination,
                gateway,
                flags,
                _,
                _,
                metric,
                mask,
                ..,
            ] = fields.as_slice()
            else {
                return None;
            };
            let hex = |text: &str| u32::from_str_radix(text, 16).ok();
            let flags = hex(flags)?;
            if hex(destination)? != 0 || hex(mask)? != 0 || flags & 0x3 != 0x3 {
                return None;
            }
            let gateway = Ipv4Addr::from(hex(gateway)?.to_le_bytes());
            Some((
                metric.parse().unwrap_or(0),
                DefaultRoute {
                    interface: (*interface).to_owned(),
                    gateway,
                },
            ))
        })
        .collect();
    routes.sort_by_key(|(metric, _)| *metric);
    routes.into_iter().map(|(_, route)| route).collect()
}

/// One network adapter as Windows' `GetAdaptersAddresses` describes it, reduced to what the
/// gateway and DNS probes use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterRecord {
    /// The name people see ("Ethernet", "Wi-Fi").
    pub name: String,
    /// Operationally up (`IfOperStatusUp`).
    pub up: bool,
    /// A loopback or tunnel interface: never the way out to the network.
    pub loopback_or_tunnel: bool,
    /// The interface's IPv4 route metric: lower is preferred.
    pub ipv4_metric: u32,
    pub gateways: Vec<IpAddr>,
    /// As the adapter lists them (an IPv6 link-local one keeps its scope).
    pub dns_servers: Vec<SocketAddr>,
}

impl AdapterRecord {
    /// Whether the adapter can carry traffic out: up, and neither loopback nor a tunnel.
    pub fn usable(&self) -> bool {
        self.up && !self.loopback_or_tunnel
    }
}

/// The IPv4 default routes among `adapters`: each usable adapter's IPv4 gateways, lowest
/// metric first (adapters of equal metric in the order Windows listed them).
pub fn routes_from_adapters(adapters: &[AdapterRecord]) -> Vec<DefaultRoute> {
    let mut routes: Vec<(u32, DefaultRoute)> = Vec::new();
    for adapter in adapters.iter().filter(|a| a.usable()) {
        for gateway in &adapter.gateways {
            let IpAddr::V4(gateway) = gateway else {
                continue;
            };
            if gateway.is_unspecified() {
                continue;
            }
            let route = DefaultRoute {
                interface: adapter.name.clone(),
                gateway: *gateway,
            };
            if !routes.iter().any(|(_, known)| *known == route) {
                routes.push((adapter.ipv4_metric, route));
            }
        }
    }
    routes.sort_by_key(|(metric, _)| *metric);
    routes.into_iter().map(|(_, route)| route).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_default_route_and_ignores_the_rest() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t0102000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
            eth0\t0002000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
            wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n";
        let routes = parse_route_table(table);
        assert_eq!(routes.len(), 2);
        assert_eq!(
            routes[0],
            DefaultRoute {
                interface: "eth0".to_owned(),
                gateway: Ipv4Addr::new(10, 0, 2, 1)
            }
        );
        assert!(parse_route_table("Iface\tDestination\n").is_empty());
    }

    fn adapter(name: &str, metric: u32, gateways: &[&str]) -> AdapterRecord {
        AdapterRecord {
            name: name.to_owned(),
            up: true,
            loopback_or_tunnel: false,
            ipv4_metric: metric,
            gateways: gateways
                .iter()
                .map(|g| g.parse().expect("address"))
                .collect(),
            dns_servers: Vec::new(),
        }
    }

    #[test]
    fn windows_adapters_give_their_ipv4_gateways_lowest_metric_first() {
        let down = AdapterRecord {
            up: false,
            ..adapter("Ethernet 2", 5, &["10.9.9.1"])
        };
        let tunnel = AdapterRecord {
            loopback_or_tunnel: true,
            ..adapter("VPN tunnel", 1, &["10.8.0.1"])
        };
        // (adapters, expected (interface, gateway) routes)
        type Case = (Vec<AdapterRecord>, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            (Vec::new(), Vec::new()),
            (
                vec![
                    adapter("Wi-Fi", 50, &["192.168.1.1"]),
                    adapter("Ethernet", 25, &["10.0.2.1", "fe80::1"]),
                ],
                vec![("Ethernet", "10.0.2.1"), ("Wi-Fi", "192.168.1.1")],
            ),
            // Down, loopback and tunnel adapters are not the way out.
            (
                vec![down, tunnel, adapter("Wi-Fi", 50, &["192.168.1.1"])],
                vec![("Wi-Fi", "192.168.1.1")],
            ),
            // No gateway, only IPv6 ones, or 0.0.0.0: no default route.
            (
                vec![
                    adapter("Ethernet", 25, &[]),
                    adapter("Wi-Fi", 50, &["fe80::1", "0.0.0.0"]),
                ],
                Vec::new(),
            ),
            // Equal metrics keep Windows' order; a gateway listed twice counts once.
            (
                vec![
                    adapter("B", 10, &["10.0.0.1", "10.0.0.1"]),
                    adapter("A", 10, &["10.1.0.1"]),
                ],
                vec![("B", "10.0.0.1"), ("A", "10.1.0.1")],
            ),
        ];
        for (adapters, expected) in cases {
            let routes: Vec<(String, String)> = routes_from_adapters(&adapters)
                .into_iter()
                .map(|r| (r.interface, r.gateway.to_string()))
                .collect();
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(i, g)| (i.to_owned(), g.to_owned()))
                .collect();
            assert_eq!(routes, expected, "{adapters:?}");
        }
    }
}
