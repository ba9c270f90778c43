//! DNS resolution with a real resolver: asks the configured servers (or the system's: those in
//! /etc/resolv.conf, or on Windows the network adapters') in turn and reports which one answered, what, and how long it took.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use serde::Serialize;
use tokio::net::UdpSocket;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub name: String,
    /// The server whose answer counts (the first that answered at all).
    pub server: Option<SocketAddr>,
    /// "NOERROR", "NXDOMAIN", "SERVFAIL", …
    pub response_code: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub duration_ms: f64,
    /// Per server, why it did not answer.
    pub errors: Vec<String>,
}

impl Resolution {
    pub fn resolved(&self) -> bool {
        !self.addresses.is_empty()
    }

    /// One sentence on why not, for summaries.
    pub fn failure(&self) -> Option<String> {
        if self.resolved() {
            return None;
        }
        Some(match (&self.server, self.response_code.as_deref()) {
            (Some(server), Some("NXDOMAIN" | "Non-Existent Domain")) => {
                format!("{server} says the name does not exist (NXDOMAIN)")
            }
            (Some(server), Some(code)) => format!("{server} answered {code} with no address"),
            _ if self.errors.is_empty() => "no DNS server is configured".to_owned(),
            _ => format!("no DNS server answered ({})", self.errors.join("; ")),
        })
    }
}

/// The system's nameservers, port 53: those of the adapters that are up (`GetAdaptersAddresses`).
#[cfg(windows)]
pub fn system_servers() -> Result<Vec<SocketAddr>, String> {
    Ok(servers_from_adapters(&super::windows::adapters::adapters()?))
}

/// The system's nameservers, port 53: those in /etc/resolv.conf (none when it is missing).
#[cfg(not(windows))]
pub fn system_servers() -> Result<Vec<SocketAddr>, String> {
    Ok(
        std::fs::read_to_string(std::path::Path::new("/etc/resolv.conf"))
            .map(|text| parse_resolv_conf(&text))
            .unwrap_or_default(),
    )
}

/// The DNS servers of the usable adapters (up, not loopback or tunnel), in the order Windows
/// lists them, each once, on port 53. Windows' placeholders for "no IPv6 DNS server"
/// (fec0:0:0:ffff::1 to 3, deprecated site-local addresses) are left out: nothing answers there.
pub fn servers_from_adapters(adapters: &[super::gateway::AdapterRecord]) -> Vec<SocketAddr> {
    let mut servers: Vec<SocketAddr> = Vec::new();
    for adapter in adapters.iter().filter(|a| a.usable()) {
        for server in &adapter.dns_servers {
            let mut server = *server;
            server.set_port(53);
            if let SocketAddr::V6(v6) = &server {
                let segments = v6.ip().segments();
                if segments[..7] == [0xfec0, 0, 0, 0xffff, 0, 0, 0]
                    && (1..=3).contains(&segments[7])
                {
                    continue;
                }
            }
            if server.ip().is_unspecified() || servers.contains(&server) {
                continue;
            }
            servers.push(server);
        }
    }
    servers
}

pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| {
            rest.split_whitespace()
                .next()?
                .split('%')
                .next()?
                .parse::<IpAddr>()
                .ok()
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Resolves `name` (A, then AAAA if there was no A) asking `servers` in order.
pub async fn resolve(name: &str, servers: &[SocketAddr], timeout: Duration) -> Resolution {
    let started = Instant::now();
    let mut resolution = Resolution {
        name: name.to_owned(),
        server: None,
        response_code: None,
        addresses: Vec::new(),
        duration_ms: 0.0,
        errors: Vec::new(),
    };
    let query_name = match Name::from_ascii(name) {
        Ok(mut query_name) => {
            query_name.set_fqdn(true);
            query_name
        }
        Err(e) => {
            resolution
                .errors
                .push(format!("{name:?} is not a DNS name: {e}"));
            return resolution;
        }
    };
    for server in servers {
        let mut answered = false;
        for record_type in [RecordType::A, RecordType::AAAA] {
            match ask(*server, &query_name, record_type, timeout).await {
                Ok((code, addresses)) => {
                    answered = true;
                    resolution.server = Some(*server);
                    resolution.response_code = Some(code.to_str().to_owned());
                    resolution.addresses.extend(addresses);
                    if code == ResponseCode::NXDomain || !resolution.addresses.is_empty() {
                        break;
                    }
                }
                Err(e) => {
                    resolution.errors.push(format!("{server}: {e}"));
                    break;
                }
            }
        }
        if answered {
            break;
        }
    }
    resolution.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    resolution
}

async fn ask(
    server: SocketAddr,
    name: &Name,
    record_type: RecordType,
    timeout: Duration,
) -> Result<(ResponseCode, Vec<IpAddr>), String> {
    let id = getrandom::u32().map(|n| n as u16).unwrap_or(0x4f4c);
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name.clone(), record_type));
    let request = message
        .to_vec()
        .map_err(|e| format!("encoding the query: {e}"))?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()
    } else {
        "[::]:0".parse()
    }
    .map_err(|e: std::net::AddrParseError| e.to_string())?;
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("opening a socket: {e}"))?;
    socket.connect(server).await.map_err(|e| format!("{e}"))?;
    let exchange = async {
        socket.send(&request).await.map_err(|e| e.to_string())?;
        let mut buffer = [0u8; 4096];
        loop {
            let length = socket.recv(&mut buffer).await.map_err(|e| e.to_string())?;
            let Ok(response) = Message::from_vec(&buffer[..length]) else {
                continue;
            };
            if response.metadata.id != id {
                continue;
            }
            let addresses = response
                .answers
                .iter()
                .filter_map(|record| match &record.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                })
                .collect();
            return Ok((response.metadata.response_code, addresses));
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_from_resolv_conf() {
        let text = "# generated\nsearch corp.example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:1\n";
        let servers = parse_resolv_conf(text);
        assert_eq!(
            servers,
            [
                "192.0.2.53:53".parse().expect("addr"),
                "[fe80::1]:53".parse().expect("addr")
            ]
        );
    }

    #[test]
    fn windows_adapters_give_their_dns_servers_once_on_port_53() {
        use crate::probes::gateway::AdapterRecord;
        let adapter = |name: &str, up: bool, servers: &[&str]| AdapterRecord {
            name: name.to_owned(),
            up,
            loopback_or_tunnel: false,
            ipv4_metric: 25,
            gateways: Vec::new(),
            dns_servers: servers
                .iter()
                .map(|s| s.parse().expect("socket address"))
                .collect(),
        };
        let cases: Vec<(Vec<AdapterRecord>, Vec<&str>)> = vec![
            (Vec::new(), Vec::new()),
            (
                vec![
                    adapter("Ethernet", true, &["10.0.0.53:0", "[2001:db8::53]:0"]),
                    adapter("Wi-Fi", true, &["10.0.0.53:0", "192.0.2.1:0"]),
                ],
                vec!["10.0.0.53:53", "[2001:db8::53]:53", "192.0.2.1:53"],
            ),
            // A down adapter's servers are not asked; Windows' IPv6 placeholders are dropped.
            (
                vec![
                    adapter("Ethernet 2", false, &["10.9.9.53:0"]),
                    adapter(
                        "Wi-Fi",
                        true,
                        &[
                            "[fec0:0:0:ffff::1]:0",
                            "[fec0:0:0:ffff::3]:0",
                            "0.0.0.0:0",
                            "192.0.2.1:0",
                        ],
                    ),
                ],
                vec!["192.0.2.1:53"],
            ),
            (
                vec![AdapterRecord {
                    loopback_or_tunnel: true,
                    ..adapter("Loopback", true, &["127.0.0.1:0"])
                }],
                Vec::new(),
            ),
        ];
        for (adapters, expected) in cases {
            let expected: Vec<SocketAddr> = expected
                .iter()
                .map(|s| s.parse().expect("socket address"))
                .collect();
            assert_eq!(servers_from_adapters(&adapters), expected, "{adapters:?}");
        }
    }
}
