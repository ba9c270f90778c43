//! The stats page's "People in the loop" and "Fixes" cards: what only Firstline can count,
//! each number with the definition it is counted by (`store::stats::PeopleStats`, `FixStats`).

use firstline_i18n::{Lang, Message, msg};

use super::frame::{span_message, tr};
use super::html::esc;
use crate::store::stats::PeopleStats;

/// A share as a whole percentage, or a dash when there is nothing to share.
fn percent(share: Option<f64>) -> String {
    share
        .map(|s| format!("{:.0}%", s * 100.0))
        .unwrap_or_else(|| "—".to_owned())
}

/// One `<dt>`/`<dd>` pair: the label's words and the value's, escaped.
fn pair(lang: Lang, label: &str, value: &Message) -> String {
    format!(
        "<dt>{}</dt><dd>{}</dd>",
        esc(&tr(lang, label)),
        esc(&value.text(lang))
    )
}

/// The card: each number with its share and what it counts.
pub fn people_card(people: &PeopleStats, lang: Lang) -> String {
    let csat = match people.csat_average {
        Some(average) => msg!("staff-stats-csat-value",
            "average" => format!("{average:.1}"), "ratings" => people.csat_ratings),
        None => msg!("staff-stats-csat-none"),
    };
    let rows = [
        pair(
            lang,
            "staff-stats-reports",
            &msg!("staff-stats-reports-value",
                "reports" => people.reports, "joined" => people.reports_joined),
        ),
        pair(
            lang,
            "staff-stats-found-first",
            &msg!("staff-stats-found-first-value",
                "share" => percent(people.found_before_reported_share),
                "found" => people.reports_found_by_checks_first,
                "reports" => people.reports),
        ),
        pair(
            lang,
            "staff-stats-unreported",
            &msg!("staff-stats-unreported-value",
                "share" => percent(people.opened_by_checks_without_report_share),
                "count" => people.tickets_by_checks_without_report),
        ),
        pair(
            lang,
            "staff-stats-outage",
            &msg!("staff-stats-outage-value",
                "count" => people.reports_known_outage,
                "share" => percent(people.known_outage_share)),
        ),
        pair(
            lang,
            "staff-stats-fixed",
            &msg!("staff-stats-fixed-value",
                "share" => percent(people.fixed_confirmed_share),
                "fixed" => people.fixed_confirmed,
                "answers" => people.fixed_answers),
        ),
        pair(lang, "staff-stats-csat", &csat),
    ];
    format!(
        "<h2>{}</h2><div class=\"card\"><dl class=\"kv\" id=\"people-stats\">{}</dl></div>",
        esc(&tr(lang, "staff-stats-people")),
        rows.concat()
    )
}

/// The card of fixes: what ran, what verified, what healed itself, and how fast.
pub fn fixes_card(fixes: &crate::store::fixes::FixStats, lang: Lang) -> String {
    let duration = |ms: Option<i64>| match ms {
        None => "—".to_owned(),
        Some(ms) => span_message("staff-span", ms).text(lang),
    };
    let count = |state: &str| fixes.runs.get(state).copied().unwrap_or(0);
    let rows = [
        pair(
            lang,
            "staff-stats-runs",
            &msg!("staff-stats-runs-value",
                "verified" => count("verified"),
                "not_verified" => count("not_verified"),
                "failed" => count("failed"),
                "refused" => count("refused"),
                "waiting" => count("waiting")),
        ),
        pair(
            lang,
            "staff-stats-verified-rate",
            &msg!("staff-stats-verified-rate-value", "rate" => percent(fixes.verified_rate)),
        ),
        pair(
            lang,
            "staff-stats-self-healed",
            &msg!("staff-stats-self-healed-value", "share" => percent(fixes.self_healed_share)),
        ),
        pair(
            lang,
            "staff-stats-time-to-fix",
            &msg!("staff-stats-time-to-fix-value",
                "auto" => duration(fixes.time_to_fix_auto_p50_ms),
                "person" => duration(fixes.time_to_fix_staff_p50_ms)),
        ),
    ];
    format!(
        "<h2>{}</h2><div class=\"card\"><dl class=\"kv\" id=\"fix-stats\">{}</dl></div>",
        esc(&tr(lang, "staff-stats-fixes")),
        rows.concat()
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
        let card = people_card(&people, Lang::En);
        for expected in [
            "<dd>75% (3 of 4 reports",
            "<dd>1 (25% of reports",
            "<dd>50% (1 of 2 who answered",
            "<dd>4.5 of 5 (2 ratings)</dd>",
        ] {
            assert!(card.contains(expected), "{expected} in {card}");
        }
        let empty = people_card(&PeopleStats::default(), Lang::En);
        assert!(empty.contains("<dd>— (no ratings)</dd>"), "{empty}");
        assert!(empty.contains("<dd>— (0 of 0 reports"), "{empty}");
    }
}
