//! The staff workspace's frame: who is signed in and what they read it in (their chosen
//! language, else their browser's; their chosen time zone, else their browser's), the
//! navigation with the search box on every page, and how times read ("3 h ago", a local
//! date on hover).

use std::fmt::Write;

use axum::http::{HeaderMap, header};
use firstline_i18n::{Lang, Message, msg, text};

use super::html::{esc, head};
use crate::http::access::Caller;
use crate::store::staff::Preferences;

/// A signed-in member of staff, as a page needs them.
#[derive(Debug)]
pub(crate) struct Staff {
    pub caller: Caller,
    pub csrf: String,
    pub lang: Lang,
    /// The language they chose (None: their browser's).
    pub chosen_lang: Option<Lang>,
    /// An IANA name the browser formats times in (None: the browser's own zone).
    pub time_zone: Option<String>,
}

impl Staff {
    pub fn new(
        caller: Caller,
        csrf: String,
        preferences: &Preferences,
        headers: &HeaderMap,
    ) -> Staff {
        let browser = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language);
        let chosen_lang = preferences.language.as_deref().and_then(Lang::parse);
        Staff {
            caller,
            csrf,
            lang: chosen_lang.or(browser).unwrap_or_default(),
            chosen_lang,
            time_zone: preferences
                .time_zone
                .clone()
                .filter(|zone| valid_time_zone(zone)),
        }
    }

    /// A message without arguments, in their language.
    pub fn t(&self, id: &str) -> String {
        firstline_i18n::tr(self.lang, id)
    }

    /// A message, in their language.
    pub fn say(&self, message: &Message) -> String {
        text(self.lang, message)
    }
}

/// A message without arguments in `lang`.
pub(crate) fn tr(lang: Lang, id: &str) -> String {
    firstline_i18n::tr(lang, id)
}

/// Whether `zone` looks like an IANA time zone name (`Europe/Warsaw`, `UTC`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+5`). The browser, which has the zone
/// database, has the last word: a name it does not know shows times in its own zone.
pub(crate) fn valid_time_zone(zone: &str) -> bool {
    !zone.is_empty()
        && zone.len() <= 64
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && !zone.starts_with('/')
        && !zone.contains("//")
}

/// A whole page for a signed-in member of staff: navigation, search box, then `body`.
pub(crate) fn staff_page(
    staff: &Staff,
    title: &str,
    body: &str,
    refresh_secs: Option<u32>,
) -> String {
    let lang = staff.lang;
    let mut html = String::with_capacity(body.len() + 2048);
    html.push_str(&head(lang, title, staff.time_zone.as_deref(), refresh_secs));
    html.push_str("<body><header><strong>Firstline</strong><nav class=\"main\">");
    for (href, id) in [
        ("/", "staff-nav-queue"),
        ("/devices", "staff-nav-devices"),
        ("/knowledge", "staff-nav-knowledge"),
        ("/stats", "staff-nav-stats"),
        ("/fleet", "staff-nav-fleet"),
        ("/account", "staff-nav-account"),
    ] {
        // The fleet's configuration is the admins'.
        if href == "/fleet" && staff.caller.role != crate::model::Role::Admin {
            continue;
        }
        let _ = write!(html, "<a href=\"{href}\">{}</a>", esc(&tr(lang, id)));
    }
    let _ = write!(
        html,
        "</nav><form class=\"search\" role=\"search\" method=\"get\" action=\"/search\"><input type=\"search\" name=\"q\" id=\"search-box\" placeholder=\"{}\" aria-label=\"{}\" accesskey=\"/\"></form>",
        esc(&tr(lang, "staff-search-placeholder")),
        esc(&tr(lang, "staff-search")),
    );
    let _ = write!(
        html,
        "<span class=\"who\">{} ({})</span><form class=\"inline\" method=\"post\" action=\"/logout/form\"><input type=\"hidden\" name=\"csrf_token\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        esc(&staff.caller.name),
        esc(&tr(
            lang,
            &format!("staff-role-{}", staff.caller.role.as_str())
        )),
        esc(&staff.csrf),
        esc(&tr(lang, "staff-sign-out")),
    );
    let _ = write!(html, "</header><main>{body}</main></body></html>");
    html
}

/// How long ago `at_ms` was, in words ("3 h ago").
pub(crate) fn ago(lang: Lang, at_ms: i64, now_ms: i64) -> String {
    text(lang, &span_message("staff-ago", (now_ms - at_ms).max(0)))
}

/// A span of time as a message with its count and unit (`{ $count } h`): the largest
/// whole unit, so a queue reads "3 d", "5 h", "12 min", "40 s".
pub(crate) fn span_message(id: &'static str, ms: i64) -> Message {
    let seconds = ms.max(0) / 1000;
    let (count, unit) = match seconds {
        0..60 => (seconds, "s"),
        60..3600 => (seconds / 60, "min"),
        3600..86400 => (seconds / 3600, "h"),
        _ => (seconds / 86400, "d"),
    };
    msg!(id, "count" => count, "unit" => unit)
}

/// A moment for a person to read: the relative age in words, and a `<time>` element the
/// page's script shows as a date in their time zone (UTC without the script).
pub(crate) fn moment(lang: Lang, at_ms: i64, now_ms: i64) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        iso(at_ms),
        esc(&super::html::when(at_ms)),
        esc(&ago(lang, at_ms, now_ms))
    )
}

/// Milliseconds since the epoch as an RFC 3339 UTC time.
pub(crate) fn iso(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_read_their_own_language_else_their_browsers() {
        let caller = || Caller {
            name: "ana".into(),
            role: crate::model::Role::Technician,
            session: None,
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            "pl-PL,pl;q=0.9,en;q=0.5".parse().expect("header"),
        );
        let none = Preferences::default();
        assert_eq!(
            Staff::new(caller(), String::new(), &none, &headers).lang,
            Lang::Pl
        );
        let chosen = Preferences {
            language: Some("el".into()),
            time_zone: Some("Europe/Athens".into()),
        };
        let staff = Staff::new(caller(), String::new(), &chosen, &headers);
        assert_eq!(
            (staff.lang, staff.time_zone.as_deref()),
            (Lang::El, Some("Europe/Athens"))
        );
        assert_eq!(
            Staff::new(caller(), String::new(), &none, &HeaderMap::new()).lang,
            Lang::En
        );
    }

    #[test]
    fn a_time_zone_is_a_name_not_markup() {
        for good in [
            "UTC",
            "Europe/Warsaw",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(valid_time_zone(good), "{good}");
        }
        for bad in [
            "",
            "\"><script>",
            "Europe/../etc",
            "/etc/passwd",
            "a//b",
            &"x".repeat(65),
        ] {
            assert!(!valid_time_zone(bad), "{bad}");
        }
    }

    #[test]
    fn ages_read_in_every_language() {
        let now = 10 * 86_400_000;
        for lang in Lang::ALL {
            for ms in [5_000, 125_000, 3 * 3_600_000, 4 * 86_400_000] {
                let words = ago(lang, now - ms, now);
                assert!(
                    !words.contains('{') && !words.contains("staff-"),
                    "{lang}: {words}"
                );
            }
        }
        assert_eq!(ago(Lang::En, now - 3 * 3_600_000, now), "3 h ago");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    }
}
