//! Network isolation, for real: an agent process in its own network namespace whose link is
//! down reports the missing gateway and the unreachable collector, and delivers those findings
//! once the link comes back. Needs Linux, root and `ip` (iproute2), as CI has.

use std::process::Command;

use firstline_collector::model::Severity;

use crate::support::{AgentProcess, TestCollector, agent_config, enroll_at};

/// A namespace joined to the host by a veth pair; removed on drop.
struct Namespace {
    name: String,
    host_link: String,
    inner_link: String,
    host_ip: String,
}

fn ip(arguments: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(arguments)
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Namespace {
    /// The namespace with an address but its link down: no route anywhere.
    fn isolated() -> Result<Self, String> {
        let id = std::process::id() % 10_000;
        let subnet = 10 + (std::process::id() % 200);
        let namespace = Namespace {
            name: format!("fl-e2e-{id}"),
            host_link: format!("flh{id}"),
            inner_link: format!("fln{id}"),
            host_ip: format!("10.231.{subnet}.1"),
        };
        let inner_ip = format!("10.231.{subnet}.2/24");
        // Leftovers of an earlier, interrupted run go first.
        let _ = ip(&["netns", "del", &namespace.name]);
        let _ = ip(&["link", "del", &namespace.host_link]);
        ip(&["netns", "add", &namespace.name])?;
        ip(&[
            "link",
            "add",
            &namespace.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &namespace.inner_link,
        ])?;
        ip(&[
            "link",
            "set",
            &namespace.inner_link,
            "netns",
            &namespace.name,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", namespace.host_ip),
            "dev",
            &namespace.host_link,
        ])?;
        ip(&["link", "set", &namespace.host_link, "up"])?;
        namespace.exec(&["ip", "link", "set", "lo", "up"])?;
        namespace.exec(&["ip", "addr", "add", &inner_ip, "dev", &namespace.inner_link])?;
        Ok(namespace)
    }

    fn exec(&self, command: &[&str]) -> Result<(), String> {
        let mut arguments = vec!["netns", "exec", &self.name];
        arguments.extend_from_slice(command);
        ip(&arguments)
    }

    /// Link up and a default route via the host: the agent's network is back.
    fn connect(&self) -> Result<(), String> {
        self.exec(&["ip", "link", "set", &self.inner_link, "up"])?;
        self.exec(&["ip", "route", "add", "default", "via", &self.host_ip])
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_link]);
    }
}

#[tokio::test]
async fn an_isolated_agent_reports_no_gateway_and_no_collector_and_delivers_once_connected() {
    if std::env::var_os("FIRSTLINE_SKIP_NETNS").is_some() {
        crate::support::skip("FIRSTLINE_SKIP_NETNS is set: not testing network isolation");
        return;
    }
    let namespace = Namespace::isolated().unwrap_or_else(|e| {
        panic!("this test needs Linux, root and iproute2 (set FIRSTLINE_SKIP_NETNS=1 to skip it on a workstation): {e}")
    });
    let collector =
        TestCollector::start_on("0.0.0.0", std::slice::from_ref(&namespace.host_ip)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("agent");
    let url = collector.url_at(&namespace.host_ip);
    let identity = enroll_at(&collector, &url, &collector.token().await, &state_dir)
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    let network = "interval = \"300ms\"\ntimeout = \"500ms\"\npings = 1\nfor = \"0s\"";
    // Pinging the gateway is the point: this agent runs in the namespace, whose gateway is
    // the test's own veth (so not through `write_config`'s guard for agents on the host).
    std::fs::write(
        &config,
        agent_config(&[("checks.network", &format!("ping_gateway = true\n{network}"))]),
    )
    .expect("write config");

    let agent = AgentProcess::start(
        &["ip", "netns", "exec", &namespace.name],
        &config,
        &state_dir,
    );
    agent
        .wait_log(
            &["finding", "network.gateway_missing", "severity=warning"],
            1,
        )
        .await;
    agent
        .wait_log(
            &[
                "finding",
                "network.collector_unreachable",
                "severity=warning",
            ],
            1,
        )
        .await;
    assert!(
        collector.findings(&device).await.is_empty(),
        "nothing can have arrived yet"
    );

    namespace
        .connect()
        .expect("restore the namespace's network");
    let missing = collector
        .wait_for_finding(&device, "network.gateway_missing", "ipv4", |f| {
            f.finding.severity == Severity::Warning
        })
        .await;
    assert!(
        missing.finding.summary.starts_with("No default gateway"),
        "{}",
        missing.finding.summary
    );
    let endpoint = url.trim_start_matches("https://");
    let unreachable = collector
        .wait_for_finding(&device, "network.collector_unreachable", endpoint, |f| {
            f.finding.severity == Severity::Warning
        })
        .await;
    assert!(
        unreachable.finding.summary.contains("unreachable"),
        "{}",
        unreachable.finding.summary
    );
    // And then the recovery, observed from inside the namespace.
    collector
        .wait_for_finding(&device, "network.gateway_missing", "ipv4", |f| {
            f.finding.severity == Severity::Ok
        })
        .await;
    collector
        .wait_for_finding(&device, "network.collector_unreachable", endpoint, |f| {
            f.finding.severity == Severity::Ok
        })
        .await;
    // Raised offline, delivered once.
    let findings = collector.findings(&device).await;
    let raised = findings
        .iter()
        .filter(|f| {
            f.finding.check == "network.gateway_missing" && f.finding.severity == Severity::Warning
        })
        .count();
    assert_eq!(raised, 1, "{findings:?}");
    drop(agent);
}
