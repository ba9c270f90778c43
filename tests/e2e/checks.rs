//! Real faults, detected by the real agent and delivered through the real collector.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use firstline_agent::identity::Identity;
use firstline_collector::model::{Severity, StoredFinding};

use crate::servers::{DnsServer, Endpoint, SilentResolver, TestPki};
use crate::support::{TestAgent, TestCollector, agent_config, enroll_with, write_config};

struct Setup {
    collector: TestCollector,
    identity: Identity,
    config_path: std::path::PathBuf,
    dir: tempfile::TempDir,
}

async fn setup(config: &str) -> Setup {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enroll_with(
        &collector,
        &collector.token().await,
        &dir.path().join("agent"),
    )
    .await
    .expect("enrolls");
    let config_path = dir.path().join("agent.toml");
    write_config(&config_path, config);
    Setup {
        collector,
        identity,
        config_path,
        dir,
    }
}

fn firing(finding: &StoredFinding) -> bool {
    finding.finding.severity >= Severity::Warning
}

fn cleared(finding: &StoredFinding) -> bool {
    finding.finding.severity == Severity::Ok
}

fn evidence(finding: &StoredFinding) -> serde_json::Value {
    serde_json::from_str(&finding.finding.evidence_json).expect("evidence is JSON")
}

#[tokio::test]
async fn disk_fires_below_current_usage_and_clears_when_the_threshold_is_raised() {
    let root = firstline_agent::probes::disk::mounts()
        .expect("mounts")
        .into_iter()
        .find(|mount| mount.mount_point == "/")
        .expect("a root mount");
    let used_pct =
        (root.total_bytes - root.available_bytes) as f64 * 100.0 / root.total_bytes as f64;
    let disk = |raise: f64, clear: f64| {
        format!(
            "interval = \"200ms\"\nignore_mounts = []\nused_pct = {{ raise = {raise:.1}, clear = {clear:.1}, critical = 100.0, for = \"0s\", clear_for = \"0s\" }}"
        )
    };
    let low = (used_pct - 5.0).max(0.5);
    let setup = setup(&agent_config(&[("checks.disk", &disk(low, low - 0.4))])).await;
    let device = setup.identity.device_id().to_owned();
    let agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);

    let fired = setup
        .collector
        .wait_for_finding(&device, "disk.used_pct", "/", firing)
        .await;
    assert!(
        fired.finding.summary.starts_with("Disk / is "),
        "{}",
        fired.finding.summary
    );
    assert_eq!(evidence(&fired)["mount_point"], "/");

    // Raise the threshold above today's usage: the running agent picks the edit up and clears.
    write_config(
        &setup.config_path,
        &agent_config(&[("checks.disk", &disk(99.9, 99.8))]),
    );
    let clear = setup
        .collector
        .wait_for_finding(&device, "disk.used_pct", "/", cleared)
        .await;
    assert!(
        clear.finding.summary.starts_with("Cleared: Disk / is "),
        "{}",
        clear.finding.summary
    );
    agent.stop().await;
}

#[tokio::test]
async fn a_bad_config_edit_is_refused_and_reported_with_the_file_and_the_reason() {
    let setup = setup(&agent_config(&[])).await;
    let device = setup.identity.device_id().to_owned();
    let mut agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);
    agent.wait_connected().await;
    write_config(
        &setup.config_path,
        "[checks.disk]\nused_pct = { raise = 50.0, clear = 70.0 }\n",
    );
    let refused = setup
        .collector
        .wait_for_finding(&device, "agent.config_invalid", "config", firing)
        .await;
    let text = evidence(&refused)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains(&setup.config_path.display().to_string())
            && text.contains("clear (70) must not be above raise (50)"),
        "{text}"
    );
    write_config(&setup.config_path, &agent_config(&[]));
    setup
        .collector
        .wait_for_finding(&device, "agent.config_invalid", "config", cleared)
        .await;
    agent.stop().await;
    drop(setup.dir);
}

#[tokio::test]
async fn dns_failure_names_the_resolver_and_the_error_and_fixing_the_config_clears_it() {
    let silent = SilentResolver::start().await;
    let working = DnsServer::start(Ipv4Addr::new(192, 0, 2, 10)).await;
    let dns = |server: std::net::SocketAddr| {
        format!(
            "names = [\"intranet.example.com\"]\nservers = [\"{server}\"]\ninterval = \"200ms\"\ntimeout = \"300ms\"\nfor = \"0s\""
        )
    };
    let setup = setup(&agent_config(&[("checks.dns", &dns(silent.address))])).await;
    let device = setup.identity.device_id().to_owned();
    let agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);

    let fired = setup
        .collector
        .wait_for_finding(&device, "dns.resolve", "intranet.example.com", firing)
        .await;
    let errors = evidence(&fired)["errors"].to_string();
    assert!(
        errors.contains(&silent.address.to_string()) && errors.contains("no answer"),
        "{errors}"
    );
    assert!(
        fired.finding.summary.contains("no DNS server answered"),
        "{}",
        fired.finding.summary
    );

    write_config(
        &setup.config_path,
        &agent_config(&[("checks.dns", &dns(working.address))]),
    );
    let clear = setup
        .collector
        .wait_for_finding(&device, "dns.resolve", "intranet.example.com", cleared)
        .await;
    assert_eq!(evidence(&clear)["server"], working.address.to_string());
    assert_eq!(evidence(&clear)["addresses"][0], "192.0.2.10");
    agent.stop().await;
}

#[tokio::test]
async fn tcp_and_https_endpoints_fire_when_stopped_and_clear_when_back() {
    let pki = TestPki::new();
    let mut tcp = Endpoint::tcp().await;
    let mut https = Endpoint::https(&pki).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("intranet-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).expect("write CA");
    let url = format!("https://localhost:{}/", https.address.port());
    let tcp_endpoint = tcp.address.to_string();
    let setup = setup(&agent_config(&[
        ("checks.tcp", &format!("endpoints = [\"{tcp_endpoint}\"]\ninterval = \"200ms\"\ntimeout = \"500ms\"\nfor = \"0s\"")),
        (
            "checks.https",
            &format!("urls = [\"{url}\"]\nca_file = \"{}\"\ninterval = \"200ms\"\ntimeout = \"1s\"\nfor = \"0s\"", ca_file.display()),
        ),
    ]))
    .await;
    let device = setup.identity.device_id().to_owned();
    let mut agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);
    agent.wait_connected().await;

    tcp.down().await;
    https.down().await;
    let tcp_down = setup
        .collector
        .wait_for_finding(&device, "tcp.connect", &tcp_endpoint, firing)
        .await;
    assert!(
        evidence(&tcp_down)["error"]
            .as_str()
            .unwrap_or_default()
            .contains("refused"),
        "{:?}",
        evidence(&tcp_down)
    );
    let https_down = setup
        .collector
        .wait_for_finding(&device, "https.reachable", &url, firing)
        .await;
    assert_eq!(evidence(&https_down)["failed_stage"], "connect");

    tcp.up().await;
    https.up().await;
    setup
        .collector
        .wait_for_finding(&device, "tcp.connect", &tcp_endpoint, cleared)
        .await;
    let back = setup
        .collector
        .wait_for_finding(&device, "https.reachable", &url, cleared)
        .await;
    assert_eq!(evidence(&back)["http_status"], 200);
    assert!(
        evidence(&back)["certificate"]["days_left"]
            .as_f64()
            .unwrap_or_default()
            > 300.0
    );
    let findings = setup.collector.findings(&device).await;
    assert!(
        !findings
            .iter()
            .any(|f| f.finding.check == "https.cert_expiry_days"),
        "a healthy certificate raises nothing: {findings:?}"
    );
    agent.stop().await;
}

#[tokio::test]
async fn a_crash_file_dropped_into_a_watched_folder_fires_within_seconds() {
    let crashes = tempfile::tempdir().expect("temp dir");
    let watch = crate::support::crash_watch_section(crashes.path());
    let setup = setup(&agent_config(&[("[[checks.watch]]", &watch)])).await;
    let device = setup.identity.device_id().to_owned();
    let mut agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);
    agent.wait_connected().await;
    // Give the watcher a moment to be in place: it starts with the agent.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let dropped = Instant::now();
    std::fs::write(
        crashes.path().join("outlook.exe.4242.crash"),
        "ProblemType: Crash\n",
    )
    .expect("write crash");
    std::fs::write(crashes.path().join("notes.txt"), "not a crash").expect("write other");
    let fired = setup
        .collector
        .wait_for_finding(&device, "crash.new_file", "outlook.exe", firing)
        .await;
    eprintln!("crash file to stored finding: {:?}", dropped.elapsed());
    assert!(
        fired.finding.summary.contains("outlook.exe.4242.crash"),
        "{}",
        fired.finding.summary
    );
    let findings = setup.collector.findings(&device).await;
    assert!(
        !findings
            .iter()
            .any(|f| f.finding.resource.contains("notes")),
        "only *.crash files count"
    );
    agent.stop().await;
}

#[tokio::test]
async fn a_busy_process_fires_sustained_high_cpu_naming_it() {
    // One core of two, flat out.
    let mut busy = std::process::Command::new("yes")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start a busy process");
    let cpu = "interval = \"500ms\"\nusage_pct = { raise = 35.0, clear = 20.0, for = \"1s\", clear_for = \"0s\" }";
    let setup = setup(&agent_config(&[("checks.cpu", cpu)])).await;
    let device = setup.identity.device_id().to_owned();
    let agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);
    let fired = setup
        .collector
        .wait_for_finding(&device, "cpu.usage_pct", "cpu", firing)
        .await;
    let _ = busy.kill();
    let _ = busy.wait();
    assert!(
        fired.finding.summary.contains("yes ("),
        "{}",
        fired.finding.summary
    );
    let top = evidence(&fired)["top_by_cpu"].to_string();
    assert!(top.contains(&format!("\"pid\":{}", busy.id())), "{top}");
    agent.stop().await;
}

/// A check switched off in the config takes its ticket along as "no longer monitored":
/// cancelled, so it never reads as recovered nor counts as fixed.
#[tokio::test]
async fn a_check_removed_from_the_config_retires_its_ticket_not_recovers_it() {
    let root = firstline_agent::probes::disk::mounts()
        .expect("mounts")
        .into_iter()
        .find(|mount| mount.mount_point == "/")
        .expect("a root mount");
    let used_pct =
        (root.total_bytes - root.available_bytes) as f64 * 100.0 / root.total_bytes as f64;
    let low = (used_pct - 5.0).max(0.5);
    let disk = format!(
        "interval = \"200ms\"\nignore_mounts = []\nused_pct = {{ raise = {low:.1}, clear = {:.1}, critical = 100.0, for = \"0s\", clear_for = \"0s\" }}",
        low - 0.4
    );
    let setup = setup(&agent_config(&[("checks.disk", &disk)])).await;
    let device = setup.identity.device_id().to_owned();
    let agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);
    setup
        .collector
        .wait_for_finding(&device, "disk.used_pct", "/", firing)
        .await;
    let store = setup.collector.running().store.clone();
    let ticket = crate::support::wait_for("the disk ticket", || async {
        let tickets = store
            .tickets(&firstline_collector::store::TicketFilter {
                device_id: Some(device.clone()),
                ..Default::default()
            })
            .await
            .ok()?;
        tickets.into_iter().find(|t| t.check == "disk.used_pct")
    })
    .await;
    assert!(ticket.state.is_open(), "{:?}", ticket.state);

    // The disk check is switched off (`enabled = false`, as agent_config writes it).
    write_config(&setup.config_path, &agent_config(&[]));
    let retired = crate::support::wait_for("the ticket retired", || async {
        let detail = store.ticket_detail(ticket.id).await.ok()??;
        (!detail.ticket.state.is_open()).then_some(detail)
    })
    .await;
    assert_eq!(retired.ticket.state.as_str(), "cancelled");
    assert_eq!(
        retired.ticket.resolution.as_deref(),
        Some("no longer monitored")
    );
    assert_eq!(retired.ticket.resolved_at_ms, None, "never resolved");
    assert!(
        retired
            .timeline
            .iter()
            .all(|entry| !entry.text.contains("recovered")),
        "{:?}",
        retired.timeline
    );
    agent.stop().await;
}

/// Where a PC is (`site`) is read again when the file changes: the collector hears the new
/// site within seconds, without a restart.
#[tokio::test]
async fn a_site_edited_in_the_local_file_applies_without_a_restart() {
    let setup = setup(&format!("site = \"warsaw\"\n{}", agent_config(&[]))).await;
    let device = setup.identity.device_id().to_owned();
    let mut agent = TestAgent::start_full(setup.identity.clone(), &setup.config_path);
    agent.wait_connected().await;
    let store = setup.collector.running().store.clone();
    let site_is = |site: &'static str| {
        let (store, device) = (store.clone(), device.clone());
        async move {
            crate::support::wait_for(&format!("the site {site}"), || async {
                (store.device(&device).await.ok()??.site == site).then_some(())
            })
            .await;
        }
    };
    site_is("warsaw").await;
    write_config(
        &setup.config_path,
        &format!("site = \"krakow\"\n{}", agent_config(&[])),
    );
    site_is("krakow").await;
    agent.stop().await;
}
