//! The periodic pass over holds, silence, flapping and SLA targets.

use super::*;

impl Store {
    /// The periodic pass: devices gone silent (stale) or back, holds that passed, flapping
    /// conditions that settled, and SLA targets that fell due. Each item is decided in its own
    /// transaction under the same locks as ingest, so several collectors may sweep at once; an
    /// item that fails is logged and skipped, and the others go on.
    pub async fn sweep(&self, now_ms: i64) -> Result<SweepReport> {
        self.sweep_judging_silence(now_ms, true).await
    }

    /// As [`Store::sweep`]; with `judge_silence` false no device is marked silent (devices
    /// reporting again are still marked back): right after the collector (or its store) comes
    /// back, agents are still reconnecting, and the outage was not theirs.
    pub async fn sweep_judging_silence(
        &self,
        now_ms: i64,
        judge_silence: bool,
    ) -> Result<SweepReport> {
        let policy = self.policy.clone();
        let mut report = SweepReport::default();
        let stale_before = if judge_silence {
            now_ms - duration_ms(policy.stale_after)
        } else {
            i64::MIN
        };
        let quiet_before = now_ms - duration_ms(policy.flap_window);
        let held_before = now_ms - duration_ms(policy.correlation.hold);
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let device_lock = if postgres {
            "SELECT stale_since_ms, last_seen_at_ms FROM devices WHERE id = $1 FOR UPDATE"
        } else {
            "SELECT stale_since_ms, last_seen_at_ms FROM devices WHERE id = $1"
        };
        let [first, second, third] = severities_from(policy.min_severity);
        with_pool!(self, pool => {
            // Devices gone silent with firing conditions, and stale devices reporting again.
            let rows = sqlx::query(
                "SELECT id, hostname, stale_since_ms FROM devices WHERE \
                 (stale_since_ms IS NULL AND last_seen_at_ms < $1 AND EXISTS \
                   (SELECT 1 FROM conditions c WHERE c.device_id = devices.id AND c.state = 'firing')) \
                 OR (stale_since_ms IS NOT NULL AND last_seen_at_ms > stale_since_ms) LIMIT 1000",
            )
            .bind(stale_before)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let device_id: String = row.try_get("id")?;
                let hostname: String = row.try_get("hostname")?;
                let stale_since: Option<i64> = row.try_get("stale_since_ms")?;
                let outcome: Result<Option<bool>> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    // Check locks first, then rows: the order ingest takes them in.
                    let check_rows = sqlx::query("SELECT DISTINCT check_name FROM conditions WHERE device_id = $1")
                        .bind(&device_id)
                        .fetch_all(&mut *transaction)
                        .await?;
                    let mut checks = Vec::with_capacity(check_rows.len());
                    for row in &check_rows {
                        checks.push(row.try_get::<String, _>("check_name")?);
                    }
                    // Byte order, as ingest sorts them (the database's collation may differ).
                    checks.sort();
                    if postgres {
                        transaction.lock_check_names(&checks).await?;
                    }
                    let current = sqlx::query(device_lock).bind(&device_id).fetch_one(&mut *transaction).await?;
                    let current_stale: Option<i64> = current.try_get("stale_since_ms")?;
                    let last_seen_ms: Option<i64> = current.try_get("last_seen_at_ms")?;
                    let silent = last_seen_ms.is_none_or(|seen| seen < stale_before);
                    // Another collector got here first, or the device spoke meanwhile.
                    if current_stale != stale_since || (stale_since.is_none() && !silent) {
                        transaction.rollback().await?;
                        return Ok(None);
                    }
                    let conditions = transaction.device_conditions(&device_id).await?;
                    let mut device_conditions = Vec::with_capacity(conditions.len());
                    for condition in conditions {
                        let ticket = match condition.ticket_id {
                            Some(id) => transaction.ticket(id).await?.map(|t| t.view()),
                            None => None,
                        };
                        device_conditions.push((condition, ticket));
                    }
                    let state = State { device_conditions, ..State::default() };
                    let (event, new_stale) = if stale_since.is_none() {
                        let last_seen_ms = last_seen_ms.unwrap_or(now_ms);
                        (Event::DeviceSilent { hostname: &hostname, last_seen_ms, at_ms: now_ms }, Some(now_ms))
                    } else {
                        (Event::DeviceBack { hostname: &hostname, at_ms: now_ms }, None)
                    };
                    let actions = decide(&event, &state, &policy).unwrap_or_default();
                    apply(&mut transaction, &actions, now_ms).await?;
                    sqlx::query("UPDATE devices SET stale_since_ms = $1 WHERE id = $2")
                        .bind(new_stale)
                        .bind(&device_id)
                        .execute(&mut *transaction)
                        .await?;
                    transaction.commit().await?;
                    Ok(Some(stale_since.is_none()))
                }) }
                .await;
                match tally(outcome, &mut report, "marking a device stale or back", &device_id) {
                    Some(Some(true)) => report.devices_stale += 1,
                    Some(Some(false)) => report.devices_back += 1,
                    _ => {}
                }
            }

            // Conditions held for an incident that did not form get tickets of their own.
            let rows = sqlx::query(
                "SELECT device_id, check_name, resource FROM conditions WHERE state = 'firing' AND ticket_id IS NULL \
                 AND observed_firing = 1 AND severity IN ($1, $2, $3) AND since_ms < $4 AND updated_at_ms < $4 \
                 ORDER BY since_ms LIMIT 1000",
            )
            .bind(first)
            .bind(second)
            .bind(third)
            .bind(held_before)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let device_id: String = row.try_get("device_id")?;
                let check: String = row.try_get("check_name")?;
                let resource: String = row.try_get("resource")?;
                // This collector's turn on the check first, as the group commit takes it (`bounded.rs`).
                let _turns = if postgres { self.check_turns.take(std::iter::once(check.as_str())).await } else { Vec::new() };
                let outcome: Result<bool> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    if postgres {
                        transaction.lock_check_names(std::slice::from_ref(&check)).await?;
                    }
                    let held = sqlx::query(
                        "SELECT severity, summary, evidence_json FROM conditions WHERE device_id = $1 AND check_name = $2 \
                         AND resource = $3 AND state = 'firing' AND ticket_id IS NULL",
                    )
                    .bind(&device_id)
                    .bind(&check)
                    .bind(&resource)
                    .fetch_optional(&mut *transaction)
                    .await?;
                    let (Some(held), Some(device)) = (held, device_facts(&mut transaction, &device_id).await?) else {
                        // Attached to an incident or cleared meanwhile.
                        transaction.rollback().await?;
                        return Ok(false);
                    };
                    let severity: String = held.try_get("severity")?;
                    let finding = Finding {
                        sequence: 0,
                        check: check.clone(),
                        resource: resource.clone(),
                        severity: Severity::parse(&severity).ok_or_else(|| corrupt("condition severity", severity.clone()))?,
                        summary: held.try_get("summary")?,
                        evidence_json: held.try_get("evidence_json")?,
                        observed_at_ms: now_ms,
                    };
                    observe(&mut transaction, &policy, &device, &finding, now_ms, false).await?;
                    transaction.commit().await?;
                    Ok(true)
                }) }
                .await;
                if let Some(released) = tally(outcome, &mut report, "releasing a held condition", &device_id) {
                    report.holds_released += u32::from(released);
                }
            }

            // Flapping conditions quiet for a whole flap window settle.
            let rows = sqlx::query(
                "SELECT c.device_id, c.check_name, c.resource, d.hostname FROM conditions c JOIN devices d ON d.id = c.device_id \
                 WHERE c.state = 'flapping' AND c.changed_at_ms < $1 LIMIT 1000",
            )
            .bind(quiet_before)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let device_id: String = row.try_get("device_id")?;
                let check: String = row.try_get("check_name")?;
                let resource: String = row.try_get("resource")?;
                let hostname: String = row.try_get("hostname")?;
                // This collector's turn on the check first, as the group commit takes it (`bounded.rs`).
                let _turns = if postgres { self.check_turns.take(std::iter::once(check.as_str())).await } else { Vec::new() };
                let outcome: Result<bool> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    if postgres {
                        transaction.lock_check_names(std::slice::from_ref(&check)).await?;
                    }
                    let condition = transaction.condition(&device_id, &check, &resource).await?;
                    let Some(condition) = condition.filter(|c| c.state == ConditionState::Flapping) else {
                        transaction.rollback().await?;
                        return Ok(false);
                    };
                    let mut state = State::default();
                    if let Some(id) = condition.ticket_id
                        && let Some(ticket) = transaction.ticket(id).await?
                    {
                        if ticket.kind == TicketKind::Incident {
                            let still_firing = transaction
                                .still_firing(id, "")
                                .await?
                                .into_iter()
                                .filter(|p| !(p.device_id == device_id && p.resource == resource))
                                .collect();
                            state.attached_incident = Some(AttachedIncident {
                                scope: ticket.scope.clone().unwrap_or_default(),
                                ticket: ticket.view(),
                                still_firing,
                            });
                        } else {
                            state.ticket = Some(ticket.view());
                        }
                    }
                    state.condition = Some(condition);
                    let actions = decide(&Event::FlapQuiet { hostname: &hostname, at_ms: now_ms }, &state, &policy).unwrap_or_default();
                    apply(&mut transaction, &actions, now_ms).await?;
                    transaction.commit().await?;
                    Ok(true)
                }) }
                .await;
                if let Some(settled) = tally(outcome, &mut report, "settling a flapping condition", &device_id) {
                    report.conditions_settled += u32::from(settled);
                }
            }

            // SLA targets that fell due.
            let rows = sqlx::query(
                "SELECT id FROM tickets WHERE open_key IS NOT NULL AND state <> 'pending' AND \
                 ((first_response_at_ms IS NULL AND response_breached = 0 AND response_due_ms < $1) \
                  OR (resolution_breached = 0 AND resolution_due_ms < $1)) ORDER BY id LIMIT 1000",
            )
            .bind(now_ms)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let outcome: Result<u32> = async { bounded_transaction!(self, pool, Writer::Sweep, StoreError, |transaction| {
                    let ticket = transaction.ticket(id).await?;
                    let state = State { ticket: ticket.as_ref().map(TicketRecord::view), ..State::default() };
                    let actions = decide(&Event::SlaTick { at_ms: now_ms }, &state, &policy).unwrap_or_default();
                    apply(&mut transaction, &actions, now_ms).await?;
                    transaction.commit().await?;
                    let breaches = actions.iter().filter(|a| matches!(a, Action::SlaBreached { .. })).count();
                    Ok(u32::try_from(breaches).unwrap_or(0))
                }) }
                .await;
                if let Some(breaches) = tally(outcome, &mut report, "checking a ticket's SLA", &id.to_string()) {
                    report.sla_breaches += breaches;
                }
            }
        });
        match self.expire_reproduce(now_ms).await {
            Ok(expired) => report.reproduce_expired = expired,
            Err(e) => {
                tracing::warn!(error = %e, "sweep: expiring reproduce requests failed; the next sweep tries again");
                report.failed += 1;
            }
        }
        Ok(report)
    }
}
