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
use crate::store::{Store, TicketFilter};
use crate::tickets::TicketKind;
use crate::tickets::engine::StaffAction;

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "flk_";

pub mod access;
pub mod fixes;
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
        .route_layer(middleware::from_fn(|request, next| {
            access::require(Role::Admin, request, next)
        }));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(technician)
        .merge(supervisor)
        .merge(admin)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ))
        .split_for_parts()
}

pub fn router(state: HttpState) -> Router {
    let (api, openapi) = api(&state);
    let document = Arc::new(openapi);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(healthz))
        .route("/livez", get(livez))
        .route("/metrics", get(crate::metrics::serve))
        .route("/login", post(access::login))
        .route("/logout", post(access::logout))
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .nest("/api/v1", api)
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

/// JSON error body: `{"error": "..."}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ApiError {
    error: String,
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
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

const DEVICE_PAGE_DEFAULT: u32 = 100;
const DEVICE_PAGE_MAX: u32 = 1000;

/// The opaque cursor after a device: its id in hex, so a client cannot mistake it for an id
/// or build one by hand.
fn device_cursor(device_id: &str) -> String {
    device_id.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The device id a cursor stands for, or `None` when it is not one `device_cursor` made.
fn parse_device_cursor(cursor: &str) -> Option<String> {
    if cursor.is_empty() || !cursor.len().is_multiple_of(2) || cursor.len() > 1024 {
        return None;
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(cursor.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
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
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let limit = match query.limit.as_deref() {
        None => DEVICE_PAGE_DEFAULT,
        Some(text) => match text.parse::<u32>() {
            Ok(limit) if (1..=DEVICE_PAGE_MAX).contains(&limit) => limit,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("limit {text:?} must be a number from 1 to {DEVICE_PAGE_MAX}"),
                );
            }
        },
    };
    let after_id = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => match parse_device_cursor(cursor) {
            Some(id) => Some(id),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "cursor {:?} is not one this collector gave out (send the next_cursor of the previous page)",
                        cursor.chars().take(64).collect::<String>()
                    ),
                );
            }
        },
    };
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
        devices.last().map(|device| device_cursor(&device.id))
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

/// `GET /api/v1/tickets` query: every filter optional.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TicketQuery {
    /// A state (new, assigned, in_progress, pending, resolved, closed, cancelled) or "open".
    state: Option<String>,
    priority: Option<u8>,
    tier: Option<u8>,
    device: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, description = "Open tickets first, by priority and due time", body = [crate::store::TicketRecord]), (status = 400, body = ApiError)),
    security(("api_key" = []), ("session" = [])))]
async fn list_tickets(
    State(state): State<HttpState>,
    query: Result<Query<TicketQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    if let Some(wanted) = &query.state
        && wanted != "open"
        && crate::tickets::TicketState::parse(wanted).is_none()
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "state {wanted:?} is not open, new, assigned, in_progress, pending, resolved, closed or cancelled"
            ),
        );
    }
    let kind = match query.kind.as_deref().map(TicketKind::parse) {
        None => None,
        Some(Some(kind)) => Some(kind),
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "kind must be device, incident or report",
            );
        }
    };
    let filter = TicketFilter {
        state: query.state,
        priority: query.priority,
        tier: query.tier,
        device_id: query.device,
        kind,
        limit: query.limit,
    };
    match state.store.tickets(&filter).await {
        Ok(tickets) => Json(tickets).into_response(),
        Err(e) => store_unavailable("listing tickets", &e),
    }
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
    /// Run a playbook on the ticket's device now; the result lands on the timeline.
    Reproduce(ReproduceBody),
}

/// What to reproduce, and how long the request may wait for an offline device.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReproduceBody {
    pub(crate) playbook: String,
    #[serde(default)]
    pub(crate) target: Option<String>,
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
        Err(e @ (ReproduceError::NotOneDevice(_) | ReproduceError::UnknownPlaybook(_))) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
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
    q: Option<String>,
}

/// `GET /api/v1/knowledge?q=…`: problems and the solutions that worked, searchable.
#[utoipa::path(get, path = "/knowledge", tag = "knowledge", params(KnowledgeQuery),
    responses((status = 200, body = [crate::store::stats::KnowledgeEntry])),
    security(("api_key" = []), ("session" = [])))]
async fn knowledge(
    State(state): State<HttpState>,
    query: Result<Query<KnowledgeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "the only filter is q=TEXT");
    };
    match state.store.knowledge(query.q.as_deref()).await {
        Ok(entries) => Json(entries).into_response(),
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
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
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
