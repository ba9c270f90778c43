//! Known fixes and problem candidates: what worked before for the same fingerprint, listed on a
//! new ticket, and a fingerprint that keeps coming back flagged as a problem.

use crate::tickets::NoteKind;
use crate::tickets::policy::Policy;

use super::{Action, Plan, State, TicketRef};

/// Known fixes and problem candidates for a newly opened ticket.
pub(super) fn knowledge(
    plan: &mut Plan,
    reference: TicketRef,
    check: &str,
    fingerprint: &str,
    now: i64,
    state: &State,
    policy: &Policy,
) {
    if !state.known_fixes.is_empty() {
        let listed: Vec<String> = state
            .known_fixes
            .iter()
            .enumerate()
            .map(|(index, fix)| {
                format!(
                    "{}. {} (worked {} time{})",
                    index + 1,
                    fix.solution,
                    fix.worked_count,
                    if fix.worked_count == 1 { "" } else { "s" }
                )
            })
            .collect();
        plan.note(
            reference,
            NoteKind::KnownFix,
            format!("Known fixes for {fingerprint}: {}", listed.join("; ")),
            now,
        );
    }
    let tickets = state.fingerprint_tickets + 1;
    if tickets >= policy.problem_after {
        if !state.problem_flagged {
            plan.push(Action::FlagProblem {
                check: check.to_owned(),
                fingerprint: fingerprint.to_owned(),
                at_ms: now,
            });
        }
        plan.note(
            reference,
            NoteKind::Problem,
            format!(
                "Recurring: ticket {tickets} for {fingerprint} within {}; a problem candidate",
                humantime::format_duration(policy.problem_window)
            ),
            now,
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Severity;
    use crate::tickets::{KnownFix, NoteKind};

    use super::super::testing::{NOW, device, finding, policy};
    use super::super::{Action, Event, State, decide};

    #[test]
    fn known_fixes_are_listed_in_the_order_given_with_their_counts() {
        let state = State {
            known_fixes: vec![
                KnownFix {
                    solution: "Emptied the recycle bin".to_owned(),
                    worked_count: 3,
                },
                KnownFix {
                    solution: "Moved the archive".to_owned(),
                    worked_count: 1,
                },
            ],
            ..State::default()
        };
        let (a, warning) = (device("a"), finding("disk.free_low", Severity::Warning));
        let event = Event::Observed {
            device: &a,
            finding: &warning,
            at_ms: NOW,
            hold: true,
        };
        let actions = decide(&event, &state, &policy()).expect("decides");
        let text = actions
            .iter()
            .find_map(|action| match action {
                Action::Note {
                    kind: NoteKind::KnownFix,
                    text,
                    ..
                } => Some(text.clone()),
                _ => None,
            })
            .expect("a known-fix note");
        assert_eq!(
            text,
            "Known fixes for disk.free_low:/: 1. Emptied the recycle bin (worked 3 times); 2. Moved the archive (worked 1 time)"
        );
    }
}
