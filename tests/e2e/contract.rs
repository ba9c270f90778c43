//! Contract tests for the SaaS ticket systems that cannot run here. Each contract server is
//! built from the vendor's documented request and response shapes (named on each), over one
//! vendor-neutral desk of tickets, and each connector runs the same flow against it: a create
//! whose answer is lost is found rather than repeated, an update throttled with
//! `429 Retry-After` waits that long, replies and notes go out, a person's comment comes back
//! once, the fault clearing resolves the remote ticket, and a person resolving it there
//! closes the Firstline ticket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use firstline_collector::config::Settings;
use firstline_collector::tickets::engine::StaffAction;
use firstline_proto::v1 as pb;
use serde_json::{Value, json};

use crate::support::{SimulatedDevice, TestCollector, wait_for};

/// The connector's account and the person working tickets in the remote system.
const CONNECTOR: (i64, &str) = (1, "firstline@example.com");
const PERSON: (i64, &str) = (2, "Alice Agent");
const SECRET: &str = "contract-secret-0123456789";

#[derive(Debug, Clone)]
struct Event {
    id: u64,
    author: i64,
    at_s: i64,
    what: Happened,
}

#[derive(Debug, Clone)]
enum Happened {
    Comment { body: String, public: bool },
    Status { from: String, to: String },
}

#[derive(Debug, Clone)]
struct DeskTicket {
    id: u64,
    external: String,
    subject: String,
    description: String,
    priority: String,
    status: String,
    updated_s: i64,
    updated_by: i64,
    events: Vec<Event>,
}

/// The remote system's records, whatever its API looks like.
#[derive(Debug, Default)]
struct Desk {
    tickets: Vec<DeskTicket>,
    next_id: u64,
    /// Creates that are stored and then answered 500, as when the answer is lost.
    lose_create_answers: u32,
    /// Answer the next update `429 Retry-After: 1`.
    throttle_next_update: bool,
    throttled_at: Option<Instant>,
    updated_after_throttle_at: Option<Instant>,
    idempotency: HashMap<String, u64>,
    create_calls: u32,
}

type Shared = Arc<Mutex<Desk>>;

fn now_s() -> i64 {
    firstline_collector::model::now_ms() / 1000
}

impl Desk {
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn ticket(&mut self, id: u64) -> Option<&mut DeskTicket> {
        self.tickets.iter_mut().find(|t| t.id == id)
    }

    fn create(
        &mut self,
        external: &str,
        subject: &str,
        description: &str,
        priority: &str,
        status: &str,
    ) -> u64 {
        let id = self.next();
        self.tickets.push(DeskTicket {
            id,
            external: external.to_owned(),
            subject: subject.to_owned(),
            description: description.to_owned(),
            priority: priority.to_owned(),
            status: status.to_owned(),
            updated_s: now_s(),
            updated_by: CONNECTOR.0,
            events: Vec::new(),
        });
        id
    }

    fn comment(&mut self, ticket: u64, author: i64, body: &str, public: bool) {
        let id = self.next();
        if let Some(t) = self.ticket(ticket) {
            t.events.push(Event {
                id,
                author,
                at_s: now_s(),
                what: Happened::Comment {
                    body: body.to_owned(),
                    public,
                },
            });
            t.updated_s = now_s();
            t.updated_by = author;
        }
    }

    fn set_status(&mut self, ticket: u64, author: i64, status: &str) {
        let id = self.next();
        if let Some(t) = self.ticket(ticket) {
            if t.status == status {
                return;
            }
            t.events.push(Event {
                id,
                author,
                at_s: now_s(),
                what: Happened::Status {
                    from: t.status.clone(),
                    to: status.to_owned(),
                },
            });
            t.status = status.to_owned();
            t.updated_s = now_s();
            t.updated_by = author;
        }
    }

    /// A throttled update: true when this one is answered 429.
    fn throttle(&mut self) -> bool {
        if self.throttle_next_update {
            self.throttle_next_update = false;
            self.throttled_at = Some(Instant::now());
            return true;
        }
        if self.throttled_at.is_some() && self.updated_after_throttle_at.is_none() {
            self.updated_after_throttle_at = Some(Instant::now());
        }
        false
    }
}

fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("Retry-After", "1")],
        Json(json!({ "error": "throttled" })),
    )
        .into_response()
}

fn basic(user: &str, secret: &str) -> String {
    firstline_collector::sync::Credentials::basic(user, secret)
}

fn signed_in(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected)
}

// --- Zendesk ---------------------------------------------------------------------------
// Follows developer.zendesk.com/api-reference: Ticketing > Tickets (create with
// `Idempotency-Key`, list by `external_id`, update), Ticket Audits (list), Incremental Exports
// (time-based ticket export: `start_time`, `end_time`, `end_of_stream`), Users (show, me).

fn zendesk_ticket(t: &DeskTicket) -> Value {
    json!({
        "id": t.id,
        "url": format!("https://example.zendesk.com/api/v2/tickets/{}.json", t.id),
        "external_id": t.external,
        "subject": t.subject,
        "description": t.description,
        "priority": t.priority,
        "status": t.status,
        "updated_at": firstline_collector::cli::rfc3339(t.updated_s * 1000),
        "generated_timestamp": t.updated_s,
    })
}

fn zendesk(desk: Shared) -> Router {
    let auth = basic(&format!("{}/token", CONNECTOR.1), SECRET);
    let guard = move |headers: &HeaderMap| signed_in(headers, &auth);
    let g = guard.clone();
    let me = get(move |headers: HeaderMap| async move {
        if !g(&headers) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "Couldn't authenticate you" })),
            )
                .into_response();
        }
        Json(json!({ "user": { "id": CONNECTOR.0, "name": "Firstline", "email": CONNECTOR.1 } }))
            .into_response()
    });
    let user = get(|Path(file): Path<String>| async move {
        let id: i64 = file.trim_end_matches(".json").parse().unwrap_or(0);
        let name = if id == PERSON.0 {
            PERSON.1
        } else {
            "Firstline"
        };
        Json(json!({ "user": { "id": id, "name": name } }))
    });
    let g = guard.clone();
    let tickets = get(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Query(query): Query<HashMap<String, String>>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let desk = desk.lock().expect("desk");
            let external = query.get("external_id").cloned().unwrap_or_default();
            let found: Vec<Value> = desk
                .tickets
                .iter()
                .filter(|t| t.external == external)
                .map(zendesk_ticket)
                .collect();
            Json(json!({ "tickets": found, "count": found.len() })).into_response()
        },
    )
    .post({
        let g = guard.clone();
        move |State(desk): State<Shared>, headers: HeaderMap, Json(body): Json<Value>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let mut desk = desk.lock().expect("desk");
            desk.create_calls += 1;
            let key = headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(id) = key.as_ref().and_then(|k| desk.idempotency.get(k).copied()) {
                let ticket = desk
                    .ticket(id)
                    .map(|t| zendesk_ticket(t))
                    .unwrap_or_default();
                return (
                    StatusCode::CREATED,
                    [("x-idempotency-lookup", "hit")],
                    Json(json!({ "ticket": ticket })),
                )
                    .into_response();
            }
            let t = &body["ticket"];
            let id = desk.create(
                t["external_id"].as_str().unwrap_or_default(),
                t["subject"].as_str().unwrap_or_default(),
                t["comment"]["body"].as_str().unwrap_or_default(),
                t["priority"].as_str().unwrap_or("normal"),
                "new",
            );
            let body_text = t["comment"]["body"].as_str().unwrap_or_default().to_owned();
            desk.comment(
                id,
                CONNECTOR.0,
                &body_text,
                t["comment"]["public"].as_bool().unwrap_or(true),
            );
            if let Some(key) = key {
                desk.idempotency.insert(key, id);
            }
            if desk.lose_create_answers > 0 {
                desk.lose_create_answers -= 1;
                return (StatusCode::INTERNAL_SERVER_ERROR, "lost").into_response();
            }
            let ticket = desk
                .ticket(id)
                .map(|t| zendesk_ticket(t))
                .unwrap_or_default();
            (StatusCode::CREATED, Json(json!({ "ticket": ticket }))).into_response()
        }
    });
    let g = guard.clone();
    let update = axum::routing::put(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Path(file): Path<String>,
              Json(body): Json<Value>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let mut desk = desk.lock().expect("desk");
            if desk.throttle() {
                return too_many();
            }
            let Ok(id) = file.trim_end_matches(".json").parse::<u64>() else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let t = &body["ticket"];
            let Some(ticket) = desk.ticket(id) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            if let Some(subject) = t["subject"].as_str() {
                ticket.subject = subject.to_owned();
            }
            if let Some(priority) = t["priority"].as_str() {
                ticket.priority = priority.to_owned();
            }
            if let Some(body_text) = t["comment"]["body"].as_str() {
                desk.comment(
                    id,
                    CONNECTOR.0,
                    body_text,
                    t["comment"]["public"].as_bool().unwrap_or(true),
                );
            }
            if let Some(status) = t["status"].as_str() {
                desk.set_status(id, CONNECTOR.0, status);
            }
            let ticket = desk
                .ticket(id)
                .map(|t| zendesk_ticket(t))
                .unwrap_or_default();
            Json(json!({ "ticket": ticket })).into_response()
        },
    );
    let g = guard.clone();
    let audits = get(
        move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let mut desk = desk.lock().expect("desk");
            let Some(ticket) = desk.ticket(id) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let audits: Vec<Value> = ticket
            .events
            .iter()
            .map(|e| {
                let event = match &e.what {
                    Happened::Comment { body, public } => json!({ "id": e.id, "type": "Comment", "author_id": e.author, "body": body, "public": public }),
                    Happened::Status { from, to } => json!({ "id": e.id, "type": "Change", "field_name": "status", "value": to, "previous_value": from }),
                };
                json!({ "id": e.id + 100_000, "ticket_id": id, "author_id": e.author, "created_at": firstline_collector::cli::rfc3339(e.at_s * 1000), "events": [event] })
            })
            .collect();
            Json(json!({ "audits": audits, "count": audits.len(), "next_page": null }))
                .into_response()
        },
    );
    let g = guard;
    let incremental = get(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Query(query): Query<HashMap<String, String>>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let Some(start) = query.get("start_time").and_then(|s| s.parse::<i64>().ok()) else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(
                        json!({ "error": "InvalidValue", "description": "start_time is required" }),
                    ),
                )
                    .into_response();
            };
            let desk = desk.lock().expect("desk");
            let changed: Vec<&DeskTicket> = desk
                .tickets
                .iter()
                .filter(|t| t.updated_s >= start)
                .collect();
            let end = changed.iter().map(|t| t.updated_s).max().unwrap_or(start);
            Json(json!({
                "tickets": changed.iter().map(|t| zendesk_ticket(t)).collect::<Vec<_>>(),
                "count": changed.len(),
                "end_time": end,
                "end_of_stream": true,
                "next_page": null,
            }))
            .into_response()
        },
    );
    Router::new()
        .route("/api/v2/users/me.json", me)
        .route("/api/v2/users/{file}", user)
        .route("/api/v2/tickets.json", tickets)
        .route("/api/v2/tickets/{file}", update)
        .route("/api/v2/tickets/{id}/audits.json", audits)
        .route("/api/v2/incremental/tickets.json", incremental)
        .with_state(desk)
}

// --- ServiceNow ------------------------------------------------------------------------
// Follows docs.servicenow.com, REST API reference > Table API: GET/POST
// /api/now/table/{tableName}, PATCH /api/now/table/{tableName}/{sys_id}; every value a string,
// every answer under "result"; encoded queries (`sysparm_query`: `field=value`, `STARTSWITH`,
// `>=`, `IN`, `^` for AND, `ORDERBY`); `sys_journal_field` holding comments and work notes.

fn sys_id(id: u64) -> String {
    format!("{id:032x}")
}

fn user_name(id: i64) -> &'static str {
    if id == PERSON.0 { "alice" } else { "firstline" }
}

fn servicenow_record(t: &DeskTicket) -> Value {
    json!({
        "sys_id": sys_id(t.id),
        "number": format!("INC{:07}", t.id),
        "short_description": t.subject,
        "description": t.description,
        "correlation_id": t.external,
        "priority": t.priority,
        "state": t.status,
        "sys_updated_on": firstline_collector::sync::utc_text(t.updated_s * 1000),
        "sys_updated_by": user_name(t.updated_by),
    })
}

/// The conditions of an encoded query, split on `^` (ORDERBY terms dropped).
fn conditions(query: &str) -> Vec<String> {
    query
        .split('^')
        .filter(|c| !c.starts_with("ORDERBY") && !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A 400 naming the first condition the contract server does not model, so a connector that
/// asks for something else fails its test at once instead of by a timeout.
fn unknown_condition(wanted: &[String], known: &[&str]) -> Option<Response> {
    let unknown = wanted
        .iter()
        .find(|c| !known.iter().any(|prefix| c.starts_with(prefix)))?;
    Some(
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "message": format!("the contract server does not model {unknown:?}") }, "status": "failure" })),
        )
            .into_response(),
    )
}

fn servicenow(desk: Shared) -> Router {
    let auth = basic("firstline", SECRET);
    let guard = move |headers: &HeaderMap| signed_in(headers, &auth);
    let g = guard.clone();
    let incidents = get(
        move |State(desk): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>| async move {
            if !g(&headers) {
                return (StatusCode::UNAUTHORIZED, Json(json!({ "error": { "message": "User Not Authenticated" }, "status": "failure" }))).into_response();
            }
            let desk = desk.lock().expect("desk");
            let wanted = conditions(query.get("sysparm_query").map(String::as_str).unwrap_or_default());
            if let Some(refused) = unknown_condition(&wanted, &["correlation_id=", "correlation_idSTARTSWITH", "sys_updated_on>="]) {
                return refused;
            }
            let mut found: Vec<&DeskTicket> = desk
                .tickets
                .iter()
                .filter(|t| {
                    wanted.iter().all(|c| {
                        if let Some(v) = c.strip_prefix("correlation_id=") {
                            t.external == v
                        } else if let Some(v) = c.strip_prefix("correlation_idSTARTSWITH") {
                            t.external.starts_with(v)
                        } else if let Some(v) = c.strip_prefix("sys_updated_on>=") {
                            firstline_collector::sync::utc_text(t.updated_s * 1000).as_str() >= v
                        } else {
                            false
                        }
                    })
                })
                .collect();
            found.sort_by_key(|t| t.updated_s);
            let limit = query.get("sysparm_limit").and_then(|l| l.parse().ok()).unwrap_or(10_000);
            let result: Vec<Value> = found.iter().take(limit).map(|t| servicenow_record(t)).collect();
            Json(json!({ "result": result })).into_response()
        },
    )
    .post({
        let g = guard.clone();
        move |State(desk): State<Shared>, headers: HeaderMap, Json(body): Json<Value>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let mut desk = desk.lock().expect("desk");
            desk.create_calls += 1;
            let priority = format!("{}/{}", body["impact"].as_str().unwrap_or("3"), body["urgency"].as_str().unwrap_or("3"));
            let id = desk.create(
                body["correlation_id"].as_str().unwrap_or_default(),
                body["short_description"].as_str().unwrap_or_default(),
                body["description"].as_str().unwrap_or_default(),
                &priority,
                "1",
            );
            if desk.lose_create_answers > 0 {
                desk.lose_create_answers -= 1;
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": { "message": "lost" }, "status": "failure" }))).into_response();
            }
            let record = desk.ticket(id).map(|t| servicenow_record(t)).unwrap_or_default();
            (StatusCode::CREATED, Json(json!({ "result": record }))).into_response()
        }
    });
    let g = guard.clone();
    let incident = axum::routing::patch(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Path(id): Path<String>,
              Json(body): Json<Value>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let mut desk = desk.lock().expect("desk");
            if desk.throttle() {
                return too_many();
            }
            let Some(id) = u64::from_str_radix(&id, 16)
                .ok()
                .filter(|id| desk.tickets.iter().any(|t| t.id == *id))
            else {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!({ "error": { "message": "No Record found" }, "status": "failure" })),
                )
                    .into_response();
            };
            let ticket = desk.ticket(id).expect("ticket");
            if let Some(v) = body["short_description"].as_str() {
                ticket.subject = v.to_owned();
            }
            if let (Some(i), Some(u)) = (body["impact"].as_str(), body["urgency"].as_str()) {
                ticket.priority = format!("{i}/{u}");
            }
            if let Some(v) = body["comments"].as_str() {
                desk.comment(id, CONNECTOR.0, v, true);
            }
            if let Some(v) = body["work_notes"].as_str() {
                desk.comment(id, CONNECTOR.0, v, false);
            }
            if let Some(v) = body["close_notes"].as_str() {
                desk.comment(id, CONNECTOR.0, v, false);
            }
            if let Some(v) = body["state"].as_str() {
                desk.set_status(id, CONNECTOR.0, v);
            }
            let record = desk
                .ticket(id)
                .map(|t| servicenow_record(t))
                .unwrap_or_default();
            Json(json!({ "result": record })).into_response()
        },
    );
    let guard_audit = guard.clone();
    let g = guard;
    let journal = get(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Query(query): Query<HashMap<String, String>>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let desk = desk.lock().expect("desk");
            let wanted = conditions(
                query
                    .get("sysparm_query")
                    .map(String::as_str)
                    .unwrap_or_default(),
            );
            if let Some(refused) =
                unknown_condition(&wanted, &["element_id=", "elementIN", "sys_created_on>="])
            {
                return refused;
            }
            let mut result = Vec::new();
            for t in &desk.tickets {
                for e in &t.events {
                    let Happened::Comment { body, public } = &e.what else {
                        continue;
                    };
                    let element = if *public { "comments" } else { "work_notes" };
                    let created = firstline_collector::sync::utc_text(e.at_s * 1000);
                    let keep = wanted.iter().all(|c| {
                        if let Some(v) = c.strip_prefix("element_id=") {
                            sys_id(t.id) == v
                        } else if let Some(v) = c.strip_prefix("elementIN") {
                            v.split(',').any(|x| x == element)
                        } else if let Some(v) = c.strip_prefix("sys_created_on>=") {
                            created.as_str() >= v
                        } else {
                            false
                        }
                    });
                    if keep {
                        result.push(json!({ "sys_id": sys_id(e.id), "element_id": sys_id(t.id), "element": element, "value": body, "sys_created_by": user_name(e.author), "sys_created_on": created }));
                    }
                }
            }
            Json(json!({ "result": result })).into_response()
        },
    );
    let g = guard_audit;
    let audit = get(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Query(query): Query<HashMap<String, String>>| async move {
            if !g(&headers) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let desk = desk.lock().expect("desk");
            let wanted = conditions(
                query
                    .get("sysparm_query")
                    .map(String::as_str)
                    .unwrap_or_default(),
            );
            if let Some(refused) = unknown_condition(
                &wanted,
                &[
                    "documentkey=",
                    "tablename=",
                    "fieldname=",
                    "sys_created_on>=",
                ],
            ) {
                return refused;
            }
            let mut result = Vec::new();
            for t in &desk.tickets {
                for e in &t.events {
                    let Happened::Status { from, to } = &e.what else {
                        continue;
                    };
                    let created = firstline_collector::sync::utc_text(e.at_s * 1000);
                    let keep = wanted.iter().all(|c| {
                        if let Some(v) = c.strip_prefix("documentkey=") {
                            sys_id(t.id) == v
                        } else if let Some(v) = c.strip_prefix("tablename=") {
                            v == "incident"
                        } else if let Some(v) = c.strip_prefix("fieldname=") {
                            v == "state"
                        } else if let Some(v) = c.strip_prefix("sys_created_on>=") {
                            created.as_str() >= v
                        } else {
                            false
                        }
                    });
                    if keep {
                        result.push(json!({ "sys_id": sys_id(e.id), "documentkey": sys_id(t.id), "tablename": "incident", "fieldname": "state", "oldvalue": from, "newvalue": to, "user": user_name(e.author), "sys_created_on": created }));
                    }
                }
            }
            Json(json!({ "result": result })).into_response()
        },
    );
    Router::new()
        .route("/api/now/table/incident", incidents)
        .route("/api/now/table/incident/{id}", incident)
        .route("/api/now/table/sys_journal_field", journal)
        .route("/api/now/table/sys_audit", audit)
        .with_state(desk)
}

// --- Jira Service Management -----------------------------------------------------------
// Follows developer.atlassian.com/cloud/jira/platform/rest/v3: Issues (create with
// `properties`, edit, get transitions, transition issue, get changelogs), Issue search
// (`POST /rest/api/3/search/jql`), Issue comments (add with the `sd.public.comment`
// property, get), Myself; text in Atlassian Document Format.

fn jira_key(id: u64) -> String {
    format!("FL-{id}")
}

fn jira_done(status: &str) -> bool {
    matches!(status, "Resolved" | "Closed" | "Done")
}

fn jira_account(id: i64) -> Value {
    if id == PERSON.0 {
        json!({ "accountId": "acc-alice", "displayName": PERSON.1 })
    } else {
        json!({ "accountId": "acc-firstline", "displayName": "Firstline" })
    }
}

fn jira_issue(t: &DeskTicket) -> Value {
    json!({
        "id": t.id.to_string(),
        "key": jira_key(t.id),
        "fields": {
            "summary": t.subject,
            "status": { "name": t.status, "statusCategory": { "key": if jira_done(&t.status) { "done" } else { "new" } } },
            "updated": firstline_collector::cli::rfc3339(t.updated_s * 1000),
        },
    })
}

fn jira_id(key: &str) -> Option<u64> {
    key.strip_prefix("FL-")?.parse().ok()
}

fn jira(desk: Shared) -> Router {
    let auth: &'static str = Box::leak(basic(CONNECTOR.1, SECRET).into_boxed_str());
    let ok = move |headers: &HeaderMap| signed_in(headers, auth);
    macro_rules! guarded {
        ($headers:expr) => {
            if !ok(&$headers) {
                return (StatusCode::UNAUTHORIZED, Json(json!({ "errorMessages": ["Client must be authenticated"] }))).into_response();
            }
        };
    }
    let myself = get(move |headers: HeaderMap| async move {
        guarded!(headers);
        Json(jira_account(CONNECTOR.0)).into_response()
    });
    let search = axum::routing::post(
        move |State(desk): State<Shared>, headers: HeaderMap, Json(body): Json<Value>| async move {
            guarded!(headers);
            let jql = body["jql"].as_str().unwrap_or_default().to_owned();
            let desk = desk.lock().expect("desk");
            let issues: Vec<Value> = if let Some(rest) =
                jql.strip_prefix("issue.property[firstline].id = \"")
            {
                let id = rest.trim_end_matches('"');
                desk.tickets
                    .iter()
                    .filter(|t| t.external == id)
                    .map(jira_issue)
                    .collect()
            } else if let Some(rest) =
                jql.strip_prefix("issue.property[firstline].id IS NOT EMPTY AND updated >= \"")
            {
                let since = &rest[..16];
                let mut found: Vec<&DeskTicket> = desk
                    .tickets
                    .iter()
                    .filter(|t| {
                        firstline_collector::sync::utc_text(t.updated_s * 1000)[..16] >= *since
                    })
                    .collect();
                found.sort_by_key(|t| t.updated_s);
                found.into_iter().map(jira_issue).collect()
            } else {
                return (StatusCode::BAD_REQUEST, Json(json!({ "errorMessages": [format!("the contract server does not know the JQL {jql:?}")] }))).into_response();
            };
            Json(json!({ "issues": issues, "isLast": true })).into_response()
        },
    );
    let create = axum::routing::post(
        move |State(desk): State<Shared>, headers: HeaderMap, Json(body): Json<Value>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            desk.create_calls += 1;
            let fields = &body["fields"];
            if fields["project"]["key"].as_str().is_none()
                || fields["issuetype"]["name"].as_str().is_none()
            {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "errors": { "project": "project is required" } })),
                )
                    .into_response();
            }
            let external = body["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["key"] == "firstline")
                .and_then(|p| p["value"]["id"].as_str())
                .unwrap_or_default()
                .to_owned();
            let description = firstline_collector::sync::jira::adf_text(&fields["description"]);
            let id = desk.create(
                &external,
                fields["summary"].as_str().unwrap_or_default(),
                &description,
                fields["priority"]["name"].as_str().unwrap_or("Medium"),
                "Open",
            );
            if desk.lose_create_answers > 0 {
                desk.lose_create_answers -= 1;
                return (StatusCode::INTERNAL_SERVER_ERROR, "lost").into_response();
            }
            (StatusCode::CREATED, Json(json!({ "id": id.to_string(), "key": jira_key(id), "self": format!("https://example.atlassian.net/rest/api/3/issue/{id}") }))).into_response()
        },
    );
    let edit = axum::routing::put(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Path(key): Path<String>,
              Json(body): Json<Value>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            if desk.throttle() {
                return too_many();
            }
            let Some(ticket) = jira_id(&key).and_then(|id| desk.ticket(id)) else {
                return (StatusCode::NOT_FOUND, Json(json!({ "errorMessages": ["Issue does not exist or you do not have permission to see it."] }))).into_response();
            };
            if let Some(summary) = body["fields"]["summary"].as_str() {
                ticket.subject = summary.to_owned();
            }
            if let Some(priority) = body["fields"]["priority"]["name"].as_str() {
                ticket.priority = priority.to_owned();
            }
            StatusCode::NO_CONTENT.into_response()
        },
    );
    let comments = get(move |State(desk): State<Shared>, headers: HeaderMap, Path(key): Path<String>| async move {
        guarded!(headers);
        let mut desk = desk.lock().expect("desk");
        let Some(ticket) = jira_id(&key).and_then(|id| desk.ticket(id)) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let comments: Vec<Value> = ticket
            .events
            .iter()
            .filter_map(|e| match &e.what {
                Happened::Comment { body, .. } => Some(json!({ "id": e.id.to_string(), "author": jira_account(e.author), "body": firstline_collector::sync::jira::adf(body), "created": firstline_collector::cli::rfc3339(e.at_s * 1000) })),
                Happened::Status { .. } => None,
            })
            .collect();
        Json(json!({ "comments": comments, "total": comments.len(), "startAt": 0, "maxResults": 100 })).into_response()
    })
    .post({
        move |State(desk): State<Shared>, headers: HeaderMap, Path(key): Path<String>, Json(body): Json<Value>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            let Some(id) = jira_id(&key).filter(|id| desk.tickets.iter().any(|t| t.id == *id)) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let internal = body["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["key"] == "sd.public.comment" && p["value"]["internal"] == true);
            desk.comment(id, CONNECTOR.0, &firstline_collector::sync::jira::adf_text(&body["body"]), !internal);
            (StatusCode::CREATED, Json(json!({ "id": desk.next_id.to_string() }))).into_response()
        }
    });
    let transitions_list = json!({ "transitions": [
        { "id": "11", "name": "Start progress", "to": { "name": "In Progress", "statusCategory": { "key": "indeterminate" } } },
        { "id": "31", "name": "Resolve", "to": { "name": "Resolved", "statusCategory": { "key": "done" } } },
        { "id": "41", "name": "Close", "to": { "name": "Closed", "statusCategory": { "key": "done" } } },
    ]});
    let listed = transitions_list.clone();
    let transitions = get(move |headers: HeaderMap| async move {
        guarded!(headers);
        Json(listed).into_response()
    })
    .post({
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Path(key): Path<String>,
              Json(body): Json<Value>| async move {
            guarded!(headers);
            let wanted = body["transition"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let Some(to) = transitions_list["transitions"]
                .as_array()
                .expect("list")
                .iter()
                .find(|t| t["id"] == wanted.as_str())
                .and_then(|t| t["to"]["name"].as_str())
            else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(
                        json!({ "errorMessages": ["Transition id is not valid for this issue."] }),
                    ),
                )
                    .into_response();
            };
            let mut desk = desk.lock().expect("desk");
            let Some(id) = jira_id(&key) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            desk.set_status(id, CONNECTOR.0, to);
            StatusCode::NO_CONTENT.into_response()
        }
    });
    let changelog = get(
        move |State(desk): State<Shared>, headers: HeaderMap, Path(key): Path<String>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            let Some(ticket) = jira_id(&key).and_then(|id| desk.ticket(id)) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let values: Vec<Value> = ticket
            .events
            .iter()
            .filter_map(|e| match &e.what {
                Happened::Status { from, to } => Some(json!({ "id": e.id.to_string(), "author": jira_account(e.author), "created": firstline_collector::cli::rfc3339(e.at_s * 1000), "items": [{ "field": "status", "fromString": from, "toString": to }] })),
                Happened::Comment { .. } => None,
            })
            .collect();
            Json(json!({ "values": values, "isLast": true })).into_response()
        },
    );
    Router::new()
        .route("/rest/api/3/myself", myself)
        .route("/rest/api/3/search/jql", search)
        .route("/rest/api/3/issue", create)
        .route("/rest/api/3/issue/{key}", edit)
        .route("/rest/api/3/issue/{key}/comment", comments)
        .route("/rest/api/3/issue/{key}/transitions", transitions)
        .route("/rest/api/3/issue/{key}/changelog", changelog)
        .with_state(desk)
}

// --- Freshservice ---------------------------------------------------------------------
// Follows api.freshservice.com (v2): Tickets (create — `email` or `requester_id` required —,
// update, filter with `query="field:'value'"`, list with `updated_since`, reply, create a
// note, list conversations, activities) and Agents (view, me); Basic auth with the API key.

fn freshservice_status(status: &str) -> &'static str {
    match status {
        "2" => "Open",
        "3" => "Pending",
        "4" => "Resolved",
        "5" => "Closed",
        _ => "Unknown",
    }
}

fn freshservice_ticket(t: &DeskTicket) -> Value {
    json!({
        "id": t.id,
        "subject": t.subject,
        "description": t.description,
        "priority": t.priority.parse::<i64>().unwrap_or(1),
        "status": t.status.parse::<i64>().unwrap_or(2),
        "updated_at": firstline_collector::cli::rfc3339(t.updated_s * 1000),
        "custom_fields": { "firstline_id": t.external },
    })
}

fn freshservice(desk: Shared) -> Router {
    let auth: &'static str = Box::leak(basic(SECRET, "X").into_boxed_str());
    let ok = move |headers: &HeaderMap| signed_in(headers, auth);
    macro_rules! guarded {
        ($headers:expr) => {
            if !ok(&$headers) {
                return (StatusCode::UNAUTHORIZED, Json(json!({ "code": "access_denied", "message": "You are not authorized to perform this action." }))).into_response();
            }
        };
    }
    let me = get(move |headers: HeaderMap| async move {
        guarded!(headers);
        Json(json!({ "agent": { "id": CONNECTOR.0, "first_name": "Firstline", "last_name": "" } }))
            .into_response()
    });
    let agent = get(move |headers: HeaderMap, Path(id): Path<i64>| async move {
        guarded!(headers);
        let (first, last) = if id == PERSON.0 {
            ("Alice", "Agent")
        } else {
            ("Firstline", "")
        };
        Json(json!({ "agent": { "id": id, "first_name": first, "last_name": last } }))
            .into_response()
    });
    let filter = get(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Query(query): Query<HashMap<String, String>>| async move {
            guarded!(headers);
            let wanted = query.get("query").cloned().unwrap_or_default();
            let Some(id) = wanted
                .strip_prefix("\"firstline_id:'")
                .and_then(|r| r.strip_suffix("'\""))
            else {
                return (StatusCode::BAD_REQUEST, Json(json!({ "description": "Validation failed", "errors": [{ "field": "query", "message": "invalid query", "code": "invalid_value" }] }))).into_response();
            };
            let desk = desk.lock().expect("desk");
            let found: Vec<Value> = desk
                .tickets
                .iter()
                .filter(|t| t.external == id)
                .map(freshservice_ticket)
                .collect();
            Json(json!({ "tickets": found, "total": found.len() })).into_response()
        },
    );
    let tickets = get(move |State(desk): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>| async move {
        guarded!(headers);
        let since = query.get("updated_since").cloned().unwrap_or_default();
        let desk = desk.lock().expect("desk");
        let found: Vec<Value> = desk
            .tickets
            .iter()
            .filter(|t| firstline_collector::cli::rfc3339(t.updated_s * 1000) >= since)
            .map(freshservice_ticket)
            .collect();
        Json(json!({ "tickets": found })).into_response()
    })
    .post({
        move |State(desk): State<Shared>, headers: HeaderMap, Json(body): Json<Value>| async move {
            guarded!(headers);
            if body["email"].as_str().is_none() && body["requester_id"].as_i64().is_none() {
                return (StatusCode::BAD_REQUEST, Json(json!({ "description": "Validation failed", "errors": [{ "field": "requester_id", "message": "Please fill at least 1 of email, phone, requester_id fields", "code": "missing_field" }] }))).into_response();
            }
            let mut desk = desk.lock().expect("desk");
            desk.create_calls += 1;
            let id = desk.create(
                body["custom_fields"]["firstline_id"].as_str().unwrap_or_default(),
                body["subject"].as_str().unwrap_or_default(),
                body["description"].as_str().unwrap_or_default(),
                &body["priority"].as_i64().unwrap_or(1).to_string(),
                &body["status"].as_i64().unwrap_or(2).to_string(),
            );
            if desk.lose_create_answers > 0 {
                desk.lose_create_answers -= 1;
                return (StatusCode::INTERNAL_SERVER_ERROR, "lost").into_response();
            }
            let ticket = desk.ticket(id).map(|t| freshservice_ticket(t)).unwrap_or_default();
            (StatusCode::CREATED, Json(json!({ "ticket": ticket }))).into_response()
        }
    });
    let update = axum::routing::put(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Path(id): Path<u64>,
              Json(body): Json<Value>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            if desk.throttle() {
                return too_many();
            }
            let Some(ticket) = desk.ticket(id) else {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!({ "code": "access_denied" })),
                )
                    .into_response();
            };
            if let Some(subject) = body["subject"].as_str() {
                ticket.subject = subject.to_owned();
            }
            if let Some(priority) = body["priority"].as_i64() {
                ticket.priority = priority.to_string();
            }
            if let Some(status) = body["status"].as_i64() {
                desk.set_status(id, CONNECTOR.0, &status.to_string());
            }
            let ticket = desk
                .ticket(id)
                .map(|t| freshservice_ticket(t))
                .unwrap_or_default();
            Json(json!({ "ticket": ticket })).into_response()
        },
    );
    let add = |public: bool| {
        axum::routing::post(
            move |State(desk): State<Shared>,
                  headers: HeaderMap,
                  Path(id): Path<u64>,
                  Json(body): Json<Value>| async move {
                guarded!(headers);
                let mut desk = desk.lock().expect("desk");
                if !desk.tickets.iter().any(|t| t.id == id) {
                    return StatusCode::NOT_FOUND.into_response();
                }
                let private = body["private"].as_bool().unwrap_or(!public);
                let text = body["body"]
                    .as_str()
                    .unwrap_or_default()
                    .replace("<br>", "\n");
                desk.comment(id, CONNECTOR.0, &text, public && !private);
                (StatusCode::CREATED, Json(json!({ "conversation": { "id": desk.next_id, "body": text, "private": private } }))).into_response()
            },
        )
    };
    let conversations = get(
        move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            let Some(ticket) = desk.ticket(id) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let conversations: Vec<Value> = ticket
            .events
            .iter()
            .filter_map(|e| match &e.what {
                Happened::Comment { body, public } => Some(json!({ "id": e.id, "user_id": e.author, "body_text": body, "body": body, "private": !public, "created_at": firstline_collector::cli::rfc3339(e.at_s * 1000) })),
                Happened::Status { .. } => None,
            })
            .collect();
            Json(json!({ "conversations": conversations })).into_response()
        },
    );
    let activities = get(
        move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            let Some(ticket) = desk.ticket(id) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let activities: Vec<Value> = ticket
            .events
            .iter()
            .filter_map(|e| match &e.what {
                Happened::Status { to, .. } => Some(json!({
                    "actor": { "id": e.author, "name": if e.author == PERSON.0 { PERSON.1 } else { "Firstline" } },
                    "content": format!(" set Status as {}", freshservice_status(to)),
                    "sub_contents": [],
                    "created_at": firstline_collector::cli::rfc3339(e.at_s * 1000),
                })),
                Happened::Comment { .. } => None,
            })
            .collect();
            Json(json!({ "activities": activities })).into_response()
        },
    );
    Router::new()
        .route("/api/v2/agents/me", me)
        .route("/api/v2/agents/{id}", agent)
        .route("/api/v2/tickets/filter", filter)
        .route("/api/v2/tickets", tickets)
        .route("/api/v2/tickets/{id}", update)
        .route("/api/v2/tickets/{id}/reply", add(true))
        .route("/api/v2/tickets/{id}/notes", add(false))
        .route("/api/v2/tickets/{id}/conversations", conversations)
        .route("/api/v2/tickets/{id}/activities", activities)
        .with_state(desk)
}

// --- GLPI -------------------------------------------------------------------------------
// Follows GLPI's apirest.md: initSession (`Authorization: user_token …`), getFullSession,
// getItems (`searchText[field]`, `range`), getItem, addItems / updateItems (`{"input": …}`),
// sub-items (`Ticket/{id}/ITILFollowup`, `Ticket/{id}/ITILSolution`), search (`criteria`,
// `forcedisplay`; option 2 is the id, 19 `date_mod`), User; every call after sign-in carries
// `Session-Token`.

const GLPI_SESSION: &str = "glpi-session-token-1";

fn glpi_ticket(t: &DeskTicket) -> Value {
    json!({
        "id": t.id,
        "name": t.subject,
        "content": t.description,
        "externalid": t.external,
        "status": t.status.parse::<i64>().unwrap_or(1),
        "priority": t.priority.parse::<i64>().unwrap_or(3),
        "date_mod": firstline_collector::sync::utc_text(t.updated_s * 1000),
    })
}

fn glpi(desk: Shared) -> Router {
    let session = |headers: &HeaderMap| {
        headers.get("session-token").and_then(|v| v.to_str().ok()) == Some(GLPI_SESSION)
    };
    macro_rules! guarded {
        ($headers:expr) => {
            if !session(&$headers) {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!([
                        "ERROR_SESSION_TOKEN_INVALID",
                        "session_token seems invalid"
                    ])),
                )
                    .into_response();
            }
        };
    }
    let init = get(|headers: HeaderMap| async move {
        let expected = format!("user_token {SECRET}");
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!([
                    "ERROR_GLPI_LOGIN_USER_TOKEN",
                    "parameter user_token seems invalid"
                ])),
            )
                .into_response();
        }
        Json(json!({ "session_token": GLPI_SESSION })).into_response()
    });
    let full = get(move |headers: HeaderMap| async move {
        guarded!(headers);
        Json(json!({ "session": { "glpiID": CONNECTOR.0, "glpiname": "firstline" } }))
            .into_response()
    });
    let user = get(move |headers: HeaderMap, Path(id): Path<i64>| async move {
        guarded!(headers);
        let (login, first, real) = if id == PERSON.0 {
            ("alice", "Alice", "Agent")
        } else {
            ("firstline", "", "")
        };
        Json(json!({ "id": id, "name": login, "firstname": first, "realname": real }))
            .into_response()
    });
    let tickets = get(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Query(query): Query<HashMap<String, String>>| async move {
            guarded!(headers);
            let like = query
                .get("searchText[externalid]")
                .cloned()
                .unwrap_or_default();
            // LIKE %text%, with ^ and $ anchoring it, as GLPI's text search reads them.
            let matches = |value: &str| match (like.strip_prefix('^'), like.ends_with('$')) {
                (Some(rest), true) => value == rest.trim_end_matches('$'),
                (Some(rest), false) => value.starts_with(rest),
                (None, true) => value.ends_with(like.trim_end_matches('$')),
                (None, false) => value.contains(like.as_str()),
            };
            let desk = desk.lock().expect("desk");
            let found: Vec<Value> = desk
                .tickets
                .iter()
                .filter(|t| matches(&t.external))
                .map(glpi_ticket)
                .collect();
            Json(json!(found)).into_response()
        },
    )
    .post(
        move |State(desk): State<Shared>, headers: HeaderMap, Json(body): Json<Value>| async move {
            guarded!(headers);
            let input = &body["input"];
            let mut desk = desk.lock().expect("desk");
            desk.create_calls += 1;
            let id = desk.create(
                input["externalid"].as_str().unwrap_or_default(),
                input["name"].as_str().unwrap_or_default(),
                input["content"].as_str().unwrap_or_default(),
                &input["priority"].as_i64().unwrap_or(3).to_string(),
                "1",
            );
            if desk.lose_create_answers > 0 {
                desk.lose_create_answers -= 1;
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!(["ERROR", "lost"])),
                )
                    .into_response();
            }
            (
                StatusCode::CREATED,
                Json(json!({ "id": id, "message": "" })),
            )
                .into_response()
        },
    );
    let ticket = get(
        move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            match desk.ticket(id) {
                Some(t) => Json(glpi_ticket(t)).into_response(),
                None => (
                    StatusCode::NOT_FOUND,
                    Json(json!(["ERROR_ITEM_NOT_FOUND", "Item not found"])),
                )
                    .into_response(),
            }
        },
    )
    .put(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Path(id): Path<u64>,
              Json(body): Json<Value>| async move {
            guarded!(headers);
            let mut desk = desk.lock().expect("desk");
            if desk.throttle() {
                return too_many();
            }
            let input = &body["input"];
            let Some(ticket) = desk.ticket(id) else {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!(["ERROR_ITEM_NOT_FOUND", "Item not found"])),
                )
                    .into_response();
            };
            if let Some(name) = input["name"].as_str() {
                ticket.subject = name.to_owned();
            }
            if let Some(priority) = input["priority"].as_i64() {
                ticket.priority = priority.to_string();
            }
            if let Some(status) = input["status"].as_i64() {
                desk.set_status(id, CONNECTOR.0, &status.to_string());
            }
            Json(json!([{ id.to_string(): true, "message": "" }])).into_response()
        },
    );
    let followups = get(move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>| async move {
        guarded!(headers);
        let mut desk = desk.lock().expect("desk");
        let Some(ticket) = desk.ticket(id) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let list: Vec<Value> = ticket
            .events
            .iter()
            .filter_map(|e| match &e.what {
                // GLPI keeps text as escaped HTML.
                Happened::Comment { body, public } => Some(json!({ "id": e.id, "users_id": e.author, "content": format!("&lt;p&gt;{}&lt;/p&gt;", body.replace('&', "&amp;")), "is_private": i64::from(!public), "date": firstline_collector::sync::utc_text(e.at_s * 1000) })),
                Happened::Status { .. } => None,
            })
            .collect();
        Json(json!(list)).into_response()
    })
    .post(move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>, Json(body): Json<Value>| async move {
        guarded!(headers);
        let input = &body["input"];
        if input["itemtype"] != "Ticket" || input["items_id"].as_u64() != Some(id) {
            return (StatusCode::BAD_REQUEST, Json(json!(["ERROR_BAD_ARRAY", "itemtype and items_id are required"]))).into_response();
        }
        let mut desk = desk.lock().expect("desk");
        desk.comment(id, CONNECTOR.0, input["content"].as_str().unwrap_or_default(), input["is_private"].as_i64() == Some(0));
        (StatusCode::CREATED, Json(json!({ "id": desk.next_id, "message": "" }))).into_response()
    });
    let solutions = get(move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>| async move {
        guarded!(headers);
        let mut desk = desk.lock().expect("desk");
        let Some(ticket) = desk.ticket(id) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let list: Vec<Value> = ticket
            .events
            .iter()
            .filter_map(|e| match &e.what {
                Happened::Status { to, .. } if to == "5" => Some(json!({ "id": e.id, "users_id": e.author, "content": "solved", "status": 2 })),
                _ => None,
            })
            .collect();
        Json(json!(list)).into_response()
    })
    .post(move |State(desk): State<Shared>, headers: HeaderMap, Path(id): Path<u64>, Json(body): Json<Value>| async move {
        guarded!(headers);
        let input = &body["input"];
        let mut desk = desk.lock().expect("desk");
        desk.comment(id, CONNECTOR.0, input["content"].as_str().unwrap_or_default(), false);
        desk.set_status(id, CONNECTOR.0, "5");
        (StatusCode::CREATED, Json(json!({ "id": desk.next_id, "message": "" }))).into_response()
    });
    let search = get(
        move |State(desk): State<Shared>,
              headers: HeaderMap,
              Query(query): Query<HashMap<String, String>>| async move {
            guarded!(headers);
            if query.get("criteria[0][field]").map(String::as_str) != Some("19")
                || query.get("criteria[0][searchtype]").map(String::as_str) != Some("morethan")
            {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!([
                        "ERROR",
                        "the contract server knows date_mod morethan only"
                    ])),
                )
                    .into_response();
            }
            let since = query.get("criteria[0][value]").cloned().unwrap_or_default();
            let desk = desk.lock().expect("desk");
            let data: Vec<Value> = desk
            .tickets
            .iter()
            .filter(|t| firstline_collector::sync::utc_text(t.updated_s * 1000) > since)
            .map(|t| json!({ "2": t.id, "19": firstline_collector::sync::utc_text(t.updated_s * 1000) }))
            .collect();
            Json(json!({ "totalcount": data.len(), "count": data.len(), "data": data }))
                .into_response()
        },
    );
    Router::new()
        .route("/apirest.php/initSession", init)
        .route("/apirest.php/getFullSession", full)
        .route("/apirest.php/User/{id}", user)
        .route("/apirest.php/Ticket", tickets)
        .route("/apirest.php/Ticket/{id}", ticket)
        .route("/apirest.php/Ticket/{id}/ITILFollowup", followups)
        .route("/apirest.php/Ticket/{id}/ITILSolution", solutions)
        .route("/apirest.php/search/Ticket", search)
        .with_state(desk)
}

// --- The flow every connector passes ---------------------------------------------------

struct Vendor {
    kind: &'static str,
    router: fn(Shared) -> Router,
    /// After the server's address in `url`.
    path: &'static str,
    /// Sign-in and the keys this kind requires.
    credentials: &'static str,
    /// The remote statuses of "solved by Firstline" and of "a person resolved it".
    resolved: &'static str,
    person_resolves: &'static str,
}

async fn contract(vendor: Vendor) {
    let desk: Shared = Arc::new(Mutex::new(Desk {
        lose_create_answers: 1,
        ..Desk::default()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = (vendor.router)(desk.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let systems = Settings::parse(
        &format!(
            "[[ticket_systems]]\nname = \"desk\"\nkind = \"{}\"\nurl = \"http://{address}{}\"\n{}\npoll_interval = \"300ms\"\nretry_initial = \"200ms\"\nretry_max = \"1s\"\n",
            vendor.kind, vendor.path, vendor.credentials
        ),
        std::path::Path::new("collector.toml"),
    )
    .expect("config")
    .ticket_systems;
    let collector = TestCollector::start_with(|settings| settings.ticket_systems = systems).await;
    let store = collector.running().store.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity.clone(), "hq", "192.0.2.53").await;
    let desk_ticket = |external: String| {
        let desk = desk.clone();
        move || {
            let desk = desk.clone();
            let external = external.clone();
            async move {
                desk.lock()
                    .expect("desk")
                    .tickets
                    .iter()
                    .find(|t| t.external == external)
                    .cloned()
            }
        }
    };

    // A create whose answer is lost: found by the Firstline id, not made twice.
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let first = wait_for("the ticket", || async {
        store
            .tickets(&Default::default())
            .await
            .ok()?
            .into_iter()
            .find(|t| t.check == "disk.free_low")
            .map(|t| t.id)
    })
    .await;
    let key = format!("firstline-{first}");
    wait_for("the link", || async {
        store
            .ticket_sync(first)
            .await
            .ok()?
            .into_iter()
            .find(|l| !l.remote_id.is_empty())
    })
    .await;
    let remote = wait_for("the remote ticket", desk_ticket(key.clone())).await;
    assert_eq!(
        desk.lock().expect("desk").tickets.len(),
        1,
        "{}: one remote ticket",
        vendor.kind
    );
    assert!(
        remote.description.contains("disk.free_low"),
        "{}: the evidence travels: {}",
        vendor.kind,
        remote.description
    );
    let timeline = store
        .ticket_detail(first)
        .await
        .expect("detail")
        .expect("ticket")
        .timeline;
    assert!(
        timeline
            .iter()
            .any(|e| e.kind == "sync" && e.text.contains("found again")),
        "{}: {timeline:#?}",
        vendor.kind
    );

    // An update throttled with 429 waits for Retry-After.
    desk.lock().expect("desk").throttle_next_update = true;
    store
        .staff_action(
            first,
            "tina",
            &StaffAction::Escalate {
                reason: "needs the storage team".to_owned(),
            },
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("escalate");
    let note = wait_for("the escalation noted remotely", || {
        let find = desk_ticket(key.clone());
        async move {
            find().await?.events.iter().find_map(|e| match &e.what {
                Happened::Comment {
                    body,
                    public: false,
                } if body.contains("Escalated to tier 2") => Some(body.clone()),
                _ => None,
            })
        }
    })
    .await;
    let (throttled, retried) = {
        let desk = desk.lock().expect("desk");
        (
            desk.throttled_at.expect("throttled"),
            desk.updated_after_throttle_at.expect("retried"),
        )
    };
    assert!(
        retried.duration_since(throttled) >= Duration::from_millis(950),
        "{}: Retry-After honoured ({:?})",
        vendor.kind,
        retried.duration_since(throttled)
    );
    assert!(!note.is_empty());

    // A public reply goes out public; a person's comment there comes back once.
    store
        .staff_action(
            first,
            "tina",
            &StaffAction::Reply {
                text: "Cleaning the disk now.".to_owned(),
            },
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("reply");
    wait_for("the public reply", || {
        let find = desk_ticket(key.clone());
        async move {
            find().await?.events.iter().any(|e| matches!(&e.what, Happened::Comment { body, public: true } if body.contains("Cleaning the disk now."))).then_some(())
        }
    })
    .await;
    desk.lock().expect("desk").comment(
        remote.id,
        PERSON.0,
        "The archive share fills it every night.",
        true,
    );
    wait_for("the person's comment on the timeline", || async {
        let detail = store.ticket_detail(first).await.ok()??;
        detail
            .timeline
            .iter()
            .any(|e| e.text.contains("archive share fills it"))
            .then_some(())
    })
    .await;

    // The fault clears: the remote ticket is resolved.
    device.report("disk.free_low", "/", pb::Severity::Ok).await;
    wait_for("the remote ticket resolved", || {
        let find = desk_ticket(key.clone());
        async move { (find().await?.status == vendor.resolved).then_some(()) }
    })
    .await;
    let detail = store
        .ticket_detail(first)
        .await
        .expect("detail")
        .expect("ticket");
    assert_eq!(
        detail
            .timeline
            .iter()
            .filter(|e| e.text.contains("archive share fills it"))
            .count(),
        1,
        "{}: the comment came back once",
        vendor.kind
    );

    // Nothing the connector wrote comes back, however often it polls: the reply is on the
    // timeline once, the only entry from the remote system is the person's, and the ticket
    // its own resolve went out for stays resolved (not closed by that resolve's echo).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let detail = store
        .ticket_detail(first)
        .await
        .expect("detail")
        .expect("ticket");
    assert_eq!(
        detail
            .timeline
            .iter()
            .filter(|e| e.text.contains("Cleaning the disk now."))
            .count(),
        1,
        "{}: {:#?}",
        vendor.kind,
        detail.timeline
    );
    let from_remote: Vec<&str> = detail
        .timeline
        .iter()
        .filter(|e| e.actor.as_deref().is_some_and(|a| a.ends_with("(desk)")))
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        from_remote,
        ["The archive share fills it every night."],
        "{}",
        vendor.kind
    );
    assert_eq!(detail.ticket.state.as_str(), "resolved", "{}", vendor.kind);

    // A person resolving a ticket there closes it here.
    device
        .report("memory.available_low", "ram", pb::Severity::Warning)
        .await;
    let second = wait_for("the second ticket", || async {
        store
            .tickets(&Default::default())
            .await
            .ok()?
            .into_iter()
            .find(|t| t.check == "memory.available_low")
            .map(|t| t.id)
    })
    .await;
    let remote_second = wait_for(
        "the second remote ticket",
        desk_ticket(format!("firstline-{second}")),
    )
    .await;
    desk.lock()
        .expect("desk")
        .set_status(remote_second.id, PERSON.0, vendor.person_resolves);
    let closed = wait_for("the ticket closed from the remote system", || async {
        let detail = store.ticket_detail(second).await.ok()??;
        (detail.ticket.state.as_str() == "closed").then_some(detail)
    })
    .await;
    assert!(
        closed
            .ticket
            .resolution
            .as_deref()
            .is_some_and(|r| r.contains(&format!(
                "desk ticket {}",
                remote_second_id(&remote_second, vendor.kind)
            ))),
        "{}: {:?}",
        vendor.kind,
        closed.ticket.resolution
    );
    assert_eq!(
        desk.lock().expect("desk").tickets.len(),
        2,
        "{}: no duplicates",
        vendor.kind
    );
    assert_eq!(
        desk.lock().expect("desk").create_calls,
        2,
        "{}: one create per ticket (the lost answer was found, not created again)",
        vendor.kind
    );
    drop(device);
    server.abort();
}

/// The remote id as the connector records it.
fn remote_second_id(ticket: &DeskTicket, kind: &str) -> String {
    match kind {
        "servicenow" => sys_id(ticket.id),
        "jira" => jira_key(ticket.id),
        _ => ticket.id.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_contract() {
    contract(Vendor {
        kind: "zendesk",
        router: zendesk,
        path: "",
        credentials: "username = \"firstline@example.com\"\ntoken = \"contract-secret-0123456789\"",
        resolved: "solved",
        person_resolves: "solved",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_contract() {
    contract(Vendor {
        kind: "servicenow",
        router: servicenow,
        path: "",
        credentials: "username = \"firstline\"\npassword = \"contract-secret-0123456789\"",
        resolved: "6",
        person_resolves: "7",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_service_management_contract() {
    contract(Vendor {
        kind: "jira",
        router: jira,
        path: "",
        credentials: "username = \"firstline@example.com\"\ntoken = \"contract-secret-0123456789\"\nproject = \"FL\"",
        resolved: "Resolved",
        person_resolves: "Closed",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshservice_contract() {
    contract(Vendor {
        kind: "freshservice",
        router: freshservice,
        path: "",
        credentials: "token = \"contract-secret-0123456789\"\nrequester_email = \"it@example.com\"",
        resolved: "4",
        person_resolves: "5",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glpi_contract() {
    contract(Vendor {
        kind: "glpi",
        router: glpi,
        path: "/apirest.php",
        credentials: "token = \"contract-secret-0123456789\"",
        resolved: "5",
        person_resolves: "5",
    })
    .await;
}
