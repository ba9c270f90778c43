//! `[limits]`: how much any one connection, address or device may take of the collector, so
//! that no single device, user or stranger can stall the others. Defaults fit a fleet of
//! tens of thousands behind NAT; each is documented in `collector.example.toml`.

use std::time::Duration;

use serde::Deserialize;

/// `[limits]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    /// Connections to the agent port at once, from everyone.
    connections: usize,
    /// Connections to the agent port at once from one address (a site behind NAT is one).
    connections_per_address: usize,
    /// A connection to the agent port that has made no request (enroll, stream) this long
    /// after it was accepted is closed: TLS handshake included.
    #[serde(with = "crate::config::humantime_serde_compat")]
    first_request_within: Duration,
    /// Connections to the HTTP port at once, from everyone and from one address.
    http_connections: usize,
    http_connections_per_address: usize,
    /// An HTTP connection with no bytes either way this long is closed.
    #[serde(with = "crate::config::humantime_serde_compat")]
    http_idle: Duration,
    /// No HTTP connection lives longer than this (browsers reconnect without a word).
    #[serde(with = "crate::config::humantime_serde_compat")]
    http_lifetime: Duration,
    /// Findings one device may have decided per second, sustained; a burst of up to
    /// `device_findings_burst` goes at once (a backlog after an outage). Faster, its acks
    /// wait: the device is slowed, nothing is lost, and nobody else waits for it.
    device_findings_per_second: u32,
    device_findings_burst: u32,
    /// Distinct conditions (check and resource) one device may have; findings for new ones
    /// beyond are refused.
    device_conditions: usize,
    /// Tickets a device's users may open in their own words per hour.
    device_report_tickets_per_hour: u32,
}

impl Default for LimitsFile {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            connections: limits.connections,
            connections_per_address: limits.connections_per_address,
            first_request_within: limits.first_request_within,
            http_connections: limits.http_connections,
            http_connections_per_address: limits.http_connections_per_address,
            http_idle: limits.http_idle,
            http_lifetime: limits.http_lifetime,
            device_findings_per_second: limits.device_findings_per_second,
            device_findings_burst: limits.device_findings_burst,
            device_conditions: limits.device_conditions,
            device_report_tickets_per_hour: limits.device_report_tickets_per_hour,
        }
    }
}

/// Validated `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub connections: usize,
    pub connections_per_address: usize,
    pub first_request_within: Duration,
    pub http_connections: usize,
    pub http_connections_per_address: usize,
    pub http_idle: Duration,
    pub http_lifetime: Duration,
    pub device_findings_per_second: u32,
    pub device_findings_burst: u32,
    pub device_conditions: usize,
    pub device_report_tickets_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections: 20_000,
            connections_per_address: 1_024,
            first_request_within: Duration::from_secs(10),
            http_connections: 1_024,
            http_connections_per_address: 64,
            http_idle: Duration::from_secs(60),
            http_lifetime: Duration::from_secs(600),
            device_findings_per_second: 100,
            device_findings_burst: 5_000,
            device_conditions: 1_000,
            device_report_tickets_per_hour: 20,
        }
    }
}

impl LimitsFile {
    /// The typed limits, or what is wrong, naming the key.
    pub fn validate(self) -> Result<Limits, String> {
        let at_least_one = [
            ("connections", self.connections),
            ("connections_per_address", self.connections_per_address),
            ("http_connections", self.http_connections),
            (
                "http_connections_per_address",
                self.http_connections_per_address,
            ),
            (
                "device_findings_per_second",
                self.device_findings_per_second as usize,
            ),
            ("device_findings_burst", self.device_findings_burst as usize),
            ("device_conditions", self.device_conditions),
            (
                "device_report_tickets_per_hour",
                self.device_report_tickets_per_hour as usize,
            ),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Err(format!("limits.{key} must be at least 1"));
            }
        }
        if self.http_connections_per_address > self.http_connections {
            return Err(format!(
                "limits.http_connections_per_address ({}) must not exceed limits.http_connections ({})",
                self.http_connections_per_address, self.http_connections
            ));
        }
        if self.device_findings_burst < 1_000 {
            return Err(format!(
                "limits.device_findings_burst ({}) must be at least 1000 (one full batch)",
                self.device_findings_burst
            ));
        }
        if self.connections_per_address > self.connections {
            return Err(format!(
                "limits.connections_per_address ({}) must not exceed limits.connections ({})",
                self.connections_per_address, self.connections
            ));
        }
        let durations = [
            ("first_request_within", self.first_request_within),
            ("http_idle", self.http_idle),
            ("http_lifetime", self.http_lifetime),
        ];
        for (key, value) in durations {
            if value < Duration::from_secs(1) {
                return Err(format!("limits.{key} must be at least 1s"));
            }
        }
        Ok(Limits {
            connections: self.connections,
            connections_per_address: self.connections_per_address,
            first_request_within: self.first_request_within,
            http_connections: self.http_connections,
            http_connections_per_address: self.http_connections_per_address,
            http_idle: self.http_idle,
            http_lifetime: self.http_lifetime,
            device_findings_per_second: self.device_findings_per_second,
            device_findings_burst: self.device_findings_burst,
            device_conditions: self.device_conditions,
            device_report_tickets_per_hour: self.device_report_tickets_per_hour,
        })
    }
}
