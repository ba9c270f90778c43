//! The web UI for support staff, rendered on the server: sign-in, the queue, a ticket (with
//! its evidence, timeline, known fixes and actions), a device, the knowledge base and the
//! supervisors' stats. Forms carry the session's CSRF token; every page is sent with a
//! Content-Security-Policy that allows nothing but the collector itself.

mod devices;
mod fleet;
mod frame;
pub mod help;
pub mod html;
mod knowledge;
mod markdown;
mod people_stats;
mod queue;
mod search;

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
use frame::{Staff, staff_page, tr};
use html::{bars, esc, when};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/", get(queue::page))
        .route("/static/firstline.css", get(stylesheet))
        .route("/static/firstline.js", get(script))
        .route("/tickets/bulk", post(queue::bulk))
        .route("/devices", get(devices::list))
        .route("/search", get(search::page))
        .route("/account/preferences", post(preferences_form))
        .route("/login", get(login_page))
        .route("/login/form", post(login_form))
        .route("/logout/form", post(logout_form))
        .route("/account", get(account_page))
        .route("/account/password", post(password_form))
        .route("/tickets/{id}", get(ticket_page))
        .route("/tickets/{id}/act", post(act))
        .route("/devices/{id}", get(device_page))
        .route("/knowledge", get(knowledge::page))
        .route("/knowledge/articles", post(knowledge::save_article))
        .route("/knowledge/articles/new", get(knowledge::new_article))
        .route("/knowledge/articles/{id}", get(knowledge::article))
        .route(
            "/knowledge/articles/{id}/edit",
            get(knowledge::edit_article),
        )
        .route(
            "/knowledge/articles/{id}/delete",
            post(knowledge::delete_article),
        )
        .route("/knowledge/replies", post(knowledge::save_reply))
        .route(
            "/knowledge/replies/{id}/delete",
            post(knowledge::delete_reply),
        )
        .route("/stats", get(stats_page))
        .route("/fleet", get(fleet::page))
        .route("/fleet/groups", post(fleet::add_group))
        .route("/fleet/policies", post(fleet::add_policy))
        .route(
            "/fleet/policies/{id}",
            get(fleet::policy_page).post(fleet::change_policy),
        )
        .route("/fleet/policies/{id}/promote", post(fleet::promote))
        .route("/fleet/policies/{id}/rollback", post(fleet::roll_back))
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
        HeaderValue::from_static("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
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

fn problem(staff: Option<&Staff>, status: StatusCode, message: &str) -> Response {
    let body = format!("<p class=\"error\">{}</p>", esc(message));
    match staff {
        Some(staff) => html(
            status,
            staff_page(staff, &tr(staff.lang, "staff-problem"), &body, None),
        ),
        None => html(
            status,
            html::anonymous_page(firstline_i18n::Lang::En, "Problem", &body),
        ),
    }
}

/// The page for a store that did not answer: logged with `what`, said in the reader's words.
fn unavailable(staff: &Staff, what: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "{what}");
    problem(
        Some(staff),
        StatusCode::SERVICE_UNAVAILABLE,
        &staff.t("staff-store-unavailable"),
    )
}

/// The language a browser asks for, for pages shown before anyone signs in.
fn browser_lang(headers: &HeaderMap) -> firstline_i18n::Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(firstline_i18n::Lang::from_accept_language)
        .unwrap_or_default()
}

/// The signed-in person, or a redirect to the sign-in page.
async fn signed_in(state: &HttpState, headers: &HeaderMap) -> Result<Staff, Response> {
    let (caller, csrf, preferences) = session_of(state, headers)
        .await
        .ok_or_else(|| Redirect::to("/login").into_response())?;
    Ok(Staff::new(caller, csrf, &preferences, headers))
}

/// The signed-in person behind a form that changes something, which must carry the session's
/// CSRF token; else a redirect to the sign-in page, or a refusal.
async fn signed_in_form(
    state: &HttpState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Staff, Response> {
    let staff = signed_in(state, headers).await?;
    if !crate::auth::csrf_matches(form.get("csrf_token").map(String::as_str), &staff.csrf) {
        tracing::warn!(user = %staff.caller.name, "form without a valid CSRF token refused");
        return Err(problem(
            Some(&staff),
            StatusCode::FORBIDDEN,
            "The form's security token is missing or wrong; reload the page and try again.",
        ));
    }
    Ok(staff)
}

/// A page for a signed-in person, in their language.
fn signed_page(staff: &Staff, title: &str, body: &str, refresh_secs: Option<u32>) -> Response {
    html(StatusCode::OK, staff_page(staff, title, body, refresh_secs))
}

fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        esc(csrf)
    )
}

async fn script() -> Response {
    let mut response = html::SCRIPT.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response
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
    let lang = browser_lang(&headers);
    let t = |id: &str| esc(&tr(lang, id));
    let warning = if state.public_url.starts_with("https://") || loopback {
        String::new()
    } else {
        format!(
            "<p class=\"error\" id=\"plain-http\">{}</p>",
            t("staff-sign-in-plain-http")
        )
    };
    let body = format!(
        "{warning}<h1>{}</h1><form class=\"card\" method=\"post\" action=\"/login/form\">\
         <p><label>{}<br><input name=\"name\" autocomplete=\"username\" required autofocus></label></p>\
         <p><label>{}<br><input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <button type=\"submit\">{}</button></form>",
        t("staff-sign-in"),
        t("staff-sign-in-name"),
        t("staff-sign-in-password"),
        t("staff-sign-in"),
    );
    html(
        StatusCode::OK,
        html::anonymous_page(lang, &tr(lang, "staff-sign-in"), &body),
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
            let lang = browser_lang(&headers);
            let status = refusal.status();
            let message = if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after_secs(&refusal).unwrap_or(60).max(1);
                let minutes = (wait + 59) / 60;
                firstline_i18n::msg!("staff-sign-in-too-many", "minutes" => minutes).text(lang)
            } else {
                tr(lang, "staff-sign-in-wrong")
            };
            let body = format!(
                "<p class=\"error\">{}</p><p><a href=\"/login\">{}</a></p>",
                esc(&message),
                esc(&tr(lang, "staff-sign-in-again"))
            );
            html(
                status,
                html::anonymous_page(lang, &tr(lang, "staff-sign-in"), &body),
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
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let caller = &staff.caller;
    if !crate::auth::csrf_matches(form.get("csrf_token").map(String::as_str), &staff.csrf) {
        tracing::warn!(user = %caller.name, "sign-out form without a valid CSRF token refused");
        return problem(
            Some(&staff),
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
            Some(&staff),
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

fn password_page(staff: &Staff, notice: Option<(&str, bool)>) -> String {
    let t = |id: &str| esc(&staff.t(id));
    let notice = match notice {
        Some((text, true)) => format!("<p class=\"error\" id=\"notice\">{}</p>", esc(text)),
        Some((text, false)) => format!("<p class=\"card\" id=\"notice\">{}</p>", esc(text)),
        None => String::new(),
    };
    format!(
        "{notice}<form class=\"card\" method=\"post\" action=\"/account/password\">{}\
         <h2>{}</h2>\
         <p><label>{}<br><input name=\"current_password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><label>{}<br><input name=\"new_password\" type=\"password\" autocomplete=\"new-password\" minlength=\"{}\" required></label></p>\
         <p><label>{}<br><input name=\"new_password_again\" type=\"password\" autocomplete=\"new-password\" required></label></p>\
         <p class=\"muted\">{}</p>\
         <button type=\"submit\">{}</button></form>",
        csrf_field(&staff.csrf),
        t("staff-password-heading"),
        t("staff-password-current"),
        esc(&staff.say(
            &firstline_i18n::msg!("staff-password-new", "count" => crate::auth::MIN_PASSWORD_CHARS)
        )),
        crate::auth::MIN_PASSWORD_CHARS,
        t("staff-password-again"),
        t("staff-password-sessions"),
        t("staff-password-change"),
    )
}

/// The account page: a heading, then the preferences and password forms.
fn account_body(
    staff: &Staff,
    saved: Option<&str>,
    password_notice: Option<(&str, bool)>,
) -> String {
    format!(
        "<h1>{}</h1>{}{}",
        esc(&staff.t("staff-nav-account")),
        preferences_card(staff, saved),
        password_page(staff, password_notice)
    )
}

/// `/account`: the signed-in person's own account (changing their password).
async fn account_page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let body = account_body(&staff, None, None);
    signed_page(&staff, &staff.t("staff-nav-account"), &body, None)
}

/// The language and time zone the workspace is shown in, as a form.
fn preferences_card(staff: &Staff, notice: Option<&str>) -> String {
    let t = |id: &str| esc(&staff.t(id));
    let mut card = String::new();
    if let Some(notice) = notice {
        let _ = write!(
            card,
            "<p class=\"card ok\" id=\"preferences-saved\">{}</p>",
            esc(notice)
        );
    }
    let _ = write!(
        card,
        "<form class=\"card\" method=\"post\" action=\"/account/preferences\">{}<h2>{}</h2>\
         <p><label>{}<br><select name=\"language\"><option value=\"\">{}</option>",
        csrf_field(&staff.csrf),
        t("staff-preferences-heading"),
        t("staff-language"),
        t("staff-language-browser"),
    );
    for lang in firstline_i18n::Lang::ALL {
        let selected = if staff.chosen_lang == Some(lang) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            card,
            "<option value=\"{}\"{selected}>{}</option>",
            lang.code(),
            esc(lang.native_name())
        );
    }
    let zone = staff.time_zone.as_deref().unwrap_or_default();
    let _ = write!(
        card,
        "</select></label></p><p><label>{}<br><input name=\"time_zone\" list=\"time-zones\" value=\"{}\" placeholder=\"{}\" size=\"28\"></label><datalist id=\"time-zones\"></datalist></p>\
         <button type=\"submit\">{}</button></form>",
        t("staff-time-zone"),
        esc(zone),
        t("staff-time-zone-browser"),
        t("staff-save"),
    );
    card
}

/// `POST /account/preferences`: the language and time zone of the form on `/account`.
async fn preferences_form(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let language = form.get("language").map(|v| v.trim()).unwrap_or_default();
    let language = match language {
        "" => None,
        code => match firstline_i18n::Lang::parse(code) {
            Some(lang) if lang.code() == code => Some(lang),
            _ => {
                let message = firstline_i18n::msg!("staff-language-unknown", "value" => code);
                return problem(Some(&staff), StatusCode::BAD_REQUEST, &staff.say(&message));
            }
        },
    };
    let zone = form.get("time_zone").map(|v| v.trim()).unwrap_or_default();
    let zone = match zone {
        "" => None,
        zone if frame::valid_time_zone(zone) => Some(zone.to_owned()),
        zone => {
            let message = firstline_i18n::msg!("staff-time-zone-unknown", "value" => zone);
            return problem(Some(&staff), StatusCode::BAD_REQUEST, &staff.say(&message));
        }
    };
    let preferences = crate::store::staff::Preferences {
        language: language.map(|lang| lang.code().to_owned()),
        time_zone: zone.clone(),
    };
    if let Err(e) = state
        .store
        .set_preferences(&staff.caller.name, &preferences)
        .await
    {
        return unavailable(&staff, "saving preferences", &e);
    }
    // The page that answers is already in the new language.
    staff = Staff::new(staff.caller, staff.csrf, &preferences, &headers);
    let notice = staff.t("staff-preferences-saved");
    let body = account_body(&staff, Some(&notice), None);
    signed_page(&staff, &staff.t("staff-nav-account"), &body, None)
}

/// `POST /account/password`: the form of `/account`, through the same rules as the REST API.
async fn password_form(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let caller = &staff.caller;
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let new_password = field("new_password");
    if new_password != field("new_password_again") {
        let differ = staff.t("staff-password-differ");
        let body = account_body(&staff, None, Some((&differ, true)));
        return html(
            StatusCode::BAD_REQUEST,
            staff_page(&staff, "Account", &body, None),
        );
    }
    let client = client_address(&state, peer, &headers);
    match change_own_password(
        &state,
        caller,
        client,
        field("current_password"),
        new_password,
    )
    .await
    {
        Ok(()) => {
            let changed = staff.t("staff-password-changed");
            let body = account_body(&staff, None, Some((&changed, false)));
            signed_page(&staff, "Account", &body, None)
        }
        Err(refusal) => {
            let status = refusal.status();
            let message = axum::body::to_bytes(refusal.into_body(), 64 * 1024)
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .and_then(|json| json["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "Changing the password failed.".to_owned());
            let body = account_body(&staff, None, Some((&format!("{message}."), true)));
            html(status, staff_page(&staff, "Account", &body, None))
        }
    }
}

/// Known fixes as list items, each with how often it worked.
fn fix_items(staff: &Staff, fixes: &[crate::tickets::KnownFix]) -> String {
    fixes
        .iter()
        .map(|fix| {
            format!(
                "<li>{} <span class=\"muted\">({})</span></li>",
                esc(&fix.solution),
                esc(&staff
                    .say(&firstline_i18n::msg!("staff-fix-worked", "count" => fix.worked_count)))
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

fn priority_class(priority: u8) -> &'static str {
    match priority {
        1 => "p1",
        2 => "p2",
        3 => "p3",
        _ => "",
    }
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
    let staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let caller = &staff.caller;
    if caller.role != Role::Admin {
        return problem(
            Some(&staff),
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
                Some(&staff),
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
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let (caller, csrf) = (&staff.caller, staff.csrf.as_str());
    let Ok(id) = id.parse::<i64>() else {
        return problem(
            Some(&staff),
            StatusCode::NOT_FOUND,
            &staff.t("staff-ticket-missing"),
        );
    };
    let detail = match state.store.ticket_detail(id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => {
            return problem(
                Some(&staff),
                StatusCode::NOT_FOUND,
                &staff.t("staff-ticket-missing"),
            );
        }
        Err(e) => {
            return unavailable(&staff, "ticket page", &e);
        }
    };
    let t = &detail.ticket;
    let lang = staff.lang;
    let now = now_ms();
    let l = |id: &str| esc(&staff.t(id));
    let title = queue::ticket_title(&staff, t);
    let mut body = String::new();
    // After "Reproduce now": how many devices were asked.
    if let Some(count) = query.get("asked").and_then(|n| n.parse::<u32>().ok()) {
        let _ = write!(
            body,
            "<p class=\"card ok\" id=\"done\">{}</p>",
            esc(&staff
                .say(&firstline_i18n::msg!("staff-ticket-reproduce-queued", "count" => count)))
        );
    }
    let _ = write!(
        body,
        "<h1>#{} {}</h1><div class=\"card\"><dl class=\"kv\" id=\"summary\">\
         <dt>{}</dt><dd id=\"state\" data-state=\"{}\">{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd class=\"{}\">P{} ({})</dd><dt>{}</dt><dd>L{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} · {}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>",
        t.id,
        esc(&title),
        l("staff-col-state"),
        esc(t.state.as_str()),
        l(&format!("staff-state-{}", t.state.as_str())),
        l("staff-filter-kind"),
        l(&format!("staff-kind-{}", t.kind.as_str())),
        l("staff-col-priority"),
        priority_class(t.priority.number()),
        t.priority.number(),
        esc(
            &staff.say(&firstline_i18n::msg!("staff-ticket-priority-why",
            "impact" => staff.t(&format!("staff-level-{}", t.impact.as_str())),
            "urgency" => staff.t(&format!("staff-level-{}", t.urgency.as_str()))))
        ),
        l("staff-filter-tier"),
        t.tier,
        l("staff-col-assignee"),
        t.assignee
            .as_deref()
            .map_or_else(|| l("staff-unassigned"), esc),
        l("staff-filter-check"),
        esc(&t.check),
        esc(&t.resource),
        l("staff-ticket-opened"),
        frame::moment(lang, t.opened_at_ms, now),
        l("staff-ticket-response-due"),
        due_words(
            &staff,
            t.response_due_ms,
            t.first_response_at_ms.is_none() && t.state.is_open(),
            now
        ),
        l("staff-ticket-resolution-due"),
        due_words(&staff, t.resolution_due_ms, t.state.is_open(), now),
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
        "<dt>{}</dt><dd id=\"requester\">{}</dd><dt>{}</dt><dd id=\"affected-users\">{}</dd>",
        l("staff-ticket-requester"),
        t.requester
            .as_deref()
            .map_or_else(|| "—".to_owned(), |r| person_label(r, &directory, true)),
        l("staff-ticket-affected-users"),
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
        let _ = write!(
            body,
            "<dt>{}</dt><dd>{}</dd>",
            l("staff-ticket-resolution"),
            esc(resolution)
        );
    }
    if !detail.ticket_systems.is_empty() {
        let rows: Vec<String> = detail
            .ticket_systems
            .iter()
            .map(|link| {
                let remote = if link.remote_id.is_empty() {
                    esc(&staff.t("staff-sync-not-yet"))
                } else {
                    format!(
                        "<a href=\"{}\" rel=\"noopener noreferrer\">#{}</a>",
                        esc(&link.remote_url),
                        esc(&link.remote_id)
                    )
                };
                let standing = if link.waiting > 0 {
                    let waiting = staff.say(
                        &firstline_i18n::Message::new("staff-sync-waiting")
                            .arg("count", i64::try_from(link.waiting).unwrap_or(i64::MAX)),
                    );
                    match &link.last_error {
                        Some(error) => format!(
                            "{} <span class=\"muted\">{}</span>",
                            esc(&waiting),
                            esc(error)
                        ),
                        None => esc(&waiting),
                    }
                } else if link.closed_remotely {
                    esc(&staff.t("staff-sync-closed-there"))
                } else {
                    esc(&staff.t("staff-sync-in-step"))
                };
                format!("{}: {remote} ({standing})", esc(&link.system))
            })
            .collect();
        let _ = write!(
            body,
            "<dt>{}</dt><dd id=\"ticket-systems\">{}</dd>",
            l("staff-ticket-systems"),
            rows.join("<br>")
        );
    }
    let _ = write!(
        body,
        "</dl><p id=\"description\">{}</p></div>",
        esc(&t.description)
    );
    if detail.problem_candidate {
        let _ = write!(
            body,
            "<p class=\"badge\">{}</p>",
            l("staff-ticket-problem-candidate")
        );
    }
    let _ = write!(body, "<h2>{}</h2>", l("staff-ticket-known-fixes"));
    if detail.suggested_fixes.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"known-fixes\">{}</p>",
            l("staff-ticket-no-known-fixes")
        );
    } else {
        let _ = write!(
            body,
            "<ol id=\"known-fixes\">{}</ol>",
            fix_items(&staff, &detail.suggested_fixes)
        );
    }
    body.push_str(&knowledge::suggested(&state, &staff, &t.check, &t.fingerprint).await);
    match state.store.ticket_fixes(id).await {
        Ok(fixes) => {
            let hostnames: HashMap<&str, &str> = detail
                .devices
                .iter()
                .map(|d| (d.device_id.as_str(), d.hostname.as_str()))
                .collect();
            body.push_str(&fixes_section(
                &staff,
                t.id,
                t.state.is_open(),
                &fixes,
                &hostnames,
            ));
        }
        Err(e) => tracing::error!(error = %e, "ticket page: the ticket's fixes"),
    }
    let _ = write!(
        body,
        "<h2 id=\"devices\">{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(&staff
            .say(&firstline_i18n::msg!("staff-device-count", "count" => detail.devices.len()))),
        l("staff-col-device"),
        l("staff-ticket-added"),
        l("staff-ticket-recovered"),
    );
    for device in detail.devices.iter().take(500) {
        let _ = write!(
            body,
            "<tr><td><a href=\"/devices/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
            esc(&device.device_id),
            esc(&device.hostname),
            frame::moment(lang, device.added_at_ms, now),
            device
                .recovered_at_ms
                .map(|at| frame::moment(lang, at, now))
                .unwrap_or_else(|| "—".to_owned())
        );
    }
    let _ = write!(
        body,
        "</table><h2>{}</h2><div class=\"actions\">",
        l("staff-ticket-actions")
    );
    let form = |action: &str, fields: &str, button: &str| {
        format!(
            "<form method=\"post\" action=\"/tickets/{}/act\">{}<input type=\"hidden\" name=\"action\" value=\"{action}\">{fields}<button type=\"submit\">{button}</button></form>",
            t.id,
            csrf_field(csrf)
        )
    };
    // Only what fits the ticket's state is offered (the API refuses the rest anyway).
    let open = t.state.is_open();
    let resolved = t.state == crate::tickets::TicketState::Resolved;
    if open {
        body.push_str(&form(
            "assign",
            &format!(
                "<label>{}<br><select name=\"to\" id=\"assign-to\">{}</select></label> ",
                l("staff-bulk-assign-to"),
                assignee_options(&state, &caller.name, t.assignee.as_deref()).await
            ),
            &l("staff-bulk-assign"),
        ));
    }
    if let Some(requester) = t.requester.as_ref().filter(|_| open || resolved) {
        body.push_str(&form(
            "reply",
            &format!(
                "{}<label>{}<br><textarea name=\"text\" id=\"reply\" required></textarea></label>",
                canned_choice(&state, &staff).await,
                esc(&staff.say(
                    &firstline_i18n::msg!("staff-ticket-reply-to", "person" => requester.as_str())
                ))
            ),
            &l("staff-ticket-send-reply"),
        ));
    }
    body.push_str(&form(
        "comment",
        &format!(
            "<label>{}<br><textarea name=\"text\" id=\"comment\" required></textarea></label>",
            l("staff-ticket-note")
        ),
        &l("staff-bulk-note"),
    ));
    if open {
        body.push_str(&form(
            "resolve",
            &format!("<label>{}<br><textarea name=\"solution\" id=\"solution\" required></textarea></label>", l("staff-ticket-solution")),
            &l("staff-bulk-resolve"),
        ));
        body.push_str(&form(
            "escalate",
            &format!(
                "<label>{}<br><input name=\"reason\"></label> ",
                l("staff-ticket-escalate-why")
            ),
            &l("staff-ticket-escalate"),
        ));
        if t.state != crate::tickets::TicketState::Pending {
            body.push_str(&form(
                "pending",
                &format!(
                    "<label>{}<br><input name=\"reason\"></label> ",
                    l("staff-ticket-waiting-for")
                ),
                &l("staff-ticket-set-pending"),
            ));
        }
        if t.state != crate::tickets::TicketState::InProgress {
            body.push_str(&form("start", "", &l("staff-ticket-start")));
        }
        body.push_str(&form("cancel", "", &l("staff-ticket-cancel")));
    } else if resolved {
        body.push_str(&form("reopen", "", &l("staff-ticket-reopen")));
        body.push_str(&form("close", "", &l("staff-ticket-close")));
    }
    if open {
        body.push_str(&form(
            "merge",
            &format!(
                "<label>{}<br><input name=\"into\" id=\"merge-into\" list=\"merge-targets\" inputmode=\"numeric\" autocomplete=\"off\" required></label>{}<p class=\"muted\">{}</p>",
                l("staff-ticket-merge-into"),
                merge_targets(&state, t.id).await,
                l("staff-ticket-merge-explain"),
            ),
            &l("staff-ticket-merge"),
        ));
        let (playbook, target) = reproduce_preset(t);
        let mut choices = String::new();
        for name in PLAYBOOKS {
            let selected = if name == playbook { " selected" } else { "" };
            let _ = write!(
                choices,
                "<option value=\"{name}\"{selected}>{}</option>",
                l(&format!("staff-playbook-{name}"))
            );
        }
        // An incident runs it on the devices chosen among those still failing.
        let mut devices = String::new();
        if t.device_id.is_none() {
            let failing: Vec<_> = detail
                .devices
                .iter()
                .filter(|device| device.recovered_at_ms.is_none())
                .take(REPRODUCE_CHOICES)
                .collect();
            if !failing.is_empty() {
                let _ = write!(
                    devices,
                    "<fieldset id=\"reproduce-devices\"><legend>{}</legend>",
                    l("staff-ticket-reproduce-on")
                );
                for device in failing {
                    let _ = write!(
                        devices,
                        "<label class=\"choice\"><input type=\"checkbox\" name=\"device\" value=\"{}\"> {}</label> ",
                        esc(&device.device_id),
                        esc(&device.hostname)
                    );
                }
                devices.push_str("</fieldset>");
            }
        }
        body.push_str(&form(
            "reproduce",
            &format!(
                "<label>{}<br><select name=\"playbook\" id=\"playbook\">{choices}</select></label> <label>{}<br><input name=\"target\" id=\"target\" value=\"{}\" placeholder=\"https://…\"></label> {devices}",
                l("staff-ticket-playbook"),
                l("staff-ticket-target"),
                esc(&target),
            ),
            &l("staff-ticket-reproduce"),
        ));
    }
    let _ = write!(
        body,
        "</div><h2>{}</h2><table id=\"timeline\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("staff-ticket-timeline"),
        l("staff-ticket-when"),
        l("staff-col-what"),
        l("staff-ticket-details"),
    );
    for entry in &detail.timeline {
        let _ = write!(
            body,
            "<tr data-kind=\"{}\"><td>{}</td><td><span class=\"badge\">{}</span>{}</td><td>{}{}</td></tr>",
            esc(&entry.kind),
            frame::moment(lang, entry.at_ms, now),
            esc(&event_kind(&staff, &entry.kind)),
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
    signed_page(&staff, &format!("#{} {}", t.id, title), &body, None)
}

/// A timeline entry's kind in the reader's words (a kind the catalogs do not know, as
/// stored).
fn event_kind(staff: &Staff, kind: &str) -> String {
    let id = format!("staff-event-{}", kind.replace('_', "-"));
    if firstline_i18n::exists(&id) {
        staff.t(&id)
    } else {
        kind.to_owned()
    }
}

/// The device's fleet config: the version it should run and the policies that make it, the
/// version it says it runs, and the last it refused with the agent's reason.
async fn config_card(state: &HttpState, staff: &Staff, device_id: &str) -> String {
    let l = |id: &str| esc(&staff.t(id));
    let (effective, reported) = match (
        state.store.effective_config(device_id).await,
        state.store.config_report(device_id).await,
    ) {
        (Ok(Some(effective)), Ok(reported)) => (effective, reported),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "device page: its fleet config");
            return String::new();
        }
        (Ok(None), _) => return String::new(),
    };
    let version = |v: &str| {
        if v.is_empty() {
            l("staff-config-local")
        } else {
            format!("<code>{}</code>", esc(v))
        }
    };
    let mut card = format!(
        "<h2>{}</h2><div class=\"card\"><dl class=\"kv\" id=\"device-config\"><dt>{}</dt><dd>{}{}</dd><dt>{}</dt><dd id=\"config-running\">{}</dd>",
        l("staff-config"),
        l("staff-config-should-run"),
        version(&effective.version),
        if effective.policies.is_empty() {
            String::new()
        } else {
            format!(
                " <span class=\"muted\">({})</span>",
                esc(&effective.policies.join(", "))
            )
        },
        l("staff-config-runs"),
        match &reported.version {
            Some(v) => version(v),
            None => l("staff-config-not-said"),
        },
    );
    if let (Some(refused), Some(error)) = (&reported.refused_version, &reported.error) {
        let _ = write!(
            card,
            "<dt>{}</dt><dd class=\"warning\" id=\"config-refused\"><code>{}</code>: {}</dd>",
            l("staff-config-refused"),
            esc(refused),
            esc(error)
        );
    }
    card.push_str("</dl></div>");
    card
}

/// Devices of an incident offered for "Reproduce now" (each chosen one is one request).
const REPRODUCE_CHOICES: usize = 50;

/// Open incidents to merge ticket `except` into, as a `<datalist>` the number box offers
/// (any ticket number may still be typed).
async fn merge_targets(state: &HttpState, except: i64) -> String {
    let incidents = state
        .store
        .tickets(&TicketFilter {
            state: Some("open".to_owned()),
            kind: Some(crate::tickets::TicketKind::Incident),
            limit: Some(50),
            ..TicketFilter::default()
        })
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading open incidents");
            Vec::new()
        });
    let mut list = String::from("<datalist id=\"merge-targets\">");
    for incident in incidents.iter().filter(|i| i.id != except) {
        let _ = write!(
            list,
            "<option value=\"{}\">#{} {}</option>",
            incident.id,
            incident.id,
            esc(&incident.title)
        );
    }
    list.push_str("</datalist>");
    list
}

/// The canned replies as a list that fills the reply box (with the page's script), or nothing
/// when admins keep none.
async fn canned_choice(state: &HttpState, staff: &Staff) -> String {
    let replies = state.store.canned_replies().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reading canned replies");
        Vec::new()
    });
    if replies.is_empty() {
        return String::new();
    }
    let mut choice = format!(
        "<label>{}<br><select id=\"canned\" data-fills=\"reply\"><option value=\"\">—</option>",
        esc(&staff.t("staff-replies-heading"))
    );
    for reply in &replies {
        let _ = write!(
            choice,
            "<option value=\"{}\">{}</option>",
            esc(&reply.body),
            esc(&reply.title)
        );
    }
    choice.push_str("</select></label><br>");
    choice
}

/// The playbooks a technician can run on a ticket's device.
const PLAYBOOKS: [&str; 9] = [
    "web", "network", "slow", "disk", "crash", "printing", "email", "clock", "health",
];

/// The playbook and target that match what a ticket is about, for "Reproduce now".
fn reproduce_preset(ticket: &crate::store::TicketRecord) -> (&'static str, String) {
    let family = ticket.check.split('.').next().unwrap_or_default();
    let resource = ticket.resource.as_str();
    match family {
        "https" | "tcp" => ("web", resource.to_owned()),
        "dns" if !resource.is_empty() && !resource.contains(char::is_whitespace) => {
            ("web", format!("https://{resource}/"))
        }
        "network" | "dns" | "gateway" | "ping" => ("network", String::new()),
        "cpu" | "memory" | "thermal" => ("slow", String::new()),
        "disk" | "smart" => ("disk", String::new()),
        "wer" | "crash" | "app" => ("crash", String::new()),
        "clock" => ("clock", String::new()),
        "services"
            if resource.to_ascii_lowercase().contains("spool") || resource.contains("cups") =>
        {
            ("printing", String::new())
        }
        _ => ("health", String::new()),
    }
}

/// When an SLA target falls due, as words: "in 3 h", "2 h late", or the time alone once it
/// no longer applies.
fn due_words(staff: &Staff, due_ms: i64, running: bool, now: i64) -> String {
    if !running {
        return format!(
            "<time datetime=\"{}\" class=\"absolute\">{}</time>",
            frame::iso(due_ms),
            esc(&when(due_ms))
        );
    }
    let left = due_ms - now;
    let (class, words) = if left < 0 {
        (
            " class=\"late\"",
            frame::span_message("staff-due-late", -left),
        )
    } else {
        ("", frame::span_message("staff-due-in", left))
    };
    format!(
        "<time datetime=\"{}\"{class} title=\"{}\">{}</time>",
        frame::iso(due_ms),
        esc(&when(due_ms)),
        esc(&staff.say(&words))
    )
}

/// The enabled users as `<option>`s, `current` (else the reader) chosen.
async fn assignee_options(state: &HttpState, reader: &str, current: Option<&str>) -> String {
    let users = state.store.users().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reading users");
        Vec::new()
    });
    let chosen = current.unwrap_or(reader);
    let mut options = String::new();
    for user in users.iter().filter(|u| u.disabled_at_ms.is_none()) {
        let selected = if user.name == chosen { " selected" } else { "" };
        let _ = write!(
            options,
            "<option value=\"{0}\"{selected}>{0}</option>",
            esc(&user.name)
        );
    }
    options
}

/// The ticket's fixes: each fix that answers its fault, with how often it worked for this
/// fault before and an "Apply" button where a technician may start it; then every run.
fn fixes_section(
    staff: &Staff,
    ticket_id: i64,
    open: bool,
    fixes: &crate::store::fixes::TicketFixes,
    hostnames: &HashMap<&str, &str>,
) -> String {
    use crate::fixes::Mode;
    use firstline_i18n::msg;
    let l = |id: &str| esc(&staff.t(id));
    let say = |message: firstline_i18n::Message| esc(&staff.say(&message));
    let mut out = format!("<h2>{}</h2>", l("staff-fixes"));
    if fixes.offers.is_empty() && fixes.runs.is_empty() {
        let _ = write!(
            out,
            "<p class=\"muted\" id=\"fixes\">{}</p>",
            l("staff-fixes-none")
        );
        return out;
    }
    out.push_str("<ul id=\"fix-offers\">");
    for offer in &fixes.offers {
        let fix = offer.fix.as_str();
        let record = if offer.tried > 0 {
            format!(
                " {}",
                say(msg!("staff-fixes-record", "worked" => offer.worked, "tried" => offer.tried))
            )
        } else {
            String::new()
        };
        let devices = if offer.devices > 1 {
            format!(
                " {}",
                say(msg!("staff-fixes-devices", "count" => offer.devices))
            )
        } else {
            String::new()
        };
        let control = match offer.mode {
            _ if offer.running => format!(
                "<span class=\"badge\">{}</span>",
                say(msg!("staff-fixes-running", "fix" => fix))
            ),
            Mode::Auto | Mode::Approve if open => format!(
                "<form method=\"post\" action=\"/tickets/{ticket_id}/act\" class=\"inline\">{}<input type=\"hidden\" name=\"action\" value=\"fix\"><input type=\"hidden\" name=\"fix\" value=\"{}\">{}<button type=\"submit\" id=\"apply-{}\">{}{devices}{record}</button></form>",
                csrf_field(&staff.csrf),
                esc(fix),
                // The one fix whose target the fault does not name.
                if fix == "network.renew" {
                    format!(
                        "<label>{} <input name=\"interface\" required placeholder=\"eth0\" maxlength=\"15\"></label> ",
                        l("staff-fixes-interface")
                    )
                } else {
                    String::new()
                },
                esc(&fix.replace('.', "-")),
                say(msg!("staff-fixes-apply", "fix" => fix)),
            ),
            Mode::AskUser => format!(
                "<span class=\"muted\">{}{record}</span>",
                say(msg!("staff-fixes-ask-user", "fix" => fix))
            ),
            Mode::Off => format!(
                "<span class=\"muted\">{}{record}</span>",
                say(msg!("staff-fixes-off", "fix" => fix))
            ),
            _ => format!("<span class=\"muted\">{}{record}</span>", esc(fix)),
        };
        let _ = write!(
            out,
            "<li>{control} <span class=\"muted\">({}: {})</span></li>",
            l(&format!("staff-fixes-mode-{}", offer.mode.as_str())),
            esc(&offer.summary)
        );
    }
    out.push_str("</ul>");
    if !fixes.runs.is_empty() {
        let _ = write!(
            out,
            "<table id=\"fix-runs\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            l("staff-fixes-col-fix"),
            l("staff-fixes-col-device"),
            l("staff-fixes-col-allowed-by"),
            l("staff-fixes-col-state"),
            l("staff-fixes-col-asked"),
            l("staff-fixes-col-answered"),
        );
        let now = now_ms();
        for run in &fixes.runs {
            let _ = write!(
                out,
                "<tr><td>{}{}</td><td><a href=\"/devices/{}\">{}</a></td><td>{}</td><td class=\"fix-state\" data-state=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&run.fix),
                if run.canary {
                    format!(" <span class=\"badge\">{}</span>", l("staff-fixes-canary"))
                } else {
                    String::new()
                },
                esc(&run.device_id),
                esc(hostnames
                    .get(run.device_id.as_str())
                    .copied()
                    .unwrap_or(&run.device_id)),
                esc(&run.allowed_by),
                esc(&run.state),
                l(&format!("staff-fix-state-{}", run.state)),
                frame::moment(staff.lang, run.created_at_ms, now),
                run.done_at_ms
                    .map(|at| frame::moment(staff.lang, at, now))
                    .unwrap_or_else(|| "—".to_owned()),
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
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    // Repeated fields (the devices chosen to reproduce on) are kept apart; of the rest the
    // first counts.
    let mut form: HashMap<String, String> = HashMap::new();
    let mut devices: Vec<String> = Vec::new();
    for (key, value) in pairs {
        if key == "device" {
            if !devices.contains(&value) {
                devices.push(value);
            }
        } else {
            form.entry(key).or_insert(value);
        }
    }
    let staff = match signed_in_form(&state, &headers, &form).await {
        Ok(staff) => staff,
        Err(refused) => return refused,
    };
    let caller = &staff.caller;
    let Ok(id) = id.parse::<i64>() else {
        return problem(Some(&staff), StatusCode::NOT_FOUND, "No such ticket.");
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
            let outcome = crate::http::fixes::apply(&state, caller, id, request).await;
            return form_outcome(&staff, id, outcome).await;
        }
        Some("merge") => {
            let into = field("into");
            match into.trim().trim_start_matches('#').trim().parse::<i64>() {
                Ok(into) => ActionRequest::Merge { into },
                Err(_) => {
                    return problem(
                        Some(&staff),
                        StatusCode::BAD_REQUEST,
                        &staff.say(&firstline_i18n::msg!("staff-bulk-bad-ticket", "value" => into.as_str())),
                    );
                }
            }
        }
        Some("reproduce") => {
            let body = |device: Option<String>| {
                ActionRequest::Reproduce(ReproduceBody {
                    playbook: field("playbook"),
                    target: form.get("target").cloned().filter(|t| !t.trim().is_empty()),
                    device,
                    ttl_secs: None,
                })
            };
            if devices.is_empty() {
                let outcome = perform(&state, caller, id, body(None)).await;
                return match outcome.status() {
                    status if status.is_success() => {
                        Redirect::to(&format!("/tickets/{id}?asked=1")).into_response()
                    }
                    // An incident's form without a device ticked.
                    StatusCode::BAD_REQUEST if is_incident(&state, id).await => problem(
                        Some(&staff),
                        StatusCode::BAD_REQUEST,
                        &staff.t("staff-ticket-reproduce-choose"),
                    ),
                    _ => form_outcome(&staff, id, outcome).await,
                };
            }
            if devices.len() > REPRODUCE_CHOICES {
                return problem(
                    Some(&staff),
                    StatusCode::BAD_REQUEST,
                    &staff.t("staff-ticket-reproduce-choose"),
                );
            }
            let mut asked = 0u32;
            for device in devices {
                let outcome = perform(&state, caller, id, body(Some(device))).await;
                if !outcome.status().is_success() {
                    // Those already asked stay asked: say how many, then why the next was not.
                    let status = outcome.status();
                    let why = refusal_words(outcome).await;
                    let message = if asked == 0 {
                        why
                    } else {
                        format!(
                            "{} {why}",
                            staff.say(&firstline_i18n::msg!("staff-ticket-reproduce-queued", "count" => asked))
                        )
                    };
                    return problem(Some(&staff), status, &message);
                }
                asked += 1;
            }
            return Redirect::to(&format!("/tickets/{id}?asked={asked}")).into_response();
        }
        _ => return problem(Some(&staff), StatusCode::BAD_REQUEST, "Unknown action."),
    };
    let outcome = perform(&state, caller, id, request).await;
    form_outcome(&staff, id, outcome).await
}

/// Whether ticket `id` is an incident (false when it cannot be read).
async fn is_incident(state: &HttpState, id: i64) -> bool {
    matches!(
        state.store.ticket_detail(id).await,
        Ok(Some(detail)) if detail.ticket.kind == crate::tickets::TicketKind::Incident
    )
}

/// Back to the ticket after a form's action, or the refusal's words on a page.
async fn form_outcome(staff: &Staff, id: i64, outcome: Response) -> Response {
    if outcome.status().is_success() {
        return Redirect::to(&format!("/tickets/{id}")).into_response();
    }
    let status = outcome.status();
    let message = refusal_words(outcome).await;
    problem(Some(staff), status, &message)
}

/// What a refused action's answer says (its JSON `error`).
async fn refusal_words(outcome: Response) -> String {
    let status = outcome.status();
    axum::body::to_bytes(outcome.into_body(), 64 * 1024)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|json| json["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.to_string())
}

/// `/devices/{id}`: inventory, current conditions, health history and tickets.
async fn device_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let device = match state.store.device(&id).await {
        Ok(Some(device)) => device,
        Ok(None) => {
            return problem(
                Some(&staff),
                StatusCode::NOT_FOUND,
                &staff.t("staff-device-missing"),
            );
        }
        Err(e) => return unavailable(&staff, "device page", &e),
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
    let lang = staff.lang;
    let now = now_ms();
    let l = |id: &str| esc(&staff.t(id));
    let inventory = device.inventory.clone().unwrap_or_default();
    let _ = write!(
        body,
        "<h1>{}</h1><div class=\"card\"><dl class=\"kv\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} {}</dd><dt>{}</dt><dd>{} ({})</dd>\
         <dt>{}</dt><dd>{:.1} GB</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>VIP</dt><dd>{}</dd></dl></div>",
        esc(&device.hostname),
        l("staff-col-site"),
        esc(&device.site),
        l("staff-device-os"),
        esc(&inventory.os_name),
        esc(&inventory.os_version),
        l("staff-device-cpu"),
        esc(&inventory.cpu_model),
        esc(&staff.say(
            &firstline_i18n::msg!("staff-device-cores", "count" => inventory.cpu_logical_cores)
        )),
        l("staff-device-memory"),
        inventory.memory_total_bytes as f64 / 1e9,
        l("staff-col-agent"),
        esc(&device.agent_version),
        l("staff-col-last-seen"),
        device
            .last_seen_at_ms
            .map(|at| frame::moment(lang, at, now))
            .unwrap_or_else(|| l("staff-never")),
        l("staff-device-connected"),
        if state.sessions.is_connected(&device.id) {
            l("staff-yes")
        } else {
            l("staff-no")
        },
        if device.vip {
            l("staff-yes")
        } else {
            l("staff-no")
        },
    );
    body.push_str(&users_card(&staff, &inventory));
    body.push_str(&agent_health_card(&staff, device.agent_health.as_ref()));
    body.push_str(&config_card(&state, &staff, &device.id).await);
    if let Some(note) = &device.budget_note {
        let _ = write!(
            body,
            "<h2>{}</h2><p class=\"warning\">{} ({})</p>",
            l("staff-device-over-budget"),
            esc(&staff.say(
                &firstline_i18n::msg!("staff-device-over-budget-note", "note" => note.as_str())
            )),
            device
                .budget_note_at_ms
                .map(|at| frame::moment(lang, at, now))
                .unwrap_or_else(|| "?".to_owned())
        );
    }
    let _ = write!(
        body,
        "<h2>{}</h2><table id=\"conditions\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("staff-device-conditions"),
        l("staff-filter-check"),
        l("staff-device-resource"),
        l("staff-col-state"),
        l("staff-device-since"),
        l("staff-device-summary"),
    );
    for condition in &conditions {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            esc(&condition.check),
            esc(&condition.resource),
            condition.state.as_str(),
            condition.severity.as_str(),
            frame::moment(lang, condition.since_ms, now),
            esc(&condition.summary)
        );
    }
    let _ = write!(body, "</table><h2>{}</h2>", l("staff-device-history"));
    let mut per_check: HashMap<String, f64> = HashMap::new();
    for finding in &findings {
        if finding.finding.severity >= crate::model::Severity::Warning {
            *per_check.entry(finding.finding.check.clone()).or_default() += 1.0;
        }
    }
    let mut rows: Vec<(String, f64)> = per_check.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    body.push_str(&bars(
        staff.lang,
        &staff.t("staff-device-history-chart"),
        &rows,
        "",
    ));
    let _ = write!(
        body,
        "<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("staff-ticket-when"),
        l("staff-device-severity"),
        l("staff-device-finding"),
    );
    for finding in findings.iter().rev().take(20) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            frame::moment(lang, finding.received_at_ms, now),
            finding.finding.severity.as_str(),
            esc(&finding.finding.summary)
        );
    }
    let _ = write!(
        body,
        "</table><h2 id=\"tickets\">{}</h2><table><tr><th>#</th><th>{}</th><th>{}</th></tr>",
        l("staff-device-tickets"),
        l("staff-col-what"),
        l("staff-col-state"),
    );
    for ticket in &tickets {
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"/tickets/{}\">{}</a></td><td>{}</td></tr>",
            ticket.id,
            ticket.id,
            esc(&queue::ticket_title(&staff, ticket)),
            l(&format!("staff-state-{}", ticket.state.as_str()))
        );
    }
    body.push_str("</table>");
    signed_page(&staff, &device.hostname, &body, None)
}

/// The agent's own health from its heartbeats: how long its checks take, its memory and the
/// findings it still holds. Numbers only (nothing an agent typed), so nothing to escape.
/// Who uses the device: its sessions (kind, line, login time) and the last login.
fn users_card(staff: &Staff, inventory: &crate::model::Inventory) -> String {
    let l = |id: &str| esc(&staff.t(id));
    let mut card = format!("<h2>{}</h2>", l("staff-device-users"));
    if inventory.users.is_empty() {
        let _ = write!(
            card,
            "<p class=\"muted\" id=\"users\">{}</p>",
            l("staff-device-no-session")
        );
    } else {
        let _ = write!(
            card,
            "<table id=\"users\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            l("staff-device-account"),
            l("staff-device-session"),
            l("staff-device-where"),
            l("staff-device-since"),
        );
        for user in &inventory.users {
            let place = if user.remote_host.is_empty() {
                esc(&user.line)
            } else {
                esc(&staff.say(&firstline_i18n::msg!("staff-device-from", "line" => user.line.as_str(), "host" => user.remote_host.as_str())))
            };
            let _ = write!(
                card,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&user.account),
                user.kind.as_str(),
                place,
                if user.login_at_ms > 0 {
                    frame::moment(staff.lang, user.login_at_ms, now_ms())
                } else {
                    "—".to_owned()
                },
            );
        }
        card.push_str("</table>");
    }
    let _ = write!(
        card,
        "<p>{}: <span id=\"last-user\">{}</span></p>",
        l("staff-device-last-login"),
        if inventory.last_user.is_empty() {
            "—".to_owned()
        } else {
            esc(&inventory.last_user)
        }
    );
    card
}

fn agent_health_card(staff: &Staff, health: Option<&crate::model::AgentHealth>) -> String {
    let l = |id: &str| esc(&staff.t(id));
    let Some(health) = health else {
        return format!(
            "<h2>{}</h2><p class=\"muted\">{}</p>",
            l("staff-agent-health"),
            l("staff-agent-health-none")
        );
    };
    let unknown = || l("staff-unknown");
    format!(
        "<h2>{}</h2><div class=\"card\"><dl class=\"kv\"><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl></div>",
        l("staff-agent-health"),
        l("staff-agent-check-cycle"),
        health
            .check_cycle_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(unknown),
        l("staff-agent-memory"),
        health
            .resident_memory_bytes
            .map(|bytes| format!("{:.1} MB", bytes as f64 / 1e6))
            .unwrap_or_else(unknown),
        l("staff-agent-outbox"),
        health
            .outbox_depth
            .map(|depth| esc(
                &staff.say(&firstline_i18n::msg!("staff-agent-outbox-depth", "count" => depth))
            ))
            .unwrap_or_else(unknown),
        l("staff-agent-reported"),
        frame::moment(staff.lang, health.reported_at_ms, now_ms()),
    )
}

/// `/stats`: the supervisors' view.
async fn stats_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let staff = match signed_in(&state, &headers).await {
        Ok(staff) => staff,
        Err(redirect) => return redirect,
    };
    let caller = &staff.caller;
    let lang = staff.lang;
    let l = |id: &str| esc(&staff.t(id));
    if caller.role < Role::Supervisor {
        return problem(
            Some(&staff),
            StatusCode::FORBIDDEN,
            &staff.t("staff-stats-supervisors-only"),
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
        Err(e) => return unavailable(&staff, "stats page", &e),
    };
    let percent = |share: Option<f64>| {
        share
            .map(|s| format!("{:.0}%", s * 100.0))
            .unwrap_or_else(|| "—".to_owned())
    };
    let heading = staff.say(&firstline_i18n::msg!("staff-stats-heading", "days" => days));
    let mut body = format!(
        "<h1>{}</h1><p class=\"muted\">{}: {}</p><div class=\"card\"><dl class=\"kv\" id=\"ticket-stats\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl></div>",
        esc(&heading),
        l("staff-stats-period"),
        [7, 30, 90, 365]
            .iter()
            .map(|d| {
                let label = staff.say(&firstline_i18n::msg!("staff-stats-heading", "days" => *d));
                if *d == days {
                    format!("<strong>{d}</strong>")
                } else {
                    format!(
                        "<a href=\"/stats?days={d}\" title=\"{}\">{d}</a>",
                        esc(&label)
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(" · "),
        l("staff-stats-opened"),
        stats.tickets_opened,
        l("staff-stats-findings"),
        stats.findings_received,
        l("staff-stats-compression"),
        stats
            .noise_compression
            .map(|n| esc(&staff.say(
                &firstline_i18n::msg!("staff-stats-compression-value", "ratio" => format!("{n:.1}"))
            )))
            .unwrap_or_else(|| "—".to_owned()),
        l("staff-stats-resolved"),
        stats.resolved,
        l("staff-stats-auto-resolved"),
        percent(stats.auto_resolved_share),
    );
    body.push_str(&people_stats::people_card(&stats.people, lang));
    body.push_str(&people_stats::fixes_card(&stats.fixes, lang));
    let to_rows = |map: &std::collections::BTreeMap<String, u64>| -> Vec<(String, f64)> {
        let mut rows: Vec<(String, f64)> =
            map.iter().map(|(k, v)| (k.clone(), *v as f64)).collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        rows.truncate(15);
        rows
    };
    body.push_str(&bars(
        lang,
        &staff.t("staff-stats-per-category"),
        &to_rows(&stats.by_category),
        "",
    ));
    body.push_str(&bars(
        lang,
        &staff.t("staff-stats-per-site"),
        &to_rows(&stats.by_site),
        "",
    ));
    body.push_str(&bars(
        lang,
        &staff.t("staff-stats-per-technician"),
        &to_rows(&stats.by_technician),
        "",
    ));
    let ageing: Vec<(String, f64)> = ["under_1h", "under_1d", "under_1w", "older"]
        .iter()
        .map(|bucket| {
            let count = stats.backlog_ageing.get(*bucket).copied().unwrap_or(0);
            (staff.t(&format!("staff-stats-age-{bucket}")), count as f64)
        })
        .collect();
    body.push_str(&bars(lang, &staff.t("staff-stats-by-age"), &ageing, ""));
    let _ = write!(
        body,
        "<h2>{}</h2><table id=\"times\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l("staff-stats-times"),
        l("staff-col-priority"),
        l("staff-stats-col-opened"),
        l("staff-stats-mtta-median"),
        l("staff-stats-mtta-p90"),
        l("staff-stats-mttr-median"),
        l("staff-stats-mttr-p90"),
        l("staff-stats-response-met"),
        l("staff-stats-resolution-met"),
    );
    let time = |secs: Option<f64>| {
        secs.map(|secs| esc(&staff.say(&frame::span_message("staff-span", (secs * 1000.0) as i64))))
            .unwrap_or_else(|| "—".to_owned())
    };
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
    let _ = write!(
        body,
        "</table><h2>{}</h2><table id=\"recurring\"><tr><th>{}</th><th>{}</th><th></th></tr>",
        l("staff-stats-recurring"),
        l("staff-stats-fingerprint"),
        l("staff-stats-tickets"),
    );
    for recurring in &stats.top_recurring {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&recurring.fingerprint),
            recurring.tickets,
            if recurring.problem_candidate {
                l("staff-stats-problem-candidate")
            } else {
                String::new()
            }
        );
    }
    body.push_str("</table>");
    signed_page(&staff, &heading, &body, Some(60))
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
