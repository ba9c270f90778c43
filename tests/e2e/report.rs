//! `firstline-agent report "I can't open https://…"` end to end: a real agent process, a
//! resolver and sites the test controls, the real command line, the real collector. Each
//! broken layer must be the one the ticket's evidence names.

use std::net::Ipv4Addr;

use firstline_collector::model::Role;
use serde_json::Value;

use crate::servers::{DnsServer, Endpoint, TestPki};
use crate::support::{
    AgentProcess, SimulatedDevice, TestCollector, agent_config, http_json, wait_for, write_config,
};

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// `e2e-agent report TEXT --json` as the user would run it.
fn report(config: &std::path::Path, state_dir: &std::path::Path, text: &str) -> (bool, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-agent"))
        .arg("report")
        .arg(text)
        .arg("--json")
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state_dir)
        .output()
        .expect("run e2e-agent report");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "report printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_report_names_the_first_failing_layer_in_the_ticket() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let dir = tempfile::tempdir().expect("temp dir");

    // The sites: healthy, refusing connections, an expired certificate, a certificate for
    // another name, and a server error. One resolver knows their names; "gone" it does not.
    let pki = TestPki::new();
    let healthy = Endpoint::https_site(pki.site(&["ok.intranet.test"], false), 200).await;
    let mut closed = Endpoint::tcp().await;
    closed.down();
    let expired = Endpoint::https_site(pki.site(&["expired.intranet.test"], true), 200).await;
    let mismatched = Endpoint::https_site(pki.site(&["other.example.com"], false), 200).await;
    let failing = Endpoint::https_site(pki.site(&["error.intranet.test"], false), 500).await;
    let dns = DnsServer::start_names(&[
        ("ok.intranet.test", LOCAL),
        ("closed.intranet.test", LOCAL),
        ("expired.intranet.test", LOCAL),
        ("mismatch.intranet.test", LOCAL),
        ("error.intranet.test", LOCAL),
    ])
    .await;
    let ca_file = dir.path().join("intranet-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).expect("write CA");

    let state_dir = dir.path().join("agent");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[
            ("checks.dns", &format!("servers = [\"{}\"]", dns.address)),
            (
                "checks.https",
                &format!("ca_file = {:?}", ca_file.display().to_string()),
            ),
            ("playbooks", "timeout = \"2s\""),
        ]),
    );
    let agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["listening for user reports"], 1).await;

    let port = |endpoint: &Endpoint| endpoint.address.port();
    let cases: [(String, Option<&str>); 6] = [
        (
            format!("I can't open https://ok.intranet.test:{}/", port(&healthy)),
            None,
        ),
        (
            "The intranet https://gone.intranet.test/ does not load".to_owned(),
            Some("dns"),
        ),
        (
            format!(
                "I cannot open https://closed.intranet.test:{}/",
                port(&closed)
            ),
            Some("tcp"),
        ),
        (
            format!(
                "I can't open https://expired.intranet.test:{}/",
                port(&expired)
            ),
            Some("tls"),
        ),
        (
            format!(
                "I can't open https://mismatch.intranet.test:{}/",
                port(&mismatched)
            ),
            Some("tls"),
        ),
        (
            format!(
                "I can't open https://error.intranet.test:{}/",
                port(&failing)
            ),
            Some("http"),
        ),
    ];
    for (text, expected) in &cases {
        let (sent, outcome) = report(&config, &state_dir, text);
        assert!(
            sent,
            "{text}: {outcome:#}\nagent log:\n{}",
            agent.log_text()
        );
        assert_eq!(outcome["queued"], true, "{text}");
        assert_eq!(outcome["results"][0]["playbook"], "web", "{text}");
        assert_eq!(
            outcome["results"][0]["failed_layer"].as_str(),
            *expected,
            "{text}: {:#}",
            outcome["results"][0]
        );
        let report_id = outcome["report_id"].as_str().expect("report id").to_owned();

        // The report reaches the collector and opens a ticket with the evidence.
        let ticket = wait_for(&format!("a ticket for report {report_id}"), || async {
            let (_, tickets) = http_json(
                http,
                "GET",
                &format!("/api/v1/tickets?kind=report&device={device}"),
                Some(&key),
                None,
            )
            .await;
            tickets.as_array().and_then(|tickets| {
                tickets
                    .iter()
                    .find(|t| t["resource"] == report_id.as_str())
                    .cloned()
            })
        })
        .await;
        assert_eq!(
            ticket["description"],
            text.as_str(),
            "the user's words are the description"
        );
        let (_, detail) = http_json(
            http,
            "GET",
            &format!("/api/v1/tickets/{}", ticket["id"]),
            Some(&key),
            None,
        )
        .await;
        let diagnosis = detail["timeline"]
            .as_array()
            .and_then(|timeline| {
                timeline
                    .iter()
                    .find(|entry| entry["data"]["playbooks"].is_array())
            })
            .unwrap_or_else(|| panic!("{text}: no diagnosis in the timeline: {detail:#}"));
        assert_eq!(
            diagnosis["data"]["failed_layer"].as_str(),
            *expected,
            "{text}: {diagnosis:#}"
        );
    }
    // The expired and mismatched certificates are told apart in plain words.
    let (_, tls) = report(&config, &state_dir, &cases[3].0);
    assert!(
        tls["results"][0]["conclusion"]
            .as_str()
            .is_some_and(|c| c.contains("expired")),
        "{tls:#}"
    );
    let (_, tls) = report(&config, &state_dir, &cases[4].0);
    assert!(
        tls["results"][0]["conclusion"]
            .as_str()
            .is_some_and(|c| c.contains("other.example.com")),
        "{tls:#}"
    );
}
