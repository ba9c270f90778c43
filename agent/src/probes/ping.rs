//! ICMP echo ("ping") for latency and loss, over an unprivileged ICMP datagram socket where the
//! OS allows one. Blocking: call from `spawn_blocking`.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PingResult {
    pub target: IpAddr,
    pub sent: u32,
    pub received: u32,
    pub rtt_ms: Vec<f64>,
}

impl PingResult {
    pub fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            f64::from(self.sent - self.received) * 100.0 / f64::from(self.sent)
        }
    }

    pub fn average_rtt_ms(&self) -> Option<f64> {
        (!self.rtt_ms.is_empty())
            .then(|| self.rtt_ms.iter().sum::<f64>() / self.rtt_ms.len() as f64)
    }
}

/// Sends `count` echo requests to an IPv4 `target`, waiting up to `timeout` for each reply.
/// Errors only when the OS will not let us ping at all.
pub fn ping(target: IpAddr, count: u32, timeout: Duration) -> Result<PingResult, String> {
    let IpAddr::V4(_) = target else {
        return Err("only IPv4 targets are pinged".to_owned());
    };
    // Unprivileged ICMP datagram sockets where the OS allows them (net.ipv4.ping_group_range),
    // raw sockets otherwise (root, or CAP_NET_RAW as the service has).
    let (socket, raw) = match Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)) {
        Ok(socket) => (socket, false),
        Err(datagram_error) => match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
            Ok(socket) => (socket, true),
            Err(raw_error) => {
                return Err(format!(
                    "opening an ICMP socket: {datagram_error}; raw: {raw_error}"
                ));
            }
        },
    };
    // An ICMP socket reads and writes like a UDP one; std's safe byte API will do.
    let socket = std::net::UdpSocket::from(socket);
    let identifier = u16::try_from(std::process::id() & 0xffff).unwrap_or(0x4f4c);
    socket
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let address = SocketAddr::new(target, 0);
    let mut result = PingResult {
        target,
        sent: 0,
        received: 0,
        rtt_ms: Vec::new(),
    };
    for sequence in 0..count {
        let sequence = u16::try_from(sequence).unwrap_or(u16::MAX);
        let started = Instant::now();
        match socket.send_to(&echo_request(identifier, sequence), address) {
            Ok(_) => result.sent += 1,
            // No route: the packet never left, which is loss as far as the user is concerned.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable
                ) =>
            {
                result.sent += 1;
                continue;
            }
            Err(e) => return Err(format!("sending ICMP echo to {target}: {e}")),
        }
        let deadline = started + timeout;
        let mut reply = [0u8; 1500];
        while Instant::now() < deadline {
            match socket.recv_from(&mut reply) {
                Ok((length, from)) => {
                    // Raw sockets see the IP header (and every ICMP packet); datagram ones only
                    // their own ICMP messages, with the identifier rewritten by the kernel.
                    let header = if raw {
                        usize::from(reply[0] & 0x0f) * 4
                    } else {
                        0
                    };
                    let Some(reply) = reply.get(header..length).filter(|r| r.len() >= 8) else {
                        continue;
                    };
                    let ours = !raw
                        || (from.ip() == target
                            && u16::from_be_bytes([reply[4], reply[5]]) == identifier);
                    if reply[0] == 0 && ours && u16::from_be_bytes([reply[6], reply[7]]) == sequence
                    {
                        result.received += 1;
                        result.rtt_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    Ok(result)
}

fn echo_request(identifier: u16, sequence: u16) -> [u8; 16] {
    let mut packet = [0u8; 16];
    packet[0] = 8; // echo request
    packet[4..6].copy_from_slice(&identifier.to_be_bytes());
    packet[6..8].copy_from_slice(&sequence.to_be_bytes());
    packet[8..16].copy_from_slice(b"firstlin");
    let checksum = checksum(&packet);
    packet[2..4].copy_from_slice(&checksum.to_be_bytes());
    packet
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
