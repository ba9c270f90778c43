//! Opening a TLS channel to the collector: the collector's CA pinned, and the device
//! certificate presented when there is one.

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

/// The collector's gRPC port when a URL names none.
pub const DEFAULT_COLLECTOR_PORT: u16 = 7443;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("collector URL {url:?} is not valid: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("connecting to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error(
        "{url} does not present the CA the token names (pin {pin}): this is not the collector that made the token, or the token was mistyped"
    )]
    PinMismatch { url: String, pin: String },
}

/// Accepts `host`, `host:port` or `https://host:port` and returns `https://host:port`.
pub fn normalize_collector_url(text: &str) -> Result<String, ChannelError> {
    let invalid = |reason: &str| ChannelError::InvalidUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|_| invalid("expected https://HOST:PORT"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => return Err(invalid("the collector only speaks TLS; use https://")),
        _ => return Err(invalid("expected https://HOST:PORT")),
    }
    let host = uri
        .host()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| invalid("it names no host"))?;
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(invalid(
            "a path is not expected; give only https://HOST:PORT",
        ));
    }
    let port = uri.port_u16().unwrap_or(DEFAULT_COLLECTOR_PORT);
    Ok(format!("https://{host}:{port}"))
}

/// Connects to `url` trusting only `ca_pem`; presents `client` (certificate PEM, key PEM) if given.
pub async fn connect(
    url: &str,
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<Channel, ChannelError> {
    let url = normalize_collector_url(url)?;
    let connect_error = |detail: String| ChannelError::Connect {
        url: url.clone(),
        detail,
    };
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some((certificate_pem, key_pem)) = client {
        tls = tls.identity(Identity::from_pem(certificate_pem, key_pem));
    }
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| connect_error(error_chain(&e)))?
        .tls_config(tls)
        .map_err(|e| connect_error(error_chain(&e)))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    endpoint.connect().await.map_err(|e| {
        let mut detail = error_chain(&e);
        if let Some(hint) = clock_hint(&detail).or_else(|| tls_hint(&detail).map(str::to_owned)) {
            detail = format!("{detail} ({hint})");
        }
        connect_error(detail)
    })
}

/// Fetches the collector's CA certificate (PEM) from the chain it presents, accepting it only
/// if its pin (the start of its SHA-256, as the enrollment token carries) matches. The server
/// itself is verified afterwards, against this CA, by the ordinary connection.
pub async fn fetch_pinned_ca(url: &str, pin: &str) -> Result<String, ChannelError> {
    use std::sync::Arc;
    use tokio_rustls::rustls::{self, ClientConfig, pki_types::ServerName};

    let url = normalize_collector_url(url)?;
    let connect_error = |detail: String| ChannelError::Connect {
        url: url.clone(),
        detail,
    };
    let authority = url.trim_start_matches("https://");
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| connect_error("no port".to_owned()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port: u16 = port
        .parse()
        .map_err(|_| connect_error(format!("bad port {port:?}")))?;
    let stream = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| connect_error(format!("timed out after {CONNECT_TIMEOUT:?}")))?
    .map_err(|e| connect_error(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| connect_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainCollector { provider }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let server_name =
        ServerName::try_from(host.clone()).map_err(|e| connect_error(e.to_string()))?;
    let tls = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(server_name, stream),
    )
    .await
    .map_err(|_| connect_error(format!("TLS handshake timed out after {CONNECT_TIMEOUT:?}")))?
    .map_err(|e| connect_error(format!("TLS handshake: {e}")))?;
    let chain = tls.get_ref().1.peer_certificates().unwrap_or_default();
    for certificate in chain.iter().skip(1) {
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate.as_ref());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        if !pin.is_empty() && hex.starts_with(&pin.to_ascii_lowercase()) {
            let block = pem::Pem::new("CERTIFICATE", certificate.as_ref().to_vec());
            return Ok(pem::encode_config(
                &block,
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            ));
        }
    }
    Err(ChannelError::PinMismatch {
        url,
        pin: pin.to_owned(),
    })
}

/// Accepts whatever chain the server shows so that it can be inspected; nothing is trusted
/// through it (the CA is checked against the pin, the server again on the real connection).
#[derive(Debug)]
struct ChainCollector {
    provider: std::sync::Arc<tokio_rustls::rustls::crypto::CryptoProvider>,
}

impl tokio_rustls::rustls::client::danger::ServerCertVerifier for ChainCollector {
    fn verify_server_cert(
        &self,
        _end_entity: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[tokio_rustls::rustls::pki_types::CertificateDer<'_>],
        _server_name: &tokio_rustls::rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: tokio_rustls::rustls::pki_types::UnixTime,
    ) -> Result<tokio_rustls::rustls::client::danger::ServerCertVerified, tokio_rustls::rustls::Error>
    {
        Ok(tokio_rustls::rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        tokio_rustls::rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        tokio_rustls::rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<tokio_rustls::rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// An error with all its causes, "outer: inner: innermost", each said once (our messages
/// often quote their cause already), so that a TLS alert buried three levels down reaches the
/// log line and the terminal.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Explains a gRPC status from the collector in the words an operator needs.
pub fn describe_status(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(": ");
        text.push_str(&error_chain(source));
    }
    if let Some(hint) = clock_hint(&text).or_else(|| tls_hint(&text).map(str::to_owned)) {
        text.push_str(" (");
        text.push_str(&hint);
        text.push(')');
    }
    text
}

/// When this computer's clock puts the collector's certificate outside its validity, the
/// clock is the likely culprit (the collector's certificate is back-dated two days and kept a
/// year): say so, and by how much at least, from what the TLS library reports.
fn clock_hint(text: &str) -> Option<String> {
    let seconds_before = |marker: &str| -> Option<u64> {
        let before = &text[..text.find(marker)?];
        before
            .rsplit(|c: char| !c.is_ascii_digit())
            .find(|word| !word.is_empty())?
            .parse()
            .ok()
    };
    let describe =
        |seconds: u64| humantime::format_duration(Duration::from_secs(seconds.max(1))).to_string();
    if text.contains("certificate not valid yet") {
        let behind = seconds_before(" seconds in future")
            .map_or_else(String::new, |s| format!(" by at least {}", describe(s)));
        Some(format!(
            "this computer's clock is behind{behind}: the collector's certificate is not valid yet by it; set the clock right (or enable time sync) and the agent connects"
        ))
    } else if text.contains("certificate expired: verification time") {
        let ahead = seconds_before(" seconds ago").map_or_else(String::new, |s| {
            format!(" (it expired {} ago by this clock)", describe(s))
        });
        Some(format!(
            "the collector's certificate has expired by this computer's clock{ahead}: if the clock is right, the collector needs a restart to renew it; if not, this computer's clock is ahead"
        ))
    } else {
        None
    }
}

/// TLS alerts are terse; say what they usually mean for an agent.
fn tls_hint(text: &str) -> Option<&'static str> {
    const CERTIFICATE_REFUSED: &str = "the collector did not accept this device's certificate: it was issued by another collector's CA or has expired; enroll again with a new token";
    if text.contains("UnknownCA")
        || text.contains("BadCertificate")
        || text.contains("DecryptError")
    {
        Some(CERTIFICATE_REFUSED)
    } else if text.contains("CertificateExpired") {
        Some("a certificate has expired; enroll again with a new token")
    } else if text.contains("UnknownIssuer") || text.contains("NotValidForName") {
        Some(
            "the collector's certificate is not from the pinned CA or not for this address; check --collector and --ca-file",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_outside_its_validity_by_our_clock_names_the_skew() {
        let not_yet = "connecting to https://127.0.0.1:7443: transport error: invalid peer certificate: certificate not valid yet: verification time 1796000000 (UNIX), but certificate is not valid before 1796172800 (172800 seconds in future)";
        let hint = clock_hint(not_yet).expect("a hint");
        assert!(hint.contains("clock is behind by at least 2days"), "{hint}");
        let expired = "invalid peer certificate: certificate expired: verification time 1900000000 (UNIX), but certificate is not valid after 1899996400 (3600 seconds ago)";
        let hint = clock_hint(expired).expect("a hint");
        assert!(hint.contains("expired 1h ago"), "{hint}");
        assert_eq!(clock_hint("connection refused"), None);
    }

    #[test]
    fn collector_urls_are_normalised_or_refused() {
        let cases = [
            (
                "collector.example.com",
                Ok("https://collector.example.com:7443"),
            ),
            (
                "collector.example.com:9000",
                Ok("https://collector.example.com:9000"),
            ),
            ("https://127.0.0.1:7443", Ok("https://127.0.0.1:7443")),
            ("https://[::1]:7443/", Ok("https://[::1]:7443")),
            ("http://collector.example.com", Err("only speaks TLS")),
            (
                "https://collector.example.com/api",
                Err("a path is not expected"),
            ),
            ("ftp://x", Err("expected https")),
            ("", Err("")),
        ];
        for (input, expected) in cases {
            match (normalize_collector_url(input), expected) {
                (Ok(url), Ok(expected)) => assert_eq!(url, expected),
                (Err(error), Err(fragment)) => {
                    assert!(error.to_string().contains(fragment), "{input}: {error}")
                }
                (outcome, expected) => panic!("{input}: got {outcome:?}, expected {expected:?}"),
            }
        }
    }
}
