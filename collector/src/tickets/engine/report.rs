//! User reports in the engine: join the requester's open report ticket about the same
//! thing, attach to an open incident that explains it (a known outage), or open a ticket.

use crate::model::{Finding, Severity};
use crate::tickets::{NoteKind, ReportHow, TicketKind};

use super::conditions::one_device_ticket;
use super::knowledge::knowledge;
use super::{Action, DeviceFacts, Plan, Policy, State, TicketRef, TicketView, duration_ms};

/// A user's report. It joins the requester's open report ticket about the same thing on
/// this device when that ticket's latest report is within `report_join_window` (their words
/// become an entry on it); else it attaches to an open incident that explains it (a known
/// outage: the device is listed on the incident or in its scope, and the incident's check is
/// of the report's area); else it opens a ticket of its own: their words as the description,
/// the agent's diagnosis as evidence, linked once to the device's open tickets. A report
/// ticket never resolves itself: a person answers the person who asked. Every report is
/// recorded with the ticket that took it.
pub(super) fn user_report(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    state: &State,
    policy: &Policy,
) {
    let evidence: serde_json::Value =
        serde_json::from_str(&finding.evidence_json).unwrap_or_default();
    let text = evidence["text"]
        .as_str()
        .filter(|text| !text.trim().is_empty())
        .unwrap_or(&finding.summary)
        .to_owned();
    let failed_layer = evidence["failed_layer"].as_str().map(str::to_owned);
    let playbook = evidence["playbooks"][0]["playbook"]
        .as_str()
        .unwrap_or("health")
        .to_owned();
    let conclusion = evidence["conclusion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let requester = crate::tickets::requester(&finding.evidence_json).map(|r| r.name);
    let who = requester
        .clone()
        .unwrap_or_else(|| format!("The user of {}", device.hostname));
    let group_key = crate::tickets::report_group_key(&finding.evidence_json);
    let explains =
        |check: &str| crate::tickets::check_explains_report(check, failed_layer.as_deref());
    let record = |plan: &mut Plan, ticket: TicketRef, how: ReportHow, check_first: bool| {
        plan.push(Action::RecordReport {
            device_id: device.id.clone(),
            report_id: finding.resource.clone(),
            ticket,
            how,
            requester: requester.clone(),
            group_key: group_key.clone(),
            check_first,
            at_ms: now,
        });
    };
    // A check found it first when a ticket a check raised, of the report's area, was open
    // on this device before the report came.
    let check_first = state.related.iter().any(|ticket| {
        ticket.kind != TicketKind::Report
            && ticket.state.is_open()
            && ticket.opened_at_ms <= now
            && explains(&ticket.check)
    });

    if let Some(joinable) = &state.joinable_report
        && joinable.ticket.kind == TicketKind::Report
        && joinable.ticket.state.is_open()
        && now - joinable.last_report_at_ms <= duration_ms(policy.report_join_window)
    {
        let ticket = TicketRef::Existing(joinable.ticket.id);
        plan.push(Action::Note {
            ticket,
            kind: NoteKind::Report,
            actor: requester.clone(),
            text: format!("{who} reported again: {text}"),
            data_json: Some(finding.evidence_json.clone()),
            at_ms: now,
        });
        record(plan, ticket, ReportHow::Joined, check_first);
        return;
    }

    let target_host = crate::tickets::report_target_host(&finding.evidence_json);
    if let Some(outage) = state.outages.iter().find(|outage| {
        outage.ticket.kind == TicketKind::Incident
            && outage.ticket.state.is_open()
            && crate::tickets::incident_explains_report(
                &outage.ticket.check,
                &outage.resource,
                failed_layer.as_deref(),
                target_host.as_deref(),
            )
            && (outage.lists_device
                || outage
                    .scope
                    .as_ref()
                    .is_some_and(|scope| device.scopes.contains(scope)))
    }) {
        let ticket = TicketRef::Existing(outage.ticket.id);
        plan.push(Action::Note {
            ticket,
            kind: NoteKind::Report,
            actor: requester.clone(),
            text: format!(
                "{who} on {} reported: {text} (explained by this incident: first failing layer {})",
                device.hostname,
                failed_layer.as_deref().unwrap_or("none")
            ),
            data_json: Some(finding.evidence_json.clone()),
            at_ms: now,
        });
        record(plan, ticket, ReportHow::KnownOutage, true);
        return;
    }

    // What failed decides how urgent it is, as for the same failure found by a check.
    let like_check = match failed_layer.as_deref() {
        Some("link" | "address" | "gateway") => "network.",
        Some("dns") => "dns.",
        Some("tcp" | "tls" | "http") => "https.",
        Some("space" | "write") => "disk.",
        Some("cpu" | "memory" | "thermal") => "cpu.",
        Some("clock") => "clock.",
        _ => "user.report",
    };
    let impact = policy.impact(false, 1, device.vip);
    let urgency = policy.urgency(like_check, Severity::Warning);
    let fingerprint = crate::tickets::user_report_fingerprint(&finding.evidence_json);
    let reference = plan.open(one_device_ticket(
        TicketKind::Report,
        format!("report:{}:{}", device.id, finding.resource),
        crate::tickets::titles::report_title(
            requester.as_deref().unwrap_or(&device.hostname),
            &text,
            failed_layer.as_deref(),
        ),
        text.clone(),
        device,
        finding,
        fingerprint.clone(),
        (impact, urgency),
        now,
        policy,
    ));
    plan.note(
        reference,
        NoteKind::Opened,
        format!("{} reported: {text}", device.hostname),
        now,
    );
    plan.note_with_data(
        reference,
        NoteKind::Evidence,
        match &failed_layer {
            Some(layer) => {
                format!("Diagnosis ({playbook}): first failing layer {layer}: {conclusion}")
            }
            None => format!("Diagnosis ({playbook}): {conclusion}"),
        },
        &finding.evidence_json,
        now,
    );
    // Linked once: one entry on the report lists the device's open tickets; they are not
    // each given a note (the links show on both sides).
    let related: Vec<&TicketView> = state.related.iter().filter(|t| t.state.is_open()).collect();
    for ticket in &related {
        plan.push(Action::Link {
            ticket: reference,
            linked: TicketRef::Existing(ticket.id),
        });
    }
    if !related.is_empty() {
        let listed: Vec<String> = related
            .iter()
            .map(|ticket| format!("#{} ({})", ticket.id, ticket.check))
            .collect();
        plan.note(
            reference,
            NoteKind::Related,
            format!("Related: open for this device: {}", listed.join(", ")),
            now,
        );
    }
    record(plan, reference, ReportHow::Opened, check_first);
    knowledge(
        plan,
        reference,
        &finding.check,
        &fingerprint,
        now,
        state,
        policy,
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{device, finding, incident, policy, summarise, ticket};
    use super::super::{Event, JoinableReport, Outage, decide};
    use super::*;
    use crate::tickets::TicketState;

    const HOUR: i64 = 3_600_000;
    const NOW: i64 = 1_000 * HOUR;

    /// A DNS failure reported by alice on device a.
    fn dns_report() -> Finding {
        Finding {
            check: crate::tickets::USER_REPORT.to_owned(),
            resource: "r1".to_owned(),
            severity: Severity::Warning,
            summary: "I can't open the intranet".to_owned(),
            evidence_json: r#"{"text": "I can't open the intranet", "failed_layer": "dns",
                "conclusion": "The name cannot be looked up", "reporter": {"uid": 1000, "account": "alice"},
                "playbooks": [{"playbook": "web", "target": "intranet.example.com"}]}"#
                .to_owned(),
            ..finding("user.report", Severity::Warning)
        }
    }

    fn report_ticket(id: i64, state: TicketState) -> TicketView {
        TicketView {
            kind: TicketKind::Report,
            check: crate::tickets::USER_REPORT.to_owned(),
            fingerprint: "user.report:web:dns".to_owned(),
            ..ticket(id, state)
        }
    }

    fn dns_incident(id: i64) -> TicketView {
        TicketView {
            check: "dns.resolve".to_owned(),
            ..incident(id, 5)
        }
    }

    #[test]
    fn a_user_report_joins_attaches_to_an_outage_or_opens_a_ticket_linked_once() {
        let dns_ticket = TicketView {
            check: "dns.resolve".to_owned(),
            opened_at_ms: NOW - HOUR,
            ..ticket(8, TicketState::New)
        };
        let joinable = |state: TicketState, last_report_at_ms: i64| {
            Some(JoinableReport {
                ticket: report_ticket(20, state),
                last_report_at_ms,
            })
        };
        let outage = |ticket: TicketView, scope: &str, lists_device: bool| Outage {
            resource: "intranet.example.com".to_owned(),
            ticket,
            scope: Some(scope.to_owned()),
            lists_device,
        };
        let opened: &[&str] = &[
            "open report P3 report:a:r1 devices=1",
            "note new0 opened",
            "note new0 evidence",
            "report new0 opened alice first=false",
        ];
        let cases: Vec<(&str, State, Vec<&str>)> = vec![
            ("alone", State::default(), opened.to_vec()),
            (
                "beside two open tickets: linked to both, one entry, none on them",
                State {
                    related: vec![ticket(7, TicketState::New), dns_ticket.clone()],
                    ..State::default()
                },
                vec![
                    "open report P3 report:a:r1 devices=1",
                    "note new0 opened",
                    "note new0 evidence",
                    "related new0 #7",
                    "related new0 #8",
                    "note new0 related",
                    "report new0 opened alice first=true",
                ],
            ),
            (
                "a check ticket of another area was not first",
                State {
                    related: vec![ticket(7, TicketState::New)],
                    ..State::default()
                },
                vec![
                    "open report P3 report:a:r1 devices=1",
                    "note new0 opened",
                    "note new0 evidence",
                    "related new0 #7",
                    "note new0 related",
                    "report new0 opened alice first=false",
                ],
            ),
            (
                "the requester's open report within the window is joined",
                State {
                    joinable_report: joinable(TicketState::InProgress, NOW - 23 * HOUR),
                    related: vec![dns_ticket.clone()],
                    ..State::default()
                },
                vec!["note #20 report", "report #20 joined alice first=true"],
            ),
            (
                "a report older than the window is not joined",
                State {
                    joinable_report: joinable(TicketState::New, NOW - 25 * HOUR),
                    ..State::default()
                },
                opened.to_vec(),
            ),
            (
                "a resolved report is not joined",
                State {
                    joinable_report: joinable(TicketState::Resolved, NOW - HOUR),
                    ..State::default()
                },
                opened.to_vec(),
            ),
            (
                "a DNS incident of the device's scope explains it",
                State {
                    outages: vec![outage(dns_incident(30), "site=hq", false)],
                    ..State::default()
                },
                vec![
                    "note #30 report",
                    "report #30 known_outage alice first=true",
                ],
            ),
            (
                "a DNS incident listing the device explains it",
                State {
                    outages: vec![outage(dns_incident(30), "dns=192.0.2.53", true)],
                    ..State::default()
                },
                vec![
                    "note #30 report",
                    "report #30 known_outage alice first=true",
                ],
            ),
            (
                "an incident of another area does not",
                State {
                    outages: vec![outage(incident(31, 5), "site=hq", true)],
                    ..State::default()
                },
                opened.to_vec(),
            ),
            (
                "an incident of another scope, not listing the device, does not",
                State {
                    outages: vec![outage(dns_incident(30), "site=branch", false)],
                    ..State::default()
                },
                opened.to_vec(),
            ),
            (
                "a resolved incident does not",
                State {
                    outages: vec![outage(
                        TicketView {
                            state: TicketState::Resolved,
                            ..dns_incident(30)
                        },
                        "site=hq",
                        true,
                    )],
                    ..State::default()
                },
                opened.to_vec(),
            ),
            (
                "the requester's own ticket comes before the outage",
                State {
                    joinable_report: joinable(TicketState::New, NOW - HOUR),
                    outages: vec![outage(dns_incident(30), "site=hq", true)],
                    ..State::default()
                },
                vec!["note #20 report", "report #20 joined alice first=false"],
            ),
        ];
        let a = device("a");
        let report = dns_report();
        for (name, state, expected) in cases {
            let event = Event::UserReport {
                device: &a,
                finding: &report,
                at_ms: NOW,
            };
            let actions = decide(&event, &state, &policy()).expect("decides");
            assert_eq!(summarise(&actions), expected, "{name}");
            if let Some(Action::OpenTicket(opened)) = actions.first() {
                assert_eq!(opened.description, "I can't open the intranet", "{name}");
                assert_eq!(opened.fingerprint, "user.report:web:dns", "{name}");
            }
            for action in &actions {
                if let Action::Note {
                    kind: NoteKind::Report,
                    actor,
                    text,
                    ..
                } = action
                {
                    assert_eq!(actor.as_deref(), Some("alice"), "{name}");
                    assert!(text.starts_with("alice "), "{name}: {text}");
                    assert!(text.contains("I can't open the intranet"), "{name}: {text}");
                }
                if let Action::RecordReport {
                    report_id,
                    group_key,
                    ..
                } = action
                {
                    assert_eq!(report_id, "r1", "{name}");
                    assert_eq!(group_key, "web:dns:intranet.example.com", "{name}");
                }
            }
        }
    }

    #[test]
    fn a_report_without_a_reporter_joins_as_the_devices_user() {
        let report = Finding {
            evidence_json: r#"{"text": "no internet", "failed_layer": "gateway",
                "playbooks": [{"playbook": "web"}]}"#
                .to_owned(),
            ..dns_report()
        };
        let state = State {
            joinable_report: Some(JoinableReport {
                ticket: report_ticket(20, TicketState::New),
                last_report_at_ms: NOW - HOUR,
            }),
            ..State::default()
        };
        let a = device("a");
        let event = Event::UserReport {
            device: &a,
            finding: &report,
            at_ms: NOW,
        };
        let actions = decide(&event, &state, &policy()).expect("decides");
        assert_eq!(
            summarise(&actions),
            ["note #20 report", "report #20 joined - first=false"]
        );
        let Some(Action::Note { text, actor, .. }) = actions.first() else {
            panic!("notes first")
        };
        assert_eq!(text, "The user of pc-a reported again: no internet");
        assert_eq!(actor, &None);
    }
}
