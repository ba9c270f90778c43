//! The one HTTP client ticket-system connectors call through (hyper's HTTP/1.1 client over
//! TCP or rustls): a request, its JSON answer, and every failure sorted into "try again
//! later" (the system is down, slow, busy or refused our credentials: fixable without losing
//! anything) or "refused for good" (the system says this request is wrong).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls;

use super::SyncError;

/// A system that does not answer within this long has failed this attempt.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Answers above this size are refused (a ticket page, not a data dump).
const MAX_ANSWER_BYTES: usize = 8 << 20;

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`what` names the call in the error).
    pub fn json(&self, what: &str) -> Result<serde_json::Value, SyncError> {
        // A 2xx that is not JSON is a proxy's or a maintenance page, not the system's answer.
        serde_json::from_slice(&self.body).map_err(|e| SyncError::Later {
            retry_after: None,
            message: (format!(
                "{what}: the answer is not JSON ({e}): {}",
                snippet(&self.body)
            )),
        })
    }
}

/// A request to make.
pub struct Call<'a> {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(&'a str, String)>,
    pub json: Option<serde_json::Value>,
    /// Names the call in errors ("creating the ticket").
    pub what: &'a str,
}

impl<'a> Call<'a> {
    pub fn new(method: http::Method, url: String, what: &'a str) -> Self {
        Call {
            method,
            url,
            headers: Vec::new(),
            json: None,
            what,
        }
    }

    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.json = Some(body);
        self
    }

    /// Sends it; any 2xx is the reply, anything else an error sorted by what it means.
    pub async fn send(self) -> Result<Reply, SyncError> {
        let what = self.what;
        let url = self.url.clone();
        let reply = tokio::time::timeout(TIMEOUT, self.exchange())
            .await
            .map_err(|_| SyncError::Later {
                message: format!("{what}: {url} did not answer within {TIMEOUT:?}"),
                retry_after: None,
            })??;
        classify(what, &url, reply)
    }

    async fn exchange(self) -> Result<(u16, Option<Duration>, Bytes), SyncError> {
        let later = |message: String| SyncError::Later {
            message,
            retry_after: None,
        };
        let what = self.what;
        let target = crate::channels::webhook::parse_url(&self.url)
            .map_err(|e| SyncError::Permanent(format!("{what}: {e}")))?;
        let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| {
                later(format!(
                    "{what}: connecting to {}:{}: {e}",
                    target.host, target.port
                ))
            })?;
        let body = match &self.json {
            Some(json) => Bytes::from(json.to_string()),
            None => Bytes::new(),
        };
        let mut request = http::Request::builder()
            .method(self.method.clone())
            .uri(&target.path)
            .header(http::header::HOST, &target.authority)
            .header(
                http::header::USER_AGENT,
                concat!("firstline-collector/", env!("CARGO_PKG_VERSION")),
            )
            .header(http::header::ACCEPT, "application/json")
            // One request per connection: nothing is left half-read for the next.
            .header(http::header::CONNECTION, "close");
        if self.json.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(body))
            // A credential that cannot be a header value: fixed in the config, then sent.
            .map_err(|e| later(format!("{what}: {e}")))?;
        if target.tls {
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| SyncError::Permanent(e.to_string()))?
            .with_root_certificates(crate::channels::webhook::roots())
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                .map_err(|e| SyncError::Permanent(format!("{:?}: {e}", target.host)))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, stream)
                .await
                .map_err(|e| later(format!("{what}: TLS with {}: {e}", target.host)))?;
            round_trip(what, TokioIo::new(stream), request).await
        } else {
            round_trip(what, TokioIo::new(stream), request).await
        }
    }
}

async fn round_trip<S>(
    what: &str,
    io: TokioIo<S>,
    request: http::Request<Full<Bytes>>,
) -> Result<(u16, Option<Duration>, Bytes), SyncError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let later = |message: String| SyncError::Later {
        message,
        retry_after: None,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| later(format!("{what}: {e}")))?;
    let driver = tokio::spawn(connection);
    let answer = sender.send_request(request).await;
    let result = match answer {
        Err(e) => Err(later(format!("{what}: {e}"))),
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            match Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
            {
                Ok(body) => Ok((status, retry_after, body.to_bytes())),
                Err(e) => Err(later(format!("{what}: reading the answer: {e}"))),
            }
        }
    };
    driver.abort();
    result
}

/// 2xx is an answer. 429 and 503 (with their `Retry-After`), 408, 409, other 5xx, 3xx, 401
/// and 403 (credentials or rights an admin fixes) are "later"; any other 4xx is this request
/// refused for good.
fn classify(
    what: &str,
    url: &str,
    (status, retry_after, body): (u16, Option<Duration>, Bytes),
) -> Result<Reply, SyncError> {
    if (200..300).contains(&status) {
        return Ok(Reply { status, body });
    }
    let message = format!("{what}: {url} answered HTTP {status}: {}", snippet(&body));
    // Redirects (a sign-in page, http → https) and conflicts are for a person to sort out or
    // pass; nothing is dropped for them.
    if matches!(status, 300..=399 | 401 | 403 | 408 | 409 | 429) || status >= 500 {
        Err(SyncError::Later {
            message,
            retry_after,
        })
    } else {
        Err(SyncError::Permanent(message))
    }
}

/// The start of an answer, for an error message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_into_later_and_refused() {
        let sort = |status: u16, retry: Option<u64>| {
            classify(
                "x",
                "http://h",
                (
                    status,
                    retry.map(Duration::from_secs),
                    Bytes::from_static(b"{}"),
                ),
            )
        };
        assert!(sort(201, None).is_ok());
        for status in [301, 302, 401, 403, 408, 409, 429, 500, 502, 503] {
            assert!(
                matches!(sort(status, None), Err(SyncError::Later { .. })),
                "{status}"
            );
        }
        assert!(matches!(
            sort(429, Some(7)),
            Err(SyncError::Later { retry_after: Some(wait), .. }) if wait == Duration::from_secs(7)
        ));
        for status in [400, 404, 422] {
            assert!(
                matches!(sort(status, None), Err(SyncError::Permanent(_))),
                "{status}"
            );
        }
    }
}
