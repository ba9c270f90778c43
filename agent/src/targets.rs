//! Where a configuration makes the agent send packets, named by the setting that causes each:
//! for firewall rules, and for test runs that must keep every packet on the machine.

use std::net::IpAddr;

use crate::config::Settings;

/// One destination the agent may contact on its own (checks) or when asked (playbooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkTarget {
    /// The setting that causes the traffic, e.g. `checks.network.ping_gateway`.
    pub setting: &'static str,
    /// What is contacted, as written in the config or found on this machine.
    pub target: String,
    /// Its address when known before running; `None` for a name resolved at run time.
    pub address: Option<IpAddr>,
}

impl NetworkTarget {
    /// True when the packets never leave this computer.
    pub fn stays_on_this_computer(&self) -> bool {
        self.address.is_some_and(|address| address.is_loopback())
    }
}

impl std::fmt::Display for NetworkTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.target)
    }
}

/// Every destination `settings` leads to on this machine today (the gateway is read from its
/// routing table, the system's resolvers from its resolv.conf). The collector is not listed:
/// it comes from enrollment unless `collector_url` moves it.
pub fn network_targets(settings: &Settings) -> Vec<NetworkTarget> {
    let checks = &settings.checks;
    let mut targets = Vec::new();
    let mut add = |setting: &'static str, target: &str| {
        targets.push(NetworkTarget {
            setting,
            target: target.to_owned(),
            address: address_of(target),
        });
    };
    if let Some(url) = &settings.collector_url {
        add("collector_url", url);
    }
    // The playbooks ping the gateway even while the periodic network check is off.
    if checks.network.ping_gateway
        && let Ok(routes) = crate::probes::gateway::default_routes()
        && let Some(route) = routes.first()
    {
        add("checks.network.ping_gateway", &route.gateway.to_string());
    }
    // Playbooks resolve names with these whether or not `[checks.dns] names` is set.
    for server in checks.dns.server_addresses().unwrap_or_default() {
        add("checks.dns.servers", &server.to_string());
    }
    if checks.dns.system_resolver {
        for server in crate::probes::dns::system_servers().unwrap_or_default() {
            add("checks.dns.system_resolver", &server.to_string());
        }
    }
    for endpoint in &checks.tcp.endpoints {
        add("checks.tcp.endpoints", endpoint);
    }
    for url in &checks.https.urls {
        add("checks.https.urls", url);
    }
    for printer in &settings.playbooks.printers {
        add("playbooks.printers", printer);
    }
    for mail in &settings.playbooks.mail {
        add("playbooks.mail", mail);
    }
    if let Some(url) = &settings.playbooks.probe_url {
        add("playbooks.probe_url", &url.url());
    }
    targets
}

/// The address of `target` ("host", "host:port", "[v6]:port", "scheme://host[:port]/path")
/// when it is an IP address or `localhost`; `None` for any other name.
fn address_of(target: &str) -> Option<IpAddr> {
    let rest = target.split_once("://").map_or(target, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None if authority.matches(':').count() == 1 => {
            authority.split(':').next().unwrap_or_default()
        }
        None => authority,
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(IpAddr::from([127, 0, 0, 1]));
    }
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn targets(config: &str) -> Vec<(String, bool)> {
        let settings = Settings::parse(config, Path::new("agent.toml")).expect("valid config");
        network_targets(&settings)
            .into_iter()
            .map(|target| (target.to_string(), target.stays_on_this_computer()))
            .collect()
    }

    #[test]
    fn names_each_destination_by_its_setting_and_tells_loopback_from_the_rest() {
        let local = "[checks.network]\nping_gateway = false\n\
                     [checks.dns]\nservers = [\"127.0.0.1:5353\"]\nsystem_resolver = false\n";
        assert_eq!(
            targets(local),
            [("checks.dns.servers: 127.0.0.1:5353".to_owned(), true)]
        );
        let cases = [
            ("[checks.tcp]\nendpoints = [\"192.0.2.10:443\"]", false),
            ("[checks.tcp]\nendpoints = [\"[::1]:8443\"]", true),
            ("[checks.tcp]\nendpoints = [\"localhost:25\"]", true),
            (
                "[checks.https]\nurls = [\"https://intranet.example.com/\"]",
                false,
            ),
            (
                "[checks.https]\nurls = [\"https://127.0.0.1:8443/x\"]",
                true,
            ),
            (
                "[playbooks]\nprinters = [\"ipp://printer.example.com\"]",
                false,
            ),
            ("[playbooks]\nmail = [\"127.0.0.1:587\"]", true),
            (
                "[playbooks]\nprobe_url = \"https://www.example.com/\"",
                false,
            ),
            ("[playbooks]\nprobe_url = \"http://127.0.0.1:8080/\"", true),
            (
                "collector_url = \"https://collector.example.com:7443\"",
                false,
            ),
        ];
        for (section, stays) in cases {
            let config = if section.starts_with('[') {
                local.replacen(
                    "[checks.network]",
                    &format!("{section}\n[checks.network]"),
                    1,
                )
            } else {
                format!("{section}\n{local}")
            };
            let found = targets(&config);
            assert_eq!(found.len(), 2, "{section}: {found:?}");
            let added = found
                .iter()
                .find(|(name, _)| !name.starts_with("checks.dns.servers"))
                .expect("the added target");
            assert_eq!(added.1, stays, "{section}: {added:?}");
        }
    }

    #[test]
    fn the_defaults_ask_the_system_resolvers_and_ping_the_gateway_where_there_is_one() {
        let found = targets("");
        let settings = Settings::parse("", Path::new("agent.toml")).expect("defaults");
        let routes = crate::probes::gateway::default_routes().unwrap_or_default();
        let expected = routes.len().min(1)
            + crate::probes::dns::system_servers()
                .unwrap_or_default()
                .len();
        assert_eq!(found.len(), expected, "{found:?}");
        assert!(settings.checks.network.ping_gateway);
        assert!(settings.checks.dns.system_resolver);
    }
}
