//! `/devices`: every device with its health, site, users, last contact, agent version and
//! open tickets; filtered by words (hostname, user, site, OS), site and health.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use firstline_i18n::msg;

use super::frame::{ago, iso};
use super::html::esc;
use super::{directory_of, person_label, signed_in, signed_page, unavailable};
use crate::http::HttpState;
use crate::model::now_ms;
use crate::net::url_encode;
use crate::store::device_list::DeviceListing;

/// A device's health as the list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Revoked,
    Offline,
    Problems,
    Healthy,
}

impl Health {
    fn of(device: &DeviceListing, connected: bool) -> Health {
        if device.revoked {
            Health::Revoked
        } else if !connected {
            Health::Offline
        } else if device.firing > 0 {
            Health::Problems
        } else {
            Health::Healthy
        }
    }

    fn name(self) -> &'static str {
        match self {
            Health::Revoked => "revoked",
            Health::Offline => "offline",
            Health::Problems => "problems",
            Health::Healthy => "healthy",
        }
    }

    const ALL: [Health; 4] = [
        Health::Problems,
        Health::Offline,
        Health::Healthy,
        Health::Revoked,
    ];
}

/// Devices on one page of the list.
const PAGE: usize = 200;

/// "Page 2 of 25" with links to the pages before and after, keeping the filters; nothing
/// when all fits on one page.
fn pager(
    staff: &super::frame::Staff,
    query: &HashMap<String, String>,
    page: usize,
    pages: usize,
) -> String {
    if pages <= 1 {
        return String::new();
    }
    let link = |to: usize| {
        let mut pairs: Vec<(&String, &String)> = query
            .iter()
            .filter(|(key, _)| key.as_str() != "page")
            .collect();
        pairs.sort();
        let mut href = String::from("/devices?");
        for (key, value) in pairs {
            let _ = write!(href, "{}={}&", url_encode(key), url_encode(value));
        }
        let _ = write!(href, "page={to}");
        href
    };
    let mut nav = String::from("<nav class=\"pager\">");
    if page > 1 {
        let _ = write!(
            nav,
            "<a href=\"{}\" rel=\"prev\">{}</a> ",
            esc(&link(page - 1)),
            esc(&staff.t("staff-page-previous"))
        );
    }
    let _ = write!(
        nav,
        "<span class=\"muted\">{}</span>",
        esc(&staff.say(&msg!("staff-page-of", "page" => page, "pages" => pages)))
    );
    if page < pages {
        let _ = write!(
            nav,
            " <a href=\"{}\" rel=\"next\">{}</a>",
            esc(&link(page + 1)),
            esc(&staff.t("staff-page-next"))
        );
    }
    nav.push_str("</nav>");
    nav
}

/// `/devices`.
pub(super) async fn list(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let lang = staff.lang;
    let devices = match state.store.device_list().await {
        Ok(devices) => devices,
        Err(e) => {
            return unavailable(&staff, "devices page", &e);
        }
    };
    let wanted = |key: &str| {
        query
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let sites: BTreeSet<String> = devices.iter().map(|d| d.site.clone()).collect();
    let mut problems = Vec::new();
    let site = match wanted("site") {
        Some(site) if !sites.contains(&site) => {
            problems.push(
                msg!("staff-filter-bad", "field" => staff.t("staff-filter-site"), "value" => site.as_str(),
                     "valid" => sites.iter().cloned().collect::<Vec<_>>().join(", "))
                .text(lang),
            );
            None
        }
        other => other,
    };
    let health = match wanted("health") {
        None => None,
        Some(value) => match Health::ALL.into_iter().find(|h| h.name() == value) {
            Some(health) => Some(health),
            None => {
                problems.push(
                    msg!("staff-filter-bad", "field" => staff.t("staff-filter-health"), "value" => value.as_str(),
                         "valid" => Health::ALL.map(Health::name).join(", "))
                    .text(lang),
                );
                None
            }
        },
    };
    let words: Vec<String> = wanted("q")
        .map(|q| {
            q.to_lowercase()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let total = devices.len();
    let shown: Vec<(&DeviceListing, Health)> = devices
        .iter()
        .map(|d| (d, Health::of(d, state.sessions.is_connected(&d.id))))
        .filter(|(d, h)| {
            site.as_deref().is_none_or(|site| d.site == site)
                && health.is_none_or(|wanted| *h == wanted)
                && words.iter().all(|word| {
                    d.hostname.to_lowercase().contains(word)
                        || d.site.to_lowercase().contains(word)
                        || d.os
                            .as_deref()
                            .is_some_and(|os| os.to_lowercase().contains(word))
                        || d.users.iter().any(|u| u.to_lowercase().contains(word))
                })
        })
        .collect();
    // One page of the devices that match, in hostname order.
    let pages = shown.len().div_ceil(PAGE).max(1);
    let page = match wanted("page") {
        None => 1,
        Some(value) => match value.parse::<usize>() {
            Ok(page) if (1..=pages).contains(&page) => page,
            _ => {
                problems.push(
                    msg!("staff-filter-bad", "field" => staff.t("staff-filter-page"), "value" => value.as_str(),
                         "valid" => format!("1–{pages}"))
                    .text(lang),
                );
                1
            }
        },
    };
    let matching = shown.len();
    let shown: Vec<(&DeviceListing, Health)> = shown
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .collect();
    let accounts: Vec<String> = shown
        .iter()
        .flat_map(|(d, _)| d.users.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let directory = directory_of(&state, &accounts).await;

    let t = |id: &str| esc(&staff.t(id));
    let mut body = format!("<h1>{}</h1>", t("staff-devices-heading"));
    for problem in &problems {
        let _ = write!(
            body,
            "<p class=\"error filter-problem\">{}</p>",
            esc(problem)
        );
    }
    let _ = write!(
        body,
        "<form class=\"filters\" method=\"get\" action=\"/devices\"><label>{}<br><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"{}\"></label>",
        t("staff-devices-find"),
        esc(query.get("q").map(String::as_str).unwrap_or_default()),
        t("staff-devices-find-placeholder"),
    );
    let _ = write!(
        body,
        "<label>{}<br><select name=\"site\"><option value=\"\">{}</option>",
        t("staff-filter-site"),
        t("staff-filter-any")
    );
    for name in &sites {
        let selected = if site.as_deref() == Some(name) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{0}\"{selected}>{0}</option>",
            esc(name)
        );
    }
    let _ = write!(
        body,
        "</select></label><label>{}<br><select name=\"health\"><option value=\"\">{}</option>",
        t("staff-filter-health"),
        t("staff-filter-any")
    );
    for option in Health::ALL {
        let selected = if health == Some(option) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{selected}>{}</option>",
            option.name(),
            t(&format!("staff-health-{}", option.name()))
        );
    }
    let _ = write!(
        body,
        "</select></label><button type=\"submit\">{}</button> <a href=\"/devices\">{}</a></form>",
        t("staff-filter-apply"),
        t("staff-filter-clear")
    );
    let _ = write!(
        body,
        "<p class=\"counts\">{}</p>",
        esc(&msg!("staff-devices-count", "shown" => matching, "total" => total).text(lang))
    );
    let pager = pager(&staff, &query, page, pages);
    body.push_str(&pager);
    let _ = write!(
        body,
        "<table id=\"devices\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        t("staff-col-device"),
        t("staff-col-health"),
        t("staff-col-site"),
        t("staff-col-user"),
        t("staff-col-last-seen"),
        t("staff-col-agent"),
        t("staff-col-open-tickets"),
    );
    let now = now_ms();
    for (device, health) in &shown {
        let users = device
            .users
            .iter()
            .take(3)
            .map(|u| person_label(u, &directory, false))
            .collect::<Vec<_>>()
            .join(", ");
        let health_words = match health {
            Health::Problems => msg!("staff-health-firing", "count" => device.firing).text(lang),
            other => staff.t(&format!("staff-health-{}", other.name())),
        };
        let seen = match device.last_seen_at_ms {
            Some(at) => format!(
                "<time datetime=\"{}\">{}</time>",
                iso(at),
                esc(&ago(lang, at, now))
            ),
            None => t("staff-never"),
        };
        let tickets = if device.open_tickets == 0 {
            "0".to_owned()
        } else {
            format!(
                "<a href=\"/devices/{}#tickets\">{}</a>",
                esc(&device.id),
                device.open_tickets
            )
        };
        let _ = write!(
            body,
            "<tr class=\"health-{health_class}\"><td><a href=\"/devices/{id}\">{hostname}</a><br><span class=\"muted\">{os}</span></td>\
             <td data-label=\"{l_health}\"><span class=\"health {health_class}\">{health_words}</span></td>\
             <td data-label=\"{l_site}\"><a href=\"/devices?site={site_link}\">{site}</a></td>\
             <td data-label=\"{l_user}\" class=\"user\">{users}</td>\
             <td data-label=\"{l_seen}\">{seen}</td>\
             <td data-label=\"{l_agent}\">{agent}</td>\
             <td data-label=\"{l_tickets}\">{tickets}</td></tr>",
            health_class = health.name(),
            id = esc(&device.id),
            hostname = esc(&device.hostname),
            os = esc(device.os.as_deref().unwrap_or_default()),
            health_words = esc(&health_words),
            site_link = url_encode(&device.site),
            site = esc(&device.site),
            agent = esc(&device.agent_version),
            l_health = t("staff-col-health"),
            l_site = t("staff-col-site"),
            l_user = t("staff-col-user"),
            l_seen = t("staff-col-last-seen"),
            l_agent = t("staff-col-agent"),
            l_tickets = t("staff-col-open-tickets"),
        );
    }
    body.push_str("</tbody></table>");
    body.push_str(&pager);
    if shown.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"empty\">{}</p>",
            t("staff-devices-none")
        );
    }
    signed_page(&staff, &staff.t("staff-devices-heading"), &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::access::Caller;
    use crate::store::staff::Preferences;

    #[test]
    fn the_pager_keeps_the_filters_and_links_the_pages_around() {
        let staff = super::super::frame::Staff::new(
            Caller {
                name: "ana".into(),
                role: crate::model::Role::Technician,
                session: None,
            },
            String::new(),
            &Preferences::default(),
            &HeaderMap::new(),
        );
        let query: HashMap<String, String> = [
            ("site".to_owned(), "Łódź & Kraków".to_owned()),
            ("page".to_owned(), "2".to_owned()),
        ]
        .into();
        let nav = pager(&staff, &query, 2, 3);
        assert!(nav.contains("Page 2 of 3"), "{nav}");
        let site = "site=%C5%81%C3%B3d%C5%BA%20%26%20Krak%C3%B3w";
        assert!(
            nav.contains(&format!("href=\"/devices?{site}&amp;page=1\" rel=\"prev\"")),
            "{nav}"
        );
        assert!(
            nav.contains(&format!("href=\"/devices?{site}&amp;page=3\" rel=\"next\"")),
            "{nav}"
        );
        assert!(!pager(&staff, &query, 3, 3).contains("rel=\"next\""));
        assert_eq!(pager(&staff, &HashMap::new(), 1, 1), "");
    }
}
