//! Reports do not flood the queue, end to end over gRPC: twenty reports from one person about
//! one thing are one ticket with their words on its timeline, and reports during a DNS
//! incident attach to it as a known outage (the help page's `report_outcome`), counted in
//! `/api/v1/stats`.

use firstline_collector::model::Role;
use firstline_collector::tickets::ReportHow;
use firstline_proto::v1 as pb;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::support::{SimulatedDevice, TestCollector, http_json};

/// A `user.report` finding as the agent sends it: `account`'s words, the web playbook's
/// diagnosis failing at `layer` for intranet.example.com.
fn user_report(
    sequence: u64,
    report_id: &str,
    account: &str,
    layer: &str,
    words: &str,
) -> pb::Finding {
    let evidence = serde_json::json!({
        "text": words,
        "failed_layer": layer,
        "conclusion": "The name intranet.example.com cannot be looked up",
        "hostname": "pc",
        "reporter": {"uid": 1000, "account": account},
        "playbooks": [{"playbook": "web", "target": "https://intranet.example.com/",
                       "failed_layer": layer, "steps": []}],
    });
    pb::Finding {
        sequence,
        check: "user.report".to_owned(),
        resource: report_id.to_owned(),
        severity: pb::Severity::Warning as i32,
        summary: words.to_owned(),
        evidence_json: evidence.to_string(),
        observed_at_unix_ms: firstline_collector::model::now_ms(),
    }
}

/// Sends `finding` from `device` and waits until it is committed (acked).
async fn send(device: &mut SimulatedDevice, mut finding: pb::Finding) {
    let sequence = device.take_sequence();
    finding.sequence = sequence;
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![finding],
        }))
        .await;
    loop {
        match device.stream.next().await {
            Ok(pb::collector_message::Body::Ack(ack)) if ack.sequence >= sequence => {
                assert!(ack.refused.is_empty(), "refused: {:?}", ack.refused);
                return;
            }
            Ok(_) => continue,
            Err(status) => panic!("stream ended: {status}"),
        }
    }
}

async fn get(http: std::net::SocketAddr, key: &str, path: &str) -> Value {
    let (status, body) = http_json(http, "GET", path, Some(key), None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reports_from_one_user_are_one_ticket_and_reports_during_a_dns_incident_attach_to_it()
 {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Supervisor)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let url = collector.url();
    let dir = tempfile::tempdir().expect("temp dir");

    // Five devices at the head office behind one resolver, and alice's laptop at a branch.
    let mut enrolling = JoinSet::new();
    for n in 0..6 {
        let (token, url) = (collector.token().await, url.clone());
        let state_dir = dir.path().join(format!("device-{n}"));
        enrolling.spawn(async move { (n, SimulatedDevice::enroll(&url, token, &state_dir).await) });
    }
    let mut identities = enrolling.join_all().await;
    identities.sort_by_key(|(n, _)| *n);
    let mut devices = Vec::new();
    for (n, identity) in identities {
        let (site, resolver) = if n < 5 {
            ("head-office", "192.0.2.53")
        } else {
            ("branch", "198.51.100.53")
        };
        devices.push(SimulatedDevice::connect(&url, identity, site, resolver).await);
    }
    let mut laptop = devices.pop().expect("alice's laptop");
    let laptop_id = laptop.identity.device_id().to_owned();

    // Alice cannot open the intranet and says so twenty times, in different words.
    for n in 0..20 {
        let words = format!("the intranet still does not open ({n})");
        send(
            &mut laptop,
            user_report(0, &format!("alice-{n}"), "alice", "dns", &words),
        )
        .await;
    }
    let reports = get(http, &key, "/api/v1/tickets?state=open&kind=report").await;
    let reports = reports["tickets"].as_array().expect("tickets");
    assert_eq!(
        reports.len(),
        1,
        "one ticket for twenty reports: {reports:#?}"
    );
    let alices = reports[0]["id"].as_i64().expect("id");
    assert_eq!(reports[0]["requester"], "alice");
    let detail = get(http, &key, &format!("/api/v1/tickets/{alices}")).await;
    let again: Vec<&Value> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|entry| entry["kind"] == "report")
        .collect();
    assert_eq!(again.len(), 19, "{detail:#}");
    assert_eq!(again[0]["actor"], "alice");
    assert_eq!(
        again[18]["text"],
        "alice reported again: the intranet still does not open (19)"
    );
    for n in [0, 19] {
        let outcome = store
            .report_outcome(&laptop_id, &format!("alice-{n}"))
            .await
            .expect("outcome")
            .expect("decided");
        assert_eq!(outcome.ticket_id, alices);
        let expected = if n == 0 {
            ReportHow::Opened
        } else {
            ReportHow::Joined
        };
        assert_eq!(outcome.how, expected, "report {n}");
    }

    // The head office's resolver fails: one incident for the five devices.
    for device in &mut devices {
        device
            .report("dns.resolve", "intranet.example.com", pb::Severity::Warning)
            .await;
    }
    let open = get(http, &key, "/api/v1/tickets?state=open&kind=incident").await;
    let open = open["tickets"].as_array().expect("tickets");
    assert_eq!(open.len(), 1, "{open:#?}");
    let incident = open[0]["id"].as_i64().expect("id");

    // Two people there report it: a known outage, no new tickets.
    let people = ["carol", "dave"];
    for (n, (device, account)) in devices.iter_mut().zip(people).enumerate() {
        let report_id = format!("{account}-1");
        send(
            device,
            user_report(0, &report_id, account, "dns", "nothing loads"),
        )
        .await;
        let outcome = store
            .report_outcome(device.identity.device_id(), &report_id)
            .await
            .expect("outcome")
            .expect("decided");
        assert_eq!(
            (outcome.ticket_id, outcome.how),
            (incident, ReportHow::KnownOutage),
            "report {n}"
        );
    }
    let reports = get(http, &key, "/api/v1/tickets?state=open&kind=report").await;
    assert_eq!(
        reports["tickets"].as_array().map(Vec::len),
        Some(1),
        "{reports:#}"
    );
    let detail = get(http, &key, &format!("/api/v1/tickets/{incident}")).await;
    let attached = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|entry| entry["kind"] == "report")
        .count();
    assert_eq!(attached, 2, "{detail:#}");
    let affected: Vec<&str> = detail["affected_users"]
        .as_array()
        .expect("affected users")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(affected, people, "{detail:#}");

    // The stats say so.
    let stats = get(http, &key, "/api/v1/stats?days=1").await;
    let counted = &stats["people"];
    assert_eq!(counted["reports"], 22, "{stats:#}");
    assert_eq!(counted["reports_joined"], 19, "{stats:#}");
    assert_eq!(counted["reports_known_outage"], 2, "{stats:#}");
    assert_eq!(counted["reports_found_by_checks_first"], 2, "{stats:#}");
}
