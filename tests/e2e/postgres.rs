//! Collectors on PostgreSQL: the same enrollment and ingest as on SQLite, and two collectors
//! sharing one database (and one CA) seeing one device and storing each finding once.
//! Needs FIRSTLINE_TEST_POSTGRES_URL (CI sets it; there an unreachable server fails the test).

use firstline_proto::v1 as pb;
use pb::agent_message::Body as AgentBody;
use pb::collector_message::Body as CollectorBody;

use std::time::Duration;

use firstline_collector::model::Role;
use firstline_collector::store::{Store, TicketFilter};
use firstline_collector::tickets::TicketKind;

use crate::support::{
    SimulatedDevice, TestCollector, enroll_with, finding, free_port, http_json, open_stream,
    wait_for,
};

/// A schema of its own inside the test database, dropped afterwards; the URL points at it.
pub(crate) struct Schema {
    admin_url: String,
    pub(crate) name: String,
}

impl Schema {
    pub(crate) async fn create() -> Option<(Self, String)> {
        let Ok(url) = std::env::var("FIRSTLINE_TEST_POSTGRES_URL") else {
            crate::support::skip("FIRSTLINE_TEST_POSTGRES_URL is not set (.ci/run sets it)");
            return None;
        };
        // Tests run in parallel in one process: the process id alone is not unique.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "fl_e2e_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let admin = sqlx_admin(&url).await;
        run(&admin, &format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        run(&admin, &format!("CREATE SCHEMA {name}")).await;
        let separator = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{separator}options=-c%20search_path%3D{name}");
        Some((
            Schema {
                admin_url: url,
                name,
            },
            scoped,
        ))
    }
}

pub(crate) async fn sqlx_admin(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL (FIRSTLINE_TEST_POSTGRES_URL) is unreachable: {e}"))
}

async fn run(pool: &sqlx::PgPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(async move {
                    let admin = sqlx_admin(&url).await;
                    let _ = sqlx::query("SET lock_timeout = '5s'").execute(&admin).await;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&admin)
                    .await;
                });
            }
        })
        .join()
        .ok();
    }
}

#[tokio::test]
async fn two_collectors_on_one_postgresql_see_one_device_and_store_each_finding_once() {
    let Some((_schema, url)) = Schema::create().await else {
        return;
    };
    let first = TestCollector::start_postgres(&url, None).await;
    let second = TestCollector::start_postgres(&url, Some(&first.settings.data_dir)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    // Enrolled through the first collector…
    let identity = enroll_with(&first, &first.token().await, &dir.path().join("agent"))
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();

    // …it streams to the second, as a load balancer may send it.
    let (mut stream, welcome) = open_stream(&second.url(), &identity).await;
    assert_eq!(welcome.device_id, device);
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(1, "one"), finding(2, "two")],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack") else {
        panic!("expected an Ack")
    };
    assert_eq!(ack.sequence, 2);
    drop(stream);

    // Back on the first collector: it knows what the second committed, and redelivery of the
    // same sequences stores nothing twice.
    let (mut stream, welcome) = open_stream(&first.url(), &identity).await;
    assert_eq!(
        welcome.committed_sequence, 2,
        "committed state lives in the shared database"
    );
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(2, "two again"), finding(3, "three")],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack") else {
        panic!("expected an Ack")
    };
    assert_eq!(ack.sequence, 3);

    for collector in [&first, &second] {
        let summaries: Vec<String> = collector
            .findings(&device)
            .await
            .into_iter()
            .map(|f| f.finding.summary)
            .collect();
        assert_eq!(summaries, ["one", "two", "three"]);
        assert_eq!(
            collector
                .running()
                .store
                .devices()
                .await
                .expect("devices")
                .len(),
            1
        );
    }
}

/// A `firstline-collector serve` process on PostgreSQL, killed when dropped.
pub(crate) struct CollectorProcess {
    pub(crate) child: std::process::Child,
    grpc: std::net::SocketAddr,
    pub(crate) http: std::net::SocketAddr,
    pub(crate) data_dir: std::path::PathBuf,
}

impl CollectorProcess {
    pub(crate) async fn start(
        dir: &std::path::Path,
        name: &str,
        database_url: &str,
        ca_from: Option<&std::path::Path>,
    ) -> Self {
        let data_dir = dir.join(name);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        if let Some(source) = ca_from {
            for file in ["ca.pem", "ca-key.pem"] {
                std::fs::copy(source.join(file), data_dir.join(file)).expect("copy the shared CA");
            }
        }
        let (grpc, http) = (free_port(), free_port());
        let config = format!(
            "data_dir = {data_dir:?}\ngrpc_listen = \"{grpc}\"\nhttp_listen = \"{http}\"\nheartbeat_interval_secs = 5\n\
             database_url = {database_url:?}\n\n[tickets.correlation]\nmin_devices = 3\n",
            data_dir = data_dir.display().to_string(),
        );
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-collector"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start e2e-collector");
        let process = Self {
            child,
            grpc,
            http,
            data_dir,
        };
        wait_for(&format!("collector {name} to answer /healthz"), || async {
            let connected = tokio::net::TcpStream::connect(process.http).await.is_ok();
            if connected
                && http_json(process.http, "GET", "/healthz", None, None)
                    .await
                    .0
                    == 200
            {
                Some(())
            } else {
                None
            }
        })
        .await;
        process
    }

    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.grpc)
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collector_processes_on_one_postgresql_open_one_incident_per_fault() {
    const DEVICES: usize = 12;
    const ROUNDS: usize = 3;
    let Some((_schema, url)) = Schema::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let first = CollectorProcess::start(dir.path(), "first", &url, None).await;
    let second = CollectorProcess::start(dir.path(), "second", &url, Some(&first.data_dir)).await;
    // Tokens and an API key straight into the shared database, as an admin's script would.
    let store = Store::connect_postgres(&url).await.expect("shared store");
    let ca_pem = std::fs::read_to_string(first.data_dir.join("ca.pem")).expect("ca.pem");
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Technician)
        .await
        .expect("api key");

    // Agents are split between the two collectors, as a load balancer would split them.
    let mut devices = Vec::new();
    for n in 0..DEVICES {
        let collector = if n % 2 == 0 { &first } else { &second };
        let token = firstline_collector::enrollment::create_token(
            &store,
            &ca_pem,
            Duration::from_secs(600),
        )
        .await
        .expect("token")
        .token;
        let identity = SimulatedDevice::enroll(
            &collector.url(),
            token,
            &dir.path().join(format!("device-{n}")),
        )
        .await;
        devices.push(
            SimulatedDevice::connect(&collector.url(), identity, "head-office", "192.0.2.53").await,
        );
    }

    for round in 1..=ROUNDS {
        // The same fault, raised on every device through both collectors at the same moment.
        devices = report_all(devices, pb::Severity::Critical).await;
        for collector in [&first, &second] {
            let (status, open) = http_json(
                collector.http,
                "GET",
                "/api/v1/tickets?state=open",
                Some(&key),
                None,
            )
            .await;
            assert_eq!(status, 200, "{open}");
            let open = open["tickets"].as_array().cloned().expect("tickets");
            assert_eq!(open.len(), 1, "round {round}: one open ticket: {open:#?}");
            assert_eq!(open[0]["kind"], "incident", "round {round}");
            assert_eq!(open[0]["device_count"], DEVICES, "round {round}");
        }
        devices = report_all(devices, pb::Severity::Ok).await;
        let open = store
            .tickets(&TicketFilter {
                state: Some("open".to_owned()),
                ..TicketFilter::default()
            })
            .await
            .expect("tickets");
        assert!(
            open.is_empty(),
            "round {round}: the recovery resolved everything: {open:#?}"
        );
    }
    let incidents = store
        .tickets(&TicketFilter {
            kind: Some(TicketKind::Incident),
            ..TicketFilter::default()
        })
        .await
        .expect("tickets");
    assert_eq!(
        incidents.len(),
        ROUNDS,
        "one incident per round, never two: {incidents:#?}"
    );
}

async fn report_all(devices: Vec<SimulatedDevice>, severity: pb::Severity) -> Vec<SimulatedDevice> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(devices.len()));
    let mut reporting = tokio::task::JoinSet::new();
    for (n, mut device) in devices.into_iter().enumerate() {
        let barrier = barrier.clone();
        reporting.spawn(async move {
            barrier.wait().await;
            device
                .report("dns.resolve", "intranet.example.com", severity)
                .await;
            (n, device)
        });
    }
    let mut devices = reporting.join_all().await;
    devices.sort_by_key(|(n, _)| *n);
    devices.into_iter().map(|(_, device)| device).collect()
}

/// A user's report whose words hold a NUL (pasted from a binary file, say), then an ordinary
/// finding: on both backends both are acked without refusal and the report opens its ticket
/// (on PostgreSQL the NUL once failed every commit, and the agent resent it forever with
/// nothing behind it arriving). Then an implausible heartbeat: its values are dropped, not
/// the stream.
async fn a_poison_text_and_a_bad_heartbeat_do_not_wedge_the_device(collector: &TestCollector) {
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enroll_with(
        collector,
        &collector.token().await,
        &dir.path().join("agent"),
    )
    .await
    .expect("enrolls");
    let device = identity.device_id().to_owned();
    let (mut stream, _) = open_stream(&collector.url(), &identity).await;
    let report = pb::Finding {
        sequence: 1,
        check: "user.report".to_owned(),
        resource: "report-nul".to_owned(),
        severity: pb::Severity::Warning as i32,
        summary: "User report: printer broken".to_owned(),
        evidence_json:
            r#"{"text": "printer\u0000 broken", "playbooks": [], "conclusion": "x\u0000"}"#
                .to_owned(),
        observed_at_unix_ms: 1_700_000_000_000,
    };
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![report],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack of the report") else {
        panic!("expected an Ack")
    };
    assert_eq!((ack.sequence, ack.refused.len()), (1, 0), "{ack:?}");
    stream
        .send(AgentBody::Heartbeat(pb::Heartbeat {
            sent_at_unix_ms: 1_700_000_000_000,
            check_cycle_ms: Some(u64::MAX),
            resident_memory_bytes: None,
            outbox_depth: None,
        }))
        .await;
    // A heartbeat is answered with what is committed and the collector's clock.
    let CollectorBody::Ack(beat) = stream.next().await.expect("the heartbeat's answer") else {
        panic!("expected an Ack")
    };
    assert_eq!(beat.sequence, 1, "{beat:?}");
    assert!(beat.server_time_unix_ms.is_some(), "{beat:?}");
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(2, "behind the report")],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("the stream lives on") else {
        panic!("expected an Ack")
    };
    assert_eq!((ack.sequence, ack.refused.len()), (2, 0), "{ack:?}");
    let store = collector.running().store.clone();
    let tickets = store
        .tickets(&TicketFilter {
            device_id: Some(device.clone()),
            ..TicketFilter::default()
        })
        .await
        .expect("tickets");
    let report = tickets
        .iter()
        .find(|ticket| ticket.kind == TicketKind::Report)
        .unwrap_or_else(|| panic!("a report ticket: {tickets:?}"));
    assert!(
        report.title.contains("printer\u{FFFD} broken"),
        "{}",
        report.title
    );
}

#[tokio::test]
async fn a_nul_in_a_report_never_wedges_a_device_on_sqlite() {
    let collector = TestCollector::start().await;
    a_poison_text_and_a_bad_heartbeat_do_not_wedge_the_device(&collector).await;
}

#[tokio::test]
async fn a_nul_in_a_report_never_wedges_a_device_on_postgresql() {
    let Some((_schema, url)) = Schema::create().await else {
        return;
    };
    let collector = TestCollector::start_postgres(&url, None).await;
    a_poison_text_and_a_bad_heartbeat_do_not_wedge_the_device(&collector).await;
}

/// Revoked through collector A, a device streaming to collector B on the same database is cut
/// off within seconds (it once kept being acked on B for a minute and opened tickets there),
/// and nothing it sends afterwards is stored.
#[tokio::test]
async fn a_device_revoked_through_one_collector_is_cut_off_on_the_other() {
    let Some((_schema, url)) = Schema::create().await else {
        return;
    };
    let first = TestCollector::start_postgres(&url, None).await;
    let second = TestCollector::start_postgres(&url, Some(&first.settings.data_dir)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enroll_with(&first, &first.token().await, &dir.path().join("agent"))
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let (mut stream, _) = open_stream(&second.url(), &identity).await;
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(1, "before")],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack") else {
        panic!("expected an Ack")
    };
    assert_eq!(ack.sequence, 1);

    let key = firstline_collector::http::create_api_key(&first.running().store, "e2e", Role::Admin)
        .await
        .expect("api key");
    let revoked_at = std::time::Instant::now();
    let (status, body) = http_json(
        first.running().http_address,
        "POST",
        &format!("/api/v1/devices/{device}/revoke"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ended = stream.next().await.expect_err("the stream on B ends");
    let took = revoked_at.elapsed();
    assert_eq!(ended.code(), tonic::Code::PermissionDenied, "{ended:?}");
    assert!(ended.message().contains("revoked"), "{ended:?}");
    eprintln!("revoked through A, cut off on B after {took:?}");
    // A new stream is refused, and a batch racing the revocation stores nothing.
    assert!(!second.running().sessions.is_connected(&device));
    let stored = second.findings(&device).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
}

/// A finding the database will never store (here a trigger refuses it, as PostgreSQL refused a
/// NUL before the edge cleaned it) once failed every commit: the agent resent it forever and
/// nothing queued behind it arrived. Now it is refused to the agent by name and the rest of
/// its batch, and what follows, is stored.
#[tokio::test]
async fn a_finding_the_database_refuses_is_refused_to_the_agent_and_the_queue_flows() {
    let Some((_schema, url)) = Schema::create().await else {
        return;
    };
    let collector = TestCollector::start_postgres(&url, None).await;
    let scoped = sqlx_admin(&url).await;
    run(
        &scoped,
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.summary = 'poison' THEN RAISE EXCEPTION 'this value cannot be stored' \
         USING ERRCODE = '22023'; END IF; RETURN NEW; END $$",
    )
    .await;
    run(
        &scoped,
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON findings FOR EACH ROW \
         EXECUTE FUNCTION refuse_poison()",
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = enroll_with(&collector, &collector.token().await, dir.path())
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let (mut stream, _) = open_stream(&collector.url(), &identity).await;
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![
                finding(1, "before"),
                finding(2, "poison"),
                finding(3, "after"),
            ],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack") else {
        panic!("expected an Ack")
    };
    assert_eq!(ack.sequence, 3, "{ack:?}");
    assert_eq!(ack.refused.len(), 1, "{ack:?}");
    assert_eq!(ack.refused[0].sequence, 2);
    assert!(
        ack.refused[0].reason.contains("database refuses it"),
        "{ack:?}"
    );
    stream
        .send(AgentBody::Findings(pb::FindingBatch {
            findings: vec![finding(4, "later")],
        }))
        .await;
    let CollectorBody::Ack(ack) = stream.next().await.expect("ack") else {
        panic!("expected an Ack")
    };
    assert_eq!((ack.sequence, ack.refused.len()), (4, 0));
    let stored: Vec<String> = collector
        .findings(&device)
        .await
        .into_iter()
        .map(|stored| stored.finding.summary)
        .collect();
    assert_eq!(stored, ["before", "after", "later"]);
}
