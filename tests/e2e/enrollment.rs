//! Enrollment: a token and a locally made key become a device certificate, once.

use std::time::{Duration, SystemTime};

use firstline_agent::enroll::EnrollError;
use firstline_agent::identity::{self, Identity};
use firstline_collector::enrollment::create_token_expiring_at;
use firstline_proto::v1 as pb;

use crate::support::{
    TestAgent, TestCollector, channel, enroll_to, enroll_with, http_json, wait_for,
};

#[tokio::test]
async fn agent_enrolls_connects_with_inventory_and_is_the_same_device_after_restart() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("agent");
    let token = collector.token().await;

    let identity = enroll_with(&collector, &token, &state_dir)
        .await
        .expect("enrolls");
    let device_id = identity.device_id().to_owned();
    let key_before = std::fs::read_to_string(state_dir.join(identity::KEY_FILE)).expect("key");

    let mut agent = TestAgent::start(identity);
    agent.wait_connected().await;
    let store = collector.running().store.clone();
    let device = wait_for("the inventory to be stored", || async {
        store
            .device(&device_id)
            .await
            .expect("store")
            .filter(|d| d.inventory.is_some())
    })
    .await;
    let inventory = device.inventory.expect("inventory");
    let local = firstline_agent::inventory::gather();
    assert_eq!(inventory.hostname, local.hostname);
    assert_eq!(inventory.os_name, local.os_name);
    assert_eq!(inventory.kernel_version, local.kernel_version);
    assert_eq!(inventory.cpu_logical_cores, local.cpu_logical_cores);
    assert_eq!(inventory.memory_total_bytes, local.memory_total_bytes);
    assert!(
        !inventory.disks.is_empty() && !inventory.interfaces.is_empty(),
        "{inventory:?}"
    );
    assert_eq!(inventory.agent_version, firstline_agent::AGENT_VERSION);
    assert!(collector.running().sessions.is_connected(&device_id));
    let first_seen = device.last_seen_at_ms.expect("last seen");
    agent.stop().await;
    wait_for("the collector to notice the agent left", || async {
        (!collector.running().sessions.is_connected(&device_id)).then_some(())
    })
    .await;

    // A restart loads the same identity from disk: same device, same key, no re-enrollment.
    let reloaded = Identity::load(&state_dir).expect("identity on disk");
    assert_eq!(reloaded.device_id(), device_id);
    let mut agent = TestAgent::start(reloaded);
    agent.wait_connected().await;
    assert!(collector.running().sessions.is_connected(&device_id));
    let devices = store.devices().await.expect("devices");
    assert_eq!(
        devices.len(),
        1,
        "a restart must not create a second device: {devices:?}"
    );
    assert_eq!(devices[0].id, device_id);
    let key_after = std::fs::read_to_string(state_dir.join(identity::KEY_FILE)).expect("key");
    assert_eq!(key_before, key_after);
    let seen_again = wait_for("last_seen to move", || async {
        let device = store.device(&device_id).await.expect("store")?;
        device.last_seen_at_ms.filter(|seen| *seen >= first_seen)
    })
    .await;
    assert!(seen_again >= first_seen);
    agent.stop().await;
}

#[tokio::test]
async fn a_reused_token_is_refused() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = collector.token().await;
    enroll_with(&collector, &token, &dir.path().join("first"))
        .await
        .expect("first use enrolls");

    let error = enroll_with(&collector, &token, &dir.path().join("second"))
        .await
        .expect_err("second use refused");
    let message = error.to_string();
    assert!(matches!(error, EnrollError::Refused(_)), "{message}");
    assert!(message.contains("already used"), "{message}");
    assert!(
        !dir.path()
            .join("second")
            .join(identity::ENROLLMENT_FILE)
            .exists()
    );
    assert_eq!(
        collector
            .running()
            .store
            .devices()
            .await
            .expect("devices")
            .len(),
        1
    );
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let expired = create_token_expiring_at(
        &collector.running().store,
        &collector.running().ca_pem,
        SystemTime::now() - Duration::from_secs(1),
    )
    .await
    .expect("token");
    let error = enroll_with(&collector, &expired.token, dir.path())
        .await
        .expect_err("refused");
    let message = error.to_string();
    assert!(matches!(error, EnrollError::Refused(_)), "{message}");
    assert!(message.contains("expired"), "{message}");
    assert!(
        collector
            .running()
            .store
            .devices()
            .await
            .expect("devices")
            .is_empty()
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_token_is_refused() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "flt_0000000000000000000000000000000000000000000000000000000000000000",
            "not known",
        ),
        ("hello", "malformed"),
    ];
    for (token, expected) in cases {
        let error = enroll_with(&collector, token, dir.path())
            .await
            .expect_err("refused");
        assert!(error.to_string().contains(expected), "{token}: {error}");
    }
}

#[tokio::test]
async fn a_malformed_csr_is_refused_and_does_not_spend_the_token() {
    let collector = TestCollector::start().await;
    let token = collector.token().await;
    let channel = channel(&collector.url(), &collector.ca_pem(), None)
        .await
        .expect("channel");
    let mut client = pb::enrollment_client::EnrollmentClient::new(channel);

    let key = rcgen::KeyPair::generate().expect("key");
    let mut tampered = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .expect("csr")
        .der()
        .to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff; // break the signature: proof of possession fails
    for csr in [Vec::new(), b"definitely not DER".to_vec(), tampered] {
        let status = client
            .enroll(pb::EnrollRequest {
                token: token.clone(),
                csr_der: csr,
                hostname: "pc".to_owned(),
                agent_version: "x".to_owned(),
            })
            .await
            .expect_err("refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(
            status
                .message()
                .contains("malformed certificate signing request"),
            "{status:?}"
        );
    }
    assert!(
        collector
            .running()
            .store
            .devices()
            .await
            .expect("devices")
            .is_empty()
    );

    // The token survived the bad attempts and still enrolls a well-behaved agent.
    let dir = tempfile::tempdir().expect("temp dir");
    enroll_with(&collector, &token, dir.path())
        .await
        .expect("token still valid");
}

#[tokio::test]
async fn an_agent_refuses_a_collector_that_its_pinned_ca_did_not_sign() {
    let collector = TestCollector::start().await;
    let impostor = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = impostor.token().await;
    // Pin the real collector's CA but dial the impostor.
    let error = enroll_to(
        impostor.url(),
        token,
        Some(collector.ca_path()),
        dir.path().to_owned(),
        false,
    )
    .await
    .expect_err("must not talk to the impostor");
    let message = error.to_string();
    assert!(message.contains("certificate"), "{message}");
    assert!(
        impostor
            .running()
            .store
            .devices()
            .await
            .expect("devices")
            .is_empty()
    );
}

#[tokio::test]
async fn enrolling_twice_needs_force_and_force_makes_a_new_device() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let first = enroll_with(&collector, &collector.token().await, dir.path())
        .await
        .expect("enrolls");
    let error = enroll_with(&collector, &collector.token().await, dir.path())
        .await
        .expect_err("needs --force");
    assert!(error.to_string().contains("--force"), "{error}");
    assert_eq!(
        Identity::load(dir.path()).expect("kept").device_id(),
        first.device_id()
    );

    let second = enroll_to(
        collector.url(),
        collector.token().await,
        Some(collector.ca_path()),
        dir.path().to_owned(),
        true,
    )
    .await
    .expect("forced re-enrollment");
    assert_ne!(second.device_id(), first.device_id());
}

#[tokio::test]
async fn a_ca_file_that_is_not_a_certificate_is_named_in_the_error() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let bogus = dir.path().join("not-a-ca.pem");
    std::fs::write(&bogus, "hello").expect("write");
    let error = enroll_to(
        collector.url(),
        collector.token().await,
        Some(bogus.clone()),
        dir.path().join("state"),
        false,
    )
    .await
    .expect_err("refused");
    assert!(
        error.to_string().contains(&bogus.display().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn the_token_alone_is_enough_its_ca_pin_finds_and_checks_the_collectors_ca() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = collector.token().await;
    let (_, pin) = token.rsplit_once('.').expect("the token carries a CA pin");
    assert_eq!(pin.len(), 32, "{token}");
    let identity = enroll_to(collector.url(), token, None, dir.path().to_owned(), false)
        .await
        .expect("enrolls with the token alone");
    assert_eq!(
        identity.ca_pem.trim(),
        collector.ca_pem().trim(),
        "the pinned CA is kept for later"
    );
    let mut agent = TestAgent::start(identity);
    agent.wait_connected().await;
    agent.stop().await;
}

#[tokio::test]
async fn a_token_taken_to_another_collector_is_not_sent_there() {
    let collector = TestCollector::start().await;
    let impostor = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let token = collector.token().await;
    let error = enroll_to(
        impostor.url(),
        token.clone(),
        None,
        dir.path().to_owned(),
        false,
    )
    .await
    .expect_err("the impostor's CA does not match the pin");
    assert!(
        error
            .to_string()
            .contains("does not present the CA the token names"),
        "{error}"
    );
    assert!(
        impostor
            .running()
            .store
            .devices()
            .await
            .expect("devices")
            .is_empty()
    );
    // The token never left the agent, so it still works where it belongs.
    enroll_with(&collector, &token, &dir.path().join("real"))
        .await
        .expect("still valid");
}

#[test]
fn token_create_refuses_a_ttl_past_a_year_with_a_message_instead_of_panicking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let create = |ttl: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_e2e-collector"))
            .args(["token", "create", "--ttl", ttl, "--data-dir"])
            .arg(dir.path())
            .output()
            .expect("run token create")
    };
    for ttl in ["10000y", "0s", "2y"] {
        let refused = create(ttl);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "--ttl {ttl}: {stderr}");
        assert!(
            stderr.contains("--ttl") && stderr.contains("at most 365 days"),
            "--ttl {ttl}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "--ttl {ttl}: {stderr}");
        assert!(refused.stdout.is_empty(), "no token is printed");
    }
    let created = create("30days");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).starts_with("flt_"));
}

#[tokio::test]
async fn paging_through_the_device_list_returns_every_device_exactly_once() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut enrolled = std::collections::BTreeSet::new();
    for n in 0..7 {
        let token = collector.token().await;
        let identity = enroll_with(&collector, &token, &dir.path().join(format!("agent-{n}")))
            .await
            .expect("enrolls");
        enrolled.insert(identity.device_id().to_owned());
    }
    let http = collector.running().http_address;
    let key = firstline_collector::http::create_api_key(
        &collector.running().store,
        "pager",
        firstline_collector::model::Role::Technician,
    )
    .await
    .expect("key");

    // Pages of three: 3, 3, 1, the last without a cursor.
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut path = "/api/v1/devices?limit=3".to_owned();
    loop {
        let (status, page) = http_json(http, "GET", &path, Some(&key), None).await;
        assert_eq!(status, 200, "{path}: {page}");
        let devices = page["devices"].as_array().expect("devices");
        pages.push(devices.len());
        seen.extend(
            devices
                .iter()
                .map(|d| d["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/devices?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, [3, 3, 1]);
    let unique: std::collections::BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a device came twice: {seen:?}");
    assert_eq!(unique, enrolled);

    // The default page holds them all; a bad limit or cursor is refused naming it.
    let (_, page) = http_json(http, "GET", "/api/v1/devices", Some(&key), None).await;
    assert_eq!(page["devices"].as_array().expect("devices").len(), 7);
    assert!(page["next_cursor"].is_null(), "{page}");
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=zz", "cursor"),
        ("cursor=abc", "cursor"),
        ("cursor=", "cursor"),
    ] {
        let (status, answer) = http_json(
            http,
            "GET",
            &format!("/api/v1/devices?{query}"),
            Some(&key),
            None,
        )
        .await;
        assert_eq!(status, 400, "{query}: {answer}");
        let message = answer["error"].as_str().expect("error");
        assert!(message.starts_with(parameter), "{query}: {message}");
    }
}
