//! The help page: what the person with the problem reads, in their language, reached from
//! "Get IT help" on their own computer without a password.
//!
//! The agent asks for a link over its mTLS stream for the OS account that clicked; the link
//! (`/help/link/{token}`) works once, for five minutes, and becomes a session cookie scoped to
//! `/help` that sees that device and that account only. Every request must name our own host
//! (`public_url`: a page served to another name, as DNS rebinding would, is refused), and every
//! change must come from our own origin and carry the session's CSRF token.

use std::fmt::Write;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use firstline_i18n::{Lang, Message, msg, tr};
use serde::Deserialize;

use super::html::{esc, when};
use crate::http::HttpState;
use crate::model::now_ms;
use crate::store::help::{HelpSession, MAX_WORDS_BYTES, RequesterTicket, SESSION_TTL_MS};
use crate::store::reproduce::ReproduceError;
use crate::tickets::engine::StaffAction;

pub const HELP_COOKIE: &str = "firstline_help";
/// The longest answer a requester may type.
const MAX_ANSWER_BYTES: usize = 2000;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/help", get(home))
        .route("/help/link/{token}", get(redeem))
        .route("/help/report", post(report))
        .route("/help/reports/{id}", get(report_page))
        .route("/help/tickets/{id}/answer", post(answer))
        .route("/help/tickets/{id}/fix", post(start_fix))
}

/// A refusal or a page, already in the reader's language.
type Page = Result<Response, Response>;

/// The host part of our public URL (`host[:port]`), lowercased.
fn our_authority(state: &HttpState) -> String {
    state
        .public_url
        .split_once("://")
        .map_or("", |(_, authority)| authority)
        .to_ascii_lowercase()
}

/// Requests must name our host: a browser tricked into sending ours to another name (DNS
/// rebinding) or a proxy forwarding someone else's is refused.
// The refusal is the page itself, made once per request: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn check_host(state: &HttpState, headers: &HeaderMap, lang: Lang) -> Result<(), Response> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if host == our_authority(state) {
        return Ok(());
    }
    tracing::warn!(host = %host, expected = %our_authority(state), "help page asked for under another host name; refused");
    Err(message_page(
        StatusCode::MISDIRECTED_REQUEST,
        lang,
        &tr(lang, "help-page-refused"),
        None,
    ))
}

/// A change must come from our own pages: `Origin` (or, without it, `Sec-Fetch-Site`) says
/// where the form was, and another site's form is refused before its token is even looked at.
// The refusal is the page itself, made once per request: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn check_origin(state: &HttpState, headers: &HeaderMap, lang: Lang) -> Result<(), Response> {
    let refuse = |why: &str| {
        tracing::warn!(reason = why, "help page change from another site; refused");
        Err(message_page(
            StatusCode::FORBIDDEN,
            lang,
            &tr(lang, "help-page-refused"),
            None,
        ))
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        if origin != state.public_url.to_ascii_lowercase() {
            return refuse("the Origin is not ours");
        }
        return Ok(());
    }
    match headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        None | Some("same-origin") | Some("none") => Ok(()),
        Some(_) => refuse("Sec-Fetch-Site is not same-origin"),
    }
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == HELP_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The reader's language: the one chosen on the page or the OS's (from "Get IT help"), else
/// the browser's, else the directory's, else English.
async fn language(state: &HttpState, headers: &HeaderMap, session: Option<&HelpSession>) -> Lang {
    if let Some(lang) = session.and_then(|s| s.lang) {
        return lang;
    }
    if let Some(lang) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(Lang::from_accept_language)
    {
        return lang;
    }
    if let Some(session) = session
        && let Ok(people) = state
            .store
            .people_named(std::slice::from_ref(&session.account))
            .await
        && let Some(lang) = people
            .values()
            .next()
            .and_then(|person| person.language.as_deref())
            .and_then(Lang::parse)
    {
        return lang;
    }
    Lang::En
}

/// The session of this request, its cookie's token, and the reader's language; or the page
/// that says why not.
async fn signed_in(
    state: &HttpState,
    headers: &HeaderMap,
) -> Result<(HelpSession, String, Lang), Response> {
    let browser = language(state, headers, None).await;
    check_host(state, headers, browser)?;
    let over = || {
        message_page(
            StatusCode::UNAUTHORIZED,
            browser,
            &tr(browser, "help-session-over"),
            None,
        )
    };
    let Some(token) = cookie(headers) else {
        return Err(over());
    };
    match state.store.help_session(&token, now_ms()).await {
        Ok(Some(session)) => {
            let lang = language(state, headers, Some(&session)).await;
            Ok((session, token, lang))
        }
        Ok(None) => Err(over()),
        Err(e) => Err(unavailable(browser, &e)),
    }
}

fn unavailable(lang: Lang, error: &crate::store::StoreError) -> Response {
    tracing::error!(error = %error, "help page: the store is unavailable");
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        &tr(lang, "help-report-offline"),
        None,
    )
}

/// The page frame: the language menu, the title, `body`; refreshed every `refresh` seconds.
fn frame(lang: Lang, title: &str, body: &str, refresh: Option<u32>, menu: bool) -> String {
    let mut html = String::with_capacity(body.len() + 2048);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><link rel=\"stylesheet\" href=\"/static/firstline.css\">",
        lang.code(),
        esc(title)
    );
    if let Some(seconds) = refresh {
        let _ = write!(html, "<meta http-equiv=\"refresh\" content=\"{seconds}\">");
    }
    let _ = write!(
        html,
        "</head><body class=\"help\"><header><strong>{}</strong>",
        esc(&tr(lang, "help-page-title"))
    );
    if menu {
        let _ = write!(
            html,
            "<nav class=\"languages\" aria-label=\"{}\">",
            esc(&tr(lang, "help-language"))
        );
        for other in Lang::ALL {
            if other == lang {
                let _ = write!(
                    html,
                    "<span lang=\"{0}\">{1}</span>",
                    other.code(),
                    esc(other.native_name())
                );
            } else {
                let _ = write!(
                    html,
                    "<a lang=\"{0}\" href=\"/help?lang={0}\">{1}</a>",
                    other.code(),
                    esc(other.native_name())
                );
            }
        }
        html.push_str("</nav>");
    }
    let _ = write!(html, "</header><main>{body}</main></body></html>");
    html
}

fn respond(status: StatusCode, body: String) -> Response {
    let mut response = super::html_response(status, body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // With no referrer at all, browsers send `Origin: null` on our own forms, which the
    // origin check refuses; same-origin still tells other sites nothing.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn message_page(status: StatusCode, lang: Lang, text: &str, title: Option<&str>) -> Response {
    let title = title.map_or_else(|| tr(lang, "help-page-title"), str::to_owned);
    let body = format!(
        "<h1>{}</h1><p class=\"card\" id=\"message\">{}</p>",
        esc(&title),
        esc(text)
    );
    respond(status, frame(lang, &title, &body, None, false))
}

/// `GET /help/link/{token}`: spends the link and signs the browser in to the help page.
async fn redeem(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let lang = language(&state, &headers, None).await;
    if let Err(refused) = check_host(&state, &headers, lang) {
        return refused;
    }
    let invalid = || {
        message_page(
            StatusCode::GONE,
            lang,
            &tr(lang, "help-link-invalid"),
            Some(&tr(lang, "help-link-invalid-title")),
        )
    };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return invalid();
    }
    // The agent opens its link in the browser itself (`Sec-Fetch-Site: none`). One that
    // another site navigates to would sign this browser in as whoever asked for it (a
    // colleague's session, where the user's next report would go), so it is refused unspent.
    if let Some(site @ ("cross-site" | "same-site")) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        tracing::warn!(site, "a help link opened from another site; refused");
        return message_page(
            StatusCode::FORBIDDEN,
            lang,
            &tr(lang, "help-page-refused"),
            None,
        );
    }
    match state.store.redeem_help_link(&token, now_ms()).await {
        Ok(Some((session_token, session))) => {
            tracing::info!(device = %session.device_id, account = %session.account, "help link opened");
            let secure = if state.public_url.starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{HELP_COOKIE}={session_token}; Path=/help; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                SESSION_TTL_MS / 1000
            );
            let mut response = Redirect::to("/help").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(None) => {
            tracing::info!("a help link was used again, expired or unknown; refused");
            invalid()
        }
        Err(e) => unavailable(lang, &e),
    }
}

#[derive(Debug, Deserialize)]
struct HomeQuery {
    lang: Option<String>,
    answered: Option<String>,
}

/// Which area of the computer a check is about, for people.
pub(crate) fn area(check: &str) -> &'static str {
    let family = check.split('.').next().unwrap_or_default();
    match family {
        "disk" | "smart" | "storage" => "storage",
        "network" | "dns" | "https" | "tcp" | "ping" | "gateway" | "wifi" | "vpn" => "network",
        "memory" | "swap" => "memory",
        "battery" => "battery",
        "reboot" | "updates" | "update" => "updates",
        "cpu" | "thermal" | "load" => "performance",
        "printer" | "printing" | "print" => "printing",
        "clock" | "time" => "clock",
        "crash" | "log" | "app" => "applications",
        "services" | "service" => "services",
        "security" | "firewall" | "antivirus" => "security",
        _ => "other",
    }
}

/// The areas always shown, green unless something is wrong.
const AREAS: [&str; 6] = [
    "storage",
    "network",
    "memory",
    "performance",
    "updates",
    "applications",
];

async fn home(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(query): Query<HomeQuery>,
) -> Response {
    let (session, token, mut lang) = match signed_in(&state, &headers).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    if let Some(chosen) = query.lang.as_deref().and_then(Lang::parse) {
        if let Err(e) = state.store.set_help_language(&token, chosen).await {
            return unavailable(chosen, &e);
        }
        lang = chosen;
    }
    match home_page(&state, &session, lang, query.answered.as_deref()).await {
        Ok(response) | Err(response) => response,
    }
}

async fn home_page(
    state: &HttpState,
    session: &HelpSession,
    lang: Lang,
    answered: Option<&str>,
) -> Page {
    let store = &state.store;
    let device = store
        .device(&session.device_id)
        .await
        .map_err(|e| unavailable(lang, &e))?;
    let hostname = device
        .as_ref()
        .map_or_else(|| session.device_id.clone(), |d| d.hostname.clone());
    let person = store
        .people_named(std::slice::from_ref(&session.account))
        .await
        .ok()
        .and_then(|people| people.values().next().map(|p| p.display_name.clone()))
        .map_or_else(
            || session.account.clone(),
            |name| format!("{name} ({})", session.account),
        );
    let conditions = store
        .open_conditions(&session.device_id)
        .await
        .map_err(|e| unavailable(lang, &e))?;
    let outages = store
        .device_outages(&session.device_id)
        .await
        .map_err(|e| unavailable(lang, &e))?;
    let tickets = store
        .requester_tickets(session, 20)
        .await
        .map_err(|e| unavailable(lang, &e))?;

    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"muted\">{}</p>",
        esc(&msg!("help-for-device", "device" => hostname.as_str()).text(lang)),
        esc(&msg!("help-signed-in-as", "person" => person.as_str()).text(lang))
    );
    match answered {
        Some("fixed") => {
            let _ = write!(
                body,
                "<p class=\"card ok\" id=\"answered\">{}</p>",
                esc(&tr(lang, "help-answer-thanks-fixed"))
            );
        }
        Some("broken") => {
            let _ = write!(
                body,
                "<p class=\"card\" id=\"answered\">{}</p>",
                esc(&tr(lang, "help-answer-thanks-broken"))
            );
        }
        Some("fix-started") => {
            let _ = write!(
                body,
                "<p class=\"card ok\" id=\"answered\">{}</p>",
                esc(&tr(lang, "help-fix-started"))
            );
        }
        _ => {}
    }

    // Known outages first: they answer the question before it is asked.
    if !outages.is_empty() {
        let _ = write!(
            body,
            "<section id=\"outages\"><h2>{}</h2>",
            esc(&tr(lang, "help-outages-heading"))
        );
        for outage in &outages {
            // The same words as the outage's desktop notice.
            let (_, text) = crate::store::help::outage_words(
                true,
                &outage.check,
                &outage.resource,
                outage.scope.as_deref(),
                outage.device_count,
                lang,
            );
            let _ = write!(body, "<p class=\"card outage\">{}</p>", esc(&text));
        }
        body.push_str("</section>");
    }

    // Health: one line per area.
    let _ = write!(
        body,
        "<section id=\"health\"><h2>{}</h2><ul class=\"health\">",
        esc(&tr(lang, "help-health-heading"))
    );
    // The usual areas in a fixed order, then any other area something is wrong with.
    let mut worst: Vec<(&'static str, u8)> = AREAS.iter().map(|a| (*a, 0)).collect();
    for condition in &conditions {
        // The agent's own health and the person's reports are not the computer's; a stale
        // condition is one the device has not confirmed since it went quiet.
        if condition.check.starts_with("agent.")
            || condition.check == crate::tickets::USER_REPORT
            || condition.state == crate::tickets::ConditionState::Stale
        {
            continue;
        }
        let level = match condition.severity {
            crate::model::Severity::Critical => 2,
            crate::model::Severity::Warning => 1,
            _ => 0,
        };
        let name = area(&condition.check);
        match worst.iter_mut().find(|(known, _)| *known == name) {
            Some((_, worst)) => *worst = (*worst).max(level),
            None => worst.push((name, level)),
        }
    }
    for (name, level) in &worst {
        let (class, state_id) = match level {
            2 => ("red", "help-state-red"),
            1 => ("amber", "help-state-amber"),
            _ => ("green", "help-state-green"),
        };
        let _ = write!(
            body,
            "<li class=\"{class}\" data-area=\"{name}\"><span class=\"dot\" aria-hidden=\"true\"></span><strong>{}</strong> <span class=\"state\">{}</span>",
            esc(&tr(lang, &area_message(name))),
            esc(&tr(lang, state_id))
        );
        if *level > 0 {
            let _ = write!(
                body,
                "<br><span class=\"reason\">{} {}</span>",
                esc(&tr(lang, &format!("help-reason-{name}"))),
                esc(&tr(lang, "help-it-knows"))
            );
        }
        body.push_str("</li>");
    }
    body.push_str("</ul></section>");

    // The report box.
    let _ = write!(
        body,
        "<section id=\"report\"><h2>{}</h2><form method=\"post\" action=\"/help/report\" class=\"card\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <textarea name=\"words\" id=\"words\" rows=\"4\" maxlength=\"{MAX_WORDS_BYTES}\" required aria-describedby=\"words-hint\"></textarea>\
         <p class=\"muted\" id=\"words-hint\">{}</p><button type=\"submit\" id=\"send\">{}</button></form></section>",
        esc(&tr(lang, "help-report-heading")),
        esc(&session.csrf_token),
        esc(&tr(lang, "help-report-hint")),
        esc(&tr(lang, "help-report-send"))
    );

    // Their requests.
    let _ = write!(
        body,
        "<section id=\"requests\"><h2>{}</h2>",
        esc(&tr(lang, "help-requests-heading"))
    );
    if tickets.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">{}</p>",
            esc(&tr(lang, "help-requests-none"))
        );
    }
    for ticket in &tickets {
        let offer = user_fix_offer(store, ticket).await;
        request_card(&mut body, ticket, session, lang, offer.as_ref());
    }
    body.push_str("</section>");
    Ok(respond(
        StatusCode::OK,
        frame(lang, &tr(lang, "help-page-title"), &body, None, true),
    ))
}

fn area_message(area: &str) -> String {
    format!("help-area-{area}")
}

/// A fix the user may start on their own open request (its policy is ask-user), or one
/// running now.
struct UserFixOffer {
    fix: String,
    running: bool,
}

async fn user_fix_offer(
    store: &crate::store::Store,
    ticket: &RequesterTicket,
) -> Option<UserFixOffer> {
    if !crate::tickets::TicketState::parse(&ticket.state).is_some_and(|s| s.is_open()) {
        return None;
    }
    let fixes = store
        .ticket_fixes(ticket.id)
        .await
        .inspect_err(
            |e| tracing::warn!(ticket = ticket.id, error = %e, "help page: the ticket's fixes"),
        )
        .ok()?;
    fixes
        .offers
        .iter()
        // Once per request: a fix that ran and did not help is not offered again.
        .find(|offer| {
            offer.running
                || (offer.mode == crate::fixes::Mode::AskUser
                    && !fixes
                        .rollouts
                        .iter()
                        .any(|rollout| rollout.fix == offer.fix))
        })
        .map(|offer| UserFixOffer {
            fix: offer.fix.clone(),
            running: offer.running,
        })
}

fn request_card(
    body: &mut String,
    ticket: &RequesterTicket,
    session: &HelpSession,
    lang: Lang,
    fix: Option<&UserFixOffer>,
) {
    let status = tr(lang, &format!("help-status-{}", ticket.state));
    let _ = write!(
        body,
        "<article class=\"card request\" id=\"ticket-{id}\"><h3>{}</h3><p><span class=\"badge status\">{}</span> <span class=\"muted\">{}</span></p>",
        esc(
            &msg!("help-request-line", "ticket" => ticket.id, "title" => ticket.title.as_str())
                .text(lang)
        ),
        esc(&status),
        esc(&msg!("help-opened", "when" => when(ticket.opened_at_ms)).text(lang)),
        id = ticket.id
    );
    for entry in &ticket.public_entries {
        let heading = if entry.kind == "reply" {
            tr(lang, "help-reply-from")
        } else {
            tr(lang, "help-your-answer")
        };
        let text = match entry.fixed {
            Some(fixed) => {
                let chose = tr(
                    lang,
                    if fixed {
                        "help-fixed-yes"
                    } else {
                        "help-fixed-no"
                    },
                );
                if entry.text.is_empty() {
                    chose
                } else {
                    format!("{chose}: {}", entry.text)
                }
            }
            None => entry.text.clone(),
        };
        let _ = write!(
            body,
            "<div class=\"entry {kind}\"><p class=\"muted\">{} · {}</p><p>{}</p></div>",
            esc(&heading),
            esc(&when(entry.at_ms)),
            esc(&text),
            kind = if entry.kind == "reply" {
                "reply"
            } else {
                "answer"
            }
        );
    }
    match fix {
        Some(UserFixOffer { running: true, .. }) => {
            let _ = write!(
                body,
                "<p class=\"card\" id=\"fix-{id}\">{}</p>",
                esc(&tr(lang, "help-fix-running")),
                id = ticket.id
            );
        }
        Some(UserFixOffer {
            fix,
            running: false,
        }) => {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/help/tickets/{id}/fix\" class=\"card\" id=\"fix-{id}\">\
                 <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><input type=\"hidden\" name=\"fix\" value=\"{fix_name}\">\
                 <p><strong>{offer}</strong> {what}</p><button type=\"submit\">{button}</button></form>",
                id = ticket.id,
                csrf = esc(&session.csrf_token),
                fix_name = esc(fix),
                offer = esc(&tr(lang, "help-fix-offer")),
                what = esc(&tr(
                    lang,
                    &format!("help-fix-what-{}", fix.replace('.', "-"))
                )),
                button = esc(&tr(lang, "help-fix-button")),
            );
        }
        None => {}
    }
    if ticket.awaiting_answer {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/help/tickets/{id}/answer\" class=\"fixed\" id=\"answer-{id}\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
             <p><strong>{question}</strong></p>\
             <label for=\"words-{id}\">{words_label}</label><textarea name=\"words\" id=\"words-{id}\" rows=\"2\" maxlength=\"{MAX_ANSWER_BYTES}\"></textarea>\
             <fieldset class=\"rating\"><legend>{rating}</legend>",
            id = ticket.id,
            csrf = esc(&session.csrf_token),
            question = esc(&tr(lang, "help-fixed-question")),
            words_label = esc(&tr(lang, "help-fixed-words")),
            rating = esc(&tr(lang, "help-rating-question")),
        );
        for score in 1..=5 {
            let label = match score {
                1 => tr(lang, "help-rating-1"),
                5 => tr(lang, "help-rating-5"),
                n => n.to_string(),
            };
            let _ = write!(
                body,
                "<label><input type=\"radio\" name=\"rating\" value=\"{score}\"> {}</label>",
                esc(&label)
            );
        }
        let _ = write!(
            body,
            "</fieldset><button type=\"submit\" name=\"fixed\" value=\"yes\" class=\"yes\">{}</button> \
             <button type=\"submit\" name=\"fixed\" value=\"no\" class=\"no\">{}</button></form>",
            esc(&tr(lang, "help-fixed-yes")),
            esc(&tr(lang, "help-fixed-no"))
        );
    }
    body.push_str("</article>");
}

#[derive(Debug, Deserialize)]
struct FixForm {
    csrf_token: String,
    fix: String,
}

/// `POST /help/tickets/{id}/fix`: the user agrees to a fix on their own request (its policy
/// is ask-user); it runs on their device with their account as the consent.
async fn start_fix(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<FixForm>,
) -> Response {
    let (session, lang) = match signed_in_change(&state, &headers, &form.csrf_token, "fix").await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    match state.store.is_requester_of(&session, id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return message_page(
                StatusCode::NOT_FOUND,
                lang,
                &tr(lang, "help-not-yours"),
                None,
            );
        }
        Err(e) => return unavailable(lang, &e),
    }
    let started = state
        .store
        .start_fix(
            id,
            form.fix.trim(),
            &crate::store::fixes::StartedBy::User(&session.account),
            Some(&session.device_id),
            &Default::default(),
            now_ms(),
        )
        .await;
    match started {
        Ok(advanced) => {
            for device in &advanced.nudge {
                state.sessions.nudge(device);
            }
            tracing::info!(ticket = id, account = %session.account, fix = %form.fix, "the user started a fix");
            Redirect::to(&format!("/help?answered=fix-started#ticket-{id}")).into_response()
        }
        Err(crate::store::fixes::FixError::Store(e)) => unavailable(lang, &e),
        Err(e) => {
            tracing::info!(ticket = id, account = %session.account, error = %e, "the user's fix refused");
            message_page(
                StatusCode::CONFLICT,
                lang,
                &tr(lang, "help-fix-not-now"),
                None,
            )
        }
    }
}

#[derive(Debug, Deserialize)]
struct ReportForm {
    csrf_token: String,
    words: String,
}

/// A change (`what`, for the log) from a signed-in page: from our own origin, with the
/// session's CSRF token; the session and the reader's language, or the page saying no.
async fn signed_in_change(
    state: &HttpState,
    headers: &HeaderMap,
    csrf_token: &str,
    what: &str,
) -> Result<(HelpSession, Lang), Response> {
    let (session, _, lang) = signed_in(state, headers).await?;
    check_origin(state, headers, lang)?;
    if !crate::auth::csrf_matches(Some(csrf_token), &session.csrf_token) {
        tracing::warn!(device = %session.device_id, what, "help page change without the session's token; refused");
        return Err(message_page(
            StatusCode::FORBIDDEN,
            lang,
            &tr(lang, "help-page-refused"),
            None,
        ));
    }
    Ok((session, lang))
}

/// `POST /help/report`: the words go to the device, which diagnoses them as the user.
async fn report(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Form(form): Form<ReportForm>,
) -> Response {
    let (session, lang) = match signed_in_change(&state, &headers, &form.csrf_token, "report").await
    {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let words = form.words.trim();
    if words.is_empty() {
        return message_page(
            StatusCode::BAD_REQUEST,
            lang,
            &tr(lang, "help-report-empty"),
            None,
        );
    }
    if words.len() > MAX_WORDS_BYTES
        || words
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return message_page(
            StatusCode::BAD_REQUEST,
            lang,
            &msg!("help-report-too-long", "max" => MAX_WORDS_BYTES).text(lang),
            None,
        );
    }
    match state
        .store
        .request_help_report(&session, words, lang, now_ms())
        .await
    {
        Ok(request) => {
            tracing::info!(device = %session.device_id, account = %session.account, request = %request.id, "report from the help page queued");
            state.sessions.nudge(&session.device_id);
            Redirect::to(&format!("/help/reports/{}", request.id)).into_response()
        }
        Err(ReproduceError::TooMany { .. }) => message_page(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            &tr(lang, "help-report-busy"),
            None,
        ),
        Err(ReproduceError::Store(e)) => unavailable(lang, &e),
        Err(e) => {
            tracing::error!(error = %e, "help report refused");
            message_page(
                StatusCode::BAD_REQUEST,
                lang,
                &tr(lang, "help-page-refused"),
                None,
            )
        }
    }
}

/// `GET /help/reports/{id}`: "checking…" until the device answers, then the diagnosis in
/// words, what to do now, and the request number.
async fn report_page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (session, _, lang) = match signed_in(&state, &headers).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let request = match state.store.help_report(&session, &id).await {
        Ok(Some(request)) => request,
        Ok(None) => {
            return message_page(
                StatusCode::NOT_FOUND,
                lang,
                &tr(lang, "help-not-yours"),
                None,
            );
        }
        Err(e) => return unavailable(lang, &e),
    };
    let back = format!(
        "<p><a href=\"/help\">{}</a></p>",
        esc(&tr(lang, "help-requests-heading"))
    );
    let mut body = String::new();
    let mut refresh = None;
    match request.state.as_str() {
        "queued" | "sent" => {
            let online = state.sessions.is_connected(&session.device_id);
            if online {
                let _ = write!(
                    body,
                    "<h1 id=\"checking\">{}</h1><p class=\"muted\">{}</p>",
                    esc(&tr(lang, "help-checking")),
                    esc(&tr(lang, "help-checking-detail"))
                );
            } else {
                let _ = write!(
                    body,
                    "<h1>{}</h1><p class=\"card\">{}</p>",
                    esc(&tr(lang, "help-checking")),
                    esc(&tr(lang, "help-report-offline"))
                );
            }
            refresh = Some(2);
        }
        "done" => {
            let result = request.result.clone().unwrap_or_default();
            let said = messages(&result, "said");
            let advice = messages(&result, "advice");
            let _ = write!(
                body,
                "<h1>{}</h1><section id=\"diagnosis\">",
                esc(&tr(lang, "help-result-heading"))
            );
            if said.is_empty() {
                // An agent older than its words: its conclusions, in English.
                for line in result
                    .get("summary")
                    .and_then(|s| s.as_array())
                    .into_iter()
                    .flatten()
                {
                    if let Some(line) = line.as_str() {
                        let _ = write!(body, "<p class=\"said\">{}</p>", esc(line));
                    }
                }
            }
            for message in &said {
                let _ = write!(body, "<p class=\"said\">{}</p>", esc(&message.text(lang)));
            }
            if let Some(note) = result
                .get("note_said")
                .and_then(|n| serde_json::from_value::<Message>(n.clone()).ok())
            {
                let _ = write!(body, "<p class=\"card note\">{}</p>", esc(&note.text(lang)));
            }
            body.push_str("</section>");
            if !advice.is_empty() {
                let _ = write!(
                    body,
                    "<section id=\"advice\"><h2>{}</h2><ul>",
                    esc(&tr(lang, "help-advice-heading"))
                );
                for message in &advice {
                    let _ = write!(body, "<li>{}</li>", esc(&message.text(lang)));
                }
                body.push_str("</ul></section>");
            }
            let report_id = result
                .get("report_id")
                .and_then(|r| r.as_str())
                .unwrap_or_default();
            let queued = result
                .get("queued")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            if queued && !report_id.is_empty() {
                match state.store.ticket_of_report(&session, report_id).await {
                    Ok(Some((ticket, is_incident))) => {
                        if is_incident {
                            let _ = write!(
                                body,
                                "<p class=\"card outage\" id=\"known-outage\">{}</p>",
                                esc(&tr(lang, "help-known-outage"))
                            );
                        }
                        let _ = write!(
                            body,
                            "<p class=\"card ticket\" id=\"ticket-number\" data-ticket=\"{ticket}\">{}</p>",
                            esc(&msg!("help-ticket-number", "ticket" => ticket).text(lang))
                        );
                    }
                    Ok(None) => {
                        let _ = write!(
                            body,
                            "<p class=\"card\" id=\"ticket-waiting\">{}</p>",
                            esc(&tr(lang, "help-ticket-waiting"))
                        );
                        refresh = Some(3);
                    }
                    Err(e) => return unavailable(lang, &e),
                }
            }
        }
        "expired" => {
            let _ = write!(
                body,
                "<p class=\"card\">{}</p>",
                esc(&tr(lang, "help-result-expired"))
            );
        }
        _ => {
            let why = request.error.clone().unwrap_or_default();
            let _ = write!(
                body,
                "<p class=\"card\">{}</p>",
                esc(&msg!("help-result-failed", "why" => why).text(lang))
            );
        }
    }
    body.push_str(&back);
    respond(
        StatusCode::OK,
        frame(
            lang,
            &tr(lang, "help-result-heading"),
            &body,
            refresh,
            false,
        ),
    )
}

/// The messages under `key` in an agent's answer; what does not read as one is left out.
fn messages(result: &serde_json::Value, key: &str) -> Vec<Message> {
    result
        .get(key)
        .and_then(|value| value.as_array())
        .into_iter()
        .flatten()
        .filter_map(|value| serde_json::from_value::<Message>(value.clone()).ok())
        .filter(|message| firstline_i18n::exists(&message.id))
        .take(20)
        .collect()
}

#[derive(Debug, Deserialize)]
struct AnswerForm {
    csrf_token: String,
    fixed: String,
    #[serde(default)]
    words: String,
    #[serde(default)]
    rating: Option<String>,
}

/// `POST /help/tickets/{id}/answer`: "yes, fixed" closes it; "no" reopens it with the words.
async fn answer(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<AnswerForm>,
) -> Response {
    let (session, lang) = match signed_in_change(&state, &headers, &form.csrf_token, "answer").await
    {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    // Only an answer to "is it fixed?" counts in the stats: one posted to a ticket that is
    // not asking (still open, or answered already) is a note on it at most.
    let asked = match state.store.is_requester_of(&session, id).await {
        Ok(Some(asked)) => asked,
        Ok(None) => {
            return message_page(
                StatusCode::NOT_FOUND,
                lang,
                &tr(lang, "help-not-yours"),
                None,
            );
        }
        Err(e) => return unavailable(lang, &e),
    };
    let fixed = match form.fixed.as_str() {
        "yes" => true,
        "no" => false,
        _ => {
            return message_page(
                StatusCode::BAD_REQUEST,
                lang,
                &tr(lang, "help-page-refused"),
                None,
            );
        }
    };
    let rating = match form.rating.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match text.parse::<u8>() {
            Ok(score @ 1..=5) => Some(score),
            _ => {
                return message_page(
                    StatusCode::BAD_REQUEST,
                    lang,
                    &tr(lang, "help-page-refused"),
                    None,
                );
            }
        },
    };
    let words: String = form
        .words
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    if words.len() > MAX_ANSWER_BYTES {
        return message_page(
            StatusCode::BAD_REQUEST,
            lang,
            &msg!("help-report-too-long", "max" => MAX_ANSWER_BYTES).text(lang),
            None,
        );
    }
    let actor = format!("{} (requester)", session.account);
    let now = now_ms();
    let action = StaffAction::RequesterAnswer {
        fixed,
        words: words.clone(),
    };
    match state.store.staff_action(id, &actor, &action, now).await {
        Ok(()) => {}
        Err(crate::store::tickets::StaffError::Store(e)) => return unavailable(lang, &e),
        Err(crate::store::tickets::StaffError::Refused(refusal)) => {
            tracing::info!(ticket = id, %refusal, "requester's answer refused");
            return message_page(
                StatusCode::CONFLICT,
                lang,
                &tr(lang, "help-page-refused"),
                None,
            );
        }
    }
    if asked
        && let Err(e) = state
            .store
            .record_feedback(id, &session.account, fixed, rating, &words, now)
            .await
    {
        tracing::error!(ticket = id, error = %e, "the requester's answer was applied but its rating was not stored");
    }
    tracing::info!(ticket = id, account = %session.account, fixed, ?rating, "requester answered");
    let answered = if fixed { "fixed" } else { "broken" };
    Redirect::to(&format!("/help?answered={answered}#ticket-{id}")).into_response()
}
