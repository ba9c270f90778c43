//! HTTPS reachability, layer by layer: resolve → TCP → TLS (certificate, expiry, name) → HTTP
//! status and time. The certificate is recorded even when it does not verify, because an
//! expired or mismatched certificate is exactly what a user's "the intranet is broken" is.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::tcp;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub not_after_unix: i64,
    pub days_left: f64,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpsResult {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub connect: Option<tcp::ConnectResult>,
    pub tls_ms: Option<f64>,
    pub certificate: Option<CertificateInfo>,
    pub http_status: Option<u16>,
    pub total_ms: f64,
    /// "url", "resolve", "connect", "tls", "http": the first layer that failed.
    pub failed_stage: Option<&'static str>,
    pub error: Option<String>,
}

impl HttpsResult {
    /// Reachable and healthy: the request completed with a status below 500.
    pub fn ok(&self) -> bool {
        self.failed_stage.is_none() && self.http_status.is_some_and(|status| status < 500)
    }
}

/// Trust anchors: the OS's store, plus any extra CA the config names.
pub fn roots(extra_ca_pem: Option<&str>) -> Result<Arc<RootCertStore>, String> {
    static SYSTEM: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    let system = SYSTEM.get_or_init(|| rustls_native_certs::load_native_certs().certs);
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(system.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for block in pem_blocks(pem) {
            store
                .add(CertificateDer::from(block))
                .map_err(|e| format!("CA certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("no PEM certificate found".to_owned());
        }
    }
    Ok(Arc::new(store))
}

/// DER bodies of the `CERTIFICATE` blocks in a PEM text.
pub fn pem_blocks(pem: &str) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut rest = pem.as_bytes();
    while let Ok((remaining, block)) = x509_parser::pem::parse_x509_pem(rest) {
        if block.label == "CERTIFICATE" {
            blocks.push(block.contents);
        }
        if remaining.len() == rest.len() {
            break;
        }
        rest = remaining;
    }
    blocks
}

/// Checks `url` (https://host[:port][/path]) within `timeout` per layer.
pub async fn check(url: &str, roots: Arc<RootCertStore>, timeout: Duration) -> HttpsResult {
    check_via(url, None, roots, timeout).await
}

/// As [`check`], connecting to `address` when given (resolved by the caller, e.g. through a
/// particular DNS server) while the URL's host still names the server for TLS and HTTP.
pub async fn check_via(
    url: &str,
    address: Option<std::net::SocketAddr>,
    roots: Arc<RootCertStore>,
    timeout: Duration,
) -> HttpsResult {
    let started = Instant::now();
    let mut result = HttpsResult {
        url: url.to_owned(),
        host: String::new(),
        port: 443,
        connect: None,
        tls_ms: None,
        certificate: None,
        http_status: None,
        total_ms: 0.0,
        failed_stage: None,
        error: None,
    };
    let finish = |mut result: HttpsResult, stage: Option<&'static str>, error: Option<String>| {
        result.failed_stage = stage;
        result.error = error;
        result.total_ms = started.elapsed().as_secs_f64() * 1000.0;
        result
    };
    let (host, port, path) = match split_url(url) {
        Ok(parts) => parts,
        Err(e) => return finish(result, Some("url"), Some(e)),
    };
    result.host.clone_from(&host);
    result.port = port;

    let endpoint = match address {
        Some(address) => std::net::SocketAddr::new(address.ip(), port).to_string(),
        None => format!("{host}:{port}"),
    };
    let (connect, stream) = tcp::connect(&endpoint, timeout).await;
    let stage = connect.failed_stage;
    let error = connect.error.clone();
    result.connect = Some(connect);
    let Some(stream) = stream else {
        return finish(result, stage, error);
    };

    let seen = Arc::new(Mutex::new(None));
    let verifier = match WebPkiServerVerifier::builder(roots).build() {
        Ok(inner) => Arc::new(RecordingVerifier {
            inner,
            seen: seen.clone(),
        }),
        Err(e) => {
            return finish(
                result,
                Some("tls"),
                Some(format!("no usable trust anchors: {e}")),
            );
        }
    };
    let config = ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let server_name = match ServerName::try_from(host.clone()) {
        Ok(name) => name,
        Err(e) => {
            return finish(
                result,
                Some("url"),
                Some(format!("{host:?} is not a host name: {e}")),
            );
        }
    };
    let tls_started = Instant::now();
    let handshake = tokio::time::timeout(
        timeout,
        TlsConnector::from(Arc::new(config)).connect(server_name, stream),
    )
    .await;
    if let Some(der) = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
    {
        result.certificate = describe_certificate(&der);
    }
    let mut tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            return finish(
                result,
                Some("tls"),
                Some(format!("TLS handshake with {host}:{port} failed: {e}")),
            );
        }
        Err(_) => {
            return finish(
                result,
                Some("tls"),
                Some(format!(
                    "TLS handshake with {host}:{port} timed out after {timeout:?}"
                )),
            );
        }
    };
    result.tls_ms = Some(tls_started.elapsed().as_secs_f64() * 1000.0);

    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: firstline-agent/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        crate::AGENT_VERSION
    );
    let exchange = async {
        tls.write_all(request.as_bytes()).await?;
        let mut head = Vec::with_capacity(1024);
        let mut buffer = [0u8; 1024];
        // The status line is all we need; stop reading at the end of the first line.
        while !head.contains(&b'\n') && head.len() < 16 * 1024 {
            let read = tls.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..read]);
        }
        Ok::<_, std::io::Error>(head)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(head)) => match parse_status(&head) {
            Some(status) => {
                result.http_status = Some(status);
                if status >= 500 {
                    let error = Some(format!("{url} answered HTTP {status}"));
                    return finish(result, Some("http"), error);
                }
                finish(result, None, None)
            }
            None => finish(
                result,
                Some("http"),
                Some(format!("{url} did not answer with an HTTP status line")),
            ),
        },
        Ok(Err(e)) => finish(
            result,
            Some("http"),
            Some(format!("HTTP request to {url} failed: {e}")),
        ),
        Err(_) => finish(
            result,
            Some("http"),
            Some(format!("HTTP request to {url} timed out after {timeout:?}")),
        ),
    }
}

/// `https://host[:port][/path]` → (host, port, path).
pub fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("{url:?} is not an https:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(index) => (&rest[..index], rest[index..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: unclosed '['"))?;
        let port = after
            .strip_prefix(':')
            .map(str::parse)
            .transpose()
            .map_err(|_| format!("{url:?}: bad port"))?;
        (host.to_owned(), port.unwrap_or(443))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_owned(),
                port.parse().map_err(|_| format!("{url:?}: bad port"))?,
            ),
            None => (authority.to_owned(), 443),
        }
    };
    if host.is_empty() || host.contains(['@', ' ']) {
        return Err(format!("{url:?} names no usable host"));
    }
    Ok((host, port, path))
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_whitespace();
    parts
        .next()
        .filter(|version| version.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

fn describe_certificate(der: &[u8]) -> Option<CertificateInfo> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after_unix = certificate.validity().not_after.timestamp();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let names = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .map(|name| name.to_string())
                .collect()
        })
        .unwrap_or_default();
    Some(CertificateInfo {
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        not_after_unix,
        days_left: (not_after_unix - now) as f64 / 86_400.0,
        names,
    })
}

/// Verifies like a browser would, but keeps the server's certificate for the report.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(end_entity.as_ref().to_vec());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        let cases = [
            (
                "https://intranet.example.com",
                Ok(("intranet.example.com", 443, "/")),
            ),
            (
                "https://intranet.example.com:8443/status?x=1",
                Ok(("intranet.example.com", 8443, "/status?x=1")),
            ),
            ("https://[::1]:9443/", Ok(("::1", 9443, "/"))),
            ("http://intranet.example.com", Err("not an https")),
            ("https://:443/", Err("no usable host")),
        ];
        for (url, expected) in cases {
            match (split_url(url), expected) {
                (Ok((host, port, path)), Ok((h, p, pa))) => {
                    assert_eq!((host.as_str(), port, path.as_str()), (h, p, pa))
                }
                (Err(error), Err(fragment)) => assert!(error.contains(fragment), "{url}: {error}"),
                (outcome, expected) => panic!("{url}: {outcome:?} vs {expected:?}"),
            }
        }
        assert_eq!(
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
    }
}
