//! The table of observed findings: a ticket opened, joined, reopened, held while flapping,
//! resolved, or folded into a fleet incident, and known fixes on a new one.

use crate::model::{Finding, Severity};
use crate::tickets::{ConditionState, KnownFix, TicketState};

use super::super::testing::{
    HOUR, NOW, condition, device, finding, incident, peer, policy, summarise, ticket,
};
use super::super::{
    AttachedIncident, ConditionView, DeviceFacts, Event, Peer, ScopeView, State, TicketView, decide,
};

struct Case {
    name: &'static str,
    hold: bool,
    finding: Finding,
    device: DeviceFacts,
    state: State,
    expected: &'static [&'static str],
}

fn observed_cases() -> Vec<Case> {
    let a = device("a");
    let warning = finding("disk.free_low", Severity::Warning);
    let critical = finding("disk.free_low", Severity::Critical);
    let clear = finding("disk.free_low", Severity::Ok);
    let retired = Finding {
        summary: "Cleared: disk.free_low on / is no longer checked".to_owned(),
        evidence_json: r#"{"reason":"no longer checked","retired":true}"#.to_owned(),
        ..finding("disk.free_low", Severity::Ok)
    };
    let staff_owned = TicketView {
        staff_owned: true,
        assignee: Some("alice".to_owned()),
        state: TicketState::Assigned,
        ..ticket(7, TicketState::Assigned)
    };
    let flapping_history = ConditionView {
        changes_ms: vec![NOW - 3 * 60_000, NOW - 2 * 60_000, NOW - 60_000],
        ..condition("a", false, Some(7))
    };
    vec![
        Case {
            name: "open: a first firing opens a device ticket",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State::default(),
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "condition firing new0",
            ],
        },
        Case {
            name: "open: a VIP raises impact, critical raises urgency",
            hold: false,
            finding: critical.clone(),
            device: DeviceFacts {
                vip: true,
                ..a.clone()
            },
            state: State::default(),
            expected: &[
                "open device P2 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "condition firing new0",
            ],
        },
        Case {
            name: "info findings update the condition but open nothing",
            hold: false,
            finding: finding("reboot.pending", Severity::Info),
            device: a.clone(),
            state: State::default(),
            expected: &["condition firing -"],
        },
        Case {
            name: "join: a severity change on an open ticket is a note and a new priority",
            hold: false,
            finding: critical.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(7))),
                ticket: Some(ticket(7, TicketState::New)),
                ..State::default()
            },
            expected: &[
                "note #7 evidence",
                "priority #7 P3",
                "note #7 priority",
                "condition firing #7",
            ],
        },
        Case {
            name: "join: firing again while staff still hold the ticket open",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", false, Some(7))),
                ticket: Some(staff_owned.clone()),
                ..State::default()
            },
            expected: &["note #7 evidence", "condition firing #7"],
        },
        Case {
            name: "reopen: firing within the reopen window reopens the resolved ticket",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", false, Some(7))),
                ticket: Some(ticket(7, TicketState::Resolved)),
                ..State::default()
            },
            expected: &[
                "state #7 new",
                "priority #7 P4",
                "note #7 state",
                "condition firing #7",
            ],
        },
        Case {
            name: "reopen window passed: a new ticket",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", false, Some(7))),
                ticket: Some(TicketView {
                    resolved_at_ms: Some(NOW - 48 * HOUR),
                    ..ticket(7, TicketState::Resolved)
                }),
                ..State::default()
            },
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "condition firing new0",
            ],
        },
        Case {
            name: "closed tickets are never reopened: the new one follows a recently closed one",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", false, Some(7))),
                ticket: Some(ticket(7, TicketState::Closed)),
                ..State::default()
            },
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "related new0 #7",
                "note new0 related",
                "condition firing new0",
            ],
        },
        Case {
            name: "a ticket closed before the reopen window is not linked",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", false, Some(7))),
                ticket: Some(TicketView {
                    resolved_at_ms: Some(NOW - 30 * 24 * HOUR),
                    ..ticket(7, TicketState::Closed)
                }),
                ..State::default()
            },
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "condition firing new0",
            ],
        },
        Case {
            name: "auto-resolve: a clear resolves an untouched ticket with the recovery evidence",
            hold: false,
            finding: clear.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(7))),
                ticket: Some(ticket(7, TicketState::New)),
                ..State::default()
            },
            expected: &[
                "condition resolved #7",
                "note #7 evidence",
                "state #7 resolved",
                "note #7 state",
            ],
        },
        Case {
            name: "retired: a check the config dropped cancels its ticket as no longer monitored, never resolved",
            hold: false,
            finding: retired.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(7))),
                ticket: Some(ticket(7, TicketState::New)),
                ..State::default()
            },
            expected: &[
                "condition resolved #7",
                "note #7 evidence",
                "state #7 cancelled",
                "note #7 state",
            ],
        },
        Case {
            name: "retired: a ticket someone works only gets a note",
            hold: false,
            finding: retired.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(7))),
                ticket: Some(staff_owned.clone()),
                ..State::default()
            },
            expected: &["condition resolved #7", "note #7 evidence", "note #7 state"],
        },
        Case {
            name: "retired: the last device of an incident leaving by config closes it as no longer monitored",
            hold: false,
            finding: retired.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(9))),
                attached_incident: Some(AttachedIncident {
                    ticket: incident(9, 3),
                    scope: "site=hq".to_owned(),
                    still_firing: Vec::new(),
                }),
                ..State::default()
            },
            expected: &[
                "condition resolved #9",
                "note #9 evidence",
                "recovered a #9",
                "state #9 cancelled",
                "note #9 state",
            ],
        },
        Case {
            name: "staff-owned: a clear only adds a note",
            hold: false,
            finding: clear.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(7))),
                ticket: Some(staff_owned.clone()),
                ..State::default()
            },
            expected: &["condition resolved #7", "note #7 evidence", "note #7 state"],
        },
        Case {
            name: "flap: the change that tips it over notes once and resolves nothing",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                condition: Some(flapping_history.clone()),
                ticket: Some(ticket(7, TicketState::Resolved)),
                ..State::default()
            },
            expected: &[
                "state #7 new",
                "priority #7 P4",
                "note #7 state",
                "note #7 flapping",
                "condition flapping #7",
            ],
        },
        Case {
            name: "flap: while flapping, a clear leaves the ticket alone",
            hold: false,
            finding: clear.clone(),
            device: a.clone(),
            state: State {
                condition: Some(ConditionView {
                    state: ConditionState::Flapping,
                    ..condition("a", true, Some(7))
                }),
                ticket: Some(ticket(7, TicketState::New)),
                ..State::default()
            },
            expected: &["condition flapping #7"],
        },
        Case {
            name: "fleet: enough devices of one scope in the window form one incident",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                scopes: vec![ScopeView {
                    scope: "site=hq".to_owned(),
                    devices_in_scope: 20,
                    open_incident: None,
                    recent_firing: vec![
                        peer("b", Some(ticket(2, TicketState::New))),
                        peer(
                            "c",
                            Some(TicketView {
                                staff_owned: true,
                                ..ticket(3, TicketState::Assigned)
                            }),
                        ),
                    ],
                }],
                ..State::default()
            },
            expected: &[
                "open incident P3 incident:disk.free_low:site=hq devices=3",
                "note new0 opened",
                "attach b new0",
                "link #2 new0",
                "note #2 merge",
                "state #2 cancelled",
                "attach c new0",
                "link #3 new0",
                "note #3 merge",
                "condition firing new0",
            ],
        },
        Case {
            name: "fleet: too small a share of the scope stays per device",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                scopes: vec![ScopeView {
                    scope: "site=hq".to_owned(),
                    devices_in_scope: 100,
                    open_incident: None,
                    recent_firing: vec![peer("b", None), peer("c", None)],
                }],
                ..State::default()
            },
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "condition firing new0",
            ],
        },
        Case {
            name: "fleet: an open incident grows and its impact with it",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                scopes: vec![ScopeView {
                    scope: "site=hq".to_owned(),
                    devices_in_scope: 200,
                    open_incident: Some(incident(9, 24)),
                    recent_firing: Vec::new(),
                }],
                ..State::default()
            },
            expected: &[
                "add a #9",
                "note #9 device",
                "priority #9 P2",
                "note #9 priority",
                "condition firing #9",
            ],
        },
        Case {
            name: "fleet: when the incident clears, devices still failing are released to the hold",
            hold: false,
            finding: clear.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(9))),
                attached_incident: Some(AttachedIncident {
                    ticket: incident(9, 10),
                    scope: "site=hq".to_owned(),
                    still_firing: vec![peer("b", None), peer("c", None)],
                }),
                ..State::default()
            },
            expected: &[
                "condition resolved #9",
                "note #9 evidence",
                "recovered a #9",
                "state #9 resolved",
                "note #9 state",
                "release b",
                "release c",
            ],
        },
        Case {
            name: "fleet: one device recovering from a large incident is a note",
            hold: false,
            finding: clear.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(9))),
                attached_incident: Some(AttachedIncident {
                    ticket: incident(9, 10),
                    scope: "site=hq".to_owned(),
                    still_firing: vec![peer("b", None), peer("c", None), peer("d", None)],
                }),
                ..State::default()
            },
            expected: &[
                "condition resolved #9",
                "note #9 evidence",
                "recovered a #9",
            ],
        },
        Case {
            name: "fleet: a device failing on another resource too has not recovered yet",
            hold: false,
            finding: clear.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(9))),
                attached_incident: Some(AttachedIncident {
                    ticket: incident(9, 10),
                    scope: "site=hq".to_owned(),
                    still_firing: vec![
                        Peer {
                            resource: "/data".to_owned(),
                            ..peer("a", None)
                        },
                        peer("b", None),
                        peer("c", None),
                        peer("d", None),
                        peer("e", None),
                    ],
                }),
                ..State::default()
            },
            expected: &["condition resolved #9", "note #9 evidence"],
        },
        Case {
            name: "fleet: when the incident clears, the device's own other resources still failing are released too",
            hold: false,
            finding: clear.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, Some(9))),
                attached_incident: Some(AttachedIncident {
                    ticket: incident(9, 10),
                    scope: "site=hq".to_owned(),
                    still_firing: vec![
                        Peer {
                            resource: "/data".to_owned(),
                            ..peer("a", None)
                        },
                        peer("b", None),
                    ],
                }),
                ..State::default()
            },
            expected: &[
                "condition resolved #9",
                "note #9 evidence",
                "state #9 resolved",
                "note #9 state",
                "release a",
                "release b",
            ],
        },
        Case {
            name: "known fixes are listed on a new ticket, recurring fingerprints flagged",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                known_fixes: vec![
                    KnownFix {
                        solution: "Emptied the recycle bin".to_owned(),
                        worked_count: 3,
                    },
                    KnownFix {
                        solution: "Moved the mailbox archive".to_owned(),
                        worked_count: 1,
                    },
                ],
                fingerprint_tickets: 2,
                ..State::default()
            },
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "note new0 known_fix",
                "problem disk.free_low:/",
                "note new0 problem",
                "condition firing new0",
            ],
        },
        Case {
            name: "hold: others of the scope fail the same way, so it waits for an incident",
            hold: true,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                scopes: vec![ScopeView {
                    scope: "site=hq".to_owned(),
                    devices_in_scope: 100,
                    open_incident: None,
                    recent_firing: vec![peer("b", None)],
                }],
                ..State::default()
            },
            expected: &["condition firing -"],
        },
        Case {
            name: "hold passed (the sweep replays it): a ticket of its own",
            hold: false,
            finding: warning.clone(),
            device: a.clone(),
            state: State {
                condition: Some(condition("a", true, None)),
                scopes: vec![ScopeView {
                    scope: "site=hq".to_owned(),
                    devices_in_scope: 100,
                    open_incident: None,
                    recent_firing: vec![peer("b", None)],
                }],
                ..State::default()
            },
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "condition firing new0",
            ],
        },
        Case {
            name: "hold: a lone failing device opens its ticket at once",
            hold: true,
            finding: warning.clone(),
            device: a.clone(),
            state: State::default(),
            expected: &[
                "open device P4 device:a:disk.free_low:/ devices=1",
                "note new0 opened",
                "condition firing new0",
            ],
        },
    ]
}

#[test]
fn findings_open_join_reopen_flap_resolve_and_correlate() {
    let policy = policy();
    for case in observed_cases() {
        let event = Event::Observed {
            device: &case.device,
            finding: &case.finding,
            at_ms: NOW,
            hold: case.hold,
        };
        let actions = decide(&event, &case.state, &policy).expect("observations never fail");
        assert_eq!(summarise(&actions), case.expected, "{}", case.name);
    }
}
