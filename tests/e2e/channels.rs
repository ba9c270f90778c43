//! Notification channels end to end: a webhook receiver the test runs checks every request's
//! HMAC signature, fails the first two attempts and still gets each event once it recovers,
//! with one idempotency key per event across retries; deliveries wait out a collector restart.

use std::sync::{Arc, Mutex};

use firstline_collector::config::Settings;
use firstline_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{SimulatedDevice, TestCollector, wait_for};

const SECRET: &str = "webhook-secret-0123456789";

#[derive(Debug, Clone)]
struct Received {
    event: String,
    idempotency_key: String,
    signature_ok: bool,
    answered: u16,
    body: serde_json::Value,
}

/// A webhook receiver that answers 500 while `failures_left` lasts (or always, when
/// `down`), then 200.
#[derive(Clone, Default)]
struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<Mutex<u32>>,
    down: Arc<Mutex<bool>>,
}

impl Receiver {
    async fn start(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let this = self.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let this = this.clone();
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let mut buffer = [0u8; 4096];
                    let (head, body) = loop {
                        let Ok(read) = stream.read(&mut buffer).await else {
                            return;
                        };
                        if read == 0 {
                            return;
                        }
                        data.extend_from_slice(&buffer[..read]);
                        let text = String::from_utf8_lossy(&data).into_owned();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let length: usize = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().to_owned())
                                })
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0);
                            if body.len() >= length {
                                break (head.to_owned(), body[..length].to_owned());
                            }
                        }
                    };
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| {
                                let (key, value) = l.split_once(':')?;
                                key.eq_ignore_ascii_case(name)
                                    .then(|| value.trim().to_owned())
                            })
                            .unwrap_or_default()
                    };
                    // Verify "t=…,v1=…" independently with ring.
                    let signature = header("X-Firstline-Signature");
                    let timestamp = signature
                        .split(',')
                        .find_map(|p| p.strip_prefix("t="))
                        .unwrap_or_default()
                        .to_owned();
                    let presented = signature
                        .split(',')
                        .find_map(|p| p.strip_prefix("v1="))
                        .unwrap_or_default()
                        .to_owned();
                    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
                    let expected: String =
                        ring::hmac::sign(&key, format!("{timestamp}.{body}").as_bytes())
                            .as_ref()
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                    let answered = {
                        let mut failures = this.failures_left.lock().expect("lock");
                        if *this.down.lock().expect("lock") {
                            503
                        } else if *failures > 0 {
                            *failures -= 1;
                            500
                        } else {
                            200
                        }
                    };
                    this.log.lock().expect("lock").push(Received {
                        event: header("X-Firstline-Event"),
                        idempotency_key: header("Idempotency-Key"),
                        signature_ok: !presented.is_empty() && presented == expected,
                        answered,
                        body: serde_json::from_str(&body).unwrap_or_default(),
                    });
                    let reply = format!(
                        "HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        address
    }

    fn log(&self) -> Vec<Received> {
        self.log.lock().expect("lock").clone()
    }

    fn delivered(&self, event: &str) -> Vec<Received> {
        self.log()
            .into_iter()
            .filter(|r| r.event == event && r.answered == 200)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_survives_failures_and_a_restart() {
    let receiver = Receiver::default();
    *receiver.failures_left.lock().expect("lock") = 2;
    let address = receiver.start().await;
    let channels = Settings::parse(
        &format!(
            "[[channels]]\nname = \"helpdesk\"\nkind = \"webhook\"\nurl = \"http://{address}/hooks/firstline\"\nsecret = \"{SECRET}\"\nretry_initial = \"100ms\"\nretry_max = \"400ms\"\n"
        ),
        std::path::Path::new("channels.toml"),
    )
    .expect("channel config")
    .channels;
    let mut collector = TestCollector::start_with(|settings| settings.channels = channels).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, dir.path()).await;
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity.clone(), "hq", "192.0.2.53").await;

    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    let opened = wait_for("the opened event, after two failed attempts", || async {
        receiver.delivered("opened").first().cloned()
    })
    .await;
    let attempts: Vec<Received> = receiver
        .log()
        .into_iter()
        .filter(|r| r.event == "opened")
        .collect();
    assert_eq!(
        attempts.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(
        attempts.iter().all(|r| r.signature_ok),
        "every attempt is signed: {attempts:#?}"
    );
    assert!(
        attempts
            .iter()
            .all(|r| r.idempotency_key == opened.idempotency_key),
        "one idempotency key across retries"
    );
    assert_eq!(opened.body["ticket"]["check"], "disk.free_low");
    assert_eq!(
        opened.body["idempotency_key"],
        opened.idempotency_key.as_str()
    );

    device.report("disk.free_low", "/", pb::Severity::Ok).await;
    wait_for("the resolved event", || async {
        receiver.delivered("resolved").first().cloned()
    })
    .await;
    let ticket = opened.body["ticket"]["id"].as_i64().expect("ticket id");
    let detail = collector
        .running()
        .store
        .ticket_detail(ticket)
        .await
        .expect("detail")
        .expect("ticket");
    assert!(
        detail
            .timeline
            .iter()
            .any(|e| e.kind == "notification" && e.text == "Sent to helpdesk (opened)"),
        "{:#?}",
        detail.timeline
    );

    // The receiver goes down; the collector restarts meanwhile; the event still arrives.
    *receiver.down.lock().expect("lock") = true;
    device
        .report("memory.available_low", "ram", pb::Severity::Warning)
        .await;
    wait_for("an attempt at the new event", || async {
        receiver
            .log()
            .iter()
            .any(|r| r.event == "opened" && r.answered == 503)
            .then_some(())
    })
    .await;
    drop(device);
    collector.restart().await;
    *receiver.down.lock().expect("lock") = false;
    wait_for("the event held over the restart", || async {
        receiver
            .delivered("opened")
            .into_iter()
            .find(|r| r.body["ticket"]["check"] == "memory.available_low")
    })
    .await;
    let opened_events = receiver.delivered("opened");
    let keys: std::collections::HashSet<_> = opened_events
        .iter()
        .map(|r| r.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), opened_events.len(), "each event delivered once");
}

/// A real SMTP server: Debian's aiosmtpd, writing each mail it receives into a maildir.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl SmtpServer {
    /// None when aiosmtpd is missing outside CI (`.ci/run` installs python3-aiosmtpd; there a
    /// missing server fails the test).
    async fn start(dir: &std::path::Path) -> Option<Self> {
        let python = "/usr/bin/python3";
        let available = std::process::Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|output| output.status.success());
        if !available {
            crate::support::skip("python3-aiosmtpd is not installed (.ci/run installs it)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let maildir = dir.join("maildir");
        let child = std::process::Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = Self {
            child,
            port,
            maildir,
        };
        wait_for("the SMTP server to listen", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", server.port))
                .await
                .ok()
                .map(drop)
        })
        .await;
        Some(server)
    }

    /// The headers of every mail received so far, oldest first.
    fn mails(&self) -> Vec<std::collections::HashMap<String, String>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut mails: Vec<(
            std::time::SystemTime,
            std::collections::HashMap<String, String>,
        )> = entries
            .flatten()
            .filter_map(|entry| {
                let text = std::fs::read_to_string(entry.path()).ok()?;
                let modified = entry.metadata().and_then(|m| m.modified()).ok()?;
                let head = text.split("\n\n").next().unwrap_or_default().to_owned();
                let headers = head
                    .lines()
                    .filter_map(|line| line.split_once(": "))
                    .map(|(key, value)| (key.to_ascii_lowercase(), value.trim().to_owned()))
                    .collect();
                Some((modified, headers))
            })
            .collect();
        mails.sort_by_key(|(modified, _)| *modified);
        mails.into_iter().map(|(_, headers)| headers).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_and_resolve_mails_of_a_ticket_reach_a_real_smtp_server_in_one_thread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(smtp) = SmtpServer::start(dir.path()).await else {
        return;
    };
    let channels = Settings::parse(
        &format!(
            "[[channels]]\nname = \"helpdesk-mail\"\nkind = \"email\"\nsmtp = \"127.0.0.1:{}\"\nsecurity = \"none\"\nfrom = \"Firstline <firstline@example.com>\"\nto = [\"helpdesk@example.com\"]\nretry_initial = \"100ms\"\n",
            smtp.port
        ),
        std::path::Path::new("channels.toml"),
    )
    .expect("channel config")
    .channels;
    let collector = TestCollector::start_with(|settings| settings.channels = channels).await;
    let identity = SimulatedDevice::enroll(
        &collector.url(),
        collector.token().await,
        &dir.path().join("agent"),
    )
    .await;
    let mut device = SimulatedDevice::connect(&collector.url(), identity, "hq", "192.0.2.53").await;
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    wait_for("the opened mail", || async {
        (smtp.mails().len() == 1).then_some(())
    })
    .await;
    device.report("disk.free_low", "/", pb::Severity::Ok).await;
    let mails = wait_for("the resolved mail", || async {
        let mails = smtp.mails();
        (mails.len() == 2).then_some(mails)
    })
    .await;
    let (opened, resolved) = (&mails[0], &mails[1]);
    assert!(
        opened["subject"].starts_with("[Firstline #1] P4 opened"),
        "{opened:#?}"
    );
    assert!(
        resolved["subject"].starts_with("[Firstline #1] P4 resolved"),
        "{resolved:#?}"
    );
    assert_eq!(opened["message-id"], "<firstline-ticket-1@example.com>");
    assert_eq!(
        resolved["in-reply-to"], opened["message-id"],
        "threaded: {resolved:#?}"
    );
    assert_eq!(resolved["references"], opened["message-id"]);
    assert_ne!(resolved["message-id"], opened["message-id"]);
    assert_eq!(opened["to"], "helpdesk@example.com");
}

/// A public reply reaches the person who reported it: a mail to their directory address, in
/// their language, in the ticket's thread (and a desktop notice waits for their device); an
/// internal note reaches no one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_reply_mails_the_requester_in_their_language_and_a_note_does_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(smtp) = SmtpServer::start(dir.path()).await else {
        return;
    };
    let channels = Settings::parse(
        &format!(
            "[[channels]]\nname = \"requesters\"\nkind = \"email\"\nsmtp = \"127.0.0.1:{}\"\nsecurity = \"none\"\nfrom = \"IT <it@example.com>\"\nto_requester = true\nretry_initial = \"100ms\"\n",
            smtp.port
        ),
        std::path::Path::new("channels.toml"),
    )
    .expect("channel config")
    .channels;
    let collector = TestCollector::start_with(|settings| settings.channels = channels).await;
    let store = collector.running.as_ref().expect("running").store.clone();
    let http = collector.running.as_ref().expect("running").http_address;
    store
        .upsert_people(
            &[firstline_collector::directory::Person {
                account: "alice".to_owned(),
                display_name: "Alicja Kowalska".to_owned(),
                email: Some("alice@example.com".to_owned()),
                language: Some("pl".to_owned()),
            }],
            "test",
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("directory");
    let identity = SimulatedDevice::enroll(
        &collector.url(),
        collector.token().await,
        &dir.path().join("agent"),
    )
    .await;
    let mut device = SimulatedDevice::connect(&collector.url(), identity, "hq", "192.0.2.53").await;
    let sequence = device.take_sequence();
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![pb::Finding {
                sequence,
                check: "user.report".to_owned(),
                resource: "r-1".to_owned(),
                severity: pb::Severity::Warning as i32,
                summary: "nie mogę drukować".to_owned(),
                evidence_json: r#"{"text": "nie mogę drukować", "reporter": {"uid": 1000, "account": "alice"}}"#.to_owned(),
                observed_at_unix_ms: firstline_collector::model::now_ms(),
            }],
        }))
        .await;
    let key = firstline_collector::http::create_api_key(
        &store,
        "tech",
        firstline_collector::model::Role::Technician,
    )
    .await
    .expect("key");
    let ticket = wait_for("the report's ticket", || async {
        let (_, tickets) =
            crate::support::http_json(http, "GET", "/api/v1/tickets", Some(&key), None).await;
        tickets["tickets"].as_array()?.first()?.get("id")?.as_i64()
    })
    .await;
    let act = |body: serde_json::Value| {
        let key = key.clone();
        async move {
            crate::support::http_json(
                http,
                "POST",
                &format!("/api/v1/tickets/{ticket}/actions"),
                Some(&key),
                Some(&body),
            )
            .await
        }
    };
    let (status, answer) =
        act(serde_json::json!({"action": "comment", "text": "internal: driver issue"})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) =
        act(serde_json::json!({"action": "reply", "text": "Proszę uruchomić drukarkę ponownie."}))
            .await;
    assert_eq!(status, 200, "{answer}");
    let mails = wait_for("the reply mail", || async {
        let mails = smtp.mails();
        (!mails.is_empty()).then_some(mails)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        smtp.mails().len(),
        1,
        "only the reply is mailed, not the note: {mails:#?}"
    );
    let mail = &mails[0];
    assert!(mail["to"].contains("alice@example.com"), "{mail:#?}");
    assert!(mail["subject"].contains(&format!("#{ticket}")), "{mail:#?}");
    assert_eq!(
        mail["in-reply-to"],
        format!("<firstline-ticket-{ticket}@example.com>"),
        "threaded"
    );
    let body = std::fs::read_dir(smtp.maildir.join("new"))
        .expect("maildir")
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        !body.contains("driver issue"),
        "the internal note stays internal"
    );
    // The subject is Polish (RFC 2047-encoded when not ASCII).
    assert!(
        mail["subject"].contains("Dzia") || mail["subject"].contains("=?utf-8?"),
        "{mail:#?}"
    );
    // The device's stream carries the same reply as a desktop notice for alice.
    let notice = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(40), device.stream.next()).await {
            Ok(Ok(pb::collector_message::Body::Notice(notice))) => break notice,
            Ok(Ok(_)) => continue,
            Ok(Err(status)) => panic!("stream ended: {status}"),
            Err(_) => panic!("no notice within a heartbeat"),
        }
    };
    assert_eq!(notice.account, "alice");
    assert_eq!(notice.kind, "reply");
    assert_eq!(notice.ticket_id, ticket);
    assert!(
        notice.title.contains("Dział IT"),
        "in her language: {notice:?}"
    );
    assert!(notice.body.contains("uruchomić drukarkę"), "{notice:?}");
}
