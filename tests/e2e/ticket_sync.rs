//! Two-way sync with a real Request Tracker 5 (Debian's `request-tracker5` with
//! `rt5-standalone` and `rt5-db-sqlite`, which `.ci/run` installs): a database of its own per
//! test, made by `rt-setup-database`, served by `rt-server` on a loopback port.

use std::time::Duration;

use firstline_collector::config::Settings;
use firstline_collector::sync::http::Call;
use firstline_collector::tickets::engine::StaffAction;
use firstline_proto::v1 as pb;

use crate::support::{SimulatedDevice, TestCollector, wait_for};

const RT_SERVER: &str = "/usr/share/request-tracker5/libexec/rt-server";
const RT_SETUP: &str = "/usr/sbin/rt-setup-database-5";
const SYNC_PASSWORD: &str = "firstline-sync-password";
const ALICE_PASSWORD: &str = "alice-rt-password";

/// A Request Tracker of this test's own.
pub struct RequestTracker {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

impl RequestTracker {
    /// None when RT is not installed outside CI (in CI a missing RT fails the test).
    pub async fn start() -> Option<Self> {
        if !std::path::Path::new(RT_SERVER).exists() {
            crate::support::skip(
                "Request Tracker 5 is not installed (.ci/run installs request-tracker5, rt5-standalone and rt5-db-sqlite)",
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        std::fs::create_dir(dir.path().join("site.d")).expect("config dir");
        std::fs::write(
            dir.path().join("site.pm"),
            format!(
                "Set($rtname, 'firstline-test');\nSet($Organization, 'firstline.test');\n\
                 Set($DatabaseType, 'SQLite');\nSet($DatabaseName, '{db}');\n\
                 Set($WebPort, {port});\nSet($WebDomain, '127.0.0.1');\nSet($WebPath, '');\n\
                 Set($WebBaseURL, 'http://127.0.0.1:{port}');\nSet($LogToSTDERR, 'error');\n\
                 Set($LogToSyslog, undef);\nSet($MailCommand, 'testfile');\n1;\n",
                db = dir.path().join("rtdb").display()
            ),
        )
        .expect("site config");
        std::fs::write(
            dir.path().join("people.pl"),
            format!(
                "@Users = (\n\
                 {{ Name => 'firstline', Password => '{SYNC_PASSWORD}', Privileged => 1, EmailAddress => 'firstline@example.com' }},\n\
                 {{ Name => 'alice', Password => '{ALICE_PASSWORD}', Privileged => 1, EmailAddress => 'alice@example.com' }},\n\
                 );\n@ACL = (\n{{ UserId => 'firstline', Right => 'SuperUser' }},\n{{ UserId => 'alice', Right => 'SuperUser' }},\n);\n1;\n"
            ),
        )
        .expect("people");
        let mut rt = RequestTracker {
            dir,
            port,
            child: None,
        };
        for args in [
            vec!["--action", "init", "--skip-create"],
            vec![
                "--action",
                "insert",
                "--skip-create",
                "--datafile",
                rt.path("people.pl").as_str(),
            ],
        ] {
            let output = rt
                .command(RT_SETUP)
                .args(&args)
                .output()
                .expect("run rt-setup-database");
            // It exits 0 even when a user could not be made: its errors say so.
            assert!(
                output.status.success()
                    && !String::from_utf8_lossy(&output.stderr).contains("[error]"),
                "rt-setup-database {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        rt.up().await;
        Some(rt)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn command(&self, program: &str) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        command
            .env("RT_SITE_CONFIG", self.path("site.pm"))
            .env("RT_SITE_CONFIG_DIR", self.path("site.d"))
            .current_dir(self.dir.path());
        command
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until REST2 answers.
    pub async fn up(&mut self) {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(self.path("server.log")).expect("log");
        let child = self
            .command(RT_SERVER)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start rt-server");
        self.child = Some(child);
        let started = std::time::Instant::now();
        while let Err(e) = self.api("GET", "queues/all", None).await {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "RT did not start ({e}): {}",
                std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the server (its workers too).
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = i32::try_from(child.id()).expect("pid");
            let _ = std::process::Command::new("/bin/kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
            let _ = child.wait();
        }
    }

    /// A REST2 call as alice, a person working tickets in RT.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        use base64::Engine;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("alice:{ALICE_PASSWORD}"));
        let mut call = Call::new(
            method.parse().expect("method"),
            format!("{}/REST/2.0/{path}", self.url()),
            "the test's RT call",
        )
        .header("Authorization", format!("Basic {basic}"));
        if let Some(body) = body {
            call = call.json(body);
        }
        let reply = call.send().await.map_err(|e| e.to_string())?;
        reply.json("the test's RT call").map_err(|e| e.to_string())
    }

    /// RT tickets that refer to Firstline ticket `id`, as (id, subject, status).
    pub async fn tickets_for(&self, id: i64) -> Vec<(String, String, String)> {
        let query = format!("RefersTo = 'urn:firstline:ticket:{id}'");
        let encoded = firstline_collector::net::url_encode(&query);
        let found = self
            .api(
                "GET",
                &format!("tickets?query={encoded}&fields=Subject,Status"),
                None,
            )
            .await
            .expect("search RT");
        found["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                (
                    item["id"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| item["id"].to_string()),
                    item["Subject"].as_str().unwrap_or_default().to_owned(),
                    item["Status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The plain-text contents of an RT ticket's transactions, oldest first.
    pub async fn history(&self, remote: &str) -> Vec<String> {
        let history = self
            .api(
                "GET",
                &format!("ticket/{remote}/history?per_page=100"),
                None,
            )
            .await
            .expect("history");
        let mut texts = Vec::new();
        for item in history["items"].as_array().expect("items") {
            let id = item["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| item["id"].to_string());
            let transaction = self
                .api("GET", &format!("transaction/{id}"), None)
                .await
                .expect("transaction");
            for link in transaction["_hyperlinks"].as_array().into_iter().flatten() {
                if link["ref"] != "attachment" {
                    continue;
                }
                let url = link["_url"].as_str().expect("url");
                let attachment_id = url.rsplit('/').next().expect("id");
                let attachment = self
                    .api("GET", &format!("attachment/{attachment_id}"), None)
                    .await
                    .expect("attachment");
                texts.extend(firstline_collector::sync::rt::plain_text(&attachment));
            }
        }
        texts
    }
}

impl Drop for RequestTracker {
    fn drop(&mut self) {
        self.down();
    }
}

const HOOK_TOKEN: &str = "rt-webhook-token-0123456789";

fn rt_settings(rt: &RequestTracker) -> Settings {
    rt_settings_polling(rt, "300ms")
}

fn rt_settings_polling(rt: &RequestTracker, poll_interval: &str) -> Settings {
    Settings::parse(
        &format!(
            "[[ticket_systems]]\nname = \"rt\"\nkind = \"rt\"\nurl = \"{}\"\nusername = \"firstline\"\npassword = \"{SYNC_PASSWORD}\"\npoll_interval = \"{poll_interval}\"\nretry_initial = \"200ms\"\nretry_max = \"1s\"\nwebhook_token = \"{HOOK_TOKEN}\"\n",
            rt.url()
        ),
        std::path::Path::new("collector.toml"),
    )
    .expect("ticket system config")
}

fn open_filter() -> firstline_collector::store::tickets::TicketFilter {
    firstline_collector::store::tickets::TicketFilter {
        state: Some("open".to_owned()),
        ..Default::default()
    }
}

async fn open_ticket(collector: &TestCollector, device: &str, check: &str) -> i64 {
    let store = collector.running().store.clone();
    wait_for("the Firstline ticket", || {
        let store = store.clone();
        let check = check.to_owned();
        let device = device.to_owned();
        async move {
            store
                .tickets(&open_filter())
                .await
                .expect("tickets")
                .into_iter()
                .find(|t| t.check == check && t.device_id.as_deref() == Some(device.as_str()))
                .map(|t| t.id)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_request_tracker_gets_one_ticket_talks_back_and_catches_up_after_an_outage() {
    let Some(mut rt) = RequestTracker::start().await else {
        return;
    };
    let systems = rt_settings(&rt).ticket_systems;
    let collector = TestCollector::start_with(|settings| settings.ticket_systems = systems).await;
    let store = collector.running().store.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity.clone(), "hq", "192.0.2.53").await;

    // A fault opens one RT ticket, carrying the evidence and the Firstline link.
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let first = open_ticket(&collector, identity.device_id(), "disk.free_low").await;
    let remote = wait_for("the RT ticket", || async {
        rt.tickets_for(first).await.into_iter().next()
    })
    .await;
    let title = store
        .ticket_detail(first)
        .await
        .expect("detail")
        .expect("ticket")
        .ticket
        .title;
    assert_eq!(remote.1, title, "the RT subject is the ticket's title");
    let history = rt.history(&remote.0).await;
    assert!(
        history
            .iter()
            .any(|text| text.contains("disk.free_low on /")),
        "the evidence is in RT: {history:#?}"
    );

    // A comment written in RT comes onto the Firstline timeline, once.
    rt.api(
        "POST",
        &format!("ticket/{}/comment", remote.0),
        Some(serde_json::json!({ "Content": "Checked the disk from RT; the logs are huge.", "ContentType": "text/plain" })),
    )
    .await
    .expect("comment in RT");
    wait_for("the RT comment on the timeline", || async {
        let detail = store.ticket_detail(first).await.ok()??;
        detail
            .timeline
            .iter()
            .any(|e| e.actor.as_deref() == Some("alice (rt)") && e.text.contains("logs are huge"))
            .then_some(())
    })
    .await;

    // A public reply in Firstline reaches RT as correspondence.
    store
        .staff_action(
            first,
            "tina",
            &StaffAction::Reply {
                text: "We are cleaning the disk now.".to_owned(),
            },
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("reply");
    wait_for("the reply in RT", || async {
        rt.history(&remote.0)
            .await
            .iter()
            .any(|t| t.contains("cleaning the disk now"))
            .then_some(())
    })
    .await;

    // The fault clears: the RT ticket resolves with the recovery.
    device.report("disk.free_low", "/", pb::Severity::Ok).await;
    wait_for("the RT ticket resolved", || async {
        rt.tickets_for(first)
            .await
            .into_iter()
            .find(|t| t.2 == "resolved")
            .map(|_| ())
    })
    .await;
    let comments_in_firstline = store
        .ticket_detail(first)
        .await
        .expect("detail")
        .expect("ticket")
        .timeline
        .iter()
        .filter(|e| e.text.contains("logs are huge"))
        .count();
    assert_eq!(comments_in_firstline, 1, "the RT comment came back once");

    // A person resolving in RT resolves and closes it here; the fault coming back opens a
    // new ticket linked to it instead of reopening.
    device
        .report("memory.available_low", "ram", pb::Severity::Warning)
        .await;
    let second = open_ticket(&collector, identity.device_id(), "memory.available_low").await;
    let remote_second = wait_for("the second RT ticket", || async {
        rt.tickets_for(second).await.into_iter().next()
    })
    .await;
    rt.api(
        "PUT",
        &format!("ticket/{}", remote_second.0),
        Some(serde_json::json!({ "Status": "resolved" })),
    )
    .await
    .expect("resolve in RT");
    wait_for("the ticket closed by RT", || async {
        let detail = store.ticket_detail(second).await.ok()??;
        (detail.ticket.state.as_str() == "closed").then_some(detail)
    })
    .await;
    device
        .report("memory.available_low", "ram", pb::Severity::Ok)
        .await;
    device
        .report("memory.available_low", "ram", pb::Severity::Warning)
        .await;
    let third = wait_for("a new ticket for the fault's return", || async {
        store
            .tickets(&open_filter())
            .await
            .ok()?
            .into_iter()
            .find(|t| t.check == "memory.available_low" && t.id != second)
            .map(|t| t.id)
    })
    .await;
    let detail = store
        .ticket_detail(third)
        .await
        .expect("detail")
        .expect("ticket");
    assert!(
        detail.linked_tickets.contains(&second),
        "{:?}",
        detail.linked_tickets
    );
    assert_eq!(
        store
            .ticket_detail(second)
            .await
            .expect("detail")
            .expect("ticket")
            .ticket
            .state
            .as_str(),
        "closed",
        "a ticket closed in RT does not reopen"
    );

    // RT goes down: a new fault and a reply wait, then arrive in order once RT is back.
    rt.down();
    device
        .report("cpu.sustained_high", "total", pb::Severity::Warning)
        .await;
    let fourth = open_ticket(&collector, identity.device_id(), "cpu.sustained_high").await;
    store
        .staff_action(
            fourth,
            "tina",
            &StaffAction::Reply {
                text: "Looking at the busy process.".to_owned(),
            },
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("reply");
    wait_for("an attempt that failed while RT was down", || async {
        let links = store.ticket_sync(fourth).await.ok()?;
        links
            .iter()
            .find(|l| l.system == "rt" && l.waiting >= 1 && l.last_error.is_some())
            .map(|_| ())
    })
    .await;
    let http = collector.running().http_address;
    let (_, _, metrics) = crate::support::http_form(http, "GET", "/metrics", &[], None).await;
    let waiting = metrics
        .lines()
        .find_map(|line| line.strip_prefix("firstline_ticket_sync_waiting{system=\"rt\"} "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .expect("the outbox gauge");
    assert!(waiting >= 1.0, "{metrics}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    rt.up().await;
    let remote_fourth = wait_for("the held ticket in RT", || async {
        rt.tickets_for(fourth).await.into_iter().next()
    })
    .await;
    wait_for("the held reply in RT", || async {
        rt.history(&remote_fourth.0)
            .await
            .iter()
            .any(|t| t.contains("busy process"))
            .then_some(())
    })
    .await;
    let history = rt.history(&remote_fourth.0).await;
    let created = history
        .iter()
        .position(|t| t.contains("cpu.sustained_high"));
    let replied = history.iter().position(|t| t.contains("busy process"));
    assert!(created < replied, "in order: {history:#?}");
    assert_eq!(rt.tickets_for(fourth).await.len(), 1);
    wait_for("the outbox empty", || async {
        let links = store.ticket_sync(fourth).await.ok()?;
        links.iter().all(|l| l.waiting == 0).then_some(())
    })
    .await;

    // The ticket page and the API show the RT ticket and that it is in step.
    crate::support::add_user(
        &collector,
        "tina",
        firstline_collector::model::Role::Technician,
        "tina-password-1",
    )
    .await;
    let (_, session) = crate::support::sign_in(http, "tina", "tina-password-1").await;
    let (cookie, _) = session.expect("signed in");
    let (status, _, page) = crate::support::http_form(
        http,
        "GET",
        &format!("/tickets/{fourth}"),
        &[("Cookie", cookie.as_str())],
        None,
    )
    .await;
    assert_eq!(status, 200);
    let systems = page
        .split("id=\"ticket-systems\">")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .expect("the ticket systems on the page");
    assert!(
        systems.contains(&format!("Ticket/Display.html?id={}", remote_fourth.0))
            && systems.contains("in step"),
        "{systems}"
    );
    let (status, _, detail) = crate::support::http_call(
        http,
        "GET",
        &format!("/api/v1/tickets/{fourth}"),
        &[("Cookie", cookie.as_str())],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(detail["ticket_systems"][0]["system"], "rt", "{detail}");
    assert_eq!(
        detail["ticket_systems"][0]["remote_id"],
        remote_fourth.0.as_str(),
        "{detail}"
    );
    assert_eq!(detail["ticket_systems"][0]["waiting"], 0, "{detail}");
    drop(device);
}

/// The state a collector killed between the remote create and recording it leaves: an RT
/// ticket carrying the link, and an outbox entry still waiting. The next attempt finds the
/// ticket instead of creating another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cut_off_before_it_was_recorded_is_found_not_repeated() {
    let Some(rt) = RequestTracker::start().await else {
        return;
    };
    // Ticket ids start at 1 in a fresh collector: RT already has the first one's twin, as a
    // collector that died after creating it would have left it.
    let made = rt
        .api(
            "POST",
            "ticket",
            Some(serde_json::json!({ "Queue": "General", "Subject": "made before the crash", "RefersTo": "urn:firstline:ticket:1" })),
        )
        .await
        .expect("create in RT");
    let systems = rt_settings_polling(&rt, "1h").ticket_systems;
    let collector = TestCollector::start_with(|settings| settings.ticket_systems = systems).await;
    let store = collector.running().store.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity.clone(), "hq", "192.0.2.53").await;
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let ticket = open_ticket(&collector, identity.device_id(), "disk.free_low").await;
    assert_eq!(ticket, 1);
    let link = wait_for("the link", || async {
        store
            .ticket_sync(ticket)
            .await
            .ok()?
            .into_iter()
            .find(|l| !l.remote_id.is_empty() && l.waiting == 0)
    })
    .await;
    assert_eq!(link.remote_id, made["id"].as_str().expect("id"));
    assert_eq!(
        rt.tickets_for(ticket).await.len(),
        1,
        "exactly one RT ticket"
    );
    let detail = store
        .ticket_detail(ticket)
        .await
        .expect("detail")
        .expect("ticket");
    assert!(
        detail
            .timeline
            .iter()
            .any(|e| e.kind == "sync" && e.text.contains("found again")),
        "{:#?}",
        detail.timeline
    );

    // Polled hourly here: RT's webhook asks for a poll now. A wrong token changes nothing.
    rt.api(
        "POST",
        &format!("ticket/{}/comment", link.remote_id),
        Some(serde_json::json!({ "Content": "Rang the bell.", "ContentType": "text/plain" })),
    )
    .await
    .expect("comment in RT");
    let http = collector.running().http_address;
    let hook = "/hooks/ticket-systems/rt";
    let (status, _, _) = crate::support::http_call(
        http,
        "POST",
        hook,
        &[("X-Firstline-Token", "wrong-token-0123456789")],
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) =
        crate::support::http_call(http, "POST", "/hooks/ticket-systems/nope", &[], None).await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let taken = |detail: &firstline_collector::store::tickets::TicketDetail| {
        detail.timeline.iter().any(|e| e.text == "Rang the bell.")
    };
    assert!(!taken(
        &store
            .ticket_detail(ticket)
            .await
            .expect("detail")
            .expect("ticket")
    ));
    let (status, _, _) = crate::support::http_call(
        http,
        "POST",
        hook,
        &[("X-Firstline-Token", HOOK_TOKEN)],
        None,
    )
    .await;
    assert_eq!(status, 202);
    wait_for("the comment the webhook rang for", || async {
        let detail = store.ticket_detail(ticket).await.ok()??;
        taken(&detail).then_some(())
    })
    .await;
    drop(device);
}

/// Two collectors on one PostgreSQL, both configured for the same RT, both trying while RT
/// is down and again when it is back: one RT ticket, and an RT comment taken in once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_on_one_postgresql_make_one_request_tracker_ticket() {
    let Some((_schema, url)) = crate::postgres::Schema::create().await else {
        return;
    };
    let Some(mut rt) = RequestTracker::start().await else {
        return;
    };
    let systems = rt_settings(&rt).ticket_systems;
    let first = TestCollector::start_with(|settings| {
        settings.database_url = Some(url.clone());
        settings.ticket_systems = systems.clone();
    })
    .await;
    let ca = first.settings.data_dir.clone();
    let second = TestCollector::start_with(|settings| {
        settings.database_url = Some(url.clone());
        settings.ticket_systems = systems;
        std::fs::create_dir_all(&settings.data_dir).expect("data dir");
        for file in ["ca.pem", "ca-key.pem"] {
            std::fs::copy(ca.join(file), settings.data_dir.join(file)).expect("copy the shared CA");
        }
    })
    .await;
    rt.down();
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = SimulatedDevice::enroll(&first.url(), first.token().await, dir.path()).await;
    let mut device =
        SimulatedDevice::connect(&second.url(), identity.clone(), "hq", "192.0.2.53").await;
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let ticket = open_ticket(&first, identity.device_id(), "disk.free_low").await;
    let store = first.running().store.clone();
    wait_for("attempts while RT is down", || async {
        store
            .ticket_sync(ticket)
            .await
            .ok()?
            .into_iter()
            .find(|l| l.last_error.is_some())
    })
    .await;
    rt.up().await;
    let remote = wait_for("the RT ticket", || async {
        rt.tickets_for(ticket).await.into_iter().next()
    })
    .await;
    rt.api(
        "POST",
        &format!("ticket/{}/comment", remote.0),
        Some(serde_json::json!({ "Content": "Seen from RT, once.", "ContentType": "text/plain" })),
    )
    .await
    .expect("comment in RT");
    wait_for("the RT comment on the timeline", || async {
        let detail = store.ticket_detail(ticket).await.ok()??;
        detail
            .timeline
            .iter()
            .any(|e| e.text.contains("Seen from RT, once."))
            .then_some(())
    })
    .await;
    // The fault clears: the RT ticket resolves (later entries of a known ticket, on PostgreSQL).
    device.report("disk.free_low", "/", pb::Severity::Ok).await;
    wait_for("the RT ticket resolved", || async {
        rt.tickets_for(ticket)
            .await
            .into_iter()
            .find(|t| t.2 == "resolved")
            .map(|_| ())
    })
    .await;
    // Both collectors keep polling and sending for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rt.tickets_for(ticket).await.len(), 1, "one RT ticket");
    let detail = store
        .ticket_detail(ticket)
        .await
        .expect("detail")
        .expect("ticket");
    assert_eq!(
        detail
            .timeline
            .iter()
            .filter(|e| e.text.contains("Seen from RT, once."))
            .count(),
        1,
        "{:#?}",
        detail.timeline
    );
    assert_eq!(
        detail
            .timeline
            .iter()
            .filter(|e| e.kind == "sync" && e.text.contains("opened"))
            .count(),
        1
    );
    drop(device);
}
