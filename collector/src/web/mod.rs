//! The web UI for support staff, rendered on the server: sign-in, the queue, a ticket (with
//! its evidence, timeline, known fixes and actions), a device, the knowledge base and the
//! supervisors' stats. Forms carry the session's CSRF token; every page is sent with a
//! Content-Security-Policy that allows nothing but the collector itself.

pub mod help;
pub mod html;
mod people_stats;

use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::access::{
    Caller, change_own_password, client_address, session_cookie, session_of, sign_in,
};
use crate::http::{ActionRequest, HttpState, ReproduceBody, perform};
use crate::model::{Role, now_ms};
use crate::store::TicketFilter;
use html::{bars, esc, page, span, when};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/", get(queue))
        .route("/static/firstline.css", get(stylesheet))
        .route("/login", get(login_page))
        .route("/login/form", post(login_form))
        .route("/logout/form", post(logout_form))
        .route("/account", get(account_page))
        .route("/account/password", post(password_form))
        .route("/tickets/{id}", get(ticket_page))
        .route("/tickets/{id}/act", post(act))
        .route("/devices/{id}", get(device_page))
        .route("/knowledge", get(knowledge_page))
        .route("/stats", get(stats_page))
        .route("/alerts/{id}/acknowledge", post(acknowledge_alert_form))
        .merge(help::router())
}

/// An HTML page with the headers that keep it to itself.
pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    html(status, body)
}

/// An HTML page with the headers that keep it to itself.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn problem(caller: Option<&Caller>, status: StatusCode, message: &str) -> Response {
    let who = caller.map(|c| (c.name.as_str(), c.role.as_str()));
    html(
        status,
        page(
            "Problem",
            who,
            None,
            &format!("<p class=\"error\">{}</p>", esc(message)),
            None,
        ),
    )
}

/// The signed-in person, or a redirect to the sign-in page.
async fn signed_in(state: &HttpState, headers: &HeaderMap) -> Result<(Caller, String), Response> {
    session_of(state, headers)
        .await
        .ok_or_else(|| Redirect::to("/login").into_response())
}

/// The signed-in person behind a form that changes something, which must carry the session's
/// CSRF token; else a redirect to the sign-in page, or a refusal.
async fn signed_in_form(
    state: &HttpState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Caller, String), Response> {
    let (caller, csrf) = signed_in(state, headers).await?;
    if !crate::auth::csrf_matches(form.get("csrf_token").map(String::as_str), &csrf) {
        tracing::warn!(user = %caller.name, "form without a valid CSRF token refused");
        return Err(problem(
            Some(&caller),
            StatusCode::FORBIDDEN,
            "The form's security token is missing or wrong; reload the page and try again.",
        ));
    }
    Ok((caller, csrf))
}

/// A page for a signed-in person.
fn signed_page(
    caller: &Caller,
    csrf: &str,
    title: &str,
    body: &str,
    refresh_secs: Option<u32>,
) -> Response {
    html(
        StatusCode::OK,
        page(
            title,
            Some((&caller.name, caller.role.as_str())),
            Some(csrf),
            body,
            refresh_secs,
        ),
    )
}

fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        esc(csrf)
    )
}

async fn stylesheet() -> Response {
    let mut response = html::CSS.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}

async fn login_page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    // Over plain HTTP from another machine the password crosses the network unencrypted:
    // say so, and what fixes it, rather than letting people find out some other way.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let host_name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let loopback =
        matches!(host_name, "localhost" | "127.0.0.1" | "[::1]") || host_name.starts_with("127.");
    let warning = if state.public_url.starts_with("https://") || loopback {
        String::new()
    } else {
        "<p class=\"error\" id=\"plain-http\">This page came over plain HTTP: your password would cross the network unencrypted. \
         Ask your administrator to serve the collector over HTTPS (a TLS reverse proxy) and set <code>public_url</code> to its https:// address.</p>"
            .to_owned()
    };
    html(
        StatusCode::OK,
        page(
            "Sign in",
            None,
            None,
            &(warning
                + "<h1>Sign in</h1><form class=\"card\" method=\"post\" action=\"/login/form\">\
             <p><label>Name<br><input name=\"name\" autocomplete=\"username\" required autofocus></label></p>\
             <p><label>Password<br><input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
             <button type=\"submit\">Sign in</button></form>"),
            None,
        ),
    )
}

async fn login_form(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // A sign-in form posted from another site would sign the browser into someone else's
    // account (login CSRF): only our own pages may post it.
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site");
    let foreign_origin = match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        // "null" (sent under our no-referrer policy) names no origin; only a real, other one
        // counts as foreign.
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, origin_host)| origin_host != host),
        _ => false,
    };
    if cross_site || foreign_origin {
        return problem(
            None,
            StatusCode::FORBIDDEN,
            "Sign in from the collector's own page.",
        );
    }
    let name = form.get("name").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let client = client_address(&state, peer, &headers);
    match sign_in(&state, name, password, client).await {
        Ok((cookie, _)) => {
            let mut response = Redirect::to("/").into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(refusal) => {
            let status = refusal.status();
            let message = if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after_secs(&refusal)
                    .map_or_else(|| "a while".to_owned(), crate::http::access::wait_text);
                format!("Too many failed sign-ins; try again in {wait}.")
            } else {
                "Wrong name or password.".to_owned()
            };
            html(
                status,
                page(
                    "Sign in",
                    None,
                    None,
                    &format!(
                        "<p class=\"error\">{message}</p><p><a href=\"/login\">Try again</a></p>"
                    ),
                    None,
                ),
            )
        }
    }
}

async fn logout_form(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // Only a form from our own page (with the session's CSRF token) signs out; a forged one
    // changes nothing, not even the cookie.
    let Some((caller, csrf)) = session_of(&state, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    if !crate::auth::csrf_matches(form.get("csrf_token").map(String::as_str), &csrf) {
        tracing::warn!(user = %caller.name, "sign-out form without a valid CSRF token refused");
        return problem(
            Some(&caller),
            StatusCode::FORBIDDEN,
            "The form's security token is missing or wrong; reload the page and try again.",
        );
    }
    if let Some(token) = session_cookie(&headers)
        && let Err(e) = state
            .store
            .delete_session(&crate::random::sha256(&token))
            .await
    {
        tracing::error!(error = %e, "ending a session");
        return problem(
            Some(&caller),
            StatusCode::SERVICE_UNAVAILABLE,
            "Signing out failed; try again.",
        );
    }
    tracing::info!(user = %caller.name, "signed out");
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&crate::auth::expired_session_cookie(
        state.public_url.starts_with("https://"),
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The `Retry-After` seconds of a refusal, if it has them.
fn retry_after_secs(response: &Response) -> Option<i64> {
    response
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn password_page(csrf: &str, notice: Option<(&str, bool)>) -> String {
    let notice = match notice {
        Some((text, true)) => format!("<p class=\"error\" id=\"notice\">{}</p>", esc(text)),
        Some((text, false)) => format!("<p class=\"card\" id=\"notice\">{}</p>", esc(text)),
        None => String::new(),
    };
    format!(
        "<h1>Account</h1>{notice}<form class=\"card\" method=\"post\" action=\"/account/password\">{}\
         <h2>Change your password</h2>\
         <p><label>Current password<br><input name=\"current_password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><label>New password (at least {} characters)<br><input name=\"new_password\" type=\"password\" autocomplete=\"new-password\" minlength=\"{}\" required></label></p>\
         <p><label>New password again<br><input name=\"new_password_again\" type=\"password\" autocomplete=\"new-password\" required></label></p>\
         <p class=\"muted\">Your other sessions end; this one goes on.</p>\
         <button type=\"submit\">Change password</button></form>",
        csrf_field(csrf),
        crate::auth::MIN_PASSWORD_CHARS,
        crate::auth::MIN_PASSWORD_CHARS,
    )
}

/// `/account`: the signed-in person's own account (changing their password).
async fn account_page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let (caller, csrf) = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(redirect) => return redirect,
    };
    let body = password_page(&csrf, None);
    signed_page(&caller, &csrf, "Account", &body, None)
}

/// `POST /account/password`: the form of `/account`, through the same rules as the REST API.
async fn password_form(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (caller, csrf) = match signed_in_form(&state, &headers, &form).await {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let new_password = field("new_password");
    if new_password != field("new_password_again") {
        let body = password_page(
            &csrf,
            Some(("The two new passwords differ; nothing changed.", true)),
        );
        return html(
            StatusCode::BAD_REQUEST,
            page(
                "Account",
                Some((&caller.name, caller.role.as_str())),
                Some(&csrf),
                &body,
                None,
            ),
        );
    }
    let client = client_address(&state, peer, &headers);
    match change_own_password(
        &state,
        &caller,
        client,
        field("current_password"),
        new_password,
    )
    .await
    {
        Ok(()) => {
            let body = password_page(
                &csrf,
                Some(("Password changed. Your other sessions have ended.", false)),
            );
            signed_page(&caller, &csrf, "Account", &body, None)
        }
        Err(refusal) => {
            let status = refusal.status();
            let message = axum::body::to_bytes(refusal.into_body(), 64 * 1024)
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .and_then(|json| json["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "Changing the password failed.".to_owned());
            let body = password_page(&csrf, Some((&format!("{message}."), true)));
            html(
                status,
                page(
                    "Account",
                    Some((&caller.name, caller.role.as_str())),
                    Some(&csrf),
                    &body,
                    None,
                ),
            )
        }
    }
}

/// Known fixes as list items, each with how often it worked.
fn fix_items(fixes: &[crate::tickets::KnownFix]) -> String {
    fixes
        .iter()
        .map(|fix| {
            format!(
                "<li>{} <span class=\"muted\">(worked {} time(s))</span></li>",
                esc(&fix.solution),
                fix.worked_count
            )
        })
        .collect()
}

/// The directory's entries for `accounts` (none when the store cannot say: names still show).
async fn directory_of(
    state: &HttpState,
    accounts: &[String],
) -> HashMap<String, crate::directory::Person> {
    if accounts.is_empty() {
        return HashMap::new();
    }
    state
        .store
        .people_named(accounts)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading the directory");
            HashMap::new()
        })
}

/// An account as staff read it, escaped: "Carol Smith (carol)" when the directory knows it
/// (with the e-mail address and language when `contact`), else the account alone.
fn person_label(
    account: &str,
    directory: &HashMap<String, crate::directory::Person>,
    contact: bool,
) -> String {
    let Some(person) = directory.get(account) else {
        return esc(account);
    };
    let mut label = if person.display_name == person.account {
        esc(account)
    } else {
        format!(
            "{} <span class=\"muted\">({})</span>",
            esc(&person.display_name),
            esc(account)
        )
    };
    if contact {
        if let Some(email) = &person.email {
            let _ = write!(label, " · <a href=\"mailto:{0}\">{0}</a>", esc(email));
        }
        if let Some(language) = &person.language {
            let _ = write!(
                label,
                " · <span class=\"muted\">reads {}</span>",
                esc(language)
            );
        }
    }
    label
}

/// The person a queue row is about: who reported it, else its device's user.
fn queue_user(ticket: &crate::store::tickets::TicketRecord) -> &str {
    ticket
        .requester
        .as_deref()
        .or(ticket.affected_users.first().map(String::as_str))
        .unwrap_or("—")
}

fn priority_class(priority: u8) -> &'static str {
    match priority {
        1 => "p1",
        2 => "p2",
        3 => "p3",
        _ => "",
    }
}

/// `/`: open tickets, the riskiest (soonest due) first, with filters and counts.
async fn queue(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (caller, csrf) = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(redirect) => return redirect,
    };
    let wanted = |key: &str| {
        query
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    // A filter value that means nothing is said, not silently ignored.
    let mut filter_problems: Vec<String> = Vec::new();
    let state_wanted = match wanted("state") {
        None => "open".to_owned(),
        Some(value) if value == "open" || crate::tickets::TicketState::parse(&value).is_some() => {
            value
        }
        Some(value) => {
            filter_problems.push(format!(
                "State {value:?} is not one: use open, new, assigned, in_progress, pending, resolved, closed or cancelled. Showing open tickets."
            ));
            "open".to_owned()
        }
    };
    let number = |key: &str,
                  prefix: [char; 2],
                  range: std::ops::RangeInclusive<u8>,
                  what: &str,
                  problems: &mut Vec<String>| {
        let value = wanted(key)?;
        match value.trim_start_matches(prefix).parse::<u8>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                problems.push(format!(
                    "{what} {value:?} is not one: use {}{} to {}{}. Showing every {}.",
                    prefix[0],
                    range.start(),
                    prefix[0],
                    range.end(),
                    what.to_lowercase()
                ));
                None
            }
        }
    };
    let filter = TicketFilter {
        state: Some(state_wanted),
        priority: number(
            "priority",
            ['p', 'P'],
            1..=5,
            "Priority",
            &mut filter_problems,
        ),
        tier: number("tier", ['l', 'L'], 1..=3, "Tier", &mut filter_problems),
        limit: Some(1000),
        ..TicketFilter::default()
    };
    let mut tickets = match state.store.tickets(&filter).await {
        Ok(tickets) => tickets,
        Err(e) => {
            tracing::error!(error = %e, "queue");
            return problem(
                Some(&caller),
                StatusCode::SERVICE_UNAVAILABLE,
                "The collector's store is unavailable.",
            );
        }
    };
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
    let site_of = |t: &crate::store::TicketRecord| -> String {
        match (&t.device_id, &t.scope) {
            (Some(device), _) => devices
                .get(device)
                .map(|(_, site)| site.clone())
                .unwrap_or_default(),
            (None, Some(scope)) => scope.strip_prefix("site=").unwrap_or(scope).to_owned(),
            _ => String::new(),
        }
    };
    if let Some(assignee) = wanted("assignee") {
        tickets.retain(|t| t.assignee.as_deref() == Some(assignee.as_str()));
    }
    if let Some(check) = wanted("check") {
        tickets.retain(|t| t.check.starts_with(&check));
    }
    if let Some(site) = wanted("site") {
        tickets.retain(|t| site_of(t) == site);
    }
    let now = now_ms();
    let due = |t: &crate::store::TicketRecord| {
        if t.first_response_at_ms.is_none() {
            t.response_due_ms.min(t.resolution_due_ms)
        } else {
            t.resolution_due_ms
        }
    };
    tickets.sort_by_key(|t| (!t.state.is_open(), due(t), t.priority.number()));
    let mut body = String::new();
    body.push_str("<h1>Queue</h1>");
    for problem in &filter_problems {
        let _ = write!(
            body,
            "<p class=\"error filter-problem\">{}</p>",
            esc(problem)
        );
    }
    body.push_str(&collector_notices(&state, &caller, &csrf).await);
    body.push_str("<form class=\"filters\" method=\"get\" action=\"/\">");
    for (key, label, placeholder) in [
        ("state", "State", "open"),
        ("priority", "Priority", "p1…p5"),
        ("tier", "Tier", "l1…l3"),
        ("assignee", "Assignee", "name"),
        ("site", "Site", "site"),
        ("check", "Check", "dns."),
    ] {
        let _ = write!(
            body,
            "<label>{label}<br><input name=\"{key}\" size=\"10\" placeholder=\"{placeholder}\" value=\"{}\"></label>",
            esc(query.get(key).map(String::as_str).unwrap_or_default())
        );
    }
    body.push_str("<button type=\"submit\">Filter</button></form>");
    let mut counts = [0usize; 5];
    for ticket in &tickets {
        counts[usize::from(ticket.priority.number().clamp(1, 5)) - 1] += 1;
    }
    if tickets.len() >= 1000 {
        body.push_str("<p class=\"error\">Showing the first 1000 tickets: narrow the filters to see the rest.</p>");
    }
    let _ = write!(
        body,
        "<p class=\"counts\"><span><strong>{}</strong> tickets</span>",
        tickets.len()
    );
    for (index, count) in counts.iter().enumerate() {
        let _ = write!(
            body,
            "<span class=\"{}\">P{}: {count}</span>",
            priority_class(index as u8 + 1),
            index + 1
        );
    }
    let users: Vec<String> = tickets
        .iter()
        .map(|t| queue_user(t).to_owned())
        .filter(|u| u != "—")
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let directory = directory_of(&state, &users).await;
    body.push_str("</p><table id=\"queue\"><thead><tr><th>#</th><th>Priority</th><th>Ticket</th><th>State</th><th>Tier</th><th>Assignee</th><th>User</th><th>Devices</th><th>Site</th><th>Due</th></tr></thead><tbody>");
    for ticket in &tickets {
        let left = due(ticket) - now;
        let due_text = if !ticket.state.is_open() {
            "—".to_owned()
        } else if left < 0 {
            format!(
                "<span class=\"late\">{} late</span>",
                span(-left as f64 / 1000.0)
            )
        } else {
            format!("in {}", span(left as f64 / 1000.0))
        };
        let _ = write!(
            body,
            "<tr><td>{id}</td><td class=\"{class}\">P{priority}</td><td><a href=\"/tickets/{id}\">{title}</a><br><span class=\"muted\">{check}</span></td><td>{state}</td><td>L{tier}</td><td>{assignee}</td><td class=\"user\">{user}</td><td>{devices}</td><td>{site}</td><td>{due_text}</td></tr>",
            id = ticket.id,
            class = priority_class(ticket.priority.number()),
            priority = ticket.priority.number(),
            title = esc(&ticket.title),
            check = esc(&ticket.check),
            state = esc(ticket.state.as_str()),
            tier = ticket.tier,
            assignee = esc(ticket.assignee.as_deref().unwrap_or("—")),
            user = person_label(queue_user(ticket), &directory, false),
            devices = ticket.device_count,
            site = esc(&site_of(ticket)),
        );
    }
    body.push_str("</tbody></table>");
    signed_page(&caller, &csrf, "Queue", &body, Some(30))
}

/// What staff must know about the collector itself, above the queue: everyone sees that the
/// store cannot commit (the queue is then not up to date); admins also see open alerts (a
/// database that lost acknowledged findings), each with a button to acknowledge it.
async fn collector_notices(state: &HttpState, caller: &Caller, csrf: &str) -> String {
    let mut out = String::new();
    let health = state.store.health().report();
    if !health.writable {
        let why = match (&health.disk_full, &health.last_error) {
            (Some(full), _) => full.to_string(),
            (None, Some(error)) => error.clone(),
            (None, None) => "its last commit failed".to_owned(),
        };
        let _ = write!(
            out,
            "<p class=\"error\" id=\"store-notice\">The collector cannot store findings right now: {}. \
             The queue is not up to date; agents keep their findings and send them once it can.</p>",
            esc(&why)
        );
    }
    if caller.role != Role::Admin {
        return out;
    }
    let alerts = match state.store.open_alerts().await {
        Ok(alerts) => alerts,
        Err(e) => {
            tracing::warn!(error = %e, "reading collector alerts");
            return out;
        }
    };
    for alert in alerts {
        let _ = write!(
            out,
            "<div class=\"error\" id=\"alert-{id}\"><p><strong>Collector alert</strong> ({when}): {detail}</p>\
             <form method=\"post\" action=\"/alerts/{id}/acknowledge\">{csrf}\
             <button type=\"submit\">Acknowledge</button></form></div>",
            id = alert.id,
            when = html::when(alert.raised_at_ms),
            detail = esc(&alert.detail),
            csrf = csrf_field(csrf),
        );
    }
    out
}

/// `POST /alerts/{id}/acknowledge` (admins): the form behind a collector alert's button.
async fn acknowledge_alert_form(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (caller, _) = match signed_in_form(&state, &headers, &form).await {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    if caller.role != Role::Admin {
        return problem(
            Some(&caller),
            StatusCode::FORBIDDEN,
            "Only an admin can acknowledge collector alerts.",
        );
    }
    match state
        .store
        .acknowledge_alert(id, &caller.name, now_ms())
        .await
    {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "acknowledging an alert");
            problem(
                Some(&caller),
                StatusCode::SERVICE_UNAVAILABLE,
                "The collector's store is unavailable.",
            )
        }
    }
}

/// Evidence as a person reads it: the top-level values, with the raw JSON a click away.
fn evidence(data: &serde_json::Value) -> String {
    let mut out = String::from("<dl class=\"kv\">");
    if let Some(object) = data.as_object() {
        for (key, value) in object.iter().take(12) {
            let shown = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Array(items) => format!("{} item(s)", items.len()),
                serde_json::Value::Object(_) => "…".to_owned(),
                other => other.to_string(),
            };
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(key), esc(&shown));
        }
    }
    let raw = serde_json::to_string_pretty(data).unwrap_or_default();
    let _ = write!(
        out,
        "</dl><details><summary>Raw data</summary><pre>{}</pre></details>",
        esc(&raw)
    );
    out
}

/// `/tickets/{id}`: everything about one ticket, and what can be done with it.
async fn ticket_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (caller, csrf) = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(redirect) => return redirect,
    };
    let Ok(id) = id.parse::<i64>() else {
        return problem(Some(&caller), StatusCode::NOT_FOUND, "No such ticket.");
    };
    let detail = match state.store.ticket_detail(id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return problem(Some(&caller), StatusCode::NOT_FOUND, "No such ticket."),
        Err(e) => {
            tracing::error!(error = %e, "ticket page");
            return problem(
                Some(&caller),
                StatusCode::SERVICE_UNAVAILABLE,
                "The collector's store is unavailable.",
            );
        }
    };
    let t = &detail.ticket;
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>#{} {}</h1><div class=\"card\"><dl class=\"kv\" id=\"summary\">\
         <dt>State</dt><dd id=\"state\">{}</dd><dt>Kind</dt><dd>{}</dd>\
         <dt>Priority</dt><dd class=\"{}\">P{} (impact {}, urgency {})</dd><dt>Tier</dt><dd>L{}</dd>\
         <dt>Assignee</dt><dd>{}</dd><dt>Check</dt><dd>{} on {}</dd><dt>Opened</dt><dd>{}</dd>\
         <dt>Response due</dt><dd>{}</dd><dt>Resolution due</dt><dd>{}</dd>",
        t.id,
        esc(&t.title),
        esc(t.state.as_str()),
        esc(t.kind.as_str()),
        priority_class(t.priority.number()),
        t.priority.number(),
        t.impact.as_str(),
        t.urgency.as_str(),
        t.tier,
        esc(t.assignee.as_deref().unwrap_or("—")),
        esc(&t.check),
        esc(&t.resource),
        when(t.opened_at_ms),
        when(t.response_due_ms),
        when(t.resolution_due_ms),
    );
    let accounts: Vec<String> = t
        .requester
        .iter()
        .chain(t.affected_users.iter())
        .cloned()
        .collect();
    let directory = directory_of(&state, &accounts).await;
    let _ = write!(
        body,
        "<dt>Requester</dt><dd id=\"requester\">{}</dd><dt>Affected users</dt><dd id=\"affected-users\">{}</dd>",
        t.requester
            .as_deref()
            .map_or_else(|| "—".to_owned(), |r| person_label(r, &directory, true)),
        if t.affected_users.is_empty() {
            "—".to_owned()
        } else {
            t.affected_users
                .iter()
                .map(|u| person_label(u, &directory, false))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    if let Some(resolution) = &t.resolution {
        let _ = write!(body, "<dt>Resolution</dt><dd>{}</dd>", esc(resolution));
    }
    let _ = write!(
        body,
        "</dl><p id=\"description\">{}</p></div>",
        esc(&t.description)
    );
    if detail.problem_candidate {
        body.push_str("<p class=\"badge\">Recurring: a problem candidate</p>");
    }
    body.push_str("<h2>Known fixes</h2>");
    if detail.suggested_fixes.is_empty() {
        body.push_str("<p class=\"muted\" id=\"known-fixes\">None yet: the solution you give when resolving will be suggested next time.</p>");
    } else {
        let _ = write!(
            body,
            "<ol id=\"known-fixes\">{}</ol>",
            fix_items(&detail.suggested_fixes)
        );
    }
    match state.store.ticket_fixes(id).await {
        Ok(fixes) => {
            let hostnames: HashMap<&str, &str> = detail
                .devices
                .iter()
                .map(|d| (d.device_id.as_str(), d.hostname.as_str()))
                .collect();
            body.push_str(&fixes_section(
                t.id,
                t.state.is_open(),
                &fixes,
                &hostnames,
                &csrf,
            ));
        }
        Err(e) => tracing::error!(error = %e, "ticket page: the ticket's fixes"),
    }
    let _ = write!(
        body,
        "<h2>Devices ({})</h2><table><tr><th>Device</th><th>Added</th><th>Recovered</th></tr>",
        detail.devices.len()
    );
    for device in detail.devices.iter().take(500) {
        let _ = write!(
            body,
            "<tr><td><a href=\"/devices/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
            esc(&device.device_id),
            esc(&device.hostname),
            when(device.added_at_ms),
            device
                .recovered_at_ms
                .map(when)
                .unwrap_or_else(|| "—".to_owned())
        );
    }
    body.push_str("</table><h2>Actions</h2><div class=\"actions\">");
    let form = |action: &str, fields: &str, button: &str| {
        format!(
            "<form method=\"post\" action=\"/tickets/{}/act\">{}<input type=\"hidden\" name=\"action\" value=\"{action}\">{fields}<button type=\"submit\">{button}</button></form>",
            t.id,
            csrf_field(&csrf)
        )
    };
    // Only what fits the ticket's state is offered (the API refuses the rest anyway).
    let open = t.state.is_open();
    let resolved = t.state == crate::tickets::TicketState::Resolved;
    if open {
        body.push_str(&form(
            "assign",
            &format!(
                "<label>Assign to<br><input name=\"to\" value=\"{}\"></label> ",
                esc(&caller.name)
            ),
            "Assign",
        ));
    }
    if let Some(requester) = t.requester.as_ref().filter(|_| open || resolved) {
        body.push_str(&form(
            "reply",
            &format!(
                "<label>Reply to {} (they see it on their help page, as a notification and by e-mail)<br><textarea name=\"text\" id=\"reply\" required></textarea></label>",
                esc(requester)
            ),
            "Send reply",
        ));
    }
    body.push_str(&form(
        "comment",
        "<label>Internal note (staff only)<br><textarea name=\"text\" id=\"comment\" required></textarea></label>",
        "Add note",
    ));
    if open {
        body.push_str(&form("resolve", "<label>Solution (what fixed it)<br><textarea name=\"solution\" id=\"solution\" required></textarea></label>", "Resolve"));
        body.push_str(&form(
            "escalate",
            "<label>Why escalate<br><input name=\"reason\"></label> ",
            "Escalate",
        ));
        if t.state != crate::tickets::TicketState::Pending {
            body.push_str(&form(
                "pending",
                "<label>Waiting for<br><input name=\"reason\"></label> ",
                "Set pending",
            ));
        }
        if t.state != crate::tickets::TicketState::InProgress {
            body.push_str(&form("start", "", "Start work"));
        }
        body.push_str(&form("cancel", "", "Cancel ticket"));
    } else if resolved {
        body.push_str(&form("reopen", "", "Reopen"));
        body.push_str(&form("close", "", "Close"));
    }
    if open {
        body.push_str(&form(
            "reproduce",
            "<label>Playbook<br><select name=\"playbook\"><option>web</option><option>network</option><option>slow</option><option>disk</option><option>crash</option><option>printing</option><option>email</option><option>clock</option><option>health</option></select></label> <label>Target<br><input name=\"target\" placeholder=\"https://…\"></label> ",
            "Reproduce now",
        ));
    }
    body.push_str("</div><h2>Timeline</h2><table id=\"timeline\"><tr><th>When</th><th>What</th><th>Details</th></tr>");
    for entry in &detail.timeline {
        let _ = write!(
            body,
            "<tr><td>{}</td><td><span class=\"badge\">{}</span>{}</td><td>{}{}</td></tr>",
            when(entry.at_ms),
            esc(&entry.kind),
            entry
                .actor
                .as_deref()
                .map(|a| format!("<br><span class=\"muted\">{}</span>", esc(a)))
                .unwrap_or_default(),
            esc(&entry.text),
            entry.data.as_ref().map(evidence).unwrap_or_default()
        );
    }
    body.push_str("</table>");
    signed_page(
        &caller,
        &csrf,
        &format!("#{} {}", t.id, t.title),
        &body,
        None,
    )
}

/// The ticket's fixes: each fix that answers its fault, with how often it worked for this
/// fault before and an "Apply" button where a technician may start it; then every run.
fn fixes_section(
    ticket_id: i64,
    open: bool,
    fixes: &crate::store::fixes::TicketFixes,
    hostnames: &HashMap<&str, &str>,
    csrf: &str,
) -> String {
    use crate::fixes::Mode;
    let mut out = String::from("<h2>Fixes</h2>");
    if fixes.offers.is_empty() && fixes.runs.is_empty() {
        out.push_str("<p class=\"muted\" id=\"fixes\">No fix compiled into the agent answers this fault.</p>");
        return out;
    }
    out.push_str("<ul id=\"fix-offers\">");
    for offer in &fixes.offers {
        let record = if offer.tried > 0 {
            format!(" (worked {} of {} times)", offer.worked, offer.tried)
        } else {
            String::new()
        };
        let devices = if offer.devices > 1 {
            format!(" on {} devices, a few first", offer.devices)
        } else {
            String::new()
        };
        let control = match offer.mode {
            _ if offer.running => {
                format!("<span class=\"badge\">{} running</span>", esc(&offer.fix))
            }
            Mode::Auto | Mode::Approve if open => format!(
                "<form method=\"post\" action=\"/tickets/{ticket_id}/act\" class=\"inline\">{}<input type=\"hidden\" name=\"action\" value=\"fix\"><input type=\"hidden\" name=\"fix\" value=\"{}\">{}<button type=\"submit\" id=\"apply-{}\">Apply {}{devices}{record}</button></form>",
                csrf_field(csrf),
                esc(&offer.fix),
                // The one fix whose target the fault does not name.
                if offer.fix == "network.renew" {
                    "<label>Network link <input name=\"interface\" required placeholder=\"eth0\" maxlength=\"15\"></label> "
                } else {
                    ""
                },
                esc(&offer.fix.replace('.', "-")),
                esc(&offer.fix),
            ),
            Mode::AskUser => format!(
                "<span class=\"muted\">{} needs the user's consent on their help page{record}</span>",
                esc(&offer.fix)
            ),
            Mode::Off => format!(
                "<span class=\"muted\">{} is off by policy{record}</span>",
                esc(&offer.fix)
            ),
            _ => format!("<span class=\"muted\">{}{record}</span>", esc(&offer.fix)),
        };
        let _ = write!(
            out,
            "<li>{control} <span class=\"muted\">({}: {})</span></li>",
            esc(offer.mode.as_str()),
            esc(&offer.summary)
        );
    }
    out.push_str("</ul>");
    if !fixes.runs.is_empty() {
        out.push_str("<table id=\"fix-runs\"><tr><th>Fix</th><th>Device</th><th>Allowed by</th><th>State</th><th>Asked</th><th>Answered</th></tr>");
        for run in &fixes.runs {
            let _ = write!(
                out,
                "<tr><td>{}{}</td><td><a href=\"/devices/{}\">{}</a></td><td>{}</td><td class=\"fix-state\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&run.fix),
                if run.canary {
                    " <span class=\"badge\">canary</span>"
                } else {
                    ""
                },
                esc(&run.device_id),
                esc(hostnames
                    .get(run.device_id.as_str())
                    .copied()
                    .unwrap_or(&run.device_id)),
                esc(&run.allowed_by),
                esc(&run.state),
                when(run.created_at_ms),
                run.done_at_ms.map(when).unwrap_or_else(|| "—".to_owned()),
            );
        }
        out.push_str("</table>");
    }
    out
}

/// `POST /tickets/{id}/act`: a form's action, through the same rules as the REST API.
async fn act(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (caller, _) = match signed_in_form(&state, &headers, &form).await {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let Ok(id) = id.parse::<i64>() else {
        return problem(Some(&caller), StatusCode::NOT_FOUND, "No such ticket.");
    };
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let request = match form.get("action").map(String::as_str) {
        Some("assign") => ActionRequest::Assign { to: field("to") },
        Some("comment") => ActionRequest::Comment {
            text: field("text"),
        },
        Some("reply") => ActionRequest::Reply {
            text: field("text"),
        },
        Some("start") => ActionRequest::Start,
        Some("pending") => ActionRequest::Pending {
            reason: field("reason"),
        },
        Some("escalate") => ActionRequest::Escalate {
            reason: field("reason"),
        },
        Some("resolve") => ActionRequest::Resolve {
            solution: field("solution"),
        },
        Some("reopen") => ActionRequest::Reopen,
        Some("close") => ActionRequest::Close,
        Some("cancel") => ActionRequest::Cancel,
        Some("fix") => {
            let interface = field("interface");
            let request = crate::http::fixes::ApplyFix {
                fix: field("fix"),
                device: None,
                parameters: if interface.trim().is_empty() {
                    Default::default()
                } else {
                    [("interface".to_owned(), interface.trim().to_owned())].into()
                },
            };
            let outcome = crate::http::fixes::apply(&state, &caller, id, request).await;
            return form_outcome(&caller, id, outcome).await;
        }
        Some("reproduce") => ActionRequest::Reproduce(ReproduceBody {
            playbook: field("playbook"),
            target: form.get("target").cloned().filter(|t| !t.trim().is_empty()),
            ttl_secs: None,
        }),
        _ => return problem(Some(&caller), StatusCode::BAD_REQUEST, "Unknown action."),
    };
    let outcome = perform(&state, &caller, id, request).await;
    form_outcome(&caller, id, outcome).await
}

/// Back to the ticket after a form's action, or the refusal's words on a page.
async fn form_outcome(caller: &crate::http::Caller, id: i64, outcome: Response) -> Response {
    if outcome.status().is_success() {
        return Redirect::to(&format!("/tickets/{id}")).into_response();
    }
    let status = outcome.status();
    let message = axum::body::to_bytes(outcome.into_body(), 64 * 1024)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|json| json["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "The action failed.".to_owned());
    problem(Some(caller), status, &message)
}

/// `/devices/{id}`: inventory, current conditions, health history and tickets.
async fn device_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (caller, csrf) = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(redirect) => return redirect,
    };
    let device = match state.store.device(&id).await {
        Ok(Some(device)) => device,
        Ok(None) => return problem(Some(&caller), StatusCode::NOT_FOUND, "No such device."),
        Err(_) => {
            return problem(
                Some(&caller),
                StatusCode::SERVICE_UNAVAILABLE,
                "The collector's store is unavailable.",
            );
        }
    };
    let conditions = state.store.open_conditions(&id).await.unwrap_or_default();
    let findings = state
        .store
        .recent_findings(&id, 500)
        .await
        .unwrap_or_default();
    let tickets = state
        .store
        .tickets(&TicketFilter {
            device_id: Some(id.clone()),
            limit: Some(100),
            ..TicketFilter::default()
        })
        .await
        .unwrap_or_default();
    let mut body = String::new();
    let inventory = device.inventory.clone().unwrap_or_default();
    let _ = write!(
        body,
        "<h1>{}</h1><div class=\"card\"><dl class=\"kv\"><dt>Site</dt><dd>{}</dd><dt>OS</dt><dd>{} {}</dd><dt>CPU</dt><dd>{} ({} cores)</dd>\
         <dt>Memory</dt><dd>{:.1} GB</dd><dt>Agent</dt><dd>{}</dd><dt>Last seen</dt><dd>{}</dd><dt>Connected</dt><dd>{}</dd><dt>VIP</dt><dd>{}</dd></dl></div>",
        esc(&device.hostname),
        esc(&device.site),
        esc(&inventory.os_name),
        esc(&inventory.os_version),
        esc(&inventory.cpu_model),
        inventory.cpu_logical_cores,
        inventory.memory_total_bytes as f64 / 1e9,
        esc(&device.agent_version),
        device
            .last_seen_at_ms
            .map(when)
            .unwrap_or_else(|| "never".to_owned()),
        if state.sessions.is_connected(&device.id) {
            "yes"
        } else {
            "no"
        },
        if device.vip { "yes" } else { "no" },
    );
    body.push_str(&users_card(&inventory));
    body.push_str(&agent_health_card(device.agent_health.as_ref()));
    if let Some(note) = &device.budget_note {
        let _ = write!(
            body,
            "<h2>Over its budget</h2><p class=\"warning\">This device {} (noted {}). Its agent or \
             its configuration may be broken, or it is not what it claims to be.</p>",
            esc(note),
            device
                .budget_note_at_ms
                .map(when)
                .unwrap_or_else(|| "?".to_owned())
        );
    }
    body.push_str("<h2>Current conditions</h2><table><tr><th>Check</th><th>Resource</th><th>State</th><th>Since</th><th>Summary</th></tr>");
    for condition in &conditions {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            esc(&condition.check),
            esc(&condition.resource),
            condition.state.as_str(),
            condition.severity.as_str(),
            when(condition.since_ms),
            esc(&condition.summary)
        );
    }
    body.push_str("</table><h2>Health history</h2>");
    let mut per_check: HashMap<String, f64> = HashMap::new();
    for finding in &findings {
        if finding.finding.severity >= crate::model::Severity::Warning {
            *per_check.entry(finding.finding.check.clone()).or_default() += 1.0;
        }
    }
    let mut rows: Vec<(String, f64)> = per_check.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    body.push_str(&bars(
        "Problems raised per check (last 500 findings)",
        &rows,
        "",
    ));
    body.push_str("<table><tr><th>When</th><th>Severity</th><th>Finding</th></tr>");
    for finding in findings.iter().rev().take(20) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            when(finding.received_at_ms),
            finding.finding.severity.as_str(),
            esc(&finding.finding.summary)
        );
    }
    body.push_str(
        "</table><h2>Tickets</h2><table><tr><th>#</th><th>Ticket</th><th>State</th></tr>",
    );
    for ticket in &tickets {
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"/tickets/{}\">{}</a></td><td>{}</td></tr>",
            ticket.id,
            ticket.id,
            esc(&ticket.title),
            ticket.state.as_str()
        );
    }
    body.push_str("</table>");
    signed_page(&caller, &csrf, &device.hostname, &body, None)
}

/// The agent's own health from its heartbeats: how long its checks take, its memory and the
/// findings it still holds. Numbers only (nothing an agent typed), so nothing to escape.
/// Who uses the device: its sessions (kind, line, login time) and the last login.
fn users_card(inventory: &crate::model::Inventory) -> String {
    let mut card = String::from("<h2>Users</h2>");
    if inventory.users.is_empty() {
        card.push_str("<p class=\"muted\" id=\"users\">No one has a session on it now.</p>");
    } else {
        card.push_str("<table id=\"users\"><tr><th>Account</th><th>Session</th><th>Where</th><th>Since</th></tr>");
        for user in &inventory.users {
            let place = if user.remote_host.is_empty() {
                esc(&user.line)
            } else {
                format!("{} from {}", esc(&user.line), esc(&user.remote_host))
            };
            let _ = write!(
                card,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&user.account),
                user.kind.as_str(),
                place,
                if user.login_at_ms > 0 {
                    when(user.login_at_ms)
                } else {
                    "—".to_owned()
                },
            );
        }
        card.push_str("</table>");
    }
    let _ = write!(
        card,
        "<p>Last login: <span id=\"last-user\">{}</span></p>",
        if inventory.last_user.is_empty() {
            "—".to_owned()
        } else {
            esc(&inventory.last_user)
        }
    );
    card
}

fn agent_health_card(health: Option<&crate::model::AgentHealth>) -> String {
    let Some(health) = health else {
        return "<h2>Agent health</h2><p class=\"muted\">Not reported yet: agents report it with their heartbeats.</p>".to_owned();
    };
    let unknown = || "unknown".to_owned();
    format!(
        "<h2>Agent health</h2><div class=\"card\"><dl class=\"kv\"><dt>Check cycle</dt><dd>{}</dd>\
         <dt>Resident memory</dt><dd>{}</dd><dt>Outbox</dt><dd>{}</dd><dt>Reported</dt><dd>{}</dd></dl></div>",
        health
            .check_cycle_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(unknown),
        health
            .resident_memory_bytes
            .map(|bytes| format!("{:.1} MB", bytes as f64 / 1e6))
            .unwrap_or_else(unknown),
        health
            .outbox_depth
            .map(|depth| format!("{depth} findings waiting"))
            .unwrap_or_else(unknown),
        when(health.reported_at_ms),
    )
}

/// `/knowledge?q=…`: what fixed what, searchable.
async fn knowledge_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (caller, csrf) = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(redirect) => return redirect,
    };
    let q = query.get("q").cloned().unwrap_or_default();
    let entries = state.store.knowledge(Some(&q)).await.unwrap_or_default();
    let mut body = format!(
        "<h1>Knowledge base</h1><form class=\"filters\" method=\"get\" action=\"/knowledge\"><input name=\"q\" value=\"{}\" placeholder=\"disk, dns, outlook…\"><button type=\"submit\">Search</button></form>",
        esc(&q)
    );
    if entries.is_empty() {
        body.push_str("<p class=\"muted\">Nothing found. Solutions appear here when tickets are resolved with one.</p>");
    }
    for entry in &entries {
        let _ = write!(
            body,
            "<div class=\"card\"><strong>{}</strong>{}<ol>",
            esc(&entry.fingerprint),
            if entry.problem_candidate {
                " <span class=\"badge\">problem candidate</span>"
            } else {
                ""
            }
        );
        body.push_str(&fix_items(&entry.solutions));
        body.push_str("</ol></div>");
    }
    signed_page(&caller, &csrf, "Knowledge", &body, None)
}

/// `/stats`: the supervisors' view.
async fn stats_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (caller, csrf) = match signed_in(&state, &headers).await {
        Ok(who) => who,
        Err(redirect) => return redirect,
    };
    if caller.role < Role::Supervisor {
        return problem(
            Some(&caller),
            StatusCode::FORBIDDEN,
            "Stats are for supervisors.",
        );
    }
    let days: i64 = query
        .get("days")
        .and_then(|d| d.parse().ok())
        .filter(|d| (1..=366).contains(d))
        .unwrap_or(30);
    let until = now_ms();
    let stats = match state.store.stats(until - days * 86_400_000, until).await {
        Ok(stats) => stats,
        Err(_) => {
            return problem(
                Some(&caller),
                StatusCode::SERVICE_UNAVAILABLE,
                "The collector's store is unavailable.",
            );
        }
    };
    let percent = |share: Option<f64>| {
        share
            .map(|s| format!("{:.0}%", s * 100.0))
            .unwrap_or_else(|| "—".to_owned())
    };
    let mut body = format!(
        "<h1>Stats, last {days} days</h1><div class=\"card\"><dl class=\"kv\"><dt>Tickets opened</dt><dd>{}</dd><dt>Findings received</dt><dd>{}</dd>\
         <dt>Noise compression</dt><dd>{} findings per ticket</dd><dt>Resolved</dt><dd>{}</dd><dt>Resolved by themselves</dt><dd>{}</dd></dl></div>",
        stats.tickets_opened,
        stats.findings_received,
        stats
            .noise_compression
            .map(|n| format!("{n:.1}"))
            .unwrap_or_else(|| "—".to_owned()),
        stats.resolved,
        percent(stats.auto_resolved_share),
    );
    body.push_str(&people_stats::people_card(&stats.people));
    body.push_str(&people_stats::fixes_card(&stats.fixes));
    let to_rows = |map: &std::collections::BTreeMap<String, u64>| -> Vec<(String, f64)> {
        let mut rows: Vec<(String, f64)> =
            map.iter().map(|(k, v)| (k.clone(), *v as f64)).collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        rows.truncate(15);
        rows
    };
    body.push_str(&bars(
        "Tickets per category",
        &to_rows(&stats.by_category),
        "",
    ));
    body.push_str(&bars("Tickets per site", &to_rows(&stats.by_site), ""));
    body.push_str(&bars(
        "Tickets per technician",
        &to_rows(&stats.by_technician),
        "",
    ));
    let ageing: Vec<(String, f64)> = ["under_1h", "under_1d", "under_1w", "older"]
        .iter()
        .map(|bucket| {
            let count = stats.backlog_ageing.get(bucket).copied().unwrap_or(0);
            (bucket.replace('_', " "), count as f64)
        })
        .collect();
    body.push_str(&bars("Open tickets by age", &ageing, ""));
    body.push_str("<h2>Response and repair times</h2><table><tr><th>Priority</th><th>Opened</th><th>MTTA median</th><th>MTTA p90</th><th>MTTR median</th><th>MTTR p90</th><th>Response SLA met</th><th>Resolution SLA met</th></tr>");
    let time = |secs: Option<f64>| secs.map(span).unwrap_or_else(|| "—".to_owned());
    for row in &stats.by_priority {
        let _ = write!(
            body,
            "<tr><td class=\"{}\">P{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            priority_class(row.priority),
            row.priority,
            row.opened,
            time(row.mtta_median_secs),
            time(row.mtta_p90_secs),
            time(row.mttr_median_secs),
            time(row.mttr_p90_secs),
            percent(row.response_sla_met),
            percent(row.resolution_sla_met)
        );
    }
    body.push_str("</table><h2>Top recurring problems</h2><table><tr><th>Fingerprint</th><th>Tickets</th><th></th></tr>");
    for recurring in &stats.top_recurring {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&recurring.fingerprint),
            recurring.tickets,
            if recurring.problem_candidate {
                "problem candidate"
            } else {
                ""
            }
        );
    }
    body.push_str("</table>");
    signed_page(&caller, &csrf, "Stats", &body, Some(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_shows_values_escaped_with_the_raw_json_behind_a_click() {
        let shown =
            evidence(&serde_json::json!({"summary": "<script>alert(1)</script>", "count": 2}));
        assert!(
            shown.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{shown}"
        );
        assert!(!shown.contains("<script>"), "{shown}");
        assert!(shown.contains("<details><summary>Raw data</summary>"));
    }
}
