//! The queue (`/`): what is wrong, on which devices and for whom, where, how old, how long
//! until its SLA runs out, who has it and where it stands — sortable, filtered from choices
//! (a value that means nothing is said, not ignored), with saved views ("My tickets",
//! "Unassigned P1–P2", "Breaching within 1 h", "Reported by users") and actions on the
//! selected tickets at once (`POST /tickets/bulk`). The page's script keeps it current in
//! place and gives it keys (j/k, x, o, a, r, /); without the script it is a plain page.

use crate::net::url_encode;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use firstline_i18n::{Lang, msg};

use super::frame::{Staff, ago, span_message};
use super::html::esc;
use super::{
    csrf_field, directory_of, person_label, priority_class, problem, signed_in, unavailable,
};
use crate::http::{ActionRequest, HttpState, perform};
use crate::model::now_ms;
use crate::store::TicketFilter;
use crate::store::tickets::AssigneeFilter;
use crate::store::tickets::TicketRecord;
use crate::tickets::{TicketKind, TicketState};

/// The most tickets one page shows (and one bulk action takes).
const PAGE_LIMIT: u32 = 1000;
const BULK_LIMIT: usize = 500;
/// "Breaching within 1 h".
const BREACHING_MS: i64 = 3_600_000;

/// The saved views every member of staff has, as (name, message id).
const VIEWS: [(&str, &str); 5] = [
    ("open", "staff-view-open"),
    ("mine", "staff-view-mine"),
    ("unassigned-urgent", "staff-view-unassigned-urgent"),
    ("breaching", "staff-view-breaching"),
    ("reported", "staff-view-reported"),
];

/// The orders the queue can be read in: (name, message id). A leading `-` reverses one.
const SORTS: [(&str, &str); 5] = [
    ("due", "staff-col-sla"),
    ("priority", "staff-col-priority"),
    ("age", "staff-col-age"),
    ("updated", "staff-col-updated"),
    ("id", "staff-col-id"),
];

/// What the queue was asked to show, every value checked.
#[derive(Debug, Default)]
struct Asked {
    view: String,
    state: String,
    priority: Option<u8>,
    tier: Option<u8>,
    kind: Option<TicketKind>,
    /// A user's name, or "none" for unassigned.
    assignee: Option<String>,
    site: Option<String>,
    check: Option<String>,
    sort: String,
    reverse: bool,
    /// What the query said that meant nothing, in the reader's words.
    problems: Vec<String>,
}

impl Asked {
    fn read(staff: &Staff, query: &HashMap<String, String>, sites: &BTreeSet<String>) -> Asked {
        let lang = staff.lang;
        let wanted = |key: &str| {
            query
                .get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut asked = Asked::default();
        let bad = |field: &str, value: &str, valid: &str| asked_problem(lang, field, value, valid);
        let mut problems = Vec::new();
        asked.view = match wanted("view") {
            None => "open".to_owned(),
            Some(view) if VIEWS.iter().any(|(name, _)| *name == view) => view,
            Some(view) => {
                problems.push(bad("view", &view, &names(VIEWS.iter().map(|v| v.0))));
                "open".to_owned()
            }
        };
        asked.state = match wanted("state") {
            None => "open".to_owned(),
            Some(value) if value == "open" || TicketState::parse(&value).is_some() => value,
            Some(value) => {
                let valid = names(
                    std::iter::once("open").chain(TicketState::ALL.iter().map(|s| s.as_str())),
                );
                problems.push(bad("state", &value, &valid));
                "open".to_owned()
            }
        };
        let mut number = |key: &str, prefix: char, range: std::ops::RangeInclusive<u8>| {
            let value = wanted(key)?;
            match value
                .trim_start_matches([prefix, prefix.to_ascii_uppercase()])
                .parse::<u8>()
            {
                Ok(n) if range.contains(&n) => Some(n),
                _ => {
                    let valid = format!("{prefix}{}–{prefix}{}", range.start(), range.end());
                    problems.push(asked_problem(lang, key, &value, &valid));
                    None
                }
            }
        };
        asked.priority = number("priority", 'p', 1..=5);
        asked.tier = number("tier", 'l', 1..=3);
        asked.kind = match wanted("kind") {
            None => None,
            Some(value) => match TicketKind::parse(&value) {
                Some(kind) => Some(kind),
                None => {
                    problems.push(bad("kind", &value, "device, incident, report"));
                    None
                }
            },
        };
        asked.assignee = wanted("assignee");
        asked.site = match wanted("site") {
            Some(site) if !sites.contains(&site) => {
                problems.push(bad("site", &site, &names(sites.iter().map(String::as_str))));
                None
            }
            other => other,
        };
        asked.check = wanted("check");
        let sort = wanted("sort").unwrap_or_else(|| "due".to_owned());
        let (reverse, key) = match sort.strip_prefix('-') {
            Some(key) => (true, key.to_owned()),
            None => (false, sort.clone()),
        };
        if SORTS.iter().any(|(name, _)| *name == key) {
            asked.sort = key;
            asked.reverse = reverse;
        } else {
            problems.push(bad("sort", &sort, &names(SORTS.iter().map(|s| s.0))));
            asked.sort = "due".to_owned();
        }
        asked.problems = problems;
        asked
    }

    /// This query with `key` set to `value` (or removed when empty), as a link.
    fn link(query: &HashMap<String, String>, key: &str, value: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = query
            .iter()
            .filter(|(k, v)| k.as_str() != key && k.as_str() != "done" && !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if !value.is_empty() {
            pairs.push((key, value));
        }
        pairs.sort();
        if pairs.is_empty() {
            return "/".to_owned();
        }
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
            .collect();
        format!("/?{}", encoded.join("&"))
    }
}

fn names<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn asked_problem(lang: Lang, field: &str, value: &str, valid: &str) -> String {
    let field_words = firstline_i18n::tr(lang, &format!("staff-filter-{field}"));
    msg!("staff-filter-bad", "field" => field_words, "value" => value, "valid" => valid).text(lang)
}

/// When a ticket's SLA next runs out: its first response until someone answered, then its
/// resolution.
fn due(ticket: &TicketRecord) -> i64 {
    if ticket.first_response_at_ms.is_none() {
        ticket.response_due_ms.min(ticket.resolution_due_ms)
    } else {
        ticket.resolution_due_ms
    }
}

/// The person a ticket is about: who reported it, else its device's user.
fn ticket_user(ticket: &TicketRecord) -> Option<&str> {
    ticket
        .requester
        .as_deref()
        .or(ticket.affected_users.first().map(String::as_str))
}

/// `/`: the queue.
pub(super) async fn page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let lang = staff.lang;
    // Names and sites only: every device's inventory read for two columns made the queue
    // the slowest page with a large fleet.
    let devices: HashMap<String, (String, String)> = state
        .store
        .device_names()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(id, hostname, site)| (id, (hostname, site)))
        .collect();
    let sites: BTreeSet<String> = devices.values().map(|(_, site)| site.clone()).collect();
    let users: Vec<String> = match state.store.users().await {
        Ok(users) => users
            .into_iter()
            .filter(|u| u.disabled_at_ms.is_none())
            .map(|u| u.name)
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "queue: users");
            Vec::new()
        }
    };
    let mut asked = Asked::read(&staff, &query, &sites);
    if let Some(assignee) = &asked.assignee
        && assignee != "none"
        && !users.contains(assignee)
    {
        let valid = names(std::iter::once("none").chain(users.iter().map(String::as_str)));
        asked
            .problems
            .push(asked_problem(lang, "assignee", assignee, &valid));
        asked.assignee = None;
    }
    let now = now_ms();
    // A view is a set of filters; the filters chosen beside it narrow it further.
    let (view_assignee, view_max_priority, view_due_before, view_reported) =
        match asked.view.as_str() {
            "mine" => (Some(staff.caller.name.clone()), None, None, false),
            "unassigned-urgent" => (Some("none".to_owned()), Some(2), None, false),
            "breaching" => (None, None, Some(now + BREACHING_MS), false),
            "reported" => (None, None, None, true),
            _ => (None, None, None, false),
        };
    // The view's assignee, else the one chosen, goes to the database; the other narrows
    // in memory below (both can be given: "My tickets" and assignee=someone else is empty).
    let assignee_filter = |who: &str| match who {
        "none" => AssigneeFilter::Unassigned,
        name => AssigneeFilter::User(name.to_owned()),
    };
    let filter = TicketFilter {
        state: Some(asked.state.clone()),
        priority: asked.priority,
        tier: asked.tier,
        kind: asked.kind,
        assignee: view_assignee
            .as_deref()
            .or(asked.assignee.as_deref())
            .map(assignee_filter),
        site: asked.site.clone(),
        check_prefix: asked.check.clone(),
        limit: Some(PAGE_LIMIT),
        ..TicketFilter::default()
    };
    let mut tickets = match state.store.tickets(&filter).await {
        Ok(tickets) => tickets,
        Err(e) => {
            return unavailable(&staff, "queue", &e);
        }
    };
    let site_of = |t: &TicketRecord| -> String {
        match (&t.device_id, &t.scope) {
            (Some(device), _) => devices
                .get(device)
                .map(|(_, site)| site.clone())
                .unwrap_or_default(),
            (None, Some(scope)) => scope.strip_prefix("site=").unwrap_or(scope).to_owned(),
            _ => String::new(),
        }
    };
    let checks: BTreeSet<String> = tickets.iter().map(|t| family(&t.check)).collect();
    let assigned_to = |t: &TicketRecord, who: &str| match who {
        "none" => t.assignee.is_none(),
        name => t.assignee.as_deref() == Some(name),
    };
    tickets.retain(|t| {
        asked
            .assignee
            .as_deref()
            .is_none_or(|who| assigned_to(t, who))
            && view_assignee
                .as_deref()
                .is_none_or(|who| assigned_to(t, who))
            && view_max_priority.is_none_or(|max| t.priority.number() <= max)
            && view_due_before.is_none_or(|before| t.state.is_open() && due(t) < before)
            && (!view_reported || t.kind == TicketKind::Report || t.requester.is_some())
            && asked.site.as_deref().is_none_or(|site| site_of(t) == site)
            && asked
                .check
                .as_deref()
                .is_none_or(|check| t.check.starts_with(check))
    });
    match asked.sort.as_str() {
        "priority" => tickets.sort_by_key(|t| (t.priority.number(), due(t))),
        "age" => tickets.sort_by_key(|t| (t.opened_at_ms, t.id)),
        "updated" => tickets.sort_by_key(|t| (std::cmp::Reverse(t.updated_at_ms), t.id)),
        "id" => tickets.sort_by_key(|t| t.id),
        _ => tickets.sort_by_key(|t| (!t.state.is_open(), due(t), t.priority.number())),
    }
    if asked.reverse {
        tickets.reverse();
    }

    let mut body = String::new();
    let _ = write!(body, "<h1>{}</h1>", esc(&staff.t("staff-queue-heading")));
    if let Some(done) = done_notice(&staff, &query) {
        let _ = write!(body, "<p class=\"card ok\" id=\"done\">{}</p>", esc(&done));
    }
    for problem in &asked.problems {
        let _ = write!(
            body,
            "<p class=\"error filter-problem\">{}</p>",
            esc(problem)
        );
    }
    body.push_str(&super::collector_notices(&state, &staff.caller, &staff.csrf).await);
    body.push_str("<nav class=\"views\">");
    for (name, id) in VIEWS {
        let current = if asked.view == name {
            " class=\"current\" aria-current=\"page\""
        } else {
            ""
        };
        let href = if name == "open" {
            "/".to_owned()
        } else {
            format!("/?view={name}")
        };
        let _ = write!(
            body,
            "<a href=\"{href}\"{current}>{}</a>",
            esc(&staff.t(id))
        );
    }
    body.push_str("</nav>");
    body.push_str(&filters_form(
        &staff, &query, &asked, &sites, &users, &checks,
    ));

    let mut counts = [0usize; 5];
    for ticket in &tickets {
        counts[usize::from(ticket.priority.number().clamp(1, 5)) - 1] += 1;
    }
    let _ = write!(
        body,
        "<p class=\"counts\" id=\"counts\"><span><strong>{}</strong></span>",
        esc(&msg!("staff-ticket-count", "count" => tickets.len()).text(lang))
    );
    for (index, count) in counts.iter().enumerate() {
        let _ = write!(
            body,
            "<span class=\"{}\">P{}: {count}</span>",
            priority_class(index as u8 + 1),
            index + 1
        );
    }
    body.push_str("</p>");
    if tickets.len() >= PAGE_LIMIT as usize {
        let _ = write!(
            body,
            "<p class=\"error\">{}</p>",
            esc(&msg!("staff-queue-truncated", "count" => PAGE_LIMIT).text(lang))
        );
    }
    body.push_str(&bulk_form(&staff, &query, &users));

    let people: Vec<String> = tickets
        .iter()
        .filter_map(|t| ticket_user(t).map(str::to_owned))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let directory = directory_of(&state, &people).await;
    let live = if asked.problems.is_empty() {
        " data-live=\"20\""
    } else {
        ""
    };
    let _ = write!(
        body,
        "<table id=\"queue\"{live}><thead><tr><th><input type=\"checkbox\" id=\"select-all\" aria-label=\"{}\"></th>",
        esc(&staff.t("staff-select-all"))
    );
    let header = |key: Option<&str>, id: &str| -> String {
        let label = esc(&staff.t(id));
        match key {
            None => format!("<th>{label}</th>"),
            Some(key) => {
                let (next, arrow) = if asked.sort == key {
                    if asked.reverse {
                        (key.to_owned(), " ▲")
                    } else {
                        (format!("-{key}"), " ▼")
                    }
                } else {
                    (key.to_owned(), "")
                };
                format!(
                    "<th><a href=\"{}\">{label}{arrow}</a></th>",
                    esc(&Asked::link(&query, "sort", &next))
                )
            }
        }
    };
    for (key, id) in [
        (Some("id"), "staff-col-id"),
        (Some("priority"), "staff-col-priority"),
        (None, "staff-col-what"),
        (None, "staff-col-who"),
        (None, "staff-col-site"),
        (Some("age"), "staff-col-age"),
        (Some("due"), "staff-col-sla"),
        (None, "staff-col-assignee"),
        (None, "staff-col-state"),
    ] {
        body.push_str(&header(key, id));
    }
    body.push_str("</tr></thead><tbody>");
    let label = |id: &str| esc(&staff.t(id));
    for ticket in &tickets {
        let who = who_cell(&staff, ticket, &devices, &directory);
        let sla = sla_cell(lang, ticket, now);
        let assignee = match &ticket.assignee {
            Some(name) => esc(name),
            None => format!("<span class=\"muted\">{}</span>", label("staff-unassigned")),
        };
        let _ = write!(
            body,
            "<tr data-id=\"{id}\"><td><input type=\"checkbox\" name=\"ticket\" value=\"{id}\" form=\"bulk\" aria-label=\"#{id}\"></td>\
             <td data-label=\"{l_id}\">{id}</td>\
             <td class=\"{class}\" data-label=\"{l_priority}\">P{priority}</td>\
             <td class=\"what\"><a href=\"/tickets/{id}\">{title}</a><br><span class=\"muted\">{check}</span></td>\
             <td data-label=\"{l_who}\">{who}</td>\
             <td data-label=\"{l_site}\">{site}</td>\
             <td data-label=\"{l_age}\"><time datetime=\"{opened_iso}\">{age}</time></td>\
             <td data-label=\"{l_sla}\">{sla}</td>\
             <td data-label=\"{l_assignee}\">{assignee}</td>\
             <td data-label=\"{l_state}\">{state}</td></tr>",
            id = ticket.id,
            class = priority_class(ticket.priority.number()),
            priority = ticket.priority.number(),
            title = esc(&ticket_title(&staff, ticket)),
            check = esc(&ticket.check),
            site = esc(&site_of(ticket)),
            opened_iso = super::frame::iso(ticket.opened_at_ms),
            age = esc(&ago(lang, ticket.opened_at_ms, now)),
            state = esc(&staff.t(&format!("staff-state-{}", ticket.state.as_str()))),
            l_id = label("staff-col-id"),
            l_priority = label("staff-col-priority"),
            l_who = label("staff-col-who"),
            l_site = label("staff-col-site"),
            l_age = label("staff-col-age"),
            l_sla = label("staff-col-sla"),
            l_assignee = label("staff-col-assignee"),
            l_state = label("staff-col-state"),
        );
    }
    body.push_str("</tbody></table>");
    if tickets.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"empty\">{}</p>",
            label("staff-queue-empty")
        );
    }
    body.push_str(&format!(
        "<p class=\"muted keys\">{}</p>",
        label("staff-queue-keys")
    ));
    let title = staff.t("staff-queue-heading");
    super::signed_page(&staff, &title, &body, None)
}

/// A ticket's title in the reader's words.
pub(super) fn ticket_title(staff: &Staff, ticket: &TicketRecord) -> String {
    ticket.title_in(staff.lang)
}

/// A check's family: `dns` for `dns.resolve`.
fn family(check: &str) -> String {
    check.split('.').next().unwrap_or(check).to_owned()
}

/// The devices and the person a ticket is about.
fn who_cell(
    staff: &Staff,
    ticket: &TicketRecord,
    devices: &HashMap<String, (String, String)>,
    directory: &HashMap<String, crate::directory::Person>,
) -> String {
    let mut cell = match &ticket.device_id {
        Some(device) => {
            let name = devices
                .get(device)
                .map_or(device.as_str(), |(hostname, _)| hostname.as_str());
            format!("<a href=\"/devices/{}\">{}</a>", esc(device), esc(name))
        }
        None => esc(&msg!("staff-device-count", "count" => ticket.device_count).text(staff.lang)),
    };
    if let Some(user) = ticket_user(ticket) {
        let _ = write!(
            cell,
            "<br><span class=\"user\">{}</span>",
            person_label(user, directory, false)
        );
    }
    cell
}

/// How long until the ticket's SLA runs out, or how late it is.
fn sla_cell(lang: Lang, ticket: &TicketRecord, now: i64) -> String {
    if !ticket.state.is_open() {
        return "—".to_owned();
    }
    let left = due(ticket) - now;
    if left < 0 {
        format!(
            "<span class=\"late\">{}</span>",
            esc(&span_message("staff-due-late", -left).text(lang))
        )
    } else {
        let class = if left < BREACHING_MS {
            " class=\"soon\""
        } else {
            ""
        };
        format!(
            "<span{class}>{}</span>",
            esc(&span_message("staff-due-in", left).text(lang))
        )
    }
}

/// The filters, each from its choices.
fn filters_form(
    staff: &Staff,
    query: &HashMap<String, String>,
    asked: &Asked,
    sites: &BTreeSet<String>,
    users: &[String],
    checks: &BTreeSet<String>,
) -> String {
    let lang = staff.lang;
    let mut form = String::from("<form class=\"filters\" method=\"get\" action=\"/\">");
    if asked.view != "open" {
        let _ = write!(
            form,
            "<input type=\"hidden\" name=\"view\" value=\"{}\">",
            esc(&asked.view)
        );
    }
    let current = |key: &str| {
        query
            .get(key)
            .map(|v| v.trim())
            .unwrap_or_default()
            .to_owned()
    };
    let mut select = |key: &str, choices: Vec<(String, String)>| {
        let chosen = current(key);
        // No state chosen means the open ones: the queue is about what is still to do.
        let none_chosen = if key == "state" {
            "staff-state-open"
        } else {
            "staff-filter-any"
        };
        let _ = write!(
            form,
            "<label>{}<br><select name=\"{key}\"><option value=\"\">{}</option>",
            esc(&firstline_i18n::tr(lang, &format!("staff-filter-{key}"))),
            esc(&firstline_i18n::tr(lang, none_chosen))
        );
        for (value, words) in choices {
            let selected = if value.eq_ignore_ascii_case(&chosen) {
                " selected"
            } else {
                ""
            };
            let _ = write!(
                form,
                "<option value=\"{}\"{selected}>{}</option>",
                esc(&value),
                esc(&words)
            );
        }
        form.push_str("</select></label>");
    };
    let mut states = vec![(
        "open".to_owned(),
        firstline_i18n::tr(lang, "staff-state-open"),
    )];
    states.extend(TicketState::ALL.iter().map(|s| {
        (
            s.as_str().to_owned(),
            firstline_i18n::tr(lang, &format!("staff-state-{}", s.as_str())),
        )
    }));
    select("state", states.into_iter().skip(1).collect());
    select(
        "priority",
        (1..=5)
            .map(|p| (format!("p{p}"), format!("P{p}")))
            .collect(),
    );
    select(
        "tier",
        (1..=3)
            .map(|t| (format!("l{t}"), format!("L{t}")))
            .collect(),
    );
    select(
        "kind",
        ["device", "incident", "report"]
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    firstline_i18n::tr(lang, &format!("staff-kind-{k}")),
                )
            })
            .collect(),
    );
    let mut assignees = vec![(
        "none".to_owned(),
        firstline_i18n::tr(lang, "staff-unassigned"),
    )];
    assignees.extend(users.iter().map(|u| (u.clone(), u.clone())));
    select("assignee", assignees);
    select(
        "site",
        sites.iter().map(|s| (s.clone(), s.clone())).collect(),
    );
    select(
        "check",
        checks.iter().map(|c| (c.clone(), c.clone())).collect(),
    );
    if let Some(sort) = query.get("sort") {
        let _ = write!(
            form,
            "<input type=\"hidden\" name=\"sort\" value=\"{}\">",
            esc(sort)
        );
    }
    let _ = write!(
        form,
        "<button type=\"submit\">{}</button> <a href=\"{}\">{}</a></form>",
        esc(&firstline_i18n::tr(lang, "staff-filter-apply")),
        if asked.view == "open" {
            "/".to_owned()
        } else {
            format!("/?view={}", esc(&asked.view))
        },
        esc(&firstline_i18n::tr(lang, "staff-filter-clear")),
    );
    form
}

/// The actions on the selected tickets.
fn bulk_form(staff: &Staff, query: &HashMap<String, String>, users: &[String]) -> String {
    let t = |id: &str| esc(&staff.t(id));
    let back = Asked::link(query, "done", "");
    let mut form = format!(
        "<form id=\"bulk\" class=\"bulk\" method=\"post\" action=\"/tickets/bulk\">{}<input type=\"hidden\" name=\"back\" value=\"{}\"><span class=\"muted\">{}</span>",
        csrf_field(&staff.csrf),
        esc(&back),
        t("staff-bulk-selected")
    );
    let _ = write!(
        form,
        "<span class=\"group\"><select name=\"to\" id=\"bulk-assign\" aria-label=\"{}\"><option value=\"\">{}</option>",
        t("staff-bulk-assign-to"),
        t("staff-bulk-assign-to")
    );
    for user in users {
        let _ = write!(form, "<option value=\"{0}\">{0}</option>", esc(user));
    }
    let _ = write!(
        form,
        "</select><button type=\"submit\" name=\"action\" value=\"assign\">{}</button></span>\
         <span class=\"group\"><input name=\"text\" id=\"bulk-note\" placeholder=\"{}\" aria-label=\"{}\"><button type=\"submit\" name=\"action\" value=\"comment\">{}</button></span>\
         <span class=\"group\"><input name=\"solution\" id=\"bulk-solution\" placeholder=\"{}\" aria-label=\"{}\"><button type=\"submit\" name=\"action\" value=\"resolve\">{}</button></span>\
         <span class=\"group\"><input name=\"into\" id=\"bulk-merge\" inputmode=\"numeric\" autocomplete=\"off\" placeholder=\"{}\" aria-label=\"{}\"><button type=\"submit\" name=\"action\" value=\"merge\">{}</button></span></form>",
        t("staff-bulk-assign"),
        t("staff-bulk-note-placeholder"),
        t("staff-bulk-note-placeholder"),
        t("staff-bulk-note"),
        t("staff-bulk-solution-placeholder"),
        t("staff-bulk-solution-placeholder"),
        t("staff-bulk-resolve"),
        t("staff-bulk-merge-placeholder"),
        t("staff-bulk-merge-placeholder"),
        t("staff-bulk-merge"),
    );
    form
}

/// "3 tickets resolved", after a bulk action sent the person back here.
fn done_notice(staff: &Staff, query: &HashMap<String, String>) -> Option<String> {
    let (action, count) = query.get("done")?.split_once(':')?;
    let count: u32 = count.parse().ok()?;
    let id = match action {
        "assign" => "staff-bulk-done-assign",
        "comment" => "staff-bulk-done-comment",
        "resolve" => "staff-bulk-done-resolve",
        "merge" => "staff-bulk-done-merge",
        _ => return None,
    };
    Some(msg!(id, "count" => count).text(staff.lang))
}

/// `POST /tickets/bulk`: one action on every selected ticket, each through the same rules
/// as one at a time. All done: back to the queue, which says so; else a page that names
/// each ticket refused and why.
pub(super) async fn bulk(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut ids: Vec<i64> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for (key, value) in pairs {
        if key == "ticket" {
            match value.trim().parse::<i64>() {
                Ok(id) if !ids.contains(&id) => ids.push(id),
                Ok(_) => {}
                Err(_) => unreadable.push(value),
            }
        } else {
            fields.entry(key).or_insert(value);
        }
    }
    let staff = match super::signed_in_form(&state, &headers, &fields).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    if let Some(value) = unreadable.first() {
        return problem(
            Some(&staff),
            StatusCode::BAD_REQUEST,
            &msg!("staff-bulk-bad-ticket", "value" => value.as_str()).text(lang),
        );
    }
    if ids.is_empty() {
        return problem(
            Some(&staff),
            StatusCode::BAD_REQUEST,
            &staff.t("staff-bulk-none-selected"),
        );
    }
    if ids.len() > BULK_LIMIT {
        return problem(
            Some(&staff),
            StatusCode::BAD_REQUEST,
            &msg!("staff-bulk-too-many", "count" => ids.len(), "limit" => BULK_LIMIT).text(lang),
        );
    }
    let field = |key: &str| {
        fields
            .get(key)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let action = field("action");
    // Merging: the ticket merged into is not merged into itself when it is among those
    // selected.
    let into = field("into");
    let into = into.trim_start_matches('#').trim();
    let into = match action.as_str() {
        "merge" => match into.parse::<i64>() {
            Ok(into) => {
                ids.retain(|&id| id != into);
                Some(into)
            }
            Err(_) => {
                return problem(
                    Some(&staff),
                    StatusCode::BAD_REQUEST,
                    &msg!("staff-bulk-bad-ticket", "value" => into).text(lang),
                );
            }
        },
        _ => None,
    };
    if ids.is_empty() {
        return problem(
            Some(&staff),
            StatusCode::BAD_REQUEST,
            &staff.t("staff-bulk-none-selected"),
        );
    }
    let request = || match action.as_str() {
        "merge" => into.map(|into| ActionRequest::Merge { into }),
        "assign" => Some(ActionRequest::Assign { to: field("to") }),
        "comment" => Some(ActionRequest::Comment {
            text: field("text"),
        }),
        "resolve" => Some(ActionRequest::Resolve {
            solution: field("solution"),
        }),
        _ => None,
    };
    if request().is_none() {
        return problem(
            Some(&staff),
            StatusCode::BAD_REQUEST,
            &msg!("staff-bulk-bad-action", "value" => action.as_str()).text(lang),
        );
    }
    let mut refused: Vec<(i64, StatusCode, String)> = Vec::new();
    for &id in &ids {
        let Some(request) = request() else { break };
        let outcome = perform(&state, &staff.caller, id, request).await;
        if !outcome.status().is_success() {
            let status = outcome.status();
            refused.push((id, status, super::refusal_words(outcome).await));
        }
    }
    let done = ids.len() - refused.len();
    let back = field("back");
    // Only our own queue: a form cannot send the browser elsewhere.
    let back = if back == "/" || back.starts_with("/?") {
        back
    } else {
        "/".to_owned()
    };
    let separator = if back.contains('?') { '&' } else { '?' };
    if refused.is_empty() {
        return Redirect::to(&format!("{back}{separator}done={action}:{done}")).into_response();
    }
    let mut body = format!(
        "<h1>{}</h1><p class=\"error\">{}</p><ul id=\"refused\">",
        esc(&staff.t("staff-bulk-result")),
        esc(&msg!("staff-bulk-partly", "done" => done, "refused" => refused.len()).text(lang))
    );
    for (id, _, message) in &refused {
        let _ = write!(
            body,
            "<li><a href=\"/tickets/{id}\">#{id}</a>: {}</li>",
            esc(message)
        );
    }
    let _ = write!(
        body,
        "</ul><p><a href=\"{}\">{}</a></p>",
        esc(&format!("{back}{separator}done={action}:{done}")),
        esc(&staff.t("staff-back-to-queue"))
    );
    let status = refused
        .iter()
        .map(|(_, status, _)| *status)
        .max()
        .unwrap_or(StatusCode::CONFLICT);
    let mut response = super::signed_page(&staff, &staff.t("staff-bulk-result"), &body, None);
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_links_keep_the_other_filters_and_encode_values() {
        let query: HashMap<String, String> = [
            ("site".to_owned(), "Warsaw & Kraków".to_owned()),
            ("done".to_owned(), "resolve:3".to_owned()),
            ("sort".to_owned(), "age".to_owned()),
        ]
        .into();
        assert_eq!(
            Asked::link(&query, "sort", "-age"),
            "/?site=Warsaw%20%26%20Krak%C3%B3w&sort=-age"
        );
        assert_eq!(Asked::link(&HashMap::new(), "done", ""), "/");
    }

    /// Message ids made at run time are in the catalogs (the catalogs' own test keeps every
    /// language complete once English has them).
    #[test]
    fn every_message_id_made_at_run_time_exists() {
        let mut ids: Vec<String> = Vec::new();
        ids.extend(VIEWS.iter().map(|(_, id)| (*id).to_owned()));
        ids.extend(SORTS.iter().map(|(_, id)| (*id).to_owned()));
        ids.extend(
            TicketState::ALL
                .iter()
                .map(|s| format!("staff-state-{}", s.as_str())),
        );
        ids.push("staff-state-open".to_owned());
        ids.extend(["device", "incident", "report"].map(|k| format!("staff-kind-{k}")));
        ids.extend(
            [
                "view", "state", "priority", "tier", "kind", "assignee", "site", "check", "sort",
                "health",
            ]
            .map(|f| format!("staff-filter-{f}")),
        );
        ids.extend(
            [
                crate::model::Role::Technician,
                crate::model::Role::Supervisor,
                crate::model::Role::Admin,
            ]
            .map(|r| format!("staff-role-{}", r.as_str())),
        );
        ids.extend(
            ["revoked", "offline", "problems", "healthy"].map(|h| format!("staff-health-{h}")),
        );
        ids.extend(super::super::PLAYBOOKS.map(|p| format!("staff-playbook-{p}")));
        ids.extend(
            [
                crate::tickets::Level::High,
                crate::tickets::Level::Medium,
                crate::tickets::Level::Low,
            ]
            .map(|l| format!("staff-level-{}", l.as_str())),
        );
        ids.extend(
            crate::tickets::NoteKind::ALL
                .map(|k| format!("staff-event-{}", k.as_str().replace('_', "-"))),
        );
        ids.extend(crate::fixes::Mode::ALL.map(|m| format!("staff-fixes-mode-{}", m.as_str())));
        ids.extend(
            [
                "queued",
                "sent",
                "verified",
                "not_verified",
                "failed",
                "refused",
                "expired",
                "cancelled",
            ]
            .map(|s| format!("staff-fix-state-{s}")),
        );
        ids.extend(
            ["under_1h", "under_1d", "under_1w", "older"].map(|a| format!("staff-stats-age-{a}")),
        );
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !firstline_i18n::exists(id))
            .collect();
        assert!(missing.is_empty(), "not in the catalogs: {missing:?}");
    }

    /// Every staff message id written out in the web UI's source is in the catalogs.
    #[test]
    fn every_message_id_in_the_source_exists() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("queue.rs"),
            include_str!("devices.rs"),
            include_str!("knowledge.rs"),
            include_str!("search.rs"),
            include_str!("frame.rs"),
            include_str!("html.rs"),
            include_str!("people_stats.rs"),
            include_str!("fleet.rs"),
        ];
        let mut missing: Vec<&str> = Vec::new();
        let mut seen = 0;
        for source in sources {
            for (at, _) in source.match_indices("\"staff-") {
                let rest = &source[at + 1..];
                let end = rest
                    .find(|c: char| {
                        !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
                    })
                    .unwrap_or(rest.len());
                // An id completed at run time (`"staff-state-{}"`) is checked above.
                if !rest[end..].starts_with('"') || rest[..end].ends_with('-') {
                    continue;
                }
                seen += 1;
                if !firstline_i18n::exists(&rest[..end]) {
                    missing.push(&rest[..end]);
                }
            }
        }
        assert!(seen > 100, "the scan found only {seen} ids");
        assert!(missing.is_empty(), "not in the catalogs: {missing:?}");
    }
}
