//! The agent as an installed service: an agent started before enrollment waits (and stops
//! promptly when told) instead of failing in a loop, and the systemd units shipped in the
//! packages are ones systemd accepts without a warning.

use std::path::{Path, PathBuf};
use std::process::Command;

use firstline_agent::service::ServiceDefinition;
use firstline_agent::service::systemd::render_unit;

use crate::support::{AgentProcess, TestCollector, agent_config, enroll_with, write_config};

const WAITING: &str = "not enrolled yet: waiting for `firstline-agent enroll";

#[tokio::test]
async fn an_agent_started_before_enrollment_waits_then_connects_once_enrolled() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("agent.toml");
    write_config(&config, &agent_config(&[]));
    let state_dir = dir.path().join("state");

    let mut agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&[WAITING], 1).await;
    assert!(
        agent.is_running(),
        "an unenrolled agent waits instead of exiting: {}",
        agent.log_text()
    );

    enroll_with(&collector, &collector.token().await, &state_dir)
        .await
        .expect("enrolls while the agent waits");
    agent.wait_log(&["connected to collector"], 1).await;
    assert_eq!(
        agent.count(&[WAITING]),
        1,
        "says it is waiting once, not on every look: {}",
        agent.log_text()
    );
}

#[tokio::test]
async fn a_waiting_agent_stops_promptly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("agent.toml");
    write_config(&config, &agent_config(&[]));
    let mut agent = AgentProcess::start(&[], &config, &dir.path().join("state"));
    agent.wait_log(&[WAITING], 1).await;
    let status = agent.terminate().await;
    assert!(
        status.success(),
        "a stop while waiting is a clean exit ({status}): {}",
        agent.log_text()
    );
}

/// What `systemd-analyze verify` says about `unit` (written as `name` in a temporary
/// folder): None when it accepts it without a word about the unit, else what it said.
/// It exits 0 on unknown keys and sections, so its stderr is what tells.
fn systemd_verify_problems(name: &str, unit: &str) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, unit).expect("write unit");
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // systemd-analyze also reads the machine's other units and may complain about them
    // (Request Tracker's, which the ticket-sync test installs, names services this machine
    // lacks): only lines about this unit count.
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            let about_another_unit = line.contains(".service:") && !line.contains(name);
            !about_another_unit
                && (line.contains(name)
                    || line.contains("Unknown")
                    || line.contains("ignoring")
                    || line.contains("Invalid"))
        })
        .collect();
    if output.status.success() && complaints.is_empty() {
        None
    } else {
        let said = if output.status.success() {
            complaints.join("\n")
        } else {
            stderr.trim().to_owned()
        };
        Some(format!("{}: {said}", output.status))
    }
}

fn systemd_analyze_available() -> bool {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        available || std::env::var_os("CI").is_none(),
        "CI must have systemd-analyze (Debian's systemd package) to check the units"
    );
    available
}

/// The shipped unit with `ExecStart=`'s binary replaced by one that exists (verify checks).
fn with_binary(unit: &str, packaged_binary: &str, binary: &Path) -> String {
    let needle = format!("ExecStart={packaged_binary} ");
    assert_eq!(unit.matches(&needle).count(), 1, "{needle} in {unit}");
    unit.replace(&needle, &format!("ExecStart={} ", binary.display()))
}

#[test]
fn the_agent_and_collector_units_pass_systemd_analyze_verify() {
    if !systemd_analyze_available() {
        crate::support::skip("systemd-analyze is not installed (Debian's systemd package)");
        return;
    }
    // The check itself must bite: an unknown key is reported though systemd exits 0.
    let broken = "[Service]\nExecStart=/bin/true\nRestartSecs=5\n";
    assert!(
        systemd_verify_problems("firstline-broken.service", broken).is_some(),
        "an unknown key must be caught"
    );

    let agent_unit = render_unit(&ServiceDefinition {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_e2e-agent")),
        config_path: PathBuf::from("/etc/firstline/agent.toml"),
        state_dir: PathBuf::from("/var/lib/firstline-agent"),
    })
    .expect("renders");
    assert_eq!(
        systemd_verify_problems("firstline-agent.service", &agent_unit),
        None,
        "{agent_unit}"
    );

    let collector_unit = with_binary(
        include_str!("../../collector/dist/firstline-collector.service"),
        "/usr/bin/firstline-collector",
        Path::new(env!("CARGO_BIN_EXE_e2e-collector")),
    );
    assert_eq!(
        systemd_verify_problems("firstline-collector.service", &collector_unit),
        None,
        "{collector_unit}"
    );
}
