//! The suite's own guard: no agent it starts on the host may send packets beyond loopback.
//! These make sure the guard bites, naming the setting, on what would leave the machine.

use crate::support::{agent_config, assert_stays_on_this_machine};

fn refusal(config: &str) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, config).expect("write config");
    std::panic::catch_unwind(|| assert_stays_on_this_machine(&path))
        .err()
        .map(|panic| panic.downcast_ref::<String>().cloned().unwrap_or_default())
}

#[test]
fn the_guard_names_every_setting_that_would_leave_this_machine() {
    assert_eq!(
        refusal(&agent_config(&[])),
        None,
        "the suite's default config"
    );
    let cases = [
        (
            "checks.tcp",
            "endpoints = [\"192.0.2.10:443\"]",
            "checks.tcp.endpoints: 192.0.2.10:443",
        ),
        (
            "checks.https",
            "urls = [\"https://intranet.example.com/\"]",
            "checks.https.urls",
        ),
        (
            "playbooks",
            "printers = [\"printer.example.com:9100\"]",
            "playbooks.printers",
        ),
        (
            "checks.dns",
            "servers = [\"192.0.2.53\"]",
            "checks.dns.servers: 192.0.2.53:53",
        ),
    ];
    for (section, body, named) in cases {
        let refused = refusal(&agent_config(&[(section, body)]));
        assert!(
            refused
                .as_deref()
                .is_some_and(|message| message.contains(named)),
            "{section} {body}: {refused:?}"
        );
    }
    // The shipped defaults ping the gateway and ask the system's resolvers: on a machine with
    // either, the guard refuses them by name.
    let gateway = firstline_agent::probes::gateway::default_routes()
        .unwrap_or_default()
        .first()
        .map(|route| route.gateway);
    let resolvers = firstline_agent::probes::dns::system_servers().unwrap_or_default();
    let defaults = refusal("");
    if let Some(gateway) = gateway.filter(|gateway| !gateway.is_loopback()) {
        let named = format!("checks.network.ping_gateway: {gateway}");
        assert!(
            defaults.as_deref().is_some_and(|m| m.contains(&named)),
            "{defaults:?}"
        );
    }
    if let Some(resolver) = resolvers.iter().find(|server| !server.ip().is_loopback()) {
        let named = format!("checks.dns.system_resolver: {resolver}");
        assert!(
            defaults.as_deref().is_some_and(|m| m.contains(&named)),
            "{defaults:?}"
        );
    }
}
