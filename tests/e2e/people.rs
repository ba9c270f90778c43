//! People in the loop (issue 19, first slice): a real agent reports this machine's users as
//! its utmp and wtmp say; a report made through the agent's socket names the local account
//! that made it (the kernel's word, not the client's) as the ticket's requester, in the API and
//! on the pages; a device's users, sent over the real protocol, are on its ticket, its page and
//! in the queue, and users that break the wire's rules are refused naming the field.

use firstline_collector::model::Role;
use firstline_proto::v1 as pb;
use serde_json::Value;

use crate::support::{
    AgentProcess, SimulatedDevice, TestCollector, add_user, agent_config, http_call, http_json,
    sign_in, wait_for, write_config,
};

/// The uid this test runs as (and so the `report` command it starts): the owner of a file
/// it creates.
fn own_uid(dir: &std::path::Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join("uid-probe");
    std::fs::write(&probe, b"").expect("write probe");
    std::fs::metadata(&probe).expect("probe metadata").uid()
}

/// One glibc `struct utmp` (384 bytes) as Linux writes it: type, pid, line, id, user, host,
/// exit status, session, time (seconds, microseconds), address.
fn utmp_record(kind: i16, line: &str, user: &str, host: &str, seconds: u32) -> Vec<u8> {
    let mut record = vec![0u8; 384];
    record[0..2].copy_from_slice(&kind.to_ne_bytes());
    record[4..8].copy_from_slice(&4242i32.to_ne_bytes());
    record[8..8 + line.len()].copy_from_slice(line.as_bytes());
    record[44..44 + user.len()].copy_from_slice(user.as_bytes());
    record[76..76 + host.len()].copy_from_slice(host.as_bytes());
    record[340..344].copy_from_slice(&seconds.to_ne_bytes());
    record
}

const USER_PROCESS: i16 = 7;
const DEAD_PROCESS: i16 = 8;

/// A web page as a signed-in person sees it.
async fn page(http: std::net::SocketAddr, cookie: &str, path: &str) -> String {
    let (status, _, body) = http_call(http, "GET", path, &[("Cookie", cookie)], None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    match body {
        Value::String(html) => html,
        other => panic!("GET {path} was not a page: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agent_reports_the_users_utmp_lists_and_a_report_names_who_made_it() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let (_, session) = sign_in(http, "tina", "tina-password-1").await;
    let (cookie, _csrf) = session.expect("signed in");
    let dir = tempfile::tempdir().expect("temp dir");

    let state_dir = dir.path().join("agent");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(&config, &agent_config(&[]));
    // This machine's sessions as utmp and wtmp would hold them (a container has none): the
    // agent is pointed at them by the test build's environment.
    let utmp = dir.path().join("utmp");
    let wtmp = dir.path().join("wtmp");
    let sessions = [
        utmp_record(USER_PROCESS, "tty1", "root", "", 1_700_000_100),
        utmp_record(USER_PROCESS, "pts/2", "bob", "10.0.0.7", 1_700_000_200),
        utmp_record(DEAD_PROCESS, "pts/3", "", "", 1_700_000_250),
        utmp_record(USER_PROCESS, ":0", "alice", ":0", 1_700_000_000),
    ];
    std::fs::write(&utmp, sessions.concat()).expect("write utmp");
    let logins = [
        utmp_record(USER_PROCESS, ":0", "alice", ":0", 1_700_000_000),
        utmp_record(USER_PROCESS, "tty2", "carol", "", 1_700_000_300),
        utmp_record(DEAD_PROCESS, "tty2", "", "", 1_700_000_400),
    ];
    let mut history = logins.concat();
    history.extend([0u8; 100]); // a record half written
    std::fs::write(&wtmp, history).expect("write wtmp");
    let utmp_setting = format!("FIRSTLINE_E2E_UTMP={}", utmp.display());
    let wtmp_setting = format!("FIRSTLINE_E2E_WTMP={}", wtmp.display());
    let agent = AgentProcess::start(&["env", &utmp_setting, &wtmp_setting], &config, &state_dir);
    agent.wait_log(&["listening for user reports"], 1).await;

    // The inventory arrives with the users as the parser reads them from those files.
    let inventory = wait_for("the agent's inventory", || async {
        let (_, device) = http_json(
            http,
            "GET",
            &format!("/api/v1/devices/{device}"),
            Some(&key),
            None,
        )
        .await;
        Some(device["inventory"].clone()).filter(|inventory| inventory.is_object())
    })
    .await;
    let expected = firstline_agent::users::users_from(&utmp, &wtmp);
    let reported: Vec<(String, String, String, i64)> = inventory["users"]
        .as_array()
        .expect("users listed")
        .iter()
        .map(|user| {
            (
                user["account"].as_str().unwrap_or_default().to_owned(),
                user["line"].as_str().unwrap_or_default().to_owned(),
                user["kind"].as_str().unwrap_or_default().to_owned(),
                user["login_at_ms"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let read_here: Vec<(String, String, String, i64)> = expected
        .sessions
        .iter()
        .map(|user| {
            let kind = serde_json::to_value(user.kind).expect("kind");
            (
                user.account.clone(),
                user.line.clone(),
                kind.as_str().unwrap_or_default().to_owned(),
                user.login_at_ms,
            )
        })
        .collect();
    assert_eq!(
        reported, read_here,
        "the sessions utmp lists: {inventory:#}"
    );
    let plain = |account: &str, line: &str, kind: &str, seconds: i64| {
        (
            account.to_owned(),
            line.to_owned(),
            kind.to_owned(),
            seconds * 1000,
        )
    };
    assert_eq!(
        reported,
        [
            plain("alice", ":0", "graphical", 1_700_000_000),
            plain("root", "tty1", "console", 1_700_000_100),
            plain("bob", "pts/2", "remote", 1_700_000_200),
        ],
        "graphical first: {inventory:#}"
    );
    assert_eq!(inventory["users"][2]["remote_host"], "10.0.0.7");
    assert_eq!(inventory["last_user"], "carol");

    // A report through the socket: the requester is this test's own account.
    let uid = own_uid(dir.path());
    let account = firstline_agent::users::account_name(uid).unwrap_or_else(|| format!("uid {uid}"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-agent"))
        .args(["report", "my computer is slow", "--json", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(&state_dir)
        .output()
        .expect("run e2e-agent report");
    let outcome: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "report printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(outcome["queued"], true, "{outcome:#}\n{}", agent.log_text());
    let report_id = outcome["report_id"].as_str().expect("report id").to_owned();
    let ticket = wait_for("the report's ticket", || async {
        let (_, tickets) = http_json(
            http,
            "GET",
            &format!("/api/v1/tickets?kind=report&device={device}"),
            Some(&key),
            None,
        )
        .await;
        tickets["tickets"].as_array().and_then(|tickets| {
            tickets
                .iter()
                .find(|t| t["resource"] == report_id.as_str())
                .cloned()
        })
    })
    .await;
    assert_eq!(ticket["requester"], account.as_str(), "{ticket:#}");
    assert_eq!(ticket["requester_uid"], i64::from(uid), "{ticket:#}");
    let (_, detail) = http_json(
        http,
        "GET",
        &format!("/api/v1/tickets/{}", ticket["id"]),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(detail["requester"], account.as_str(), "{detail:#}");
    assert_eq!(
        detail["affected_users"],
        serde_json::json!(["alice", "root", "bob"]),
        "{detail:#}"
    );
    assert_eq!(ticket["affected_users"], detail["affected_users"]);
    let ticket_page = page(http, &cookie, &format!("/tickets/{}", ticket["id"])).await;
    assert!(
        ticket_page.contains(&format!("<dd id=\"requester\">{account}</dd>")),
        "{ticket_page}"
    );
    assert!(
        ticket_page.contains("<dd id=\"affected-users\">alice, root, bob</dd>"),
        "{ticket_page}"
    );
    let queue = page(http, &cookie, "/").await;
    assert!(
        queue.contains(&format!("<span class=\"user\">{account}</span>")),
        "{queue}"
    );
    let device_page = page(http, &cookie, &format!("/devices/{device}")).await;
    assert!(
        device_page.contains("<td>bob</td><td>remote</td><td>pts/2 from 10.0.0.7</td>"),
        "{device_page}"
    );
    assert!(device_page.contains("<span id=\"last-user\">carol</span>"));
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_users_reach_the_device_page_and_its_tickets_and_bad_ones_are_refused() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let (_, session) = sign_in(http, "tina", "tina-password-1").await;
    let (cookie, _csrf) = session.expect("signed in");
    let dir = tempfile::tempdir().expect("temp dir");

    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let device_id = identity.device_id().to_owned();
    let user = |account: &str, line: &str, kind: pb::SessionKind, host: &str| pb::DeviceUser {
        account: account.to_owned(),
        line: line.to_owned(),
        kind: kind.into(),
        login_at_unix_ms: 1_700_000_000_000,
        remote_host: host.to_owned(),
    };
    let inventory = |users: Vec<pb::DeviceUser>| pb::Inventory {
        hostname: "pc-alice".to_owned(),
        agent_version: "test".to_owned(),
        users,
        last_user: "alice".to_owned(),
        ..pb::Inventory::default()
    };
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity, "default", "192.0.2.53").await;
    device
        .stream
        .send(pb::agent_message::Body::Inventory(inventory(vec![
            user("alice", ":0", pb::SessionKind::Graphical, ""),
            user("<b>bob</b>", "pts/1", pb::SessionKind::Remote, "10.1.2.3"),
        ])))
        .await;
    device
        .report("disk.free_low", "/", pb::Severity::Critical)
        .await;

    let ticket = wait_for("the device's ticket", || async {
        let (_, tickets) = http_json(
            http,
            "GET",
            &format!("/api/v1/tickets?device={device_id}"),
            Some(&key),
            None,
        )
        .await;
        tickets["tickets"]
            .as_array()
            .and_then(|t| t.first().cloned())
    })
    .await;
    assert_eq!(ticket["requester"], Value::Null, "no one reported it");
    assert_eq!(
        ticket["affected_users"],
        serde_json::json!(["alice", "<b>bob</b>"])
    );
    let (_, api_device) = http_json(
        http,
        "GET",
        &format!("/api/v1/devices/{device_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(api_device["inventory"]["users"][0]["kind"], "graphical");
    assert_eq!(
        api_device["inventory"]["users"][1]["remote_host"],
        "10.1.2.3"
    );
    assert_eq!(api_device["inventory"]["last_user"], "alice");
    let device_page = page(http, &cookie, &format!("/devices/{device_id}")).await;
    assert!(
        device_page.contains("<td>alice</td><td>graphical</td><td>:0</td>"),
        "{device_page}"
    );
    assert!(
        device_page.contains("&lt;b&gt;bob&lt;/b&gt;"),
        "escaped: {device_page}"
    );
    assert!(!device_page.contains("<b>bob</b>"), "{device_page}");
    assert!(device_page.contains("<span id=\"last-user\">alice</span>"));
    let queue = page(http, &cookie, "/").await;
    assert!(
        queue.contains("<span class=\"user\">alice</span>"),
        "{queue}"
    );

    // A user name with a control character is refused, and the refusal names the field.
    device
        .stream
        .send(pb::agent_message::Body::Inventory(inventory(vec![user(
            "eve\u{1b}[2J",
            ":1",
            pb::SessionKind::Graphical,
            "",
        )])))
        .await;
    let refusal = loop {
        match device.stream.next().await {
            Ok(_) => continue,
            Err(status) => break status,
        }
    };
    assert_eq!(refusal.code(), tonic::Code::InvalidArgument, "{refusal:?}");
    assert!(refusal.message().contains("users.account"), "{refusal:?}");
}

/// The contact directory: imported from CSV by the command line (one bad row imports nothing,
/// and every problem is named with its line), edited over REST by admins only, and shown to
/// staff wherever the account appears: "Alice Kowalska (alice)".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_is_imported_from_csv_edited_by_admins_and_names_the_people_on_tickets() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let http = collector.running().http_address;
    let technician = firstline_collector::http::create_api_key(&store, "tech", Role::Technician)
        .await
        .expect("api key");
    let admin = firstline_collector::http::create_api_key(&store, "admin", Role::Admin)
        .await
        .expect("api key");
    let dir = tempfile::tempdir().expect("temp dir");
    let import = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_e2e-collector"))
            .args(["people", "import"])
            .arg(file)
            .arg("--data-dir")
            .arg(&collector.settings.data_dir)
            .output()
            .expect("run people import")
    };

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "account,display_name,email,language\nalice,Alice Kowalska,alice@example.com,pl\nbob,Bob,bob-at-example,en\nalice,Again,,\n",
    )
    .expect("csv");
    let refused = import(&bad);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("bad.csv line 3: email \"bob-at-example\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.csv line 4: account \"alice\" is already on line 2"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_eq!(store.people(10).await.expect("people").len(), 0);

    let good = dir.path().join("people.csv");
    std::fs::write(
        &good,
        "account,display_name,email,language\nalice,Alice Kowalska,alice@example.com,pl-PL\neleni,Ελένη Παπαδοπούλου,,el\n",
    )
    .expect("csv");
    let imported = import(&good);
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert!(imported.status.success(), "{stderr}");
    assert!(stderr.contains("2 people imported"), "{stderr}");
    let (status, people) = http_json(http, "GET", "/api/v1/people", Some(&technician), None).await;
    assert_eq!(status, 200);
    let people = &people["people"];
    assert_eq!(people[0]["display_name"], "Alice Kowalska");
    assert_eq!(people[0]["language"], "pl");
    assert_eq!(people[1]["display_name"], "Ελένη Παπαδοπούλου");

    // Admins edit one entry; a bad value is said; technicians cannot.
    let body = serde_json::json!({"display_name": "Bob Brown", "email": "bob@example.com", "language": "en"});
    let (status, _) = http_json(
        http,
        "PUT",
        "/api/v1/people/bob",
        Some(&technician),
        Some(&body),
    )
    .await;
    assert_eq!(status, 403);
    let (status, answer) =
        http_json(http, "PUT", "/api/v1/people/bob", Some(&admin), Some(&body)).await;
    assert_eq!(status, 200, "{answer}");
    let wrong = serde_json::json!({"display_name": "Bob", "language": "klingon"});
    let (status, answer) = http_json(
        http,
        "PUT",
        "/api/v1/people/bob",
        Some(&admin),
        Some(&wrong),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("language \"klingon\""),
        "{answer}"
    );

    // A device whose user is in the directory: staff read the name.
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity, "default", "192.0.2.53").await;
    device
        .stream
        .send(pb::agent_message::Body::Inventory(pb::Inventory {
            hostname: "pc-alice".to_owned(),
            agent_version: "test".to_owned(),
            users: vec![pb::DeviceUser {
                account: "alice".to_owned(),
                line: ":0".to_owned(),
                kind: pb::SessionKind::Graphical.into(),
                login_at_unix_ms: 1_700_000_000_000,
                remote_host: String::new(),
            }],
            ..pb::Inventory::default()
        }))
        .await;
    device
        .report("disk.free_low", "/", pb::Severity::Critical)
        .await;
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let (_, session) = sign_in(http, "tina", "tina-password-1").await;
    let (cookie, _) = session.expect("signed in");
    let queue = wait_for("the ticket in the queue, named", || async {
        let queue = page(http, &cookie, "/").await;
        queue.contains("Alice Kowalska").then_some(queue)
    })
    .await;
    assert!(
        queue.contains("Alice Kowalska <span class=\"muted\">(alice)</span>"),
        "{queue}"
    );
    let tickets = store
        .tickets(&firstline_collector::store::TicketFilter::default())
        .await
        .expect("tickets");
    let ticket = page(http, &cookie, &format!("/tickets/{}", tickets[0].id)).await;
    assert!(ticket.contains("Alice Kowalska"), "{ticket}");
    // Removed from the directory, the account still shows, by its name.
    let (status, _) = http_json(http, "DELETE", "/api/v1/people/alice", Some(&admin), None).await;
    assert_eq!(status, 200);
    let queue = page(http, &cookie, "/").await;
    assert!(
        !queue.contains("Alice Kowalska") && queue.contains(">alice<"),
        "{queue}"
    );
}
