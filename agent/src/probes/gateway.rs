//! The default gateway, from the kernel's routing table (/proc/net/route on Linux).

use std::net::Ipv4Addr;
use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultRoute {
    pub interface: String,
    pub gateway: Ipv4Addr,
}

/// The IPv4 default routes, best (lowest metric) first. Empty means no default route.
pub fn default_routes() -> Result<Vec<DefaultRoute>, String> {
    if cfg!(windows) {
        return Err(super::not_on_windows_yet("default gateway"));
    }
    let path = Path::new("/proc/net/route");
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
}
