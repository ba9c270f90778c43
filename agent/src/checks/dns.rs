//! `dns.resolve` per configured name: which server answered, what, how fast, or why not.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::rule::{Observation, Rule};
use super::threshold::duration;
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::Severity;
use crate::probes::dns::{self, Resolution};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// Names users depend on, e.g. ["intranet.example.com", "mail.example.com"].
    pub names: Vec<String>,
    /// Resolvers to ask ("192.0.2.53" or "192.0.2.53:53"); empty means the system's.
    pub servers: Vec<String>,
    /// Whether the system's resolvers (`/etc/resolv.conf`, the OS's own lookup with its hosts
    /// file) may be asked: when `servers` is empty, and by playbooks after `servers` gave no
    /// address. Off, only `servers` are ever asked (and `localhost` is loopback).
    pub system_resolver: bool,
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    #[serde(rename = "for", deserialize_with = "duration")]
    pub fire_after: Duration,
    #[serde(rename = "clear_for", deserialize_with = "duration")]
    pub clear_after: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            names: Vec::new(),
            servers: Vec::new(),
            system_resolver: true,
            timeout: Duration::from_secs(2),
            fire_after: Duration::from_secs(60),
            clear_after: Duration::ZERO,
        }
    }
}

pub const RESOLVE: &str = "dns.resolve";

struct DnsCheck {
    interval: Duration,
    names: Vec<String>,
    servers: Vec<SocketAddr>,
    timeout: Duration,
    rule: Rule,
}

pub fn build(config: &DnsConfig) -> Result<Option<Box<dyn Check>>, String> {
    if config.names.is_empty() {
        return Ok(None);
    }
    let servers = config
        .servers
        .iter()
        .map(|server| {
            parse_server(server)
                .ok_or_else(|| format!("servers: {server:?} is not an IP address or IP:port"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if servers.is_empty() && !config.system_resolver {
        return Err(
            "names need servers to ask: servers is empty and system_resolver = false".to_owned(),
        );
    }
    Ok(Some(Box::new(DnsCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(100))?,
        names: config.names.clone(),
        servers,
        timeout: config
            .timeout
            .clamp(Duration::from_millis(50), Duration::from_secs(30)),
        rule: Rule::boolean(Severity::Warning, config.fire_after, config.clear_after),
    })))
}

impl DnsConfig {
    /// The servers to ask: the configured ones (port 53 unless given), else the system's
    /// unless `system_resolver` is off (then none).
    pub fn resolvers(&self) -> Result<Vec<SocketAddr>, String> {
        let servers = self.server_addresses()?;
        if servers.is_empty() && self.system_resolver {
            // Where the system's servers cannot be read yet (Windows), the playbooks run with
            // none, and their DNS step says so, rather than not at all; the DNS check fails.
            Ok(dns::system_servers().unwrap_or_default())
        } else {
            Ok(servers)
        }
    }

    /// The configured servers as addresses (port 53 unless given); empty means the system's.
    pub fn server_addresses(&self) -> Result<Vec<SocketAddr>, String> {
        self.servers
            .iter()
            .map(|server| {
                parse_server(server)
                    .ok_or_else(|| format!("servers: {server:?} is not an IP address or IP:port"))
            })
            .collect()
    }
}

fn parse_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

impl Check for DnsCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(RESOLVE, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[RESOLVE]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let servers = if self.servers.is_empty() {
                dns::system_servers()?
            } else {
                self.servers.clone()
            };
            let mut observations = Vec::new();
            for name in &self.names {
                let resolution = dns::resolve(name, &servers, self.timeout).await;
                observations.push(evaluate(&resolution, self.rule));
            }
            Ok(observations)
        })
    }
}

fn evaluate(resolution: &Resolution, rule: Rule) -> Observation {
    let summary = match (resolution.failure(), &resolution.server) {
        (Some(failure), _) => format!("{} does not resolve: {failure}", resolution.name),
        (None, Some(server)) => format!(
            "{} resolves to {} (answered by {server} in {:.0} ms)",
            resolution.name,
            resolution
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            resolution.duration_ms
        ),
        (None, None) => format!("{} resolves", resolution.name),
    };
    Observation {
        check: RESOLVE,
        resource: resolution.name.clone(),
        value: if resolution.resolved() { 0.0 } else { 1.0 },
        rule,
        summary,
        evidence: evidence! {
            "name" => resolution.name,
            "server" => resolution.server.map(|s| s.to_string()),
            "response_code" => resolution.response_code,
            "addresses" => resolution.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "duration_ms" => (resolution.duration_ms * 10.0).round() / 10.0,
            "errors" => resolution.errors,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_resolver_and_the_error() {
        let nxdomain = Resolution {
            name: "intranet.example.com".to_owned(),
            server: Some("192.0.2.53:53".parse().expect("addr")),
            response_code: Some("NXDOMAIN".to_owned()),
            addresses: Vec::new(),
            duration_ms: 3.0,
            errors: Vec::new(),
        };
        let rule = Rule::boolean(Severity::Warning, Duration::ZERO, Duration::ZERO);
        let observation = evaluate(&nxdomain, rule);
        assert_eq!(observation.value, 1.0);
        assert_eq!(
            observation.summary,
            "intranet.example.com does not resolve: 192.0.2.53:53 says the name does not exist (NXDOMAIN)"
        );
        let silent = Resolution {
            server: None,
            response_code: None,
            errors: vec!["192.0.2.53:53: no answer within 2s".to_owned()],
            ..nxdomain
        };
        assert!(
            evaluate(&silent, rule)
                .summary
                .contains("no DNS server answered (192.0.2.53:53: no answer within 2s)")
        );
        assert!(
            parse_server("192.0.2.1").is_some()
                && parse_server("[::1]:5353").is_some()
                && parse_server("dns").is_none()
        );
    }
}
