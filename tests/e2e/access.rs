//! Who may do what: every route group refuses callers without credentials (401) and callers
//! whose role is too low (403); people sign in with a password (argon2), get a session cookie
//! and must show its CSRF token to change anything; failed sign-ins are rate limited; an
//! admin can revoke a device, which ends its stream.

use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::{Value, json};

use crate::support::{
    RawStream, SimulatedDevice, TestCollector, add_user, channel, hello, http_call, http_json,
};

/// (method, path, body, least role).
fn routes() -> Vec<(&'static str, &'static str, Option<Value>, Role)> {
    vec![
        ("GET", "/api/v1/me", None, Role::Technician),
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
        ("GET", "/api/v1/knowledge?q=disk", None, Role::Technician),
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
    ]
}

/// Signs in; returns the cookie header value and the CSRF token.
async fn sign_in(
    http: std::net::SocketAddr,
    name: &str,
    password: &str,
) -> (u16, Option<(String, String)>) {
    let (status, head, body) = http_call(
        http,
        "POST",
        "/login",
        &[],
        Some(&json!({"name": name, "password": password})),
    )
    .await;
    let cookie = head
        .lines()
        .find_map(|line| {
            line.strip_prefix("set-cookie: ")
                .or_else(|| line.strip_prefix("Set-Cookie: "))
        })
        .and_then(|value| value.split(';').next())
        .map(str::to_owned);
    let csrf = body["csrf_token"].as_str().map(str::to_owned);
    (status, cookie.zip(csrf))
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

    // Five failures lock the name for a while, even against the right password; other names
    // are not affected. (Signing in successfully forgot the earlier failure.)
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
    let id = tickets[0]["id"].as_i64().expect("ticket");
    let path = format!("/api/v1/tickets/{id}/actions");
    let assign = |to: &str| json!({"action": "assign", "to": to});
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
}
