//! A finding observed on a condition: its state (firing, resolved, flapping) and the ticket it
//! feeds: an open incident it joins or forms, the hold, its own ticket joined, reopened or
//! opened, and resolved when it clears.

use crate::model::{Finding, Severity};
use crate::tickets::policy::{Level, Policy, Priority};
use crate::tickets::{
    ConditionState, NoteKind, TicketKind, TicketState, device_ticket_key, fingerprint,
};

use super::incidents::{distinct_devices, open_incident};
use super::knowledge::knowledge;
use super::sla::{reprioritise, restart_sla};
use super::{
    Action, ConditionView, DeviceFacts, NewTicket, Plan, State, TicketRef, TicketView,
    current_ticket, duration_ms, save,
};

pub(super) fn observed(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    hold: bool,
    state: &State,
    policy: &Policy,
) {
    let firing = finding.severity != Severity::Ok;
    let previous = state.condition.as_ref();
    let was_firing = previous.is_some_and(|c| c.observed_firing);
    let changed = was_firing != firing;
    let flap_horizon = now - duration_ms(policy.flap_window);
    let mut changes_ms: Vec<i64> = previous
        .map(|c| c.changes_ms.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|at| *at >= flap_horizon)
        .collect();
    if changed && previous.is_some() {
        changes_ms.push(now);
    }
    let was_flapping = previous.is_some_and(|c| c.state == ConditionState::Flapping);
    let flapping = was_flapping || changes_ms.len() >= policy.flap_changes as usize;
    let condition_state = match (flapping, firing) {
        (true, _) => ConditionState::Flapping,
        (false, true) => ConditionState::Firing,
        (false, false) => ConditionState::Resolved,
    };
    let since_ms = match previous {
        Some(previous) if previous.state == condition_state => previous.since_ms,
        _ => now,
    };
    let condition = ConditionView {
        device_id: device.id.clone(),
        check: finding.check.clone(),
        resource: finding.resource.clone(),
        state: condition_state,
        observed_firing: firing,
        severity: finding.severity,
        since_ms,
        changes_ms,
        ticket_id: previous.and_then(|c| c.ticket_id),
    };
    let current = current_ticket(state, condition.ticket_id);
    let mut ticket = condition.ticket_id.map(TicketRef::Existing);

    if was_flapping {
        // Flapping holds the ticket as it is; the settling sweep decides once it is quiet.
        save(plan, condition, ticket, finding);
        return;
    }
    if flapping {
        // The change that tips a condition into flapping: make sure one ticket is open for it,
        // and say so once.
        let open_ticket = match current {
            Some((current, _)) => Some(TicketRef::Existing(current.id)),
            None if firing && finding.severity >= policy.min_severity => {
                firing_path(plan, device, finding, now, hold, state, policy)
            }
            None => None,
        };
        // A firing condition feeds the ticket it now has, or none while it is held (so the
        // sweep can find it); a clear keeps its link for the record.
        if firing {
            ticket = open_ticket;
        }
        if let Some(ticket) = open_ticket {
            plan.note(
                ticket,
                NoteKind::Flapping,
                format!(
                    "{} {} on {} is flapping: {} changes within {}. The ticket stays open, without resolve/reopen churn, until it settles.",
                    finding.check,
                    finding.resource,
                    device.hostname,
                    condition.changes_ms.len(),
                    humantime::format_duration(policy.flap_window)
                ),
                now,
            );
        }
        save(plan, condition, ticket, finding);
        return;
    }
    if firing {
        match current {
            Some((ticket, kind)) => {
                join(plan, device, finding, now, ticket, kind, previous, policy);
            }
            None if finding.severity >= policy.min_severity => {
                ticket = firing_path(plan, device, finding, now, hold, state, policy);
            }
            None => {}
        }
        save(plan, condition, ticket, finding);
    } else {
        save(plan, condition, ticket, finding);
        if changed && let Some((ticket, kind)) = current {
            cleared(
                plan,
                &device.hostname,
                &device.id,
                finding.summary.as_str(),
                Some(finding.evidence_json.as_str()),
                now,
                ticket,
                kind,
                state,
                policy,
            );
        }
    }
}

/// A firing condition whose ticket is already open: it joins, noting what changed.
#[allow(clippy::too_many_arguments)]
fn join(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    ticket: &TicketView,
    kind: TicketKind,
    previous: Option<&ConditionView>,
    policy: &Policy,
) {
    let reference = TicketRef::Existing(ticket.id);
    let previous_severity = previous.map(|c| c.severity);
    let was_firing = previous.is_some_and(|c| c.observed_firing);
    if !was_firing {
        plan.note_with_data(
            reference,
            NoteKind::Evidence,
            format!("{}: fired again: {}", device.hostname, finding.summary),
            &finding.evidence_json,
            now,
        );
        if kind == TicketKind::Incident {
            plan.push(Action::AddDevice {
                ticket: reference,
                device_id: device.id.clone(),
                at_ms: now,
            });
        }
    } else if previous_severity != Some(finding.severity) {
        plan.note_with_data(
            reference,
            NoteKind::Evidence,
            format!(
                "{}: severity {} → {}: {}",
                device.hostname,
                previous_severity.map_or("none", Severity::as_str),
                finding.severity.as_str(),
                finding.summary
            ),
            &finding.evidence_json,
            now,
        );
        let urgency = policy.urgency(&finding.check, finding.severity);
        // A ticket a person took over is theirs to calm down: a finding only raises it (a
        // merged ticket has other conditions still as bad).
        let lowers = urgency.rank() > ticket.urgency.rank();
        if kind == TicketKind::Device
            && urgency != ticket.urgency
            && !(ticket.staff_owned && lowers)
        {
            reprioritise(plan, reference, ticket, ticket.impact, urgency, now, policy);
        }
    }
}

/// A firing condition with no open ticket: it joins an incident, forms one, reopens its last
/// ticket or opens a new one. Returns the ticket it now feeds.
fn firing_path(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    hold: bool,
    state: &State,
    policy: &Policy,
) -> Option<TicketRef> {
    // An open incident of this check in one of the device's scopes takes it in.
    for scope in &state.scopes {
        if let Some(incident) = scope.open_incident.as_ref().filter(|t| t.state.is_open()) {
            let reference = TicketRef::Existing(incident.id);
            plan.push(Action::AddDevice {
                ticket: reference,
                device_id: device.id.clone(),
                at_ms: now,
            });
            let devices = incident.device_count + 1;
            plan.note_with_data(
                reference,
                NoteKind::Device,
                format!(
                    "{} joined ({devices} devices): {}",
                    device.hostname, finding.summary
                ),
                &finding.evidence_json,
                now,
            );
            let impact = policy.impact(true, devices, incident.vip || device.vip);
            let urgency = policy
                .urgency(&finding.check, finding.severity)
                .min(incident.urgency);
            if impact != incident.impact || urgency != incident.urgency {
                reprioritise(plan, reference, incident, impact, urgency, now, policy);
            }
            return Some(reference);
        }
    }
    // Enough devices of one scope failing the same way within the window: one incident.
    for scope in &state.scopes {
        // Devices, not conditions: one device failing on two mounts is one device.
        let affected = u32::try_from(distinct_devices(&scope.recent_firing, &device.id).len())
            .unwrap_or(u32::MAX);
        let known = scope.devices_in_scope.max(affected);
        let share_pct = f64::from(affected) * 100.0 / f64::from(known);
        if affected < policy.correlation.min_devices || share_pct < policy.correlation.min_share_pct
        {
            continue;
        }
        return Some(open_incident(
            plan, device, finding, now, scope, affected, state, policy,
        ));
    }
    // Others in a scope already fail the same way: an incident may be forming. Wait for it
    // (the sweep opens a ticket of its own if none forms within the hold) instead of opening
    // a ticket that would be merged away moments later.
    if hold
        && !policy.correlation.hold.is_zero()
        && state
            .scopes
            .iter()
            .any(|scope| !scope.recent_firing.is_empty())
    {
        return None;
    }
    // A device ticket: reopen the last one if it resolved recently, else a new one.
    let key = device_ticket_key(&device.id, &finding.check, &finding.resource);
    if let Some(ticket) = &state.ticket {
        let recently_resolved = ticket.state == TicketState::Resolved
            && ticket
                .resolved_at_ms
                .is_some_and(|at| now - at <= duration_ms(policy.reopen_window));
        if ticket.state.is_open() || recently_resolved {
            let reference = TicketRef::Existing(ticket.id);
            if recently_resolved {
                let state_now = if ticket.assignee.is_some() {
                    TicketState::Assigned
                } else {
                    TicketState::New
                };
                plan.push(Action::SetState {
                    ticket: reference,
                    state: state_now,
                    resolution: None,
                    at_ms: now,
                });
                restart_sla(plan, reference, ticket, now, policy);
                let after = ticket.resolved_at_ms.map_or(0, |at| now - at);
                plan.note_with_data(
                    reference,
                    NoteKind::State,
                    format!(
                        "Reopened: fired again {} after it resolved: {}",
                        humantime::format_duration(std::time::Duration::from_secs(
                            u64::try_from(after / 1000).unwrap_or(0)
                        )),
                        finding.summary
                    ),
                    &finding.evidence_json,
                    now,
                );
            } else {
                plan.note_with_data(
                    reference,
                    NoteKind::Evidence,
                    format!("{}: {}", device.hostname, finding.summary),
                    &finding.evidence_json,
                    now,
                );
            }
            return Some(reference);
        }
    }
    let impact = policy.impact(false, 1, device.vip);
    let urgency = policy.urgency(&finding.check, finding.severity);
    let priority = Priority::from_matrix(impact, urgency);
    let fingerprint = fingerprint(&finding.check, &finding.resource);
    let reference = plan.open(one_device_ticket(
        TicketKind::Device,
        key,
        crate::tickets::titles::device_title(
            &finding.check,
            &finding.resource,
            &finding.summary,
            &finding.evidence_json,
        ),
        // The agent's own words (an OS error, a path) for technicians: the title has plainer ones.
        finding.summary.clone(),
        device,
        finding,
        fingerprint.clone(),
        (impact, urgency),
        now,
        policy,
    ));
    plan.note_with_data(
        reference,
        NoteKind::Opened,
        format!(
            "Opened: {} on {}: {} ({priority}: impact {}, urgency {})",
            finding.check,
            device.hostname,
            finding.summary,
            impact.as_str(),
            urgency.as_str()
        ),
        &finding.evidence_json,
        now,
    );
    // Closed by a person (here or in a synced ticket system) within the reopen window: it
    // stays closed, and this new ticket says which one it follows.
    if let Some(previous) = &state.ticket
        && previous.state == TicketState::Closed
        && previous
            .resolved_at_ms
            .is_some_and(|at| now - at <= duration_ms(policy.reopen_window))
    {
        plan.push(Action::Link {
            ticket: reference,
            linked: TicketRef::Existing(previous.id),
        });
        plan.note(
            reference,
            NoteKind::Related,
            format!("Happened again after ticket {} was closed", previous.id),
            now,
        );
    }
    knowledge(
        plan,
        reference,
        &finding.check,
        &fingerprint,
        now,
        state,
        policy,
    );
    Some(reference)
}

/// A ticket about one device, its priority and SLA from `impact` and `urgency`.
#[allow(clippy::too_many_arguments)]
pub(super) fn one_device_ticket(
    kind: TicketKind,
    key: String,
    title_words: firstline_i18n::Message,
    description: String,
    device: &DeviceFacts,
    finding: &Finding,
    fingerprint: String,
    (impact, urgency): (Level, Level),
    now: i64,
    policy: &Policy,
) -> NewTicket {
    let priority = Priority::from_matrix(impact, urgency);
    let target = policy.sla_target(priority);
    NewTicket {
        kind,
        key,
        title_words,
        description,
        check: finding.check.clone(),
        resource: finding.resource.clone(),
        device_id: Some(device.id.clone()),
        scope: None,
        fingerprint,
        severity: finding.severity,
        impact,
        urgency,
        priority,
        opened_at_ms: now,
        response_due_ms: policy.due_ms(priority, now, target.response),
        resolution_due_ms: policy.due_ms(priority, now, target.resolution),
        devices: vec![device.id.clone()],
        vip: device.vip,
        requester: match kind {
            TicketKind::Report => crate::tickets::requester(&finding.evidence_json),
            _ => None,
        },
    }
}

/// A condition cleared while feeding an open ticket.
#[allow(clippy::too_many_arguments)]
pub(super) fn cleared(
    plan: &mut Plan,
    hostname: &str,
    device_id: &str,
    summary: &str,
    evidence_json: Option<&str>,
    now: i64,
    ticket: &TicketView,
    kind: TicketKind,
    state: &State,
    policy: &Policy,
) {
    let reference = TicketRef::Existing(ticket.id);
    // A check or resource the config no longer has: nothing was fixed, and nothing is
    // watched any more.
    let retired = evidence_json.is_some_and(crate::tickets::is_retirement);
    let recovery = if retired {
        format!("{hostname}: no longer monitored: {summary}")
    } else {
        format!("{hostname} recovered: {summary}")
    };
    match evidence_json {
        Some(evidence) => {
            plan.note_with_data(reference, NoteKind::Evidence, recovery, evidence, now)
        }
        None => plan.note(reference, NoteKind::Evidence, recovery, now),
    }
    match kind {
        TicketKind::Device | TicketKind::Report => {
            if retired {
                retire_or_leave(plan, ticket, now);
            } else {
                resolve_or_leave(plan, ticket, now, "the condition cleared");
            }
        }
        TicketKind::Incident => {
            // A device failing on several resources has recovered once the last one clears.
            let device_still_failing = state
                .attached_incident
                .as_ref()
                .is_some_and(|a| a.still_firing.iter().any(|p| p.device_id == device_id));
            if !device_still_failing {
                plan.push(Action::DeviceRecovered {
                    ticket: reference,
                    device_id: device_id.to_owned(),
                    at_ms: now,
                });
            }
            let Some(attached) = &state.attached_incident else {
                return;
            };
            // Devices, not conditions: one device may fail on several resources.
            let mut stragglers: Vec<&str> = attached
                .still_firing
                .iter()
                .map(|peer| peer.device_id.as_str())
                .collect();
            stragglers.sort_unstable();
            stragglers.dedup();
            let still = u32::try_from(stragglers.len()).unwrap_or(u32::MAX);
            if still >= policy.correlation.min_devices {
                return;
            }
            if still == 0 && retired {
                retire_or_leave(plan, ticket, now);
                return;
            }
            let why = if still == 0 {
                "every device recovered".to_owned()
            } else {
                format!(
                    "the incident cleared; {still} device(s) still failing get tickets of their own unless they recover within {}",
                    humantime::format_duration(policy.correlation.hold)
                )
            };
            resolve_or_leave(plan, ticket, now, &why);
            // Stragglers of a fleet-wide recovery are usually seconds behind: back to the
            // hold, and the sweep gives those still failing afterwards tickets of their own.
            for peer in &attached.still_firing {
                plan.push(Action::ReleaseCondition {
                    device_id: peer.device_id.clone(),
                    check: peer.check.clone(),
                    resource: peer.resource.clone(),
                    at_ms: now,
                });
            }
        }
    }
}

/// Close a ticket whose check or resource is no longer monitored — cancelled, so it never
/// counts as recovered or fixed — unless someone took it over: then a note for its owner.
fn retire_or_leave(plan: &mut Plan, ticket: &TicketView, now: i64) {
    let reference = TicketRef::Existing(ticket.id);
    if ticket.staff_owned {
        let owner = ticket.assignee.as_deref().unwrap_or("staff");
        plan.note(
            reference,
            NoteKind::State,
            format!("No longer monitored (the config no longer checks it), but the ticket is being worked by {owner}"),
            now,
        );
        return;
    }
    plan.push(Action::SetState {
        ticket: reference,
        state: TicketState::Cancelled,
        resolution: Some(crate::tickets::NO_LONGER_MONITORED.to_owned()),
        at_ms: now,
    });
    plan.note(
        reference,
        NoteKind::State,
        "Closed: no longer monitored (the config no longer checks it; nothing was fixed)"
            .to_owned(),
        now,
    );
}

/// Auto-resolve a ticket nobody took over; otherwise leave a note for its owner.
fn resolve_or_leave(plan: &mut Plan, ticket: &TicketView, now: i64, why: &str) {
    let reference = TicketRef::Existing(ticket.id);
    if ticket.staff_owned {
        let owner = ticket.assignee.as_deref().unwrap_or("staff");
        plan.note(
            reference,
            NoteKind::State,
            format!("Auto-resolve held: {why}, but the ticket is being worked by {owner}"),
            now,
        );
    } else {
        plan.push(Action::SetState {
            ticket: reference,
            state: TicketState::Resolved,
            resolution: Some(format!("auto-resolved: {why}")),
            at_ms: now,
        });
        plan.note(
            reference,
            NoteKind::State,
            format!("Auto-resolved: {why}"),
            now,
        );
    }
}

#[cfg(test)]
mod tests;
