//! A device falling silent or reporting again (its conditions go stale and come back), and a
//! flapping condition settling once it is quiet.

use crate::tickets::policy::Policy;
use crate::tickets::{ConditionState, NoteKind};

use super::conditions::cleared;
use super::{Action, Plan, State, TicketRef, current_ticket};

pub(super) fn device_silent(
    plan: &mut Plan,
    hostname: &str,
    last_seen_ms: i64,
    now: i64,
    state: &State,
) {
    let silent_secs = u64::try_from((now - last_seen_ms) / 1000).unwrap_or(0);
    let note = format!(
        "{hostname} has been silent for {}: its conditions are stale, not resolved",
        humantime::format_duration(std::time::Duration::from_secs(silent_secs))
    );
    move_device_conditions(
        plan,
        state,
        ConditionState::Firing,
        ConditionState::Stale,
        &note,
        now,
    );
}

pub(super) fn device_back(plan: &mut Plan, hostname: &str, now: i64, state: &State) {
    let note = format!("{hostname} is reporting again; its conditions are current");
    move_device_conditions(
        plan,
        state,
        ConditionState::Stale,
        ConditionState::Firing,
        &note,
        now,
    );
}

/// Moves a device's conditions in state `from` to `to`, with one note on each open ticket
/// they feed.
fn move_device_conditions(
    plan: &mut Plan,
    state: &State,
    from: ConditionState,
    to: ConditionState,
    note: &str,
    now: i64,
) {
    let mut noted = Vec::new();
    for (condition, ticket) in &state.device_conditions {
        if condition.state != from {
            continue;
        }
        plan.push(Action::SetConditionState {
            device_id: condition.device_id.clone(),
            check: condition.check.clone(),
            resource: condition.resource.clone(),
            state: to,
            at_ms: now,
        });
        if let Some(ticket) = ticket.as_ref().filter(|t| t.state.is_open())
            && !noted.contains(&ticket.id)
        {
            noted.push(ticket.id);
            plan.note(
                TicketRef::Existing(ticket.id),
                NoteKind::Stale,
                note.to_owned(),
                now,
            );
        }
    }
}

pub(super) fn flap_quiet(
    plan: &mut Plan,
    hostname: &str,
    now: i64,
    state: &State,
    policy: &Policy,
) {
    let Some(condition) = &state.condition else {
        return;
    };
    if condition.state != ConditionState::Flapping {
        return;
    }
    let settled = if condition.observed_firing {
        ConditionState::Firing
    } else {
        ConditionState::Resolved
    };
    plan.push(Action::SetConditionState {
        device_id: condition.device_id.clone(),
        check: condition.check.clone(),
        resource: condition.resource.clone(),
        state: settled,
        at_ms: now,
    });
    let Some((ticket, kind)) = current_ticket(state, condition.ticket_id) else {
        return;
    };
    plan.note(
        TicketRef::Existing(ticket.id),
        NoteKind::Flapping,
        format!(
            "{} {} on {hostname} settled: {} for {}",
            condition.check,
            condition.resource,
            settled.as_str(),
            humantime::format_duration(policy.flap_window)
        ),
        now,
    );
    if settled == ConditionState::Resolved {
        cleared(
            plan,
            hostname,
            &condition.device_id,
            "stayed clear after flapping",
            None,
            now,
            ticket,
            kind,
            state,
            policy,
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::tickets::{ConditionState, TicketState};

    use super::super::testing::{HOUR, NOW, condition, policy, summarise, ticket};
    use super::super::{ConditionView, Event, State, decide};

    #[test]
    fn silence_marks_conditions_stale_and_never_resolves() {
        let policy = policy();
        let state = State {
            device_conditions: vec![
                (
                    condition("a", true, Some(7)),
                    Some(ticket(7, TicketState::New)),
                ),
                (condition("a", false, None), None),
            ],
            ..State::default()
        };
        let silent = decide(
            &Event::DeviceSilent {
                hostname: "pc-a",
                last_seen_ms: NOW - HOUR,
                at_ms: NOW,
            },
            &state,
            &policy,
        )
        .expect("decides");
        assert_eq!(summarise(&silent), ["condition a stale", "note #7 stale"]);
        let stale_state = State {
            device_conditions: vec![(
                ConditionView {
                    state: ConditionState::Stale,
                    ..condition("a", true, Some(7))
                },
                Some(ticket(7, TicketState::New)),
            )],
            ..State::default()
        };
        let back = decide(
            &Event::DeviceBack {
                hostname: "pc-a",
                at_ms: NOW,
            },
            &stale_state,
            &policy,
        )
        .expect("decides");
        assert_eq!(summarise(&back), ["condition a firing", "note #7 stale"]);
    }

    #[test]
    fn a_quiet_flapping_condition_settles_and_resolves_only_if_clear() {
        let policy = policy();
        let flapping = |firing| ConditionView {
            state: ConditionState::Flapping,
            ..condition("a", firing, Some(7))
        };
        let cases: [(bool, &[&str]); 2] = [
            (
                false,
                &[
                    "condition a resolved",
                    "note #7 flapping",
                    "note #7 evidence",
                    "state #7 resolved",
                    "note #7 state",
                ],
            ),
            (true, &["condition a firing", "note #7 flapping"]),
        ];
        for (firing, expected) in cases {
            let state = State {
                condition: Some(flapping(firing)),
                ticket: Some(ticket(7, TicketState::New)),
                ..State::default()
            };
            let actions = decide(
                &Event::FlapQuiet {
                    hostname: "pc-a",
                    at_ms: NOW,
                },
                &state,
                &policy,
            )
            .expect("decides");
            assert_eq!(summarise(&actions), expected, "firing = {firing}");
        }
    }
}
