//! Findings become tickets, end to end over gRPC: a fault on 200 devices of one scope is one
//! incident listing them all; a fault on one device is one ticket that resolves itself when
//! the device recovers. Read back through the REST API.

use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::support::{SimulatedDevice, TestCollector, http_json};

const FLEET: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_200_devices_is_one_incident_and_a_fault_on_one_is_one_ticket() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let url = collector.url();
    let dir = tempfile::tempdir().expect("temp dir");

    // Every device enrolls for real: its own key, its own certificate.
    let mut enrolling = JoinSet::new();
    for n in 0..=FLEET {
        let (token, url) = (collector.token().await, url.clone());
        let state_dir = dir.path().join(format!("device-{n}"));
        enrolling.spawn(async move { (n, SimulatedDevice::enroll(&url, token, &state_dir).await) });
    }
    let mut identities: Vec<_> = enrolling.join_all().await;
    identities.sort_by_key(|(n, _)| *n);
    let mut connecting = JoinSet::new();
    for (n, identity) in identities {
        let url = url.clone();
        connecting.spawn(async move {
            // The fleet shares the head office and its resolver; one device is elsewhere.
            let (site, resolver) = if n < FLEET {
                ("head-office", "192.0.2.53")
            } else {
                ("branch", "198.51.100.53")
            };
            (
                n,
                SimulatedDevice::connect(&url, identity, site, resolver).await,
            )
        });
    }
    let mut devices: Vec<_> = connecting.join_all().await;
    devices.sort_by_key(|(n, _)| *n);
    let (_, mut lone) = devices.pop().expect("the lone device");
    let fleet: Vec<SimulatedDevice> = devices.into_iter().map(|(_, device)| device).collect();

    // The intranet stops resolving for the whole head office at once.
    let started = std::time::Instant::now();
    let fleet = report_all(
        fleet,
        "dns.resolve",
        "intranet.example.com",
        pb::Severity::Warning,
    )
    .await;
    eprintln!(
        "{FLEET} devices reported at once; every finding stored, decided and acked within {:?}",
        started.elapsed()
    );
    let open = tickets(http, &key, "state=open").await;
    assert_eq!(open.len(), 1, "one ticket for the outage: {open:#?}");
    let incident = &open[0];
    assert_eq!(incident["kind"], "incident");
    assert_eq!(incident["device_count"], FLEET);
    assert_eq!(incident["scope"], "dns=192.0.2.53");
    assert_eq!(incident["impact"], "high", "{FLEET} devices");
    assert_eq!(incident["priority"], 1, "high impact, high urgency");
    let id = incident["id"].as_i64().expect("id");
    let (status, detail) = http_json(
        http,
        "GET",
        &format!("/api/v1/tickets/{id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["devices"].as_array().map(Vec::len), Some(FLEET));

    // One device's disk fills: one ticket of its own, with the evidence.
    lone.report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let lone_id = lone.identity.device_id().to_owned();
    let own = tickets(http, &key, &format!("state=open&device={lone_id}")).await;
    assert_eq!(own.len(), 1, "{own:#?}");
    assert_eq!(
        (own[0]["kind"].as_str(), own[0]["state"].as_str()),
        (Some("device"), Some("new"))
    );
    let own_id = own[0]["id"].as_i64().expect("id");
    let (_, device) = http_json(
        http,
        "GET",
        &format!("/api/v1/devices/{lone_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(
        device["conditions"][0]["check"], "disk.free_low",
        "{device:#}"
    );
    assert_eq!(device["conditions"][0]["ticket_id"], own_id);
    // It recovers: the ticket resolves itself, with the recovery evidence in its timeline.
    lone.report("disk.free_low", "/", pb::Severity::Ok).await;
    let (_, detail) = http_json(
        http,
        "GET",
        &format!("/api/v1/tickets/{own_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(detail["state"], "resolved", "{detail:#}");
    let timeline = detail["timeline"].as_array().expect("timeline");
    assert!(
        timeline.iter().any(|entry| entry["text"]
            .as_str()
            .is_some_and(|t| t.contains("recovered"))
            && entry["data"]["resource"] == "/"),
        "{timeline:#?}"
    );

    // The resolver comes back: the incident resolves and nothing is left open.
    report_all(
        fleet,
        "dns.resolve",
        "intranet.example.com",
        pb::Severity::Ok,
    )
    .await;
    let still_open = tickets(http, &key, "state=open").await;
    assert!(still_open.is_empty(), "{still_open:#?}");
    let (_, detail) = http_json(
        http,
        "GET",
        &format!("/api/v1/tickets/{id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(detail["state"], "resolved");

    let all = tickets(http, &key, "order=id").await;
    let findings = 2 * FLEET + 2;
    let merged = all
        .iter()
        .filter(|t| t["resolution"] == "merged into a fleet incident")
        .count();
    eprintln!(
        "noise: {findings} findings received, {} tickets opened ({merged} merged into the incident within the hold), {:.1} findings per ticket",
        all.len(),
        findings as f64 / all.len() as f64
    );
}

/// Every device reports the same finding at the same moment; returns them for later use.
async fn report_all(
    devices: Vec<SimulatedDevice>,
    check: &'static str,
    resource: &'static str,
    severity: pb::Severity,
) -> Vec<SimulatedDevice> {
    let mut reporting = JoinSet::new();
    for mut device in devices {
        reporting.spawn(async move {
            device.report(check, resource, severity).await;
            device
        });
    }
    reporting.join_all().await
}

async fn tickets(http: std::net::SocketAddr, key: &str, query: &str) -> Vec<Value> {
    // Every page: a list is at most 1000 tickets.
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = http_json(
            http,
            "GET",
            &format!("/api/v1/tickets?{query}&limit=1000{cursor}"),
            Some(key),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        all.extend(
            body["tickets"]
                .as_array()
                .cloned()
                .expect("a list of tickets"),
        );
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

#[tokio::test]
async fn a_solution_given_over_rest_is_suggested_on_the_next_ticket_with_that_fingerprint() {
    let collector = TestCollector::start().await;
    crate::support::add_user(&collector, "alice", Role::Technician, "alice-password-1").await;
    let key = firstline_collector::http::create_api_key(
        &collector.running().store,
        "helpdesk",
        Role::Technician,
    )
    .await
    .expect("api key");
    let (http, url) = (collector.running().http_address, collector.url());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut devices = Vec::new();
    for (n, site) in ["berlin", "warsaw"].iter().enumerate() {
        let identity = SimulatedDevice::enroll(
            &url,
            collector.token().await,
            &dir.path().join(format!("d{n}")),
        )
        .await;
        devices.push(SimulatedDevice::connect(&url, identity, site, &format!("192.0.2.{n}")).await);
    }

    devices[0]
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let first = tickets(http, &key, "state=open").await;
    let first_id = first[0]["id"].as_i64().expect("id");
    let act = |id: i64, body: serde_json::Value| {
        let key = key.clone();
        async move {
            http_json(
                http,
                "POST",
                &format!("/api/v1/tickets/{id}/actions"),
                Some(&key),
                Some(&body),
            )
            .await
        }
    };
    let (status, ticket) = act(
        first_id,
        serde_json::json!({"action": "assign", "to": "alice"}),
    )
    .await;
    assert_eq!(
        (status, ticket["state"].as_str()),
        (200, Some("assigned")),
        "{ticket}"
    );
    let (status, ticket) = act(
        first_id,
        serde_json::json!({"action": "resolve", "solution": "Emptied the recycle bin"}),
    )
    .await;
    assert_eq!(
        (status, ticket["state"].as_str()),
        (200, Some("resolved")),
        "{ticket}"
    );
    let (status, refusal) = act(
        first_id,
        serde_json::json!({"action": "resolve", "solution": "again"}),
    )
    .await;
    assert_eq!(status, 409, "{refusal}");
    let (status, refusal) = act(first_id, serde_json::json!({"action": "teleport"})).await;
    assert_eq!(status, 400, "{refusal}");
    let (status, _) = http_json(
        http,
        "POST",
        &format!("/api/v1/tickets/{first_id}/actions"),
        None,
        Some(&serde_json::json!({"action": "close"})),
    )
    .await;
    assert_eq!(status, 401, "no key, no action");
    devices[0]
        .report("disk.free_low", "/", pb::Severity::Ok)
        .await;

    // Another device, another site, the same problem: the fix that worked is suggested.
    devices[1]
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let second = tickets(http, &key, "state=open").await;
    assert_eq!(second.len(), 1, "{second:#?}");
    let (_, detail) = http_json(
        http,
        "GET",
        &format!("/api/v1/tickets/{}", second[0]["id"]),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(
        detail["suggested_fixes"][0]["solution"], "Emptied the recycle bin",
        "{detail:#}"
    );
    assert_eq!(detail["suggested_fixes"][0]["worked_count"], 1);
}
