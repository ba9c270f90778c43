//! TCP connect to `host:port`: does anything answer, and how fast.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::net::TcpStream;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectResult {
    pub endpoint: String,
    pub addresses: Vec<SocketAddr>,
    /// The address that accepted, if one did.
    pub connected: Option<SocketAddr>,
    pub connect_ms: Option<f64>,
    /// Why not, in the OS's words ("Connection refused", "timed out after 3s", …).
    pub error: Option<String>,
    /// "resolve" or "connect": where it failed.
    pub failed_stage: Option<&'static str>,
}

/// Resolves `endpoint` ("host:port") and tries each address until one accepts.
pub async fn connect(endpoint: &str, timeout: Duration) -> (ConnectResult, Option<TcpStream>) {
    let mut result = ConnectResult {
        endpoint: endpoint.to_owned(),
        addresses: Vec::new(),
        connected: None,
        connect_ms: None,
        error: None,
        failed_stage: None,
    };
    match tokio::time::timeout(timeout, tokio::net::lookup_host(endpoint)).await {
        Ok(Ok(addresses)) => result.addresses = addresses.collect(),
        Ok(Err(e)) => {
            result.error = Some(format!("cannot resolve {endpoint}: {e}"));
            result.failed_stage = Some("resolve");
            return (result, None);
        }
        Err(_) => {
            result.error = Some(format!("resolving {endpoint} timed out after {timeout:?}"));
            result.failed_stage = Some("resolve");
            return (result, None);
        }
    }
    let mut errors = Vec::new();
    for address in result.addresses.clone() {
        let started = Instant::now();
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                result.connected = Some(address);
                result.connect_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                return (result, Some(stream));
            }
            Ok(Err(e)) => errors.push(format!("{address}: {e}")),
            Err(_) => errors.push(format!("{address}: timed out after {timeout:?}")),
        }
    }
    result.error = Some(if errors.is_empty() {
        format!("{endpoint} resolved to no address")
    } else {
        errors.join("; ")
    });
    result.failed_stage = Some("connect");
    (result, None)
}
