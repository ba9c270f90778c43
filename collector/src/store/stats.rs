//! What supervisors measure, and the knowledge base: computed from the tickets of a window
//! (MTTA/MTTR median and p90 per priority, SLA attainment, backlog ageing, noise compression,
//! the auto-resolved share, top recurring problems), what only Firstline can count (problems
//! checks found before people reported them, known outages, "fixed" answers, CSAT) and from
//! the solutions log.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::{Backend, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub since_ms: i64,
    pub until_ms: i64,
    pub tickets_opened: u64,
    pub findings_received: u64,
    /// Findings received per ticket opened: how much noise the engine absorbed.
    pub noise_compression: Option<f64>,
    pub resolved: u64,
    /// Share of resolved tickets that resolved themselves (the fault cleared).
    pub auto_resolved_share: Option<f64>,
    pub by_category: BTreeMap<String, u64>,
    pub by_site: BTreeMap<String, u64>,
    pub by_technician: BTreeMap<String, u64>,
    pub by_priority: Vec<PriorityStats>,
    /// Open tickets by age: under an hour, a day, a week, and older.
    pub backlog_ageing: BTreeMap<&'static str, u64>,
    pub top_recurring: Vec<Recurring>,
    pub people: PeopleStats,
    /// Fixes run by agents (all time, every site): outcomes, the verified-fix rate, the
    /// self-healed share and the time to fix, automatic against by staff.
    pub fixes: crate::store::fixes::FixStats,
}

/// What only Firstline can count: whether checks found problems before people reported them,
/// and what people said when asked. Reports are counted by when they came, tickets by when
/// they opened, answers by when they were given, all within the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PeopleStats {
    /// User reports received (each once, whichever ticket took it).
    pub reports: u64,
    /// Reports a check had found first: when the report came, a ticket a check raised about
    /// the same device and area (its first failing layer: DNS, network, web, disk…) was open,
    /// or an open incident explained it.
    pub reports_found_by_checks_first: u64,
    /// `reports_found_by_checks_first` of `reports`.
    pub found_before_reported_share: Option<f64>,
    /// Reports an open incident explained: the user was told it is a known outage, and no
    /// ticket was opened.
    pub reports_known_outage: u64,
    /// `reports_known_outage` of `reports`.
    pub known_outage_share: Option<f64>,
    /// Reports that joined their requester's open ticket about the same thing.
    pub reports_joined: u64,
    /// Tickets (not cancelled) opened by checks (device tickets and incidents) that no user
    /// report reached: none was linked to them or explained by them.
    pub tickets_by_checks_without_report: u64,
    /// `tickets_by_checks_without_report` of all tickets opened (`Stats::tickets_opened`).
    pub opened_by_checks_without_report_share: Option<f64>,
    /// Requesters who answered "Is it fixed?" (their latest answer per ticket).
    pub fixed_answers: u64,
    /// Of them, those whose answer was "Yes, fixed".
    pub fixed_confirmed: u64,
    /// `fixed_confirmed` of `fixed_answers`.
    pub fixed_confirmed_share: Option<f64>,
    /// CSAT: the average rating (1–5) of those latest answers that have one.
    pub csat_average: Option<f64>,
    /// How many ratings the average is of.
    pub csat_ratings: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PriorityStats {
    pub priority: u8,
    pub opened: u64,
    pub mtta_median_secs: Option<f64>,
    pub mtta_p90_secs: Option<f64>,
    pub mttr_median_secs: Option<f64>,
    pub mttr_p90_secs: Option<f64>,
    /// Share of tickets with a first response that came before the response target.
    pub response_sla_met: Option<f64>,
    /// Share of resolved tickets resolved before the resolution target.
    pub resolution_sla_met: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Recurring {
    pub fingerprint: String,
    pub tickets: u64,
    pub problem_candidate: bool,
}

/// One fingerprint in the knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KnowledgeEntry {
    pub fingerprint: String,
    pub check: String,
    pub problem_candidate: bool,
    pub solutions: Vec<crate::tickets::KnownFix>,
}

/// The value at `fraction` (0.5 median, 0.9 p90) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (fraction * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Store {
    /// Supervisor statistics for tickets opened in `since_ms..until_ms`.
    pub async fn stats(&self, since_ms: i64, until_ms: i64) -> Result<Stats, StoreError> {
        struct Row_ {
            priority: u8,
            check: String,
            site: String,
            assignee: Option<String>,
            opened: i64,
            first_response: Option<i64>,
            resolved: Option<i64>,
            response_due: i64,
            resolution_due: i64,
            resolution: Option<String>,
            fingerprint: String,
            open: bool,
        }
        let (rows, flagged, mut people) = with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.priority, t.check_name, COALESCE(d.site, t.scope, 'default') AS site, t.assignee, \
                 t.opened_at_ms, t.first_response_at_ms, t.resolved_at_ms, t.response_due_ms, t.resolution_due_ms, \
                 t.resolution, t.fingerprint, t.open_key FROM tickets t LEFT JOIN devices d ON d.id = t.device_id \
                 WHERE t.opened_at_ms >= $1 AND t.opened_at_ms < $2 AND t.state <> 'cancelled' LIMIT 200000",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(pool)
            .await?;
            let mut tickets = Vec::with_capacity(rows.len());
            for row in &rows {
                let priority: i64 = row.try_get("priority")?;
                let open_key: Option<String> = row.try_get("open_key")?;
                tickets.push(Row_ {
                    priority: u8::try_from(priority).unwrap_or(5),
                    check: row.try_get("check_name")?,
                    site: row.try_get("site")?,
                    assignee: row.try_get("assignee")?,
                    opened: row.try_get("opened_at_ms")?,
                    first_response: row.try_get("first_response_at_ms")?,
                    resolved: row.try_get("resolved_at_ms")?,
                    response_due: row.try_get("response_due_ms")?,
                    resolution_due: row.try_get("resolution_due_ms")?,
                    resolution: row.try_get("resolution")?,
                    fingerprint: row.try_get("fingerprint")?,
                    open: open_key.is_some(),
                });
            }
            let flagged_rows = sqlx::query("SELECT fingerprint FROM problems").fetch_all(pool).await?;
            let mut flagged = std::collections::HashSet::new();
            for row in &flagged_rows {
                flagged.insert(row.try_get::<String, _>("fingerprint")?);
            }
            let mut people = PeopleStats::default();
            let report_rows = sqlx::query(
                "SELECT how, check_first, COUNT(*) AS n FROM report_links WHERE at_ms >= $1 AND at_ms < $2 \
                 GROUP BY how, check_first",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(pool)
            .await?;
            for row in &report_rows {
                let how: String = row.try_get("how")?;
                let check_first: i64 = row.try_get("check_first")?;
                let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
                people.reports += n;
                if check_first != 0 {
                    people.reports_found_by_checks_first += n;
                }
                match crate::tickets::ReportHow::parse(&how) {
                    Some(crate::tickets::ReportHow::KnownOutage) => people.reports_known_outage += n,
                    Some(crate::tickets::ReportHow::Joined) => people.reports_joined += n,
                    _ => {}
                }
            }
            let unreported: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM tickets t WHERE t.opened_at_ms >= $1 AND t.opened_at_ms < $2 \
                 AND t.state <> 'cancelled' AND t.kind <> 'report' \
                 AND NOT EXISTS (SELECT 1 FROM report_links rl WHERE rl.ticket_id = t.id) \
                 AND NOT EXISTS (SELECT 1 FROM ticket_links tl JOIN tickets r ON r.id = tl.ticket_id \
                                 WHERE tl.linked_id = t.id AND r.kind = 'report')",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_one(pool)
            .await?
            .try_get("n")?;
            people.tickets_by_checks_without_report = u64::try_from(unreported).unwrap_or(0);
            // Each requester's latest answer per ticket within the period.
            let answer_rows = sqlx::query(
                "SELECT f.answer, f.rating FROM ticket_feedback f WHERE f.at_ms >= $1 AND f.at_ms < $2 \
                 AND f.id = (SELECT MAX(g.id) FROM ticket_feedback g WHERE g.ticket_id = f.ticket_id \
                             AND g.account = f.account AND g.at_ms >= $1 AND g.at_ms < $2) LIMIT 200000",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(pool)
            .await?;
            let mut rating_sum = 0i64;
            for row in &answer_rows {
                let answer: String = row.try_get("answer")?;
                let rating: Option<i32> = row.try_get("rating")?;
                people.fixed_answers += 1;
                people.fixed_confirmed += u64::from(answer == "fixed");
                if let Some(rating) = rating.filter(|r| (1..=5).contains(r)) {
                    rating_sum += i64::from(rating);
                    people.csat_ratings += 1;
                }
            }
            people.csat_average =
                (people.csat_ratings > 0).then(|| rating_sum as f64 / people.csat_ratings as f64);
            (tickets, flagged, people)
        });
        let findings_received = self
            .findings_received(since_ms, until_ms, crate::model::now_ms())
            .await?;
        let opened = rows.len() as u64;
        let mut by_category = BTreeMap::new();
        let mut by_site = BTreeMap::new();
        let mut by_technician = BTreeMap::new();
        let mut fingerprints: BTreeMap<String, u64> = BTreeMap::new();
        let mut backlog_ageing: BTreeMap<&'static str, u64> = [
            ("under_1h", 0),
            ("under_1d", 0),
            ("under_1w", 0),
            ("older", 0),
        ]
        .into();
        let (mut resolved, mut auto_resolved) = (0u64, 0u64);
        let mut per_priority: BTreeMap<u8, Vec<&Row_>> = BTreeMap::new();
        for row in &rows {
            let category = row.check.split('.').next().unwrap_or(&row.check).to_owned();
            *by_category.entry(category).or_default() += 1;
            *by_site.entry(row.site.clone()).or_default() += 1;
            if let Some(assignee) = &row.assignee {
                *by_technician.entry(assignee.clone()).or_default() += 1;
            }
            *fingerprints.entry(row.fingerprint.clone()).or_default() += 1;
            if row.resolved.is_some() {
                resolved += 1;
                if row
                    .resolution
                    .as_deref()
                    .is_some_and(|r| r.starts_with("auto-resolved"))
                {
                    auto_resolved += 1;
                }
            }
            if row.open {
                let age_ms = until_ms - row.opened;
                let bucket = if age_ms < 3_600_000 {
                    "under_1h"
                } else if age_ms < 86_400_000 {
                    "under_1d"
                } else if age_ms < 604_800_000 {
                    "under_1w"
                } else {
                    "older"
                };
                *backlog_ageing.entry(bucket).or_default() += 1;
            }
            per_priority.entry(row.priority).or_default().push(row);
        }
        let by_priority = per_priority
            .into_iter()
            .map(|(priority, tickets)| {
                let mut acknowledge: Vec<f64> = tickets
                    .iter()
                    .filter_map(|t| t.first_response.map(|at| (at - t.opened) as f64 / 1000.0))
                    .collect();
                let mut repair: Vec<f64> = tickets
                    .iter()
                    .filter_map(|t| t.resolved.map(|at| (at - t.opened) as f64 / 1000.0))
                    .collect();
                acknowledge.sort_by(f64::total_cmp);
                repair.sort_by(f64::total_cmp);
                let responded = tickets
                    .iter()
                    .filter(|t| t.first_response.is_some())
                    .count() as u64;
                let responded_in_time = tickets
                    .iter()
                    .filter(|t| t.first_response.is_some_and(|at| at <= t.response_due))
                    .count() as u64;
                let closed = tickets.iter().filter(|t| t.resolved.is_some()).count() as u64;
                let closed_in_time = tickets
                    .iter()
                    .filter(|t| t.resolved.is_some_and(|at| at <= t.resolution_due))
                    .count() as u64;
                PriorityStats {
                    priority,
                    opened: tickets.len() as u64,
                    mtta_median_secs: percentile(&acknowledge, 0.5),
                    mtta_p90_secs: percentile(&acknowledge, 0.9),
                    mttr_median_secs: percentile(&repair, 0.5),
                    mttr_p90_secs: percentile(&repair, 0.9),
                    response_sla_met: share(responded_in_time, responded),
                    resolution_sla_met: share(closed_in_time, closed),
                }
            })
            .collect();
        let mut top_recurring: Vec<Recurring> = fingerprints
            .into_iter()
            .filter(|(_, tickets)| *tickets > 1)
            .map(|(fingerprint, tickets)| Recurring {
                problem_candidate: flagged.contains(&fingerprint),
                fingerprint,
                tickets,
            })
            .collect();
        top_recurring.sort_by(|a, b| {
            b.tickets
                .cmp(&a.tickets)
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        top_recurring.truncate(10);
        people.found_before_reported_share =
            share(people.reports_found_by_checks_first, people.reports);
        people.known_outage_share = share(people.reports_known_outage, people.reports);
        people.opened_by_checks_without_report_share =
            share(people.tickets_by_checks_without_report, opened);
        people.fixed_confirmed_share = share(people.fixed_confirmed, people.fixed_answers);
        Ok(Stats {
            since_ms,
            until_ms,
            tickets_opened: opened,
            findings_received,
            noise_compression: (opened > 0).then(|| findings_received as f64 / opened as f64),
            resolved,
            auto_resolved_share: share(auto_resolved, resolved),
            by_category,
            by_site,
            by_technician,
            by_priority,
            backlog_ageing,
            top_recurring,
            people,
            fixes: self.fix_stats().await?,
        })
    }

    /// The knowledge base: fingerprints with their solutions (most often worked first) and
    /// problem flag, optionally only those whose fingerprint or a solution contains `query`.
    pub async fn knowledge(&self, query: Option<&str>) -> Result<Vec<KnowledgeEntry>, StoreError> {
        let pattern = query
            .map(|q| format!("%{}%", q.trim().to_lowercase().replace(['%', '_'], "")))
            .unwrap_or_else(|| "%".to_owned());
        with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT s.fingerprint, s.check_name, s.solution, s.worked_count, \
                 CAST(CASE WHEN p.fingerprint IS NULL THEN 0 ELSE 1 END AS BIGINT) AS flagged \
                 FROM solutions s LEFT JOIN problems p ON p.fingerprint = s.fingerprint \
                 WHERE s.fingerprint IN (SELECT fingerprint FROM solutions WHERE LOWER(fingerprint) LIKE $1 OR LOWER(solution) LIKE $1) \
                 ORDER BY s.fingerprint, s.worked_count DESC, s.last_at_ms DESC LIMIT 2000",
            )
            .bind(&pattern)
            .fetch_all(pool)
            .await?;
            let mut entries: Vec<KnowledgeEntry> = Vec::new();
            for row in &rows {
                let fingerprint: String = row.try_get("fingerprint")?;
                let fix = crate::tickets::KnownFix {
                    solution: row.try_get("solution")?,
                    worked_count: u32::try_from(row.try_get::<i64, _>("worked_count")?).unwrap_or(0),
                };
                match entries.last_mut().filter(|e| e.fingerprint == fingerprint) {
                    Some(entry) => entry.solutions.push(fix),
                    None => entries.push(KnowledgeEntry {
                        check: row.try_get("check_name")?,
                        problem_candidate: row.try_get::<i64, _>("flagged")? == 1,
                        fingerprint,
                        solutions: vec![fix],
                    }),
                }
            }
            Ok(entries)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(5.0));
        assert_eq!(percentile(&values, 0.9), Some(9.0));
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
