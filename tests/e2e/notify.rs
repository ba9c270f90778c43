//! Desktop notifications for real: a session bus of the test's own (`dbus-daemon`), a
//! recording notification service on it (zbus, owning org.freedesktop.Notifications), and the
//! agent's notifier showing notices through its real child (`e2e-agent notify`), as the
//! uplink calls it when the collector sends one.

use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use firstline_agent::notify::{NotShown, Notice, Notifier, NotifierSettings};
use firstline_agent::wire::FromCollector;
use firstline_proto::v1 as pb;
use zbus::zvariant::{OwnedValue, Value};

use crate::support::{self, skip, wait_for};

/// One Notify call as the notification service received it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    id: u32,
    app_name: String,
    pub(crate) summary: String,
    pub(crate) body: String,
    actions: Vec<String>,
    urgency: Option<u8>,
    expire_timeout: i32,
}

/// A notification service that shows nothing and records every Notify call.
struct Recorder {
    calls: Arc<Mutex<Vec<Recorded>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    #[allow(clippy::too_many_arguments)] // the freedesktop method's own arguments
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let mut calls = self.calls.lock().expect("calls");
        let id = u32::try_from(calls.len()).expect("few calls") + 1;
        let urgency = hints.get("urgency").and_then(|value| match &**value {
            Value::U8(urgency) => Some(*urgency),
            _ => None,
        });
        calls.push(Recorded {
            id,
            app_name,
            summary,
            body,
            actions,
            urgency,
            expire_timeout,
        });
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".to_owned(), "body".to_owned()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        let name = "firstline-e2e-recorder".to_owned();
        (
            name,
            "Firstline".to_owned(),
            "1".to_owned(),
            "1.2".to_owned(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// A session bus at `<dir>/user/<uid>/bus` (the layout of /run/user), owned by this test's
/// user, with the recording service on it.
pub(crate) struct SessionBus {
    daemon: std::process::Child,
    dir: tempfile::TempDir,
    uid: u32,
    service: zbus::Connection,
    calls: Arc<Mutex<Vec<Recorded>>>,
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

impl SessionBus {
    /// A bus of this test's user. None (after saying so) when dbus-daemon is not installed.
    pub(crate) async fn start() -> Option<SessionBus> {
        let dir = tempfile::tempdir().expect("tempdir");
        let uid = std::fs::metadata(dir.path()).expect("stat tempdir").uid();
        Self::start_in(dir, uid).await
    }

    /// A bus in `dir` for the account `uid`: its socket is `uid`'s, though the daemon runs
    /// as this test's user (its policy lets any user connect, for the recording service).
    async fn start_in(dir: tempfile::TempDir, uid: u32) -> Option<SessionBus> {
        let runtime_dir = dir.path().join("user").join(uid.to_string());
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        let bus = runtime_dir.join("bus");
        let address = format!("unix:path={}", bus.display());
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<busconfig>\n  <type>session</type>\n  <listen>{address}</listen>\n  \
                 <auth>EXTERNAL</auth>\n  <policy context=\"default\">\n    \
                 <allow user=\"*\"/>\n    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    \
                 <allow eavesdrop=\"true\"/>\n    <allow own=\"*\"/>\n  </policy>\n</busconfig>\n"
            ),
        )
        .expect("write bus.conf");
        let daemon = std::process::Command::new("dbus-daemon")
            .args(["--nofork", "--print-address"])
            .arg(format!("--config-file={}", config.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn();
        let mut daemon = match daemon {
            Ok(daemon) => daemon,
            Err(e) => {
                skip(&format!(
                    "dbus-daemon cannot run here ({e}); install Debian's dbus-daemon"
                ));
                return None;
            }
        };
        // It prints its address once it listens.
        let stdout = daemon.stdout.take().expect("piped stdout");
        let printed = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        });
        let printed = tokio::time::timeout(support::DEADLINE, printed)
            .await
            .expect("dbus-daemon printed its address in time")
            .expect("join")
            .expect("reading dbus-daemon's address");
        assert!(printed.starts_with("unix:path="), "{printed}");
        if std::fs::metadata(&bus).expect("the bus socket").uid() != uid {
            std::os::unix::fs::chown(&bus, Some(uid), None).expect("chown the bus socket");
        }
        let calls = Arc::new(Mutex::new(Vec::new()));
        let service = zbus::connection::Builder::address(address.as_str())
            .expect("address")
            .name("org.freedesktop.Notifications")
            .expect("name")
            .serve_at(
                "/org/freedesktop/Notifications",
                Recorder {
                    calls: calls.clone(),
                },
            )
            .expect("serve_at")
            .build()
            .await
            .expect("the recording service on the session bus");
        Some(SessionBus {
            daemon,
            dir,
            uid,
            service,
            calls,
        })
    }

    fn runtime_dir_root(&self) -> PathBuf {
        self.dir.path().join("user")
    }

    /// What an agent process needs to find this bus as its users' session bus (a test-only
    /// hook only `tests/bin/agent.rs` reads).
    pub(crate) fn agent_env(&self) -> Vec<(String, String)> {
        vec![(
            "FIRSTLINE_E2E_RUN_USER".to_owned(),
            self.runtime_dir_root().display().to_string(),
        )]
    }

    /// Waits (up to a minute: the agent starts a child that connects to the bus) for a
    /// notification that `matches`; fails listing the ones that came.
    pub(crate) async fn wait_for_notification(
        &self,
        matches: impl Fn(&Recorded) -> bool,
    ) -> Recorded {
        let started = std::time::Instant::now();
        loop {
            if let Some(call) = self.calls().into_iter().find(|call| matches(call)) {
                return call;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "no such notification within a minute; shown: {:#?}",
                self.calls()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().expect("calls").clone()
    }

    async fn wait_for_calls(&self, count: usize) -> Vec<Recorded> {
        wait_for(&format!("{count} notifications"), || async {
            let calls = self.calls();
            (calls.len() >= count).then_some(calls)
        })
        .await
    }

    /// What a notification server sends when a person clicks notification `id`.
    async fn click(&self, id: u32) {
        self.service
            .emit_signal(
                None::<&str>,
                "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications",
                "ActionInvoked",
                &(id, "default"),
            )
            .await
            .expect("emitting ActionInvoked");
    }

    /// The notifier of an agent on this machine, its sessions looked for under this bus's
    /// runtime dirs, and a stand-in for `firstline-agent help` that leaves a process behind
    /// (as one starting a browser does) and writes its pid to `marker`.
    fn notifier(&self, marker: &Path) -> Notifier {
        let mut settings =
            NotifierSettings::for_program(PathBuf::from(env!("CARGO_BIN_EXE_e2e-agent")));
        settings.runtime_dir_root = self.runtime_dir_root();
        settings.help_command = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!(
                "sleep 60 & echo $! > {0}.tmp && mv {0}.tmp {0}",
                marker.display()
            ),
        ];
        Notifier::new(settings)
    }

    fn account(&self) -> String {
        firstline_agent::users::account_name(self.uid).expect("this test's account in /etc/passwd")
    }
}

fn notice(account: &str, ticket_id: i64, title: &str) -> Notice {
    Notice {
        id: format!("n-{ticket_id}"),
        account: account.to_owned(),
        title: title.to_owned(),
        body: "Please try printing again.\nReply on the help page if it still fails <b>now</b>."
            .to_owned(),
        kind: "reply".to_owned(),
        ticket_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_reaches_its_accounts_session_only_and_a_click_opens_the_help_page() {
    support::init_tracing();
    let Some(bus) = SessionBus::start().await else {
        return;
    };
    let marker = bus.dir.path().join("help-opened");
    let notifier = bus.notifier(&marker);
    let me = bus.account();

    // Another account of this machine, its runtime dir leading to this user's bus: the bus
    // is not its own, so nothing is shown there.
    let other = firstline_agent::users::account_name(65534)
        .filter(|_| bus.uid != 65534)
        .expect("the nobody account (uid 65534) in /etc/passwd");
    std::os::unix::fs::symlink(
        bus.runtime_dir_root().join(bus.uid.to_string()),
        bus.runtime_dir_root().join("65534"),
    )
    .expect("symlink");
    let refused = notifier.show(notice(&other, 2, "Not for you"));
    assert!(
        matches!(
            refused,
            Err(NotShown::NoSession { .. } | NotShown::OtherAccount { .. })
        ),
        "{refused:?}"
    );
    let refused = notifier.show(notice("no-such-account-here", 3, "Nobody"));
    assert!(
        matches!(refused, Err(NotShown::UnknownAccount { .. })),
        "{refused:?}"
    );

    // As the uplink gets it: off the wire, through the agent's conversion (which strips the
    // control characters a hostile collector could send).
    let wire = firstline_proto::v1::CollectorMessage {
        body: Some(firstline_proto::v1::collector_message::Body::Notice(
            firstline_proto::v1::UserNotice {
                id: "n-1".to_owned(),
                account: me.clone(),
                title: "Ticket 1: a technician\u{1b}[2J replied".to_owned(),
                body: notice(&me, 1, "").body,
                kind: "reply".to_owned(),
                ticket_id: 1,
            },
        )),
    };
    let Ok(FromCollector::Notice(from_the_collector)) = FromCollector::try_from(wire) else {
        panic!("the notice was refused on arrival");
    };
    notifier.show(from_the_collector).expect("shown");
    let calls = bus.wait_for_calls(1).await;
    assert_eq!(calls.len(), 1, "only this account's notice: {calls:?}");
    let shown = &calls[0];
    assert_eq!(shown.app_name, "Firstline");
    assert_eq!(shown.summary, "Ticket 1: a technician[2J replied");
    // The server does not read markup (no body-markup capability): the text as it came.
    assert_eq!(
        shown.body,
        "Please try printing again.\nReply on the help page if it still fails <b>now</b>."
    );
    let lang = firstline_i18n::Lang::from_environment().unwrap_or(firstline_i18n::Lang::En);
    assert_eq!(
        shown.actions,
        [
            "default".to_owned(),
            firstline_i18n::tr(lang, "notify-open-help")
        ]
    );
    assert_eq!(shown.urgency, Some(1), "normal urgency, never critical");
    assert_eq!(shown.expire_timeout, -1, "the server's default timeout");

    // Not clicked: no help page.
    assert!(!marker.exists());
    bus.click(shown.id).await;
    wait_for("the help command run by the click", || async {
        marker.exists().then_some(())
    })
    .await;
    let owner = std::fs::metadata(&marker).expect("marker").uid();
    assert_eq!(owner, bus.uid, "the help command ran as the account");
    // What the help command left running holds nothing of the agent's: the child ends and
    // gives its slot back (it once waited on a pipe the left-behind process kept open).
    let left_behind = std::fs::read_to_string(&marker).expect("marker");
    wait_for("the notify child to end after the click", || async {
        (notifier.children() == 0).then_some(())
    })
    .await;
    let _ = std::process::Command::new("kill")
        .arg(left_behind.trim())
        .status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seventh_notice_within_ten_minutes_is_dropped() {
    support::init_tracing();
    let Some(bus) = SessionBus::start().await else {
        return;
    };
    let notifier = bus.notifier(&bus.dir.path().join("help-opened"));
    let me = bus.account();
    for ticket in 1..=6 {
        notifier
            .show(notice(&me, ticket, &format!("Ticket {ticket} has news")))
            .unwrap_or_else(|e| panic!("notice {ticket} not shown: {e}"));
    }
    let dropped = notifier.show(notice(&me, 7, "Ticket 7 has news"));
    assert!(
        matches!(dropped, Err(NotShown::TooMany { .. })),
        "{dropped:?}"
    );
    // All six arrive, though only four children wait for clicks at a time: the fifth and
    // sixth end the oldest waits.
    let calls = bus.wait_for_calls(6).await;
    let mut titles: Vec<String> = calls.iter().map(|call| call.summary.clone()).collect();
    titles.sort();
    let expected: Vec<String> = (1..=6).map(|t| format!("Ticket {t} has news")).collect();
    assert_eq!(titles, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_is_shown_and_help_opened_as_the_account_not_as_root() {
    support::init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    if std::fs::metadata(dir.path()).expect("stat tempdir").uid() != 0 {
        skip("needs root: the agent's child changes to another account");
        return;
    }
    let nobody = firstline_agent::notify::account_in(Path::new("/etc/passwd"), "nobody")
        .expect("the nobody account in /etc/passwd");
    // The account can reach its bus, the program and a place for the help command's note.
    let world_readable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir.path(), world_readable).expect("chmod tempdir");
    let program = dir.path().join("e2e-agent");
    std::fs::copy(env!("CARGO_BIN_EXE_e2e-agent"), &program).expect("copy e2e-agent");
    let notes = dir.path().join("notes");
    std::fs::create_dir(&notes).expect("mkdir notes");
    std::os::unix::fs::chown(&notes, Some(nobody.uid), Some(nobody.gid)).expect("chown notes");
    let Some(bus) = SessionBus::start_in(dir, nobody.uid).await else {
        return;
    };
    std::fs::set_permissions(bus.runtime_dir_root(), {
        std::os::unix::fs::PermissionsExt::from_mode(0o755)
    })
    .expect("chmod user dir");
    let mut settings = NotifierSettings::for_program(program);
    settings.runtime_dir_root = bus.runtime_dir_root();
    let note = notes.join("help");
    settings.help_command = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!(
            "id -u > {0}.tmp && id -G >> {0}.tmp && mv {0}.tmp {0}",
            note.display()
        ),
    ];
    let notifier = Notifier::new(settings);

    notifier
        .show(notice("nobody", 9, "Ticket 9 is fixed"))
        .expect("shown");
    let calls = bus.wait_for_calls(1).await;
    assert_eq!(calls[0].summary, "Ticket 9 is fixed");
    bus.click(calls[0].id).await;
    let said = wait_for("the help command run by the click", || async {
        std::fs::read_to_string(&note).ok()
    })
    .await;
    // Its uid, and only its own group: root's groups were not kept.
    assert_eq!(said, format!("{}\n{}\n", nobody.uid, nobody.gid));
}

/// A collector that welcomes an agent and sends it `notices` on its stream, as the real one
/// will when a user's ticket changes (its own certificate and CA, client certificates
/// required).
struct NoticeSender {
    device_id: String,
    notices: Vec<pb::UserNotice>,
}

#[tonic::async_trait]
impl pb::telemetry_server::Telemetry for NoticeSender {
    type ConnectStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::CollectorMessage, tonic::Status>>;

    async fn connect(
        &self,
        request: tonic::Request<tonic::Streaming<pb::AgentMessage>>,
    ) -> Result<tonic::Response<Self::ConnectStream>, tonic::Status> {
        let mut inbound = request.into_inner();
        let (outbound, stream) = tokio::sync::mpsc::channel(16);
        let device_id = self.device_id.clone();
        let notices = self.notices.clone();
        tokio::spawn(async move {
            // The agent speaks first: its Hello.
            if !matches!(inbound.message().await, Ok(Some(_))) {
                return;
            }
            let welcome = pb::collector_message::Body::Welcome(pb::Welcome {
                protocol_version: firstline_proto::PROTOCOL_VERSION,
                device_id,
                committed_sequence: 0,
                server_time_unix_ms: i64::try_from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .expect("after 1970")
                        .as_millis(),
                )
                .expect("in range"),
                heartbeat_interval_secs: 30,
            });
            let bodies = std::iter::once(welcome)
                .chain(notices.into_iter().map(pb::collector_message::Body::Notice));
            for body in bodies {
                let message = pb::CollectorMessage { body: Some(body) };
                if outbound.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            // The stream stays open while the agent sends (inventory, heartbeats).
            while let Ok(Some(_)) = inbound.message().await {}
        });
        Ok(tonic::Response::new(
            tokio_stream::wrappers::ReceiverStream::new(stream),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_on_the_agents_stream_is_shown_by_the_uplink() {
    support::init_tracing();
    let Some(bus) = SessionBus::start().await else {
        return;
    };
    let me = bus.account();
    // A real collector enrolls the agent; a stand-in with its certificate sends the notices.
    let collector = support::TestCollector::start().await;
    let state_dir = bus.dir.path().join("agent");
    let mut identity = support::enroll_with(&collector, &collector.token().await, &state_dir)
        .await
        .expect("enroll");
    let data_dir = &collector.settings.data_dir;
    let read = |file: &str| {
        std::fs::read_to_string(data_dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let ca_pem = read("ca.pem");
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            format!("{}{ca_pem}", read("server.pem")),
            read("server-key.pem"),
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(&ca_pem));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (accepted, incoming) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if accepted
                .send(Ok::<_, std::io::Error>(stream))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let over_long = "x".repeat(firstline_agent::wire::MAX_NOTICE_BODY_BYTES + 1);
    let wire_notice = |id: &str, account: &str, title: &str, body: &str| pb::UserNotice {
        id: id.to_owned(),
        account: account.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        kind: "resolved".to_owned(),
        ticket_id: 5,
    };
    let sender = NoticeSender {
        device_id: identity.device_id().to_owned(),
        notices: vec![
            // Refused on arrival, then not on this machine, then shown: in this order, so
            // once the last is shown the others have been dealt with.
            wire_notice("n-a", &me, "Too long", &over_long),
            wire_notice("n-b", "no-such-account-here", "Not here", "b"),
            wire_notice("n-c", &me, "Ticket 5 is fixed", "Is it working again?"),
        ],
    };
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(tls)
            .expect("tls")
            .add_service(pb::telemetry_server::TelemetryServer::new(sender))
            .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(incoming)),
    );
    identity.enrollment.collector_url = format!("https://127.0.0.1:{port}");

    let outbox = firstline_agent::outbox::Outbox::open(
        &state_dir.join(firstline_agent::outbox::OUTBOX_FILE),
        1 << 24,
    )
    .expect("outbox");
    let context = firstline_agent::uplink::UplinkContext {
        outbox: Arc::new(outbox),
        queued: Arc::new(tokio::sync::Notify::new()),
        shared: Arc::new(firstline_agent::checks::Shared::default()),
        fixer: None,
        reproducer: None,
        help_links: None,
        notifier: Some(bus.notifier(&bus.dir.path().join("help-opened"))),
        fleet: None,
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (state, _) = tokio::sync::watch::channel(firstline_agent::uplink::UplinkState::Starting);
    let uplink = tokio::spawn(firstline_agent::uplink::run(
        identity,
        firstline_agent::uplink::UplinkSettings::default(),
        context,
        stopped,
        state,
    ));

    let calls = bus.wait_for_calls(1).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].summary, "Ticket 5 is fixed");
    assert_eq!(calls[0].body, "Is it working again?");

    let _ = stop.send(true);
    let _ = uplink.await;
    server.abort();
}
