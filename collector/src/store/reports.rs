//! User reports as their makers see them: which ticket took a report and how (opened, joined
//! their open one, or a known outage), from `report_links` (migration 0012).

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Store, StoreError};
use crate::tickets::ReportHow;

/// Which ticket took a user's report, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReportOutcome {
    pub ticket_id: i64,
    pub how: ReportHow,
}

impl Store {
    /// The ticket that took report `report_id` (the `user.report` finding's resource) of the
    /// device, and how; `None` while the report has not been decided (or never came).
    pub async fn report_outcome(
        &self,
        device_id: &str,
        report_id: &str,
    ) -> Result<Option<ReportOutcome>, StoreError> {
        let row = with_pool!(self, pool => {
            sqlx::query("SELECT ticket_id, how FROM report_links WHERE device_id = $1 AND report_id = $2")
                .bind(device_id)
                .bind(report_id)
                .fetch_optional(pool)
                .await?
                .map(|row| -> Result<(i64, String), sqlx::Error> {
                    Ok((row.try_get("ticket_id")?, row.try_get("how")?))
                })
                .transpose()?
        });
        let Some((ticket_id, how)) = row else {
            return Ok(None);
        };
        let how = ReportHow::parse(&how).ok_or_else(|| StoreError::Corrupt {
            what: "report link",
            detail: format!("report {report_id} of device {device_id}: unknown outcome {how:?}"),
        })?;
        Ok(Some(ReportOutcome { ticket_id, how }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Inventory, Severity};
    use crate::store::NewDevice;
    use crate::store::tests::{TestStore, backends};
    use crate::store::tickets::TicketFilter;
    use crate::tickets::{Policy, TicketKind, TicketState};

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const T0: i64 = 1_800_000_000_000;

    async fn enroll(store: &Store, id: &str) {
        store
            .insert_token(id.as_bytes(), 0, i64::MAX)
            .await
            .expect("token");
        let device = NewDevice {
            id: id.to_owned(),
            hostname: format!("pc-{id}"),
            agent_version: "0.1.0".to_owned(),
            certificate_serial: "01".to_owned(),
            certificate_not_after_ms: i64::MAX,
        };
        store
            .enroll_device(id.as_bytes(), 1, &device)
            .await
            .expect("enroll");
        let inventory = Inventory {
            hostname: format!("pc-{id}"),
            site: "hq".to_owned(),
            dns_servers: vec!["192.0.2.53".to_owned()],
            ..Inventory::default()
        };
        store
            .store_inventory(id, &inventory, T0)
            .await
            .expect("inventory");
    }

    /// A report of `account` with id `report_id`, whose first failing layer is `layer`.
    fn report(sequence: u64, report_id: &str, account: &str, layer: &str, words: &str) -> Finding {
        let evidence = serde_json::json!({
            "text": words,
            "failed_layer": layer,
            "conclusion": "The name cannot be looked up",
            "reporter": {"uid": 1000, "account": account},
            "playbooks": [{"playbook": "web", "target": "intranet.example.com"}],
        });
        Finding {
            sequence,
            check: crate::tickets::USER_REPORT.to_owned(),
            resource: report_id.to_owned(),
            severity: Severity::Warning,
            summary: words.to_owned(),
            evidence_json: evidence.to_string(),
            observed_at_ms: T0,
        }
    }

    fn check(sequence: u64, check: &str, severity: Severity) -> Finding {
        Finding {
            sequence,
            check: check.to_owned(),
            resource: "intranet.example.com".to_owned(),
            severity,
            summary: format!("{check} {}", severity.as_str()),
            evidence_json: "{}".to_owned(),
            observed_at_ms: T0,
        }
    }

    async fn store_one(store: &Store, device: &str, finding: Finding, at_ms: i64) {
        let sequence = finding.sequence;
        store
            .store_findings(device, &[finding], sequence, at_ms)
            .await
            .expect("store findings");
    }

    async fn outcome(store: &Store, device: &str, report_id: &str) -> Option<(i64, ReportHow)> {
        store
            .report_outcome(device, report_id)
            .await
            .expect("report outcome")
            .map(|outcome| (outcome.ticket_id, outcome.how))
    }

    async fn open_reports(store: &Store) -> Vec<i64> {
        let filter = TicketFilter {
            state: Some("open".to_owned()),
            kind: Some(TicketKind::Report),
            ..TicketFilter::default()
        };
        let mut ids: Vec<i64> = store
            .tickets(&filter)
            .await
            .expect("tickets")
            .iter()
            .map(|t| t.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[tokio::test]
    async fn repeated_reports_join_the_requesters_ticket_and_link_once() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            enroll(store, "a").await;
            // A disk ticket open on the device: the report links to it once.
            store_one(store, "a", check(1, "disk.used_pct", Severity::Warning), T0).await;
            let disk = store
                .tickets(&TicketFilter::default())
                .await
                .expect("tickets")[0]
                .id;

            let words = "I can't open the intranet";
            store_one(store, "a", report(2, "r1", "alice", "dns", words), T0).await;
            let first = open_reports(store).await;
            assert_eq!(first.len(), 1, "{backend}");
            let ticket = first[0];
            assert_eq!(
                outcome(store, "a", "r1").await,
                Some((ticket, ReportHow::Opened)),
                "{backend}"
            );
            for (n, minute) in (3..8).zip(1..) {
                let id = format!("r{n}");
                let words = format!("still broken, try {minute}");
                store_one(
                    store,
                    "a",
                    report(n, &id, "alice", "dns", &words),
                    T0 + minute * MINUTE,
                )
                .await;
                assert_eq!(
                    outcome(store, "a", &id).await,
                    Some((ticket, ReportHow::Joined)),
                    "{backend}: {id}"
                );
            }
            assert_eq!(open_reports(store).await, [ticket], "{backend}: one ticket");
            let detail = store
                .ticket_detail(ticket)
                .await
                .expect("detail")
                .expect("ticket");
            let again: Vec<_> = detail
                .timeline
                .iter()
                .filter(|e| e.kind == "report")
                .collect();
            assert_eq!(again.len(), 5, "{backend}: {:?}", detail.timeline);
            assert_eq!(again[0].actor.as_deref(), Some("alice"), "{backend}");
            assert_eq!(
                again[0].text, "alice reported again: still broken, try 1",
                "{backend}"
            );
            let related: Vec<_> = detail
                .timeline
                .iter()
                .filter(|e| e.kind == "related")
                .collect();
            assert_eq!(related.len(), 1, "{backend}: linked once");
            assert!(
                related[0]
                    .text
                    .contains(&format!("#{disk} (disk.used_pct)")),
                "{backend}"
            );
            let disk_detail = store
                .ticket_detail(disk)
                .await
                .expect("detail")
                .expect("ticket");
            assert!(
                disk_detail.timeline.iter().all(|e| e.kind != "related"),
                "{backend}: no note on the device's ticket: {:?}",
                disk_detail.timeline
            );
            assert_eq!(
                disk_detail.linked_tickets,
                [ticket],
                "{backend}: the link shows there"
            );

            // The same id again (a second finding for one report) is not decided twice.
            store_one(
                store,
                "a",
                report(8, "r1", "alice", "dns", words),
                T0 + 10 * MINUTE,
            )
            .await;
            assert_eq!(open_reports(store).await, [ticket], "{backend}");

            // Another person, another failure, or after the window: a ticket of its own.
            store_one(
                store,
                "a",
                report(9, "r9", "bob", "dns", words),
                T0 + 11 * MINUTE,
            )
            .await;
            store_one(
                store,
                "a",
                report(10, "r10", "alice", "tls", words),
                T0 + 12 * MINUTE,
            )
            .await;
            store_one(
                store,
                "a",
                report(11, "r11", "alice", "dns", words),
                T0 + 5 * MINUTE + 25 * HOUR,
            )
            .await;
            for id in ["r9", "r10", "r11"] {
                let (other, how) = outcome(store, "a", id).await.expect("decided");
                assert_eq!(how, ReportHow::Opened, "{backend}: {id}");
                assert_ne!(other, ticket, "{backend}: {id}");
            }
            assert_eq!(open_reports(store).await.len(), 4, "{backend}");
            assert_eq!(outcome(store, "a", "r404").await, None, "{backend}");
            assert_eq!(
                outcome(store, "b", "r1").await,
                None,
                "{backend}: another device's"
            );
        }
    }

    #[tokio::test]
    async fn a_report_an_open_incident_explains_attaches_to_it_as_a_known_outage() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let mut policy = Policy::default();
            policy.correlation.min_devices = 3;
            let store = store.clone().with_policy(policy);
            for id in ["d1", "d2", "d3", "e"] {
                enroll(&store, id).await;
            }
            for id in ["d1", "d2", "d3"] {
                store_one(&store, id, check(1, "dns.resolve", Severity::Warning), T0).await;
            }
            let open = store
                .tickets(&TicketFilter {
                    state: Some("open".to_owned()),
                    ..TicketFilter::default()
                })
                .await
                .expect("tickets");
            let incident = open
                .iter()
                .find(|t| t.kind == TicketKind::Incident)
                .unwrap_or_else(|| panic!("{backend}: an incident forms: {open:?}"))
                .id;

            // e is not failing itself but is in the incident's scope (its resolver); d1 is listed.
            store_one(
                &store,
                "e",
                report(1, "r1", "carol", "dns", "no intranet"),
                T0 + MINUTE,
            )
            .await;
            store_one(
                &store,
                "d1",
                report(2, "r2", "dave", "dns", "nothing loads"),
                T0 + MINUTE,
            )
            .await;
            for (device, id) in [("e", "r1"), ("d1", "r2")] {
                assert_eq!(
                    outcome(&store, device, id).await,
                    Some((incident, ReportHow::KnownOutage)),
                    "{backend}: {device}"
                );
            }
            assert!(
                open_reports(&store).await.is_empty(),
                "{backend}: no report tickets"
            );
            let detail = store
                .ticket_detail(incident)
                .await
                .expect("detail")
                .expect("incident");
            assert_eq!(detail.ticket.state, TicketState::New, "{backend}");
            let reports: Vec<_> = detail
                .timeline
                .iter()
                .filter(|e| e.kind == "report")
                .collect();
            assert_eq!(reports.len(), 2, "{backend}: {:?}", detail.timeline);
            assert!(
                reports[0]
                    .text
                    .starts_with("carol on pc-e reported: no intranet"),
                "{backend}"
            );
            for user in ["carol", "dave"] {
                assert!(
                    detail.ticket.affected_users.iter().any(|u| u == user),
                    "{backend}: {user} in {:?}",
                    detail.ticket.affected_users
                );
            }
            let listed = store
                .tickets(&TicketFilter::default())
                .await
                .expect("tickets");
            let listed = listed.iter().find(|t| t.id == incident).expect("listed");
            assert!(
                listed.affected_users.iter().any(|u| u == "carol"),
                "{backend}"
            );

            // A full disk is not explained by a DNS incident.
            store_one(
                &store,
                "e",
                report(3, "r3", "carol", "space", "cannot save"),
                T0 + 2 * MINUTE,
            )
            .await;
            let (ticket, how) = outcome(&store, "e", "r3").await.expect("decided");
            assert_eq!(how, ReportHow::Opened, "{backend}");
            assert_eq!(open_reports(&store).await, [ticket], "{backend}");
        }
    }

    async fn feedback(
        store: &Store,
        ticket_id: i64,
        account: &str,
        answer: &str,
        rating: Option<i32>,
        at_ms: i64,
    ) {
        with_pool!(store, pool => {
            sqlx::query("INSERT INTO ticket_feedback (ticket_id, account, answer, rating, at_ms) VALUES ($1, $2, $3, $4, $5)")
                .bind(ticket_id)
                .bind(account)
                .bind(answer)
                .bind(rating)
                .bind(at_ms)
                .execute(pool)
                .await
                .expect("insert feedback");
        });
    }

    #[tokio::test]
    async fn stats_count_what_checks_found_first_known_outages_fixed_answers_and_csat() {
        for TestStore { store, .. } in &backends().await {
            let backend = store.backend_name();
            let mut policy = Policy::default();
            policy.correlation.min_devices = 3;
            let store = store.clone().with_policy(policy);
            for id in ["d1", "d2", "d3", "e"] {
                enroll(&store, id).await;
            }
            for id in ["d1", "d2", "d3"] {
                store_one(&store, id, check(1, "dns.resolve", Severity::Warning), T0).await;
            }
            // A known outage (a check found it first), then a report no check had seen.
            store_one(
                &store,
                "e",
                report(1, "r1", "carol", "dns", "no intranet"),
                T0 + MINUTE,
            )
            .await;
            store_one(
                &store,
                "e",
                report(2, "r2", "dan", "space", "cannot save"),
                T0 + MINUTE,
            )
            .await;
            let (dans, _) = outcome(&store, "e", "r2").await.expect("decided");
            let (incident, _) = outcome(&store, "e", "r1").await.expect("decided");
            // A disk ticket no one reported.
            store_one(
                &store,
                "d2",
                check(2, "disk.used_pct", Severity::Warning),
                T0 + 2 * MINUTE,
            )
            .await;

            feedback(&store, dans, "dan", "not_fixed", Some(2), T0 + 3 * MINUTE).await;
            feedback(&store, dans, "dan", "fixed", Some(5), T0 + 4 * MINUTE).await;
            feedback(&store, dans, "frank", "not_fixed", Some(1), T0 + 4 * MINUTE).await;
            feedback(&store, incident, "carol", "fixed", None, T0 + 5 * MINUTE).await;
            // Outside the period: not counted.
            feedback(
                &store,
                incident,
                "gina",
                "not_fixed",
                Some(1),
                T0 + 2 * HOUR,
            )
            .await;

            let stats = store.stats(T0 - HOUR, T0 + HOUR).await.expect("stats");
            let people = &stats.people;
            assert_eq!(stats.tickets_opened, 3, "{backend}: {stats:?}");
            assert_eq!(
                (
                    people.reports,
                    people.reports_found_by_checks_first,
                    people.reports_known_outage,
                    people.reports_joined
                ),
                (2, 1, 1, 0),
                "{backend}: {people:?}"
            );
            assert_eq!(people.found_before_reported_share, Some(0.5), "{backend}");
            assert_eq!(people.known_outage_share, Some(0.5), "{backend}");
            assert_eq!(
                people.tickets_by_checks_without_report, 1,
                "{backend}: the disk ticket only"
            );
            assert_eq!(
                people.opened_by_checks_without_report_share,
                Some(1.0 / 3.0),
                "{backend}"
            );
            assert_eq!(
                (people.fixed_answers, people.fixed_confirmed),
                (3, 2),
                "{backend}: latest answers"
            );
            assert_eq!(people.fixed_confirmed_share, Some(2.0 / 3.0), "{backend}");
            assert_eq!(
                (people.csat_average, people.csat_ratings),
                (Some(3.0), 2),
                "{backend}"
            );

            let empty = store
                .stats(T0 + 3 * HOUR, T0 + 4 * HOUR)
                .await
                .expect("stats");
            assert_eq!(empty.people.reports, 0, "{backend}");
            assert_eq!(empty.people.found_before_reported_share, None, "{backend}");
            assert_eq!(empty.people.csat_average, None, "{backend}");
        }
    }
}
