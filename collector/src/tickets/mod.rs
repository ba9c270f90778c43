//! Tickets: turning findings into a short, honest queue. `engine` decides (pure: an event and
//! the state it touches in, actions out), `policy` holds the rules' numbers, and the store
//! (`store/tickets.rs`) loads state and applies the actions inside one transaction; `titles`
//! words a ticket's title from its finding's evidence.

pub mod engine;
pub mod policy;
pub mod titles;

use serde::Serialize;

pub use engine::{Action, Event, Refusal, decide};
pub use policy::{Level, Policy, Priority};

/// A ticket's place in its life. Open states are new, assigned, in progress and pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    New,
    Assigned,
    InProgress,
    Pending,
    Resolved,
    Closed,
    Cancelled,
}

impl TicketState {
    pub const ALL: [TicketState; 7] = [
        TicketState::New,
        TicketState::Assigned,
        TicketState::InProgress,
        TicketState::Pending,
        TicketState::Resolved,
        TicketState::Closed,
        TicketState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::New => "new",
            TicketState::Assigned => "assigned",
            TicketState::InProgress => "in_progress",
            TicketState::Pending => "pending",
            TicketState::Resolved => "resolved",
            TicketState::Closed => "closed",
            TicketState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            TicketState::New
                | TicketState::Assigned
                | TicketState::InProgress
                | TicketState::Pending
        )
    }
}

/// A device ticket is about one condition of one device; an incident is about one check
/// failing on many devices of one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    Device,
    Incident,
    /// A user's own report (`firstline-agent report`), with the diagnosis the agent ran.
    Report,
}

impl TicketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Device => "device",
            TicketKind::Incident => "incident",
            TicketKind::Report => "report",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "device" => Some(TicketKind::Device),
            "incident" => Some(TicketKind::Incident),
            "report" => Some(TicketKind::Report),
            _ => None,
        }
    }
}

/// What the collector knows of a condition `(device, check, resource)`. Pending and clearing
/// happen on the agent (its minimum durations), so the collector sees the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConditionState {
    Firing,
    Resolved,
    /// The device went silent while the condition was firing: not resolved, not confirmed.
    Stale,
    /// Changing state too often; the ticket is held open until it settles.
    Flapping,
}

impl ConditionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionState::Firing => "firing",
            ConditionState::Resolved => "resolved",
            ConditionState::Stale => "stale",
            ConditionState::Flapping => "flapping",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "firing" => Some(ConditionState::Firing),
            "resolved" => Some(ConditionState::Resolved),
            "stale" => Some(ConditionState::Stale),
            "flapping" => Some(ConditionState::Flapping),
            _ => None,
        }
    }
}

/// Kinds of timeline entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    Opened,
    State,
    Evidence,
    Device,
    Priority,
    Escalation,
    Sla,
    Comment,
    Assignment,
    Flapping,
    Stale,
    KnownFix,
    Problem,
    Merge,
    /// A link to a related ticket (a user's report and the device's open tickets).
    Related,
    /// A user reported into this ticket: they reported again (a joined report) or the
    /// incident explains their report (a known outage). Their words, the diagnosis as data.
    Report,
    /// A technician-triggered reproduction: asked, answered, failed or expired.
    Reproduce,
    /// A channel (webhook, email) was told, or gave up.
    Notification,
    /// A public reply: staff writing to the person who reported it (shown on their help
    /// page, sent as a desktop notification and by e-mail). Comments stay internal.
    Reply,
    /// The requester answered "is it fixed?" (yes or no, with their words and rating).
    RequesterAnswer,
    /// A fix: started (by policy or by whom), sent, answered (what changed, verified or
    /// not), stopped.
    Fix,
    /// A ticket system (`[[ticket_systems]]`): linked, told, refused, or what a person
    /// wrote or did there.
    Sync,
}

impl NoteKind {
    pub const ALL: [NoteKind; 22] = [
        NoteKind::Opened,
        NoteKind::State,
        NoteKind::Evidence,
        NoteKind::Device,
        NoteKind::Priority,
        NoteKind::Escalation,
        NoteKind::Sla,
        NoteKind::Comment,
        NoteKind::Assignment,
        NoteKind::Flapping,
        NoteKind::Stale,
        NoteKind::KnownFix,
        NoteKind::Problem,
        NoteKind::Merge,
        NoteKind::Related,
        NoteKind::Report,
        NoteKind::Reproduce,
        NoteKind::Notification,
        NoteKind::Reply,
        NoteKind::RequesterAnswer,
        NoteKind::Fix,
        NoteKind::Sync,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Opened => "opened",
            NoteKind::State => "state",
            NoteKind::Evidence => "evidence",
            NoteKind::Device => "device",
            NoteKind::Priority => "priority",
            NoteKind::Escalation => "escalation",
            NoteKind::Sla => "sla",
            NoteKind::Comment => "comment",
            NoteKind::Assignment => "assignment",
            NoteKind::Flapping => "flapping",
            NoteKind::Stale => "stale",
            NoteKind::KnownFix => "known_fix",
            NoteKind::Problem => "problem",
            NoteKind::Merge => "merge",
            NoteKind::Related => "related",
            NoteKind::Report => "report",
            NoteKind::Reproduce => "reproduce",
            NoteKind::Notification => "notification",
            NoteKind::Reply => "reply",
            NoteKind::RequesterAnswer => "requester_answer",
            NoteKind::Fix => "fix",
            NoteKind::Sync => "sync",
        }
    }
}

/// A retired ticket's resolution: its check or resource left the device's config.
pub const NO_LONGER_MONITORED: &str = "no longer monitored";

/// Whether a clearing finding's evidence says its check or resource is no longer checked
/// (the config dropped it) rather than that it recovered: `"retired": true`, or the reason
/// agents before it wrote.
pub fn is_retirement(evidence_json: &str) -> bool {
    let Ok(evidence) = serde_json::from_str::<serde_json::Value>(evidence_json) else {
        return false;
    };
    evidence.get("retired").and_then(serde_json::Value::as_bool) == Some(true)
        || evidence.get("reason").and_then(serde_json::Value::as_str) == Some("no longer checked")
}

/// The fingerprint a problem is recognised by across devices and time: the check and the
/// resource, without the device. `disk.free_low` on `/` is one problem wherever it happens.
pub fn fingerprint(check: &str, resource: &str) -> String {
    format!("{check}:{}", resource.trim().to_lowercase())
}

/// The key of a device ticket: one open ticket per condition.
pub fn device_ticket_key(device_id: &str, check: &str, resource: &str) -> String {
    format!("device:{device_id}:{check}:{resource}")
}

/// The check name user reports arrive under.
pub const USER_REPORT: &str = "user.report";

/// A user report's fingerprint: what was diagnosed and where it failed
/// (`user.report:web:dns`), so fixes for one "intranet unreachable: DNS" serve the next.
pub fn user_report_fingerprint(evidence_json: &str) -> String {
    let evidence: serde_json::Value = serde_json::from_str(evidence_json).unwrap_or_default();
    fingerprint(
        USER_REPORT,
        &format!(
            "{}:{}",
            evidence["playbooks"][0]["playbook"]
                .as_str()
                .unwrap_or("health"),
            evidence["failed_layer"].as_str().unwrap_or("none")
        ),
    )
}

/// What a user report is about, for joining repeated reports: the playbooks that ran (in
/// name order), the first failing layer and the web address tested (its host, lowercased),
/// `web:dns:intranet.example.com`. Words differ between two reports of one fault; this
/// does not. Bounded, since it is stored and indexed.
pub fn report_group_key(evidence_json: &str) -> String {
    let evidence: serde_json::Value = serde_json::from_str(evidence_json).unwrap_or_default();
    let results = evidence["playbooks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut playbooks: Vec<&str> = results
        .iter()
        .filter_map(|result| result["playbook"].as_str())
        .collect();
    playbooks.sort_unstable();
    playbooks.dedup();
    let playbooks = if playbooks.is_empty() {
        "health".to_owned()
    } else {
        playbooks.join("+")
    };
    // Only the web playbook's target is an address; the crash playbook's is the words.
    let target = results
        .iter()
        .filter(|result| result["playbook"].as_str() == Some("web"))
        .find_map(|result| result["target"].as_str())
        .map(web_host)
        .unwrap_or_default();
    let key = format!(
        "{playbooks}:{}:{target}",
        evidence["failed_layer"].as_str().unwrap_or("none")
    );
    key.chars()
        .filter(|c| !c.is_control())
        .take(MAX_GROUP_KEY_CHARS)
        .collect()
}

/// The longest a report's group key may be.
pub const MAX_GROUP_KEY_CHARS: usize = 300;

/// The host of a web address as a user or the agent wrote it (`https://Intranet.example.com/x`
/// is `intranet.example.com`); what is not an address is kept, lowercased.
fn web_host(target: &str) -> String {
    let target = target.trim();
    let rest = target.split_once("://").map_or(target, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    host.trim_end_matches('.').to_lowercase()
}

/// A host without its port: `intranet.example.com:8443` is `intranet.example.com`,
/// `[2001:db8::1]:443` is `[2001:db8::1]`.
fn without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => name,
        _ => host,
    }
}

/// The host (without its port) of the web address a report's web playbook tested, if one.
pub fn report_target_host(evidence_json: &str) -> Option<String> {
    let evidence: serde_json::Value = serde_json::from_str(evidence_json).ok()?;
    let host = evidence["playbooks"]
        .as_array()?
        .iter()
        .filter(|result| result["playbook"].as_str() == Some("web"))
        .find_map(|result| result["target"].as_str())
        .map(web_host)?;
    let host = without_port(&host).to_owned();
    (!host.is_empty()).then_some(host)
}

/// Whether an incident of `check` on `resource` explains a report whose first failing layer
/// is `failed_layer` and which tested `target_host`: the check is of the report's area and,
/// for web and TCP checks (each about one endpoint), about the same host when both name one.
/// A DNS or network incident explains any host: a resolver or gateway down fails them all.
pub fn incident_explains_report(
    check: &str,
    resource: &str,
    failed_layer: Option<&str>,
    target_host: Option<&str>,
) -> bool {
    if !check_explains_report(check, failed_layer) {
        return false;
    }
    let per_endpoint = check.starts_with("https.") || check.starts_with("tcp.");
    match target_host {
        Some(target) if per_endpoint => {
            let host = web_host(resource);
            without_port(&host) == target
        }
        _ => true,
    }
}

/// How a user's report was taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportHow {
    /// It opened a report ticket of its own.
    Opened,
    /// It joined the requester's open report ticket about the same thing.
    Joined,
    /// An open fleet incident explains it: the user is told it is a known outage.
    KnownOutage,
}

impl ReportHow {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportHow::Opened => "opened",
            ReportHow::Joined => "joined",
            ReportHow::KnownOutage => "known_outage",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Opened, Self::Joined, Self::KnownOutage]
            .into_iter()
            .find(|how| how.as_str() == text)
    }
}

/// The check-name prefixes whose failures explain a report whose first failing layer is
/// `failed_layer` (`dns` ↔ `dns.*`, gateway/link/address ↔ `network.*`, tcp/tls/http ↔
/// `https.*`/`tcp.*`, …); none for a report where nothing failed.
pub fn report_area(failed_layer: Option<&str>) -> &'static [&'static str] {
    match failed_layer {
        Some("dns") => &["dns."],
        Some("link" | "address" | "gateway") => &["network."],
        Some("tcp" | "tls" | "http") => &["https.", "tcp."],
        Some("printer" | "queue") => &["printer."],
        Some("mail" | "greeting") => &["mail."],
        Some("space" | "write" | "disk") => &["disk."],
        Some("cpu" | "memory" | "thermal") => &["cpu.", "memory.", "thermal."],
        Some("clock") => &["clock."],
        _ => &[],
    }
}

/// Whether a failure of `check` explains a report whose first failing layer is `failed_layer`.
pub fn check_explains_report(check: &str, failed_layer: Option<&str>) -> bool {
    report_area(failed_layer)
        .iter()
        .any(|prefix| check.starts_with(prefix))
}

/// Who made a report: the account the agent's report socket saw (the kernel's peer
/// credentials, never the client's word), from the report's evidence (`reporter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The account name, or "uid N" when the device did not know the uid's name.
    pub name: String,
    pub uid: Option<i64>,
}

/// The longest account name a requester may have; a longer or unprintable one is not used.
pub const MAX_REQUESTER_BYTES: usize = 64;

/// The requester in a user report's evidence, when it names one that is plain text.
pub fn requester(evidence_json: &str) -> Option<Requester> {
    let evidence: serde_json::Value = serde_json::from_str(evidence_json).ok()?;
    let reporter = evidence.get("reporter")?;
    let uid = reporter
        .get("uid")
        .and_then(serde_json::Value::as_u64)
        .filter(|uid| *uid <= u64::from(u32::MAX))
        .and_then(|uid| i64::try_from(uid).ok());
    let account = reporter
        .get("account")
        .and_then(serde_json::Value::as_str)
        .filter(|name| {
            !name.is_empty()
                && name.len() <= MAX_REQUESTER_BYTES
                && !name.chars().any(char::is_control)
        });
    let name = match (account, uid) {
        (Some(account), _) => account.to_owned(),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => return None,
    };
    Some(Requester { name, uid })
}

/// The key of an incident: one open incident per check and scope.
pub fn incident_key(check: &str, scope: &str) -> String {
    format!("incident:{check}:{scope}")
}

/// A known fix for a fingerprint, with how often it worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KnownFix {
    pub solution: String,
    pub worked_count: u32,
}

/// The scopes a device belongs to, from what it reported: its site ("default" when none is
/// configured), its default gateways and its DNS resolvers.
pub fn device_scopes(site: &str, gateways: &[String], dns_servers: &[String]) -> Vec<String> {
    let site = if site.trim().is_empty() {
        "default"
    } else {
        site.trim()
    };
    let mut scopes = vec![format!("site={site}")];
    // At most a few of each (the first ones the device listed): a device claiming hundreds
    // would make each of its findings a correlation across all of them.
    let mut add = |kind: &str, values: &[String]| {
        let mut added = 0;
        for value in values {
            let scope = format!("{kind}={value}");
            if added < crate::budget::MAX_SCOPES_PER_KIND && !scopes.contains(&scope) {
                scopes.push(scope);
                added += 1;
            }
        }
    };
    add("gateway", gateways);
    add("dns", dns_servers);
    scopes
}

/// The application-version scope of a finding whose evidence names one (`"app_version"`):
/// `app=outlook.exe@16.0.1`. Crashes of one version across devices are one problem.
pub fn app_scope(resource: &str, evidence_json: &str) -> Option<String> {
    let evidence: serde_json::Value = serde_json::from_str(evidence_json).ok()?;
    // Bounded: the scope is part of indexed keys.
    let version: String = evidence
        .get("app_version")?
        .as_str()?
        .trim()
        .chars()
        .take(64)
        .collect();
    (!version.is_empty() && !resource.is_empty()).then(|| format!("app={resource}@{version}"))
}

/// The device's scopes in the order that best explains a failure of `check`: a resolver for
/// DNS trouble, a gateway for network trouble, then the site. Scopes that cannot explain the
/// check (a resolver for a full disk) are left out.
pub fn scopes_for_check(check: &str, scopes: &[String]) -> Vec<String> {
    let preference: &[&str] = if check.starts_with("dns.") {
        &["dns=", "gateway=", "site="]
    } else if check.starts_with("network.") {
        &["gateway=", "site="]
    } else if check.starts_with("https.") || check.starts_with("tcp.") {
        &["dns=", "gateway=", "site="]
    } else {
        &["site="]
    };
    preference
        .iter()
        .flat_map(|kind| scopes.iter().filter(move |scope| scope.starts_with(kind)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reports_requester_is_the_account_in_its_evidence_when_plain() {
        let named = |name: &str, uid: Option<i64>| {
            Some(Requester {
                name: name.to_owned(),
                uid,
            })
        };
        let cases = [
            (
                r#"{"reporter": {"uid": 0, "account": "root"}}"#,
                named("root", Some(0)),
            ),
            (
                r#"{"reporter": {"uid": 1000}}"#,
                named("uid 1000", Some(1000)),
            ),
            (
                r#"{"reporter": {"uid": 1000, "account": "a\u001bb"}}"#,
                named("uid 1000", Some(1000)),
            ),
            (
                r#"{"reporter": {"uid": -1, "account": "bob"}}"#,
                named("bob", None),
            ),
            (r#"{"reporter": {"uid": 99999999999}}"#, None),
            (r#"{"reporter": "root"}"#, None),
            (r#"{"text": "no wifi"}"#, None),
            ("not json", None),
        ];
        for (evidence, expected) in cases {
            assert_eq!(requester(evidence), expected, "{evidence}");
        }
        let long = format!(r#"{{"reporter": {{"account": "{}"}}}}"#, "a".repeat(65));
        assert_eq!(requester(&long), None);
    }

    #[test]
    fn reports_group_by_playbooks_failed_layer_and_host_not_by_words() {
        let cases = [
            (
                r#"{"text": "intranet down", "failed_layer": "dns", "playbooks": [
                    {"playbook": "web", "target": "https://Intranet.example.com/wiki?x=1"}]}"#,
                "web:dns:intranet.example.com",
            ),
            (
                r#"{"text": "still cannot open it!!", "failed_layer": "dns", "playbooks": [
                    {"playbook": "web", "target": "intranet.example.com."}]}"#,
                "web:dns:intranet.example.com",
            ),
            (
                r#"{"failed_layer": "printer", "playbooks": [{"playbook": "printing"},
                    {"playbook": "crash", "target": "Word crashes when I print"}]}"#,
                "crash+printing:printer:",
            ),
            (r#"{"failed_layer": null, "playbooks": []}"#, "health:none:"),
            ("not json", "health:none:"),
        ];
        for (evidence, expected) in cases {
            assert_eq!(report_group_key(evidence), expected, "{evidence}");
        }
        let long = format!(
            r#"{{"playbooks": [{{"playbook": "web", "target": "{}.example.com"}}]}}"#,
            "a".repeat(1000)
        );
        assert_eq!(report_group_key(&long).chars().count(), MAX_GROUP_KEY_CHARS);
    }

    #[test]
    fn a_reports_failed_layer_is_explained_by_checks_of_its_area_only() {
        let cases = [
            ("dns.resolve", Some("dns"), true),
            ("network.gateway_loss_pct", Some("gateway"), true),
            ("network.gateway_loss_pct", Some("link"), true),
            ("https.reachable", Some("tls"), true),
            ("tcp.connect", Some("tcp"), true),
            ("dns.resolve", Some("http"), false),
            ("disk.used_pct", Some("dns"), false),
            ("dns.resolve", None, false),
            ("dns.resolve", Some("something new"), false),
        ];
        for (check, layer, expected) in cases {
            assert_eq!(
                check_explains_report(check, layer),
                expected,
                "{check} {layer:?}"
            );
        }
    }

    #[test]
    fn an_endpoint_incident_explains_reports_about_its_host_only() {
        let evidence = r#"{"playbooks": [{"playbook": "web", "target": "https://Intranet.example.com:8443/wiki"}]}"#;
        assert_eq!(
            report_target_host(evidence).as_deref(),
            Some("intranet.example.com")
        );
        assert_eq!(
            report_target_host(r#"{"playbooks": [{"playbook": "slow"}]}"#),
            None
        );
        let target = Some("intranet.example.com");
        let cases = [
            (
                "https.reachable",
                "https://intranet.example.com/",
                Some("tls"),
                target,
                true,
            ),
            (
                "https.reachable",
                "https://mail.example.com/",
                Some("tls"),
                target,
                false,
            ),
            (
                "tcp.connect",
                "intranet.example.com:443",
                Some("tcp"),
                target,
                true,
            ),
            (
                "tcp.connect",
                "[2001:db8::1]:443",
                Some("tcp"),
                target,
                false,
            ),
            (
                "tcp.connect",
                "files.example.com:445",
                Some("tcp"),
                None,
                true,
            ),
            ("dns.resolve", "mail.example.com", Some("dns"), target, true),
            (
                "dns.resolve",
                "intranet.example.com",
                Some("tls"),
                target,
                false,
            ),
        ];
        for (check, resource, layer, target, expected) in cases {
            assert_eq!(
                incident_explains_report(check, resource, layer, target),
                expected,
                "{check} {resource} {layer:?} {target:?}"
            );
        }
    }

    #[test]
    fn evidence_naming_an_app_version_gives_an_app_scope() {
        let cases = [
            (
                r#"{"app_version": "16.0.1", "count": 2}"#,
                Some("app=outlook.exe@16.0.1"),
            ),
            (r#"{"app_version": ""}"#, None),
            (r#"{"app_version": 16}"#, None),
            (r#"{"count": 2}"#, None),
            ("not json", None),
        ];
        for (evidence, expected) in cases {
            assert_eq!(
                app_scope("outlook.exe", evidence).as_deref(),
                expected,
                "{evidence}"
            );
        }
    }

    #[test]
    fn scopes_are_ordered_by_what_explains_the_check() {
        let scopes = device_scopes(
            "",
            &["192.0.2.1".to_owned()],
            &["192.0.2.53".to_owned(), "192.0.2.54".to_owned()],
        );
        assert_eq!(
            scopes,
            [
                "site=default",
                "gateway=192.0.2.1",
                "dns=192.0.2.53",
                "dns=192.0.2.54"
            ]
        );
        let cases: [(&str, &[&str]); 3] = [
            (
                "dns.resolve",
                &[
                    "dns=192.0.2.53",
                    "dns=192.0.2.54",
                    "gateway=192.0.2.1",
                    "site=default",
                ],
            ),
            (
                "network.gateway_loss_pct",
                &["gateway=192.0.2.1", "site=default"],
            ),
            ("disk.free_low", &["site=default"]),
        ];
        for (check, expected) in cases {
            assert_eq!(scopes_for_check(check, &scopes), expected, "{check}");
        }
    }
}
