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
                            panic!("the contract server does not know the condition {c:?}")
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
                            panic!("the contract server does not know the condition {c:?}")
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
    Router::new()
        .route("/api/now/table/incident", incidents)
        .route("/api/now/table/incident/{id}", incident)
        .route("/api/now/table/sys_journal_field", journal)
        .with_state(desk)
}

// --- The flow every connector passes ---------------------------------------------------

struct Vendor {
    kind: &'static str,
    router: fn(Shared) -> Router,
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
            "[[ticket_systems]]\nname = \"desk\"\nkind = \"{}\"\nurl = \"http://{address}\"\n{}\npoll_interval = \"300ms\"\nretry_initial = \"200ms\"\nretry_max = \"1s\"\n",
            vendor.kind, vendor.credentials
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
    drop(device);
    server.abort();
}

/// The remote id as the connector records it.
fn remote_second_id(ticket: &DeskTicket, kind: &str) -> String {
    match kind {
        "servicenow" => sys_id(ticket.id),
        _ => ticket.id.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_contract() {
    contract(Vendor {
        kind: "zendesk",
        router: zendesk,
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
        credentials: "username = \"firstline\"\npassword = \"contract-secret-0123456789\"",
        resolved: "6",
        person_resolves: "7",
    })
    .await;
}
