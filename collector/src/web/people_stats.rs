//! The stats page's "People in the loop" and "Fixes" cards: what only Firstline can count,
//! each number with the definition it is counted by (`store::stats::PeopleStats`, `FixStats`).

use crate::store::stats::PeopleStats;

/// The card: each number with its share and what it counts.
pub fn people_card(people: &PeopleStats) -> String {
    let percent = |share: Option<f64>| {
        share
            .map(|s| format!("{:.0}%", s * 100.0))
            .unwrap_or_else(|| "—".to_owned())
    };
    let csat = people
        .csat_average
        .map(|average| format!("{average:.1} of 5 ({} ratings)", people.csat_ratings))
        .unwrap_or_else(|| "— (no ratings)".to_owned());
    format!(
        "<h2>People in the loop</h2><div class=\"card\"><dl class=\"kv\">\
         <dt>User reports</dt><dd>{reports} ({joined} joined the requester's open ticket)</dd>\
         <dt>Found before anyone reported</dt><dd>{found} ({found_n} of {reports} reports: a check had a ticket open \
         for that device and area, or an incident explained it, when the report came)</dd>\
         <dt>Opened by checks, never reported</dt><dd>{unreported} ({unreported_n} of the tickets opened: no user \
         report was linked to them or explained by them)</dd>\
         <dt>Answered by a known outage</dt><dd>{outage_n} ({outage} of reports: an open incident explained \
         them, the user was told)</dd>\
         <dt>Requesters who confirmed \"fixed\"</dt><dd>{fixed} ({fixed_n} of {answers} who answered, latest \
         answer per ticket)</dd>\
         <dt>CSAT</dt><dd>{csat}</dd></dl></div>",
        reports = people.reports,
        joined = people.reports_joined,
        found = percent(people.found_before_reported_share),
        found_n = people.reports_found_by_checks_first,
        unreported = percent(people.opened_by_checks_without_report_share),
        unreported_n = people.tickets_by_checks_without_report,
        outage_n = people.reports_known_outage,
        outage = percent(people.known_outage_share),
        fixed = percent(people.fixed_confirmed_share),
        fixed_n = people.fixed_confirmed,
        answers = people.fixed_answers,
    )
}

/// The card of fixes: what ran, what verified, what healed itself, and how fast.
pub fn fixes_card(fixes: &crate::store::fixes::FixStats) -> String {
    let percent = |share: Option<f64>| {
        share
            .map(|s| format!("{:.0}%", s * 100.0))
            .unwrap_or_else(|| "—".to_owned())
    };
    let duration = |ms: Option<i64>| match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 120_000 => format!("{} s", ms / 1000),
        Some(ms) if ms < 7_200_000 => format!("{} min", ms / 60_000),
        Some(ms) => format!("{:.1} h", ms as f64 / 3_600_000.0),
    };
    let count = |state: &str| fixes.runs.get(state).copied().unwrap_or(0);
    format!(
        "<h2>Fixes</h2><div class=\"card\"><dl class=\"kv\" id=\"fix-stats\">\
         <dt>Runs</dt><dd>{verified} verified, {not_verified} not verified, {failed} failed, {refused} refused by the device, {waiting} waiting</dd>\
         <dt>Verified-fix rate</dt><dd>{rate} (of the runs that ran: the probe that found the fault no longer finds it)</dd>\
         <dt>Self-healed</dt><dd>{healed} (of resolved tickets: an automatic fix resolved them, verified)</dd>\
         <dt>Time to fix</dt><dd>automatic {auto}, by a person {person} (median, from the ticket opening to the fix verified)</dd></dl></div>",
        verified = count("verified"),
        not_verified = count("not_verified"),
        failed = count("failed"),
        refused = count("refused"),
        waiting = count("waiting"),
        rate = percent(fixes.verified_rate),
        healed = percent(fixes.self_healed_share),
        auto = duration(fixes.time_to_fix_auto_p50_ms),
        person = duration(fixes.time_to_fix_staff_p50_ms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_shows_each_number_with_its_share_and_dashes_when_there_is_none() {
        let people = PeopleStats {
            reports: 4,
            reports_found_by_checks_first: 3,
            found_before_reported_share: Some(0.75),
            reports_known_outage: 1,
            known_outage_share: Some(0.25),
            fixed_answers: 2,
            fixed_confirmed: 1,
            fixed_confirmed_share: Some(0.5),
            csat_average: Some(4.5),
            csat_ratings: 2,
            ..PeopleStats::default()
        };
        let card = people_card(&people);
        for expected in [
            "<dd>75% (3 of 4 reports",
            "<dd>1 (25% of reports",
            "<dd>50% (1 of 2 who answered",
            "<dd>4.5 of 5 (2 ratings)</dd>",
        ] {
            assert!(card.contains(expected), "{expected} in {card}");
        }
        let empty = people_card(&PeopleStats::default());
        assert!(empty.contains("<dd>— (no ratings)</dd>"), "{empty}");
        assert!(empty.contains("<dd>— (0 of 0 reports"), "{empty}");
    }
}
