//! No single device, user or stranger can stall the collector: what an attacker tried, as
//! regression tests over real sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio_rustls::rustls;

use crate::support::{DEADLINE, TestAgent, TestCollector, enroll_with, wait_for};

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
        let (_, _, body) = crate::support::http_call(
            collector.running().http_address,
            "GET",
            "/metrics",
            &[],
            None,
        )
        .await;
        let text = body.as_str().unwrap_or_default().to_owned();
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
