//! One event through the engine: load the state it touches, decide, apply.

use super::*;

/// Locks the rows of the checks in `findings`, in name order so two transactions never wait
/// on each other crosswise.
pub(in crate::store) async fn lock_checks<'a, T: TicketSql>(
    tx: &mut T,
    findings: impl Iterator<Item = &'a Finding>,
) -> Result<()> {
    let mut checks: Vec<String> = findings.map(|f| f.check.clone()).collect();
    checks.sort();
    checks.dedup();
    tx.lock_check_names(&checks).await
}

/// What the engine needs of a device (its scopes in stored order).
pub(in crate::store) async fn device_facts<T: TicketSql>(
    tx: &mut T,
    device_id: &str,
) -> Result<Option<DeviceFacts>> {
    let Some((hostname, vip)) = tx.device_row(device_id).await? else {
        return Ok(None);
    };
    let mut scopes = tx.scopes_of(device_id).await?;
    if scopes.is_empty() {
        // No inventory yet: the device is still somewhere.
        scopes.push("site=default".to_owned());
    }
    Ok(Some(DeviceFacts {
        id: device_id.to_owned(),
        hostname,
        vip,
        scopes,
    }))
}

/// Decides and applies what one newly stored finding means for conditions and tickets.
pub(in crate::store) async fn observe<T: TicketSql>(
    tx: &mut T,
    policy: &Policy,
    device: &DeviceFacts,
    finding: &Finding,
    now_ms: i64,
    hold: bool,
) -> Result<()> {
    if finding.check == crate::tickets::USER_REPORT {
        return user_report(tx, policy, device, finding, now_ms).await;
    }
    let condition = tx
        .condition(&device.id, &finding.check, &finding.resource)
        .await?;
    let key = device_ticket_key(&device.id, &finding.check, &finding.resource);
    let ticket = tx.latest_ticket(&key).await?;
    let firing = finding.severity != Severity::Ok;
    let mut state = State {
        condition,
        ticket: ticket.as_ref().map(TicketRecord::view),
        ..State::default()
    };
    let fed = state.condition.as_ref().and_then(|c| c.ticket_id);
    let fed_elsewhere = match fed {
        Some(id) if ticket.as_ref().map(|t| t.id) != Some(id) => tx.ticket(id).await?,
        _ => None,
    };
    // A person merged the condition's ticket into another device's open one: that one is
    // the ticket it feeds now.
    if let Some(merged) = fed_elsewhere
        .as_ref()
        .filter(|t| t.kind != TicketKind::Incident && t.state.is_open())
    {
        state.ticket = Some(merged.view());
    }
    if let Some(id) = fed
        && let Some(incident) = fed_elsewhere.filter(|t| t.kind == TicketKind::Incident)
    {
        let still_firing = if firing || !incident.state.is_open() {
            Vec::new()
        } else {
            // Every device's, this one's other resources too: it recovers with its last.
            tx.still_firing(id, "")
                .await?
                .into_iter()
                .filter(|p| {
                    !(p.device_id == device.id
                        && p.check == finding.check
                        && p.resource == finding.resource)
                })
                .collect()
        };
        state.attached_incident = Some(AttachedIncident {
            ticket: incident.view(),
            scope: incident.scope.clone().unwrap_or_default(),
            still_firing,
        });
    }
    let feeds_open_ticket = state
        .attached_incident
        .as_ref()
        .is_some_and(|i| i.ticket.state.is_open())
        || state
            .ticket
            .as_ref()
            .is_some_and(|t| Some(t.id) == fed && t.state.is_open());
    if firing && finding.severity >= policy.min_severity && !feeds_open_ticket {
        // An application version explains a failure best of all; then the device's scopes.
        let scopes = crate::tickets::app_scope(&finding.resource, &finding.evidence_json)
            .into_iter()
            .chain(scopes_for_check(&finding.check, &device.scopes));
        for scope in scopes {
            let open_incident = tx
                .open_ticket(&incident_key(&finding.check, &scope))
                .await?;
            state.scopes.push(ScopeView {
                scope,
                devices_in_scope: 0,
                open_incident: open_incident.as_ref().map(TicketRecord::view),
                recent_firing: Vec::new(),
            });
        }
        // Only when no incident is open already does the engine weigh forming one.
        if state.scopes.iter().all(|s| s.open_incident.is_none()) {
            let since_ms = now_ms - duration_ms(policy.correlation.window);
            for scope in &mut state.scopes {
                scope.devices_in_scope = tx.scope_size(&scope.scope).await?;
                let peers = tx
                    .recent_firing(
                        &finding.check,
                        &scope.scope,
                        &device.id,
                        since_ms,
                        policy.min_severity,
                    )
                    .await?;
                let affected = u32::try_from(peers.len()).unwrap_or(u32::MAX) + 1;
                let qualifies = affected >= policy.correlation.min_devices;
                for (mut peer, ticket_id) in peers {
                    // Their own tickets matter only if an incident is about to absorb them.
                    if qualifies && let Some(id) = ticket_id {
                        peer.ticket = tx
                            .ticket(id)
                            .await?
                            .filter(|t| t.kind == TicketKind::Device)
                            .map(|t| t.view());
                    }
                    scope.recent_firing.push(peer);
                }
            }
        }
        let fingerprint = fingerprint(&finding.check, &finding.resource);
        state.known_fixes = tx.known_fixes(&fingerprint).await?;
        let since_ms = now_ms - duration_ms(policy.problem_window);
        (state.fingerprint_tickets, state.problem_flagged) =
            tx.fingerprint_history(&fingerprint, since_ms).await?;
    }
    let event = Event::Observed {
        device,
        finding,
        at_ms: now_ms,
        hold,
    };
    decide_and_apply(tx, &event, &state, policy, now_ms).await
}

/// A user's report: it joins the requester's open report ticket about the same thing,
/// attaches to an incident that explains it, or opens a ticket linked to the device's open
/// tickets (the engine decides which).
async fn user_report<T: TicketSql>(
    tx: &mut T,
    policy: &Policy,
    device: &DeviceFacts,
    finding: &Finding,
    now_ms: i64,
) -> Result<()> {
    // A report id the device already used (a second finding for one report) was decided.
    if let Some(ticket_id) = tx.report_taken(&device.id, &finding.resource).await? {
        tracing::warn!(device = %device.id, report = %finding.resource, ticket_id,
            "a user report with an id already taken; not decided again");
        return Ok(());
    }
    let related = tx.open_tickets_of(&device.id).await?;
    let requester = crate::tickets::requester(&finding.evidence_json).map(|r| r.name);
    let group_key = crate::tickets::report_group_key(&finding.evidence_json);
    let joinable_report = tx
        .joinable_report(
            &device.id,
            requester.as_deref(),
            &group_key,
            now_ms - duration_ms(policy.report_join_window),
        )
        .await?
        .map(|(ticket, last_report_at_ms)| JoinableReport {
            ticket: ticket.view(),
            last_report_at_ms,
        });
    let outages = tx
        .outages_for(&device.id)
        .await?
        .into_iter()
        .map(|(ticket, lists_device)| Outage {
            scope: ticket.scope.clone(),
            resource: ticket.resource.clone(),
            ticket: ticket.view(),
            lists_device,
        })
        .collect();
    let fingerprint = crate::tickets::user_report_fingerprint(&finding.evidence_json);
    let mut state = State {
        related: related.iter().map(TicketRecord::view).collect(),
        known_fixes: tx.known_fixes(&fingerprint).await?,
        joinable_report,
        outages,
        ..State::default()
    };
    let since_ms = now_ms - duration_ms(policy.problem_window);
    (state.fingerprint_tickets, state.problem_flagged) =
        tx.fingerprint_history(&fingerprint, since_ms).await?;
    let event = Event::UserReport {
        device,
        finding,
        at_ms: now_ms,
    };
    decide_and_apply(tx, &event, &state, policy, now_ms).await
}

/// Runs the engine on an event that cannot be refused and applies what it decided.
async fn decide_and_apply<T: TicketSql>(
    tx: &mut T,
    event: &Event<'_>,
    state: &State,
    policy: &Policy,
    now_ms: i64,
) -> Result<()> {
    let actions = decide(event, state, policy).map_err(|refusal| StoreError::Invalid {
        what: "ticket decision",
        detail: refusal.to_string(),
    })?;
    apply(tx, &actions, now_ms).await
}

pub(in crate::store) async fn apply<T: TicketSql>(
    tx: &mut T,
    actions: &[Action],
    now_ms: i64,
) -> Result<()> {
    let mut opened = Vec::new();
    for action in actions {
        if let Some(id) = tx.apply_one(action, &opened, now_ms).await? {
            opened.push(id);
        }
    }
    Ok(())
}
