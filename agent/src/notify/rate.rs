//! How many notices one account may be shown: the collector may be wrong or hostile, and a
//! screen full of notifications helps no one. Pure: the caller passes the monotonic time.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// At most this many notices per account within [`ACCOUNT_WINDOW`].
pub const PER_ACCOUNT: usize = 6;
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(600);
/// At most one notice of a kind per ticket and account within this time (a reply and the
/// "is it fixed?" that follows it are both shown; a burst of replies is not).
pub const TICKET_WINDOW: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Show,
    /// Over a limit (`per_ticket`: the ticket's, else the account's). `first` is true for
    /// the first drop since the account's last shown notice: the one worth a log line.
    TooMany {
        first: bool,
        per_ticket: bool,
    },
}

#[derive(Debug, Default)]
pub struct RateLimits {
    /// Times of the notices shown per account, within the account window.
    shown: HashMap<String, VecDeque<Instant>>,
    /// The last notice per (account, ticket, kind), within the ticket window.
    tickets: HashMap<(String, i64, String), Instant>,
    /// Notices dropped per account since its last shown one.
    dropped: HashMap<String, u64>,
}

impl RateLimits {
    /// Whether a notice of `kind` for `account` about `ticket_id` (0: none) may be shown at
    /// `now`; a notice shown is counted.
    pub fn admit(&mut self, account: &str, ticket_id: i64, kind: &str, now: Instant) -> Verdict {
        self.forget_before(now);
        let shown = self.shown.get(account).map_or(0, VecDeque::len);
        let key = (account.to_owned(), ticket_id, kind.to_owned());
        let per_ticket = ticket_id != 0 && self.tickets.contains_key(&key);
        if shown >= PER_ACCOUNT || per_ticket {
            let dropped = self.dropped.entry(account.to_owned()).or_default();
            *dropped += 1;
            return Verdict::TooMany {
                first: *dropped == 1,
                per_ticket,
            };
        }
        self.shown
            .entry(account.to_owned())
            .or_default()
            .push_back(now);
        if ticket_id != 0 {
            self.tickets.insert(key, now);
        }
        Verdict::Show
    }

    /// The notices dropped for `account` since its last shown one, reset to zero: called
    /// after a `Show`, for the one log line that counts them.
    pub fn dropped_since_shown(&mut self, account: &str) -> u64 {
        self.dropped.remove(account).unwrap_or(0)
    }

    /// Forgets what fell out of the windows, so memory stays bounded by recent notices.
    fn forget_before(&mut self, now: Instant) {
        self.shown.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= ACCOUNT_WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        self.tickets
            .retain(|_, t| now.saturating_duration_since(*t) < TICKET_WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_gets_six_notices_per_ten_minutes_and_one_per_ticket_per_half_minute() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut limits = RateLimits::default();
        // (account, ticket, seconds after start, shown?)
        let cases: &[(&str, i64, u64, bool)] = &[
            ("anna", 1, 0, true),
            ("anna", 1, 10, false), // the same ticket within 30 s
            ("anna", 1, 31, true),  // the same ticket after 30 s
            ("ben", 1, 31, true),   // another account's notice about the same ticket
            ("anna", 0, 40, true),  // no ticket: only the account's limit
            ("anna", 0, 41, true),
            ("anna", 2, 50, true),
            ("anna", 3, 60, true),  // the sixth within ten minutes
            ("anna", 4, 70, false), // the seventh
            ("ben", 2, 70, true),   // ben is counted apart
            ("anna", 5, 599, false),
            ("anna", 5, 600, true), // the first fell out of the window
            ("anna", 6, 601, false),
        ];
        for (i, (account, ticket, secs, expected)) in cases.iter().enumerate() {
            let verdict = limits.admit(account, *ticket, "reply", at(*secs));
            assert_eq!(verdict == Verdict::Show, *expected, "case {i}: {verdict:?}");
        }
    }

    #[test]
    fn drops_are_counted_once_per_run() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        for ticket in 1..=6 {
            assert_eq!(limits.admit("anna", ticket, "reply", now), Verdict::Show);
        }
        let firsts: Vec<bool> = (7..=9)
            .map(|ticket| match limits.admit("anna", ticket, "reply", now) {
                Verdict::TooMany { first, .. } => first,
                Verdict::Show => panic!("shown over the limit"),
            })
            .collect();
        assert_eq!(firsts, [true, false, false]);
        let later = now + ACCOUNT_WINDOW;
        assert_eq!(limits.admit("anna", 10, "reply", later), Verdict::Show);
        assert_eq!(limits.dropped_since_shown("anna"), 3);
        assert_eq!(limits.dropped_since_shown("anna"), 0);
    }

    #[test]
    fn memory_is_bounded_by_the_windows() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        for ticket in 1..=5 {
            limits.admit(&format!("user{ticket}"), ticket, "reply", now);
        }
        limits.admit("anna", 0, "reply", now + ACCOUNT_WINDOW);
        assert_eq!(limits.shown.len(), 1);
        assert!(limits.tickets.is_empty());
    }

    #[test]
    fn a_reply_and_the_fix_to_confirm_on_one_ticket_are_both_shown() {
        let mut limits = RateLimits::default();
        let now = Instant::now();
        assert_eq!(limits.admit("anna", 7, "reply", now), Verdict::Show);
        assert_eq!(limits.admit("anna", 7, "resolved", now), Verdict::Show);
        assert!(matches!(
            limits.admit("anna", 7, "reply", now),
            Verdict::TooMany {
                per_ticket: true,
                ..
            }
        ));
    }
}
