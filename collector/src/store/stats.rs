//! What supervisors measure, and the knowledge base: computed from the tickets of a window
//! (MTTA/MTTR median and p90 per priority, SLA attainment, backlog ageing, noise compression,
//! the auto-resolved share, top recurring problems), what only Firstline can count (problems
//! checks found before people reported them, known outages, "fixed" answers, CSAT) and from
//! the solutions log.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::findings_days::DAY_MS;
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

/// What `Stats` says about the tickets of its window.
#[derive(Debug, PartialEq)]
struct TicketFigures {
    opened: u64,
    resolved: u64,
    auto_resolved: u64,
    by_category: BTreeMap<String, u64>,
    by_site: BTreeMap<String, u64>,
    by_technician: BTreeMap<String, u64>,
    /// Tickets per fingerprint (every one; `top_recurring` picks from them).
    fingerprints: BTreeMap<String, u64>,
    backlog_ageing: BTreeMap<&'static str, u64>,
    by_priority: Vec<PriorityStats>,
    /// Tickets opened by checks that no user report reached.
    unreported: u64,
}

#[cfg(test)]
impl TicketFigures {
    fn new() -> Self {
        TicketFigures {
            opened: 0,
            resolved: 0,
            auto_resolved: 0,
            by_category: BTreeMap::new(),
            by_site: BTreeMap::new(),
            by_technician: BTreeMap::new(),
            fingerprints: BTreeMap::new(),
            backlog_ageing: [
                ("under_1h", 0),
                ("under_1d", 0),
                ("under_1w", 0),
                ("older", 0),
            ]
            .into(),
            by_priority: Vec::new(),
            unreported: 0,
        }
    }
}

/// One priority's tickets: counts, and the times to respond and resolve (ms).
#[derive(Debug, Default, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
struct PriorityTimes {
    opened: u64,
    responded: u64,
    responded_in_time: u64,
    resolved: u64,
    resolved_in_time: u64,
    respond_ms: Vec<i64>,
    resolve_ms: Vec<i64>,
}

impl PriorityTimes {
    fn add(&mut self, other: PriorityTimes) {
        self.opened += other.opened;
        self.responded += other.responded;
        self.responded_in_time += other.responded_in_time;
        self.resolved += other.resolved;
        self.resolved_in_time += other.resolved_in_time;
        self.respond_ms.extend(other.respond_ms);
        self.resolve_ms.extend(other.resolve_ms);
    }
}

/// Each priority's counts, percentiles and SLA shares from its tickets' times.
fn priority_stats(times: BTreeMap<u8, PriorityTimes>) -> Vec<PriorityStats> {
    let seconds = |mut ms: Vec<i64>| -> Vec<f64> {
        ms.sort_unstable();
        ms.into_iter().map(|ms| ms as f64 / 1000.0).collect()
    };
    times
        .into_iter()
        .map(|(priority, times)| {
            let respond = seconds(times.respond_ms);
            let resolve = seconds(times.resolve_ms);
            PriorityStats {
                priority,
                opened: times.opened,
                mtta_median_secs: percentile(&respond, 0.5),
                mtta_p90_secs: percentile(&respond, 0.9),
                mttr_median_secs: percentile(&resolve, 0.5),
                mttr_p90_secs: percentile(&resolve, 0.9),
                response_sla_met: share(times.responded_in_time, times.responded),
                resolution_sla_met: share(times.resolved_in_time, times.resolved),
            }
        })
        .collect()
}

/// The tickets (not cancelled) opened in some span, before percentiles and the backlog (which
/// depends on when it is asked): what a settled day's summary in `stats_ticket_days` keeps,
/// and what adds up over days.
#[derive(Debug, Default, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
struct Tally {
    opened: u64,
    resolved: u64,
    auto_resolved: u64,
    /// Tickets opened by checks that no user report reached.
    unreported: u64,
    by_category: BTreeMap<String, u64>,
    by_site: BTreeMap<String, u64>,
    by_technician: BTreeMap<String, u64>,
    fingerprints: BTreeMap<String, u64>,
    priorities: BTreeMap<u8, PriorityTimes>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        fn merge(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
            for (key, n) in from {
                *into.entry(key).or_default() += n;
            }
        }
        self.opened += other.opened;
        self.resolved += other.resolved;
        self.auto_resolved += other.auto_resolved;
        self.unreported += other.unreported;
        merge(&mut self.by_category, other.by_category);
        merge(&mut self.by_site, other.by_site);
        merge(&mut self.by_technician, other.by_technician);
        merge(&mut self.fingerprints, other.fingerprints);
        for (priority, times) in other.priorities {
            self.priorities.entry(priority).or_default().add(times);
        }
    }

    fn into_figures(self, backlog_ageing: BTreeMap<&'static str, u64>) -> TicketFigures {
        TicketFigures {
            opened: self.opened,
            resolved: self.resolved,
            auto_resolved: self.auto_resolved,
            by_category: self.by_category,
            by_site: self.by_site,
            by_technician: self.by_technician,
            fingerprints: self.fingerprints,
            backlog_ageing,
            by_priority: priority_stats(self.priorities),
            unreported: self.unreported,
        }
    }
}

/// Days of tickets one transaction sums up and keeps (SQLite holds the write lock meanwhile,
/// which ingest's group commit waits for).
const TICKET_DAYS_PER_TRANSACTION: i64 = 14;

/// The whole UTC days in `since_ms..until_ms` whose tickets may be summed up at `now_ms`:
/// days ended two days ago. The database marks a change to a ticket opened over a day ago (by
/// its own clock), so a day can be kept while collectors' clocks disagree by under a day.
fn settled_ticket_days(since_ms: i64, until_ms: i64, now_ms: i64) -> (i64, i64) {
    super::findings_days::settled_days(since_ms, until_ms, now_ms - DAY_MS)
}

impl Store {
    /// Supervisor statistics for tickets opened in `since_ms..until_ms`.
    pub async fn stats(&self, since_ms: i64, until_ms: i64) -> Result<Stats, StoreError> {
        let tickets = self
            .ticket_figures(since_ms, until_ms, crate::model::now_ms())
            .await?;
        let (flagged, mut people) = with_pool!(self, pool => {
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
            (flagged, people)
        });
        let findings_received = self
            .findings_received(since_ms, until_ms, crate::model::now_ms())
            .await?;
        let TicketFigures {
            opened,
            resolved,
            auto_resolved,
            by_category,
            by_site,
            by_technician,
            fingerprints,
            backlog_ageing,
            by_priority,
            unreported,
        } = tickets;
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
        people.tickets_by_checks_without_report = unreported;
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

    /// The figures of the tickets (not cancelled) opened in `since_ms..until_ms`, asked at
    /// `now_ms`: settled whole days from their summaries in `stats_ticket_days` (summing up and
    /// keeping the days missing or changed since), the rest grouped live, and the backlog (open
    /// tickets by age at `until_ms`) read apart.
    async fn ticket_figures(
        &self,
        since_ms: i64,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<TicketFigures, StoreError> {
        let (first, end) = settled_ticket_days(since_ms, until_ms, now_ms);
        let mut tally = Tally::default();
        if first >= end {
            tally.add(self.tally_tickets(since_ms, until_ms, false).await?);
        } else {
            tally.add(self.tally_tickets(since_ms, first, false).await?);
            tally.add(self.tally_days(first, end).await?);
            tally.add(self.tally_tickets(end, until_ms, false).await?);
        }
        let backlog = self.backlog_ageing(since_ms, until_ms).await?;
        Ok(tally.into_figures(backlog))
    }

    /// The open tickets (not cancelled) opened in `since_ms..until_ms`, by their age at
    /// `until_ms`: under an hour, a day, a week, and older.
    async fn backlog_ageing(
        &self,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<BTreeMap<&'static str, u64>, StoreError> {
        let mut ageing: BTreeMap<&'static str, u64> = [
            ("under_1h", 0),
            ("under_1d", 0),
            ("under_1w", 0),
            ("older", 0),
        ]
        .into();
        with_pool!(self, pool => {
            let rows = sqlx::query(
                // Through the queue's index (open tickets first), not the opening times': a
                // year's range of those is every ticket (38 ms against 2 at year scale).
                "SELECT opened_at_ms FROM tickets WHERE (CASE WHEN open_key IS NULL THEN 1 ELSE 0 END) = 0 \
                 AND opened_at_ms >= $1 AND opened_at_ms < $2 AND state <> 'cancelled'",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                let age_ms = until_ms - row.try_get::<i64, _>("opened_at_ms")?;
                let bucket = if age_ms < 3_600_000 {
                    "under_1h"
                } else if age_ms < 86_400_000 {
                    "under_1d"
                } else if age_ms < 604_800_000 {
                    "under_1w"
                } else {
                    "older"
                };
                *ageing.entry(bucket).or_default() += 1;
            }
        });
        Ok(ageing)
    }

    /// The settled days `first..end` from their kept summaries, summing up (and keeping) the
    /// days with none or with one older than their last change.
    async fn tally_days(&self, first: i64, end: i64) -> Result<Tally, StoreError> {
        let kept: Vec<(i64, String)> = with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT day_start_ms, figures FROM stats_ticket_days \
                 WHERE day_start_ms >= $1 AND day_start_ms < $2 \
                 AND figures IS NOT NULL AND figures_generation = generation",
            )
            .bind(first)
            .bind(end)
            .fetch_all(pool)
            .await?;
            let mut kept = Vec::with_capacity(rows.len());
            for row in &rows {
                kept.push((row.try_get("day_start_ms")?, row.try_get("figures")?));
            }
            kept
        });
        let mut tally = Tally::default();
        let mut kept_days = std::collections::HashSet::new();
        for (day, figures) in kept {
            // A summary this version cannot read (written by another one) is made again.
            match serde_json::from_str::<Tally>(&figures) {
                Ok(day_tally) => {
                    tally.add(day_tally);
                    kept_days.insert(day);
                }
                Err(e) => {
                    tracing::debug!(day, error = %e, "a day's ticket figures are summed up again")
                }
            }
        }
        for (run_first, run_end) in
            super::findings_days::missing_runs(first, end, &kept_days, TICKET_DAYS_PER_TRANSACTION)
        {
            tally.add(self.tally_tickets(run_first, run_end, true).await?);
        }
        Ok(tally)
    }

    /// The tickets (not cancelled) opened in `since_ms..until_ms`, grouped by the database by
    /// day and what the figures are per (priority, check, technician, fingerprint; sites in a
    /// second pass): a day of tickets comes back as some hundred rows, each carrying its
    /// tickets' times to respond and to resolve for the percentiles. With `keep` (whole days
    /// only) each day's summary is kept in `stats_ticket_days`, marked with the generation the
    /// day had before its tickets were read: a change committed meanwhile bumps it past that.
    async fn tally_tickets(
        &self,
        since_ms: i64,
        until_ms: i64,
        keep: bool,
    ) -> Result<Tally, StoreError> {
        if since_ms >= until_ms {
            return Ok(Tally::default());
        }
        let postgres = matches!(self.backend, Backend::Postgres(_));
        // Whole days only when kept (at most `TICKET_DAYS_PER_TRANSACTION`): a live window may
        // be "all time", up to i64::MAX.
        let days: Vec<i64> = if keep {
            (since_ms..until_ms).step_by(DAY_MS as usize).collect()
        } else {
            Vec::new()
        };
        with_pool!(self, pool => {
            if keep {
                // Every day has its row before its generation is read, so a change that
                // commits after the read bumps a row this summary will be compared with.
                let mut insert = sqlx::QueryBuilder::new("INSERT INTO stats_ticket_days (day_start_ms, generation) ");
                insert.push_values(&days, |mut row, day| {
                    row.push_bind(*day).push_bind(0i64);
                });
                insert.push(" ON CONFLICT (day_start_ms) DO NOTHING");
                insert.build().execute(pool).await?;
            }
            let _turn = self.write_turn().await;
            let mut transaction = pool.begin_with(self.backend.begin_statement()).await?;
            if postgres {
                // The planner prices the "no report reached it" subqueries high enough to
                // compile the query (JIT), which takes longer than running it: ~380 ms of
                // ~470 at medium scale.
                sqlx::query("SET LOCAL jit = off").execute(&mut *transaction).await?;
            }
            let mut generations: BTreeMap<i64, i64> = BTreeMap::new();
            if keep {
                let rows = sqlx::query(
                    "SELECT day_start_ms, generation FROM stats_ticket_days \
                     WHERE day_start_ms >= $1 AND day_start_ms < $2",
                )
                .bind(since_ms)
                .bind(until_ms)
                .fetch_all(&mut *transaction)
                .await?;
                for row in &rows {
                    generations.insert(row.try_get("day_start_ms")?, row.try_get("generation")?);
                }
            }
            let rows = sqlx::query(
                "SELECT t.opened_at_ms / 86400000 AS day, t.priority, t.check_name, t.assignee, t.fingerprint, \
                 COUNT(*) AS opened, \
                 SUM(CASE WHEN t.resolved_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS resolved, \
                 SUM(CASE WHEN t.resolved_at_ms IS NOT NULL AND substr(t.resolution, 1, 13) = 'auto-resolved' \
                     THEN 1 ELSE 0 END) AS auto_resolved, \
                 SUM(CASE WHEN t.first_response_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS responded, \
                 SUM(CASE WHEN t.first_response_at_ms <= t.response_due_ms THEN 1 ELSE 0 END) AS responded_in_time, \
                 SUM(CASE WHEN t.resolved_at_ms <= t.resolution_due_ms THEN 1 ELSE 0 END) AS resolved_in_time, \
                 SUM(CASE WHEN t.kind <> 'report' \
                     AND NOT EXISTS (SELECT 1 FROM report_links rl WHERE rl.ticket_id = t.id) \
                     AND NOT EXISTS (SELECT 1 FROM ticket_links tl JOIN tickets r ON r.id = tl.ticket_id \
                                     WHERE tl.linked_id = t.id AND r.kind = 'report') \
                     THEN 1 ELSE 0 END) AS unreported, \
                 string_agg(CAST(t.first_response_at_ms - t.opened_at_ms AS TEXT), ',') AS respond_ms, \
                 string_agg(CAST(t.resolved_at_ms - t.opened_at_ms AS TEXT), ',') AS resolve_ms \
                 FROM tickets t WHERE t.opened_at_ms >= $1 AND t.opened_at_ms < $2 AND t.state <> 'cancelled' \
                 GROUP BY t.opened_at_ms / 86400000, t.priority, t.check_name, t.assignee, t.fingerprint",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(&mut *transaction)
            .await?;
            let count = |row: &_, column: &str| -> Result<u64, StoreError> {
                let n: i64 = sqlx::Row::try_get(row, column)?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            let mut by_day: BTreeMap<i64, Tally> = BTreeMap::new();
            for row in &rows {
                let tally = by_day.entry(row.try_get::<i64, _>("day")? * DAY_MS).or_default();
                let opened = count(row, "opened")?;
                let priority = u8::try_from(row.try_get::<i64, _>("priority")?).unwrap_or(5);
                let check: String = row.try_get("check_name")?;
                let category = check.split('.').next().unwrap_or(&check).to_owned();
                tally.opened += opened;
                tally.resolved += count(row, "resolved")?;
                tally.auto_resolved += count(row, "auto_resolved")?;
                *tally.by_category.entry(category).or_default() += opened;
                if let Some(assignee) = row.try_get::<Option<String>, _>("assignee")? {
                    *tally.by_technician.entry(assignee).or_default() += opened;
                }
                *tally.fingerprints.entry(row.try_get("fingerprint")?).or_default() += opened;
                tally.unreported += count(row, "unreported")?;
                let times = tally.priorities.entry(priority).or_default();
                times.opened += opened;
                times.responded += count(row, "responded")?;
                times.responded_in_time += count(row, "responded_in_time")?;
                times.resolved += count(row, "resolved")?;
                times.resolved_in_time += count(row, "resolved_in_time")?;
                for (column, into) in [
                    ("respond_ms", &mut times.respond_ms),
                    ("resolve_ms", &mut times.resolve_ms),
                ] {
                    let Some(list) = row.try_get::<Option<String>, _>(column)? else {
                        continue;
                    };
                    for value in list.split(',') {
                        into.push(value.parse().map_err(|_| StoreError::Corrupt {
                            what: "ticket times",
                            detail: format!("{value:?} in {column} is not a number"),
                        })?);
                    }
                }
            }
            // Sites apart (grouped with the rest they would multiply the rows by the sites),
            // and each device's site looked up once, not once per ticket.
            let rows = sqlx::query(
                "SELECT g.day, COALESCE(d.site, g.scope, 'default') AS site, CAST(SUM(g.opened) AS BIGINT) AS opened \
                 FROM (SELECT t.opened_at_ms / 86400000 AS day, t.device_id, t.scope, COUNT(*) AS opened FROM tickets t \
                       WHERE t.opened_at_ms >= $1 AND t.opened_at_ms < $2 AND t.state <> 'cancelled' \
                       GROUP BY t.opened_at_ms / 86400000, t.device_id, t.scope) g \
                 LEFT JOIN devices d ON d.id = g.device_id \
                 GROUP BY g.day, COALESCE(d.site, g.scope, 'default')",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(&mut *transaction)
            .await?;
            for row in &rows {
                let tally = by_day.entry(row.try_get::<i64, _>("day")? * DAY_MS).or_default();
                tally.by_site.insert(row.try_get("site")?, count(row, "opened")?);
            }
            if keep {
                let summaries = days
                    .iter()
                    .map(|day| {
                        let figures = serde_json::to_string(by_day.get(day).unwrap_or(&Tally::default()))
                            .map_err(|e| StoreError::Corrupt {
                                what: "a day's ticket figures",
                                detail: e.to_string(),
                            })?;
                        Ok((*day, generations.get(day).copied().unwrap_or(0), figures))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let mut upsert = sqlx::QueryBuilder::new(
                    "INSERT INTO stats_ticket_days (day_start_ms, generation, figures_generation, figures) ",
                );
                upsert.push_values(&summaries, |mut row, (day, generation, figures)| {
                    row.push_bind(*day)
                        .push_bind(*generation)
                        .push_bind(*generation)
                        .push_bind(figures.as_str());
                });
                upsert.push(
                    " ON CONFLICT (day_start_ms) DO UPDATE SET figures_generation = excluded.figures_generation, \
                     figures = excluded.figures",
                );
                upsert.build().execute(&mut *transaction).await?;
            }
            transaction.commit().await?;
            let mut tally = Tally::default();
            for (_, day) in by_day {
                tally.add(day);
            }
            Ok(tally)
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
    use crate::store::tests::backends;
    use crate::store::tickets::tests::enroll;

    const HOUR: i64 = 3_600_000;
    const NOW: i64 = 1_800_000_000_000;

    /// The figures as the stats computed them before the database grouped them: every
    /// ticket read, and counted here one by one.
    async fn ticket_figures_one_by_one(
        store: &Store,
        since_ms: i64,
        until_ms: i64,
    ) -> TicketFigures {
        let mut figures = TicketFigures::new();
        let mut times: BTreeMap<u8, PriorityTimes> = BTreeMap::new();
        with_pool!(store, pool => {
            let rows = sqlx::query(
                "SELECT t.priority, t.check_name, COALESCE(d.site, t.scope, 'default') AS site, t.assignee, \
                 t.opened_at_ms, t.first_response_at_ms, t.resolved_at_ms, t.response_due_ms, t.resolution_due_ms, \
                 t.resolution, t.fingerprint, t.open_key, t.kind, t.id FROM tickets t LEFT JOIN devices d ON d.id = t.device_id \
                 WHERE t.opened_at_ms >= $1 AND t.opened_at_ms < $2 AND t.state <> 'cancelled'",
            )
            .bind(since_ms)
            .bind(until_ms)
            .fetch_all(pool)
            .await
            .expect("tickets");
            for row in &rows {
                let check: String = row.try_get("check_name").expect("check");
                let opened: i64 = row.try_get("opened_at_ms").expect("opened");
                let first_response: Option<i64> = row.try_get("first_response_at_ms").expect("response");
                let resolved: Option<i64> = row.try_get("resolved_at_ms").expect("resolved");
                let resolution: Option<String> = row.try_get("resolution").expect("resolution");
                figures.opened += 1;
                *figures.by_category.entry(check.split('.').next().unwrap_or(&check).to_owned()).or_default() += 1;
                *figures.by_site.entry(row.try_get("site").expect("site")).or_default() += 1;
                if let Some(assignee) = row.try_get::<Option<String>, _>("assignee").expect("assignee") {
                    *figures.by_technician.entry(assignee).or_default() += 1;
                }
                *figures.fingerprints.entry(row.try_get("fingerprint").expect("fingerprint")).or_default() += 1;
                if resolved.is_some() {
                    figures.resolved += 1;
                    if resolution.as_deref().is_some_and(|r| r.starts_with("auto-resolved")) {
                        figures.auto_resolved += 1;
                    }
                }
                if row.try_get::<Option<String>, _>("open_key").expect("open key").is_some() {
                    let age_ms = until_ms - opened;
                    let bucket = if age_ms < 3_600_000 {
                        "under_1h"
                    } else if age_ms < 86_400_000 {
                        "under_1d"
                    } else if age_ms < 604_800_000 {
                        "under_1w"
                    } else {
                        "older"
                    };
                    *figures.backlog_ageing.entry(bucket).or_default() += 1;
                }
                let kind: String = row.try_get("kind").expect("kind");
                let id: i64 = row.try_get("id").expect("id");
                if kind != "report" {
                    let reached: i64 = sqlx::query(
                        "SELECT (SELECT COUNT(*) FROM report_links WHERE ticket_id = $1) + \
                         (SELECT COUNT(*) FROM ticket_links tl JOIN tickets r ON r.id = tl.ticket_id \
                          WHERE tl.linked_id = $1 AND r.kind = 'report') AS n",
                    )
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .expect("links")
                    .try_get("n")
                    .expect("n");
                    figures.unreported += u64::from(reached == 0);
                }
                let priority = u8::try_from(row.try_get::<i64, _>("priority").expect("priority")).unwrap_or(5);
                let due: i64 = row.try_get("response_due_ms").expect("due");
                let resolution_due: i64 = row.try_get("resolution_due_ms").expect("due");
                let entry = times.entry(priority).or_default();
                entry.opened += 1;
                if let Some(at) = first_response {
                    entry.responded += 1;
                    entry.responded_in_time += u64::from(at <= due);
                    entry.respond_ms.push(at - opened);
                }
                if let Some(at) = resolved {
                    entry.resolved += 1;
                    entry.resolved_in_time += u64::from(at <= resolution_due);
                    entry.resolve_ms.push(at - opened);
                }
            }
        });
        figures.by_priority = priority_stats(times);
        figures
    }

    /// Tickets of every shape written directly: priorities, checks, sites (a device's, an
    /// incident's scope, none), technicians, open ones of each age, resolved by hand and by
    /// themselves, in and out of their targets, cancelled ones, and reports linked to some.
    async fn seed_tickets(store: &Store) {
        enroll(store, "pc-a", "warsaw").await;
        enroll(store, "pc-b", "lisbon").await;
        let mut state = 7u64;
        let mut next = |below: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % below
        };
        let checks = [
            "disk.free_low",
            "dns.resolve",
            "web.reach",
            "clock.skew_secs",
            "nodot",
        ];
        let assignees = [None, Some("tess"), Some("sam")];
        with_pool!(store, pool => {
            for n in 0..240i64 {
                let opened = NOW - i64::try_from(next(400)).expect("small") * 2 * HOUR - i64::try_from(next(HOUR as u64)).expect("small");
                let kind = ["device", "device", "incident", "report"][next(4) as usize];
                let device = match kind {
                    "incident" => None,
                    _ => Some(["pc-a", "pc-b", "pc-gone"][next(3) as usize]),
                };
                let device = device.filter(|d| *d != "pc-gone");
                let state = ["new", "assigned", "resolved", "closed", "cancelled"][next(5) as usize];
                let open = matches!(state, "new" | "assigned");
                let first_response = (next(3) > 0).then(|| opened + i64::try_from(next(5 * HOUR as u64)).expect("small"));
                let resolved = (!open && next(5) > 0).then(|| opened + i64::try_from(next(50 * HOUR as u64)).expect("small"));
                let resolution = resolved.map(|_| ["auto-resolved: the fault cleared", "replaced the disk", "Auto-resolved by hand"][next(3) as usize]);
                let check = checks[next(5) as usize];
                sqlx::query(
                    "INSERT INTO tickets (kind, ticket_key, open_key, state, title, description, check_name, resource, \
                     device_id, scope, fingerprint, severity, impact, urgency, priority, assignee, opened_at_ms, \
                     updated_at_ms, resolved_at_ms, first_response_at_ms, response_due_ms, resolution_due_ms, resolution) \
                     VALUES ($1, $2, $3, $4, 't', 'd', $5, '/', $6, $7, $8, 'warning', 'medium', 'medium', $9, $10, $11, \
                     $11, $12, $13, $14, $15, $16)",
                )
                .bind(kind)
                .bind(format!("key-{n}"))
                .bind(open.then(|| format!("key-{n}")))
                .bind(state)
                .bind(check)
                .bind(device)
                .bind((kind == "incident" && next(2) == 0).then_some("site:porto"))
                .bind(format!("{check}:{}", next(4)))
                .bind(i64::try_from(1 + next(4)).expect("small"))
                .bind(assignees[next(3) as usize])
                .bind(opened)
                .bind(resolved)
                .bind(first_response)
                .bind(opened + 2 * HOUR)
                .bind(opened + 24 * HOUR)
                .bind(resolution)
                .execute(pool)
                .await
                .expect("ticket");
            }
            // Reports reach some tickets: linked to a report ticket, or by a report link.
            let ids: Vec<(i64, String)> = sqlx::query("SELECT id, kind FROM tickets ORDER BY id")
                .fetch_all(pool)
                .await
                .expect("ids")
                .iter()
                .map(|row| (row.try_get("id").expect("id"), row.try_get("kind").expect("kind")))
                .collect();
            let reports: Vec<i64> = ids.iter().filter(|(_, kind)| kind == "report").map(|(id, _)| *id).collect();
            for (n, (id, kind)) in ids.iter().enumerate() {
                if kind == "report" {
                    continue;
                }
                match n % 5 {
                    0 => {
                        sqlx::query("INSERT INTO ticket_links (ticket_id, linked_id) VALUES ($1, $2)")
                            .bind(reports[n % reports.len()])
                            .bind(id)
                            .execute(pool)
                            .await
                            .expect("link");
                    }
                    1 => {
                        sqlx::query(
                            "INSERT INTO report_links (device_id, report_id, ticket_id, how, requester, group_key, check_first, at_ms) \
                             VALUES ('pc-a', $1, $2, 'joined', 'alice', 'g', 1, $3)",
                        )
                        .bind(format!("r-{n}"))
                        .bind(id)
                        .bind(NOW - HOUR)
                        .execute(pool)
                        .await
                        .expect("report link");
                    }
                    2 => {
                        // A link from a ticket that is not a report does not count.
                        sqlx::query("INSERT INTO ticket_links (ticket_id, linked_id) VALUES ($1, $2)")
                            .bind(ids[0].0)
                            .bind(id)
                            .execute(pool)
                            .await
                            .ok();
                    }
                    _ => {}
                }
            }
        });
    }

    /// The grouped figures equal counting ticket by ticket, on both backends, for windows
    /// of a day, a week, a month and more, one ending mid-hour.
    #[tokio::test]
    async fn grouped_ticket_figures_equal_counting_one_by_one() {
        for test in &backends().await {
            let store = &test.store;
            let backend = store.backend_name();
            seed_tickets(store).await;
            for (since, until) in [
                (NOW - 24 * HOUR, NOW),
                (NOW - 7 * 24 * HOUR, NOW),
                (NOW - 30 * 24 * HOUR, NOW),
                (NOW - 400 * 24 * HOUR, NOW + HOUR),
                (NOW - 20 * 24 * HOUR + 17, NOW - 3 * 24 * HOUR - HOUR / 2),
                (NOW + HOUR, NOW + 2 * HOUR),
                // All time, as the help page's test asks for.
                (0, i64::MAX),
            ] {
                let grouped = store
                    .ticket_figures(since, until, NOW)
                    .await
                    .expect("grouped");
                let one_by_one = ticket_figures_one_by_one(store, since, until).await;
                assert_eq!(grouped, one_by_one, "{backend}: {since}..{until}");
            }
            let all = store
                .ticket_figures(NOW - 400 * 24 * HOUR, NOW + HOUR, NOW)
                .await
                .expect("all");
            assert!(
                all.opened > 150 && all.auto_resolved > 0 && all.unreported > 0,
                "{backend}: {all:?}"
            );
            assert!(
                all.backlog_ageing.values().filter(|n| **n > 0).count() >= 3,
                "{backend}: {all:?}"
            );
        }
    }

    /// How many settled days have a summary the stats may use.
    async fn usable_summaries(store: &Store) -> i64 {
        with_pool!(store, pool => {
            sqlx::query(
                "SELECT COUNT(*) AS n FROM stats_ticket_days \
                 WHERE figures IS NOT NULL AND figures_generation = generation",
            )
            .fetch_one(pool)
            .await
            .expect("summaries")
            .try_get::<i64, _>("n")
            .expect("n")
        })
    }

    /// A settled day's summary is kept and used while its tickets stay as they are, and every
    /// kind of change the figures depend on — a ticket resolved, assigned or opened late, a
    /// report reaching one, a ticket linked from a report, its device moving site — is counted
    /// at once, on both backends (each change committed after the summary was made).
    #[tokio::test]
    async fn a_settled_days_summary_is_used_until_one_of_its_tickets_changes() {
        for test in &backends().await {
            let store = &test.store;
            let backend = store.backend_name();
            enroll(store, "pc-a", "warsaw").await;
            enroll(store, "pc-b", "lisbon").await;
            let now = crate::model::now_ms();
            let day = (now / DAY_MS - 5) * DAY_MS;
            let insert = |n: i64, kind: &'static str, opened: i64, device: &'static str| async move {
                with_pool!(store, pool => {
                    sqlx::query(
                        "INSERT INTO tickets (kind, ticket_key, open_key, state, title, description, check_name, resource, \
                         device_id, fingerprint, severity, impact, urgency, priority, opened_at_ms, updated_at_ms, \
                         response_due_ms, resolution_due_ms) \
                         VALUES ($1, $2, $2, 'new', 't', 'd', 'disk.free_low', '/', $3, $4, 'warning', 'medium', 'medium', \
                         3, $5, $5, $6, $7) RETURNING id",
                    )
                    .bind(kind)
                    .bind(format!("key-{n}"))
                    .bind(device)
                    .bind(format!("disk.free_low:{n}"))
                    .bind(opened)
                    .bind(opened + 2 * HOUR)
                    .bind(opened + 24 * HOUR)
                    .fetch_one(pool)
                    .await
                    .expect("ticket")
                    .try_get::<i64, _>("id")
                    .expect("id")
                })
            };
            let first = insert(1, "device", day + HOUR, "pc-a").await;
            let second = insert(2, "device", day + 3 * HOUR, "pc-a").await;
            let report = insert(3, "report", day + 4 * HOUR, "pc-b").await;
            let (since, until) = (day - 10 * 24 * HOUR, now);
            let figures = || async {
                store
                    .ticket_figures(since, until, now)
                    .await
                    .expect("figures")
            };
            let expect_counted = |what: &'static str| async move {
                let figures = store
                    .ticket_figures(since, until, now)
                    .await
                    .expect("figures");
                let counted = ticket_figures_one_by_one(store, since, until).await;
                assert_eq!(figures, counted, "{backend}: after {what}");
                assert!(
                    usable_summaries(store).await >= 1,
                    "{backend}: {what}: the day is summed up again"
                );
            };
            expect_counted("the first read").await;
            assert!(
                usable_summaries(store).await >= 1,
                "{backend}: the day is kept"
            );

            // The kept summary is what the stats read: one made up shows through.
            with_pool!(store, pool => {
                let made_up = serde_json::to_string(&Tally { opened: 999, ..Tally::default() }).expect("json");
                sqlx::query("UPDATE stats_ticket_days SET figures = $1 WHERE day_start_ms = $2")
                    .bind(made_up)
                    .bind(day)
                    .execute(pool)
                    .await
                    .expect("made up");
            });
            assert_eq!(
                figures().await.opened,
                999,
                "{backend}: the summary is used"
            );
            // One this version cannot read is made again.
            with_pool!(store, pool => {
                sqlx::query("UPDATE stats_ticket_days SET figures = 'not a summary' WHERE day_start_ms = $1")
                    .bind(day)
                    .execute(pool)
                    .await
                    .expect("unreadable");
            });
            expect_counted("an unreadable summary").await;

            let change = |what: &'static str, sql: String| async move {
                with_pool!(store, pool => {
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap_or_else(|e| panic!("{what}: {e}"));
                });
                expect_counted(what).await;
            };
            change(
                "a ticket resolved",
                format!(
                    "UPDATE tickets SET state = 'resolved', open_key = NULL, resolved_at_ms = {}, \
                     first_response_at_ms = {}, resolution = 'replaced the disk' WHERE id = {first}",
                    day + 9 * HOUR,
                    day + 2 * HOUR
                ),
            )
            .await;
            change(
                "a ticket assigned",
                format!("UPDATE tickets SET assignee = 'sam' WHERE id = {second}"),
            )
            .await;
            change(
                "a report linked",
                format!(
                    "INSERT INTO report_links (device_id, report_id, ticket_id, how, requester, group_key, check_first, at_ms) \
                     VALUES ('pc-a', 'r-1', {second}, 'joined', 'alice', 'g', 1, {})",
                    day + 5 * HOUR
                ),
            )
            .await;
            change(
                "a ticket linked from a report ticket",
                format!(
                    "INSERT INTO ticket_links (ticket_id, linked_id) VALUES ({report}, {first})"
                ),
            )
            .await;
            change(
                "the device moved",
                "UPDATE devices SET site = 'porto' WHERE id = 'pc-a'".to_owned(),
            )
            .await;
            insert(4, "device", day + 20 * HOUR, "pc-b").await;
            expect_counted("a ticket opened late on that day").await;
            change(
                "a ticket cancelled",
                format!("UPDATE tickets SET state = 'cancelled' WHERE id = {report}"),
            )
            .await;
            let last = figures().await;
            assert_eq!(last.by_site.get("porto"), Some(&2), "{backend}: {last:?}");
            assert_eq!(last.opened, 3, "{backend}: {last:?}");
        }
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(5.0));
        assert_eq!(percentile(&values, 0.9), Some(9.0));
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
