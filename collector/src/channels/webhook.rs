//! The webhook channel: the delivery's JSON POSTed to a URL, with headers receivers use to
//! check it: `X-Firstline-Signature: t=UNIX_SECONDS,v1=HEX` where HEX is the HMAC-SHA256 of
//! "UNIX_SECONDS.BODY" with the channel's secret, `X-Firstline-Event`, and
//! `Idempotency-Key` (the delivery id; a retried delivery keeps it).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::store::channels::Delivery;

/// A receiver that does not answer in this long has failed this attempt.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Where a webhook goes, read once from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// host[:port] as written, for the Host header.
    pub authority: String,
    /// Path and query, at least "/".
    pub path: String,
}

/// Reads `http(s)://host[:port][/path][?query]`; user info in the URL is refused (it would
/// travel in the clear in a header).
pub fn parse_url(url: &str) -> Result<Target, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let path = match tail.split('#').next().unwrap_or_default() {
        "" => "/".to_owned(),
        query if query.starts_with('?') => format!("/{query}"),
        path => path.to_owned(),
    };
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(format!(
            "{url:?} needs a host (and no user name or password in it)"
        ));
    }
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("{url:?}: an IPv6 address needs its closing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port
                .parse()
                .map_err(|_| format!("{url:?} has a bad port"))?,
            None if after.is_empty() => default_port,
            None => return Err(format!("{url:?} has a bad host")),
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_owned(),
                port.parse()
                    .map_err(|_| format!("{url:?} has a bad port"))?,
            ),
            None => (authority.to_owned(), default_port),
        }
    };
    Ok(Target {
        tls,
        host,
        port,
        authority: authority.to_owned(),
        path,
    })
}

/// POSTs the delivery; any 2xx answer is success.
pub async fn post(url: &str, secret: &str, delivery: &Delivery) -> Result<(), String> {
    let Target {
        tls,
        host,
        port,
        authority,
        path,
    } = parse_url(url)?;
    let host = host.as_str();
    let timestamp = crate::model::now_ms() / 1000;
    let body = &delivery.payload_json;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: firstline-collector/{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nX-Firstline-Event: {}\r\n\
         Idempotency-Key: {}\r\nX-Firstline-Signature: {}\r\nConnection: close\r\n\r\n{body}",
        env!("CARGO_PKG_VERSION"),
        body.len(),
        delivery.event,
        delivery.id,
        signature(secret, timestamp, body),
    );
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
        if tls {
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots())
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| format!("{host:?}: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            exchange(stream, &request).await
        } else {
            exchange(stream, &request).await
        }
    };
    let status = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{url} did not answer within {TIMEOUT:?}"))??;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("{url} answered HTTP {status}"))
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<u16, String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut buffer = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 8192 {
        let read = stream
            .read(&mut buffer)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "the receiver did not answer with an HTTP status".to_owned())
}

pub(crate) fn roots() -> rustls::RootCertStore {
    static SYSTEM: std::sync::OnceLock<Vec<rustls::pki_types::CertificateDer<'static>>> =
        std::sync::OnceLock::new();
    let system = SYSTEM.get_or_init(|| rustls_native_certs::load_native_certs().certs);
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(system.iter().cloned());
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_read_strictly() {
        let target = parse_url("https://hooks.example.com/a/b?c=1").expect("parses");
        assert_eq!(
            (
                target.tls,
                target.host.as_str(),
                target.port,
                target.path.as_str()
            ),
            (true, "hooks.example.com", 443, "/a/b?c=1")
        );
        let target = parse_url("http://[::1]:8080").expect("parses");
        assert_eq!(
            (target.host.as_str(), target.port, target.path.as_str()),
            ("::1", 8080, "/")
        );
        assert_eq!(parse_url("https://[::1]").expect("parses").port, 443);
        assert_eq!(parse_url("https://host?x=1").expect("parses").path, "/?x=1");
        for bad in [
            "ftp://h",
            "https://user:pw@h/",
            "https://h:port/",
            "https://",
            "https://[::1/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // HMAC-SHA256("key", "1700000000.{}") as Python's hmac module computes it.
        let value = signature("key", 1_700_000_000, "{}");
        assert_eq!(
            value,
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(signature("other", 1_700_000_000, "{}"), value);
        assert_ne!(signature("key", 1_700_000_001, "{}"), value);
    }
}
