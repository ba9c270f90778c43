//! Fixes over REST: a technician applies a fix to a ticket (and reads its rollouts and runs);
//! an admin reads and sets each fix's mode per site.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{ApiError, Caller, HttpState, error, store_unavailable};
use crate::fixes::{self, Mode, ModeSource, Parameters, PolicyOverride};
use crate::store::fixes::{FixError, StartedBy};

/// A fix to apply to the ticket.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplyFix {
    /// A fix's name (`GET /api/v1/fixes` lists them).
    pub(crate) fix: String,
    /// Only this device of the ticket (default: every device whose fault the fix answers;
    /// an incident's run on a few canaries first).
    #[serde(default)]
    pub(crate) device: Option<String>,
    /// What the fix lets a technician set (disk.cleanup: older_than_days, journal_max_mb;
    /// print.restart: stuck_minutes); the rest come from the ticket's fault.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) parameters: Parameters,
}

/// Applies a fix for `caller` (shared by the REST API and the web UI): the ticket's fixes
/// after it, or the refusal with nothing sent.
pub(crate) async fn apply(
    state: &HttpState,
    caller: &Caller,
    ticket_id: i64,
    request: ApplyFix,
) -> Response {
    let outcome = state
        .store
        .start_fix(
            ticket_id,
            request.fix.trim(),
            &StartedBy::Technician(&caller.name),
            request.device.as_deref(),
            &request.parameters,
            crate::model::now_ms(),
        )
        .await;
    match outcome {
        Ok(advanced) => {
            for device in &advanced.nudge {
                state.sessions.nudge(device);
            }
            match state.store.ticket_fixes(ticket_id).await {
                Ok(fixes) => (StatusCode::ACCEPTED, Json(fixes)).into_response(),
                Err(e) => store_unavailable("reading a ticket's fixes", &e),
            }
        }
        Err(FixError::NoTicket) => error(
            StatusCode::NOT_FOUND,
            format!("no ticket with id {ticket_id}"),
        ),
        Err(
            e @ (FixError::UnknownFix(_)
            | FixError::NotForThisTicket { .. }
            | FixError::NotOnTicket { .. }
            | FixError::BadParameter(_)),
        ) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e @ (FixError::Off { .. } | FixError::NeedsUser { .. })) => {
            error(StatusCode::FORBIDDEN, e.to_string())
        }
        Err(e @ (FixError::NotOpen { .. } | FixError::Running { .. })) => {
            error(StatusCode::CONFLICT, e.to_string())
        }
        Err(FixError::Store(e)) => store_unavailable("applying a fix", &e),
    }
}

/// `POST /api/v1/tickets/{id}/fixes`: run a fix compiled into the agents on the ticket's
/// device(s); its answer lands on the timeline, and a verified fix resolves the ticket.
#[utoipa::path(post, path = "/tickets/{id}/fixes", tag = "fixes",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = ApplyFix,
    responses((status = 202, description = "Started: the ticket's fixes", body = crate::store::fixes::TicketFixes),
        (status = 400, description = "Unknown fix, not for this ticket's fault, a device not on the ticket, a parameter the fix does not take", body = ApiError),
        (status = 403, description = "The fix's policy is off (or it needs the user's consent)", body = ApiError),
        (status = 404, body = ApiError),
        (status = 409, description = "The ticket is not open, or the fix is already running", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn apply_fix(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ApplyFix>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, format!("no ticket with id {id:?}"));
    };
    match body {
        Ok(Json(request)) => apply(&state, &caller, id, request).await,
        Err(rejection) => error(
            StatusCode::BAD_REQUEST,
            format!(
                "{} (expected e.g. {{\"fix\": \"disk.cleanup\", \"parameters\": {{\"older_than_days\": \"14\"}}}})",
                rejection.body_text()
            ),
        ),
    }
}

/// `GET /api/v1/tickets/{id}/fixes`: what the ticket offers, and every rollout and run.
#[utoipa::path(get, path = "/tickets/{id}/fixes", tag = "fixes",
    params(("id" = i64, Path, description = "Ticket id")),
    responses((status = 200, body = crate::store::fixes::TicketFixes), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn ticket_fixes(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, format!("no ticket with id {id:?}"));
    };
    match state.store.ticket_detail(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no ticket with id {id}")),
        Err(e) => return store_unavailable("reading a ticket", &e),
    }
    match state.store.ticket_fixes(id).await {
        Ok(fixes) => Json(fixes).into_response(),
        Err(e) => store_unavailable("reading a ticket's fixes", &e),
    }
}

/// One fix in the catalog, with its fleet-wide mode and where that came from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CatalogEntry {
    name: &'static str,
    summary: &'static str,
    needs_consent: bool,
    mode: Mode,
    source: ModeSource,
    built_in_mode: Mode,
}

/// The fixes, their modes, what the admin API set, and the numbers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FixCatalog {
    /// A page of the fixes, in the catalog's order.
    fixes: Vec<CatalogEntry>,
    /// Send it as `cursor` for the next page of `fixes`; `null` on the last page.
    next_cursor: Option<String>,
    /// Modes set through `PUT /api/v1/fixes/policy` (site "" is every site); a site's
    /// mode beats the fleet's, and at one level these beat the config file's `[fixes]`.
    overrides: Vec<PolicyOverride>,
    stats: crate::store::fixes::FixStats,
}

/// `GET /api/v1/fixes`: the fixes agents know and who may start each.
#[utoipa::path(get, path = "/fixes", tag = "fixes", params(super::paging::PageQuery),
    responses((status = 200, body = FixCatalog), (status = 400, body = ApiError), (status = 401, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn catalog(
    State(state): State<HttpState>,
    query: Result<
        axum::extract::Query<super::paging::PageQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let paging = match query {
        Ok(axum::extract::Query(query)) => match super::paging::paging(&query) {
            Ok(paging) => paging,
            Err(refusal) => return refusal,
        },
        Err(rejection) => return super::query_refused(&rejection),
    };
    let overrides = match state.store.fix_overrides().await {
        Ok(overrides) => overrides,
        Err(e) => return store_unavailable("reading the fixes' policy", &e),
    };
    let stats = match state.store.fix_stats().await {
        Ok(stats) => stats,
        Err(e) => return store_unavailable("reading the fixes' numbers", &e),
    };
    let policy = state.store.fix_policy();
    let fixes: Vec<(usize, CatalogEntry)> = fixes::CATALOG
        .iter()
        .enumerate()
        .map(|(position, fix)| {
            // The fleet-wide mode: a site nobody configured.
            let (mode, source) = policy.mode(fix.name, "", &overrides);
            let entry = CatalogEntry {
                name: fix.name,
                summary: fix.summary,
                needs_consent: fix.needs_consent,
                mode,
                source,
                built_in_mode: fix.default_mode,
            };
            (position, entry)
        })
        .collect();
    // In the catalog's own order: the cursor is a place in the list compiled in.
    let (fixes, next_cursor) = super::paging::page_of(
        fixes,
        |(position, _)| super::paging::number_key(i64::try_from(*position).unwrap_or(i64::MAX)),
        &paging,
    );
    let fixes = fixes.into_iter().map(|(_, entry)| entry).collect();
    Json(FixCatalog {
        fixes,
        next_cursor,
        overrides,
        stats,
    })
    .into_response()
}

/// A fix's mode for a site, or (mode null) back to the config file's.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetMode {
    fix: String,
    /// A site's name; absent or "" for every site.
    #[serde(default)]
    site: String,
    /// auto, approve, ask-user or off; null removes what the API set.
    mode: Option<String>,
}

/// `PUT /api/v1/fixes/policy` (admin): sets who may start a fix, fleet-wide or for one site.
#[utoipa::path(put, path = "/fixes/policy", tag = "admin",
    request_body = SetMode,
    responses((status = 200, body = FixCatalog), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
pub(crate) async fn set_mode(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<SetMode>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{} (expected e.g. {{\"fix\": \"dns.flush\", \"site\": \"warsaw\", \"mode\": \"approve\"}})",
                    rejection.body_text()
                ),
            );
        }
    };
    let Some(fix) = fixes::info(request.fix.trim()) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "{:.40?} is not a fix (the fixes are {})",
                request.fix,
                fixes::names()
            ),
        );
    };
    let site = request.site.trim();
    if site.len() > 64 || site.chars().any(char::is_control) {
        return error(
            StatusCode::BAD_REQUEST,
            "site must be at most 64 characters without control characters",
        );
    }
    let mode = match request.mode.as_deref().map(str::trim) {
        None => None,
        Some(text) => match Mode::parse(text) {
            Some(Mode::Auto) if fix.needs_consent => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{} cannot be auto: it runs only with the consent of the user it affects (ask-user or off)",
                        fix.name
                    ),
                );
            }
            Some(mode) => Some(mode),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("mode {text:.40?} must be auto, approve, ask-user or off (or null)"),
                );
            }
        },
    };
    if let Err(e) = state
        .store
        .set_fix_mode(fix.name, site, mode, &caller.name, crate::model::now_ms())
        .await
    {
        return store_unavailable("setting a fix's mode", &e);
    }
    tracing::info!(fix = fix.name, site, mode = mode.map_or("(file)", Mode::as_str), by = %caller.name, "fix mode set");
    // The catalog's first page: every fix there is (fewer than a page).
    catalog(
        State(state),
        Ok(axum::extract::Query(super::paging::PageQuery::default())),
    )
    .await
}
