//! Small real servers the tests control: a DNS resolver, a TCP listener, an HTTPS site.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType, rdata::A};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;

/// A DNS server that answers every A query with `answer` (or, with `start_names`, the names
/// it knows and NXDOMAIN for the rest).
pub struct DnsServer {
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl DnsServer {
    pub async fn start(answer: Ipv4Addr) -> Self {
        Self::serve(move |_| Some(answer)).await
    }

    /// Knows only `names`; every other name does not exist.
    pub async fn start_names(names: &[(&str, Ipv4Addr)]) -> Self {
        let names: Vec<(String, Ipv4Addr)> = names
            .iter()
            .map(|(name, address)| (format!("{}.", name.trim_end_matches('.')), *address))
            .collect();
        Self::serve(move |asked| {
            names
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(asked))
                .map(|(_, address)| *address)
        })
        .await
    }

    async fn serve(answer: impl Fn(&str) -> Option<Ipv4Addr> + Send + 'static) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS");
        let address = socket.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            loop {
                let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buffer[..length]) else {
                    continue;
                };
                let mut response = Message::new(
                    query.metadata.id,
                    MessageType::Response,
                    query.metadata.op_code,
                );
                response.metadata.recursion_desired = query.metadata.recursion_desired;
                response.metadata.recursion_available = true;
                response.metadata.response_code = ResponseCode::NoError;
                for question in &query.queries {
                    response.add_query(question.clone());
                    match answer(&question.name().to_ascii()) {
                        Some(address) if question.query_type() == RecordType::A => {
                            response.add_answer(Record::from_rdata(
                                question.name().clone(),
                                60,
                                RData::A(A(address)),
                            ));
                        }
                        Some(_) => {}
                        None => response.metadata.response_code = ResponseCode::NXDomain,
                    }
                }
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        Self { address, task }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A UDP socket that swallows queries: a resolver that does not answer.
pub struct SilentResolver {
    pub address: SocketAddr,
    _socket: UdpSocket,
}

impl SilentResolver {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        Self {
            address: socket.local_addr().expect("address"),
            _socket: socket,
        }
    }
}

/// A TCP or HTTPS endpoint that can be stopped and started again on the same port.
pub struct Endpoint {
    pub address: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The HTTP status an HTTPS endpoint answers with.
    status: u16,
    task: Option<JoinHandle<()>>,
    /// While down, the port stays bound (not listening), so connections are refused and no
    /// other listener of the test run can take it.
    held: Option<tokio::net::TcpSocket>,
}

/// A CA and a server certificate for "localhost" signed by it.
pub struct TestPki {
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestPki {
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Intranet test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server = Self::server_config(&issuer, &["localhost", "127.0.0.1"], false);
        Self {
            ca_pem: ca_cert.pem(),
            server,
            issuer,
        }
    }

    /// A server config with a certificate for `names` from this CA; `expired` makes one that
    /// ran out two days ago.
    pub fn site(&self, names: &[&str], expired: bool) -> Arc<rustls::ServerConfig> {
        Self::server_config(&self.issuer, names, expired)
    }

    fn server_config(
        issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
        names: &[&str],
        expired: bool,
    ) -> Arc<rustls::ServerConfig> {
        let server_key = rcgen::KeyPair::generate().expect("key");
        let mut server_params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .expect("params");
        if expired {
            let now = time::OffsetDateTime::now_utc();
            server_params.not_before = now - time::Duration::days(30);
            server_params.not_after = now - time::Duration::days(2);
        }
        let server_cert = server_params
            .signed_by(&server_key, issuer)
            .expect("server cert");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .expect("server config");
        Arc::new(config)
    }
}

impl Endpoint {
    pub async fn tcp() -> Self {
        Self::start(None, "127.0.0.1:0".parse().expect("address")).await
    }

    pub async fn https(pki: &TestPki) -> Self {
        Self::start(
            Some(pki.server.clone()),
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
    }

    /// An HTTPS site with its own certificate, answering every request with `status`.
    pub async fn https_site(config: Arc<rustls::ServerConfig>, status: u16) -> Self {
        let mut endpoint = Self {
            address: "127.0.0.1:0".parse().expect("address"),
            tls: Some(config),
            status,
            task: None,
            held: None,
        };
        endpoint.up().await;
        endpoint
    }

    async fn start(tls: Option<Arc<rustls::ServerConfig>>, address: SocketAddr) -> Self {
        let mut endpoint = Self {
            address,
            tls,
            status: 200,
            task: None,
            held: None,
        };
        endpoint.up().await;
        endpoint
    }

    /// Starts serving (again) on the same address.
    pub async fn up(&mut self) {
        self.held = None;
        let listener = TcpListener::bind(self.address)
            .await
            .expect("bind endpoint");
        self.address = listener.local_addr().expect("address");
        let tls = self.tls.clone();
        let status = self.status;
        self.task = Some(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => drop(stream),
                        Some(config) => {
                            let Ok(mut stream) =
                                tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                            else {
                                return;
                            };
                            let mut request = [0u8; 2048];
                            let _ = stream.read(&mut request).await;
                            let answer = format!(
                                "HTTP/1.1 {status} Status\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                            );
                            let _ = stream.write_all(answer.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        }
                    }
                });
            }
        }));
    }

    /// Stops serving: connections are refused until `up`. The port is kept bound without
    /// listening, so a listener started later in the run cannot be handed the same port.
    pub async fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // The listener is closed once the aborted task is dropped.
            let _ = task.await;
        }
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.address).expect("hold the closed port");
        self.held = Some(socket);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
