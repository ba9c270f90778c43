//! Who may do what: every route group refuses callers without credentials (401) and callers
//! whose role is too low (403); people sign in with a password (argon2), get a session cookie
//! and must show its CSRF token to change anything (signing out too); failed sign-ins slow
//! the account down wherever they come from and stop an address that sprays many, with the
//! client's address taken from X-Forwarded-For only behind a trusted proxy; an admin can
//! revoke a device (which ends its stream), an API key or unused enrollment tokens, disable
//! a user (which ends their sessions) and reset passwords; people change their own.

use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::{Value, json};

use crate::support::{
    RawStream, SimulatedDevice, TestCollector, add_user, channel, enroll_with, hello, http_call,
    http_json, raw_form, raw_form_with, sign_in, sign_in_from,
};

/// (method, path, body, least role).
fn routes() -> Vec<(&'static str, &'static str, Option<Value>, Role)> {
    vec![
        ("GET", "/api/v1/me", None, Role::Technician),
        (
            "POST",
            "/api/v1/me/password",
            Some(json!({"current_password": "x", "new_password": "long-enough-pw"})),
            Role::Technician,
        ),
        ("GET", "/api/v1/devices", None, Role::Technician),
        ("GET", "/api/v1/devices/none", None, Role::Technician),
        (
            "POST",
            "/api/v1/devices/none/reproduce",
            Some(json!({"playbook": "disk"})),
            Role::Technician,
        ),
        ("GET", "/api/v1/tickets?state=open", None, Role::Technician),
        ("GET", "/api/v1/tickets/1", None, Role::Technician),
        (
            "POST",
            "/api/v1/tickets/1/actions",
            Some(json!({"action": "comment", "text": "hi"})),
            Role::Technician,
        ),
        ("GET", "/api/v1/reproduce/none", None, Role::Technician),
        (
            "POST",
            "/api/v1/tickets/1/fixes",
            Some(json!({"fix": "disk.cleanup"})),
            Role::Technician,
        ),
        ("GET", "/api/v1/tickets/1/fixes", None, Role::Technician),
        ("GET", "/api/v1/fixes", None, Role::Technician),
        (
            "PUT",
            "/api/v1/fixes/policy",
            Some(json!({"fix": "dns.flush", "mode": null})),
            Role::Admin,
        ),
        ("GET", "/api/v1/devices/none/config", None, Role::Technician),
        ("GET", "/api/v1/fleet", None, Role::Admin),
        (
            "POST",
            "/api/v1/fleet/groups",
            Some(json!({"name": "access-group", "kind": "site", "site": "hq"})),
            Role::Admin,
        ),
        (
            "POST",
            "/api/v1/fleet/policies",
            Some(json!({"name": "access-policy", "group": "none", "toml": ""})),
            Role::Admin,
        ),
        (
            "PUT",
            "/api/v1/fleet/policies/999999",
            Some(json!({"toml": ""})),
            Role::Admin,
        ),
        ("GET", "/api/v1/fleet/policies/999999", None, Role::Admin),
        (
            "POST",
            "/api/v1/fleet/policies/999999/rollback",
            Some(json!({"version": 1})),
            Role::Admin,
        ),
        (
            "POST",
            "/api/v1/fleet/policies/999999/promote",
            Some(json!({})),
            Role::Admin,
        ),
        ("GET", "/api/v1/knowledge?q=disk", None, Role::Technician),
        ("GET", "/api/v1/search?q=disk", None, Role::Technician),
        ("GET", "/api/v1/stats?days=7", None, Role::Supervisor),
        (
            "POST",
            "/api/v1/tokens",
            Some(json!({"ttl_secs": 600})),
            Role::Admin,
        ),
        (
            "POST",
            "/api/v1/devices/none/vip",
            Some(json!({"vip": true})),
            Role::Admin,
        ),
        ("POST", "/api/v1/devices/none/revoke", None, Role::Admin),
        (
            "POST",
            "/api/v1/users",
            Some(json!({"name": "new-tech", "role": "technician", "password": "long-enough-pw"})),
            Role::Admin,
        ),
        ("GET", "/api/v1/users", None, Role::Admin),
        ("POST", "/api/v1/users/nobody/disable", None, Role::Admin),
        ("POST", "/api/v1/users/nobody/enable", None, Role::Admin),
        (
            "POST",
            "/api/v1/users/nobody/password",
            Some(json!({"password": "long-enough-pw"})),
            Role::Admin,
        ),
        ("POST", "/api/v1/apikeys/nobody/revoke", None, Role::Admin),
        ("GET", "/api/v1/tokens", None, Role::Admin),
        ("GET", "/api/v1/alerts", None, Role::Admin),
        ("GET", "/api/v1/people", None, Role::Technician),
        (
            "PUT",
            "/api/v1/people/nobody",
            Some(json!({"display_name": "No Body"})),
            Role::Admin,
        ),
        ("DELETE", "/api/v1/people/nobody", None, Role::Admin),
        ("POST", "/api/v1/alerts/1/acknowledge", None, Role::Admin),
        (
            "POST",
            "/api/v1/tokens/revoke",
            Some(json!({"id_prefix": "0000"})),
            Role::Admin,
        ),
    ]
}

#[tokio::test]
async fn every_route_group_refuses_the_unauthenticated_and_the_wrong_role() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let store = collector.running().store.clone();
    let mut keys = Vec::new();
    for role in [Role::Technician, Role::Supervisor, Role::Admin] {
        let key = firstline_collector::http::create_api_key(&store, role.as_str(), role)
            .await
            .expect("key");
        keys.push((role, key));
    }
    for (method, path, body, least) in routes() {
        let (status, answer) = http_json(http, method, path, None, body.as_ref()).await;
        assert_eq!(status, 401, "{method} {path} without credentials: {answer}");
        let (status, _) = http_json(http, method, path, Some("flk_not-a-key"), body.as_ref()).await;
        assert_eq!(status, 401, "{method} {path} with a wrong key");
        for (role, key) in &keys {
            let (status, answer) = http_json(http, method, path, Some(key), body.as_ref()).await;
            if *role < least {
                assert_eq!(status, 403, "{method} {path} as {role:?}: {answer}");
            } else {
                assert!(
                    ![401, 403].contains(&status),
                    "{method} {path} as {role:?}: {status} {answer}"
                );
            }
        }
    }
}

#[tokio::test]
async fn people_sign_in_with_a_password_and_changes_need_the_csrf_token() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    add_user(&collector, "sam", Role::Supervisor, "sam-password-12").await;

    let (status, _) = sign_in(http, "tina", "wrong-password").await;
    assert_eq!(status, 401);
    let (status, _) = sign_in(http, "nobody", "wrong-password").await;
    assert_eq!(status, 401, "unknown names fail the same way");
    let (status, session) = sign_in(http, "tina", "tina-password-1").await;
    assert_eq!(status, 200);
    let (cookie, csrf) = session.expect("cookie and CSRF token");
    let (status, _, me) = http_call(http, "GET", "/api/v1/me", &[("Cookie", &cookie)], None).await;
    assert_eq!(
        (status, me["name"].as_str(), me["role"].as_str()),
        (200, Some("tina"), Some("technician"))
    );

    // A change without the CSRF token is refused; with it, it goes through (404: no ticket 9).
    let comment = json!({"action": "comment", "text": "looking"});
    let (status, _, refusal) = http_call(
        http,
        "POST",
        "/api/v1/tickets/9/actions",
        &[("Cookie", &cookie)],
        Some(&comment),
    )
    .await;
    assert_eq!(status, 403, "{refusal}");
    let (status, _, _) = http_call(
        http,
        "POST",
        "/api/v1/tickets/9/actions",
        &[("Cookie", &cookie), ("X-CSRF-Token", "forged")],
        Some(&comment),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = http_call(
        http,
        "POST",
        "/api/v1/tickets/9/actions",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        Some(&comment),
    )
    .await;
    assert_eq!(status, 404);
    // A technician session cannot reach admin routes.
    let (status, _, _) = http_call(
        http,
        "POST",
        "/api/v1/tokens",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 403);

    // Signing out ends the session.
    let (status, _, _) = http_call(
        http,
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = http_call(http, "GET", "/api/v1/me", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 401);

    // Five failures make the account wait, even with the right password; other names are not
    // affected. (Signing in successfully forgot the earlier failure.)
    for _ in 0..5 {
        assert_eq!(sign_in(http, "tina", "guess-guess-guess").await.0, 401);
    }
    assert_eq!(sign_in(http, "tina", "tina-password-1").await.0, 429);
    assert_eq!(sign_in(http, "sam", "sam-password-12").await.0, 200);
}

#[tokio::test]
async fn only_a_supervisor_moves_a_ticket_from_one_technician_to_another() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let store = collector.running().store.clone();
    let technician = firstline_collector::http::create_api_key(&store, "tech", Role::Technician)
        .await
        .expect("key");
    let supervisor = firstline_collector::http::create_api_key(&store, "super", Role::Supervisor)
        .await
        .expect("key");
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    add_user(&collector, "tom", Role::Technician, "tom-password-123").await;
    add_user(&collector, "gone", Role::Technician, "gone-password-12").await;
    store
        .set_user_disabled("gone", true, firstline_collector::model::now_ms())
        .await
        .expect("disable");
    let dir = tempfile::tempdir().expect("temp dir");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let mut device = SimulatedDevice::connect(&collector.url(), identity, "hq", "192.0.2.53").await;
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let (_, tickets) = http_json(
        http,
        "GET",
        "/api/v1/tickets?state=open",
        Some(&technician),
        None,
    )
    .await;
    let id = tickets["tickets"][0]["id"].as_i64().expect("ticket");
    let path = format!("/api/v1/tickets/{id}/actions");
    let assign = |to: &str| json!({"action": "assign", "to": to});
    // Only to someone who can work it.
    for nobody in ["nobody-here", "gone"] {
        let (status, answer) = http_json(
            http,
            "POST",
            &path,
            Some(&technician),
            Some(&assign(nobody)),
        )
        .await;
        assert_eq!(status, 422, "{nobody}: {answer}");
        assert!(
            answer.to_string().contains(nobody),
            "names the user: {answer}"
        );
    }
    assert_eq!(
        http_json(
            http,
            "POST",
            &path,
            Some(&technician),
            Some(&assign("tina"))
        )
        .await
        .0,
        200,
        "taking an unassigned ticket"
    );
    assert_eq!(
        http_json(http, "POST", &path, Some(&technician), Some(&assign("tom")))
            .await
            .0,
        403,
        "reassigning"
    );
    assert_eq!(
        http_json(http, "POST", &path, Some(&supervisor), Some(&assign("tom")))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_revoked_device_is_disconnected_and_refused() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let admin =
        firstline_collector::http::create_api_key(&collector.running().store, "admin", Role::Admin)
            .await
            .expect("key");
    let dir = tempfile::tempdir().expect("temp dir");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let device_id = identity.device_id().to_owned();
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity.clone(), "hq", "192.0.2.53").await;
    let (status, answer) = http_json(
        http,
        "POST",
        &format!("/api/v1/devices/{device_id}/revoke"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(device.stream.next().await.is_err(), "the live stream ends");
    let channel = channel(
        &collector.url(),
        &identity.ca_pem,
        Some((&identity.certificate_pem, &identity.key_pem)),
    )
    .await
    .expect("channel");
    let refused = match RawStream::open(channel, vec![hello()]).await {
        Err(status) => status,
        Ok(mut stream) => stream.next().await.expect_err("refused"),
    };
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("revoked"), "{refused:?}");
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin_and_the_user_can_sign_in() {
    use std::io::Write;
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let add = |name: &str, password: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-collector"))
            .args(["user", "add", name, "--role", "supervisor", "--data-dir"])
            .arg(&collector.settings.data_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run user add");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("password");
        child.wait_with_output().expect("user add ends")
    };
    let short = add("sue", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
    let added = add("sue", "a-long-enough-password");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let again = add("sue", "a-long-enough-password");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("a user named \"sue\" already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let (status, session) = sign_in(http, "sue", "a-long-enough-password").await;
    assert_eq!(status, 200);
    assert!(session.is_some());
}

/// A driven path as the OpenAPI document names it: `/devices/{id}` for `/api/v1/devices/none`.
fn template(path: &str) -> String {
    path.split('?')
        .next()
        .unwrap_or(path)
        .trim_start_matches("/api/v1")
        .replace("/tickets/1", "/tickets/{id}")
        .replace("/devices/none", "/devices/{id}")
        .replace("/reproduce/none", "/reproduce/{id}")
        .replace("/users/nobody", "/users/{name}")
        .replace("/apikeys/nobody", "/apikeys/{name}")
        .replace("/alerts/1/", "/alerts/{id}/")
        .replace("/people/nobody", "/people/{account}")
        .replace("/fleet/policies/999999", "/fleet/policies/{id}")
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let (status, document) = http_json(http, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(document["servers"][0]["url"], "/api/v1");
    let paths = document["paths"].as_object().expect("paths");
    // Every route the access matrix drives is described, with its method…
    for (method, path, _, _) in routes() {
        let template = template(path);
        let operation = &paths.get(&template).unwrap_or_else(|| {
            panic!(
                "{template} is not in the OpenAPI document: {:?}",
                paths.keys()
            )
        })[method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not described"
        );
        assert!(
            operation["security"].is_array(),
            "{method} {template} names its security"
        );
    }
    // …and nothing is described that the matrix does not drive (one list to keep true).
    let described: std::collections::BTreeSet<String> = paths
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .map(|o| {
                    o.keys()
                        .map(|m| format!("{} {path}", m.to_uppercase()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect();
    let driven: std::collections::BTreeSet<String> = routes()
        .iter()
        .map(|(method, path, _, _)| format!("{method} {}", template(path)))
        .collect();
    assert_eq!(
        described, driven,
        "the OpenAPI document and the access matrix disagree"
    );
    // Responses reference real schemas.
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for schema in [
        "TicketRecord",
        "TicketDetail",
        "TimelineEntry",
        "DeviceView",
        "Stats",
        "PeopleStats",
        "ReproduceRequest",
        "ActionRequest",
        "ApiError",
    ] {
        assert!(
            schemas.contains_key(schema),
            "{schema} missing from {:?}",
            schemas.keys()
        );
    }
    assert!(document["components"]["securitySchemes"]["api_key"].is_object());
    // One error shape, documented on every operation…
    let error = &schemas["ApiError"]["properties"];
    for property in ["error", "code", "field"] {
        assert!(
            error[property].is_object(),
            "ApiError lacks {property}: {error}"
        );
    }
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let responses = operation["responses"].as_object().expect("responses");
            for status in ["400", "401", "403", "default"] {
                assert_eq!(
                    responses
                        .get(status)
                        .map(|r| r["content"]["application/json"]["schema"]["$ref"].clone()),
                    Some(json!("#/components/schemas/ApiError")),
                    "{method} {path}: {status} is not the error schema: {responses:?}"
                );
            }
        }
    }
    // …and every list takes `limit` and `cursor` and answers `next_cursor`.
    for list in [
        "/devices",
        "/tickets",
        "/users",
        "/tokens",
        "/alerts",
        "/people",
        "/knowledge",
        "/fixes",
    ] {
        let parameters: Vec<&str> = paths[list]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {list} has no parameters"))
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for name in ["limit", "cursor"] {
            assert!(
                parameters.contains(&name),
                "GET {list} lacks {name}: {parameters:?}"
            );
        }
        let page = paths[list]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("GET {list}'s 200 names no schema"));
        let page = page.trim_start_matches("#/components/schemas/");
        assert!(
            schemas[page]["properties"]["next_cursor"].is_object(),
            "GET {list}: {page} has no next_cursor"
        );
    }
    for parameter in [
        "state",
        "priority",
        "tier",
        "device",
        "kind",
        "assignee",
        "unassigned",
        "site",
        "check",
        "requester",
        "changed_since",
        "order",
    ] {
        assert!(
            paths["/tickets"]["get"]["parameters"]
                .as_array()
                .is_some_and(|all| all.iter().any(|p| p["name"] == parameter)),
            "GET /tickets does not document {parameter}"
        );
    }
}

/// Runs `firstline-collector ARGS --data-dir DIR` (the real command line) with `stdin`.
/// Runs the collector's command line against `collector`'s data directory, off this test's
/// runtime, so the collector running on it keeps answering meanwhile.
async fn collector_cli(
    collector: &TestCollector,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2e-collector"))
        .args(args)
        .arg("--data-dir")
        .arg(&collector.settings.data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run the collector's command line");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).await.expect("stdin");
    drop(input);
    child.wait_with_output().await.expect("command ends")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_revoked_api_key_is_refused_from_the_next_request() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let store = collector.running().store.clone();
    let admin = firstline_collector::http::create_api_key(&store, "admin", Role::Admin)
        .await
        .expect("key");
    let script = firstline_collector::http::create_api_key(&store, "script", Role::Technician)
        .await
        .expect("key");
    let cron = firstline_collector::http::create_api_key(&store, "cron", Role::Supervisor)
        .await
        .expect("key");
    assert_eq!(
        http_json(http, "GET", "/api/v1/me", Some(&script), None)
            .await
            .0,
        200
    );

    // Through the admin REST API.
    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/apikeys/script/revoke",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = http_json(http, "GET", "/api/v1/me", Some(&script), None).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked"),
        "{answer}"
    );
    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/apikeys/script/revoke",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 404, "already revoked: {answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("\"script\""),
        "{answer}"
    );

    // Through the command line, against the running collector's data.
    let output = collector_cli(&collector, &["apikey", "revoke", "cron"], "").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        http_json(http, "GET", "/api/v1/me", Some(&cron), None)
            .await
            .0,
        401
    );
    let output = collector_cli(&collector, &["apikey", "revoke", "no-such-key"], "").await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no live API key named \"no-such-key\""),
        "{}",
        stderr(&output)
    );
    let (status, answer) = http_json(http, "GET", "/api/v1/me", Some(&admin), None).await;
    assert_eq!(status, 200, "the admin's own key still works: {answer}");
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_cannot_sign_in() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let admin =
        firstline_collector::http::create_api_key(&collector.running().store, "admin", Role::Admin)
            .await
            .expect("key");
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    add_user(&collector, "ada", Role::Admin, "ada-password-12").await;
    let (_, laptop) = sign_in(http, "tina", "tina-password-1").await;
    let (_, phone) = sign_in(http, "tina", "tina-password-1").await;
    let (laptop, _) = laptop.expect("session");
    let (phone, _) = phone.expect("session");
    let me = |cookie: String| async move {
        http_call(http, "GET", "/api/v1/me", &[("Cookie", &cookie)], None)
            .await
            .0
    };
    assert_eq!(me(laptop.clone()).await, 200);

    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/users/tina/disable",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(me(laptop.clone()).await, 401, "every session ends at once");
    assert_eq!(me(phone.clone()).await, 401);
    assert_eq!(sign_in(http, "tina", "tina-password-1").await.0, 401);
    let (_, users) = http_json(http, "GET", "/api/v1/users", Some(&admin), None).await;
    let tina = users["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["name"] == "tina"))
        .expect("tina listed");
    assert!(tina["disabled_at_ms"].is_i64(), "{users}");
    let (status, _) = http_json(
        http,
        "POST",
        "/api/v1/users/nobody/disable",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/users/tina/enable",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(me(laptop).await, 401, "old sessions stay ended");
    assert_eq!(sign_in(http, "tina", "tina-password-1").await.0, 200);

    // An admin signed in cannot disable themselves (someone must be left to enable them).
    let (_, ada) = sign_in(http, "ada", "ada-password-12").await;
    let (ada_cookie, ada_csrf) = ada.expect("session");
    let (status, _, answer) = http_call(
        http,
        "POST",
        "/api/v1/users/ada/disable",
        &[("Cookie", &ada_cookie), ("X-CSRF-Token", &ada_csrf)],
        None,
    )
    .await;
    assert_eq!(status, 409, "{answer}");

    // The command line does the same.
    let (_, session) = sign_in(http, "tina", "tina-password-1").await;
    let (cookie, _) = session.expect("session");
    let output = collector_cli(&collector, &["user", "disable", "tina"], "").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(me(cookie).await, 401);
    assert_eq!(sign_in(http, "tina", "tina-password-1").await.0, 401);
    let output = collector_cli(&collector, &["user", "enable", "tina"], "").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(sign_in(http, "tina", "tina-password-1").await.0, 200);
    let output = collector_cli(&collector, &["user", "disable", "nobody"], "").await;
    assert!(
        stderr(&output).contains("no user named \"nobody\""),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_new_password_ends_every_other_session_of_its_user() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let admin =
        firstline_collector::http::create_api_key(&collector.running().store, "admin", Role::Admin)
            .await
            .expect("key");
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let (_, here) = sign_in(http, "tina", "tina-password-1").await;
    let (_, elsewhere) = sign_in(http, "tina", "tina-password-1").await;
    let (here, here_csrf) = here.expect("session");
    let (elsewhere, _) = elsewhere.expect("session");
    let me = |cookie: String| async move {
        http_call(http, "GET", "/api/v1/me", &[("Cookie", &cookie)], None)
            .await
            .0
    };
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    // The current password must be right; the new one long enough; the CSRF token present.
    let (status, _, answer) = http_call(
        http,
        "POST",
        "/api/v1/me/password",
        &[("Cookie", &here), ("X-CSRF-Token", &here_csrf)],
        Some(&change("wrong-password-0", "tina-password-2")),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    let (status, _, answer) = http_call(
        http,
        "POST",
        "/api/v1/me/password",
        &[("Cookie", &here), ("X-CSRF-Token", &here_csrf)],
        Some(&change("tina-password-1", "short")),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("at least 10"),
        "{answer}"
    );
    let (status, _, _) = http_call(
        http,
        "POST",
        "/api/v1/me/password",
        &[("Cookie", &here)],
        Some(&change("tina-password-1", "tina-password-2")),
    )
    .await;
    assert_eq!(status, 403, "no CSRF token");
    let (status, _, answer) = http_call(
        http,
        "POST",
        "/api/v1/me/password",
        &[("Cookie", &here), ("X-CSRF-Token", &here_csrf)],
        Some(&change("tina-password-1", "tina-password-2")),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        me(here.clone()).await,
        200,
        "the session that changed it goes on"
    );
    assert_eq!(me(elsewhere).await, 401, "every other session ends");
    assert_eq!(sign_in(http, "tina", "tina-password-1").await.0, 401);
    let (status, other) = sign_in(http, "tina", "tina-password-2").await;
    assert_eq!(status, 200);
    let (other, _) = other.expect("session");

    // An API key has no password of its own to change.
    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/me/password",
        Some(&admin),
        Some(&change("a", "long-enough-pw")),
    )
    .await;
    assert_eq!(status, 400, "{answer}");

    // An admin's reset ends all of the user's sessions.
    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/users/tina/password",
        Some(&admin),
        Some(&json!({"password": "tina-password-3"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(me(here).await, 401);
    assert_eq!(me(other).await, 401);
    assert_eq!(sign_in(http, "tina", "tina-password-2").await.0, 401);
    let (status, session) = sign_in(http, "tina", "tina-password-3").await;
    assert_eq!(status, 200);
    let (cookie, csrf) = session.expect("session");

    // The web UI's form, with the same rules.
    let form = |current: &str, new: &str, again: &str| {
        format!(
            "csrf_token={csrf}&current_password={current}&new_password={new}&new_password_again={again}"
        )
    };
    let (status, page, _) = raw_form(
        http,
        "/account/password",
        &cookie,
        &form("tina-password-3", "tina-password-4", "tina-password-5"),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("differ"), "{page}");
    let (status, _, _) = raw_form(
        http,
        "/account/password",
        &cookie,
        "current_password=tina-password-3&new_password=tina-password-4&new_password_again=tina-password-4",
    )
    .await;
    assert_eq!(status, 403, "no CSRF token");
    let (status, page, _) = raw_form(
        http,
        "/account/password",
        &cookie,
        &form("tina-password-3", "tina-password-4", "tina-password-4"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Password changed"), "{page}");
    assert_eq!(sign_in(http, "tina", "tina-password-4").await.0, 200);

    // And the command line's reset (password from stdin).
    let output = collector_cli(
        &collector,
        &["user", "password", "tina"],
        "tina-password-5\n",
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(me(cookie).await, 401);
    assert_eq!(sign_in(http, "tina", "tina-password-5").await.0, 200);
}

#[tokio::test]
async fn unused_enrollment_tokens_can_be_revoked() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let admin =
        firstline_collector::http::create_api_key(&collector.running().store, "admin", Role::Admin)
            .await
            .expect("key");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let (status, answer) = http_json(
            http,
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(&json!({})),
        )
        .await;
        assert_eq!(status, 201, "{answer}");
        let token = answer["token"].as_str().expect("token").to_owned();
        let id = answer["id"].as_str().expect("id").to_owned();
        tokens.push((token, id));
    }
    enroll_with(&collector, &tokens[0].0, &dir.path().join("used"))
        .await
        .expect("a used token enrolls");
    let (_, unused) = http_json(http, "GET", "/api/v1/tokens", Some(&admin), None).await;
    assert_eq!(
        unused["tokens"].as_array().map(Vec::len),
        Some(3),
        "{unused}"
    );
    assert!(unused.to_string().contains(&tokens[1].1), "{unused}");

    // One, by the start of its id, through REST.
    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/tokens/revoke",
        Some(&admin),
        Some(&json!({"id_prefix": &tokens[1].1[..8]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["revoked"], json!([tokens[1].1]));
    let error = enroll_with(&collector, &tokens[1].0, &dir.path().join("revoked"))
        .await
        .expect_err("a revoked token enrolls nothing");
    assert!(error.to_string().contains("not known"), "{error}");
    let (status, answer) = http_json(
        http,
        "POST",
        "/api/v1/tokens/revoke",
        Some(&admin),
        Some(&json!({"id_prefix": "zz"})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, _) = http_json(
        http,
        "POST",
        "/api/v1/tokens/revoke",
        Some(&admin),
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 400, "neither all nor a prefix");

    // The rest, through the command line.
    let output = collector_cli(&collector, &["token", "list"], "").await;
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        listed.contains(&tokens[2].1) && listed.contains(&tokens[3].1),
        "{listed}"
    );
    let output = collector_cli(&collector, &["token", "revoke", "--all-unused"], "").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("2 unused enrollment tokens revoked"),
        "{}",
        stderr(&output)
    );
    for (index, (token, _)) in tokens.iter().enumerate().skip(2) {
        let error = enroll_with(&collector, token, &dir.path().join(format!("t{index}")))
            .await
            .expect_err("revoked");
        assert!(error.to_string().contains("not known"), "{error}");
    }
    let output = collector_cli(&collector, &["token", "revoke"], "").await;
    assert!(
        !output.status.success(),
        "a prefix or --all-unused is needed"
    );
    assert_eq!(
        collector
            .running()
            .store
            .devices()
            .await
            .expect("devices")
            .len(),
        1,
        "the device enrolled before stays"
    );
}

#[tokio::test]
async fn the_sign_in_limit_follows_the_account_across_addresses() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    add_user(&collector, "sam", Role::Supervisor, "sam-password-12").await;
    let from = |last: u8| Some(std::net::IpAddr::from([127, 0, 0, last]));
    // Five guesses, each from another address, as a botnet would send them.
    for last in 2..7 {
        let (status, _, _) = sign_in_from(from(last), &[], http, "tina", "guess-guess-guess").await;
        assert_eq!(status, 401);
    }
    // The account now waits, from any address, even with the right password…
    let (status, head, _) = sign_in_from(from(7), &[], http, "tina", "tina-password-1").await;
    assert_eq!(status, 429, "{head}");
    let retry_after = |head: &str| {
        head.lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("retry-after:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("Retry-After in {head}"))
    };
    let first_wait = retry_after(&head);
    assert!((1..=30).contains(&first_wait), "{first_wait}");
    // …for a bounded time that refused guesses do not lengthen (the owner is not locked out
    // by a flood).
    for last in 8..18 {
        let (status, head, _) =
            sign_in_from(from(last), &[], http, "tina", "guess-guess-guess").await;
        assert_eq!(status, 429);
        assert!(retry_after(&head) <= first_wait, "{head}");
    }
    // Other accounts from the same addresses are not affected.
    assert_eq!(
        sign_in_from(from(2), &[], http, "sam", "sam-password-12")
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_limited_by_its_own_address() {
    let collector = TestCollector::start_with(|settings| {
        settings.trusted_proxies = vec!["127.0.0.1".parse().expect("network")];
    })
    .await;
    let http = collector.running().http_address;
    add_user(&collector, "sam", Role::Supervisor, "sam-password-12").await;
    let proxy = Some(std::net::IpAddr::from([127, 0, 0, 1]));
    // One attacker behind the proxy sprays sign-ins until their address is stopped; the client
    // may prepend anything, the proxy appends the address it saw.
    let attacker = [("X-Forwarded-For", "198.51.100.1, 203.0.113.66")];
    let mut stopped = false;
    for _ in 0..40 {
        let (status, _, _) =
            sign_in_from(proxy, &attacker, http, "admin", "guess-guess-guess").await;
        if status == 429 {
            stopped = true;
        }
    }
    assert!(stopped, "the attacker's address is limited");
    let (status, _, _) = sign_in_from(proxy, &attacker, http, "sam", "sam-password-12").await;
    assert_eq!(
        status, 429,
        "the attacker's address is stopped for every name"
    );
    // Everyone else behind the same proxy signs in as usual.
    let colleague = [("X-Forwarded-For", "198.51.100.1")];
    let (status, _, _) = sign_in_from(proxy, &colleague, http, "sam", "sam-password-12").await;
    assert_eq!(
        status, 200,
        "one attacker must not lock out everyone behind the proxy"
    );

    // From anywhere else the header is ignored: rotating it does not escape the limit.
    let elsewhere = Some(std::net::IpAddr::from([127, 0, 0, 9]));
    for index in 0..31 {
        let forged = format!("192.0.2.{index}");
        sign_in_from(
            elsewhere,
            &[("X-Forwarded-For", &forged)],
            http,
            "root",
            "guess-guess-guess",
        )
        .await;
    }
    let (status, _, _) = sign_in_from(
        elsewhere,
        &[("X-Forwarded-For", "192.0.2.200")],
        http,
        "sam",
        "sam-password-12",
    )
    .await;
    assert_eq!(
        status, 429,
        "X-Forwarded-For from an untrusted peer is ignored"
    );
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let (_, session) = sign_in(http, "tina", "tina-password-1").await;
    let (cookie, csrf) = session.expect("session");
    let signed_in = |cookie: String| async move {
        http_call(http, "GET", "/api/v1/me", &[("Cookie", &cookie)], None)
            .await
            .0
            == 200
    };
    let clears_cookie = |head: &str| head.to_ascii_lowercase().contains("set-cookie:");

    // A forged sign-out form (another site's page) changes nothing: no token, a wrong one, or
    // no cookie at all (SameSite keeps it from cross-site posts) — not even the cookie.
    for body in ["", "csrf_token=forged"] {
        let (status, head, _) = raw_form(http, "/logout/form", &cookie, body).await;
        assert_eq!(status, 403, "{body:?}: {head}");
        assert!(!clears_cookie(&head), "{head}");
        assert!(
            signed_in(cookie.clone()).await,
            "still signed in after {body:?}"
        );
    }
    let (_, head, _) = raw_form_with(http, "/logout/form", "", "").await;
    assert!(!clears_cookie(&head), "{head}");
    // The REST sign-out likewise.
    let (status, head, _) = http_call(http, "POST", "/logout", &[("Cookie", &cookie)], None).await;
    assert_eq!(status, 403, "{head}");
    assert!(!clears_cookie(&head), "{head}");
    assert!(signed_in(cookie.clone()).await);

    // Our own form, with the token, signs out.
    let (status, head, _) =
        raw_form(http, "/logout/form", &cookie, &format!("csrf_token={csrf}")).await;
    assert_eq!(status, 303, "{head}");
    assert!(clears_cookie(&head), "{head}");
    assert!(!signed_in(cookie.clone()).await);
}

/// A stranger flooding sign-in from one address once made every attempt a write to the
/// database (SQLite's single writer, shared with ingest). Once the address is refused, more
/// attempts are refused from memory: the database holds the refused ones, not the flood.
#[tokio::test]
async fn a_sign_in_flood_from_a_refused_address_is_answered_without_writing() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let mut statuses = std::collections::BTreeMap::new();
    for attempt in 0..200 {
        let (status, _) = sign_in(http, &format!("guess{attempt}"), "not-the-password").await;
        *statuses.entry(status).or_insert(0) += 1;
    }
    // The address's limit (30 in 15 minutes) refuses the rest with 429.
    assert_eq!(statuses.get(&401), Some(&30), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&170), "{statuses:?}");
    let recorded = collector
        .running()
        .store
        .login_attempts_since("nobody", "127.0.0.1", "", 0)
        .await
        .expect("attempts")
        .from_peer;
    assert_eq!(recorded, 31, "30 checked and the one that found the limit");
}

/// Signing in over plain HTTP from another machine: the browser would drop a `Secure`
/// cookie and the sign-in would fail without a word; the cookie goes without it on a
/// collector whose `public_url` is not https, and the page says the password is unencrypted.
#[tokio::test]
async fn plain_http_sign_in_works_and_says_it_is_unencrypted() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    add_user(
        &collector,
        "tina",
        firstline_collector::model::Role::Technician,
        "tina-password-1",
    )
    .await;
    let (_, _, local) = crate::support::http_form(http, "GET", "/login", &[], None).await;
    assert!(!local.contains("plain-http"), "no warning on this machine");
    let (status, _, remote) = crate::support::http_form(
        http,
        "GET",
        "/login",
        &[("Host", "helpdesk.example.com:7080")],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(remote.contains("id=\"plain-http\""), "{remote}");
    let body = serde_json::json!({"name": "tina", "password": "tina-password-1"});
    let (status, head, _) = http_call(http, "POST", "/login", &[], Some(&body)).await;
    assert_eq!(status, 200);
    let cookie = head
        .lines()
        .find(|line| {
            line.to_ascii_lowercase()
                .starts_with("set-cookie: firstline_session=")
        })
        .expect("a session cookie")
        .to_owned();
    assert!(!cookie.contains("Secure"), "over plain HTTP: {cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

/// A queue filter that means nothing ("p9", "bogus") is said on the page, not silently
/// ignored.
#[tokio::test]
async fn a_bad_queue_filter_is_said_not_ignored() {
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    add_user(
        &collector,
        "tina",
        firstline_collector::model::Role::Technician,
        "tina-password-1",
    )
    .await;
    let (_, session) = sign_in(http, "tina", "tina-password-1").await;
    let (cookie, _) = session.expect("signed in");
    let get = |path: &'static str| {
        let cookie = cookie.clone();
        async move { crate::support::http_form(http, "GET", path, &[("Cookie", &cookie)], None).await }
    };
    let (status, _, fine) = get("/?state=resolved&priority=p2&tier=l1").await;
    assert_eq!(status, 200);
    assert!(!fine.contains("filter-problem"), "{fine}");
    let (status, _, page) = get("/?state=bogus&priority=p9&tier=7").await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("filter-problem").count(), 3, "{page}");
    for named in ["&quot;bogus&quot;", "&quot;p9&quot;", "&quot;7&quot;"] {
        assert!(page.contains(named), "names {named}: {page}");
    }
}
