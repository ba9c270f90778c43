//! The SQL of the ticket shell, once per backend (a macro over the transaction type).

use super::*;

/// The SQL of the ticket shell, implemented once per backend's transaction type.
pub(in crate::store) trait TicketSql: Send {
    fn lock_check_names(&mut self, checks: &[String]) -> impl Future<Output = Result<()>> + Send;
    fn device_row(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Option<(String, bool)>>> + Send;
    fn scopes_of(&mut self, device_id: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn condition(
        &mut self,
        device_id: &str,
        check: &str,
        resource: &str,
    ) -> impl Future<Output = Result<Option<ConditionView>>> + Send;
    fn device_conditions(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Vec<ConditionView>>> + Send;
    /// The conditions feeding ticket `ticket_id` (its device's, or an incident's devices').
    fn conditions_feeding(
        &mut self,
        ticket_id: i64,
    ) -> impl Future<Output = Result<Vec<ConditionView>>> + Send;
    fn ticket(&mut self, id: i64) -> impl Future<Output = Result<Option<TicketRecord>>> + Send;
    fn latest_ticket(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Option<TicketRecord>>> + Send;
    fn open_ticket(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Option<TicketRecord>>> + Send;
    fn scope_size(&mut self, scope: &str) -> impl Future<Output = Result<u32>> + Send;
    fn open_tickets_of(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Vec<TicketRecord>>> + Send;
    fn recent_firing(
        &mut self,
        check: &str,
        scope: &str,
        except_device: &str,
        since_ms: i64,
        min_severity: Severity,
    ) -> impl Future<Output = Result<Vec<(Peer, Option<i64>)>>> + Send;
    fn still_firing(
        &mut self,
        ticket_id: i64,
        except_device: &str,
    ) -> impl Future<Output = Result<Vec<Peer>>> + Send;
    fn known_fixes(
        &mut self,
        fingerprint: &str,
    ) -> impl Future<Output = Result<Vec<KnownFix>>> + Send;
    fn fingerprint_history(
        &mut self,
        fingerprint: &str,
        since_ms: i64,
    ) -> impl Future<Output = Result<(u32, bool)>> + Send;
    fn apply_one(
        &mut self,
        action: &Action,
        opened: &[i64],
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// The ticket that already took report `report_id` of the device, if one did.
    fn report_taken(
        &mut self,
        device_id: &str,
        report_id: &str,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// The requester's open report ticket on the device about `group_key` whose latest
    /// report came at or after `since_ms`, with when that was.
    fn joinable_report(
        &mut self,
        device_id: &str,
        requester: Option<&str>,
        group_key: &str,
        since_ms: i64,
    ) -> impl Future<Output = Result<Option<(TicketRecord, i64)>>> + Send;
    /// Open incidents listing the device or of one of its scopes, with whether they list it.
    fn outages_for(
        &mut self,
        device_id: &str,
    ) -> impl Future<Output = Result<Vec<(TicketRecord, bool)>>> + Send;
}

macro_rules! ticket_record {
    ($row:expr) => {{
        let row = $row;
        let text = |column: &str| -> Result<String> { Ok(row.try_get::<String, _>(column)?) };
        let parse_state = text("state")?;
        let parse_kind = text("kind")?;
        let parse_severity = text("severity")?;
        let parse_impact = text("impact")?;
        let parse_urgency = text("urgency")?;
        let priority: i64 = row.try_get("priority")?;
        TicketRecord {
            id: row.try_get("id")?,
            kind: TicketKind::parse(&parse_kind)
                .ok_or_else(|| corrupt("ticket kind", parse_kind.clone()))?,
            state: TicketState::parse(&parse_state)
                .ok_or_else(|| corrupt("ticket state", parse_state.clone()))?,
            title: text("title")?,
            // Words that do not read (written by a newer version) leave the English title.
            title_words: row
                .try_get::<Option<String>, _>("title_words")?
                .and_then(|json| serde_json::from_str(&json).ok()),
            description: text("description")?,
            check: text("check_name")?,
            resource: text("resource")?,
            device_id: row.try_get("device_id")?,
            scope: row.try_get("scope")?,
            fingerprint: text("fingerprint")?,
            severity: Severity::parse(&parse_severity)
                .ok_or_else(|| corrupt("ticket severity", parse_severity.clone()))?,
            impact: Level::parse(&parse_impact)
                .ok_or_else(|| corrupt("ticket impact", parse_impact.clone()))?,
            urgency: Level::parse(&parse_urgency)
                .ok_or_else(|| corrupt("ticket urgency", parse_urgency.clone()))?,
            priority: u8::try_from(priority)
                .ok()
                .and_then(Priority::from_number)
                .ok_or_else(|| corrupt("ticket priority", priority.to_string()))?,
            tier: u8::try_from(row.try_get::<i64, _>("tier")?.clamp(1, 3)).unwrap_or(1),
            assignee: row.try_get("assignee")?,
            staff_owned: flag(row.try_get("staff_owned")?),
            vip: flag(row.try_get("vip")?),
            device_count: count(row.try_get("device_count")?),
            opened_at_ms: row.try_get("opened_at_ms")?,
            updated_at_ms: row.try_get("updated_at_ms")?,
            resolved_at_ms: row.try_get("resolved_at_ms")?,
            closed_at_ms: row.try_get("closed_at_ms")?,
            first_response_at_ms: row.try_get("first_response_at_ms")?,
            response_due_ms: row.try_get("response_due_ms")?,
            resolution_due_ms: row.try_get("resolution_due_ms")?,
            pending_since_ms: row.try_get("pending_since_ms")?,
            response_breached: flag(row.try_get("response_breached")?),
            resolution_breached: flag(row.try_get("resolution_breached")?),
            reopen_count: count(row.try_get("reopen_count")?),
            incident_id: row.try_get("incident_id")?,
            resolution: row.try_get("resolution")?,
            requester: row.try_get("requester")?,
            requester_uid: row.try_get("requester_uid")?,
            affected_users: Vec::new(),
        }
    }};
}

macro_rules! condition_view {
    ($row:expr) => {{
        let row = $row;
        let state: String = row.try_get("state")?;
        let severity: String = row.try_get("severity")?;
        let changes_json: String = row.try_get("changes_json")?;
        ConditionView {
            device_id: row.try_get("device_id")?,
            check: row.try_get("check_name")?,
            resource: row.try_get("resource")?,
            state: ConditionState::parse(&state)
                .ok_or_else(|| corrupt("condition state", state.clone()))?,
            observed_firing: flag(row.try_get("observed_firing")?),
            severity: Severity::parse(&severity)
                .ok_or_else(|| corrupt("condition severity", severity.clone()))?,
            since_ms: row.try_get("since_ms")?,
            // A history that does not read only costs flap detection its memory.
            changes_ms: serde_json::from_str(&changes_json).unwrap_or_default(),
            ticket_id: row.try_get("ticket_id")?,
        }
    }};
}

/// The ticket one query finds, if any.
macro_rules! one_ticket {
    ($tx:expr, $sql:expr, $bind:expr) => {{
        let row = sqlx::query($sql)
            .bind($bind)
            .fetch_optional(&mut **$tx)
            .await?;
        Ok(match row {
            Some(row) => Some(ticket_record!(&row)),
            None => None,
        })
    }};
}

macro_rules! ticket_sql {
    ($database:ty, $for_update:expr) => {
        impl TicketSql for sqlx::Transaction<'_, $database> {
            async fn lock_check_names(&mut self, checks: &[String]) -> Result<()> {
                for check in checks {
                    sqlx::query("INSERT INTO check_locks (check_name) VALUES ($1) ON CONFLICT (check_name) DO NOTHING")
                        .bind(check)
                        .execute(&mut **self)
                        .await?;
                    let lock = concat!("SELECT check_name FROM check_locks WHERE check_name = $1", $for_update);
                    sqlx::query(lock).bind(check).fetch_one(&mut **self).await?;
                }
                Ok(())
            }

            async fn device_row(&mut self, device_id: &str) -> Result<Option<(String, bool)>> {
                let row = sqlx::query("SELECT hostname, vip FROM devices WHERE id = $1")
                    .bind(device_id)
                    .fetch_optional(&mut **self)
                    .await?;
                Ok(match row {
                    Some(row) => Some((row.try_get("hostname")?, flag(row.try_get("vip")?))),
                    None => None,
                })
            }

            async fn scopes_of(&mut self, device_id: &str) -> Result<Vec<String>> {
                let rows = sqlx::query("SELECT scope FROM device_scopes WHERE device_id = $1 ORDER BY scope")
                    .bind(device_id)
                    .fetch_all(&mut **self)
                    .await?;
                rows.iter().map(|row| Ok(row.try_get("scope")?)).collect()
            }

            async fn condition(&mut self, device_id: &str, check: &str, resource: &str) -> Result<Option<ConditionView>> {
                let sql = concat!("SELECT * FROM conditions WHERE device_id = $1 AND check_name = $2 AND resource = $3", $for_update);
                let row = sqlx::query(sql)
                    .bind(device_id)
                    .bind(check)
                    .bind(resource)
                    .fetch_optional(&mut **self)
                    .await?;
                Ok(match row {
                    Some(row) => Some(condition_view!(&row)),
                    None => None,
                })
            }

            async fn device_conditions(&mut self, device_id: &str) -> Result<Vec<ConditionView>> {
                let sql = concat!("SELECT * FROM conditions WHERE device_id = $1 ORDER BY check_name, resource", $for_update);
                let rows = sqlx::query(sql).bind(device_id).fetch_all(&mut **self).await?;
                let mut conditions = Vec::with_capacity(rows.len());
                for row in &rows {
                    conditions.push(condition_view!(row));
                }
                Ok(conditions)
            }

            async fn conditions_feeding(&mut self, ticket_id: i64) -> Result<Vec<ConditionView>> {
                let sql = concat!("SELECT * FROM conditions WHERE ticket_id = $1 ORDER BY device_id, check_name, resource", $for_update);
                let rows = sqlx::query(sql).bind(ticket_id).fetch_all(&mut **self).await?;
                let mut conditions = Vec::with_capacity(rows.len());
                for row in &rows {
                    conditions.push(condition_view!(row));
                }
                Ok(conditions)
            }

            async fn ticket(&mut self, id: i64) -> Result<Option<TicketRecord>> {
                one_ticket!(self, concat!("SELECT * FROM tickets WHERE id = $1", $for_update), id)
            }

            async fn latest_ticket(&mut self, key: &str) -> Result<Option<TicketRecord>> {
                one_ticket!(self, concat!("SELECT * FROM tickets WHERE ticket_key = $1 ORDER BY CASE WHEN open_key IS NULL THEN 1 ELSE 0 END, id DESC LIMIT 1", $for_update), key)
            }

            async fn open_ticket(&mut self, key: &str) -> Result<Option<TicketRecord>> {
                one_ticket!(self, concat!("SELECT * FROM tickets WHERE open_key = $1", $for_update), key)
            }

            async fn open_tickets_of(&mut self, device_id: &str) -> Result<Vec<TicketRecord>> {
                let rows = sqlx::query(
                    "SELECT * FROM tickets WHERE open_key IS NOT NULL AND kind <> 'report' AND (device_id = $1 OR id IN \
                     (SELECT ticket_id FROM ticket_devices WHERE device_id = $1 AND recovered_at_ms IS NULL)) \
                     ORDER BY id LIMIT 20",
                )
                .bind(device_id)
                .fetch_all(&mut **self)
                .await?;
                let mut tickets = Vec::with_capacity(rows.len());
                for row in &rows {
                    tickets.push(ticket_record!(row));
                }
                Ok(tickets)
            }

            async fn scope_size(&mut self, scope: &str) -> Result<u32> {
                // An application version's devices are those known to run it.
                let sql = if scope.starts_with("app=") {
                    "SELECT COUNT(DISTINCT device_id) AS size FROM conditions WHERE app_scope = $1"
                } else {
                    "SELECT COUNT(*) AS size FROM device_scopes WHERE scope = $1"
                };
                let size: i64 = sqlx::query(sql)
                    .bind(scope)
                    .fetch_one(&mut **self)
                    .await?
                    .try_get("size")?;
                Ok(count(size))
            }

            async fn recent_firing(
                &mut self,
                check: &str,
                scope: &str,
                except_device: &str,
                since_ms: i64,
                min_severity: Severity,
            ) -> Result<Vec<(Peer, Option<i64>)>> {
                let [first, second, third] = severities_from(min_severity);
                let in_scope = if scope.starts_with("app=") {
                    "SELECT c.device_id, c.resource, c.ticket_id, c.since_ms, d.hostname, d.vip FROM conditions c \
                     JOIN devices d ON d.id = c.device_id \
                     LEFT JOIN tickets t ON t.id = c.ticket_id \
                     WHERE c.app_scope = $1 AND "
                } else {
                    "SELECT c.device_id, c.resource, c.ticket_id, c.since_ms, d.hostname, d.vip FROM conditions c \
                     JOIN device_scopes s ON s.device_id = c.device_id AND s.scope = $1 \
                     JOIN devices d ON d.id = c.device_id \
                     LEFT JOIN tickets t ON t.id = c.ticket_id WHERE "
                };
                let sql = format!(
                    "{in_scope}c.check_name = $2 AND c.device_id <> $3 AND c.observed_firing = 1 \
                     AND c.state <> 'resolved' AND c.since_ms >= $4 AND c.severity IN ($5, $6, $7) \
                     AND NOT (COALESCE(t.kind, '') = 'incident' AND t.open_key IS NOT NULL) \
                     ORDER BY c.since_ms, c.device_id, c.resource LIMIT 100000"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(scope)
                .bind(check)
                .bind(except_device)
                .bind(since_ms)
                .bind(first)
                .bind(second)
                .bind(third)
                .fetch_all(&mut **self)
                .await?;
                let mut peers = rows.iter()
                    .map(|row| {
                        Ok((
                            row.try_get::<i64, _>("since_ms")?,
                            Peer {
                                device_id: row.try_get("device_id")?,
                                hostname: row.try_get("hostname")?,
                                check: check.to_owned(),
                                resource: row.try_get("resource")?,
                                vip: flag(row.try_get("vip")?),
                                ticket: None,
                            },
                            row.try_get("ticket_id")?,
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                // In byte order, as a group's memory sorts them (a PostgreSQL collation may not).
                peers.sort_by(|(a_since, a, _), (b_since, b, _)| {
                    (a_since, &a.device_id, &a.resource).cmp(&(b_since, &b.device_id, &b.resource))
                });
                Ok(peers.into_iter().map(|(_, peer, ticket)| (peer, ticket)).collect())
            }

            async fn still_firing(&mut self, ticket_id: i64, except_device: &str) -> Result<Vec<Peer>> {
                let rows = sqlx::query(
                    "SELECT c.device_id, c.check_name, c.resource, d.hostname, d.vip FROM conditions c \
                     JOIN devices d ON d.id = c.device_id \
                     WHERE c.ticket_id = $1 AND c.device_id <> $2 AND c.observed_firing = 1 \
                     ORDER BY c.device_id, c.resource, c.check_name",
                )
                .bind(ticket_id)
                .bind(except_device)
                .fetch_all(&mut **self)
                .await?;
                let mut peers = rows.iter()
                    .map(|row| {
                        Ok(Peer {
                            device_id: row.try_get("device_id")?,
                            hostname: row.try_get("hostname")?,
                            check: row.try_get("check_name")?,
                            resource: row.try_get("resource")?,
                            vip: flag(row.try_get("vip")?),
                            ticket: None,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                // In byte order, as a group's memory sorts them (a PostgreSQL collation may not).
                peers.sort_by(|a, b| {
                    (&a.device_id, &a.resource, &a.check).cmp(&(&b.device_id, &b.resource, &b.check))
                });
                Ok(peers)
            }

            async fn known_fixes(&mut self, fingerprint: &str) -> Result<Vec<KnownFix>> {
                let rows = sqlx::query(
                    "SELECT solution, worked_count FROM solutions WHERE fingerprint = $1 \
                     ORDER BY worked_count DESC, last_at_ms DESC LIMIT 5",
                )
                .bind(fingerprint)
                .fetch_all(&mut **self)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(KnownFix {
                            solution: row.try_get("solution")?,
                            worked_count: count(row.try_get("worked_count")?),
                        })
                    })
                    .collect()
            }

            async fn fingerprint_history(&mut self, fingerprint: &str, since_ms: i64) -> Result<(u32, bool)> {
                let tickets: i64 = sqlx::query(
                    "SELECT COUNT(*) AS tickets FROM tickets WHERE fingerprint = $1 AND opened_at_ms >= $2",
                )
                .bind(fingerprint)
                .bind(since_ms)
                .fetch_one(&mut **self)
                .await?
                .try_get("tickets")?;
                let flagged = sqlx::query("SELECT fingerprint FROM problems WHERE fingerprint = $1")
                    .bind(fingerprint)
                    .fetch_optional(&mut **self)
                    .await?
                    .is_some();
                Ok((count(tickets), flagged))
            }

            async fn report_taken(&mut self, device_id: &str, report_id: &str) -> Result<Option<i64>> {
                let row = sqlx::query("SELECT ticket_id FROM report_links WHERE device_id = $1 AND report_id = $2")
                    .bind(device_id)
                    .bind(report_id)
                    .fetch_optional(&mut **self)
                    .await?;
                Ok(match row {
                    Some(row) => Some(row.try_get("ticket_id")?),
                    None => None,
                })
            }

            async fn joinable_report(
                &mut self,
                device_id: &str,
                requester: Option<&str>,
                group_key: &str,
                since_ms: i64,
            ) -> Result<Option<(TicketRecord, i64)>> {
                let row = sqlx::query(
                    "SELECT t.*, rl.at_ms AS last_report_at_ms FROM report_links rl JOIN tickets t ON t.id = rl.ticket_id \
                     WHERE rl.device_id = $1 AND rl.group_key = $2 \
                     AND (rl.requester = $3 OR (rl.requester IS NULL AND $3 IS NULL)) \
                     AND rl.how IN ('opened', 'joined') AND rl.at_ms >= $4 \
                     AND t.kind = 'report' AND t.open_key IS NOT NULL \
                     ORDER BY rl.at_ms DESC, t.id DESC LIMIT 1",
                )
                .bind(device_id)
                .bind(group_key)
                .bind(requester)
                .bind(since_ms)
                .fetch_optional(&mut **self)
                .await?;
                Ok(match row {
                    Some(row) => Some((ticket_record!(&row), row.try_get("last_report_at_ms")?)),
                    None => None,
                })
            }

            async fn outages_for(&mut self, device_id: &str) -> Result<Vec<(TicketRecord, bool)>> {
                let rows = sqlx::query(
                    "SELECT t.*, (SELECT COUNT(*) FROM ticket_devices td WHERE td.ticket_id = t.id AND td.device_id = $1) \
                     AS lists_device FROM tickets t WHERE t.kind = 'incident' AND t.open_key IS NOT NULL AND \
                     (t.id IN (SELECT ticket_id FROM ticket_devices WHERE device_id = $1) \
                      OR t.scope IN (SELECT scope FROM device_scopes WHERE device_id = $1)) \
                     ORDER BY t.id LIMIT 20",
                )
                .bind(device_id)
                .fetch_all(&mut **self)
                .await?;
                let mut outages = Vec::with_capacity(rows.len());
                for row in &rows {
                    let lists: i64 = row.try_get("lists_device")?;
                    outages.push((ticket_record!(row), lists > 0));
                }
                Ok(outages)
            }

            async fn apply_one(&mut self, action: &Action, opened: &[i64], now_ms: i64) -> Result<Option<i64>> {
                match action {
                    Action::RecordReport { device_id, report_id, ticket, how, requester, group_key, check_first, at_ms } => {
                        sqlx::query(
                            "INSERT INTO report_links (device_id, report_id, ticket_id, how, requester, group_key, check_first, at_ms) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (device_id, report_id) DO NOTHING",
                        )
                        .bind(device_id)
                        .bind(report_id)
                        .bind(resolve(*ticket, opened)?)
                        .bind(how.as_str())
                        .bind(requester.as_deref())
                        .bind(group_key)
                        .bind(i64::from(*check_first))
                        .bind(at_ms)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::SaveCondition { condition, ticket, app_scope, summary, evidence_json } => {
                        let mut condition = condition.clone();
                        condition.ticket_id = match ticket {
                            Some(reference) => Some(resolve(*reference, opened)?),
                            None => None,
                        };
                        let saved = SavedCondition {
                            condition,
                            app_scope: app_scope.clone(),
                            summary: summary.clone(),
                            evidence_json: evidence_json.clone(),
                            updated_at_ms: now_ms,
                        };
                        GroupSql::save_conditions(self, &[&saved]).await?;
                    }
                    Action::SetConditionState { device_id, check, resource, state, at_ms } => {
                        sqlx::query(
                            "UPDATE conditions SET state = $1, updated_at_ms = $2 \
                             WHERE device_id = $3 AND check_name = $4 AND resource = $5",
                        )
                        .bind(state.as_str())
                        .bind(at_ms)
                        .bind(device_id)
                        .bind(check)
                        .bind(resource)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::ReleaseCondition { device_id, check, resource, at_ms } => {
                        sqlx::query(
                            "UPDATE conditions SET ticket_id = NULL, updated_at_ms = $1 \
                             WHERE device_id = $2 AND check_name = $3 AND resource = $4",
                        )
                        .bind(at_ms)
                        .bind(device_id)
                        .bind(check)
                        .bind(resource)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::AttachCondition { device_id, check, resource, ticket } => {
                        sqlx::query(
                            "UPDATE conditions SET ticket_id = $1 WHERE device_id = $2 AND check_name = $3 AND resource = $4",
                        )
                        .bind(resolve(*ticket, opened)?)
                        .bind(device_id)
                        .bind(check)
                        .bind(resource)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::OpenTicket(new) => {
                        let id = insert_ticket!(self, new);
                        for device_id in &new.devices {
                            sqlx::query(
                                "INSERT INTO ticket_devices (ticket_id, device_id, added_at_ms) VALUES ($1, $2, $3) \
                                 ON CONFLICT (ticket_id, device_id) DO NOTHING",
                            )
                            .bind(id)
                            .bind(device_id)
                            .bind(new.opened_at_ms)
                            .execute(&mut **self)
                            .await?;
                        }
                        crate::store::help::outage_notices!(*self, id, None::<&str>, true, new.opened_at_ms);
                        return Ok(Some(id));
                    }
                    Action::SetState { ticket, state, resolution, at_ms } => {
                        let open = i64::from(state.is_open());
                        sqlx::query(
                            "UPDATE tickets SET \
                             reopen_count = reopen_count + (CASE WHEN $1 = 1 AND state = 'resolved' THEN 1 ELSE 0 END), \
                             staff_owned = CASE WHEN $1 = 1 AND state = 'resolved' AND assignee IS NULL THEN 0 ELSE staff_owned END, \
                             response_breached = CASE WHEN $1 = 1 AND state = 'resolved' THEN 0 ELSE response_breached END, \
                             resolution_breached = CASE WHEN $1 = 1 AND state = 'resolved' THEN 0 ELSE resolution_breached END, \
                             state = $2, \
                             open_key = CASE WHEN $1 = 1 THEN ticket_key ELSE NULL END, \
                             resolved_at_ms = CASE WHEN $2 = 'resolved' THEN $3 WHEN $1 = 1 THEN NULL ELSE resolved_at_ms END, \
                             closed_at_ms = CASE WHEN $2 IN ('closed', 'cancelled') THEN $3 ELSE closed_at_ms END, \
                             resolution = CASE WHEN $1 = 1 THEN NULL ELSE COALESCE($4, resolution) END, \
                             updated_at_ms = $3 WHERE id = $5",
                        )
                        .bind(open)
                        .bind(state.as_str())
                        .bind(at_ms)
                        .bind(resolution)
                        .bind(resolve(*ticket, opened)?)
                        .execute(&mut **self)
                        .await?;
                        // A resolved ticket with a requester asks them "is it fixed?"; any
                        // other state stops asking.
                        let id = resolve(*ticket, opened)?;
                        let asking = *state == TicketState::Resolved;
                        let asked = sqlx::query(
                            "UPDATE tickets SET awaiting_requester_since_ms = CASE WHEN $1 = 1 THEN $2 ELSE NULL END \
                             WHERE id = $3 AND requester IS NOT NULL AND device_id IS NOT NULL",
                        )
                        .bind(i64::from(asking))
                        .bind(at_ms)
                        .bind(id)
                        .execute(&mut **self)
                        .await?
                        .rows_affected();
                        if asking && asked > 0 {
                            crate::store::help::requester_notice!(*self, id, "resolved", "", *at_ms);
                        }
                        if matches!(state, TicketState::Resolved | TicketState::Cancelled) {
                            crate::store::help::outage_notices!(*self, id, None::<&str>, false, *at_ms);
                        }
                    }
                    Action::Note { ticket, kind, actor, text, data_json, at_ms } => {
                        let id = resolve(*ticket, opened)?;
                        sqlx::query(
                            "INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text, data_json) VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(id)
                        .bind(at_ms)
                        .bind(kind.as_str())
                        .bind(actor)
                        .bind(text)
                        .bind(data_json)
                        .execute(&mut **self)
                        .await?;
                        sqlx::query("UPDATE tickets SET updated_at_ms = $1 WHERE id = $2")
                            .bind(at_ms)
                            .bind(id)
                            .execute(&mut **self)
                            .await?;
                        if *kind == crate::tickets::NoteKind::Reply {
                            crate::store::help::requester_notice!(*self, id, "reply", text.as_str(), *at_ms);
                        }
                    }
                    Action::AddDevice { ticket, device_id, at_ms } => {
                        GroupSql::add_device(self, resolve(*ticket, opened)?, device_id, *at_ms).await?;
                    }
                    Action::DeviceRecovered { ticket, device_id, at_ms } => {
                        sqlx::query("UPDATE ticket_devices SET recovered_at_ms = $1 WHERE ticket_id = $2 AND device_id = $3")
                            .bind(at_ms)
                            .bind(resolve(*ticket, opened)?)
                            .bind(device_id)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::SetPriority { ticket, impact, urgency, priority, response_due_ms, resolution_due_ms } => {
                        let patch = TicketPatch {
                            updated_at_ms: None,
                            priority: Some(PriorityPatch {
                                impact: *impact,
                                urgency: *urgency,
                                priority: *priority,
                                response_due_ms: *response_due_ms,
                                resolution_due_ms: *resolution_due_ms,
                            }),
                        };
                        GroupSql::patch_tickets(self, &[(resolve(*ticket, opened)?, patch)]).await?;
                    }
                    Action::SetTier { ticket, tier } => {
                        sqlx::query("UPDATE tickets SET tier = $1 WHERE id = $2")
                            .bind(i64::from(*tier))
                            .bind(resolve(*ticket, opened)?)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::Assign { ticket, assignee } => {
                        sqlx::query("UPDATE tickets SET assignee = $1 WHERE id = $2")
                            .bind(assignee)
                            .bind(resolve(*ticket, opened)?)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::Touch { ticket, at_ms, take_over } => {
                        sqlx::query(
                            "UPDATE tickets SET first_response_at_ms = COALESCE(first_response_at_ms, $1), \
                             staff_owned = CASE WHEN $2 = 1 THEN 1 ELSE staff_owned END WHERE id = $3",
                        )
                        .bind(at_ms)
                        .bind(i64::from(*take_over))
                        .bind(resolve(*ticket, opened)?)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::SlaBreached { ticket, response } => {
                        let sql = if *response {
                            "UPDATE tickets SET response_breached = 1 WHERE id = $1"
                        } else {
                            "UPDATE tickets SET resolution_breached = 1 WHERE id = $1"
                        };
                        sqlx::query(sql).bind(resolve(*ticket, opened)?).execute(&mut **self).await?;
                    }
                    Action::Pending { ticket, since_ms, shift_ms } => {
                        sqlx::query(
                            "UPDATE tickets SET pending_since_ms = $1, response_due_ms = response_due_ms + $2, \
                             resolution_due_ms = resolution_due_ms + $2 WHERE id = $3",
                        )
                        .bind(since_ms)
                        .bind(shift_ms)
                        .bind(resolve(*ticket, opened)?)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::Link { ticket, linked } => {
                        let (ticket, linked) = (resolve(*ticket, opened)?, resolve(*linked, opened)?);
                        for (from, to) in [(ticket, linked), (linked, ticket)] {
                            sqlx::query(
                                "INSERT INTO ticket_links (ticket_id, linked_id) VALUES ($1, $2) \
                                 ON CONFLICT (ticket_id, linked_id) DO NOTHING",
                            )
                            .bind(from)
                            .bind(to)
                            .execute(&mut **self)
                            .await?;
                        }
                    }
                    Action::MoveReports { from, to } => {
                        let (from, to) = (resolve(*from, opened)?, resolve(*to, opened)?);
                        sqlx::query("UPDATE report_links SET ticket_id = $1 WHERE ticket_id = $2")
                            .bind(to)
                            .bind(from)
                            .execute(&mut **self)
                            .await?;
                        // The requester follows to a ticket of the same device that has none
                        // (their help page finds other tickets by the moved report links).
                        sqlx::query(
                            "UPDATE tickets SET requester = (SELECT requester FROM tickets WHERE id = $1), \
                             requester_uid = (SELECT requester_uid FROM tickets WHERE id = $1) \
                             WHERE id = $2 AND requester IS NULL AND device_id IS NOT NULL \
                             AND device_id = (SELECT device_id FROM tickets WHERE id = $1)",
                        )
                        .bind(from)
                        .bind(to)
                        .execute(&mut **self)
                        .await?;
                        // An incident merged into another hands over the device tickets it took.
                        let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM tickets WHERE id = $1")
                            .bind(from)
                            .fetch_optional(&mut **self)
                            .await?;
                        if kind.as_deref() == Some(TicketKind::Incident.as_str()) {
                            sqlx::query("UPDATE tickets SET incident_id = $1 WHERE incident_id = $2")
                                .bind(to)
                                .bind(from)
                                .execute(&mut **self)
                                .await?;
                        }
                    }
                    Action::LinkIncident { ticket, incident } => {
                        sqlx::query("UPDATE tickets SET incident_id = $1 WHERE id = $2")
                            .bind(resolve(*incident, opened)?)
                            .bind(resolve(*ticket, opened)?)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::RecordSolution { check, fingerprint, solution, at_ms, .. } => {
                        sqlx::query(
                            "INSERT INTO solutions (fingerprint, solution, check_name, worked_count, first_at_ms, last_at_ms) \
                             VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (fingerprint, solution) DO UPDATE SET \
                             worked_count = solutions.worked_count + 1, last_at_ms = excluded.last_at_ms",
                        )
                        .bind(fingerprint)
                        .bind(solution)
                        .bind(check)
                        .bind(at_ms)
                        .execute(&mut **self)
                        .await?;
                    }
                    Action::Notify { ticket, event } => {
                        sqlx::query("INSERT INTO notifications (ticket_id, event, at_ms) VALUES ($1, $2, $3)")
                            .bind(resolve(*ticket, opened)?)
                            .bind(event.as_str())
                            .bind(now_ms)
                            .execute(&mut **self)
                            .await?;
                    }
                    Action::FlagProblem { check, fingerprint, at_ms } => {
                        sqlx::query(
                            "INSERT INTO problems (fingerprint, check_name, flagged_at_ms) VALUES ($1, $2, $3) \
                             ON CONFLICT (fingerprint) DO NOTHING",
                        )
                        .bind(fingerprint)
                        .bind(check)
                        .bind(at_ms)
                        .execute(&mut **self)
                        .await?;
                    }
                }
                Ok(None)
            }
        }

        impl GroupSql for sqlx::Transaction<'_, $database> {
            async fn load_devices(&mut self, ids: &[String]) -> Result<Vec<(String, String, bool)>> {
                let mut query = sqlx::QueryBuilder::new("SELECT id, hostname, vip FROM devices WHERE id IN (");
                let mut list = query.separated(", ");
                for id in ids {
                    list.push_bind(id);
                }
                query.push(")");
                let rows = query.build().fetch_all(&mut **self).await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("id")?, row.try_get("hostname")?, flag(row.try_get("vip")?))))
                    .collect()
            }

            async fn load_scopes(&mut self, ids: &[String]) -> Result<Vec<(String, String)>> {
                let mut query = sqlx::QueryBuilder::new("SELECT device_id, scope FROM device_scopes WHERE device_id IN (");
                let mut list = query.separated(", ");
                for id in ids {
                    list.push_bind(id);
                }
                query.push(") ORDER BY device_id, scope");
                let rows = query.build().fetch_all(&mut **self).await?;
                rows.iter()
                    .map(|row| Ok((row.try_get("device_id")?, row.try_get("scope")?)))
                    .collect()
            }

            async fn load_conditions(&mut self, keys: &[(String, String, String)]) -> Result<Vec<ConditionView>> {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT * FROM conditions WHERE (device_id, check_name, resource) IN (VALUES ",
                );
                let mut first = true;
                for (device, check, resource) in keys {
                    if !first {
                        query.push(", ");
                    }
                    first = false;
                    query.push("(").push_bind(device).push(", ").push_bind(check).push(", ").push_bind(resource).push(")");
                }
                query.push(")").push($for_update);
                let rows = query.build().fetch_all(&mut **self).await?;
                let mut conditions = Vec::with_capacity(rows.len());
                for row in &rows {
                    conditions.push(condition_view!(row));
                }
                Ok(conditions)
            }

            async fn load_tickets(&mut self, by: TicketsBy<'_>) -> Result<Vec<(TicketRecord, String)>> {
                let mut query = sqlx::QueryBuilder::new("SELECT * FROM tickets t WHERE ");
                match by {
                    TicketsBy::Ids(ids) => {
                        query.push("t.id IN (");
                        let mut list = query.separated(", ");
                        for id in ids {
                            list.push_bind(*id);
                        }
                    }
                    TicketsBy::LatestForKeys(keys) => {
                        // The key's open ticket if it has one, else its newest (as latest_ticket).
                        query.push(
                            "t.id IN (SELECT (SELECT l.id FROM tickets l WHERE l.ticket_key = k.wanted \
                             ORDER BY CASE WHEN l.open_key IS NULL THEN 1 ELSE 0 END, l.id DESC LIMIT 1) \
                             FROM (SELECT DISTINCT ticket_key AS wanted FROM tickets WHERE ticket_key IN (",
                        );
                        let mut list = query.separated(", ");
                        for key in keys {
                            list.push_bind(key);
                        }
                        query.push(")) k");
                    }
                    TicketsBy::OpenForKeys(keys) => {
                        query.push("t.open_key IN (");
                        let mut list = query.separated(", ");
                        for key in keys {
                            list.push_bind(key);
                        }
                    }
                }
                query.push(")").push($for_update);
                let rows = query.build().fetch_all(&mut **self).await?;
                let mut tickets = Vec::with_capacity(rows.len());
                for row in &rows {
                    let key: String = row.try_get("ticket_key")?;
                    tickets.push((ticket_record!(row), key));
                }
                Ok(tickets)
            }

            async fn add_device(&mut self, id: i64, device_id: &str, at_ms: i64) -> Result<Option<u32>> {
                let added = sqlx::query(
                    "INSERT INTO ticket_devices (ticket_id, device_id, added_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (ticket_id, device_id) DO UPDATE SET recovered_at_ms = NULL \
                     WHERE ticket_devices.recovered_at_ms IS NOT NULL",
                )
                .bind(id)
                .bind(device_id)
                .bind(at_ms)
                .execute(&mut **self)
                .await?
                .rows_affected();
                if added == 0 {
                    return Ok(None);
                }
                let count: Option<i64> = sqlx::query_scalar(
                    "UPDATE tickets SET device_count = (SELECT COUNT(*) FROM ticket_devices WHERE ticket_id = $1), \
                     updated_at_ms = $2 WHERE id = $1 RETURNING device_count",
                )
                .bind(id)
                .bind(at_ms)
                .fetch_optional(&mut **self)
                .await?;
                crate::store::help::outage_notices!(*self, id, Some(device_id), true, at_ms);
                Ok(count.map(|count| u32::try_from(count).unwrap_or(u32::MAX)))
            }

            async fn load_ticket_firing(&mut self, ticket_id: i64) -> Result<Vec<NamedCondition>> {
                let rows = sqlx::query(
                    "SELECT c.*, d.hostname, d.vip FROM conditions c JOIN devices d ON d.id = c.device_id \
                     WHERE c.ticket_id = $1 AND c.observed_firing = 1",
                )
                .bind(ticket_id)
                .fetch_all(&mut **self)
                .await?;
                let mut firing = Vec::with_capacity(rows.len());
                for row in &rows {
                    firing.push((condition_view!(row), row.try_get("hostname")?, flag(row.try_get("vip")?)));
                }
                Ok(firing)
            }

            async fn load_scope_firing(&mut self, check: &str, scope: &str) -> Result<Vec<NamedCondition>> {
                let rows = sqlx::query(
                    "SELECT c.*, d.hostname, d.vip FROM device_scopes s \
                     JOIN conditions c ON c.device_id = s.device_id AND c.check_name = $2 \
                     JOIN devices d ON d.id = s.device_id \
                     WHERE s.scope = $1 AND c.observed_firing = 1 AND c.state <> 'resolved'",
                )
                .bind(scope)
                .bind(check)
                .fetch_all(&mut **self)
                .await?;
                let mut firing = Vec::with_capacity(rows.len());
                for row in &rows {
                    firing.push((condition_view!(row), row.try_get("hostname")?, flag(row.try_get("vip")?)));
                }
                Ok(firing)
            }

            async fn fingerprint_opened(&mut self, fingerprint: &str, since_ms: i64) -> Result<(Vec<i64>, bool)> {
                let rows = sqlx::query("SELECT opened_at_ms FROM tickets WHERE fingerprint = $1 AND opened_at_ms >= $2")
                    .bind(fingerprint)
                    .bind(since_ms)
                    .fetch_all(&mut **self)
                    .await?;
                let opened = rows.iter().map(|row| row.try_get("opened_at_ms")).collect::<Result<Vec<i64>, _>>()?;
                let flagged = sqlx::query("SELECT fingerprint FROM problems WHERE fingerprint = $1")
                    .bind(fingerprint)
                    .fetch_optional(&mut **self)
                    .await?
                    .is_some();
                Ok((opened, flagged))
            }

            async fn save_conditions(&mut self, saved: &[&SavedCondition]) -> Result<()> {
                if saved.is_empty() {
                    return Ok(());
                }
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO conditions (device_id, check_name, resource, state, observed_firing, severity, \
                     summary, evidence_json, since_ms, updated_at_ms, changes_json, ticket_id, app_scope, changed_at_ms) ",
                );
                query.push_values(saved, |mut row, saved| {
                    let condition = &saved.condition;
                    let changes = serde_json::to_string(&condition.changes_ms).unwrap_or_else(|_| "[]".to_owned());
                    row.push_bind(condition.device_id.clone())
                        .push_bind(condition.check.clone())
                        .push_bind(condition.resource.clone())
                        .push_bind(condition.state.as_str())
                        .push_bind(i64::from(condition.observed_firing))
                        .push_bind(condition.severity.as_str())
                        .push_bind(saved.summary.clone())
                        .push_bind(saved.evidence_json.clone())
                        .push_bind(condition.since_ms)
                        .push_bind(saved.updated_at_ms)
                        .push_bind(changes)
                        .push_bind(condition.ticket_id)
                        .push_bind(saved.app_scope.clone())
                        .push_bind(condition.changes_ms.last().copied().unwrap_or(condition.since_ms));
                });
                query.push(
                    " ON CONFLICT (device_id, check_name, resource) DO UPDATE SET state = excluded.state, \
                     observed_firing = excluded.observed_firing, severity = excluded.severity, \
                     summary = excluded.summary, evidence_json = excluded.evidence_json, \
                     since_ms = excluded.since_ms, updated_at_ms = excluded.updated_at_ms, \
                     changes_json = excluded.changes_json, ticket_id = excluded.ticket_id, \
                     app_scope = excluded.app_scope, changed_at_ms = excluded.changed_at_ms",
                );
                query.build().execute(&mut **self).await?;
                Ok(())
            }

            async fn insert_events(&mut self, events: &[NewEvent]) -> Result<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO ticket_events (ticket_id, at_ms, kind, actor, text, data_json) ",
                );
                query.push_values(events, |mut row, event| {
                    row.push_bind(event.ticket_id)
                        .push_bind(event.at_ms)
                        .push_bind(event.kind)
                        .push_bind(event.actor.clone())
                        .push_bind(event.text.clone())
                        .push_bind(event.data_json.clone());
                });
                query.build().execute(&mut **self).await?;
                Ok(())
            }

            async fn patch_tickets(&mut self, patches: &[(i64, TicketPatch)]) -> Result<()> {
                let touched: Vec<(i64, i64)> = patches
                    .iter()
                    .filter_map(|(id, patch)| patch.updated_at_ms.map(|at| (*id, at)))
                    .collect();
                if !touched.is_empty() {
                    let mut query = sqlx::QueryBuilder::new("UPDATE tickets SET updated_at_ms = CASE id");
                    for (id, at) in &touched {
                        // As a note sent alone sets it: the time of the ticket's last note.
                        query
                            .push(" WHEN ")
                            .push_bind(*id)
                            .push(" THEN CAST(")
                            .push_bind(*at)
                            .push(" AS BIGINT)");
                    }
                    query.push(" ELSE updated_at_ms END WHERE id IN (");
                    let mut list = query.separated(", ");
                    for (id, _) in &touched {
                        list.push_bind(*id);
                    }
                    query.push(")");
                    query.build().execute(&mut **self).await?;
                }
                for (id, patch) in patches {
                    if let Some(p) = patch.priority {
                        sqlx::query(
                            "UPDATE tickets SET impact = $1, urgency = $2, priority = $3, response_due_ms = $4, \
                             resolution_due_ms = $5 WHERE id = $6",
                        )
                        .bind(p.impact.as_str())
                        .bind(p.urgency.as_str())
                        .bind(i64::from(p.priority.number()))
                        .bind(p.response_due_ms)
                        .bind(p.resolution_due_ms)
                        .bind(*id)
                        .execute(&mut **self)
                        .await?;
                    }
                }
                Ok(())
            }
        }
    };
}

macro_rules! insert_ticket {
    ($tx:expr, $new:expr) => {{
        let new: &NewTicket = $new;
        let inserted = sqlx::query(
            "INSERT INTO tickets (kind, ticket_key, open_key, state, title, description, check_name, resource, \
             device_id, scope, fingerprint, severity, impact, urgency, priority, tier, vip, device_count, \
             opened_at_ms, updated_at_ms, response_due_ms, resolution_due_ms, requester, requester_uid, title_words) \
             VALUES ($1, $2, $2, 'new', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16, $16, $17, $18, $19, $20, $21) \
             ON CONFLICT (open_key) DO NOTHING RETURNING id",
        )
        .bind(new.kind.as_str())
        .bind(&new.key)
        .bind(new.title())
        .bind(&new.description)
        .bind(&new.check)
        .bind(&new.resource)
        .bind(&new.device_id)
        .bind(&new.scope)
        .bind(&new.fingerprint)
        .bind(new.severity.as_str())
        .bind(new.impact.as_str())
        .bind(new.urgency.as_str())
        .bind(i64::from(new.priority.number()))
        .bind(i64::from(new.vip))
        .bind(i64::try_from(new.devices.len()).unwrap_or(i64::MAX))
        .bind(new.opened_at_ms)
        .bind(new.response_due_ms)
        .bind(new.resolution_due_ms)
        .bind(new.requester.as_ref().map(|r| r.name.as_str()))
        .bind(new.requester.as_ref().and_then(|r| r.uid))
        .bind(serde_json::to_string(&new.title_words).ok())
        .fetch_optional(&mut **$tx)
        .await?;
        match inserted {
            Some(row) => row.try_get::<i64, _>("id")?,
            // A ticket for this key is open already (the unique open_key says so): what was
            // meant for a new ticket goes to that one instead of failing the transaction.
            None => {
                tracing::warn!(key = %new.key, "a ticket for this key is open already; using it");
                sqlx::query("SELECT id FROM tickets WHERE open_key = $1")
                    .bind(&new.key)
                    .fetch_one(&mut **$tx)
                    .await?
                    .try_get::<i64, _>("id")?
            }
        }
    }};
}

ticket_sql!(sqlx::Sqlite, "");
ticket_sql!(sqlx::Postgres, " FOR UPDATE");
