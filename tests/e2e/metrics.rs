//! `/metrics` as Prometheus sees it: scraped over HTTP and read by a real parser (Debian's
//! `python3-prometheus-client`), moving as agents send findings, refusals and heartbeats; and
//! the agent's own health arriving with its heartbeats, shown per device by the REST API.

use std::collections::HashMap;

use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::Value;

use crate::support::{
    SimulatedDevice, TestAgent, TestCollector, agent_config, enroll_with, finding, http_call,
    http_json, wait_for, write_config,
};

/// One scrape, as a parser saw it: every sample by name and sorted labels.
struct Scrape {
    samples: HashMap<String, f64>,
}

impl Scrape {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples.get(&sample_key(name, labels)).copied()
    }

    fn must(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| {
            let mut known: Vec<_> = self.samples.keys().collect();
            known.sort();
            panic!(
                "no sample {} in the scrape; it has {known:#?}",
                sample_key(name, labels)
            )
        })
    }
}

fn sample_key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// Reads an exposition with the parser for the format named in argv[1] (the classic
/// Prometheus text format, or OpenMetrics); prints the samples as JSON.
const PARSE: &str = r#"
import json, sys
if sys.argv[1] == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({"family": family.name, "type": family.type, "documentation": family.documentation,
                        "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(samples))
"#;

const PYTHON: &str = "/usr/bin/python3";
/// What Prometheus sends when it scrapes (it prefers OpenMetrics).
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Whether the real parser is here: `.ci/run` installs it, so in CI its absence fails.
fn parser_available() -> bool {
    let available = std::process::Command::new(PYTHON)
        .args(["-c", "import prometheus_client.parser"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        crate::support::skip("python3-prometheus-client is not installed (.ci/run installs it)");
    }
    available
}

/// `GET /metrics` twice, parsed for real: as Prometheus scrapes it (OpenMetrics, strict
/// parser) and as curl would (classic text format, classic parser). Both must hold the same
/// samples; every family must be typed, documented and prefixed. Values are the classic one's.
async fn scrape(collector: &TestCollector) -> Scrape {
    let classic = scrape_as(collector, None, "text/plain; version=0.0.4", "classic").await;
    let openmetrics = scrape_as(
        collector,
        Some(PROMETHEUS_ACCEPT),
        "application/openmetrics-text; version=1.0.0",
        "openmetrics",
    )
    .await;
    // Values read from the database may move between the two scrapes (the dispatcher expands
    // notifications meanwhile); which samples there are may not.
    let names = |scrape: &Scrape| {
        let mut names: Vec<String> = scrape.samples.keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&classic),
        names(&openmetrics),
        "the two formats disagree"
    );
    classic
}

async fn scrape_as(
    collector: &TestCollector,
    accept: Option<&str>,
    content_type: &str,
    parser: &str,
) -> Scrape {
    let address = collector.running().http_address;
    let headers: Vec<(&str, &str)> = accept.map(|a| vec![("Accept", a)]).unwrap_or_default();
    let (status, head, body) = http_call(address, "GET", "/metrics", &headers, None).await;
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-type: {content_type}")),
        "{head}"
    );
    let Value::String(text) = body else {
        panic!("/metrics answered JSON: {body}")
    };
    let parsed = parse(&text, parser).await;
    let mut samples = HashMap::new();
    for sample in parsed.as_array().expect("a list of samples") {
        let family = sample["family"].as_str().unwrap_or_default();
        assert!(
            family.starts_with("firstline_"),
            "{family} lacks the prefix"
        );
        assert!(
            !sample["documentation"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{parser}: {family} has no HELP text in\n{text}"
        );
        let kind = sample["type"].as_str().unwrap_or_default();
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind),
            "{parser}: {family} is typed {kind:?} in\n{text}"
        );
        let labels: Vec<(&str, &str)> = sample["labels"]
            .as_object()
            .expect("labels")
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
            .collect();
        let name = sample["name"].as_str().expect("name");
        let value = sample["value"].as_f64().expect("value");
        samples.insert(sample_key(name, &labels), value);
    }
    Scrape { samples }
}

async fn parse(text: &str, parser: &str) -> Value {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(PYTHON)
        .args(["-c", PARSE, parser])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start python3");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).await.expect("write");
    drop(stdin);
    let output = child.wait_with_output().await.expect("python3 runs");
    assert!(
        output.status.success(),
        "the {parser} parser refused /metrics: {}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("parser output is JSON")
}

#[tokio::test]
async fn metrics_parse_and_move_with_findings_refusals_and_tickets() {
    if !parser_available() {
        return;
    }
    let collector = TestCollector::start().await;
    let before = scrape(&collector).await;
    assert_eq!(before.must("firstline_store_up", &[]), 1.0);
    assert_eq!(before.must("firstline_agents_connected", &[]), 0.0);
    assert_eq!(before.must("firstline_findings_received_total", &[]), 0.0);
    assert_eq!(
        before.must("firstline_ingest_commit_seconds_count", &[]),
        0.0
    );
    assert_eq!(
        before.must(
            "firstline_findings_refused_total",
            &[("reason", "malformed")]
        ),
        0.0
    );
    assert_eq!(
        before.must("firstline_database_tickets_opened_total", &[]),
        0.0
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        before.must("firstline_build_info", &[("version", version)]),
        1.0
    );

    // A device enrolled for real, on its own mTLS stream: one good finding (a fault, so a
    // ticket opens) and one whose evidence is not JSON, in one batch.
    let dir = tempfile::tempdir().expect("temp dir");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity, "head-office", "192.0.2.53").await;
    let (good, bad) = (device.take_sequence(), device.take_sequence());
    let malformed = pb::Finding {
        evidence_json: "{not json".to_owned(),
        ..finding(bad, "the evidence is broken")
    };
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![finding(good, "Disk / is 97% full"), malformed],
        }))
        .await;
    match device.stream.next().await {
        Ok(pb::collector_message::Body::Ack(ack)) => {
            assert_eq!(ack.sequence, bad);
            assert_eq!(
                ack.refused.iter().map(|r| r.sequence).collect::<Vec<_>>(),
                [bad]
            );
        }
        other => panic!("expected an Ack, got {other:?}"),
    }

    // The ack follows the commit: everything below is already true when it arrives.
    let after = scrape(&collector).await;
    assert_eq!(after.must("firstline_agents_connected", &[]), 1.0);
    assert_eq!(after.must("firstline_findings_received_total", &[]), 2.0);
    assert_eq!(
        after.must(
            "firstline_findings_refused_total",
            &[("reason", "malformed")]
        ),
        1.0
    );
    assert_eq!(
        after.must(
            "firstline_findings_refused_total",
            &[("reason", "too_large")]
        ),
        0.0
    );
    assert_eq!(
        after.must("firstline_ingest_commit_seconds_count", &[]),
        1.0
    );
    assert!(after.must("firstline_ingest_commit_seconds_sum", &[]) > 0.0);
    assert_eq!(
        after.must("firstline_ingest_commit_seconds_bucket", &[("le", "+Inf")]),
        1.0
    );
    assert_eq!(
        after.must("firstline_database_tickets_opened_total", &[]),
        1.0
    );
    assert_eq!(
        after.must("firstline_database_tickets_resolved_total", &[]),
        0.0
    );
    assert_eq!(after.must("firstline_streams_opened_total", &[]), 1.0);

    // The fault clears: the ticket resolves itself, and the database-wide count follows.
    device.report("disk.free_low", "/", pb::Severity::Ok).await;
    let resolved = scrape(&collector).await;
    assert_eq!(
        resolved.must("firstline_database_tickets_resolved_total", &[]),
        1.0
    );
    assert_eq!(resolved.must("firstline_findings_received_total", &[]), 3.0);
    assert_eq!(
        resolved.must("firstline_ingest_commit_seconds_count", &[]),
        2.0
    );
}

#[tokio::test]
async fn a_configured_metrics_token_is_required_to_scrape() {
    let collector = TestCollector::start_with(|settings| {
        settings.metrics_token = Some("prometheus-scrape-secret".to_owned());
    })
    .await;
    let address = collector.running().http_address;
    let (status, head, _) = http_call(address, "GET", "/metrics", &[], None).await;
    assert_eq!(status, 401, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );
    let (status, _, _) = http_call(
        address,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer wrong-secret-entirely")],
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, body) = http_call(
        address,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer prometheus-scrape-secret")],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.as_str()
            .is_some_and(|text| text.contains("firstline_store_up 1")),
        "{body}"
    );
}

#[tokio::test]
async fn an_agents_own_health_arrives_with_its_heartbeats_and_is_shown_per_device() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enroll_with(
        &collector,
        &collector.token().await,
        &dir.path().join("agent"),
    )
    .await
    .expect("enrolls");
    let device_id = identity.device_id().to_owned();
    let config_path = dir.path().join("agent.toml");
    // Every check off but the agent's own: a cycle still runs, quickly.
    write_config(&config_path, &agent_config(&[]));
    let key = firstline_collector::http::create_api_key(
        &collector.running().store,
        "e2e",
        Role::Technician,
    )
    .await
    .expect("api key");
    let http = collector.running().http_address;
    let (status, before) = http_json(
        http,
        "GET",
        &format!("/api/v1/devices/{device_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{before}");
    assert!(before["agent_health"].is_null(), "{before}");

    // The whole agent, as `firstline-agent run` runs it; heartbeats every 5 s (the test
    // collector's interval).
    let mut agent = TestAgent::start_full(identity, &config_path);
    agent.wait_connected().await;
    let health = wait_for("the agent's health in the device API", || async {
        let (_, device) = http_json(
            http,
            "GET",
            &format!("/api/v1/devices/{device_id}"),
            Some(&key),
            None,
        )
        .await;
        let health = device["agent_health"].clone();
        health["check_cycle_ms"].is_u64().then_some(health)
    })
    .await;
    let resident = health["resident_memory_bytes"].as_u64().expect("memory");
    // An in-process agent shares the test binary's memory: plausible, not small.
    assert!(
        (1 << 20..1 << 40).contains(&resident),
        "{resident} bytes resident"
    );
    assert_eq!(health["outbox_depth"], 0, "{health}");
    assert!(health["check_cycle_ms"].as_u64().expect("cycle") < 60_000);
    assert!(health["reported_at_ms"].as_i64().expect("when") > 0);

    // The list shows it too.
    let (_, devices) = http_json(http, "GET", "/api/v1/devices", Some(&key), None).await;
    let listed = devices["devices"]
        .as_array()
        .and_then(|devices| devices.iter().find(|d| d["id"] == device_id.as_str()))
        .expect("the device is listed");
    assert!(
        listed["agent_health"]["resident_memory_bytes"].is_u64(),
        "{listed}"
    );

    // The device page shows it to a signed-in technician.
    crate::support::add_user(
        &collector,
        "tess",
        Role::Technician,
        "a long enough password",
    )
    .await;
    let (status, head, _) = http_call(
        http,
        "POST",
        "/login",
        &[],
        Some(&serde_json::json!({"name": "tess", "password": "a long enough password"})),
    )
    .await;
    assert_eq!(status, 200, "{head}");
    let cookie = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with("set-cookie: ")
                .then(|| line[12..].to_owned())
        })
        .and_then(|value| value.split(';').next().map(str::to_owned))
        .expect("a session cookie");
    let (status, _, page) = http_call(
        http,
        "GET",
        &format!("/devices/{device_id}"),
        &[("Cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let page = page.as_str().unwrap_or_default().to_owned();
    assert!(
        page.contains("Agent health") && page.contains("Resident memory"),
        "{page}"
    );
    assert!(page.contains("findings waiting"), "{page}");
    assert!(page.contains(" ms</dd>"), "the cycle time in ms: {page}");

    // Heartbeats are counted where Prometheus can see them.
    let (_, _, metrics) = http_call(http, "GET", "/metrics", &[], None).await;
    let heartbeats = metrics
        .as_str()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("firstline_heartbeats_received_total "))
        })
        .and_then(|value| value.trim().parse::<u64>().ok())
        .expect("a heartbeat count");
    assert!(heartbeats >= 1, "{heartbeats}");
    agent.stop().await;
}
