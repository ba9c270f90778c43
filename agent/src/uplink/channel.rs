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
        if let Some(hint) = tls_hint(&detail) {
            detail = format!("{detail} ({hint})");
        }
        connect_error(detail)
    })
}

/// An error with all its causes, "outer: inner: innermost", so that a TLS alert buried three
/// levels down reaches the log line and the terminal.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
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
    if let Some(hint) = tls_hint(&text) {
        text.push_str(" (");
        text.push_str(hint);
        text.push(')');
    }
    text
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
