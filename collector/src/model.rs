//! The collector's domain types: what an agent reported, once validated. Wire types are
//! converted into these in `wire.rs` and nowhere else.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ok" => Severity::Ok,
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// One observation of one check on one resource of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub sequence: u64,
    pub check: String,
    pub resource: String,
    pub severity: Severity,
    pub summary: String,
    /// A JSON object, validated on ingest.
    pub evidence_json: String,
    pub observed_at_ms: i64,
}

/// What a device told us about itself on connect. Stored as JSON: fields added later default,
/// so rows written by older versions still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Inventory {
    pub hostname: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel_version: String,
    pub architecture: String,
    pub cpu_model: String,
    pub cpu_logical_cores: u32,
    pub cpu_physical_cores: u32,
    pub memory_total_bytes: u64,
    pub swap_total_bytes: u64,
    pub disks: Vec<Disk>,
    pub interfaces: Vec<NetworkInterface>,
    pub uptime_secs: u64,
    pub agent_version: String,
    pub site: String,
    pub gateways: Vec<String>,
    pub dns_servers: Vec<String>,
    /// Who has a session on the device (graphical first), as its agent last said.
    pub users: Vec<DeviceUser>,
    /// The account that logged in last (empty when unknown).
    pub last_user: String,
}

impl Inventory {
    /// The device's people: the accounts with a session (graphical first, each once), else
    /// the account that logged in last.
    pub fn user_accounts(&self) -> Vec<String> {
        let mut accounts: Vec<String> = Vec::new();
        for user in &self.users {
            if !accounts.contains(&user.account) {
                accounts.push(user.account.clone());
            }
        }
        if accounts.is_empty() && !self.last_user.is_empty() {
            accounts.push(self.last_user.clone());
        }
        accounts
    }
}

/// One login session on a device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DeviceUser {
    pub account: String,
    /// The display or terminal line (":0", "tty1", "pts/0").
    pub line: String,
    pub kind: SessionKind,
    /// When the session began (0 when unknown).
    pub login_at_ms: i64,
    /// The remote host of a remote session.
    pub remote_host: String,
}

/// What a person is sitting at: a graphical display, a console, or another machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Graphical,
    Console,
    Remote,
    /// A kind this collector does not know (a newer agent).
    #[default]
    #[serde(other)]
    Other,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Graphical => "graphical",
            SessionKind::Console => "console",
            SessionKind::Remote => "remote",
            SessionKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Disk {
    pub mount_point: String,
    pub device: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub removable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NetworkInterface {
    pub name: String,
    pub mac_address: String,
    pub addresses: Vec<String>,
}

/// A device as the store knows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Device {
    pub id: String,
    pub hostname: String,
    pub agent_version: String,
    pub enrolled_at_ms: i64,
    pub certificate_serial: String,
    pub certificate_not_after_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub os_name: Option<String>,
    pub os_version: Option<String>,
    pub inventory: Option<Inventory>,
    pub inventory_at_ms: Option<i64>,
    pub last_seen_at_ms: Option<i64>,
    pub committed_sequence: u64,
    /// Where it is (agent config `site`, "default" when unset).
    pub site: String,
    /// A VIP's device: its tickets get higher impact.
    pub vip: bool,
    /// How the agent itself is doing, from its latest heartbeat that said (none from agents
    /// too old to report it).
    pub agent_health: Option<AgentHealth>,
    /// The last budget (`[limits]`) the device went over, in words, and when.
    pub budget_note: Option<String>,
    pub budget_note_at_ms: Option<i64>,
}

/// An agent's report on itself, sent with its heartbeats; each value is absent when the agent
/// did not know it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgentHealth {
    /// How long the slowest of its checks took in its most recent run (checks run side by
    /// side, so this is how long a full cycle of checks takes).
    pub check_cycle_ms: Option<u64>,
    /// The agent process's resident memory.
    pub resident_memory_bytes: Option<u64>,
    /// Findings waiting in its outbox for the collector's ack.
    pub outbox_depth: Option<u64>,
    /// When the heartbeat carrying these arrived (set by the store).
    pub reported_at_ms: i64,
}

impl AgentHealth {
    /// Whether the heartbeat said anything about the agent at all.
    pub fn is_empty(&self) -> bool {
        self.check_cycle_ms.is_none()
            && self.resident_memory_bytes.is_none()
            && self.outbox_depth.is_none()
    }
}

/// A finding as stored, with the device it came from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredFinding {
    pub device_id: String,
    pub received_at_ms: i64,
    #[serde(flatten)]
    pub finding: Finding,
}

/// Staff roles, from least to most privileged.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Technician,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Technician => "technician",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "technician" => Role::Technician,
            "supervisor" => Role::Supervisor,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
}

/// Milliseconds since the Unix epoch, the one time format of the store and the wire.
pub fn now_ms() -> i64 {
    system_time_ms(std::time::SystemTime::now())
}

pub fn system_time_ms(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}
