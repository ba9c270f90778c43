//! No single device, user or stranger can stall the collector: what an attacker tried, as
//! regression tests over real sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio_rustls::rustls;

use firstline_proto::v1 as pb;
use pb::agent_message::Body as AgentBody;
use pb::collector_message::Body as CollectorBody;

use crate::support::{
    DEADLINE, RawStream, TestAgent, TestCollector, enroll_with, finding, open_stream, wait_for,
};

type IdleTls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection to `address` from `from` (another loopback address), handshake done,
/// then nothing: what a stranger holding the agent port open sends.
async fn idle_tls(
    address: SocketAddr,
    from: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<IdleTls> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().map_err(std::io::Error::other)?)?;
    let stream = socket.connect(address).await?;
    let name =
        rustls::pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
}

fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(certificate.expect("CA PEM")).expect("CA");
    }
    Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The collector's `/metrics`, as text.
async fn metrics_text(collector: &TestCollector) -> String {
    let (_, _, body) = crate::support::http_call(
        collector.running().http_address,
        "GET",
        "/metrics",
        &[],
        None,
    )
    .await;
    body.as_str().unwrap_or_default().to_owned()
}

/// `firstline_connections_open{listener}` as the collector reports it (the scrape's own
/// connection included on `http`).
async fn connections_open(collector: &TestCollector, listener: &str) -> Option<u64> {
    let needle = format!("firstline_connections_open{{listener=\"{listener}\"}} ");
    metrics_text(collector)
        .await
        .lines()
        .find_map(|line| line.strip_prefix(&needle))
        .and_then(|value| value.trim().parse().ok())
}

/// Once, 2,000 idle TLS connections stayed open forever (no deadline before a request, no
/// cap per address, nothing logged); at a low descriptor limit a real `enroll` then timed
/// out. Now one address holds at most its share, an idle connection is closed once its
/// first-request deadline passes, both are counted, and a real agent enrolls and streams
/// while the attack holds what it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_tls_connections_do_not_keep_an_agent_out() {
    const ATTEMPTS: usize = 2_000;
    const PER_ADDRESS: usize = 1_000;
    let collector = TestCollector::start_with(|settings| {
        settings.limits.connections_per_address = PER_ADDRESS;
    })
    .await;
    let address = collector.running().grpc_address;
    let config = client_config(&collector.ca_pem());
    let started = Instant::now();
    let mut attempts = tokio::task::JoinSet::new();
    let mut held = Vec::new();
    let mut refused = 0;
    let mut record =
        |outcome: Result<std::io::Result<IdleTls>, tokio::task::JoinError>| match outcome
            .expect("task")
        {
            Ok(stream) => held.push(stream),
            Err(_) => refused += 1,
        };
    for _ in 0..ATTEMPTS {
        if attempts.len() >= 64
            && let Some(outcome) = attempts.join_next().await
        {
            record(outcome);
        }
        attempts.spawn(idle_tls(address, "127.0.0.2", config.clone()));
    }
    while let Some(outcome) = attempts.join_next().await {
        record(outcome);
    }
    let opened_in = started.elapsed();
    assert_eq!(held.len(), PER_ADDRESS, "held; {refused} refused");
    assert_eq!(refused, ATTEMPTS - PER_ADDRESS);

    // A real agent, from its own address, while the attack holds its share.
    let dir = tempfile::tempdir().expect("temp dir");
    let agent_started = Instant::now();
    let identity = enroll_with(&collector, &collector.token().await, dir.path())
        .await
        .expect("enrolls beside the idle connections");
    let mut agent = TestAgent::start(identity);
    agent.wait_connected().await;
    let agent_took = agent_started.elapsed();
    eprintln!(
        "{ATTEMPTS} idle TLS connections from one address: {} held, {refused} refused at once \
         (opened in {opened_in:?}); a real agent enrolled and streamed in {agent_took:?}",
        held.len()
    );

    // Every held connection is closed once the first-request deadline (10 s) passes.
    let closed_in = Instant::now();
    for mut stream in held {
        // What the server sends first (its HTTP/2 settings) is read and dropped; then the end.
        let until_closed = async {
            let mut buffer = [0u8; 1024];
            while let Ok(read) = stream.read(&mut buffer).await
                && read > 0
            {}
        };
        assert!(
            tokio::time::timeout(DEADLINE, until_closed).await.is_ok(),
            "an idle connection is still open after {:?}",
            closed_in.elapsed()
        );
    }
    eprintln!(
        "every held connection was closed {:?} after the agent connected",
        closed_in.elapsed()
    );
    // The agent's stream made its request: it stays.
    assert!(matches!(
        *agent.state.borrow(),
        firstline_agent::uplink::UplinkState::Connected { .. }
    ));
    let metrics = wait_for("the refusals in /metrics", || async {
        let text = metrics_text(&collector).await;
        text.contains(&format!(
            "firstline_connections_refused_total{{listener=\"grpc\",reason=\"per_address_cap\"}} {}",
            ATTEMPTS - PER_ADDRESS
        ))
        .then_some(text)
    })
    .await;
    assert!(
        metrics.contains(&format!(
            "firstline_connections_refused_total{{listener=\"grpc\",reason=\"no_request\"}} {PER_ADDRESS}"
        )),
        "{metrics}"
    );
    agent.stop().await;
}

/// A device's mTLS stream, past its Welcome, with `inventory` sent.
async fn device_stream(
    collector: &TestCollector,
    dir: &std::path::Path,
    inventory: pb::Inventory,
) -> (String, RawStream) {
    let identity = enroll_with(collector, &collector.token().await, dir)
        .await
        .expect("enrolls");
    let (stream, _) = open_stream(&collector.url(), &identity).await;
    stream.send(AgentBody::Inventory(inventory)).await;
    (identity.device_id().to_owned(), stream)
}

fn dns_finding(sequence: u64, resource: String) -> pb::Finding {
    pb::Finding {
        sequence,
        check: "dns.resolve".to_owned(),
        resource,
        severity: pb::Severity::Warning as i32,
        summary: "does not resolve".to_owned(),
        evidence_json: "{}".to_owned(),
        observed_at_unix_ms: 1_700_000_000_000,
    }
}

/// Once, one enrolled device stalled everyone: an inventory listing 256 gateways and 256
/// DNS servers, then batches of 1,000 `dns.*` findings on distinct names made one batch take
/// 110 s while every other device's ack waited; without the scopes it still opened 3,000
/// tickets in seconds. Now its scopes are capped, new conditions past its budget are refused
/// (and counted, and noted on its page), its batches take turns in the group commit, and a
/// well-behaved device beside it keeps being acked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_device_is_held_to_its_budgets_while_a_quiet_one_is_acked() {
    const BATCHES: u64 = 6;
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let many = |prefix: &str| -> Vec<String> {
        (0..256)
            .map(|i| format!("{prefix}.{}.{}", i / 250, i % 250))
            .collect()
    };
    let (flooder, mut flood) = device_stream(
        &collector,
        &dir.path().join("flooder"),
        pb::Inventory {
            hostname: "flooder".to_owned(),
            gateways: many("192.0.2"),
            dns_servers: many("198.51.100"),
            ..pb::Inventory::default()
        },
    )
    .await;
    let (quiet, mut calm) = device_stream(
        &collector,
        &dir.path().join("quiet"),
        pb::Inventory {
            hostname: "quiet".to_owned(),
            ..pb::Inventory::default()
        },
    )
    .await;

    let flooding = tokio::spawn(async move {
        let mut refused = Vec::new();
        let mut batch_times = Vec::new();
        let started = Instant::now();
        for batch in 0..BATCHES {
            let findings = (1..=1_000)
                .map(|i| {
                    let sequence = batch * 1_000 + i;
                    dns_finding(sequence, format!("host-{sequence}.intranet.test"))
                })
                .collect();
            let sent = Instant::now();
            flood
                .send(AgentBody::Findings(pb::FindingBatch { findings }))
                .await;
            // The first batch opens 1,000 tickets at once: a debug build on two shared
            // cores takes about 20 s for it, so the flood's acks get longer than the usual
            // wait (the quiet device's acks below are the point of the test).
            let ack = match flood
                .next_answer_within(std::time::Duration::from_secs(120))
                .await
            {
                Some(Ok(CollectorBody::Ack(ack))) => ack,
                other => panic!("expected an Ack for the flood, got {other:?}"),
            };
            assert_eq!(ack.sequence, (batch + 1) * 1_000);
            refused.extend(ack.refused);
            batch_times.push(sent.elapsed());
        }
        eprintln!("the flood's batches were acked after {batch_times:?}");
        (refused, started.elapsed())
    });

    let mut latencies = Vec::new();
    let mut sequence = 0;
    while !flooding.is_finished() || latencies.len() < 20 {
        sequence += 1;
        let sent = Instant::now();
        calm.send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(sequence, "quiet")],
        }))
        .await;
        let Ok(CollectorBody::Ack(ack)) = calm.next_answer().await else {
            panic!("expected an Ack for the quiet device")
        };
        latencies.push(sent.elapsed());
        assert_eq!((ack.sequence, ack.refused.len()), (sequence, 0));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (refused, flood_took) = flooding.await.expect("flood");
    latencies.sort();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    eprintln!(
        "flood of {} findings on distinct names took {flood_took:?}, {} refused over budget; \
         the quiet device's {} acks meanwhile: p50 {:?}, p99 {:?}, max {:?}",
        BATCHES * 1_000,
        refused.len(),
        latencies.len(),
        percentile(0.5),
        percentile(0.99),
        latencies.last().expect("acks")
    );
    // Everything past the device's 1,000 conditions, and nothing before, is refused by name.
    assert_eq!(refused.len() as u64, BATCHES * 1_000 - 1_000);
    assert!(refused.iter().all(|r| r.sequence > 1_000));
    assert!(
        refused[0].reason.contains("budget of 1000 conditions"),
        "{:?}",
        refused[0]
    );

    let store = collector.running().store.clone();
    let device = store
        .device(&flooder)
        .await
        .expect("device")
        .expect("flooder");
    let note = device.budget_note.unwrap_or_default();
    assert!(note.contains("1000 conditions"), "{note}");
    let keys = store
        .condition_keys(&flooder, 5_000)
        .await
        .expect("conditions");
    assert_eq!(keys.len(), 1_000);
    let scopes =
        firstline_collector::tickets::device_scopes("", &many("192.0.2"), &many("198.51.100"));
    assert_eq!(scopes.len(), 1 + 4 + 4, "{scopes:?}");
    assert!(
        store
            .device(&quiet)
            .await
            .expect("device")
            .expect("quiet")
            .budget_note
            .is_none()
    );
}

/// 4 MiB of empty findings is two million of them once decoded (~257 MB, 0.7 s of CPU, before
/// the count was checked). The count is now read off the raw bytes, and the message refused
/// before prost decodes it.
#[tokio::test]
async fn a_batch_over_its_count_is_refused_before_it_is_decoded() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, stream) = device_stream(
        &collector,
        dir.path(),
        pb::Inventory {
            hostname: "huge".to_owned(),
            ..pb::Inventory::default()
        },
    )
    .await;
    let huge = pb::FindingBatch {
        findings: vec![pb::Finding::default(); 2_000_000],
    };
    let RawStream {
        outbound,
        mut inbound,
    } = stream;
    outbound
        .send(pb::AgentMessage {
            body: Some(AgentBody::Findings(huge)),
        })
        .await
        .expect("queued");
    let ended = tokio::time::timeout(DEADLINE, inbound.message())
        .await
        .expect("an answer in time")
        .expect_err("the stream is refused");
    assert_eq!(ended.code(), tonic::Code::InvalidArgument, "{ended:?}");
    assert!(
        ended.message().contains("more than 1000 findings"),
        "refused on the wire, not after decoding: {ended:?}"
    );
}

/// A technician key once queued 3,000 reproduce requests on one device in 27 s, and the real
/// ones waited behind them. A device now has at most 5 waiting; more are refused with 429
/// and the reason, and the waiting ones still reach the device.
#[tokio::test]
async fn a_device_has_at_most_five_reproduce_requests_waiting() {
    use firstline_collector::model::Role;
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enroll_with(&collector, &collector.token().await, dir.path())
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let key = firstline_collector::http::create_api_key(
        &collector.running().store,
        "script",
        Role::Technician,
    )
    .await
    .expect("api key");
    let http = collector.running().http_address;
    let mut statuses = Vec::new();
    for attempt in 0..8 {
        let body = serde_json::json!({ "playbook": "web", "target": format!("https://127.0.0.1:{}/", 1000 + attempt) });
        let (status, answer) = crate::support::http_json(
            http,
            "POST",
            &format!("/api/v1/devices/{device}/reproduce"),
            Some(&key),
            Some(&body),
        )
        .await;
        if status == 429 {
            assert!(
                answer
                    .to_string()
                    .contains("already has 5 reproduce requests waiting"),
                "{answer}"
            );
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429, 429, 429]);
    // A target with a line break is refused before it is queued.
    let (status, answer) = crate::support::http_json(
        http,
        "POST",
        &format!("/api/v1/devices/{device}/reproduce"),
        Some(&key),
        Some(&serde_json::json!({ "playbook": "web", "target": "http://a/\r\nX-Evil: 1" })),
    )
    .await;
    assert_eq!(status, 400, "{answer}");

    // The five waiting requests reach the device when it connects.
    let (mut stream, _) = open_stream(&collector.url(), &identity).await;
    for _ in 0..5 {
        let Ok(CollectorBody::Reproduce(request)) = stream.next().await else {
            panic!("expected a reproduce request")
        };
        assert_eq!(request.playbook, "web");
    }
}

/// The HTTP listener once had no idle deadline: a connection that sends nothing (or stops
/// half-way through its headers) held its socket forever. Now it is closed once idle.
#[tokio::test]
async fn an_http_connection_that_sends_nothing_is_closed_once_idle() {
    use tokio::io::AsyncWriteExt;
    let collector = TestCollector::start_with(|settings| {
        settings.limits.http_idle = std::time::Duration::from_secs(1);
    })
    .await;
    let address = collector.running().http_address;
    let mut silent = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let mut half = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("half a request");
    for stream in [&mut silent, &mut half] {
        let mut buffer = [0u8; 256];
        let closed = async {
            while let Ok(read) = stream.read(&mut buffer).await
                && read > 0
            {}
        };
        tokio::time::timeout(DEADLINE, closed)
            .await
            .expect("the idle connection is closed");
    }
    // And the listener still serves.
    let (status, _, _) = crate::support::http_call(address, "GET", "/healthz", &[], None).await;
    assert_eq!(status, 200);
}

/// A stranger's request does not buy a slot: an enrollment with a made-up token (or a
/// stream without a certificate) once marked the connection as active, and it could then
/// sit on the agent port forever, answering keepalive pings.
#[tokio::test]
async fn a_refused_request_does_not_keep_a_strangers_connection_open() {
    let collector = TestCollector::start_with(|settings| {
        settings.limits.first_request_within = std::time::Duration::from_secs(1);
    })
    .await;
    let channel = crate::support::channel(&collector.url(), &collector.ca_pem(), None)
        .await
        .expect("server-auth TLS");
    let mut client = pb::enrollment_client::EnrollmentClient::new(channel.clone());
    let refused = client
        .enroll(pb::EnrollRequest {
            token: "flt_madeup.pin".to_owned(),
            ..pb::EnrollRequest::default()
        })
        .await
        .expect_err("a made-up token");
    assert_ne!(refused.code(), tonic::Code::Ok);
    assert_eq!(connections_open(&collector, "grpc").await, Some(1));
    // The channel is still held here; the collector closes its side once the deadline passes.
    wait_for("the stranger's connection closed", || async {
        (connections_open(&collector, "grpc").await == Some(0)).then_some(())
    })
    .await;
    drop(channel);
}

/// The HTTP deadlines once fired only when reading: a client that pipelines requests for
/// large answers and never reads them left the server's writes pending forever.
#[tokio::test]
async fn an_http_client_that_never_reads_its_answers_is_cut_off_once_idle() {
    use tokio::io::AsyncWriteExt;
    let collector = TestCollector::start_with(|settings| {
        settings.limits.http_idle = std::time::Duration::from_secs(1);
    })
    .await;
    let mut stalled = tokio::net::TcpStream::connect(collector.running().http_address)
        .await
        .expect("connect");
    let request = b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..400 {
        stalled.write_all(request).await.expect("pipelined request");
    }
    wait_for("the stalled connection closed", || async {
        (connections_open(&collector, "http").await == Some(1)).then_some(())
    })
    .await;
    drop(stalled);
}
