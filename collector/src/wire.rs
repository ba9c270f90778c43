//! The one place where generated `firstline.v1` types meet the collector's domain types.
//! Everything an agent sends is validated here: bounded, well-formed, or refused with a reason.

use firstline_proto::v1 as pb;

use crate::model::{
    AgentHealth, DeviceUser, Disk, Finding, Inventory, NetworkInterface, SessionKind, Severity,
};

pub const MAX_CHECK_NAME_BYTES: usize = 64;
pub const MAX_RESOURCE_BYTES: usize = 512;
pub const MAX_SUMMARY_BYTES: usize = 1024;
pub const MAX_EVIDENCE_BYTES: usize = 64 * 1024;
pub const MAX_INVENTORY_TEXT_BYTES: usize = 256;
pub const MAX_INVENTORY_ITEMS: usize = 256;
/// A device's sessions and the length of an account name or a line (far beyond real ones).
pub const MAX_DEVICE_USERS: usize = 32;
pub const MAX_ACCOUNT_BYTES: usize = 64;
/// Also enforced on the raw bytes before decoding (`firstline_proto::codec`).
pub const MAX_FINDINGS_PER_BATCH: usize = firstline_proto::codec::MAX_FINDINGS_PER_BATCH;
/// Bounds on what an agent says about itself: far beyond anything real, so a value past them
/// is a bug or a lie, not a slow or large agent.
pub const MAX_CHECK_CYCLE_MS: u64 = 24 * 3600 * 1000;
pub const MAX_RESIDENT_MEMORY_BYTES: u64 = 1 << 40;
pub const MAX_OUTBOX_DEPTH: u64 = 1 << 40;

/// A field of an agent's message that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct InvalidField {
    pub field: &'static str,
    pub problem: Problem,
    pub reason: String,
}

/// What kind of trouble a field is in: a small fixed set, fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// Over its size or count limit.
    TooLarge,
    /// Not readable as its type: JSON that does not parse, a severity with no name.
    Malformed,
    /// Readable, but breaking a rule: empty, out of range, characters not allowed.
    Invalid,
}

impl Problem {
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::TooLarge => "too_large",
            Problem::Malformed => "malformed",
            Problem::Invalid => "invalid_field",
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidField {
    InvalidField {
        field,
        problem: Problem::Invalid,
        reason: reason.into(),
    }
}

fn malformed(field: &'static str, reason: impl Into<String>) -> InvalidField {
    InvalidField {
        field,
        problem: Problem::Malformed,
        reason: reason.into(),
    }
}

fn too_large(field: &'static str, reason: impl Into<String>) -> InvalidField {
    InvalidField {
        field,
        problem: Problem::TooLarge,
        reason: reason.into(),
    }
}

impl TryFrom<pb::Finding> for Finding {
    type Error = InvalidField;

    fn try_from(finding: pb::Finding) -> Result<Self, Self::Error> {
        if finding.sequence == 0 || finding.sequence > i64::MAX as u64 {
            return Err(invalid(
                "sequence",
                format!("{} is outside 1..=2^63-1", finding.sequence),
            ));
        }
        let check = finding.check;
        if check.is_empty()
            || check.len() > MAX_CHECK_NAME_BYTES
            || !check
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        {
            return Err(invalid(
                "check",
                format!(
                    "{check:.80?} must be 1-{MAX_CHECK_NAME_BYTES} characters of a-z, 0-9, '.', '_' or '-'"
                ),
            ));
        }
        let resource = bounded_text("resource", finding.resource, MAX_RESOURCE_BYTES)?;
        let summary = bounded_text("summary", finding.summary, MAX_SUMMARY_BYTES)?;
        if summary.trim().is_empty() {
            return Err(invalid("summary", "must not be empty"));
        }
        let severity = match pb::Severity::try_from(finding.severity) {
            Ok(pb::Severity::Ok) => Severity::Ok,
            Ok(pb::Severity::Info) => Severity::Info,
            Ok(pb::Severity::Warning) => Severity::Warning,
            Ok(pb::Severity::Critical) => Severity::Critical,
            Ok(pb::Severity::Unspecified) | Err(_) => {
                return Err(malformed(
                    "severity",
                    format!("{} is not a known severity", finding.severity),
                ));
            }
        };
        let evidence_json = if finding.evidence_json.is_empty() {
            "{}".to_owned()
        } else {
            finding.evidence_json
        };
        if evidence_json.len() > MAX_EVIDENCE_BYTES {
            return Err(too_large(
                "evidence_json",
                format!(
                    "{} bytes exceeds the limit of {MAX_EVIDENCE_BYTES}",
                    evidence_json.len()
                ),
            ));
        }
        let evidence_json = match serde_json::from_str::<serde_json::Value>(&evidence_json) {
            Ok(serde_json::Value::Object(_)) => storable_json(evidence_json),
            Ok(_) => return Err(malformed("evidence_json", "must be a JSON object")),
            Err(e) => return Err(malformed("evidence_json", format!("is not JSON: {e}"))),
        };
        Ok(Finding {
            sequence: finding.sequence,
            check,
            resource,
            severity,
            summary,
            evidence_json,
            observed_at_ms: finding.observed_at_unix_ms,
        })
    }
}

impl TryFrom<pb::Inventory> for Inventory {
    type Error = InvalidField;

    fn try_from(inventory: pb::Inventory) -> Result<Self, Self::Error> {
        let text = |field, value| bounded_text(field, value, MAX_INVENTORY_TEXT_BYTES);
        let hostname = text("hostname", inventory.hostname)?;
        if hostname.is_empty() {
            return Err(invalid("hostname", "must not be empty"));
        }
        bounded_count("disks", inventory.disks.len())?;
        bounded_count("interfaces", inventory.interfaces.len())?;
        let disks = inventory
            .disks
            .into_iter()
            .map(|disk| {
                Ok(Disk {
                    mount_point: text("disks.mount_point", disk.mount_point)?,
                    device: text("disks.device", disk.device)?,
                    file_system: text("disks.file_system", disk.file_system)?,
                    total_bytes: disk.total_bytes,
                    available_bytes: disk.available_bytes,
                    removable: disk.removable,
                })
            })
            .collect::<Result<Vec<_>, InvalidField>>()?;
        let interfaces = inventory
            .interfaces
            .into_iter()
            .map(|interface| {
                bounded_count("interfaces.addresses", interface.addresses.len())?;
                Ok(NetworkInterface {
                    name: text("interfaces.name", interface.name)?,
                    mac_address: text("interfaces.mac_address", interface.mac_address)?,
                    addresses: interface
                        .addresses
                        .into_iter()
                        .map(|address| text("interfaces.addresses", address))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, InvalidField>>()?;
        Ok(Inventory {
            hostname,
            os_name: text("os_name", inventory.os_name)?,
            os_version: text("os_version", inventory.os_version)?,
            kernel_version: text("kernel_version", inventory.kernel_version)?,
            architecture: text("architecture", inventory.architecture)?,
            cpu_model: text("cpu_model", inventory.cpu_model)?,
            cpu_logical_cores: inventory.cpu_logical_cores,
            cpu_physical_cores: inventory.cpu_physical_cores,
            memory_total_bytes: inventory.memory_total_bytes,
            swap_total_bytes: inventory.swap_total_bytes,
            disks,
            interfaces,
            uptime_secs: inventory.uptime_secs,
            agent_version: text("agent_version", inventory.agent_version)?,
            site: text("site", inventory.site)?,
            gateways: {
                bounded_count("gateways", inventory.gateways.len())?;
                inventory
                    .gateways
                    .into_iter()
                    .map(|gateway| text("gateways", gateway))
                    .collect::<Result<_, _>>()?
            },
            dns_servers: {
                bounded_count("dns_servers", inventory.dns_servers.len())?;
                inventory
                    .dns_servers
                    .into_iter()
                    .map(|server| text("dns_servers", server))
                    .collect::<Result<_, _>>()?
            },
            users: device_users(inventory.users)?,
            last_user: account("last_user", inventory.last_user)?,
        })
    }
}

impl TryFrom<pb::Heartbeat> for AgentHealth {
    type Error = InvalidField;

    /// What the agent says about itself, each value within its bound. `reported_at_ms` is
    /// left for the store to set: the agent's clock is not trusted with it.
    fn try_from(heartbeat: pb::Heartbeat) -> Result<Self, Self::Error> {
        let bounded = |field, value: Option<u64>, max: u64| match value {
            Some(value) if value > max => Err(invalid(
                field,
                format!("{value} is beyond the plausible limit of {max}"),
            )),
            value => Ok(value),
        };
        Ok(AgentHealth {
            check_cycle_ms: bounded(
                "check_cycle_ms",
                heartbeat.check_cycle_ms,
                MAX_CHECK_CYCLE_MS,
            )?,
            resident_memory_bytes: bounded(
                "resident_memory_bytes",
                heartbeat.resident_memory_bytes,
                MAX_RESIDENT_MEMORY_BYTES,
            )?,
            outbox_depth: bounded("outbox_depth", heartbeat.outbox_depth, MAX_OUTBOX_DEPTH)?,
            reported_at_ms: 0,
        })
    }
}

/// A reproduce request as the agent receives it.
pub fn reproduce(request: &crate::store::reproduce::ReproduceRequest) -> pb::CollectorMessage {
    let mut parameters = std::collections::HashMap::new();
    if let Some(target) = &request.target {
        parameters.insert("target".to_owned(), target.clone());
    }
    if let Some(serde_json::Value::Object(given)) = &request.parameters {
        for (name, value) in given {
            if let Some(value) = value.as_str() {
                parameters.insert(name.clone(), value.to_owned());
            }
        }
    }
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::Reproduce(
            pb::ReproduceRequest {
                request_id: request.id.clone(),
                playbook: request.playbook.clone(),
                parameters,
            },
        )),
    }
}

/// A fix request for the device's stream.
pub fn fix(run: &crate::store::fixes::FixRun) -> pb::CollectorMessage {
    let parameters = run
        .parameters
        .as_object()
        .map(|given| {
            given
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::Fix(pb::FixRequest {
            request_id: run.id.clone(),
            fix: run.fix.clone(),
            parameters,
            allowed_by: run.allowed_by.clone(),
            consent_account: run.consent_account.clone().unwrap_or_default(),
        })),
    }
}

/// A validated `FixResult`: a request id as this collector makes them, one of the four
/// outcomes, the report as JSON within the evidence limit, the error as plain text.
#[derive(Debug, Clone, PartialEq)]
pub struct FixAnswer {
    pub request_id: String,
    pub outcome: String,
    pub report_json: Option<String>,
    pub error: Option<String>,
}

impl TryFrom<pb::FixResult> for FixAnswer {
    type Error = String;

    fn try_from(result: pb::FixResult) -> Result<Self, String> {
        let id = &result.request_id;
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "a fix result's request id must be 1-64 visible ASCII characters; got {} bytes",
                id.len()
            ));
        }
        if !matches!(
            result.outcome.as_str(),
            "verified" | "not_verified" | "failed" | "refused"
        ) {
            return Err(format!(
                "outcome {:.40?} is not verified, not_verified, failed or refused",
                result.outcome
            ));
        }
        if result.report_json.len() > MAX_EVIDENCE_BYTES {
            return Err(format!(
                "the report is {} bytes, more than {MAX_EVIDENCE_BYTES}",
                result.report_json.len()
            ));
        }
        let report_json = if result.report_json.is_empty() {
            None
        } else {
            match serde_json::from_str::<serde_json::Value>(&result.report_json) {
                Ok(serde_json::Value::Object(_)) => Some(result.report_json),
                _ => return Err("the report is not a JSON object".to_owned()),
            }
        };
        let error = Some(result.error)
            .filter(|e| !e.is_empty())
            .map(|e| e.chars().filter(|c| !c.is_control()).take(1000).collect());
        Ok(FixAnswer {
            request_id: result.request_id,
            outcome: result.outcome,
            report_json,
            error,
        })
    }
}

/// A validated `HelpLinkRequest`: an account name as utmp would hold it, the uid, and the
/// language of the user's OS locale when it is one of ours.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpLinkAsk {
    pub request_id: String,
    pub account: String,
    pub uid: Option<u32>,
    pub lang: Option<firstline_i18n::Lang>,
}

impl TryFrom<pb::HelpLinkRequest> for HelpLinkAsk {
    /// The request id (bounded, to answer with) and why.
    type Error = (String, String);

    fn try_from(request: pb::HelpLinkRequest) -> Result<Self, Self::Error> {
        let id_ok = !request.request_id.is_empty()
            && request.request_id.len() <= 128
            && !request.request_id.chars().any(char::is_control);
        let request_id = if id_ok {
            request.request_id
        } else {
            String::new()
        };
        let refuse = |why: String| Err((request_id.clone(), why));
        if !id_ok {
            return refuse(
                "a help link request needs an id of 1 to 128 bytes without control characters"
                    .to_owned(),
            );
        }
        if request.account.len() > MAX_ACCOUNT_BYTES
            || request.account.chars().any(char::is_control)
        {
            return refuse(format!(
                "the account of a help link request must be at most {MAX_ACCOUNT_BYTES} bytes without control characters"
            ));
        }
        // A user the device's passwd file does not name (a network directory's) is their uid,
        // as everywhere else ("uid 1000").
        let account = if request.account.is_empty() {
            format!("uid {}", request.uid)
        } else {
            request.account
        };
        if request.locale.len() > 64 {
            return refuse("the locale of a help link request is longer than 64 bytes".to_owned());
        }
        Ok(HelpLinkAsk {
            lang: firstline_i18n::Lang::parse(&request.locale),
            uid: Some(request.uid),
            account,
            request_id,
        })
    }
}

pub fn help_link(request_id: &str, url: &str, expires_at_ms: i64) -> pb::CollectorMessage {
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::HelpLink(pb::HelpLink {
            request_id: request_id.to_owned(),
            url: url.to_owned(),
            expires_at_unix_ms: expires_at_ms,
            error: String::new(),
        })),
    }
}

pub fn help_link_refused(request_id: &str, why: &str) -> pb::CollectorMessage {
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::HelpLink(pb::HelpLink {
            request_id: request_id.to_owned(),
            url: String::new(),
            expires_at_unix_ms: 0,
            error: why.to_owned(),
        })),
    }
}

/// The device's fleet config (an empty one: none, its local file alone).
pub fn config_push(config: &crate::store::fleet::EffectiveConfig) -> pb::CollectorMessage {
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::Config(pb::ConfigPush {
            agent_toml: config.toml.clone(),
            version: config.version.clone(),
        })),
    }
}

/// A version an agent names: short, printable.
fn config_version(field: &str, text: String) -> Result<String, String> {
    if text.len() > 128 || text.chars().any(char::is_control) {
        return Err(format!(
            "{field} must be at most 128 bytes without control characters"
        ));
    }
    Ok(text)
}

/// What an agent says about its fleet config, checked; its error is cut to 4 KiB.
pub fn config_report(
    status: pb::ConfigStatus,
) -> Result<crate::store::fleet::ConfigReport, String> {
    let version = config_version("version", status.version)?;
    let refused = config_version("refused_version", status.refused_version)?;
    let mut error: String = status
        .error
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    if error.len() > 4096 {
        let mut end = 4096;
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        error.truncate(end);
    }
    Ok(crate::store::fleet::ConfigReport {
        version: Some(version),
        refused_version: (!refused.is_empty()).then_some(refused),
        error: (!error.is_empty()).then_some(error),
        reported_at_ms: None,
    })
}

pub fn notice(notice: &crate::store::help::UserNotice) -> pb::CollectorMessage {
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::Notice(pb::UserNotice {
            id: notice.id.clone(),
            account: notice.account.clone(),
            title: notice.title.clone(),
            body: notice.body.clone(),
            kind: notice.kind.clone(),
            ticket_id: notice.ticket_id.unwrap_or_default(),
        })),
    }
}

/// A validated `ReproduceResult`: a JSON object as the result, or an error.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproduceAnswer {
    pub request_id: String,
    pub result_json: Option<String>,
    pub error: Option<String>,
}

impl TryFrom<pb::ReproduceResult> for ReproduceAnswer {
    type Error = InvalidField;

    fn try_from(result: pb::ReproduceResult) -> Result<Self, Self::Error> {
        let request_id = bounded_text("request_id", result.request_id, 64)?;
        if request_id.is_empty() {
            return Err(invalid("request_id", "must not be empty"));
        }
        let error = bounded_text("error", result.error, MAX_SUMMARY_BYTES)?;
        let result_json = if result.result_json.is_empty() {
            None
        } else {
            if result.result_json.len() > MAX_EVIDENCE_BYTES {
                return Err(too_large(
                    "result_json",
                    format!(
                        "{} bytes exceeds the limit of {MAX_EVIDENCE_BYTES}",
                        result.result_json.len()
                    ),
                ));
            }
            match serde_json::from_str::<serde_json::Value>(&result.result_json) {
                Ok(serde_json::Value::Object(_)) => Some(storable_json(result.result_json)),
                _ => return Err(malformed("result_json", "must be a JSON object")),
            }
        };
        if result_json.is_none() && error.is_empty() {
            return Err(invalid("result_json", "a result or an error is required"));
        }
        Ok(ReproduceAnswer {
            request_id,
            result_json,
            error: (!error.is_empty()).then_some(error),
        })
    }
}

/// Text that is bounded in size and free of control characters (other than tab), so that it
/// can be shown in a log line or a page without surprises.
fn bounded_text(
    field: &'static str,
    value: String,
    max_bytes: usize,
) -> Result<String, InvalidField> {
    if value.len() > max_bytes {
        return Err(too_large(
            field,
            format!("{} bytes exceeds the limit of {max_bytes}", value.len()),
        ));
    }
    if let Some(control) = value.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(invalid(
            field,
            format!("contains the control character {control:?}"),
        ));
    }
    Ok(value)
}

/// `json` (valid JSON) with every NUL in its strings and keys replaced by U+FFFD. NUL is the
/// one character PostgreSQL stores in neither `text` nor `jsonb`, and evidence text ends up in
/// both (a report's words become the ticket's title): left in, a finding could never commit
/// and its agent would resend it forever. SQLite takes it, but both backends must agree.
fn storable_json(json: String) -> String {
    // A NUL in JSON text is always escaped; most evidence has none and is kept byte for byte.
    if !json.contains("\\u0000") {
        return json;
    }
    fn clean(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        let text = |text: String| text.replace('\0', "\u{FFFD}");
        match value {
            Value::String(string) => Value::String(text(string)),
            Value::Array(items) => Value::Array(items.into_iter().map(clean).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(key, value)| (text(key), clean(value)))
                    .collect(),
            ),
            other => other,
        }
    }
    match serde_json::from_str(&json) {
        Ok(value) => serde_json::to_string(&clean(value)).unwrap_or(json),
        Err(_) => json,
    }
}

/// A device's sessions: at most [`MAX_DEVICE_USERS`], each with an account name.
fn device_users(users: Vec<pb::DeviceUser>) -> Result<Vec<DeviceUser>, InvalidField> {
    if users.len() > MAX_DEVICE_USERS {
        return Err(too_large(
            "users",
            format!(
                "{} entries exceeds the limit of {MAX_DEVICE_USERS}",
                users.len()
            ),
        ));
    }
    users
        .into_iter()
        .map(|user| {
            let name = account("users.account", user.account)?;
            if name.is_empty() {
                return Err(invalid("users.account", "must not be empty"));
            }
            if user.login_at_unix_ms < 0 {
                return Err(invalid(
                    "users.login_at_unix_ms",
                    format!("{} is before 1970", user.login_at_unix_ms),
                ));
            }
            Ok(DeviceUser {
                account: name,
                line: account("users.line", user.line)?,
                kind: match pb::SessionKind::try_from(user.kind) {
                    Ok(pb::SessionKind::Graphical) => SessionKind::Graphical,
                    Ok(pb::SessionKind::Console) => SessionKind::Console,
                    Ok(pb::SessionKind::Remote) => SessionKind::Remote,
                    // Forward compatible: a kind added later is shown as "other".
                    Ok(pb::SessionKind::Unspecified) | Err(_) => SessionKind::Other,
                },
                login_at_ms: user.login_at_unix_ms,
                remote_host: bounded_text(
                    "users.remote_host",
                    user.remote_host,
                    MAX_INVENTORY_TEXT_BYTES,
                )?,
            })
        })
        .collect()
}

/// An account name: at most [`MAX_ACCOUNT_BYTES`], no control character (not even a tab).
fn account(field: &'static str, value: String) -> Result<String, InvalidField> {
    let value = bounded_text(field, value, MAX_ACCOUNT_BYTES)?;
    if value.contains('\t') {
        return Err(invalid(field, "contains the control character '\\t'"));
    }
    Ok(value)
}

fn bounded_count(field: &'static str, count: usize) -> Result<(), InvalidField> {
    if count > MAX_INVENTORY_ITEMS {
        return Err(too_large(
            field,
            format!("{count} entries exceeds the limit of {MAX_INVENTORY_ITEMS}"),
        ));
    }
    Ok(())
}

pub fn welcome(
    device_id: &str,
    committed_sequence: u64,
    heartbeat_interval_secs: u32,
) -> pb::CollectorMessage {
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::Welcome(pb::Welcome {
            protocol_version: firstline_proto::PROTOCOL_VERSION,
            device_id: device_id.to_owned(),
            committed_sequence,
            server_time_unix_ms: crate::model::now_ms(),
            heartbeat_interval_secs,
        })),
    }
}

/// An ack through `sequence`, with the collector's clock: every ack lets the agent measure
/// its clock skew again.
pub fn ack(sequence: u64, refused: Vec<(u64, String)>) -> pb::CollectorMessage {
    pb::CollectorMessage {
        body: Some(pb::collector_message::Body::Ack(pb::Ack {
            sequence,
            refused: refused
                .into_iter()
                .map(|(sequence, reason)| pb::Refusal { sequence, reason })
                .collect(),
            server_time_unix_ms: Some(crate::model::now_ms()),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_help_link_for_a_user_the_device_cannot_name_is_for_their_uid() {
        let ask = |account: &str| {
            HelpLinkAsk::try_from(pb::HelpLinkRequest {
                request_id: "r-1".to_owned(),
                account: account.to_owned(),
                uid: 1_000_123,
                locale: "pl_PL.UTF-8".to_owned(),
            })
        };
        let ask_named = ask("alice").expect("named");
        assert_eq!(ask_named.account, "alice");
        assert_eq!(ask_named.lang, Some(firstline_i18n::Lang::Pl));
        assert_eq!(ask("").expect("unnamed").account, "uid 1000123");
        let (id, why) = ask("bad\u{7}name").expect_err("a control character");
        assert_eq!(id, "r-1");
        assert!(why.contains("control characters"), "{why}");
    }

    fn good() -> pb::Finding {
        pb::Finding {
            sequence: 7,
            check: "disk.free_low".to_owned(),
            resource: "/".to_owned(),
            severity: pb::Severity::Warning as i32,
            summary: "Disk / is 97% full".to_owned(),
            evidence_json: r#"{"free_bytes": 3}"#.to_owned(),
            observed_at_unix_ms: 1,
        }
    }

    #[test]
    fn nul_in_evidence_becomes_a_replacement_character_and_other_evidence_is_kept_as_sent() {
        let mut finding = good();
        finding.evidence_json = r#"{"text": "a\u0000b", "k\u0000": ["\u0000"], "n": 1}"#.to_owned();
        let cleaned = Finding::try_from(finding).expect("accepted");
        assert!(
            !cleaned.evidence_json.contains("\\u0000"),
            "{}",
            cleaned.evidence_json
        );
        let value: serde_json::Value =
            serde_json::from_str(&cleaned.evidence_json).expect("still JSON");
        assert_eq!(value["text"], "a\u{FFFD}b");
        assert_eq!(value["k\u{FFFD}"][0], "\u{FFFD}");
        assert_eq!(value["n"], 1);
        let untouched = r#"{ "free_bytes" : 3 }"#;
        let mut finding = good();
        finding.evidence_json = untouched.to_owned();
        assert_eq!(
            Finding::try_from(finding).expect("ok").evidence_json,
            untouched
        );
    }

    #[test]
    fn findings_are_validated_field_by_field() {
        type Mutation = Box<dyn Fn(&mut pb::Finding)>;
        let cases: Vec<(&str, Mutation, Option<&str>)> = vec![
            ("valid", Box::new(|_| {}), None),
            (
                "empty evidence means {}",
                Box::new(|f| f.evidence_json.clear()),
                None,
            ),
            (
                "zero sequence",
                Box::new(|f| f.sequence = 0),
                Some("sequence"),
            ),
            (
                "huge sequence",
                Box::new(|f| f.sequence = u64::MAX),
                Some("sequence"),
            ),
            ("empty check", Box::new(|f| f.check.clear()), Some("check")),
            (
                "uppercase check",
                Box::new(|f| f.check = "Disk".to_owned()),
                Some("check"),
            ),
            (
                "markup in check",
                Box::new(|f| f.check = "<script>".to_owned()),
                Some("check"),
            ),
            (
                "long resource",
                Box::new(|f| f.resource = "x".repeat(513)),
                Some("resource"),
            ),
            (
                "control char",
                Box::new(|f| f.summary = "a\u{1b}[31m".to_owned()),
                Some("summary"),
            ),
            (
                "blank summary",
                Box::new(|f| f.summary = "  ".to_owned()),
                Some("summary"),
            ),
            (
                "unknown severity",
                Box::new(|f| f.severity = 99),
                Some("severity"),
            ),
            (
                "unspecified severity",
                Box::new(|f| f.severity = 0),
                Some("severity"),
            ),
            (
                "evidence not json",
                Box::new(|f| f.evidence_json = "{".to_owned()),
                Some("evidence_json"),
            ),
            (
                "evidence array",
                Box::new(|f| f.evidence_json = "[1]".to_owned()),
                Some("evidence_json"),
            ),
            (
                "evidence too big",
                Box::new(|f| {
                    f.evidence_json = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_EVIDENCE_BYTES))
                }),
                Some("evidence_json"),
            ),
        ];
        for (name, mutate, refused_field) in cases {
            let mut finding = good();
            mutate(&mut finding);
            let outcome = Finding::try_from(finding);
            match (refused_field, outcome) {
                (None, Ok(_)) => {}
                (Some(field), Err(error)) => assert_eq!(error.field, field, "{name}: {error}"),
                (expected, outcome) => {
                    panic!("{name}: expected refusal of {expected:?}, got {outcome:?}")
                }
            }
        }
    }

    #[test]
    fn refusals_say_what_kind_of_trouble_a_field_is_in() {
        let cases: Vec<(&str, pb::Finding, Problem)> = vec![
            (
                "evidence not json",
                pb::Finding {
                    evidence_json: "{".to_owned(),
                    ..good()
                },
                Problem::Malformed,
            ),
            (
                "unknown severity",
                pb::Finding {
                    severity: 99,
                    ..good()
                },
                Problem::Malformed,
            ),
            (
                "long summary",
                pb::Finding {
                    summary: "x".repeat(MAX_SUMMARY_BYTES + 1),
                    ..good()
                },
                Problem::TooLarge,
            ),
            (
                "blank summary",
                pb::Finding {
                    summary: " ".to_owned(),
                    ..good()
                },
                Problem::Invalid,
            ),
        ];
        for (name, finding, problem) in cases {
            let error = Finding::try_from(finding).expect_err(name);
            assert_eq!(error.problem, problem, "{name}: {error}");
        }
    }

    #[test]
    fn heartbeat_self_metrics_are_bounded() {
        let full = pb::Heartbeat {
            sent_at_unix_ms: 1,
            check_cycle_ms: Some(1_234),
            resident_memory_bytes: Some(9 << 20),
            outbox_depth: Some(0),
        };
        assert_eq!(
            AgentHealth::try_from(full),
            Ok(AgentHealth {
                check_cycle_ms: Some(1_234),
                resident_memory_bytes: Some(9 << 20),
                outbox_depth: Some(0),
                reported_at_ms: 0,
            })
        );
        // An older agent says nothing about itself: nothing to store, nothing refused.
        let silent = AgentHealth::try_from(pb::Heartbeat::default()).expect("old heartbeat");
        assert!(silent.is_empty());
        // The limits themselves are accepted; one past them is refused, naming the field.
        let at_limits = pb::Heartbeat {
            check_cycle_ms: Some(MAX_CHECK_CYCLE_MS),
            resident_memory_bytes: Some(MAX_RESIDENT_MEMORY_BYTES),
            outbox_depth: Some(MAX_OUTBOX_DEPTH),
            ..pb::Heartbeat::default()
        };
        assert!(AgentHealth::try_from(at_limits).is_ok());
        type Mutation = fn(&mut pb::Heartbeat);
        let cases: [(&str, Mutation); 3] = [
            ("check_cycle_ms", |h| {
                h.check_cycle_ms = Some(MAX_CHECK_CYCLE_MS + 1)
            }),
            ("resident_memory_bytes", |h| {
                h.resident_memory_bytes = Some(u64::MAX)
            }),
            ("outbox_depth", |h| {
                h.outbox_depth = Some(MAX_OUTBOX_DEPTH + 1)
            }),
        ];
        for (field, mutate) in cases {
            let mut heartbeat = pb::Heartbeat::default();
            mutate(&mut heartbeat);
            let error = AgentHealth::try_from(heartbeat).expect_err(field);
            assert_eq!(error.field, field);
            assert_eq!(error.problem, Problem::Invalid);
            assert!(error.to_string().contains("plausible limit"), "{error}");
        }
    }

    #[test]
    fn device_users_are_bounded_and_plain_text() {
        let user = |account: &str| pb::DeviceUser {
            account: account.to_owned(),
            line: ":0".to_owned(),
            kind: pb::SessionKind::Graphical.into(),
            login_at_unix_ms: 1_700_000_000_000,
            remote_host: String::new(),
        };
        let with = |users: Vec<pb::DeviceUser>, last_user: &str| pb::Inventory {
            hostname: "pc".to_owned(),
            users,
            last_user: last_user.to_owned(),
            ..Default::default()
        };
        let fine = Inventory::try_from(with(vec![user("alice")], "bob")).expect("valid users");
        assert_eq!(fine.users[0].account, "alice");
        assert_eq!(fine.users[0].kind, SessionKind::Graphical);
        assert_eq!(fine.last_user, "bob");
        let mut future = user("carol");
        future.kind = 99;
        let future = Inventory::try_from(with(vec![future], "")).expect("unknown kind");
        assert_eq!(future.users[0].kind, SessionKind::Other);

        let cases: Vec<(&str, Problem, pb::Inventory)> = vec![
            (
                "users",
                Problem::TooLarge,
                with(vec![user("alice"); MAX_DEVICE_USERS + 1], ""),
            ),
            (
                "users.account",
                Problem::Invalid,
                with(vec![user("al\u{1b}[31mice")], ""),
            ),
            (
                "users.account",
                Problem::Invalid,
                with(vec![user("a\tb")], ""),
            ),
            ("users.account", Problem::Invalid, with(vec![user("")], "")),
            (
                "users.account",
                Problem::TooLarge,
                with(vec![user(&"a".repeat(MAX_ACCOUNT_BYTES + 1))], ""),
            ),
            ("last_user", Problem::Invalid, with(Vec::new(), "bob\n")),
            (
                "users.line",
                Problem::Invalid,
                with(
                    vec![pb::DeviceUser {
                        line: "tty\r1".to_owned(),
                        ..user("alice")
                    }],
                    "",
                ),
            ),
            (
                "users.login_at_unix_ms",
                Problem::Invalid,
                with(
                    vec![pb::DeviceUser {
                        login_at_unix_ms: -1,
                        ..user("alice")
                    }],
                    "",
                ),
            ),
        ];
        for (field, problem, inventory) in cases {
            let error = Inventory::try_from(inventory).expect_err(field);
            assert_eq!((error.field, error.problem), (field, problem), "{error}");
            assert!(error.to_string().contains(field), "{error}");
        }
    }

    #[test]
    fn inventory_needs_a_hostname_and_bounded_lists() {
        let empty = pb::Inventory::default();
        assert_eq!(
            Inventory::try_from(empty).expect_err("no hostname").field,
            "hostname"
        );
        let crowded = pb::Inventory {
            hostname: "pc".to_owned(),
            disks: vec![pb::Disk::default(); MAX_INVENTORY_ITEMS + 1],
            ..Default::default()
        };
        assert_eq!(
            Inventory::try_from(crowded)
                .expect_err("too many disks")
                .field,
            "disks"
        );
    }
}
