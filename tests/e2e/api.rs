//! The REST API for integrations, over real HTTP: cursor paging that returns each ticket once
//! while tickets are opened and changed, `changed_since` for synchronising, and one JSON
//! shape for every refusal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::{Value, json};

use crate::support::{SimulatedDevice, TestCollector, http_call, http_json, wait_for};

/// Sends `resources` as one batch of firing `disk.free_low` findings and waits for the ack.
async fn fire(device: &mut SimulatedDevice, resources: &[String]) {
    let findings: Vec<pb::Finding> = resources
        .iter()
        .map(|resource| pb::Finding {
            sequence: device.take_sequence(),
            check: "disk.free_low".to_owned(),
            resource: resource.clone(),
            severity: pb::Severity::Warning as i32,
            summary: format!("{resource} is nearly full"),
            evidence_json: "{}".to_owned(),
            observed_at_unix_ms: firstline_collector::model::now_ms(),
        })
        .collect();
    let last = findings.last().map(|f| f.sequence).expect("findings");
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings,
        }))
        .await;
    loop {
        match device.stream.next().await {
            Ok(pb::collector_message::Body::Ack(ack)) if ack.sequence >= last => {
                assert!(ack.refused.is_empty(), "refused: {:?}", ack.refused);
                return;
            }
            Ok(_) => continue,
            Err(status) => panic!("the stream ended: {status}"),
        }
    }
}

/// One device at a site of its own (no fleet incident forms), connected.
async fn device(collector: &TestCollector, dir: &std::path::Path, site: &str) -> SimulatedDevice {
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &dir.join(site)).await;
    // Its own resolver too: a DNS scope is shared by no one.
    let resolver = format!("192.0.2.{}", site.len());
    SimulatedDevice::connect(&collector.url(), identity, site, &resolver).await
}

/// GET `path` as JSON; asserts 200.
async fn get(http: std::net::SocketAddr, key: &str, path: &str) -> Value {
    let (status, body) = http_json(http, "GET", path, Some(key), None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// A comment on ticket `id` (bumps its `updated_at_ms`).
async fn comment(http: std::net::SocketAddr, key: &str, id: i64, text: &str) {
    let (status, body) = http_json(
        http,
        "POST",
        &format!("/api/v1/tickets/{id}/actions"),
        Some(key),
        Some(&json!({"action": "comment", "text": text})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Every ticket `query` lists, following `next_cursor` page after page; calls `between`
/// after each page.
async fn page_all(
    http: std::net::SocketAddr,
    key: &str,
    query: &str,
    mut between: impl AsyncFnMut(usize),
) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    for page in 0.. {
        let body = get(http, key, &format!("/api/v1/tickets?{query}{cursor}")).await;
        all.extend(body["tickets"].as_array().cloned().expect("tickets"));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
        between(page).await;
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_through_1000_tickets_returns_each_exactly_once_while_tickets_arrive_and_change() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "sync", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let dir = tempfile::tempdir().expect("temp dir");

    // 1,000 tickets from one device's single batch: a thousand full disks.
    let mut first = device(&collector, dir.path(), "head-office").await;
    let resources: Vec<String> = (0..1000).map(|n| format!("/mnt/{n:04}")).collect();
    fire(&mut first, &resources).await;
    let at_start = page_all(http, &key, "limit=1000", async |_| {}).await;
    assert_eq!(at_start.len(), 1000, "one ticket per full disk");
    let ids_at_start: Vec<i64> = at_start
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect();

    // While a client pages: another device opens tickets, staff comment on and start
    // existing ones (which changes their state and their place in the queue).
    let stop = Arc::new(AtomicBool::new(false));
    let (opened, changed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // Each device may hold 1,000 conditions ([limits] device_conditions): on a slow machine
    // paging outlasts one device's budget, so the opener moves on to the next device at 900.
    let mut openers = Vec::new();
    for site in [
        "branch-a",
        "branch-bb",
        "branch-ccc",
        "branch-dddd",
        "branch-eeeee",
    ] {
        openers.push(device(&collector, dir.path(), site).await);
    }
    let opener = tokio::spawn({
        let (stop, opened) = (stop.clone(), opened.clone());
        async move {
            let mut batch = 0;
            'devices: for mut second in openers {
                for _ in 0..90 {
                    if stop.load(Ordering::SeqCst) {
                        break 'devices;
                    }
                    let resources: Vec<String> =
                        (0..10).map(|n| format!("/new/{batch:03}/{n}")).collect();
                    fire(&mut second, &resources).await;
                    opened.fetch_add(resources.len(), Ordering::SeqCst);
                    batch += 1;
                }
            }
        }
    });
    let changer = tokio::spawn({
        let (stop, changed, key, ids) = (
            stop.clone(),
            changed.clone(),
            key.clone(),
            ids_at_start.clone(),
        );
        async move {
            // From the end backwards and from the start forwards: ahead of and behind the
            // cursor.
            let mut order = ids
                .iter()
                .rev()
                .zip(ids.iter())
                .take(ids.len() / 2)
                .flat_map(|(a, b)| [*a, *b]);
            while !stop.load(Ordering::SeqCst) {
                let Some(id) = order.next() else { break };
                let action = if id % 2 == 0 {
                    json!({"action": "comment", "text": "looking"})
                } else {
                    json!({"action": "start"})
                };
                let (status, body) = http_json(
                    http,
                    "POST",
                    &format!("/api/v1/tickets/{id}/actions"),
                    Some(&key),
                    Some(&action),
                )
                .await;
                assert_eq!(status, 200, "{body}");
                changed.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let seen = page_all(http, &key, "limit=37", async |page| {
        // Changes land between these pages, for certain: wait for some after each of the
        // first pages.
        if page < 5 {
            let (opened_before, changed_before) = (
                opened.load(Ordering::SeqCst),
                changed.load(Ordering::SeqCst),
            );
            wait_for("tickets opened and changed between two pages", || async {
                (opened.load(Ordering::SeqCst) > opened_before
                    && changed.load(Ordering::SeqCst) > changed_before)
                    .then_some(())
            })
            .await;
        }
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    opener.await.expect("opener");
    changer.await.expect("changer");
    assert!(
        opened.load(Ordering::SeqCst) >= 50,
        "tickets were opened while paging"
    );
    assert!(
        changed.load(Ordering::SeqCst) >= 5,
        "tickets were changed while paging"
    );

    let mut times: BTreeMap<i64, usize> = BTreeMap::new();
    for ticket in &seen {
        *times.entry(ticket["id"].as_i64().expect("id")).or_default() += 1;
    }
    let repeated: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "tickets returned twice: {repeated:?}");
    let missed: Vec<_> = ids_at_start
        .iter()
        .filter(|id| !times.contains_key(id))
        .collect();
    assert!(missed.is_empty(), "tickets never returned: {missed:?}");
    let ids: Vec<i64> = seen.iter().map(|t| t["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_since_lists_what_changed_and_a_ticket_changed_while_paging_comes_again() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "sync", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut pc = device(&collector, dir.path(), "head-office").await;
    let resources: Vec<String> = (0..5).map(|n| format!("/mnt/{n}")).collect();
    fire(&mut pc, &resources).await;
    let tickets = get(http, &key, "/api/v1/tickets").await;
    let ids: Vec<i64> = tickets["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 5, "{tickets:#}");

    // Two change after the last sync: those two, in the order they changed.
    let last_sync = tickets["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter_map(|t| t["updated_at_ms"].as_i64())
        .max()
        .expect("a time")
        + 1;
    wait_for("the clock to pass the last change", || async {
        (firstline_collector::model::now_ms() > last_sync).then_some(())
    })
    .await;
    comment(http, &key, ids[3], "first").await;
    comment(http, &key, ids[1], "second").await;
    let changed = get(
        http,
        &key,
        &format!("/api/v1/tickets?changed_since={last_sync}"),
    )
    .await;
    let changed_ids: Vec<i64> = changed["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(changed_ids, [ids[3], ids[1]], "{changed:#}");
    assert!(changed["next_cursor"].is_null());
    // The same, as an RFC 3339 time a second earlier, covers at least those.
    let (status, _) = http_json(
        http,
        "GET",
        "/api/v1/tickets?changed_since=2020-01-01T00:00:00Z",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // Synchronising from the beginning one ticket a page: the first one returned changes
    // meanwhile, moves behind the cursor and comes again, last, with its change.
    let seen = page_all(http, &key, "changed_since=0&limit=1", async |page| {
        if page == 0 {
            comment(http, &key, ids[0], "while syncing").await;
        }
    })
    .await;
    let seen_ids: Vec<i64> = seen.iter().map(|t| t["id"].as_i64().expect("id")).collect();
    assert_eq!(
        seen_ids.len(),
        6,
        "five tickets, one of them twice: {seen_ids:?}"
    );
    assert_eq!(seen_ids[0], ids[0], "the least recently changed first");
    assert_eq!(seen_ids[5], ids[0], "and again, last, after its change");
    let updated: Vec<i64> = seen
        .iter()
        .map(|t| t["updated_at_ms"].as_i64().expect("time"))
        .collect();
    assert!(updated.windows(2).all(|w| w[0] <= w[1]), "{updated:?}");
}

/// Parameters that mean nothing are refused with 400 and a JSON body naming the parameter and
/// what it takes; so are cursors this collector did not give out.
#[tokio::test]
async fn bad_parameters_are_refused_in_json_naming_the_parameter() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "admin", Role::Admin)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let id_cursor = hex("id:1");
    let cases: &[(&str, &str, &str)] = &[
        ("/api/v1/tickets?state=shelved", "state", "in_progress"),
        ("/api/v1/tickets?priority=9", "priority", "1 to 5"),
        ("/api/v1/tickets?priority=p1", "priority", "1 to 5"),
        ("/api/v1/tickets?tier=0", "tier", "1 to 3"),
        ("/api/v1/tickets?kind=printer", "kind", "incident"),
        ("/api/v1/tickets?unassigned=maybe", "unassigned", "true"),
        (
            "/api/v1/tickets?unassigned=true&assignee=tina",
            "unassigned",
            "not both",
        ),
        (
            "/api/v1/tickets?changed_since=yesterday",
            "changed_since",
            "RFC 3339",
        ),
        ("/api/v1/tickets?order=priority", "order", "updated"),
        ("/api/v1/tickets?limit=0", "limit", "1 to 1000"),
        ("/api/v1/tickets?limit=1001", "limit", "1 to 1000"),
        ("/api/v1/tickets?cursor=zz", "cursor", "next_cursor"),
        // A cursor of the id order sent to the updated order.
        (
            &format!("/api/v1/tickets?order=updated&cursor={id_cursor}"),
            "cursor",
            "same order",
        ),
        ("/api/v1/tickets?colour=red", "colour", "state"),
        ("/api/v1/devices?limit=ten", "limit", "1 to 1000"),
        ("/api/v1/devices?sort=name", "sort", "limit"),
        ("/api/v1/users?limit=5000", "limit", "1 to 1000"),
        ("/api/v1/users?cursor=xyz", "cursor", "next_cursor"),
        ("/api/v1/tokens?page=2", "page", "cursor"),
        ("/api/v1/alerts?limit=-1", "limit", "1 to 1000"),
        ("/api/v1/people?cursor=1", "cursor", "next_cursor"),
        ("/api/v1/knowledge?limit=0", "limit", "1 to 1000"),
        ("/api/v1/fixes?cursor=q", "cursor", "next_cursor"),
    ];
    for (path, field, says) in cases {
        let (status, head, body) = http_call(
            http,
            "GET",
            path,
            &[("Authorization", &format!("Bearer {key}"))],
            None,
        )
        .await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(is_json(&head), "{path}: {head}");
        assert_eq!(body["code"], "bad_parameter", "{path}: {body}");
        assert_eq!(body["field"], *field, "{path}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(says),
            "{path}: {error:?} should say {says:?}"
        );
    }
}

/// Every refusal of the API, `/login` and `/logout` is `{"error", "code"}` JSON, whatever
/// refused: a route, a method, a credential, a role, a body that does not read, a limit.
#[tokio::test]
async fn every_refusal_answers_the_same_json_shape() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let technician = firstline_collector::http::create_api_key(&store, "tech", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let bearer = format!("Bearer {technician}");
    let with_key: &[(&str, &str)] = &[("Authorization", &bearer)];
    let cases: Vec<Refusal> = vec![
        (
            "GET",
            "/api/v1/nothing-here",
            with_key,
            None,
            404,
            "not_found",
        ),
        (
            "DELETE",
            "/api/v1/tickets",
            with_key,
            None,
            405,
            "method_not_allowed",
        ),
        ("PUT", "/logout", &[], None, 405, "method_not_allowed"),
        ("GET", "/api/v1/tickets", &[], None, 401, "unauthorized"),
        (
            "GET",
            "/api/v1/tickets",
            &[("Authorization", "Bearer flk_wrong")],
            None,
            401,
            "unauthorized",
        ),
        ("GET", "/api/v1/users", with_key, None, 403, "forbidden"),
        (
            "GET",
            "/api/v1/tickets/12345",
            with_key,
            None,
            404,
            "not_found",
        ),
        // Bodies that do not read: axum's extractors answer these.
        (
            "POST",
            "/api/v1/tickets/1/actions",
            with_key,
            Some(json!({"action": "dance"})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/login",
            &[],
            Some(json!({"name": "x"})),
            400,
            "bad_request",
        ),
        (
            "PUT",
            "/api/v1/fixes/policy",
            with_key,
            Some(json!({})),
            403,
            "forbidden",
        ),
        ("GET", "/api/v1/stats", with_key, None, 403, "forbidden"),
    ];
    for (method, path, headers, body, status, code) in cases {
        let (answered, head, json) = http_call(http, method, path, headers, body.as_ref()).await;
        assert_eq!(answered, status, "{method} {path}: {json}");
        assert!(is_json(&head), "{method} {path}: {head}");
        assert_eq!(json["code"], code, "{method} {path}: {json}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{method} {path}: {json}"
        );
    }
    // An admin's body that is the wrong JSON, and one that is not JSON at all (axum's own
    // rejections, plain text before).
    let admin = firstline_collector::http::create_api_key(&store, "admin", Role::Admin)
        .await
        .expect("api key");
    let admin_bearer = format!("Bearer {admin}");
    let (status, head, json) = http_call(
        http,
        "PUT",
        "/api/v1/people/carol",
        &[("Authorization", &admin_bearer)],
        Some(&json!({"display_name": 7})),
    )
    .await;
    assert_eq!(status, 422, "{json}");
    assert!(is_json(&head), "{head}");
    assert_eq!(json["code"], "bad_body", "{json}");
    let (status, head, json) = http_call(
        http,
        "PUT",
        "/api/v1/people/carol",
        &[("Authorization", &admin_bearer)],
        None,
    )
    .await;
    assert_eq!(status, 415, "{json}");
    assert!(is_json(&head), "{head}");
    assert_eq!(json["code"], "unsupported_media_type", "{json}");
}

/// Every list of `/api/v1` pages with `limit` and `cursor`, each item once.
#[tokio::test]
async fn every_list_pages_with_limit_and_cursor() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let admin = firstline_collector::http::create_api_key(&store, "admin", Role::Admin)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    for name in ["ann", "bob", "cid", "dee", "eve"] {
        crate::support::add_user(&collector, name, Role::Technician, "a-long-password-1").await;
    }
    for _ in 0..3 {
        collector.token().await;
    }
    for (path, list, key) in [
        ("/api/v1/users", "users", "name"),
        ("/api/v1/tokens", "tokens", "id"),
        ("/api/v1/fixes", "fixes", "name"),
    ] {
        let whole = get(http, &admin, &format!("{path}?limit=1000")).await;
        let whole: Vec<Value> = whole[list].as_array().cloned().expect("a list");
        assert!(whole.len() >= 3, "{path}: {whole:?}");
        let mut paged = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = get(http, &admin, &format!("{path}?limit=2{cursor}")).await;
            let items = page[list].as_array().cloned().expect("a list");
            assert!(items.len() <= 2, "{path}: {page}");
            paged.extend(items.into_iter().map(|item| item[key].clone()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        let whole_keys: Vec<Value> = whole.iter().map(|item| item[key].clone()).collect();
        assert_eq!(paged, whole_keys, "{path}");
    }
    for (path, list) in [
        ("/api/v1/devices", "devices"),
        ("/api/v1/tickets", "tickets"),
        ("/api/v1/alerts", "alerts"),
        ("/api/v1/people", "people"),
        ("/api/v1/knowledge", "entries"),
    ] {
        let page = get(http, &admin, &format!("{path}?limit=1")).await;
        assert!(page[list].is_array(), "{path}: {page}");
        assert!(page.get("next_cursor").is_some(), "{path}: {page}");
    }
}

/// A request (method, path, headers, body) and the refusal it gets (status, code).
type Refusal<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    Option<Value>,
    u16,
    &'a str,
);

fn is_json(head: &str) -> bool {
    head.to_ascii_lowercase()
        .contains("content-type: application/json")
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
