//! Search over REST (issue 18): a technician finds a ticket by typing a user's name and a
//! word of its evidence, over the real protocol and a real socket; whatever is typed is
//! searched for as words or refused in plain words, never a server error.

use firstline_collector::directory::{PersonFields, validate};
use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::Value;

use crate::support::{SimulatedDevice, TestCollector, form_encode, http_json, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_finds_a_ticket_by_a_users_name_and_a_word_of_its_evidence() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let people: Vec<_> = [("ckowalska", "Carol Kowalska"), ("dnowak", "Dave Nowak")]
        .iter()
        .map(|(account, name)| {
            let fields = PersonFields {
                display_name: (*name).to_owned(),
                email: None,
                language: None,
            };
            validate(account, &fields).expect("a valid person")
        })
        .collect();
    store
        .upsert_people(&people, "admin", firstline_collector::model::now_ms())
        .await
        .expect("directory");

    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let mut tickets = Vec::new();
    // Different checks: the same fault on both devices would be one incident.
    for ((account, check, mount), dir) in [
        ("ckowalska", "disk.free_low", "/srv/zebrafish"),
        ("dnowak", "disk.inodes_low", "/srv/yakshed"),
    ]
    .into_iter()
    .zip(&dirs)
    {
        let identity =
            SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
        let device_id = identity.device_id().to_owned();
        let mut device =
            SimulatedDevice::connect(&collector.url(), identity, "default", "192.0.2.53").await;
        device
            .stream
            .send(pb::agent_message::Body::Inventory(pb::Inventory {
                hostname: format!("pc-{account}"),
                agent_version: "test".to_owned(),
                last_user: account.to_owned(),
                ..pb::Inventory::default()
            }))
            .await;
        device.report(check, mount, pb::Severity::Critical).await;
        let ticket = wait_for(&format!("{account}'s ticket"), || async {
            let (_, tickets) = http_json(
                http,
                "GET",
                &format!("/api/v1/tickets?device={device_id}"),
                Some(&key),
                None,
            )
            .await;
            tickets["tickets"]
                .as_array()
                .and_then(|t| t.first())
                .map(|t| t["id"].to_string())
        })
        .await;
        tickets.push(ticket);
    }

    let search = |fields: Vec<(&'static str, String)>| {
        let key = key.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let path = format!("/api/v1/search?{}", form_encode(&fields));
            http_json(http, "GET", &path, Some(&key), None).await
        }
    };
    let ticket_ids = |answer: &Value| -> Vec<String> {
        answer["tickets"]
            .as_array()
            .map(|hits| {
                hits.iter()
                    .map(|h| h["id"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    let (status, answer) = search(vec![
        ("q", "carol zebra".to_owned()),
        ("kind", "tickets".to_owned()),
    ])
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ticket_ids(&answer), [tickets[0].clone()], "{answer}");
    let snippet = &answer["tickets"][0]["snippet"];
    assert!(
        snippet["text"].is_string() && snippet["marks"].is_array(),
        "{answer}"
    );

    let (_, answer) = search(vec![("q", "Nowak yaksh".to_owned())]).await;
    assert_eq!(ticket_ids(&answer), [tickets[1].clone()], "{answer}");
    assert_eq!(
        answer["people"],
        Value::Array(Vec::new()),
        "every word must match"
    );
    let (_, answer) = search(vec![("q", "nowak".to_owned())]).await;
    assert_eq!(answer["people"][0]["id"], "dnowak", "{answer}");
    assert_eq!(answer["people"][0]["label"], "Dave Nowak", "{answer}");
    let (_, answer) = search(vec![("q", "carol yakshed".to_owned())]).await;
    assert_eq!(ticket_ids(&answer), Vec::<String>::new(), "{answer}");

    for hostile in [
        "\"zebra",
        "NEAR(zebra carol",
        "zebra*:-()",
        "'; DROP TABLE tickets; --",
    ] {
        let (status, answer) = search(vec![("q", hostile.to_owned())]).await;
        assert_eq!(status, 200, "{hostile:?}: {answer}");
    }
    for (refused, fields) in [
        ("empty", vec![("q", String::new())]),
        ("only punctuation", vec![("q", "\"*()".to_owned())]),
        ("10 KB", vec![("q", "zebra ".repeat(1_700))]),
        (
            "an unknown kind",
            vec![("q", "zebra".to_owned()), ("kind", "files".to_owned())],
        ),
        (
            "a limit too high",
            vec![("q", "zebra".to_owned()), ("limit", "1000".to_owned())],
        ),
    ] {
        let (status, answer) = search(fields).await;
        assert_eq!(status, 400, "{refused}: {answer}");
        assert!(answer["error"].is_string(), "{refused}: {answer}");
    }
}
