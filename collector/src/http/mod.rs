//! HTTP for people and monitoring: `/healthz`, `/metrics` (see `crate::metrics`), sign-in and
//! sign-out, and the REST API under `/api/v1` for holders of an API key or a session: devices,
//! tickets and actions on them, and (admins) staff credentials; the web UI is `crate::web`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::ingest::Sessions;
use crate::model::{Device, Role, StoredFinding};
use crate::random;
use crate::store::tickets::StaffError;
use crate::store::{AssigneeFilter, Store, TicketFilter, TicketOrder};
use crate::tickets::TicketKind;
use crate::tickets::engine::StaffAction;

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "flk_";

pub mod access;
pub mod fixes;
pub(crate) mod fleet;
pub(crate) mod paging;
pub mod search;
pub mod staff;

pub use access::Caller;

#[derive(Debug, Clone)]
pub struct HttpState {
    pub store: Store,
    pub sessions: Arc<Sessions>,
    /// Counted by ingest, served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The CA certificate enrollment tokens pin.
    pub ca_pem: String,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`trusted_proxies`).
    pub trusted_proxies: Arc<[crate::net::IpNetwork]>,
    /// Addresses and accounts refused sign-in until a time: further attempts are refused
    /// again from memory, without a write to the database.
    pub sign_in_holds: Arc<access::SignInHolds>,
    /// Where browsers reach this collector (`public_url`, else the listener's address): the
    /// help page answers only requests for this host.
    pub public_url: Arc<str>,
    /// Ticket systems whose webhook may ask for an early poll: name, token, the poll's bell.
    pub sync_hooks: Arc<[(String, String, Arc<tokio::sync::Notify>)]>,
}

/// The OpenAPI document's frame; the paths come from the routes themselves.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Firstline collector API",
        description = "Tickets, devices, reproduction and knowledge for support staff and scripts. Authenticate with an API key (`Authorization: Bearer flk_…`) or a signed-in session (cookie from `POST /login`, plus the `X-CSRF-Token` header on changes)."
    ),
    servers((url = "/api/v1")),
    modifiers(&SecuritySchemes),
    components(schemas(ApiError))
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("flk_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every operation answers refusals with `ApiError`: a query or body that does not read
/// (400), no or a wrong credential (401), a role or CSRF token short (403), and any other
/// refusal (`default`: 404, 405, 409, 422, 429, 503); a route's own descriptions of these win.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let refusal = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ApiError")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                for (status, description) in [
                    (
                        "400",
                        "A parameter or the body does not read: `field` names it",
                    ),
                    ("401", "No API key or session, or one that is not valid"),
                    (
                        "403",
                        "The caller's role is short, or (a session) the CSRF token is",
                    ),
                    (
                        "default",
                        "Any other refusal (404, 405, 409, 422, 429 with Retry-After, 503), in the same shape",
                    ),
                ] {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| refusal(description));
                }
            }
        }
    }
}

/// The REST API's routes, with the OpenAPI document they describe.
pub fn api(state: &HttpState) -> (Router<HttpState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    // Route groups by the least role that may use them; every group needs a caller.
    let technician = OpenApiRouter::new()
        .routes(routes!(access::me))
        .routes(routes!(access::change_my_password))
        .routes(routes!(list_devices))
        .routes(routes!(show_device))
        .routes(routes!(list_tickets))
        .routes(routes!(show_ticket))
        .routes(routes!(act_on_ticket))
        .routes(routes!(reproduce_on_device))
        .routes(routes!(show_reproduce))
        .routes(routes!(fixes::apply_fix, fixes::ticket_fixes))
        .routes(routes!(fixes::catalog))
        .routes(routes!(knowledge))
        .routes(routes!(search::search))
        .routes(routes!(staff::list_people))
        .routes(routes!(fleet::device_config))
        .route_layer(middleware::from_fn(|request, next| {
            access::require(Role::Technician, request, next)
        }));
    let supervisor = OpenApiRouter::new()
        .routes(routes!(stats))
        .route_layer(middleware::from_fn(|request, next| {
            access::require(Role::Supervisor, request, next)
        }));
    let admin = OpenApiRouter::new()
        .routes(routes!(revoke_device))
        .routes(routes!(set_vip))
        .routes(routes!(add_user, staff::list_users))
        .routes(routes!(staff::disable_user))
        .routes(routes!(staff::enable_user))
        .routes(routes!(staff::reset_password))
        .routes(routes!(staff::revoke_api_key))
        .routes(routes!(create_token, staff::list_tokens))
        .routes(routes!(staff::revoke_tokens))
        .routes(routes!(staff::list_alerts))
        .routes(routes!(staff::acknowledge_alert))
        .routes(routes!(staff::put_person, staff::delete_person))
        .routes(routes!(fixes::set_mode))
        .routes(routes!(fleet::fleet))
        .routes(routes!(fleet::add_group))
        .routes(routes!(fleet::add_policy))
        .routes(routes!(fleet::change_policy, fleet::show_policy))
        .routes(routes!(fleet::roll_back))
        .routes(routes!(fleet::promote))
        .route_layer(middleware::from_fn(|request, next| {
            access::require(Role::Admin, request, next)
        }));
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(technician)
        .merge(supervisor)
        .merge(admin)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ))
        .split_for_parts();
    // After the routes: the frame's modifiers run before there are any paths.
    utoipa::Modify::modify(&ErrorResponses, &mut openapi);
    (router, openapi)
}

/// `POST /hooks/ticket-systems/{name}`: a ticket system's webhook says something changed
/// there; the system is polled now instead of at its next interval. The body is not read:
/// what changed is always fetched from the system itself, so a forged call costs one poll.
async fn sync_hook(
    State(state): State<HttpState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let token = headers
        .get("x-firstline-token")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let Some((_, expected, bell)) = state
        .sync_hooks
        .iter()
        .find(|(system, _, _)| *system == name)
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no ticket system named {name:?} takes webhooks here (set its webhook_token)"),
        );
    };
    if !crate::auth::csrf_matches(Some(token), expected) {
        return error(
            StatusCode::UNAUTHORIZED,
            "the X-Firstline-Token header is missing or wrong",
        );
    }
    bell.notify_one();
    StatusCode::ACCEPTED.into_response()
}

pub fn router(state: HttpState) -> Router {
    let (api, openapi) = api(&state);
    let document = Arc::new(openapi);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(healthz))
        .route("/livez", get(livez))
        .route("/metrics", get(crate::metrics::serve))
        .route("/hooks/ticket-systems/{name}", post(sync_hook))
        .merge(
            Router::new()
                .route("/login", post(access::login))
                .route("/logout", post(access::logout))
                .nest("/api/v1", api)
                .layer(middleware::map_response(json_refusals)),
        )
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .merge(crate::web::router())
        .fallback(not_found)
        .with_state(state)
}

/// Creates an API key for scripts; the key is shown once and stored hashed.
pub async fn create_api_key(
    store: &Store,
    name: &str,
    role: Role,
) -> Result<String, crate::store::StoreError> {
    let key = format!("{API_KEY_PREFIX}{}", random::token_text(32));
    store
        .insert_api_key(name, role, &random::sha256(&key), crate::model::now_ms())
        .await?;
    Ok(key)
}

/// The one JSON body of every refusal under `/api/v1`, `/login` and `/logout`, whatever
/// refused: a handler, authentication, a role check, a limit, the store, axum's extractors
/// (a body or a query that does not read), an unknown route or method.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(crate) struct ApiError {
    /// What went wrong and what to send instead, for a person.
    pub(crate) error: String,
    /// A stable word for programs: `bad_parameter`, `bad_body`, `bad_request`,
    /// `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `unprocessable`, `rate_limited`
    /// (with a `Retry-After` header), `unavailable` or `internal`.
    pub(crate) code: String,
    /// The query parameter or body field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
}

/// The `code` of a refusal with this status and no more particular word.
fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ => "internal",
    }
}

fn refusal(status: StatusCode, code: &str, field: Option<&str>, message: String) -> Response {
    (
        status,
        Json(ApiError {
            error: message,
            code: code.to_owned(),
            field: field.map(str::to_owned),
        }),
    )
        .into_response()
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    refusal(status, code_for(status), None, message.into())
}

/// 400 for a query parameter that is unknown or has a value that means nothing; the message
/// names it and the values it takes.
pub(crate) fn bad_parameter(name: &str, message: impl Into<String>) -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "bad_parameter",
        Some(name),
        message.into(),
    )
}

/// 400 for a query string that does not read (an unknown parameter, most often), naming the
/// parameter serde names.
pub(crate) fn query_refused(rejection: &axum::extract::rejection::QueryRejection) -> Response {
    let text = rejection.body_text();
    let field = text
        .split_once("field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    refusal(
        StatusCode::BAD_REQUEST,
        "bad_parameter",
        field.as_deref(),
        text,
    )
}

/// The longest plain-text refusal rewritten as JSON (axum's are a line).
const MAX_REFUSAL_TEXT_BYTES: usize = 16 * 1024;

/// Turns every refusal that is not JSON yet (axum's extractor rejections answer plain text,
/// a wrong method answers an empty 405) into an `ApiError`, keeping its status and headers.
/// Layered over the API, `/login` and `/logout`, not over the HTML pages.
pub(crate) async fn json_refusals(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REFUSAL_TEXT_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    // serde names the field at fault as "unknown field `x`" or "missing field `x`".
    let field = text
        .split_once("field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let (code, message) = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(axum::http::header::ALLOW)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            "method_not_allowed",
            format!("this route does not take that method; it takes {allowed}"),
        )
    } else if text.contains("query string") {
        ("bad_parameter", text)
    } else if text.contains("JSON") || text.contains("Form") || text.contains("form") {
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            ("unsupported_media_type", text)
        } else {
            ("bad_body", text)
        }
    } else if text.is_empty() {
        (
            code_for(status),
            status
                .canonical_reason()
                .unwrap_or("refused")
                .to_lowercase(),
        )
    } else {
        (code_for(status), text)
    };
    let json = refusal(status, code, field.as_deref(), message);
    let (_, json_body) = json.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, json_body)
}

/// `/healthz` and `/readyz` (for load balancers): 200 only while the store answers a read
/// *and* commits; otherwise 503 with why, in one line (a full disk says what to free). A
/// collector that cannot store would only make agents resend: route them elsewhere.
async fn healthz(State(state): State<HttpState>) -> Response {
    let ping = tokio::time::timeout(HEALTH_READ_TIMEOUT, state.store.ping()).await;
    let report = state.store.health().report();
    let unavailable = |text: String| (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
    match ping {
        Err(_) => unavailable(format!(
            "store unavailable: it did not answer a read within {}s\n",
            HEALTH_READ_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check failed");
            unavailable(format!("store unavailable: {e}\n"))
        }
        Ok(Ok(())) if !report.writable => {
            let since = report
                .failing_since_ms
                .map(|since| format!(" for {}s", (crate::model::now_ms() - since).max(0) / 1000))
                .unwrap_or_default();
            let why = match (&report.disk_full, &report.last_error) {
                (Some(full), _) => full.to_string(),
                (None, Some(error)) => error.clone(),
                (None, None) => "its last commit failed".to_owned(),
            };
            unavailable(format!("store cannot commit{since}: {why}\n"))
        }
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
    }
}

/// `/livez`: the process serves HTTP. Restarting a collector does not free a disk or bring
/// back a database server, so liveness does not look at the store: it recovers by itself.
async fn livez() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// How long `/healthz` waits for the store to answer a read.
const HEALTH_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DeviceView {
    #[serde(flatten)]
    device: Device,
    connected: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DeviceDetail {
    #[serde(flatten)]
    device: DeviceView,
    /// Its conditions that are not resolved: firing, stale or flapping.
    conditions: Vec<crate::store::tickets::ConditionRecord>,
    /// The most recent findings, oldest first.
    findings: Vec<StoredFinding>,
}

/// `GET /api/v1/devices` query: a page of the list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DevicesQuery {
    /// How many devices at most (default 100, at most 1000).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Where to go on from: the `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of `GET /api/v1/devices`, in id order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DevicePage {
    devices: Vec<DeviceView>,
    /// Send it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/devices", tag = "devices", params(DevicesQuery),
    responses((status = 200, description = "A page of devices in id order; follow `next_cursor` for the rest", body = DevicePage),
        (status = 400, body = ApiError), (status = 401, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn list_devices(
    State(state): State<HttpState>,
    query: Result<Query<DevicesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return query_refused(&rejection),
    };
    let paging = match paging::Paging::parse(query.limit.as_deref(), query.cursor.as_deref()) {
        Ok(paging) => paging,
        Err(refusal) => return refusal,
    };
    let (limit, after_id) = (paging.limit, paging.after);
    // One more than asked tells whether another page follows.
    let mut devices = match state
        .store
        .devices_after(after_id.as_deref(), limit + 1)
        .await
    {
        Ok(devices) => devices,
        Err(e) => return store_unavailable("listing devices", &e),
    };
    let next_cursor = if devices.len() > limit as usize {
        devices.truncate(limit as usize);
        devices.last().map(|device| paging::cursor(&device.id))
    } else {
        None
    };
    let devices = devices
        .into_iter()
        .map(|device| DeviceView {
            connected: state.sessions.is_connected(&device.id),
            device,
        })
        .collect();
    Json(DevicePage {
        devices,
        next_cursor,
    })
    .into_response()
}

#[utoipa::path(get, path = "/devices/{id}", tag = "devices",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceDetail), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn show_device(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let device = match state.store.device(&id).await {
        Ok(Some(device)) => device,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no device with id {id:?}")),
        Err(e) => {
            tracing::error!(error = %e, "showing device");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the collector's store is unavailable",
            );
        }
    };
    let findings = match state.store.recent_findings(&id, 100).await {
        Ok(findings) => findings,
        Err(e) => {
            tracing::error!(error = %e, "listing findings");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the collector's store is unavailable",
            );
        }
    };
    let conditions = match state.store.open_conditions(&id).await {
        Ok(conditions) => conditions,
        Err(e) => return store_unavailable("listing conditions", &e),
    };
    let connected = state.sessions.is_connected(&device.id);
    Json(DeviceDetail {
        device: DeviceView { device, connected },
        conditions,
        findings,
    })
    .into_response()
}

pub(crate) fn store_unavailable(what: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the collector's store is unavailable",
    )
}

/// `GET /api/v1/tickets` query: every filter optional, each applied in the database before
/// the page is cut.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// A state (new, assigned, in_progress, pending, resolved, closed, cancelled) or "open".
    state: Option<String>,
    /// 1 (highest) to 5.
    #[param(value_type = Option<u8>)]
    priority: Option<String>,
    /// The support tier, 1 to 3.
    #[param(value_type = Option<u8>)]
    tier: Option<String>,
    /// A device id: its own tickets and the incidents it is part of.
    device: Option<String>,
    /// device, incident or report.
    kind: Option<String>,
    /// A user's name: the tickets assigned to them.
    assignee: Option<String>,
    /// `true`: only tickets assigned to no one (not with `assignee`).
    #[param(value_type = Option<bool>)]
    unassigned: Option<String>,
    /// A site: tickets of devices at that site, and incidents scoped to it (`site=NAME`).
    site: Option<String>,
    /// A check name or its start: `dns.` for every DNS check.
    check: Option<String>,
    /// The local account that reported it (report tickets).
    requester: Option<String>,
    /// Only tickets changed (`updated_at_ms`) at or after this: milliseconds since 1970 or
    /// an RFC 3339 time. Orders the list by `(updated_at_ms, id)` unless `order` says otherwise.
    #[param(value_type = Option<String>)]
    changed_since: Option<String>,
    /// `id` (the default without `changed_since`): each ticket once, tickets opened while
    /// paging come last. `updated`: by `(updated_at_ms, id)`, for synchronising: a ticket
    /// updated while paging is returned again on a later page.
    order: Option<String>,
    /// How many tickets at most (default 100, at most 1000).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Where to go on from: the `next_cursor` of the previous page (with the same order).
    cursor: Option<String>,
}

/// A page of `GET /api/v1/tickets`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TicketPage {
    tickets: Vec<crate::store::TicketRecord>,
    /// Send it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// A small number parameter in `range`, or the 400 naming it.
#[allow(clippy::result_large_err)]
fn number_parameter(
    name: &str,
    text: Option<&str>,
    range: std::ops::RangeInclusive<u8>,
) -> Result<Option<u8>, Response> {
    let Some(text) = text else {
        return Ok(None);
    };
    match text.parse::<u8>() {
        Ok(number) if range.contains(&number) => Ok(Some(number)),
        _ => Err(bad_parameter(
            name,
            format!(
                "{name} {text:?} is not one: use a number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// The ticket list's order and where its cursor says to go on from.
#[allow(clippy::result_large_err)]
fn ticket_order(
    order: Option<&str>,
    changed_since: bool,
    cursor: Option<&str>,
) -> Result<TicketOrder, Response> {
    let updated = match order {
        None => changed_since,
        Some("id") => false,
        Some("updated") => true,
        Some(other) => {
            return Err(bad_parameter(
                "order",
                format!("order {other:?} is not one: use id or updated"),
            ));
        }
    };
    let after = cursor.map(paging::parse_cursor).transpose()?;
    let wrong_cursor = |cursor: &str| {
        bad_parameter(
            "cursor",
            format!(
                "cursor {:?} is not one this listing gave out (send the next_cursor of the previous page, with the same order and changed_since)",
                cursor.chars().take(64).collect::<String>()
            ),
        )
    };
    match (updated, after.as_deref()) {
        (false, None) => Ok(TicketOrder::Id { after: None }),
        (true, None) => Ok(TicketOrder::Updated { after: None }),
        (false, Some(key)) => match key.strip_prefix("id:").map(str::parse::<i64>) {
            Some(Ok(id)) => Ok(TicketOrder::Id { after: Some(id) }),
            _ => Err(wrong_cursor(cursor.unwrap_or_default())),
        },
        (true, Some(key)) => {
            let parsed = key
                .strip_prefix("updated:")
                .and_then(|rest| rest.split_once(':'))
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.parse::<i64>().ok()?)));
            match parsed {
                Some(after) => Ok(TicketOrder::Updated { after: Some(after) }),
                None => Err(wrong_cursor(cursor.unwrap_or_default())),
            }
        }
    }
}

/// The cursor after `ticket` in `order`.
fn ticket_cursor(order: TicketOrder, ticket: &crate::store::TicketRecord) -> String {
    match order {
        TicketOrder::Updated { .. } => {
            paging::cursor(&format!("updated:{}:{}", ticket.updated_at_ms, ticket.id))
        }
        TicketOrder::Id { .. } | TicketOrder::Queue => paging::cursor(&format!("id:{}", ticket.id)),
    }
}

/// `changed_since`: milliseconds since 1970, or an RFC 3339 time.
#[allow(clippy::result_large_err)]
fn parse_changed_since(text: &str) -> Result<i64, Response> {
    if let Ok(ms) = text.parse::<i64>()
        && ms >= 0
    {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|since| i64::try_from(since.as_millis()).ok())
        .ok_or_else(|| {
            bad_parameter(
                "changed_since",
                format!(
                    "changed_since {text:?} is not a time: send milliseconds since 1970 or an RFC 3339 time (2026-01-31T09:00:00Z)"
                ),
            )
        })
}

/// The store's filter for a ticket query, or the 400 naming the parameter that is wrong.
#[allow(clippy::result_large_err)]
fn ticket_filter(query: TicketQuery) -> Result<(TicketFilter, u32), Response> {
    if let Some(wanted) = &query.state
        && wanted != "open"
        && crate::tickets::TicketState::parse(wanted).is_none()
    {
        return Err(bad_parameter(
            "state",
            format!(
                "state {wanted:?} is not one: use open, new, assigned, in_progress, pending, resolved, closed or cancelled"
            ),
        ));
    }
    let priority = number_parameter("priority", query.priority.as_deref(), 1..=5)?;
    let tier = number_parameter("tier", query.tier.as_deref(), 1..=3)?;
    let kind = match query.kind.as_deref() {
        None => None,
        Some(text) => Some(TicketKind::parse(text).ok_or_else(|| {
            bad_parameter(
                "kind",
                format!("kind {text:?} is not one: use device, incident or report"),
            )
        })?),
    };
    let unassigned = match query.unassigned.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(bad_parameter(
                "unassigned",
                format!("unassigned {other:?} is not one: use true or false"),
            ));
        }
    };
    let assignee = match (query.assignee, unassigned) {
        (Some(_), true) => {
            return Err(bad_parameter(
                "unassigned",
                "send assignee=NAME or unassigned=true, not both",
            ));
        }
        (Some(name), false) if name.trim().is_empty() => {
            return Err(bad_parameter(
                "assignee",
                "assignee must name a user (unassigned=true lists tickets assigned to no one)",
            ));
        }
        (Some(name), false) => Some(AssigneeFilter::User(name.trim().to_owned())),
        (None, true) => Some(AssigneeFilter::Unassigned),
        (None, false) => None,
    };
    let changed_since_ms = query
        .changed_since
        .as_deref()
        .map(parse_changed_since)
        .transpose()?;
    let limit = paging::parse_limit(query.limit.as_deref())?;
    let order = ticket_order(
        query.order.as_deref(),
        changed_since_ms.is_some(),
        query.cursor.as_deref(),
    )?;
    let nonempty = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let filter = TicketFilter {
        state: query.state,
        priority,
        tier,
        device_id: nonempty(query.device),
        kind,
        assignee,
        site: nonempty(query.site),
        check_prefix: nonempty(query.check),
        requester: nonempty(query.requester),
        changed_since_ms,
        order,
        // One more than asked tells whether another page follows.
        limit: Some(limit + 1),
    };
    Ok((filter, limit))
}

/// `GET /api/v1/tickets`: a page of tickets with the queue's filters. By id by default; by
/// `(updated_at_ms, id)` with `changed_since` or `order=updated`, where a ticket changed
/// while a client pages moves behind the cursor and comes again on a later page: a sync
/// client keeps the last `updated_at_ms` it saw and starts its next run from there.
#[utoipa::path(get, path = "/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, description = "A page of tickets; follow `next_cursor` for the rest", body = TicketPage),
        (status = 400, description = "A parameter is unknown or has a value that means nothing: `field` names it", body = ApiError),
        (status = 401, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn list_tickets(
    State(state): State<HttpState>,
    query: Result<Query<TicketQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return query_refused(&rejection),
    };
    let (filter, limit) = match ticket_filter(query) {
        Ok(filter) => filter,
        Err(refusal) => return refusal,
    };
    let mut tickets = match state.store.tickets(&filter).await {
        Ok(tickets) => tickets,
        Err(e) => return store_unavailable("listing tickets", &e),
    };
    let next_cursor = if tickets.len() > limit as usize {
        tickets.truncate(limit as usize);
        tickets
            .last()
            .map(|ticket| ticket_cursor(filter.order, ticket))
    } else {
        None
    };
    Json(TicketPage {
        tickets,
        next_cursor,
    })
    .into_response()
}

#[utoipa::path(get, path = "/tickets/{id}", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    responses((status = 200, body = crate::store::TicketDetail), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn show_ticket(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, format!("no ticket with id {id:?}"));
    };
    match state.store.ticket_detail(id).await {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no ticket with id {id}")),
        Err(e) => store_unavailable("showing ticket", &e),
    }
}

/// `POST /api/v1/tickets/{id}/actions` body, e.g. `{"action": "resolve", "solution": "…"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ActionRequest {
    Assign {
        to: String,
    },
    /// An internal note: staff only.
    Comment {
        text: String,
    },
    /// A public reply to the person who reported it: on their help page, as a desktop
    /// notification on their device, and by e-mail when the directory has their address.
    Reply {
        text: String,
    },
    Start,
    Pending {
        #[serde(default)]
        reason: String,
    },
    Escalate {
        #[serde(default)]
        reason: String,
    },
    Resolve {
        #[serde(default)]
        solution: String,
    },
    Reopen,
    Close,
    Cancel,
    /// Fold this ticket into ticket `into` (a duplicate, or a device's ticket into the
    /// incident it is part of): its conditions, devices and the requester's reports move
    /// there, and it is cancelled as merged. An incident merges only into an incident.
    Merge {
        into: i64,
    },
    /// Run a playbook on the ticket's device now (on an incident, on the one of its
    /// devices named by `device`); the result lands on the timeline.
    Reproduce(ReproduceBody),
}

/// What to reproduce, and how long the request may wait for an offline device.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReproduceBody {
    pub(crate) playbook: String,
    #[serde(default)]
    pub(crate) target: Option<String>,
    /// On an incident: which of its devices runs it (one request per device). Not needed
    /// on a device's ticket; must be its device if given.
    #[serde(default)]
    pub(crate) device: Option<String>,
    /// Default 10 minutes, at most a day.
    #[serde(default)]
    pub(crate) ttl_secs: Option<u64>,
}

impl ActionRequest {
    /// The staff action this asks the ticket engine for, or the reproduction it asks for.
    fn into_staff_action(self) -> Result<StaffAction, ReproduceBody> {
        Ok(match self {
            ActionRequest::Assign { to } => StaffAction::Assign { to },
            ActionRequest::Comment { text } => StaffAction::Comment { text },
            ActionRequest::Reply { text } => StaffAction::Reply { text },
            ActionRequest::Start => StaffAction::StartWork,
            ActionRequest::Pending { reason } => StaffAction::Pending { reason },
            ActionRequest::Escalate { reason } => StaffAction::Escalate { reason },
            ActionRequest::Resolve { solution } => StaffAction::Resolve { solution },
            ActionRequest::Reopen => StaffAction::Reopen,
            ActionRequest::Close => StaffAction::Close,
            ActionRequest::Cancel => StaffAction::Cancel,
            ActionRequest::Merge { into } => StaffAction::Merge { into },
            ActionRequest::Reproduce(body) => return Err(body),
        })
    }
}

/// Longest comment, reason or solution accepted.
const MAX_ACTION_TEXT_BYTES: usize = 16 * 1024;

#[utoipa::path(post, path = "/tickets/{id}/actions", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = ActionRequest,
    responses((status = 200, description = "The ticket after the action", body = crate::store::TicketDetail),
        (status = 202, description = "A reproduce request, queued", body = crate::store::reproduce::ReproduceRequest),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, description = "The action does not fit the ticket's state", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn act_on_ticket(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ActionRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, format!("no ticket with id {id:?}"));
    };
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{} (expected e.g. {{\"action\": \"resolve\", \"solution\": \"…\"}})",
                    rejection.body_text()
                ),
            );
        }
    };
    perform(&state, &caller, id, request).await
}

/// Carries out an action on ticket `id` for `caller`; shared by the REST API and the web UI.
pub(crate) async fn perform(
    state: &HttpState,
    caller: &Caller,
    id: i64,
    request: ActionRequest,
) -> Response {
    let action = match request.into_staff_action() {
        Ok(action) => action,
        Err(reproduction) => return reproduce(state, caller, Some(id), None, reproduction).await,
    };
    // A ticket goes to someone who can work it: a user of this collector, not disabled.
    if let StaffAction::Assign { to } = &action {
        let to = to.trim();
        match state.store.users().await {
            Ok(users) => {
                if !users
                    .iter()
                    .any(|user| user.name == to && user.disabled_at_ms.is_none())
                {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!(
                            "{to:?} is not a user who can take tickets (GET /api/v1/users lists them; a disabled user cannot)"
                        ),
                    );
                }
            }
            Err(e) => return store_unavailable("reading users", &e),
        }
    }
    // Taking or handing out an unassigned ticket is anyone's; moving it from someone to
    // someone else is a supervisor's.
    if let StaffAction::Assign { to } = &action
        && caller.role < Role::Supervisor
    {
        match state.store.ticket_detail(id).await {
            Ok(Some(detail)) => {
                if detail
                    .ticket
                    .assignee
                    .as_deref()
                    .is_some_and(|current| current != to.trim())
                {
                    return error(
                        StatusCode::FORBIDDEN,
                        "reassigning a ticket needs the supervisor role",
                    );
                }
            }
            Ok(None) => return error(StatusCode::NOT_FOUND, format!("no ticket with id {id}")),
            Err(e) => return store_unavailable("reading a ticket", &e),
        }
    }
    // Merging cancels one ticket and reshapes another: when someone else works either, it
    // is a supervisor's call, as reassigning is.
    if let StaffAction::Merge { into } = &action
        && caller.role < Role::Supervisor
    {
        for ticket in [id, *into] {
            match state.store.ticket_detail(ticket).await {
                Ok(Some(detail)) => {
                    if let Some(owner) = detail
                        .ticket
                        .assignee
                        .as_deref()
                        .filter(|owner| *owner != caller.name)
                    {
                        return error(
                            StatusCode::FORBIDDEN,
                            format!(
                                "ticket {ticket} is assigned to {owner}: merging it needs the supervisor role"
                            ),
                        );
                    }
                }
                // The engine says which ticket is missing.
                Ok(None) => {}
                Err(e) => return store_unavailable("reading a ticket", &e),
            }
        }
    }
    let text_len = match &action {
        StaffAction::Assign { to } => to.len(),
        StaffAction::Comment { text } | StaffAction::Reply { text } => text.len(),
        StaffAction::RequesterAnswer { words, .. } => words.len(),
        StaffAction::Pending { reason } | StaffAction::Escalate { reason } => reason.len(),
        StaffAction::Resolve { solution } => solution.len(),
        _ => 0,
    };
    if text_len > MAX_ACTION_TEXT_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{text_len} bytes of text exceeds the limit of {MAX_ACTION_TEXT_BYTES}"),
        );
    }
    match state
        .store
        .staff_action(id, &caller.name, &action, crate::model::now_ms())
        .await
    {
        Ok(()) => match state.store.ticket_detail(id).await {
            Ok(Some(detail)) => {
                // A reply or a resolution may have queued a notice for the requester's device.
                if let Some(device_id) = &detail.ticket.device_id {
                    state.sessions.nudge(device_id);
                }
                Json(detail).into_response()
            }
            Ok(None) => error(StatusCode::NOT_FOUND, format!("no ticket with id {id}")),
            Err(e) => store_unavailable("showing ticket", &e),
        },
        Err(StaffError::Refused(crate::tickets::Refusal::NoTicket)) => {
            error(StatusCode::NOT_FOUND, format!("no ticket with id {id}"))
        }
        Err(StaffError::Refused(
            refused @ (crate::tickets::Refusal::NoMergeTarget(_)
            | crate::tickets::Refusal::SameTicket(_)),
        )) => refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            Some("into"),
            refused.to_string(),
        ),
        Err(StaffError::Refused(refusal)) => error(StatusCode::CONFLICT, refusal.to_string()),
        Err(StaffError::Store(e)) => store_unavailable("acting on ticket", &e),
    }
}

/// Default and longest wait of a reproduce request for its device.
const REPRODUCE_TTL_SECS: u64 = 600;
const MAX_REPRODUCE_TTL_SECS: u64 = 24 * 3600;

async fn reproduce(
    state: &HttpState,
    caller: &Caller,
    ticket_id: Option<i64>,
    device_id: Option<&str>,
    body: ReproduceBody,
) -> Response {
    use crate::store::reproduce::{NewReproduce, ReproduceError};
    let ttl_secs = body.ttl_secs.unwrap_or(REPRODUCE_TTL_SECS);
    if !(1..=MAX_REPRODUCE_TTL_SECS).contains(&ttl_secs) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("ttl_secs must be between 1 and {MAX_REPRODUCE_TTL_SECS}"),
        );
    }
    if body
        .target
        .as_ref()
        .is_some_and(|t| t.len() > 2048 || t.chars().any(char::is_control))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "target must be at most 2048 characters, without control characters",
        );
    }
    // The device is the path's (`/devices/{id}/reproduce`) or, on a ticket, the body's.
    let device_id = match (device_id, body.device.as_deref().map(str::trim)) {
        (Some(path), Some(named)) if path != named => {
            return bad_parameter(
                "device",
                format!("the body names device {named:?} but the address is device {path:?}"),
            );
        }
        (Some(path), _) => Some(path),
        (None, named) => named.filter(|d| !d.is_empty()),
    };
    let request = NewReproduce {
        ticket_id,
        device_id,
        playbook: body.playbook.trim(),
        target: body
            .target
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty()),
        requested_by: &caller.name,
        ttl_ms: i64::try_from(ttl_secs * 1000).unwrap_or(i64::MAX),
    };
    match state
        .store
        .request_reproduce(&request, crate::model::now_ms())
        .await
    {
        Ok(created) => {
            state.sessions.nudge(&created.device_id);
            (StatusCode::ACCEPTED, Json(created)).into_response()
        }
        Err(ReproduceError::NoTicket) => error(StatusCode::NOT_FOUND, "no such ticket"),
        Err(ReproduceError::NoDevice) => error(StatusCode::NOT_FOUND, "no such device"),
        Err(e @ (ReproduceError::NotOneDevice(_) | ReproduceError::NotOnTicket { .. })) => {
            bad_parameter("device", e.to_string())
        }
        Err(e @ ReproduceError::UnknownPlaybook(_)) => bad_parameter("playbook", e.to_string()),
        Err(e @ ReproduceError::TooMany { .. }) => {
            error(StatusCode::TOO_MANY_REQUESTS, e.to_string())
        }
        Err(ReproduceError::Store(e)) => store_unavailable("requesting a reproduction", &e),
    }
}

#[utoipa::path(post, path = "/devices/{id}/reproduce", tag = "reproduce",
    params(("id" = String, Path, description = "Device id")),
    request_body = ReproduceBody,
    responses((status = 202, body = crate::store::reproduce::ReproduceRequest), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 429, description = "The device already has its most waiting requests", body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn reproduce_on_device(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ReproduceBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(body)) => reproduce(&state, &caller, None, Some(&id), body).await,
        Err(rejection) => error(
            StatusCode::BAD_REQUEST,
            format!(
                "{} (expected e.g. {{\"playbook\": \"web\", \"target\": \"https://intranet.example.com\"}})",
                rejection.body_text()
            ),
        ),
    }
}

#[utoipa::path(get, path = "/reproduce/{id}", tag = "reproduce",
    params(("id" = String, Path, description = "Reproduce request id")),
    responses((status = 200, body = crate::store::reproduce::ReproduceRequest), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn show_reproduce(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    match state.store.reproduce_request(&id).await {
        Ok(Some(request)) => Json(request).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no reproduce request {id:?}"),
        ),
        Err(e) => store_unavailable("showing a reproduce request", &e),
    }
}

/// `POST /api/v1/devices/{id}/revoke` (admin): the device's certificate is refused from now
/// on, and its live stream is closed.
#[utoipa::path(post, path = "/devices/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, description = "Revoked"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn revoke_device(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    match state.store.revoke_device(&id, crate::model::now_ms()).await {
        Ok(true) => {
            state.sessions.disconnect_revoked(&id);
            tracing::warn!(device = %id, by = %caller.name, "device revoked");
            (
                StatusCode::OK,
                Json(serde_json::json!({ "device_id": id, "revoked": true })),
            )
                .into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no device with id {id:?}")),
        Err(e) => store_unavailable("revoking a device", &e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VipBody {
    vip: bool,
}

/// `POST /api/v1/devices/{id}/vip` (admin): `{"vip": true}` raises its tickets' impact.
#[utoipa::path(post, path = "/devices/{id}/vip", tag = "admin",
    params(("id" = String, Path, description = "Device id")),
    request_body = VipBody,
    responses((status = 200, description = "Updated"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn set_vip(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    body: Result<Json<VipBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(VipBody { vip })) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "send {\"vip\": true} or {\"vip\": false}",
        );
    };
    match state.store.set_device_vip(&id, vip).await {
        Ok(true) => Json(serde_json::json!({ "device_id": id, "vip": vip })).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no device with id {id:?}")),
        Err(e) => store_unavailable("marking a VIP device", &e),
    }
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    #[serde(default)]
    ttl_secs: Option<u64>,
}

/// `POST /api/v1/tokens` (admin): one one-time enrollment token.
#[utoipa::path(post, path = "/tokens", tag = "admin",
    request_body = TokenBody,
    responses((status = 201, description = "A one-time enrollment token"), (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn create_token(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    body: Option<Json<TokenBody>>,
) -> Response {
    let ttl_secs = body
        .and_then(|Json(body)| body.ttl_secs)
        .unwrap_or(24 * 3600);
    if !(60..=30 * 24 * 3600).contains(&ttl_secs) {
        return error(
            StatusCode::BAD_REQUEST,
            "ttl_secs must be between 60 and 2592000",
        );
    }
    match crate::enrollment::create_token(
        &state.store,
        &state.ca_pem,
        std::time::Duration::from_secs(ttl_secs),
    )
    .await
    {
        Ok(issued) => {
            tracing::info!(token = %issued.id, by = %caller.name, "enrollment token created");
            (
                StatusCode::CREATED,
                Json(serde_json::json!({
                    "token": issued.token,
                    "id": issued.id,
                    "expires_at": humantime::format_rfc3339_seconds(issued.expires_at).to_string(),
                })),
            )
                .into_response()
        }
        Err(e) => store_unavailable("creating a token", &e),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct KnowledgeQuery {
    /// Words the check or a solution contains.
    q: Option<String>,
    /// How many entries at most (default 100, at most 1000).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Where to go on from: the `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of `GET /api/v1/knowledge`, by fingerprint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct KnowledgePage {
    entries: Vec<crate::store::stats::KnowledgeEntry>,
    /// Send it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// `GET /api/v1/knowledge?q=…`: problems and the solutions that worked, searchable, by
/// fingerprint.
#[utoipa::path(get, path = "/knowledge", tag = "knowledge", params(KnowledgeQuery),
    responses((status = 200, body = KnowledgePage), (status = 400, body = ApiError), (status = 401, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn knowledge(
    State(state): State<HttpState>,
    query: Result<Query<KnowledgeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return query_refused(&rejection),
    };
    let paging = match paging::Paging::parse(query.limit.as_deref(), query.cursor.as_deref()) {
        Ok(paging) => paging,
        Err(refusal) => return refusal,
    };
    match state.store.knowledge(query.q.as_deref()).await {
        Ok(entries) => {
            let (entries, next_cursor) =
                paging::page_of(entries, |entry| entry.fingerprint.clone(), &paging);
            Json(KnowledgePage {
                entries,
                next_cursor,
            })
            .into_response()
        }
        Err(e) => store_unavailable("reading the knowledge base", &e),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// The window: tickets opened in the last this many days (default 30).
    days: Option<u32>,
}

/// `GET /api/v1/stats?days=30` (supervisor).
#[utoipa::path(get, path = "/stats", tag = "stats", params(StatsQuery),
    responses((status = 200, body = crate::store::stats::Stats), (status = 403, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn stats(
    State(state): State<HttpState>,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let days = match query {
        Ok(Query(query)) => query.days.unwrap_or(30),
        Err(rejection) => return query_refused(&rejection),
    };
    if !(1..=366).contains(&days) {
        return error(StatusCode::BAD_REQUEST, "days must be between 1 and 366");
    }
    let until = crate::model::now_ms();
    let since = until - i64::from(days) * 86_400_000;
    match state.store.stats(since, until).await {
        Ok(stats) => Json(stats).into_response(),
        Err(e) => store_unavailable("computing stats", &e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: Role,
    password: String,
}

/// `POST /api/v1/users` (admin): adds a person who signs in to the web UI.
#[utoipa::path(post, path = "/users", tag = "admin",
    request_body = NewUser,
    responses((status = 201, description = "Added"), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn add_user(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(NewUser {
        name,
        role,
        password,
    })) = body
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "send {\"name\": \"…\", \"role\": \"technician\", \"password\": \"…\"}",
        );
    };
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "name must be 1-64 letters, digits, '.', '_', '-' or '@'",
        );
    }
    let hashed =
        match tokio::task::spawn_blocking(move || crate::auth::hash_password(&password)).await {
            Ok(Ok(hash)) => hash,
            Ok(Err(e)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
            Err(_) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "hashing the password failed",
                );
            }
        };
    match state
        .store
        .insert_user(&name, role, &hashed, crate::model::now_ms())
        .await
    {
        Ok(()) => {
            tracing::info!(user = %name, role = role.as_str(), by = %caller.name, "user added");
            (
                StatusCode::CREATED,
                Json(serde_json::json!({ "name": name, "role": role })),
            )
                .into_response()
        }
        Err(crate::store::StoreError::DuplicateName { .. }) => error(
            StatusCode::CONFLICT,
            format!("a user named {name:?} already exists"),
        ),
        Err(e) => store_unavailable("adding a user", &e),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}
