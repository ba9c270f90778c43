//! Fleet incidents: one ticket when enough devices of a scope fail the same way, and letting go
//! of the devices still failing when one is closed by hand.

use crate::model::Finding;
use crate::tickets::policy::{Policy, Priority};
use crate::tickets::{NoteKind, TicketKind, TicketState, fingerprint, incident_key};

use super::knowledge::knowledge;
use super::{Action, DeviceFacts, NewTicket, Peer, Plan, ScopeView, State, TicketRef, TicketView};

#[allow(clippy::too_many_arguments)]
pub(super) fn open_incident(
    plan: &mut Plan,
    device: &DeviceFacts,
    finding: &Finding,
    now: i64,
    scope: &ScopeView,
    affected: u32,
    state: &State,
    policy: &Policy,
) -> TicketRef {
    let vip = device.vip || scope.recent_firing.iter().any(|peer| peer.vip);
    let impact = policy.impact(true, affected, vip);
    let urgency = policy.urgency(&finding.check, finding.severity);
    let priority = Priority::from_matrix(impact, urgency);
    let target = policy.sla_target(priority);
    // The same fingerprint as each device's own ticket: a fix learnt on one serves both.
    let fingerprint = fingerprint(&finding.check, &finding.resource);
    let devices: Vec<String> = distinct_devices(&scope.recent_firing, &device.id)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let reference = plan.open(NewTicket {
        kind: TicketKind::Incident,
        key: incident_key(&finding.check, &scope.scope),
        title_words: crate::tickets::titles::incident_title(
            &finding.check,
            &finding.resource,
            &scope.scope,
            u32::try_from(devices.len()).unwrap_or(u32::MAX),
            &finding.evidence_json,
        ),
        description: format!(
            "{affected} devices in {} report {} (latest: {} on {})",
            scope.scope, finding.check, finding.summary, device.hostname
        ),
        check: finding.check.clone(),
        resource: finding.resource.clone(),
        device_id: None,
        scope: Some(scope.scope.clone()),
        fingerprint: fingerprint.clone(),
        severity: finding.severity,
        impact,
        urgency,
        priority,
        opened_at_ms: now,
        response_due_ms: policy.due_ms(priority, now, target.response),
        resolution_due_ms: policy.due_ms(priority, now, target.resolution),
        devices,
        vip,
        requester: None,
    });
    let mut hostnames: Vec<&str> = scope
        .recent_firing
        .iter()
        .map(|peer| peer.hostname.as_str())
        .chain([device.hostname.as_str()])
        .collect();
    hostnames.sort_unstable();
    hostnames.dedup();
    // The ticket's device list has them all; the note names enough to recognise the spread.
    const NAMED: usize = 20;
    let named = if hostnames.len() > NAMED {
        format!(
            "{} and {} more",
            hostnames[..NAMED].join(", "),
            hostnames.len() - NAMED
        )
    } else {
        hostnames.join(", ")
    };
    plan.note_with_data(
        reference,
        NoteKind::Opened,
        format!(
            "Opened: {} fails on {affected} devices in {} ({priority}: impact {}, urgency {}): {}",
            finding.check,
            scope.scope,
            impact.as_str(),
            urgency.as_str(),
            named
        ),
        &finding.evidence_json,
        now,
    );
    for peer in &scope.recent_firing {
        plan.push(Action::AttachCondition {
            device_id: peer.device_id.clone(),
            check: finding.check.clone(),
            resource: peer.resource.clone(),
            ticket: reference,
        });
        let Some(ticket) = peer.ticket.as_ref().filter(|t| t.state.is_open()) else {
            continue;
        };
        let own = TicketRef::Existing(ticket.id);
        plan.push(Action::LinkIncident {
            ticket: own,
            incident: reference,
        });
        if ticket.staff_owned {
            plan.note(
                own,
                NoteKind::Merge,
                format!(
                    "Part of a fleet incident: {} fails on {affected} devices in {}",
                    finding.check, scope.scope
                ),
                now,
            );
        } else {
            plan.note(
                own,
                NoteKind::Merge,
                format!(
                    "Merged into the fleet incident: {} fails on {affected} devices in {}",
                    finding.check, scope.scope
                ),
                now,
            );
            plan.push(Action::SetState {
                ticket: own,
                state: TicketState::Cancelled,
                resolution: Some("merged into a fleet incident".to_owned()),
                at_ms: now,
            });
        }
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
    reference
}

/// The peers' device ids and `this_device`, each once, in first-seen order.
pub(super) fn distinct_devices<'a>(peers: &'a [Peer], this_device: &'a str) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(peers.len() + 1);
    peers
        .iter()
        .map(|peer| peer.device_id.as_str())
        .chain([this_device])
        .filter(|device| seen.insert(*device))
        .collect()
}

/// An incident closed by hand lets go of its devices still failing: back to the hold, so each
/// gets a ticket of its own if it keeps failing.
pub(super) fn release_incident_devices(
    plan: &mut Plan,
    ticket: &TicketView,
    state: &State,
    now: i64,
) {
    let Some(incident) = state
        .attached_incident
        .as_ref()
        .filter(|incident| incident.ticket.id == ticket.id)
    else {
        return;
    };
    for peer in &incident.still_firing {
        plan.push(Action::ReleaseCondition {
            device_id: peer.device_id.clone(),
            check: peer.check.clone(),
            resource: peer.resource.clone(),
            at_ms: now,
        });
    }
}
