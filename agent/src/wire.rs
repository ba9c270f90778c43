//! The one place where generated `firstline.v1` types meet the agent's domain types.

use firstline_proto::v1 as pb;

use crate::finding::{Finding, Severity};
use crate::help::{HelpLinkAnswer, HelpLinkAsk};
use crate::inventory::Inventory;
use crate::users::SessionKind;

/// The collector's limits (see its `wire.rs`); the agent trims to them rather than be refused.
const MAX_SUMMARY_BYTES: usize = 1024;
const MAX_EVIDENCE_BYTES: usize = 64 * 1024;
const MAX_RESOURCE_BYTES: usize = 512;

/// What a reproduce request may carry. A hostile collector's requests are refused beyond
/// these (answered with an error naming what was too big), so they cannot grow the agent.
pub const MAX_REQUEST_ID_BYTES: usize = 128;
pub const MAX_PLAYBOOK_NAME_BYTES: usize = 32;
pub const MAX_PARAMETERS: usize = 8;
pub const MAX_PARAMETER_NAME_BYTES: usize = 64;
pub const MAX_PARAMETER_BYTES: usize = crate::playbooks::target::MAX_TARGET_BYTES;
/// A help-page report's words (parameter `words` of playbook "report") may be longer.
pub const MAX_WORDS_BYTES: usize = crate::report::MAX_TEXT_BYTES;
/// Longest account name a help-page report may name.
pub const MAX_ACCOUNT_BYTES: usize = 256;
/// The playbook name of a report made on the user's help page.
pub const HELP_PAGE_REPORT: &str = "report";

impl From<Inventory> for pb::Inventory {
    fn from(inventory: Inventory) -> Self {
        pb::Inventory {
            hostname: inventory.hostname,
            os_name: inventory.os_name,
            os_version: inventory.os_version,
            kernel_version: inventory.kernel_version,
            cpu_model: inventory.cpu_model,
            cpu_logical_cores: inventory.cpu_logical_cores,
            cpu_physical_cores: inventory.cpu_physical_cores,
            memory_total_bytes: inventory.memory_total_bytes,
            swap_total_bytes: inventory.swap_total_bytes,
            disks: inventory
                .disks
                .into_iter()
                .map(|disk| pb::Disk {
                    mount_point: disk.mount_point,
                    device: disk.device,
                    file_system: disk.file_system,
                    total_bytes: disk.total_bytes,
                    available_bytes: disk.available_bytes,
                    removable: disk.removable,
                })
                .collect(),
            interfaces: inventory
                .interfaces
                .into_iter()
                .map(|interface| pb::NetworkInterface {
                    name: interface.name,
                    mac_address: interface.mac_address,
                    addresses: interface.addresses,
                })
                .collect(),
            uptime_secs: inventory.uptime_secs,
            agent_version: inventory.agent_version,
            architecture: inventory.architecture,
            site: inventory.site,
            gateways: inventory.gateways,
            dns_servers: inventory.dns_servers,
            users: inventory
                .users
                .into_iter()
                .map(|user| pb::DeviceUser {
                    account: user.account,
                    line: user.line,
                    kind: match user.kind {
                        SessionKind::Graphical => pb::SessionKind::Graphical,
                        SessionKind::Console => pb::SessionKind::Console,
                        SessionKind::Remote => pb::SessionKind::Remote,
                    }
                    .into(),
                    login_at_unix_ms: user.login_at_ms,
                    remote_host: user.remote_host,
                })
                .collect(),
            last_user: inventory.last_user,
        }
    }
}

/// A queued finding with its sequence number, as the collector expects it.
pub fn finding(sequence: u64, finding: &Finding) -> pb::Finding {
    let mut evidence = serde_json::to_string(&finding.evidence).unwrap_or_else(|_| "{}".to_owned());
    if evidence.len() > MAX_EVIDENCE_BYTES {
        evidence =
            serde_json::json!({"truncated": true, "original_bytes": evidence.len()}).to_string();
    }
    pb::Finding {
        sequence,
        check: finding.check.clone(),
        resource: clean_text(&finding.resource, MAX_RESOURCE_BYTES),
        severity: match finding.severity {
            Severity::Ok => pb::Severity::Ok,
            Severity::Info => pb::Severity::Info,
            Severity::Warning => pb::Severity::Warning,
            Severity::Critical => pb::Severity::Critical,
        } as i32,
        summary: clean_text(&finding.summary, MAX_SUMMARY_BYTES),
        evidence_json: evidence,
        observed_at_unix_ms: finding.observed_at_ms,
    }
}

/// About how many bytes a finding takes on the wire (an upper bound is what matters).
pub fn approximate_size(finding: &Finding) -> usize {
    let evidence = serde_json::to_string(&finding.evidence)
        .map(|e| e.len())
        .unwrap_or(0)
        .min(MAX_EVIDENCE_BYTES + 64);
    finding.check.len()
        + finding.resource.len().min(MAX_RESOURCE_BYTES)
        + finding.summary.len().min(MAX_SUMMARY_BYTES)
        + evidence
        + 64
}

pub fn findings(batch: &[(u64, Finding)]) -> pb::AgentMessage {
    message(pb::agent_message::Body::Findings(pb::FindingBatch {
        findings: batch
            .iter()
            .map(|(sequence, f)| finding(*sequence, f))
            .collect(),
    }))
}

/// Control characters out (file names and log lines carry them), cut at a char boundary.
fn clean_text(text: &str, max_bytes: usize) -> String {
    let mut clean = String::with_capacity(text.len().min(max_bytes));
    for c in text.chars() {
        let c = if c.is_control() && c != '\t' { ' ' } else { c };
        if clean.len() + c.len_utf8() > max_bytes {
            break;
        }
        clean.push(c);
    }
    clean
}

pub fn hello(last_sequence: u64, acked_sequence: u64, config_version: &str) -> pb::AgentMessage {
    message(pb::agent_message::Body::Hello(pb::Hello {
        protocol_version: firstline_proto::PROTOCOL_VERSION,
        agent_version: crate::AGENT_VERSION.to_owned(),
        last_sequence,
        acked_sequence,
        config_version: config_version.to_owned(),
    }))
}

/// The fleet config this agent runs, or the push it refused and why.
pub fn config_status(status: &crate::fleet::Status) -> pb::AgentMessage {
    message(pb::agent_message::Body::ConfigStatus(pb::ConfigStatus {
        version: status.version.clone(),
        refused_version: status.refused_version.clone(),
        error: clean_text(&status.error, 4096),
    }))
}

pub fn inventory(inventory: Inventory) -> pb::AgentMessage {
    message(pb::agent_message::Body::Inventory(inventory.into()))
}

/// What the agent says about itself with each heartbeat; each part absent when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfReport {
    /// The slowest check's most recent run (checks run side by side: a full cycle's time).
    pub check_cycle_ms: Option<u64>,
    pub resident_memory_bytes: Option<u64>,
    /// Findings in the outbox waiting for the collector's ack.
    pub outbox_depth: Option<u64>,
}

pub fn heartbeat(report: &SelfReport) -> pb::AgentMessage {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    message(pb::agent_message::Body::Heartbeat(pb::Heartbeat {
        sent_at_unix_ms: now_ms,
        check_cycle_ms: report.check_cycle_ms,
        resident_memory_bytes: report.resident_memory_bytes,
        outbox_depth: report.outbox_depth,
    }))
}

fn message(body: pb::agent_message::Body) -> pb::AgentMessage {
    pb::AgentMessage { body: Some(body) }
}

/// What the collector said, in the agent's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum FromCollector {
    Welcome {
        device_id: String,
        committed_sequence: u64,
        server_time_unix_ms: i64,
        heartbeat_interval_secs: u32,
    },
    Ack {
        sequence: u64,
        refused: Vec<(u64, String)>,
        /// The collector's clock when it sent the ack (every ack from a current collector, and
        /// one answers each heartbeat): the agent measures its clock skew from it.
        server_time_unix_ms: Option<i64>,
    },
    /// Run a playbook now and answer with its result.
    Reproduce {
        request_id: String,
        playbook: String,
        target: Option<String>,
    },
    /// Apply a fix compiled into the agent (validated further by [`crate::fixes::prepare`]).
    Fix(FixAsk),
    /// A fix request refused as it arrived: answered with `error` when it has a usable id.
    FixRefused {
        request_id: Option<String>,
        fix: String,
        error: String,
    },
    /// A reproduce request refused as it arrived (too big, control characters): answered
    /// with `error` when it has a usable id, otherwise only logged.
    ReproduceRefused {
        request_id: Option<String>,
        error: String,
    },
    /// A report the user made on their help page (reproduce request "report"): diagnose
    /// `words` as the report socket would, for local user `uid`, and answer with the outcome.
    HelpPageReport {
        request_id: String,
        report: HelpPageReport,
    },
    /// The answer to a help link request: a link checked for use ([`crate::help::check_link`])
    /// or why there is none.
    HelpLink {
        request_id: String,
        answer: HelpLinkAnswer,
    },
    /// A request this agent version does not act on yet; named for the log.
    Unsupported(&'static str),
    /// The device's fleet config (an empty version: none, the local file alone).
    Config(crate::fleet::Pushed),
    /// A desktop notification for one user of this device, within the limits below.
    Notice(crate::notify::Notice),
    /// A notice refused as it arrived (empty or over-long text, a bad id or account): logged.
    NoticeRefused { id: String, reason: String },
}

/// What a notice may carry: a desktop notification is a line and a few sentences; a hostile
/// collector's is refused beyond these, so it cannot fill a screen or the agent's memory.
pub const MAX_NOTICE_ID_BYTES: usize = 128;
pub const MAX_NOTICE_ACCOUNT_BYTES: usize = 64;
pub const MAX_NOTICE_TITLE_BYTES: usize = 200;
pub const MAX_NOTICE_BODY_BYTES: usize = 1024;
pub const MAX_NOTICE_KIND_BYTES: usize = 32;

/// The first `max` characters of `text`, for a log line (a precision such as `{:.40?}` does
/// not shorten a string's Debug form).
fn first_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A notice within the limits above, its text without control characters (the body keeps
/// its line breaks), or the reason it is refused.
fn user_notice(notice: pb::UserNotice) -> FromCollector {
    let refuse = |reason: String| FromCollector::NoticeRefused {
        id: format!("{:?}", first_chars(&notice.id, 40)),
        reason,
    };
    let id = &notice.id;
    if id.is_empty() || id.len() > MAX_NOTICE_ID_BYTES || !id.bytes().all(|b| b.is_ascii_graphic())
    {
        return refuse(format!(
            "a notice id must be 1-{MAX_NOTICE_ID_BYTES} visible ASCII characters; got {} bytes",
            id.len()
        ));
    }
    let account = &notice.account;
    if account.is_empty()
        || account.len() > MAX_NOTICE_ACCOUNT_BYTES
        || account
            .chars()
            .any(|c| c.is_control() || c == ':' || c == '/')
    {
        return refuse(format!(
            "the account must be 1-{MAX_NOTICE_ACCOUNT_BYTES} bytes without control characters, ':' or '/': {:?}",
            first_chars(account, 80)
        ));
    }
    if notice.title.len() > MAX_NOTICE_TITLE_BYTES {
        return refuse(format!(
            "the title is {} bytes long, more than {MAX_NOTICE_TITLE_BYTES}",
            notice.title.len()
        ));
    }
    if notice.body.len() > MAX_NOTICE_BODY_BYTES {
        return refuse(format!(
            "the text is {} bytes long, more than {MAX_NOTICE_BODY_BYTES}",
            notice.body.len()
        ));
    }
    let title: String = notice.title.chars().filter(|c| !c.is_control()).collect();
    let body: String = notice
        .body
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    if title.trim().is_empty() {
        return refuse("the title is empty".to_owned());
    }
    let kind = &notice.kind;
    if kind.len() > MAX_NOTICE_KIND_BYTES
        || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return refuse(format!(
            "the kind must be at most {MAX_NOTICE_KIND_BYTES} lowercase letters or '_': {:?}",
            first_chars(kind, 40)
        ));
    }
    FromCollector::Notice(crate::notify::Notice {
        id: notice.id,
        account: notice.account,
        title: title.trim().to_owned(),
        body: body.trim().to_owned(),
        kind: notice.kind,
        ticket_id: notice.ticket_id,
    })
}

/// What a help-page report carries, bounded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpPageReport {
    /// At most [`MAX_WORDS_BYTES`]; line breaks and tabs became spaces.
    pub words: String,
    /// The account the collector's help session is for; empty when it does not know one.
    pub account: String,
    pub uid: u32,
    /// The page's language, when it is one of ours.
    pub lang: Option<firstline_i18n::Lang>,
}

/// The parameters of a help-page report, or what is wrong with them.
fn help_page_report(
    parameters: &std::collections::HashMap<String, String>,
) -> Result<HelpPageReport, String> {
    let words = parameters.get("words").map(String::as_str).unwrap_or("");
    if words.trim().is_empty() {
        return Err("a help-page report needs the user's words (parameter \"words\")".to_owned());
    }
    if words
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!(
            "parameter \"words\" contains a control character: {words:.80?}"
        ));
    }
    let words = words.replace(['\n', '\r', '\t'], " ");
    let account = parameters.get("account").cloned().unwrap_or_default();
    if account.len() > MAX_ACCOUNT_BYTES || account.chars().any(char::is_control) {
        return Err(format!(
            "parameter \"account\" must be at most {MAX_ACCOUNT_BYTES} bytes without control characters: {account:.80?}"
        ));
    }
    let uid_text = parameters.get("uid").map(String::as_str).unwrap_or("");
    let uid = uid_text.parse::<u32>().map_err(|_| {
        format!("parameter \"uid\" must be a local user id (0-4294967295): {uid_text:.40?}")
    })?;
    let lang = parameters
        .get("lang")
        .and_then(|lang| firstline_i18n::Lang::parse(lang));
    Ok(HelpPageReport {
        words,
        account,
        uid,
        lang,
    })
}

/// A reproduce request within [`MAX_REQUEST_ID_BYTES`] and the other limits, or refused.
fn reproduce_request(request: pb::ReproduceRequest) -> FromCollector {
    let id = &request.request_id;
    if id.is_empty() || id.len() > MAX_REQUEST_ID_BYTES || !id.bytes().all(|b| b.is_ascii_graphic())
    {
        return FromCollector::ReproduceRefused {
            request_id: None,
            error: format!(
                "a reproduce request id must be 1-{MAX_REQUEST_ID_BYTES} visible ASCII characters; got {} bytes: {:.40?}",
                id.len(),
                id
            ),
        };
    }
    let refuse = |error: String| FromCollector::ReproduceRefused {
        request_id: Some(request.request_id.clone()),
        error: format!("refused by the agent: {error}"),
    };
    if request.playbook.len() > MAX_PLAYBOOK_NAME_BYTES {
        return refuse(format!(
            "the playbook name is {} bytes long, more than {MAX_PLAYBOOK_NAME_BYTES}",
            request.playbook.len()
        ));
    }
    if request.parameters.len() > MAX_PARAMETERS {
        return refuse(format!(
            "{} parameters, more than {MAX_PARAMETERS}",
            request.parameters.len()
        ));
    }
    let is_report = request.playbook == HELP_PAGE_REPORT;
    for (name, value) in &request.parameters {
        if name.len() > MAX_PARAMETER_NAME_BYTES || name.chars().any(char::is_control) {
            return refuse(format!(
                "a parameter name must be at most {MAX_PARAMETER_NAME_BYTES} bytes without control characters: {name:.40?}"
            ));
        }
        // A report's words are longer and may have line breaks (checked below).
        let words = is_report && name == "words";
        let limit = if words {
            MAX_WORDS_BYTES
        } else {
            MAX_PARAMETER_BYTES
        };
        if value.len() > limit {
            return refuse(format!(
                "parameter {name:?} is {} bytes long, more than {limit}",
                value.len()
            ));
        }
        if !words && value.chars().any(char::is_control) {
            return refuse(format!(
                "parameter {name:?} contains a control character (such as a line break): {value:.80?}"
            ));
        }
    }
    if is_report {
        return match help_page_report(&request.parameters) {
            Ok(report) => FromCollector::HelpPageReport {
                request_id: request.request_id,
                report,
            },
            Err(error) => refuse(error),
        };
    }
    let mut request = request;
    FromCollector::Reproduce {
        request_id: request.request_id,
        playbook: request.playbook,
        target: request.parameters.remove("target"),
    }
}

/// A fix request as it arrived, within the wire's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct FixAsk {
    pub request_id: String,
    pub fix: String,
    pub parameters: std::collections::BTreeMap<String, String>,
    pub authority: crate::fixes::Authority,
}

/// A fix request within the same limits as a reproduce request, or refused naming the input.
fn fix_request(request: pb::FixRequest) -> FromCollector {
    let id = &request.request_id;
    if id.is_empty() || id.len() > MAX_REQUEST_ID_BYTES || !id.bytes().all(|b| b.is_ascii_graphic())
    {
        return FromCollector::FixRefused {
            request_id: None,
            fix: String::new(),
            error: format!(
                "a fix request id must be 1-{MAX_REQUEST_ID_BYTES} visible ASCII characters; got {} bytes: {:.40?}",
                id.len(),
                id
            ),
        };
    }
    let fix = clean_text(&request.fix, MAX_PLAYBOOK_NAME_BYTES);
    let refuse = |error: String| FromCollector::FixRefused {
        request_id: Some(request.request_id.clone()),
        fix: fix.clone(),
        error: format!("refused by the agent: {error}"),
    };
    if request.fix.len() > MAX_PLAYBOOK_NAME_BYTES || request.fix.chars().any(char::is_control) {
        return refuse(format!(
            "a fix name must be at most {MAX_PLAYBOOK_NAME_BYTES} bytes without control characters: {:.40?}",
            request.fix
        ));
    }
    if request.parameters.len() > MAX_PARAMETERS {
        return refuse(format!(
            "{} parameters, more than {MAX_PARAMETERS}",
            request.parameters.len()
        ));
    }
    for (name, value) in &request.parameters {
        if name.len() > MAX_PARAMETER_NAME_BYTES || name.chars().any(char::is_control) {
            return refuse(format!(
                "a parameter name must be at most {MAX_PARAMETER_NAME_BYTES} bytes without control characters: {name:.40?}"
            ));
        }
        if value.len() > MAX_PARAMETER_BYTES || value.chars().any(char::is_control) {
            return refuse(format!(
                "parameter {name:?} must be at most {MAX_PARAMETER_BYTES} bytes without control characters"
            ));
        }
    }
    for (what, value) in [
        ("allowed_by", &request.allowed_by),
        ("consent_account", &request.consent_account),
    ] {
        if value.len() > MAX_ACCOUNT_BYTES || value.chars().any(char::is_control) {
            return refuse(format!(
                "{what} must be at most {MAX_ACCOUNT_BYTES} bytes without control characters"
            ));
        }
    }
    FromCollector::Fix(FixAsk {
        request_id: request.request_id,
        fix: request.fix,
        parameters: request.parameters.into_iter().collect(),
        authority: crate::fixes::Authority {
            allowed_by: request.allowed_by,
            consent_account: Some(request.consent_account).filter(|a| !a.is_empty()),
        },
    })
}

/// The answer to a fix request: its report, bounded to the wire's evidence limit.
pub fn fix_result(request_id: &str, report: &crate::fixes::FixReport) -> pb::AgentMessage {
    let mut report_json = serde_json::to_string(report).unwrap_or_default();
    if report_json.len() > MAX_EVIDENCE_BYTES {
        // Many changes: keep the verdict and the verification, drop the list's detail.
        let mut smaller = report.clone();
        smaller.changes.truncate(20);
        report_json = serde_json::to_string(&smaller).unwrap_or_default();
    }
    pb::AgentMessage {
        body: Some(pb::agent_message::Body::FixResult(pb::FixResult {
            request_id: request_id.to_owned(),
            fix: report.fix.clone(),
            outcome: report.outcome.as_str().to_owned(),
            report_json,
            error: clean_text(report.error.as_deref().unwrap_or(""), MAX_SUMMARY_BYTES),
        })),
    }
}

/// The answer to a reproduce request: a result (JSON) or an error.
pub fn reproduce_result(request_id: &str, result_json: String, error: String) -> pb::AgentMessage {
    pb::AgentMessage {
        body: Some(pb::agent_message::Body::ReproduceResult(
            pb::ReproduceResult {
                request_id: request_id.to_owned(),
                result_json,
                error: clean_text(&error, MAX_SUMMARY_BYTES),
            },
        )),
    }
}

/// Asks the collector for a help link for `ask`.
pub fn help_link_request(request_id: &str, ask: &HelpLinkAsk) -> pb::AgentMessage {
    message(pb::agent_message::Body::HelpLinkRequest(
        pb::HelpLinkRequest {
            request_id: request_id.to_owned(),
            account: ask.account.clone(),
            uid: ask.uid,
            locale: ask.locale.clone(),
        },
    ))
}

/// The collector's help link, checked before any browser sees it: a link that is not a
/// plain http(s) address of at most 2 KiB becomes a refusal naming it.
fn help_link(link: pb::HelpLink) -> FromCollector {
    let request_id = clean_text(&link.request_id, MAX_REQUEST_ID_BYTES);
    let answer = if !link.url.is_empty() {
        match crate::help::check_link(&link.url) {
            Ok(()) => HelpLinkAnswer::Link {
                url: link.url,
                expires_at_unix_ms: link.expires_at_unix_ms,
            },
            Err(why) => HelpLinkAnswer::Failed {
                reason: format!("the collector sent a link this agent will not open: {why}"),
            },
        }
    } else if !link.error.trim().is_empty() {
        HelpLinkAnswer::Refused {
            reason: clean_text(link.error.trim(), MAX_SUMMARY_BYTES),
        }
    } else {
        HelpLinkAnswer::Failed {
            reason: "the collector answered with neither a link nor a reason".to_owned(),
        }
    };
    FromCollector::HelpLink { request_id, answer }
}

impl TryFrom<pb::CollectorMessage> for FromCollector {
    type Error = &'static str;

    fn try_from(message: pb::CollectorMessage) -> Result<Self, Self::Error> {
        use pb::collector_message::Body;
        Ok(
            match message.body.ok_or("a collector message with no body")? {
                Body::Welcome(welcome) => FromCollector::Welcome {
                    device_id: welcome.device_id,
                    committed_sequence: welcome.committed_sequence,
                    server_time_unix_ms: welcome.server_time_unix_ms,
                    heartbeat_interval_secs: welcome.heartbeat_interval_secs,
                },
                Body::Ack(ack) => FromCollector::Ack {
                    sequence: ack.sequence,
                    refused: ack
                        .refused
                        .into_iter()
                        .map(|r| (r.sequence, r.reason))
                        .collect(),
                    // Zero is what a careless encoder sends for "unset": no measurement.
                    server_time_unix_ms: ack.server_time_unix_ms.filter(|ms| *ms > 0),
                },
                Body::Reproduce(request) => reproduce_request(request),
                Body::Config(push) => FromCollector::Config(crate::fleet::Pushed {
                    version: clean_text(&push.version, 128),
                    toml: push.agent_toml,
                }),
                Body::HelpLink(link) => help_link(link),
                Body::Notice(notice) => user_notice(notice),
                Body::Fix(request) => fix_request(request),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_trimmed_to_what_the_collector_accepts() {
        let mut evidence = crate::finding::Evidence::new();
        evidence.insert("blob".to_owned(), "x".repeat(MAX_EVIDENCE_BYTES).into());
        let long = Finding {
            check: "log.match".to_owned(),
            resource: "syslog".to_owned(),
            severity: Severity::Warning,
            summary: format!("line\u{1b}[31m {}", "é".repeat(2000)),
            evidence,
            observed_at_ms: 1,
        };
        let wire = finding(9, &long);
        assert!(wire.summary.len() <= MAX_SUMMARY_BYTES && !wire.summary.contains('\u{1b}'));
        assert!(wire.evidence_json.contains("truncated"));
        assert_eq!(wire.sequence, 9);
    }

    fn reproduce(id: &str, playbook: &str, parameters: &[(&str, &str)]) -> FromCollector {
        reproduce_request(pb::ReproduceRequest {
            request_id: id.to_owned(),
            playbook: playbook.to_owned(),
            parameters: parameters
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        })
    }

    #[test]
    fn reproduce_requests_are_bounded_and_refusals_name_the_input() {
        assert_eq!(
            reproduce("r-1", "web", &[("target", "https://intranet.example.com/")]),
            FromCollector::Reproduce {
                request_id: "r-1".to_owned(),
                playbook: "web".to_owned(),
                target: Some("https://intranet.example.com/".to_owned()),
            }
        );
        let long_id = "i".repeat(MAX_REQUEST_ID_BYTES + 1);
        let long_value = "v".repeat(MAX_PARAMETER_BYTES + 1);
        let many: Vec<(String, String)> = (0..=MAX_PARAMETERS)
            .map(|i| (format!("p{i}"), String::new()))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        // (request, answered with an error, what the error names)
        let cases: [(FromCollector, bool, &str); 8] = [
            (reproduce("", "web", &[]), false, "got 0 bytes"),
            (reproduce(&long_id, "web", &[]), false, "got 129 bytes"),
            (
                reproduce(
                    "r
2",
                    "web",
                    &[],
                ),
                false,
                "visible ASCII",
            ),
            (
                reproduce("r-3", &"w".repeat(1000), &[]),
                true,
                "playbook name is 1000 bytes",
            ),
            (reproduce("r-4", "web", &many), true, "9 parameters"),
            (
                reproduce("r-5", "web", &[("target", &long_value)]),
                true,
                "parameter \"target\" is 2049 bytes",
            ),
            (
                reproduce(
                    "r-6",
                    "web",
                    &[("target", "http://127.0.0.1/\r\nX-Injected: 1")],
                ),
                true,
                "parameter \"target\" contains a control character",
            ),
            (
                reproduce("r-7", "web", &[("t\u{0}", "x")]),
                true,
                "parameter name",
            ),
        ];
        for (request, answered, expected) in cases {
            let FromCollector::ReproduceRefused { request_id, error } = &request else {
                panic!("not refused: {request:?}");
            };
            assert_eq!(request_id.is_some(), answered, "{error}");
            assert!(error.contains(expected), "{error}");
            assert!(error.len() < 400, "{error}");
        }
    }

    #[test]
    fn help_page_reports_are_bounded_and_checked() {
        let words = "the printer\nsays paper jam";
        assert_eq!(
            reproduce(
                "r-1",
                "report",
                &[
                    ("words", words),
                    ("account", "alice"),
                    ("uid", "1000"),
                    ("lang", "el")
                ]
            ),
            FromCollector::HelpPageReport {
                request_id: "r-1".to_owned(),
                report: HelpPageReport {
                    words: "the printer says paper jam".to_owned(),
                    account: "alice".to_owned(),
                    uid: 1000,
                    lang: Some(firstline_i18n::Lang::El),
                },
            }
        );
        // Words may be longer than other parameters, up to the report's limit.
        let long_words = "w".repeat(MAX_WORDS_BYTES);
        assert!(matches!(
            reproduce(
                "r-2",
                "report",
                &[("words", &long_words), ("uid", "1000"), ("lang", "xx")]
            ),
            FromCollector::HelpPageReport {
                report: HelpPageReport { lang: None, .. },
                ..
            }
        ));
        let too_long = "w".repeat(MAX_WORDS_BYTES + 1);
        // (parameters, what the refusal names)
        let cases: [(&[(&str, &str)], &str); 6] = [
            (
                &[("words", &too_long), ("uid", "1000")],
                "\"words\" is 4097 bytes",
            ),
            (&[("uid", "1000")], "needs the user's words"),
            (
                &[("words", "  "), ("uid", "1000")],
                "needs the user's words",
            ),
            (
                &[("words", "no \u{1b}[31m colour"), ("uid", "1")],
                "control character",
            ),
            (
                &[("words", "help"), ("uid", "-1")],
                "\"uid\" must be a local user id",
            ),
            (
                &[("words", "help"), ("uid", "1"), ("account", "al\nice")],
                "\"account\" contains a control character",
            ),
        ];
        for (parameters, expected) in cases {
            let refused = reproduce("r-3", "report", parameters);
            let FromCollector::ReproduceRefused { request_id, error } = &refused else {
                panic!("not refused: {refused:?}");
            };
            assert_eq!(request_id.as_deref(), Some("r-3"));
            assert!(error.contains(expected), "{error}");
        }
        let long_account = "a".repeat(MAX_ACCOUNT_BYTES + 1);
        assert!(matches!(
            reproduce("r-5", "report", &[("words", "x"), ("uid", "1"), ("account", &long_account)]),
            FromCollector::ReproduceRefused { error, .. } if error.contains("\"account\" must be at most")
        ));
        // Other playbooks keep their 2 KiB limit on every parameter.
        assert!(matches!(
            reproduce("r-4", "web", &[("words", &long_words)]),
            FromCollector::ReproduceRefused { .. }
        ));
    }

    fn help_link_from(url: &str, error: &str) -> FromCollector {
        FromCollector::try_from(pb::CollectorMessage {
            body: Some(pb::collector_message::Body::HelpLink(pb::HelpLink {
                request_id: "h-1".to_owned(),
                url: url.to_owned(),
                expires_at_unix_ms: 42,
                error: error.to_owned(),
            })),
        })
        .expect("a help link")
    }

    #[test]
    fn help_links_are_checked_before_any_browser_sees_them() {
        let good = "https://collector.example.com/help/t/abc";
        assert_eq!(
            help_link_from(good, ""),
            FromCollector::HelpLink {
                request_id: "h-1".to_owned(),
                answer: HelpLinkAnswer::Link {
                    url: good.to_owned(),
                    expires_at_unix_ms: 42
                },
            }
        );
        let answer = |message: FromCollector| match message {
            FromCollector::HelpLink { answer, .. } => answer,
            other => panic!("not a help link: {other:?}"),
        };
        assert_eq!(
            answer(help_link_from(
                "",
                "Tu cuenta no está en el directorio\u{7}"
            )),
            HelpLinkAnswer::Refused {
                reason: "Tu cuenta no está en el directorio ".to_owned()
            }
        );
        let long = format!("https://collector.example.com/{}", "a".repeat(3000));
        for bad in [
            "file:///etc/shadow",
            "javascript:alert(1)",
            &long,
            "https://x/\r\n",
        ] {
            match answer(help_link_from(bad, "")) {
                HelpLinkAnswer::Failed { reason } => {
                    assert!(reason.contains("will not open"), "{reason}");
                    assert!(reason.len() < 400, "{reason}");
                }
                other => panic!("{bad:.40} was not refused: {other:?}"),
            }
        }
        assert!(matches!(
            answer(help_link_from("", " ")),
            HelpLinkAnswer::Failed { .. }
        ));
        let request = help_link_request(
            "h-2",
            &HelpLinkAsk {
                account: "alice".to_owned(),
                uid: 1000,
                locale: "el".to_owned(),
            },
        );
        assert_eq!(
            request.body,
            Some(pb::agent_message::Body::HelpLinkRequest(
                pb::HelpLinkRequest {
                    request_id: "h-2".to_owned(),
                    account: "alice".to_owned(),
                    uid: 1000,
                    locale: "el".to_owned(),
                }
            ))
        );
    }

    fn notice(id: &str, account: &str, title: &str, body: &str, kind: &str) -> FromCollector {
        FromCollector::try_from(pb::CollectorMessage {
            body: Some(pb::collector_message::Body::Notice(pb::UserNotice {
                id: id.to_owned(),
                account: account.to_owned(),
                title: title.to_owned(),
                body: body.to_owned(),
                kind: kind.to_owned(),
                ticket_id: 42,
            })),
        })
        .expect("a notice converts")
    }

    #[test]
    fn notices_are_cleaned_of_control_characters() {
        let FromCollector::Notice(shown) = notice(
            "n-1",
            "anna",
            "Your ticket\u{1b}[31m #42 has a reply\r",
            "The printer is fixed.\nPlease try again.\u{7}",
            "reply",
        ) else {
            panic!("refused");
        };
        assert_eq!(shown.title, "Your ticket[31m #42 has a reply");
        assert_eq!(shown.body, "The printer is fixed.\nPlease try again.");
        assert_eq!((shown.account.as_str(), shown.ticket_id), ("anna", 42));
    }

    #[test]
    fn notices_beyond_their_limits_are_refused_with_the_reason() {
        let long_title = "é".repeat(MAX_NOTICE_TITLE_BYTES / 2 + 1);
        let long_body = "x".repeat(MAX_NOTICE_BODY_BYTES + 1);
        let cases: [(FromCollector, &str); 8] = [
            (notice("", "anna", "t", "b", "reply"), "notice id"),
            (notice("n 1", "anna", "t", "b", "reply"), "notice id"),
            (notice("n-1", "", "t", "b", "reply"), "account"),
            (notice("n-1", "../root", "t", "b", "reply"), "account"),
            (
                notice("n-1", "anna", " \u{1b}\t", "b", "reply"),
                "title is empty",
            ),
            (
                notice("n-1", "anna", &long_title, "b", "reply"),
                "title is 202 bytes",
            ),
            (
                notice("n-1", "anna", "t", &long_body, "reply"),
                "text is 1025 bytes",
            ),
            (notice("n-1", "anna", "t", "b", "Reply!"), "kind"),
        ];
        for (refused, expected) in cases {
            let FromCollector::NoticeRefused { reason, .. } = &refused else {
                panic!("not refused ({expected}): {refused:?}");
            };
            assert!(reason.contains(expected), "{reason}");
        }
        // What a refusal quotes of the input stays short, however long the input.
        let huge = "a".repeat(100_000);
        let FromCollector::NoticeRefused { id, reason } = notice(&huge, &huge, "t", "b", "reply")
        else {
            panic!("a huge id accepted");
        };
        assert!(id.len() < 100 && reason.len() < 200, "{id} {reason}");
        let FromCollector::NoticeRefused { id, reason } = notice("n-3", &huge, "t", "b", "reply")
        else {
            panic!("a huge account accepted");
        };
        assert!(id == "\"n-3\"" && reason.len() < 300, "{id} {reason}");
        // At the limits, accepted.
        let title = "t".repeat(MAX_NOTICE_TITLE_BYTES);
        let body = "b".repeat(MAX_NOTICE_BODY_BYTES);
        assert!(matches!(
            notice("n-2", "anna", &title, &body, "outage_started"),
            FromCollector::Notice(_)
        ));
    }
}
