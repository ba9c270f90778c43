//! Priority and SLA: due times restarted on reopening, a new priority when impact or urgency
//! changes, and breaches escalating one tier each.

use crate::tickets::policy::{Level, Policy, Priority};
use crate::tickets::{NoteKind, TicketState};

use super::{Action, NotifyEvent, Plan, State, TicketRef, TicketView};

/// A reopened ticket's SLA clocks start again from now.
pub(super) fn restart_sla(
    plan: &mut Plan,
    reference: TicketRef,
    ticket: &TicketView,
    now: i64,
    policy: &Policy,
) {
    plan.notify(reference, NotifyEvent::Reopened);
    let target = policy.sla_target(ticket.priority);
    plan.push(Action::SetPriority {
        ticket: reference,
        impact: ticket.impact,
        urgency: ticket.urgency,
        priority: ticket.priority,
        response_due_ms: policy.due_ms(ticket.priority, now, target.response),
        resolution_due_ms: policy.due_ms(ticket.priority, now, target.resolution),
    });
}

pub(super) fn reprioritise(
    plan: &mut Plan,
    reference: TicketRef,
    ticket: &TicketView,
    impact: Level,
    urgency: Level,
    now: i64,
    policy: &Policy,
) {
    let priority = Priority::from_matrix(impact, urgency);
    let target = policy.sla_target(priority);
    // A higher priority may only bring due times forward; a lower one keeps them.
    let (response_due_ms, resolution_due_ms) = if priority < ticket.priority {
        (
            ticket.response_due_ms.min(policy.due_ms(
                priority,
                ticket.opened_at_ms,
                target.response,
            )),
            ticket.resolution_due_ms.min(policy.due_ms(
                priority,
                ticket.opened_at_ms,
                target.resolution,
            )),
        )
    } else {
        (ticket.response_due_ms, ticket.resolution_due_ms)
    };
    plan.push(Action::SetPriority {
        ticket: reference,
        impact,
        urgency,
        priority,
        response_due_ms,
        resolution_due_ms,
    });
    if priority != ticket.priority {
        plan.note(
            reference,
            NoteKind::Priority,
            format!(
                "Priority {} → {priority} (impact {}, urgency {})",
                ticket.priority,
                impact.as_str(),
                urgency.as_str()
            ),
            now,
        );
    }
}

pub(super) fn sla_tick(plan: &mut Plan, now: i64, state: &State) {
    let Some(ticket) = &state.ticket else {
        return;
    };
    if !ticket.state.is_open() || ticket.state == TicketState::Pending {
        return;
    }
    let reference = TicketRef::Existing(ticket.id);
    let mut tier = ticket.tier;
    let breaches = [
        (
            true,
            ticket.first_response_at_ms.is_none()
                && !ticket.response_breached
                && now > ticket.response_due_ms,
            ticket.response_due_ms,
        ),
        (
            false,
            !ticket.resolution_breached && now > ticket.resolution_due_ms,
            ticket.resolution_due_ms,
        ),
    ];
    for (response, breached, due_ms) in breaches {
        if !breached {
            continue;
        }
        let what = if response { "response" } else { "resolution" };
        plan.push(Action::SlaBreached {
            ticket: reference,
            response,
        });
        let late_secs = u64::try_from((now - due_ms) / 1000).unwrap_or(0);
        let late = humantime::format_duration(std::time::Duration::from_secs(late_secs));
        if tier < 3 {
            tier += 1;
            plan.push(Action::SetTier {
                ticket: reference,
                tier,
            });
            plan.note(
                reference,
                NoteKind::Escalation,
                format!(
                    "Escalated L{} → L{tier}: the {} {what} target was breached {late} ago",
                    tier - 1,
                    ticket.priority
                ),
                now,
            );
        } else {
            plan.note(
                reference,
                NoteKind::Sla,
                format!(
                    "The {} {what} target was breached {late} ago (already at L3)",
                    ticket.priority
                ),
                now,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tickets::TicketState;

    use super::super::testing::{HOUR, NOW, policy, summarise, ticket};
    use super::super::{Event, State, TicketView, decide};

    #[test]
    fn sla_breaches_escalate_one_tier_each_and_pending_pauses_them() {
        let policy = policy();
        let cases: [(&str, TicketView, &[&str]); 5] = [
            ("on time", ticket(7, TicketState::New), &[]),
            (
                "response breached",
                TicketView {
                    response_due_ms: NOW - 1,
                    ..ticket(7, TicketState::New)
                },
                &["breached #7 response", "tier #7 L2", "note #7 escalation"],
            ),
            (
                "both breached",
                TicketView {
                    response_due_ms: NOW - 1,
                    resolution_due_ms: NOW - 1,
                    ..ticket(7, TicketState::New)
                },
                &[
                    "breached #7 response",
                    "tier #7 L2",
                    "note #7 escalation",
                    "breached #7 resolution",
                    "tier #7 L3",
                    "note #7 escalation",
                ],
            ),
            (
                "already noted",
                TicketView {
                    response_due_ms: NOW - 1,
                    response_breached: true,
                    tier: 2,
                    ..ticket(7, TicketState::New)
                },
                &[],
            ),
            (
                "paused while pending",
                TicketView {
                    response_due_ms: NOW - 1,
                    pending_since_ms: Some(NOW - HOUR),
                    ..ticket(7, TicketState::Pending)
                },
                &[],
            ),
        ];
        for (name, ticket, expected) in cases {
            let state = State {
                ticket: Some(ticket),
                ..State::default()
            };
            let actions = decide(&Event::SlaTick { at_ms: NOW }, &state, &policy).expect("decides");
            assert_eq!(summarise(&actions), expected, "{name}");
        }
    }
}
