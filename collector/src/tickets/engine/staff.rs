//! Staff actions on a ticket: assign, comment, reply, the requester's answer, start work,
//! pending, escalate, resolve, reopen, close and cancel; refused when the ticket's state forbids.

use crate::tickets::policy::{Level, Policy};
use crate::tickets::{NoteKind, TicketKind, TicketState};

use super::incidents::release_incident_devices;
use super::sla::{reprioritise, restart_sla};
use super::{Action, NotifyEvent, Plan, Refusal, StaffAction, State, TicketRef, TicketView};

pub(super) fn staff(
    plan: &mut Plan,
    actor: &str,
    action: &StaffAction,
    now: i64,
    state: &State,
    policy: &Policy,
) -> Result<(), Refusal> {
    let ticket = state.ticket.as_ref().ok_or(Refusal::NoTicket)?;
    let reference = TicketRef::Existing(ticket.id);
    let open = |action: &'static str| {
        if ticket.state.is_open() {
            Ok(())
        } else {
            Err(Refusal::NotOpen {
                id: ticket.id,
                state: ticket.state.as_str(),
                action,
            })
        }
    };
    let note = |plan: &mut Plan, kind: NoteKind, text: String| {
        plan.push(Action::Note {
            ticket: reference,
            kind,
            actor: Some(actor.to_owned()),
            text,
            data_json: None,
            at_ms: now,
        });
    };
    // Leaving pending restarts the SLA clocks where they stopped.
    let resume = |plan: &mut Plan| {
        if let Some(since) = ticket.pending_since_ms {
            plan.push(Action::Pending {
                ticket: reference,
                since_ms: None,
                shift_ms: (now - since).max(0),
            });
        }
    };
    let set_state = |plan: &mut Plan, state: TicketState, resolution: Option<String>| {
        plan.push(Action::SetState {
            ticket: reference,
            state,
            resolution,
            at_ms: now,
        });
    };
    match action {
        StaffAction::Assign { to } => {
            open("assigning")?;
            let to = to.trim();
            if to.is_empty() {
                return Err(Refusal::Empty("the assignee"));
            }
            plan.push(Action::Assign {
                ticket: reference,
                assignee: to.to_owned(),
            });
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: true,
            });
            if matches!(ticket.state, TicketState::New | TicketState::Pending) {
                resume(plan);
                set_state(plan, TicketState::Assigned, None);
            }
            note(
                plan,
                NoteKind::Assignment,
                format!("Assigned to {to} by {actor}"),
            );
        }
        StaffAction::Comment { text } => {
            if text.trim().is_empty() {
                return Err(Refusal::Empty("the comment"));
            }
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: false,
            });
            note(plan, NoteKind::Comment, text.trim().to_owned());
        }
        StaffAction::Reply { text } => {
            if text.trim().is_empty() {
                return Err(Refusal::Empty("the reply"));
            }
            if ticket.state.is_open() {
                plan.push(Action::Touch {
                    ticket: reference,
                    at_ms: now,
                    take_over: false,
                });
            }
            note(plan, NoteKind::Reply, text.trim().to_owned());
            plan.notify(reference, NotifyEvent::Replied);
        }
        StaffAction::RequesterAnswer { fixed, words } => {
            let words = words.trim();
            let said = if words.is_empty() {
                String::new()
            } else {
                format!(": {words}")
            };
            // Staff read the sentence; the requester's page shows their answer and words in
            // their own language, from the data.
            let answer_data = serde_json::json!({ "fixed": fixed, "words": words }).to_string();
            let note = |plan: &mut Plan, kind: NoteKind, text: String| {
                plan.push(Action::Note {
                    ticket: reference,
                    kind,
                    actor: Some(actor.to_owned()),
                    text,
                    data_json: Some(answer_data.clone()),
                    at_ms: now,
                });
            };
            match (fixed, ticket.state) {
                (true, TicketState::Resolved) => {
                    set_state(plan, TicketState::Closed, None);
                    note(
                        plan,
                        NoteKind::RequesterAnswer,
                        format!("{actor} confirmed it is fixed{said}"),
                    );
                }
                (false, TicketState::Resolved) => {
                    set_state(
                        plan,
                        if ticket.assignee.is_some() {
                            TicketState::Assigned
                        } else {
                            TicketState::New
                        },
                        None,
                    );
                    restart_sla(plan, reference, ticket, now, policy);
                    note(
                        plan,
                        NoteKind::RequesterAnswer,
                        format!("{actor} says it is still broken; reopened{said}"),
                    );
                }
                (_, state) if state.is_open() => {
                    let answer = if *fixed {
                        "says it works now"
                    } else {
                        "says it is still broken"
                    };
                    note(
                        plan,
                        NoteKind::RequesterAnswer,
                        format!("{actor} {answer}{said}"),
                    );
                }
                (_, state) => {
                    return Err(Refusal::NotResolved {
                        id: ticket.id,
                        state: state.as_str(),
                        action: "answered",
                    });
                }
            }
        }
        StaffAction::StartWork => {
            open("starting work")?;
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: true,
            });
            if ticket.assignee.is_none() {
                plan.push(Action::Assign {
                    ticket: reference,
                    assignee: actor.to_owned(),
                });
            }
            resume(plan);
            set_state(plan, TicketState::InProgress, None);
            note(plan, NoteKind::State, format!("Work started by {actor}"));
        }
        StaffAction::Pending { reason } => {
            open("setting pending")?;
            if ticket.state != TicketState::Pending {
                plan.push(Action::Pending {
                    ticket: reference,
                    since_ms: Some(now),
                    shift_ms: 0,
                });
                set_state(plan, TicketState::Pending, None);
            }
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: true,
            });
            note(
                plan,
                NoteKind::State,
                format!("Pending{}; SLA clocks paused", because(reason)),
            );
        }
        StaffAction::Escalate { reason } => {
            open("escalating")?;
            if ticket.tier >= 3 {
                return Err(Refusal::TopTier(ticket.id));
            }
            plan.push(Action::SetTier {
                ticket: reference,
                tier: ticket.tier + 1,
            });
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: false,
            });
            note(
                plan,
                NoteKind::Escalation,
                format!(
                    "Escalated L{} → L{} by {actor}{}",
                    ticket.tier,
                    ticket.tier + 1,
                    because(reason)
                ),
            );
        }
        StaffAction::Resolve { solution } => {
            open("resolving")?;
            let solution = solution.trim();
            // What fixed it is what the next technician reads; "resolved" alone helps no one.
            if solution.is_empty() {
                return Err(Refusal::Empty("the solution (what fixed it)"));
            }
            resume(plan);
            // Resolving answers the ticket but does not own it: if it comes back, it may
            // resolve itself again.
            plan.push(Action::Touch {
                ticket: reference,
                at_ms: now,
                take_over: false,
            });
            set_state(plan, TicketState::Resolved, Some(solution.to_owned()));
            release_incident_devices(plan, ticket, state, now);
            plan.push(Action::RecordSolution {
                check: ticket.check.clone(),
                fingerprint: ticket.fingerprint.clone(),
                solution: solution.to_owned(),
                ticket: reference,
                at_ms: now,
            });
            note(
                plan,
                NoteKind::State,
                format!("Resolved by {actor}: {solution}"),
            );
        }
        StaffAction::Reopen => {
            if ticket.state != TicketState::Resolved {
                return Err(Refusal::NotResolved {
                    id: ticket.id,
                    state: ticket.state.as_str(),
                    action: "reopened",
                });
            }
            set_state(
                plan,
                if ticket.assignee.is_some() {
                    TicketState::Assigned
                } else {
                    TicketState::New
                },
                None,
            );
            restart_sla(plan, reference, ticket, now, policy);
            note(plan, NoteKind::State, format!("Reopened by {actor}"));
        }
        StaffAction::Close => {
            if ticket.state != TicketState::Resolved {
                return Err(Refusal::NotResolved {
                    id: ticket.id,
                    state: ticket.state.as_str(),
                    action: "closed",
                });
            }
            set_state(plan, TicketState::Closed, None);
            note(plan, NoteKind::State, format!("Closed by {actor}"));
        }
        StaffAction::Cancel => {
            open("cancelling")?;
            resume(plan);
            set_state(
                plan,
                TicketState::Cancelled,
                Some(format!("cancelled by {actor}")),
            );
            release_incident_devices(plan, ticket, state, now);
            note(plan, NoteKind::State, format!("Cancelled by {actor}"));
        }
        StaffAction::Merge { into } => {
            open("merging")?;
            merge(plan, actor, ticket, *into, now, state, policy)?;
        }
    }
    Ok(())
}

/// Folds `ticket` into ticket `into`: what fed it (conditions, devices, the requester's
/// reports) now feeds the other, which takes the more urgent priority of the two; `ticket`
/// is cancelled as merged (it never counts as fixed) and both name each other.
fn merge(
    plan: &mut Plan,
    actor: &str,
    ticket: &TicketView,
    into: i64,
    now: i64,
    state: &State,
    policy: &Policy,
) -> Result<(), Refusal> {
    if into == ticket.id {
        return Err(Refusal::SameTicket(into));
    }
    let target = state
        .merge_into
        .as_ref()
        .filter(|target| target.id == into)
        .ok_or(Refusal::NoMergeTarget(into))?;
    if !target.state.is_open() {
        return Err(Refusal::NotOpen {
            id: target.id,
            state: target.state.as_str(),
            action: "merging into it",
        });
    }
    if ticket.kind == TicketKind::Incident && target.kind != TicketKind::Incident {
        return Err(Refusal::IncidentIntoDevice {
            id: ticket.id,
            into,
        });
    }
    let source = TicketRef::Existing(ticket.id);
    let reference = TicketRef::Existing(target.id);
    let mut devices: Vec<&str> = Vec::new();
    for condition in &state.feeding {
        plan.push(Action::AttachCondition {
            device_id: condition.device_id.clone(),
            check: condition.check.clone(),
            resource: condition.resource.clone(),
            ticket: reference,
        });
        // A device joins the ticket's list while it still fails.
        if condition.observed_firing && !devices.contains(&condition.device_id.as_str()) {
            devices.push(&condition.device_id);
        }
    }
    for device_id in &devices {
        plan.push(Action::AddDevice {
            ticket: reference,
            device_id: (*device_id).to_owned(),
            at_ms: now,
        });
    }
    plan.push(Action::MoveReports {
        from: source,
        to: reference,
    });
    plan.push(Action::Link {
        ticket: source,
        linked: reference,
    });
    if target.kind == TicketKind::Incident {
        plan.push(Action::LinkIncident {
            ticket: source,
            incident: reference,
        });
    }
    if ticket.priority < target.priority {
        let impact = Level::from_rank(ticket.impact.rank().min(target.impact.rank()));
        let urgency = Level::from_rank(ticket.urgency.rank().min(target.urgency.rank()));
        reprioritise(plan, reference, target, impact, urgency, now, policy);
    }
    // A device ticket now fed by several conditions would resolve itself when the first
    // clears: a person shaped it, so a person resolves it — the one who merged, unless it
    // has someone (an assignee keeps it owned through a resolve and reopen). An incident
    // still resolves itself once its devices recover.
    let device_ticket = target.kind != TicketKind::Incident;
    plan.push(Action::Touch {
        ticket: reference,
        at_ms: now,
        take_over: device_ticket,
    });
    if device_ticket && target.assignee.is_none() {
        plan.push(Action::Assign {
            ticket: reference,
            assignee: actor.to_owned(),
        });
        if target.state == TicketState::New {
            plan.push(Action::SetState {
                ticket: reference,
                state: TicketState::Assigned,
                resolution: None,
                at_ms: now,
            });
        }
    }
    if let Some(since) = ticket.pending_since_ms {
        plan.push(Action::Pending {
            ticket: source,
            since_ms: None,
            shift_ms: (now - since).max(0),
        });
    }
    plan.push(Action::SetState {
        ticket: source,
        state: TicketState::Cancelled,
        resolution: Some(format!("merged into #{into}")),
        at_ms: now,
    });
    plan.push(Action::Note {
        ticket: source,
        kind: NoteKind::Merge,
        actor: Some(actor.to_owned()),
        text: format!("Merged into #{into} by {actor}"),
        data_json: Some(serde_json::json!({ "merged_into": into }).to_string()),
        at_ms: now,
    });
    plan.push(Action::Note {
        ticket: reference,
        kind: NoteKind::Merge,
        actor: Some(actor.to_owned()),
        text: format!(
            "#{} merged into this ticket by {actor} ({} condition(s) of {} device(s) moved here)",
            ticket.id,
            state.feeding.len(),
            devices.len()
        ),
        data_json: Some(serde_json::json!({ "merged_from": ticket.id }).to_string()),
        at_ms: now,
    });
    plan.notify(reference, NotifyEvent::Updated);
    Ok(())
}

/// ": the reason", or nothing when none was given.
fn because(reason: &str) -> String {
    match reason.trim() {
        "" => String::new(),
        reason => format!(": {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::tickets::TicketState;

    use super::super::testing::{HOUR, NOW, policy, summarise, ticket};
    use super::super::{Event, Refusal, StaffAction, State, TicketView, decide};

    #[test]
    fn staff_actions_move_tickets_and_record_solutions() {
        let policy = policy();
        let resolved = ticket(7, TicketState::Resolved);
        let pending = TicketView {
            pending_since_ms: Some(NOW - HOUR),
            ..ticket(7, TicketState::Pending)
        };
        let top = TicketView {
            tier: 3,
            ..ticket(7, TicketState::New)
        };
        type Expected = Result<&'static [&'static str], Refusal>;
        let cases: Vec<(StaffAction, TicketView, Expected)> = vec![
            (
                StaffAction::Assign {
                    to: "alice".to_owned(),
                },
                ticket(7, TicketState::New),
                Ok(&[
                    "assign #7 alice",
                    "touch #7 true",
                    "state #7 assigned",
                    "note #7 assignment",
                ]),
            ),
            (
                StaffAction::Escalate {
                    reason: "needs a desk visit".to_owned(),
                },
                ticket(7, TicketState::New),
                Ok(&["tier #7 L2", "touch #7 false", "note #7 escalation"]),
            ),
            (
                StaffAction::Escalate {
                    reason: "again".to_owned(),
                },
                top,
                Err(Refusal::TopTier(7)),
            ),
            (
                StaffAction::Resolve {
                    solution: "Emptied the recycle bin".to_owned(),
                },
                ticket(7, TicketState::InProgress),
                Ok(&[
                    "touch #7 false",
                    "state #7 resolved",
                    "solution disk.free_low:/ Emptied the recycle bin",
                    "note #7 state",
                ]),
            ),
            (
                StaffAction::Resolve {
                    solution: "  ".to_owned(),
                },
                ticket(7, TicketState::InProgress),
                Err(Refusal::Empty("the solution (what fixed it)")),
            ),
            (
                StaffAction::Resolve {
                    solution: "x".to_owned(),
                },
                resolved.clone(),
                Err(Refusal::NotOpen {
                    id: 7,
                    state: "resolved",
                    action: "resolving",
                }),
            ),
            (
                StaffAction::Pending {
                    reason: "waiting for the user".to_owned(),
                },
                ticket(7, TicketState::Assigned),
                Ok(&[
                    "pending #7 true",
                    "state #7 pending",
                    "touch #7 true",
                    "note #7 state",
                ]),
            ),
            (
                StaffAction::StartWork,
                pending,
                Ok(&[
                    "touch #7 true",
                    "assign #7 bob",
                    "pending #7 false",
                    "state #7 in_progress",
                    "note #7 state",
                ]),
            ),
            (
                StaffAction::Reply {
                    text: "Restart Outlook and tell me if it helps".to_owned(),
                },
                ticket(7, TicketState::Assigned),
                Ok(&["touch #7 false", "note #7 reply"]),
            ),
            (
                StaffAction::Reply {
                    text: " ".to_owned(),
                },
                ticket(7, TicketState::Assigned),
                Err(Refusal::Empty("the reply")),
            ),
            (
                StaffAction::RequesterAnswer {
                    fixed: true,
                    words: String::new(),
                },
                resolved.clone(),
                Ok(&["state #7 closed", "note #7 requester_answer"]),
            ),
            (
                StaffAction::RequesterAnswer {
                    fixed: false,
                    words: "Outlook still closes".to_owned(),
                },
                resolved.clone(),
                Ok(&["state #7 new", "priority #7 P4", "note #7 requester_answer"]),
            ),
            (
                StaffAction::RequesterAnswer {
                    fixed: false,
                    words: "still".to_owned(),
                },
                ticket(7, TicketState::InProgress),
                Ok(&["note #7 requester_answer"]),
            ),
            (
                StaffAction::Close,
                resolved.clone(),
                Ok(&["state #7 closed", "note #7 state"]),
            ),
            (
                StaffAction::Comment {
                    text: "  ".to_owned(),
                },
                resolved,
                Err(Refusal::Empty("the comment")),
            ),
        ];
        for (action, ticket, expected) in cases {
            let state = State {
                ticket: Some(ticket),
                ..State::default()
            };
            let outcome = decide(
                &Event::Staff {
                    actor: "bob",
                    action: &action,
                    at_ms: NOW,
                },
                &state,
                &policy,
            );
            let outcome = outcome.map(|actions| summarise(&actions));
            let expected = expected.map(|words| words.iter().map(|w| (*w).to_owned()).collect());
            assert_eq!(outcome, expected, "{action:?}");
        }
    }

    #[test]
    fn merging_moves_what_fed_a_ticket_and_cancels_it() {
        use super::super::testing::{condition, incident};
        use crate::tickets::policy::{Level, Priority};
        let policy = policy();
        let urgent = TicketView {
            urgency: Level::High,
            priority: Priority::from_matrix(Level::Low, Level::High),
            ..ticket(7, TicketState::Pending)
        };
        let pending_urgent = TicketView {
            pending_since_ms: Some(NOW - HOUR),
            ..urgent
        };
        let two_conditions = vec![
            condition("a", true, Some(7)),
            condition("b", true, Some(7)),
            condition("b", false, Some(7)),
        ];
        type Expected = Result<&'static [&'static str], Refusal>;
        let cases: Vec<(TicketView, Option<TicketView>, i64, Expected)> = vec![
            // A device ticket into an incident: its conditions and devices move, the incident
            // keeps resolving itself, the merged ticket is cancelled.
            (
                ticket(7, TicketState::New),
                Some(incident(9, 4)),
                9,
                Ok(&[
                    "attach a #9",
                    "attach b #9",
                    "attach b #9",
                    "add a #9",
                    "add b #9",
                    "reports #7 #9",
                    "related #7 #9",
                    "link #7 #9",
                    "touch #9 false",
                    "state #7 cancelled",
                    "note #7 merge",
                    "note #9 merge",
                ]),
            ),
            // Into another device ticket: the more urgent priority wins, a person owns it,
            // pending stops on the merged one.
            (
                pending_urgent,
                Some(ticket(9, TicketState::Assigned)),
                9,
                Ok(&[
                    "attach a #9",
                    "attach b #9",
                    "attach b #9",
                    "add a #9",
                    "add b #9",
                    "reports #7 #9",
                    "related #7 #9",
                    "priority #9 P3",
                    "note #9 priority",
                    "touch #9 true",
                    "assign #9 bob",
                    "pending #7 false",
                    "state #7 cancelled",
                    "note #7 merge",
                    "note #9 merge",
                ]),
            ),
            (
                ticket(7, TicketState::New),
                Some(ticket(7, TicketState::New)),
                7,
                Err(Refusal::SameTicket(7)),
            ),
            (
                ticket(7, TicketState::New),
                None,
                9,
                Err(Refusal::NoMergeTarget(9)),
            ),
            (
                ticket(7, TicketState::New),
                Some(ticket(9, TicketState::Resolved)),
                9,
                Err(Refusal::NotOpen {
                    id: 9,
                    state: "resolved",
                    action: "merging into it",
                }),
            ),
            (
                ticket(7, TicketState::Closed),
                Some(ticket(9, TicketState::New)),
                9,
                Err(Refusal::NotOpen {
                    id: 7,
                    state: "closed",
                    action: "merging",
                }),
            ),
            (
                incident(7, 5),
                Some(ticket(9, TicketState::New)),
                9,
                Err(Refusal::IncidentIntoDevice { id: 7, into: 9 }),
            ),
        ];
        for (ticket, target, into, expected) in cases {
            let state = State {
                ticket: Some(ticket),
                merge_into: target,
                feeding: two_conditions.clone(),
                ..State::default()
            };
            let action = StaffAction::Merge { into };
            let outcome = decide(
                &Event::Staff {
                    actor: "bob",
                    action: &action,
                    at_ms: NOW,
                },
                &state,
                &policy,
            )
            .map(|actions| summarise(&actions));
            let expected = expected.map(|words| words.iter().map(|w| (*w).to_owned()).collect());
            assert_eq!(outcome, expected, "into {into}");
        }
    }
}
