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

/// POSTs the delivery; any 2xx answer is success.
pub async fn post(url: &str, secret: &str, delivery: &Delivery) -> Result<(), String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("{url:?} is not an http(s) URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => (
            host.trim_start_matches('[').trim_end_matches(']'),
            port.parse::<u16>()
                .map_err(|_| format!("{url:?} has a bad port"))?,
        ),
        _ => (authority, if tls { 443 } else { 80 }),
    };
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

fn roots() -> rustls::RootCertStore {
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
