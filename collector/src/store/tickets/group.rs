//! A group commit's decisions in memory. The findings of a group commit touch a few devices,
//! their conditions and the tickets those feed again and again (a condition's severity moves
//! several times a minute; one incident takes the findings of every device in its scope).
//! [`Group`] loads that state with one query per table before the first finding is decided,
//! answers the engine's reads from memory while the group decides, in order, and keeps the
//! writes most findings make (the condition, a timeline entry, the ticket's last activity and
//! priority) to send back as multi-row statements. Anything else reads or writes through: the
//! kept writes go first (so every statement sees what was decided before it), and what the
//! statement may change is forgotten and read again when next needed.
//!
//! The decisions are the engine's, made in the same order on the same state as one finding at
//! a time would make them; only the number of round trips changes. What no lock covers (known
//! fixes, scope sizes, a device's scopes, a problem flag) is read once per group: a staff
//! change committed meanwhile is seen by the next group, as if it had come a moment later.

use std::collections::HashMap;

use super::*;

/// A condition's identity: device, check, resource.
type ConditionKey = (String, String, String);

/// A condition with its device's name and VIP flag.
pub(in crate::store) type NamedCondition = (ConditionView, String, bool);

/// A condition to be saved at the next flush.
#[derive(Debug, Clone)]
pub(in crate::store) struct SavedCondition {
    pub condition: ConditionView,
    pub app_scope: Option<String>,
    pub summary: String,
    pub evidence_json: String,
    pub updated_at_ms: i64,
}

/// A timeline entry to be inserted at the next flush.
#[derive(Debug, Clone)]
pub(in crate::store) struct NewEvent {
    pub ticket_id: i64,
    pub at_ms: i64,
    pub kind: &'static str,
    pub actor: Option<String>,
    pub text: String,
    pub data_json: Option<String>,
}

/// What changes on a ticket row at the next flush.
#[derive(Debug, Clone, Default)]
pub(in crate::store) struct TicketPatch {
    pub updated_at_ms: Option<i64>,
    pub priority: Option<PriorityPatch>,
}

#[derive(Debug, Clone, Copy)]
pub(in crate::store) struct PriorityPatch {
    pub impact: Level,
    pub urgency: Level,
    pub priority: Priority,
    pub response_due_ms: i64,
    pub resolution_due_ms: i64,
}

/// Which tickets a bulk load reads.
#[derive(Debug, Clone, Copy)]
pub(in crate::store) enum TicketsBy<'a> {
    Ids(&'a [i64]),
    /// Per key, the ticket `latest_ticket` would answer (its open one, else its newest).
    LatestForKeys(&'a [String]),
    OpenForKeys(&'a [String]),
}

/// The bulk statements a group needs, once per backend beside [`TicketSql`].
pub(in crate::store) trait GroupSql: TicketSql {
    /// `(id, hostname, vip)` of each device that exists.
    fn load_devices(
        &mut self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String, bool)>>> + Send;
    /// `(device, scope)` pairs, in each device's stored order.
    fn load_scopes(
        &mut self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    fn load_conditions(
        &mut self,
        keys: &[ConditionKey],
    ) -> impl Future<Output = Result<Vec<ConditionView>>> + Send;
    /// Tickets with their keys.
    fn load_tickets(
        &mut self,
        by: TicketsBy<'_>,
    ) -> impl Future<Output = Result<Vec<(TicketRecord, String)>>> + Send;
    /// When each ticket of the fingerprint opened at or after `since_ms` was opened, and
    /// whether the fingerprint is flagged as a problem.
    fn fingerprint_opened(
        &mut self,
        fingerprint: &str,
        since_ms: i64,
    ) -> impl Future<Output = Result<(Vec<i64>, bool)>> + Send;
    /// The conditions of `check` firing and not resolved on the devices of `scope` (a site,
    /// subnet or resolver scope, not an application's), with each device's name and VIP
    /// flag: what `recent_firing` chooses from.
    fn load_scope_firing(
        &mut self,
        check: &str,
        scope: &str,
    ) -> impl Future<Output = Result<Vec<NamedCondition>>> + Send;
    /// The conditions feeding the ticket that are firing, with each device's name and VIP
    /// flag: what `still_firing` chooses from.
    fn load_ticket_firing(
        &mut self,
        ticket_id: i64,
    ) -> impl Future<Output = Result<Vec<NamedCondition>>> + Send;
    /// Adds the device to the incident (or brings it back into it); when it was not in it,
    /// returns the incident's device count afterwards (its last activity is then `at_ms`).
    fn add_device(
        &mut self,
        id: i64,
        device_id: &str,
        at_ms: i64,
    ) -> impl Future<Output = Result<Option<u32>>> + Send;
    fn save_conditions(
        &mut self,
        saved: &[&SavedCondition],
    ) -> impl Future<Output = Result<()>> + Send;
    fn insert_events(&mut self, events: &[NewEvent]) -> impl Future<Output = Result<()>> + Send;
    fn patch_tickets(
        &mut self,
        patches: &[(i64, TicketPatch)],
    ) -> impl Future<Output = Result<()>> + Send;
}

#[derive(Debug, Clone, Copy)]
enum ByKey {
    Latest,
    Open,
}

/// See the module's documentation.
pub(in crate::store) struct Group<'t, T> {
    tx: &'t mut T,
    devices: HashMap<String, Option<(String, bool)>>,
    scopes: HashMap<String, Vec<String>>,
    conditions: HashMap<ConditionKey, Option<ConditionView>>,
    /// Tickets read in this group, with their keys.
    tickets: HashMap<i64, (TicketRecord, String)>,
    latest: HashMap<String, Option<i64>>,
    open: HashMap<String, Option<i64>>,
    known_fixes: HashMap<String, Vec<KnownFix>>,
    scope_sizes: HashMap<String, u32>,
    /// Per fingerprint: since when it was read, its tickets' opening times since then, and
    /// whether it is flagged as a problem.
    fingerprints: HashMap<String, (i64, Vec<i64>, bool)>,
    /// Per (check, scope): its firing conditions as read from the database (with device name
    /// and VIP flag). For a condition this group holds, `conditions` has the answer instead;
    /// a statement that changes a condition outside the group forgets its check's entries.
    scope_firing: HashMap<(String, String), Vec<NamedCondition>>,
    /// Per ticket: the firing conditions feeding it as read from the database, laid under the
    /// group's own as `scope_firing` is.
    ticket_firing: HashMap<i64, Vec<NamedCondition>>,
    /// (incident, device) pairs this group knows to be in the incident and not recovered:
    /// adding such a device again changes nothing.
    in_incident: std::collections::HashSet<(i64, String)>,
    saved: HashMap<ConditionKey, SavedCondition>,
    events: Vec<NewEvent>,
    patches: HashMap<i64, TicketPatch>,
}

/// Rows per bulk statement (each row binds a few values; both backends allow thousands).
const ROWS_PER_LOAD: usize = 300;

impl<'t, T: GroupSql> Group<'t, T> {
    /// Loads what deciding `findings` (device, finding), in order, will read first: the
    /// devices and their scopes, the findings' conditions, the tickets of their keys and the
    /// tickets their conditions feed.
    pub(in crate::store) async fn load<'f>(
        tx: &'t mut T,
        findings: &[(&'f str, &'f Finding)],
    ) -> Result<Self> {
        let mut group = Group {
            tx,
            devices: HashMap::new(),
            scopes: HashMap::new(),
            conditions: HashMap::new(),
            tickets: HashMap::new(),
            latest: HashMap::new(),
            open: HashMap::new(),
            known_fixes: HashMap::new(),
            scope_sizes: HashMap::new(),
            fingerprints: HashMap::new(),
            scope_firing: HashMap::new(),
            ticket_firing: HashMap::new(),
            in_incident: std::collections::HashSet::new(),
            saved: HashMap::new(),
            events: Vec::new(),
            patches: HashMap::new(),
        };
        let mut devices: Vec<String> = findings.iter().map(|(d, _)| (*d).to_owned()).collect();
        devices.sort();
        devices.dedup();
        for chunk in devices.chunks(ROWS_PER_LOAD) {
            for id in chunk {
                group.devices.insert(id.clone(), None);
                group.scopes.insert(id.clone(), Vec::new());
            }
            for (id, hostname, vip) in group.tx.load_devices(chunk).await? {
                group.devices.insert(id, Some((hostname, vip)));
            }
            for (id, scope) in group.tx.load_scopes(chunk).await? {
                group.scopes.entry(id).or_default().push(scope);
            }
        }
        let mut keys: Vec<ConditionKey> = findings
            .iter()
            .filter(|(_, f)| f.check != crate::tickets::USER_REPORT)
            .map(|(d, f)| ((*d).to_owned(), f.check.clone(), f.resource.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        let mut fed = Vec::new();
        for chunk in keys.chunks(ROWS_PER_LOAD) {
            for key in chunk {
                group.conditions.insert(key.clone(), None);
            }
            for condition in group.tx.load_conditions(chunk).await? {
                fed.extend(condition.ticket_id);
                let key = (
                    condition.device_id.clone(),
                    condition.check.clone(),
                    condition.resource.clone(),
                );
                group.conditions.insert(key, Some(condition));
            }
        }
        let mut ticket_keys: Vec<String> = keys
            .iter()
            .map(|(device, check, resource)| device_ticket_key(device, check, resource))
            .collect();
        ticket_keys.sort();
        ticket_keys.dedup();
        for chunk in ticket_keys.chunks(ROWS_PER_LOAD) {
            for key in chunk {
                group.latest.insert(key.clone(), None);
            }
            for (ticket, key) in group
                .tx
                .load_tickets(TicketsBy::LatestForKeys(chunk))
                .await?
            {
                group.latest.insert(key.clone(), Some(ticket.id));
                group.tickets.insert(ticket.id, (ticket, key));
            }
        }
        // The incidents a firing finding looks for: one per check and scope of its device
        // (an application's scope first, when its evidence names one).
        let mut incident_keys: Vec<String> = Vec::new();
        for (device, finding) in findings {
            if finding.check == crate::tickets::USER_REPORT {
                continue;
            }
            let mut scopes = group.scopes.get(*device).cloned().unwrap_or_default();
            if scopes.is_empty() {
                scopes.push("site=default".to_owned());
            }
            let scopes = crate::tickets::app_scope(&finding.resource, &finding.evidence_json)
                .into_iter()
                .chain(crate::tickets::scopes_for_check(&finding.check, &scopes));
            incident_keys.extend(scopes.map(|scope| incident_key(&finding.check, &scope)));
        }
        incident_keys.sort();
        incident_keys.dedup();
        for chunk in incident_keys.chunks(ROWS_PER_LOAD) {
            for key in chunk {
                group.open.insert(key.clone(), None);
            }
            for (ticket, key) in group.tx.load_tickets(TicketsBy::OpenForKeys(chunk)).await? {
                group.open.insert(key.clone(), Some(ticket.id));
                group.tickets.insert(ticket.id, (ticket, key));
            }
        }
        fed.sort_unstable();
        fed.dedup();
        fed.retain(|id| !group.tickets.contains_key(id));
        for chunk in fed.chunks(ROWS_PER_LOAD) {
            for (ticket, key) in group.tx.load_tickets(TicketsBy::Ids(chunk)).await? {
                group.tickets.insert(ticket.id, (ticket, key));
            }
        }
        Ok(group)
    }

    /// Sends the kept writes: conditions, timeline entries, then ticket rows.
    pub(in crate::store) async fn flush(&mut self) -> Result<()> {
        self.flush_conditions().await?;
        self.flush_events().await?;
        self.flush_tickets().await
    }

    async fn flush_conditions(&mut self) -> Result<()> {
        if !self.saved.is_empty() {
            let saved: Vec<&SavedCondition> = self.saved.values().collect();
            for chunk in saved.chunks(ROWS_PER_LOAD) {
                self.tx.save_conditions(chunk).await?;
            }
            self.saved.clear();
        }
        Ok(())
    }

    async fn flush_events(&mut self) -> Result<()> {
        if !self.events.is_empty() {
            for chunk in self.events.chunks(ROWS_PER_LOAD) {
                self.tx.insert_events(chunk).await?;
            }
            self.events.clear();
        }
        Ok(())
    }

    async fn flush_tickets(&mut self) -> Result<()> {
        if !self.patches.is_empty() {
            let mut patches: Vec<(i64, TicketPatch)> = self.patches.drain().collect();
            patches.sort_unstable_by_key(|(id, _)| *id);
            for chunk in patches.chunks(ROWS_PER_LOAD) {
                self.tx.patch_tickets(chunk).await?;
            }
        }
        Ok(())
    }

    /// The transaction, with every kept write sent (before a statement that writes).
    async fn through(&mut self) -> Result<&mut T> {
        self.flush().await?;
        Ok(&mut *self.tx)
    }

    /// The transaction, with the kept conditions sent (before a read of conditions).
    async fn conditions_through(&mut self) -> Result<&mut T> {
        self.flush_conditions().await?;
        Ok(&mut *self.tx)
    }

    /// The transaction, with the kept ticket rows sent (before a read of tickets).
    async fn tickets_through(&mut self) -> Result<&mut T> {
        self.flush_tickets().await?;
        Ok(&mut *self.tx)
    }

    fn remember(&mut self, ticket: TicketRecord, key: String) -> TicketRecord {
        self.tickets.insert(ticket.id, (ticket.clone(), key));
        ticket
    }

    /// A statement may have changed the ticket: read it again when next needed.
    fn forget_ticket(&mut self, id: i64) {
        match self.tickets.remove(&id) {
            Some((_, key)) => {
                self.latest.remove(&key);
                self.open.remove(&key);
            }
            None => {
                // Not read in this group (an open ticket found by `open_tickets_of`,
                // `outages_for` or `joinable_report`, or one opened here): whatever key it
                // has, no answer may stand that could have named or missed it.
                self.latest.retain(|_, v| v.is_some_and(|v| v != id));
                self.open.retain(|_, v| v.is_some_and(|v| v != id));
            }
        }
    }

    /// The key's latest or open ticket: from memory when this group read it (and nothing
    /// since may have changed the answer), else from the database.
    async fn ticket_by_key(&mut self, which: ByKey, key: &str) -> Result<Option<TicketRecord>> {
        let answers = match which {
            ByKey::Latest => &self.latest,
            ByKey::Open => &self.open,
        };
        match answers.get(key) {
            Some(None) => return Ok(None),
            Some(Some(id)) => {
                if let Some((ticket, _)) = self.tickets.get(id) {
                    return Ok(Some(ticket.clone()));
                }
            }
            None => {}
        }
        let keys = [key.to_owned()];
        let by = match which {
            ByKey::Latest => TicketsBy::LatestForKeys(&keys),
            ByKey::Open => TicketsBy::OpenForKeys(&keys),
        };
        let found = self.tickets_through().await?.load_tickets(by).await?;
        let ticket = found
            .into_iter()
            .next()
            .map(|(ticket, key)| self.remember(ticket, key));
        let answers = match which {
            ByKey::Latest => &mut self.latest,
            ByKey::Open => &mut self.open,
        };
        answers.insert(key.to_owned(), ticket.as_ref().map(|t| t.id));
        Ok(ticket)
    }

    fn patch(&mut self, id: i64) -> &mut TicketPatch {
        self.patches.entry(id).or_default()
    }
}

impl<T: GroupSql> TicketSql for Group<'_, T> {
    async fn lock_check_names(&mut self, checks: &[String]) -> Result<()> {
        self.through().await?.lock_check_names(checks).await
    }

    async fn device_row(&mut self, device_id: &str) -> Result<Option<(String, bool)>> {
        if let Some(row) = self.devices.get(device_id) {
            return Ok(row.clone());
        }
        let row = self.tx.device_row(device_id).await?;
        self.devices.insert(device_id.to_owned(), row.clone());
        Ok(row)
    }

    async fn scopes_of(&mut self, device_id: &str) -> Result<Vec<String>> {
        if let Some(scopes) = self.scopes.get(device_id) {
            return Ok(scopes.clone());
        }
        let scopes = self.tx.scopes_of(device_id).await?;
        self.scopes.insert(device_id.to_owned(), scopes.clone());
        Ok(scopes)
    }

    async fn condition(
        &mut self,
        device_id: &str,
        check: &str,
        resource: &str,
    ) -> Result<Option<ConditionView>> {
        let key = (device_id.to_owned(), check.to_owned(), resource.to_owned());
        if let Some(condition) = self.conditions.get(&key) {
            return Ok(condition.clone());
        }
        let condition = self
            .conditions_through()
            .await?
            .condition(device_id, check, resource)
            .await?;
        self.conditions.insert(key, condition.clone());
        Ok(condition)
    }

    async fn device_conditions(&mut self, device_id: &str) -> Result<Vec<ConditionView>> {
        self.conditions_through()
            .await?
            .device_conditions(device_id)
            .await
    }

    async fn conditions_feeding(&mut self, ticket_id: i64) -> Result<Vec<ConditionView>> {
        self.conditions_through()
            .await?
            .conditions_feeding(ticket_id)
            .await
    }

    async fn ticket(&mut self, id: i64) -> Result<Option<TicketRecord>> {
        if let Some((ticket, _)) = self.tickets.get(&id) {
            return Ok(Some(ticket.clone()));
        }
        let found = self
            .tickets_through()
            .await?
            .load_tickets(TicketsBy::Ids(&[id]))
            .await?;
        Ok(found
            .into_iter()
            .next()
            .map(|(ticket, key)| self.remember(ticket, key)))
    }

    async fn latest_ticket(&mut self, key: &str) -> Result<Option<TicketRecord>> {
        self.ticket_by_key(ByKey::Latest, key).await
    }

    async fn open_ticket(&mut self, key: &str) -> Result<Option<TicketRecord>> {
        self.ticket_by_key(ByKey::Open, key).await
    }

    async fn scope_size(&mut self, scope: &str) -> Result<u32> {
        // An application's scope is counted on conditions, which this group may change.
        if scope.starts_with("app=") {
            return self.conditions_through().await?.scope_size(scope).await;
        }
        if let Some(size) = self.scope_sizes.get(scope) {
            return Ok(*size);
        }
        let size = self.tx.scope_size(scope).await?;
        self.scope_sizes.insert(scope.to_owned(), size);
        Ok(size)
    }

    async fn open_tickets_of(&mut self, device_id: &str) -> Result<Vec<TicketRecord>> {
        self.tickets_through()
            .await?
            .open_tickets_of(device_id)
            .await
    }

    async fn recent_firing(
        &mut self,
        check: &str,
        scope: &str,
        except_device: &str,
        since_ms: i64,
        min_severity: Severity,
    ) -> Result<Vec<(Peer, Option<i64>)>> {
        // An application's scope is kept on the conditions themselves: read it through.
        if scope.starts_with("app=") {
            return self
                .conditions_through()
                .await?
                .recent_firing(check, scope, except_device, since_ms, min_severity)
                .await;
        }
        let entry = (check.to_owned(), scope.to_owned());
        if !self.scope_firing.contains_key(&entry) {
            let rows = self.tx.load_scope_firing(check, scope).await?;
            self.scope_firing.insert(entry.clone(), rows);
        }
        // The group's own conditions of this check, on devices of the scope.
        let mut held: Vec<ConditionView> = Vec::new();
        let mut devices: Vec<String> = Vec::new();
        for ((device, key_check, _), condition) in &self.conditions {
            if key_check == check
                && let Some(condition) = condition
            {
                held.push(condition.clone());
                devices.push(device.clone());
            }
        }
        devices.sort();
        devices.dedup();
        let mut facts: HashMap<String, (String, bool)> = HashMap::new();
        for device in devices {
            if self.scopes_of(&device).await?.iter().any(|s| s == scope)
                && let Some(row) = self.device_row(&device).await?
            {
                facts.insert(device, row);
            }
        }
        let mut candidates: Vec<NamedCondition> = held
            .into_iter()
            .filter_map(|condition| {
                let (hostname, vip) = facts.get(&condition.device_id)?.clone();
                Some((condition, hostname, vip))
            })
            .collect();
        for (condition, hostname, vip) in &self.scope_firing[&entry] {
            let key = (
                condition.device_id.clone(),
                condition.check.clone(),
                condition.resource.clone(),
            );
            if !self.conditions.contains_key(&key) {
                candidates.push((condition.clone(), hostname.clone(), *vip));
            }
        }
        let severities = severities_from(min_severity);
        candidates.retain(|(c, _, _)| {
            c.device_id != except_device
                && c.observed_firing
                && c.state != ConditionState::Resolved
                && c.since_ms >= since_ms
                && severities.contains(&c.severity.as_str())
        });
        // A condition an open incident holds already is not a recent peer.
        let mut unread: Vec<i64> = candidates
            .iter()
            .filter_map(|(c, _, _)| c.ticket_id)
            .filter(|id| !self.tickets.contains_key(id))
            .collect();
        unread.sort_unstable();
        unread.dedup();
        if !unread.is_empty() {
            self.flush_tickets().await?;
            for chunk in unread.chunks(ROWS_PER_LOAD) {
                for (ticket, key) in self.tx.load_tickets(TicketsBy::Ids(chunk)).await? {
                    self.remember(ticket, key);
                }
            }
        }
        candidates.retain(|(c, _, _)| {
            !c.ticket_id
                .and_then(|id| self.tickets.get(&id))
                .is_some_and(|(t, _)| t.kind == TicketKind::Incident && t.state.is_open())
        });
        candidates.sort_by(|(a, _, _), (b, _, _)| {
            (a.since_ms, &a.device_id, &a.resource).cmp(&(b.since_ms, &b.device_id, &b.resource))
        });
        Ok(candidates
            .into_iter()
            .map(|(c, hostname, vip)| {
                (
                    Peer {
                        device_id: c.device_id,
                        hostname,
                        check: c.check,
                        resource: c.resource,
                        vip,
                        ticket: None,
                    },
                    c.ticket_id,
                )
            })
            .collect())
    }

    async fn still_firing(&mut self, ticket_id: i64, except_device: &str) -> Result<Vec<Peer>> {
        if !self.ticket_firing.contains_key(&ticket_id) {
            let rows = self.tx.load_ticket_firing(ticket_id).await?;
            self.ticket_firing.insert(ticket_id, rows);
        }
        let held: Vec<ConditionView> = self
            .conditions
            .values()
            .flatten()
            .filter(|c| c.ticket_id == Some(ticket_id) && c.observed_firing)
            .cloned()
            .collect();
        let mut firing: Vec<NamedCondition> = Vec::new();
        for condition in held {
            if let Some((hostname, vip)) = self.device_row(&condition.device_id).await? {
                firing.push((condition, hostname, vip));
            }
        }
        for (condition, hostname, vip) in &self.ticket_firing[&ticket_id] {
            let key = (
                condition.device_id.clone(),
                condition.check.clone(),
                condition.resource.clone(),
            );
            if !self.conditions.contains_key(&key) {
                firing.push((condition.clone(), hostname.clone(), *vip));
            }
        }
        firing.retain(|(c, _, _)| c.device_id != except_device);
        firing.sort_by(|(a, _, _), (b, _, _)| {
            (&a.device_id, &a.resource, &a.check).cmp(&(&b.device_id, &b.resource, &b.check))
        });
        Ok(firing
            .into_iter()
            .map(|(c, hostname, vip)| Peer {
                device_id: c.device_id,
                hostname,
                check: c.check,
                resource: c.resource,
                vip,
                ticket: None,
            })
            .collect())
    }

    async fn known_fixes(&mut self, fingerprint: &str) -> Result<Vec<KnownFix>> {
        if let Some(fixes) = self.known_fixes.get(fingerprint) {
            return Ok(fixes.clone());
        }
        let fixes = self.tx.known_fixes(fingerprint).await?;
        self.known_fixes
            .insert(fingerprint.to_owned(), fixes.clone());
        Ok(fixes)
    }

    async fn fingerprint_history(
        &mut self,
        fingerprint: &str,
        since_ms: i64,
    ) -> Result<(u32, bool)> {
        let known = self
            .fingerprints
            .get(fingerprint)
            .is_some_and(|(read_since, _, _)| *read_since <= since_ms);
        if !known {
            let (opened, flagged) = self.tx.fingerprint_opened(fingerprint, since_ms).await?;
            self.fingerprints
                .insert(fingerprint.to_owned(), (since_ms, opened, flagged));
        }
        let (_, opened, flagged) = &self.fingerprints[fingerprint];
        let tickets = opened.iter().filter(|at| **at >= since_ms).count();
        Ok((u32::try_from(tickets).unwrap_or(u32::MAX), *flagged))
    }

    async fn apply_one(
        &mut self,
        action: &Action,
        opened: &[i64],
        now_ms: i64,
    ) -> Result<Option<i64>> {
        // The writes kept for the flush.
        match action {
            Action::SaveCondition {
                condition,
                ticket,
                app_scope,
                summary,
                evidence_json,
            } => {
                let mut condition = condition.clone();
                condition.ticket_id = match ticket {
                    Some(reference) => Some(resolve(*reference, opened)?),
                    None => None,
                };
                let key = (
                    condition.device_id.clone(),
                    condition.check.clone(),
                    condition.resource.clone(),
                );
                self.conditions.insert(key.clone(), Some(condition.clone()));
                self.saved.insert(
                    key,
                    SavedCondition {
                        condition,
                        app_scope: app_scope.clone(),
                        summary: summary.clone(),
                        evidence_json: evidence_json.clone(),
                        updated_at_ms: now_ms,
                    },
                );
                return Ok(None);
            }
            Action::Note {
                ticket,
                kind,
                actor,
                text,
                data_json,
                at_ms,
            } if *kind != crate::tickets::NoteKind::Reply => {
                let id = resolve(*ticket, opened)?;
                self.events.push(NewEvent {
                    ticket_id: id,
                    at_ms: *at_ms,
                    kind: kind.as_str(),
                    actor: actor.clone(),
                    text: text.clone(),
                    data_json: data_json.clone(),
                });
                self.patch(id).updated_at_ms = Some(*at_ms);
                if let Some((ticket, _)) = self.tickets.get_mut(&id) {
                    ticket.updated_at_ms = *at_ms;
                }
                return Ok(None);
            }
            Action::SetPriority {
                ticket,
                impact,
                urgency,
                priority,
                response_due_ms,
                resolution_due_ms,
            } => {
                let id = resolve(*ticket, opened)?;
                self.patch(id).priority = Some(PriorityPatch {
                    impact: *impact,
                    urgency: *urgency,
                    priority: *priority,
                    response_due_ms: *response_due_ms,
                    resolution_due_ms: *resolution_due_ms,
                });
                if let Some((ticket, _)) = self.tickets.get_mut(&id) {
                    ticket.impact = *impact;
                    ticket.urgency = *urgency;
                    ticket.priority = *priority;
                    ticket.response_due_ms = *response_due_ms;
                    ticket.resolution_due_ms = *resolution_due_ms;
                }
                return Ok(None);
            }
            // A change to a condition this group is about to save goes into the saved row.
            Action::SetConditionState {
                device_id,
                check,
                resource,
                state,
                at_ms,
            } if let Some(saved) =
                self.saved
                    .get_mut(&(device_id.clone(), check.clone(), resource.clone())) =>
            {
                saved.condition.state = *state;
                saved.updated_at_ms = *at_ms;
                self.conditions.insert(
                    (device_id.clone(), check.clone(), resource.clone()),
                    Some(saved.condition.clone()),
                );
                return Ok(None);
            }
            Action::ReleaseCondition {
                device_id,
                check,
                resource,
                at_ms,
            } if let Some(saved) =
                self.saved
                    .get_mut(&(device_id.clone(), check.clone(), resource.clone())) =>
            {
                saved.condition.ticket_id = None;
                saved.updated_at_ms = *at_ms;
                self.conditions.insert(
                    (device_id.clone(), check.clone(), resource.clone()),
                    Some(saved.condition.clone()),
                );
                return Ok(None);
            }
            Action::AttachCondition {
                device_id,
                check,
                resource,
                ticket,
            } if self
                .saved
                .contains_key(&(device_id.clone(), check.clone(), resource.clone())) =>
            {
                let id = resolve(*ticket, opened)?;
                let key = (device_id.clone(), check.clone(), resource.clone());
                if let Some(saved) = self.saved.get_mut(&key) {
                    saved.condition.ticket_id = Some(id);
                    self.conditions.insert(key, Some(saved.condition.clone()));
                }
                return Ok(None);
            }
            Action::AddDevice {
                ticket,
                device_id,
                at_ms,
            } => {
                // It writes the ticket's device count and last activity only: the kept
                // last-activity write takes its time, so the flush leaves the right one.
                let id = resolve(*ticket, opened)?;
                if !self.in_incident.insert((id, device_id.clone())) {
                    return Ok(None);
                }
                if let Some(count) = self.tx.add_device(id, device_id, *at_ms).await? {
                    self.patch(id).updated_at_ms = Some(*at_ms);
                    if let Some((ticket, _)) = self.tickets.get_mut(&id) {
                        ticket.device_count = count;
                        ticket.updated_at_ms = *at_ms;
                    }
                }
                return Ok(None);
            }
            _ => {}
        }
        // Send first what the statement could read or overwrite: a condition's own row, a
        // timeline's order, a ticket's columns.
        match action {
            // A condition's own row only, and this group holds no change to it.
            Action::SetConditionState { .. }
            | Action::ReleaseCondition { .. }
            | Action::AttachCondition { .. } => {}
            Action::Note { .. } => {
                self.flush_events().await?;
                self.flush_tickets().await?;
            }
            // It marks the device recovered in the incident's device list and reads nothing.
            Action::DeviceRecovered { .. } => {}
            _ => self.flush_tickets().await?,
        }
        let outcome = self.tx.apply_one(action, opened, now_ms).await?;
        // Forget what the statement may have changed. Every action is named, so a new one
        // must say what it changes.
        match action {
            Action::SaveCondition { .. }
            | Action::SetPriority { .. }
            | Action::AddDevice { .. } => {}
            Action::SetConditionState {
                device_id,
                check,
                resource,
                ..
            }
            | Action::ReleaseCondition {
                device_id,
                check,
                resource,
                ..
            }
            | Action::AttachCondition {
                device_id,
                check,
                resource,
                ..
            } => {
                self.conditions
                    .remove(&(device_id.clone(), check.clone(), resource.clone()));
                self.scope_firing.retain(|(c, _), _| c != check);
                self.ticket_firing.clear();
            }
            Action::OpenTicket(new) => {
                self.latest.remove(&new.key);
                self.open.remove(&new.key);
                self.fingerprints.remove(&new.fingerprint);
            }
            Action::SetState { ticket, .. }
            | Action::Note { ticket, .. }
            | Action::SetTier { ticket, .. }
            | Action::Assign { ticket, .. }
            | Action::Touch { ticket, .. }
            | Action::SlaBreached { ticket, .. }
            | Action::Pending { ticket, .. }
            | Action::LinkIncident { ticket, .. } => {
                self.forget_ticket(resolve(*ticket, opened)?);
            }
            Action::MoveReports { from, to } => {
                self.forget_ticket(resolve(*from, opened)?);
                self.forget_ticket(resolve(*to, opened)?);
            }
            Action::RecordSolution { fingerprint, .. } => {
                self.known_fixes.remove(fingerprint);
            }
            Action::FlagProblem { fingerprint, .. } => {
                self.fingerprints.remove(fingerprint);
            }
            Action::DeviceRecovered {
                ticket, device_id, ..
            } => {
                self.in_incident
                    .remove(&(resolve(*ticket, opened)?, device_id.clone()));
            }
            Action::Link { .. } | Action::Notify { .. } | Action::RecordReport { .. } => {}
        }
        Ok(outcome)
    }

    async fn report_taken(&mut self, device_id: &str, report_id: &str) -> Result<Option<i64>> {
        self.tx.report_taken(device_id, report_id).await
    }

    async fn joinable_report(
        &mut self,
        device_id: &str,
        requester: Option<&str>,
        group_key: &str,
        since_ms: i64,
    ) -> Result<Option<(TicketRecord, i64)>> {
        self.tickets_through()
            .await?
            .joinable_report(device_id, requester, group_key, since_ms)
            .await
    }

    async fn outages_for(&mut self, device_id: &str) -> Result<Vec<(TicketRecord, bool)>> {
        self.tickets_through().await?.outages_for(device_id).await
    }
}
