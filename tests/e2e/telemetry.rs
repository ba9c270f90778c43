//! The telemetry stream: identity from the client certificate only, acks after commits,
//! refusals with clear statuses.

use firstline_agent::identity::Identity;
use firstline_collector::pki::CertificateAuthority;
use firstline_proto::v1 as pb;
use pb::agent_message::Body as AgentBody;
use pb::collector_message::Body as CollectorBody;

use crate::support::{
    RawStream, TestAgent, TestCollector, channel, enroll_with, finding, hello, wait_for,
};

async fn enrolled(collector: &TestCollector, dir: &tempfile::TempDir) -> Identity {
    enroll_with(
        collector,
        &collector.token().await,
        &dir.path().join("agent"),
    )
    .await
    .expect("enrolls")
}

async fn device_stream(collector: &TestCollector, identity: &Identity) -> RawStream {
    let channel = channel(
        &collector.url(),
        &identity.ca_pem,
        Some((&identity.certificate_pem, &identity.key_pem)),
    )
    .await
    .expect("channel");
    RawStream::open(channel, vec![hello()])
        .await
        .expect("stream opens")
}

async fn welcome(stream: &mut RawStream) -> pb::Welcome {
    match stream.next().await.expect("welcome") {
        CollectorBody::Welcome(welcome) => welcome,
        other => panic!("expected a Welcome, got {other:?}"),
    }
}

async fn ack(stream: &mut RawStream) -> pb::Ack {
    match stream.next().await.expect("ack") {
        CollectorBody::Ack(ack) => ack,
        other => panic!("expected an Ack, got {other:?}"),
    }
}

#[tokio::test]
async fn findings_are_committed_before_they_are_acked_and_redelivery_is_harmless() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enrolled(&collector, &dir).await;
    let store = collector.running().store.clone();
    let device_id = identity.device_id().to_owned();

    let mut stream = device_stream(&collector, &identity).await;
    let greeting = welcome(&mut stream).await;
    assert_eq!(greeting.device_id, device_id);
    assert_eq!(greeting.committed_sequence, 0);

    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(1, "one"), finding(2, "two"), finding(3, "three")],
        }))
        .await;
    assert_eq!(ack(&mut stream).await.sequence, 3);
    // The ack is only sent after the commit, so the rows are there the moment it arrives.
    let stored = store
        .recent_findings(&device_id, 100)
        .await
        .expect("findings");
    assert_eq!(
        stored
            .iter()
            .map(|f| f.finding.sequence)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );

    // Redelivery (the agent never saw the ack, say) changes nothing already stored.
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(2, "two again"), finding(4, "four")],
        }))
        .await;
    assert_eq!(ack(&mut stream).await.sequence, 4);
    let stored = store
        .recent_findings(&device_id, 100)
        .await
        .expect("findings");
    let summaries: Vec<_> = stored.iter().map(|f| f.finding.summary.as_str()).collect();
    assert_eq!(summaries, ["one", "two", "three", "four"]);
    drop(stream);

    // A new stream learns where the collector is, so a restarted agent resumes after it.
    let mut stream = device_stream(&collector, &identity).await;
    assert_eq!(welcome(&mut stream).await.committed_sequence, 4);
}

#[tokio::test]
async fn an_invalid_finding_is_refused_with_its_reason_and_the_rest_of_the_batch_is_kept() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enrolled(&collector, &dir).await;
    let mut stream = device_stream(&collector, &identity).await;
    welcome(&mut stream).await;

    let mut hostile = finding(6, "bad");
    hostile.evidence_json = "not json".to_owned();
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(5, "good"), hostile],
        }))
        .await;
    let ack = ack(&mut stream).await;
    assert_eq!(
        ack.sequence, 6,
        "the refused finding is acknowledged so it cannot block the queue"
    );
    assert_eq!(ack.refused.len(), 1);
    assert_eq!(ack.refused[0].sequence, 6);
    assert!(
        ack.refused[0].reason.contains("evidence_json"),
        "{:?}",
        ack.refused
    );
    let stored = collector
        .running()
        .store
        .recent_findings(identity.device_id(), 100)
        .await
        .expect("findings");
    assert_eq!(
        stored
            .iter()
            .map(|f| f.finding.sequence)
            .collect::<Vec<_>>(),
        [5]
    );

    // The stream is still usable afterwards.
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(7, "later")],
        }))
        .await;
    assert_eq!(crate::telemetry::ack(&mut stream).await.sequence, 7);
}

#[tokio::test]
async fn a_stream_without_a_client_certificate_is_refused() {
    let collector = TestCollector::start().await;
    let channel = channel(&collector.url(), &collector.ca_pem(), None)
        .await
        .expect("server-auth TLS works");
    let status = match RawStream::open(channel, vec![hello()]).await {
        Err(status) => status,
        Ok(mut stream) => stream.next().await.expect_err("refused"),
    };
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("client certificate is required"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // A well-formed device certificate, but from a CA this collector has never seen.
    let other_ca = CertificateAuthority::load_or_create(dir.path()).expect("other CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .expect("csr");
    let forged_id = "00000000-0000-4000-8000-000000000001";
    let forged = other_ca
        .sign_device_csr(csr.der(), forged_id)
        .expect("sign");

    let outcome = match channel(
        &collector.url(),
        &collector.ca_pem(),
        Some((&forged.certificate_pem, &key.serialize_pem())),
    )
    .await
    {
        Err(error) => Err(format!("{error:?}")),
        Ok(channel) => match RawStream::open(channel, vec![hello()]).await {
            Err(status) => Err(format!("{status:?}")),
            Ok(mut stream) => stream.next().await.map_err(|status| format!("{status:?}")),
        },
    };
    let error = outcome.expect_err("a foreign certificate must not open a stream");
    // TLS refuses it during the handshake: the peer reports an unknown certificate authority.
    assert!(error.contains("UnknownCA"), "{error}");

    // The real agent with such an identity says what to do about it.
    let forged_identity = Identity {
        state_dir: dir.path().to_owned(),
        enrollment: firstline_agent::identity::Enrollment {
            device_id: forged_id.to_owned(),
            collector_url: collector.url(),
            enrolled_at: "2026-01-01T00:00:00Z".to_owned(),
        },
        key_pem: key.serialize_pem(),
        certificate_pem: forged.certificate_pem.clone(),
        ca_pem: collector.ca_pem(),
    };
    let mut agent = TestAgent::start(forged_identity);
    let state = agent
        .state
        .wait_for(|state| {
            matches!(
                state,
                firstline_agent::uplink::UplinkState::Disconnected { .. }
            )
        })
        .await
        .expect("agent reports")
        .clone();
    let firstline_agent::uplink::UplinkState::Disconnected { error, .. } = state else {
        unreachable!()
    };
    assert!(error.contains("enroll again"), "{error}");
    agent.stop().await;

    assert!(
        collector
            .running()
            .store
            .device(forged_id)
            .await
            .expect("store")
            .is_none()
    );
    assert_eq!(collector.running().sessions.connected(), 0);
}

#[tokio::test]
async fn a_certificate_for_a_device_the_collector_does_not_know_is_refused() {
    let collector = TestCollector::start().await;
    // Signed by the collector's own CA (as for a device deleted from the store), but unknown.
    let authority = CertificateAuthority::load_or_create(&collector.settings.data_dir).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .expect("csr");
    let stranger = "00000000-0000-4000-8000-000000000002";
    let issued = authority
        .sign_device_csr(csr.der(), stranger)
        .expect("sign");
    let channel = channel(
        &collector.url(),
        &collector.ca_pem(),
        Some((&issued.certificate_pem, &key.serialize_pem())),
    )
    .await
    .expect("channel");
    let status = match RawStream::open(channel, vec![hello()]).await {
        Err(status) => status,
        Ok(mut stream) => stream.next().await.expect_err("refused"),
    };
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("not enrolled"), "{status:?}");
}

#[tokio::test]
async fn protocol_violations_end_the_stream_with_a_clear_status() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enrolled(&collector, &dir).await;
    let cases: Vec<(Vec<pb::AgentMessage>, tonic::Code, &str)> = vec![
        (
            vec![pb::AgentMessage {
                body: Some(AgentBody::Heartbeat(pb::Heartbeat {
                    sent_at_unix_ms: 1,
                    ..pb::Heartbeat::default()
                })),
            }],
            tonic::Code::FailedPrecondition,
            "first message on the stream must be a Hello",
        ),
        (
            vec![pb::AgentMessage { body: None }],
            tonic::Code::InvalidArgument,
            "no body",
        ),
        (
            vec![pb::AgentMessage {
                body: Some(AgentBody::Hello(pb::Hello {
                    protocol_version: 99,
                    agent_version: "x".to_owned(),
                    last_sequence: 0,
                    acked_sequence: 0,
                    config_version: String::new(),
                })),
            }],
            tonic::Code::FailedPrecondition,
            "protocol version 99",
        ),
        (
            vec![
                hello(),
                pb::AgentMessage {
                    body: Some(AgentBody::Findings(pb::FindingBatch {
                        findings: vec![finding(0, "zero")],
                    })),
                },
            ],
            tonic::Code::InvalidArgument,
            "sequence",
        ),
        (
            vec![
                hello(),
                pb::AgentMessage {
                    body: Some(AgentBody::Inventory(pb::Inventory::default())),
                },
            ],
            tonic::Code::InvalidArgument,
            "inventory refused: field `hostname`",
        ),
    ];
    for (messages, code, expected) in cases {
        let channel = channel(
            &collector.url(),
            &identity.ca_pem,
            Some((&identity.certificate_pem, &identity.key_pem)),
        )
        .await
        .expect("channel");
        let mut stream = RawStream::open(channel, messages).await.expect("opens");
        let status = loop {
            match stream.next().await {
                Ok(CollectorBody::Welcome(_)) => continue,
                Ok(other) => panic!("expected a refusal, got {other:?}"),
                Err(status) => break status,
            }
        };
        assert_eq!(status.code(), code, "{expected}: {status:?}");
        assert!(
            status.message().contains(expected),
            "{expected}: {status:?}"
        );
    }
}

#[tokio::test]
async fn the_agent_reconnects_after_the_collector_restarts() {
    let mut collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enrolled(&collector, &dir).await;
    let device_id = identity.device_id().to_owned();
    let mut agent = TestAgent::start(identity);
    agent.wait_connected().await;

    collector.stop().await;
    agent
        .state
        .wait_for(|state| {
            matches!(
                state,
                firstline_agent::uplink::UplinkState::Disconnected { .. }
            )
        })
        .await
        .expect("agent notices");
    collector.restart().await;
    wait_for("the agent to come back", || async {
        collector
            .running()
            .sessions
            .is_connected(&device_id)
            .then_some(())
    })
    .await;
    agent.stop().await;
}
