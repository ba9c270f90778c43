//! The collector degraded, then back by itself: a full disk under SQLite, a restart after an
//! outage longer than `stale_after`, a database restored behind what agents were acked, a
//! damaged database file. Real collector processes where the failure is the process's own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use firstline_agent::identity::Identity;
use firstline_collector::store::Store;
use firstline_proto::v1 as pb;

use crate::support::*;

/// A collector process (`e2e-collector serve`) on SQLite in `data_dir`.
struct SqliteCollector {
    child: std::process::Child,
    grpc: std::net::SocketAddr,
    http: std::net::SocketAddr,
    log: PathBuf,
}

impl SqliteCollector {
    fn spawn(dir: &Path, data_dir: &Path) -> Self {
        let (grpc, http) = (free_port(), free_port());
        let config = format!(
            "data_dir = {data_dir:?}\ngrpc_listen = \"{grpc}\"\nhttp_listen = \"{http}\"\nheartbeat_interval_secs = 5\n",
            data_dir = data_dir.display().to_string(),
        );
        let config_path = dir.join("collector.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = dir.join("collector.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-collector"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start e2e-collector");
        Self {
            child,
            grpc,
            http,
            log,
        }
    }

    async fn start(dir: &Path, data_dir: &Path) -> Self {
        let process = Self::spawn(dir, data_dir);
        wait_for("the collector to answer /healthz", || async {
            (tokio::net::TcpStream::connect(process.http).await.is_ok()
                && http_json(process.http, "GET", "/healthz", None, None)
                    .await
                    .0
                    == 200)
                .then_some(())
        })
        .await;
        process
    }

    fn url(&self) -> String {
        format!("https://{}", self.grpc)
    }

    /// The collector's store opened beside it (the test's own connection to `data_dir`), and an
    /// enrollment token made in it, as an admin's script would.
    async fn token(&self, data_dir: &Path) -> (Store, String) {
        let store = Store::open(data_dir).await.expect("the collector's store");
        let ca_pem = std::fs::read_to_string(data_dir.join("ca.pem")).expect("ca.pem");
        let token = firstline_collector::enrollment::create_token(
            &store,
            &ca_pem,
            Duration::from_secs(600),
        )
        .await
        .expect("token")
        .token;
        (store, token)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `/healthz`'s status and body.
    async fn health(&self) -> (u16, String) {
        let (status, _, body) = http_call(self.http, "GET", "/healthz", &[], None).await;
        (status, body.as_str().unwrap_or_default().to_owned())
    }
}

impl Drop for SqliteCollector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection of the test's own to a collector's SQLite file.
async fn sqlite_pool(database: &Path) -> sqlx::SqlitePool {
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(database))
        .await
        .expect("open the database")
}

/// Sends one finding that the collector cannot store: the stream must end `UNAVAILABLE`, asking
/// the agent to come back later (not a refusal), and nothing is acked.
async fn send_expecting_a_pause(device: &mut SimulatedDevice, summary: &str) -> u64 {
    let sequence = device.take_sequence();
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![finding(sequence, summary)],
        }))
        .await;
    let status = match device.stream.next().await {
        Err(status) => status,
        Ok(other) => panic!("a finding the store cannot take must not be acked: {other:?}"),
    };
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        retry_after(&status).is_some(),
        "the agent is asked to come back later, not refused: {status:?}"
    );
    sequence
}

/// Reconnects as the agent would and sends the held-back finding again: it is acked now.
async fn resend_expecting_an_ack(url: &str, identity: &Identity, sequence: u64, summary: &str) {
    let (mut stream, welcome) = open_stream(url, identity).await;
    assert_eq!(
        welcome.committed_sequence,
        sequence - 1,
        "nothing unacked was stored"
    );
    stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![finding(sequence, summary)],
        }))
        .await;
    match stream.next().await {
        Ok(pb::collector_message::Body::Ack(ack)) => assert_eq!(ack.sequence, sequence),
        other => panic!("expected the resent finding's ack, got {other:?}"),
    }
}

fn retry_after(status: &tonic::Status) -> Option<String> {
    status
        .metadata()
        .get(firstline_proto::RETRY_AFTER_METADATA)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

async fn metric(address: std::net::SocketAddr, name: &str) -> Option<f64> {
    let (_, _, body) = http_call(address, "GET", "/metrics", &[], None).await;
    body.as_str()
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line[name.len()..].trim().parse().ok())
}

/// The drill: after one commit failed on a full disk, every later write failed with
/// "attempted to call begin_with at non-zero transaction depth" until a restart, and
/// `/healthz` said 200 throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_sqlite_fails_healthz_asks_agents_to_wait_and_recovers_when_space_returns()
 {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let Some(_tmpfs) = Tmpfs::mount(&data_dir, "24m") else {
        skip("mounting a tmpfs needs root (the full-disk test)");
        return;
    };
    let collector = SqliteCollector::start(dir.path(), &data_dir).await;
    let (store, token) = collector.token(&data_dir).await;
    let identity =
        SimulatedDevice::enroll(&collector.url(), token, &dir.path().join("device")).await;
    let device_id = identity.device_id().to_owned();
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity.clone(), "hq", "192.0.2.53").await;
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;
    drop(store);

    // The disk fills up; the next finding cannot be stored.
    let filler = data_dir.join("filler");
    fill_disk(&filler);
    let sequence = send_expecting_a_pause(&mut device, "after the disk filled up").await;

    // Health tells the truth, and says what to do.
    let (status, body) = wait_for("/healthz to fail while the disk is full", || async {
        let (status, body) = collector.health().await;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!(status, 503);
    assert!(
        body.contains("is full") && body.contains("free at least"),
        "{body}"
    );
    assert_eq!(
        http_json(collector.http, "GET", "/livez", None, None)
            .await
            .0,
        200,
        "liveness does not ask for a restart that would not help"
    );
    assert_eq!(
        metric(collector.http, "firstline_store_writable").await,
        Some(0.0)
    );
    // A new stream is asked to wait at once, before it sends anything.
    let channel = channel(
        &collector.url(),
        &identity.ca_pem,
        Some((&identity.certificate_pem, &identity.key_pem)),
    )
    .await
    .expect("channel");
    let status = match RawStream::open(channel, vec![hello()]).await {
        Ok(mut stream) => stream
            .next()
            .await
            .expect_err("no Welcome while the store cannot write"),
        Err(status) => status,
    };
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(retry_after(&status).as_deref(), Some("15"));
    let log = collector.log_text();
    assert_eq!(
        log.matches("the store cannot commit").count(),
        1,
        "a full disk is reported once: {log}"
    );

    // Space returns: writes resume without a restart.
    std::fs::remove_file(&filler).expect("free the disk");
    let freed = std::time::Instant::now();
    wait_for("/healthz to pass once the disk has room", || async {
        (collector.health().await.0 == 200).then_some(())
    })
    .await;
    eprintln!("disk freed to /healthz 200: {:?}", freed.elapsed());
    assert_eq!(
        metric(collector.http, "firstline_store_writable").await,
        Some(1.0)
    );
    resend_expecting_an_ack(
        &collector.url(),
        &identity,
        sequence,
        "after the disk filled up",
    )
    .await;
    let store = Store::open(&data_dir).await.expect("the collector's store");
    let stored = store
        .recent_findings(&device_id, 10)
        .await
        .expect("findings");
    assert_eq!(
        stored
            .iter()
            .map(|f| f.finding.sequence)
            .collect::<Vec<_>>(),
        vec![1, sequence],
        "the finding held back while the disk was full is stored once it has room"
    );
    assert!(
        collector.log_text().contains("the store can commit again"),
        "recovery is logged"
    );
}

/// The drill: a collector down for longer than `stale_after` marked every device silent at its
/// first sweep, before any agent could reconnect ("silent for 5m 3s" on 680 tickets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_back_from_an_outage_longer_than_stale_after_blames_no_device() {
    let mut collector = TestCollector::start_with(|settings| {
        settings.tickets.stale_after = Duration::from_secs(1);
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut devices = Vec::new();
    let mut identities = Vec::new();
    for n in 0..3 {
        let identity = SimulatedDevice::enroll(
            &collector.url(),
            collector.token().await,
            &dir.path().join(format!("device-{n}")),
        )
        .await;
        identities.push(identity.clone());
        let mut device =
            SimulatedDevice::connect(&collector.url(), identity, "hq", "192.0.2.53").await;
        device
            .report("disk.free_low", "/", pb::Severity::Warning)
            .await;
        devices.push(device);
    }
    // The outage: three times `stale_after`.
    collector.stop().await;
    drop(devices);
    tokio::time::sleep(Duration::from_secs(3)).await;
    collector.restart().await;
    // Agents come back within their backoff (the test: at once, but after the first sweep).
    let mut back = Vec::new();
    for identity in identities {
        back.push(open_stream(&collector.url(), &identity).await);
    }
    // Two sweeps later (one at start, one 10 s on), no device was called silent.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let store = &collector.running().store;
    let tickets = store
        .tickets(&firstline_collector::store::TicketFilter::default())
        .await
        .expect("tickets");
    assert!(!tickets.is_empty());
    for ticket in tickets {
        let detail = store
            .ticket_detail(ticket.id)
            .await
            .expect("detail")
            .expect("ticket");
        let silent: Vec<_> = detail
            .timeline
            .iter()
            .filter(|entry| entry.text.contains("silent"))
            .collect();
        assert!(
            silent.is_empty(),
            "the collector's outage was blamed on a device: {silent:?}"
        );
    }
}

/// The drill: with its database restored from a backup (or its WAL lost), a collector accepted
/// agents whose acknowledged findings it no longer held, silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_acked_beyond_a_restored_database_raises_one_alert_naming_the_gap() {
    let mut collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let crashes = dir.path().join("crashes");
    std::fs::create_dir_all(&crashes).expect("crashes");
    let watch = crash_watch_section(&crashes);
    let config_path = dir.path().join("agent.toml");
    write_config(&config_path, &agent_config(&[("[[checks.watch]]", &watch)]));
    let identity = enroll_with(
        &collector,
        &collector.token().await,
        &dir.path().join("agent"),
    )
    .await
    .expect("enrolls");
    let device_id = identity.device_id().to_owned();

    // The backup, taken online (as `sqlite3 .backup` would) while the device has nothing
    // acked yet.
    let database = collector.settings.data_dir.join("firstline.db");
    let backup = dir.path().join("backup.db");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "VACUUM INTO '{}'",
        backup.display()
    )))
    .execute(&sqlite_pool(&database).await)
    .await
    .expect("back up the database");

    let mut agent = TestAgent::start_full(identity.clone(), &config_path);
    agent.wait_connected().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 0..3 {
        std::fs::write(
            crashes.join(format!("app{n}.exe.{n}.crash")),
            "ProblemType: Crash\n",
        )
        .expect("crash file");
    }
    let acked = wait_for("three crash findings stored", || async {
        let findings = collector.findings(&device_id).await;
        (findings.len() >= 3).then(|| findings.iter().map(|f| f.finding.sequence).max())
    })
    .await
    .expect("a sequence");

    // The database is restored from the backup: the findings it acked are gone.
    collector.stop().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }
    std::fs::copy(&backup, &database).expect("restore the backup");
    collector.restart().await;

    let alert = wait_for("the sequence-gap alert", || async {
        collector
            .running()
            .store
            .open_alerts()
            .await
            .expect("alerts")
            .into_iter()
            .find(|alert| alert.kind == "sequence_gap")
    })
    .await;
    assert_eq!(alert.device_id.as_deref(), Some(device_id.as_str()));
    assert!(
        alert.detail.contains(&format!("sequences 1 to {acked}")),
        "the alert names the gap: {}",
        alert.detail
    );
    // Shown to admins over REST, and counted for monitoring.
    let key = firstline_collector::http::create_api_key(
        &collector.running().store,
        "admin",
        firstline_collector::model::Role::Admin,
    )
    .await
    .expect("api key");
    let (status, alerts) = http_json(
        collector.running().http_address,
        "GET",
        "/api/v1/alerts",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        alerts["alerts"].as_array().map(Vec::len),
        Some(1),
        "{alerts}"
    );
    assert_eq!(
        metric(
            collector.running().http_address,
            "firstline_sequence_gaps_total"
        )
        .await,
        Some(1.0)
    );
    // The agent goes on: its next findings are stored after the gap.
    std::fs::write(crashes.join("later.exe.9.crash"), "ProblemType: Crash\n").expect("crash file");
    let later = collector
        .wait_for_finding(&device_id, "crash.new_file", "later.exe", |_| true)
        .await;
    assert!(later.finding.sequence > acked);
    // Admins see it above the queue with a button; technicians do not.
    let http = collector.running().http_address;
    add_user(
        &collector,
        "ada",
        firstline_collector::model::Role::Admin,
        "ada-password-1",
    )
    .await;
    add_user(
        &collector,
        "tom",
        firstline_collector::model::Role::Technician,
        "tom-password-1",
    )
    .await;
    for (name, password, sees) in [
        ("ada", "ada-password-1", true),
        ("tom", "tom-password-1", false),
    ] {
        let (_, session) = sign_in(http, name, password).await;
        let (cookie, _) = session.expect("signed in");
        let (status, _, page) = http_call(http, "GET", "/", &[("Cookie", &cookie)], None).await;
        assert_eq!(status, 200);
        let page = page.as_str().unwrap_or_default().to_owned();
        assert_eq!(page.contains("Collector alert"), sees, "{name}: {page}");
        assert_eq!(
            page.contains(&format!("/alerts/{}/acknowledge", alert.id)),
            sees
        );
    }
    // A reconnect with the same gap raises nothing new.
    agent.stop().await;
    let id = alert.id;
    let (status, _) = http_json(
        collector.running().http_address,
        "POST",
        &format!("/api/v1/alerts/{id}/acknowledge"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        collector
            .running()
            .store
            .open_alerts()
            .await
            .expect("alerts")
            .is_empty()
    );
}

/// A damaged database was served and written to; it must be refused at start, with the way out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_sqlite_database_is_refused_at_start_with_the_recovery_steps() {
    let mut collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // Enough findings that their table spans pages of its own.
    let identity = SimulatedDevice::enroll(
        &collector.url(),
        collector.token().await,
        &dir.path().join("device"),
    )
    .await;
    let mut device = SimulatedDevice::connect(&collector.url(), identity, "hq", "192.0.2.53").await;
    for n in 0..40 {
        device
            .report_saying(
                "disk.free_low",
                &format!("/mnt/{n}"),
                pb::Severity::Warning,
                &"x".repeat(400),
            )
            .await;
    }
    drop(device);
    let data_dir = collector.settings.data_dir.clone();
    let database = data_dir.join("firstline.db");
    collector.stop().await;
    let (root_page, page_size): (i64, i64) = {
        let pool = sqlite_pool(&database).await;
        let root = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'findings'")
            .fetch_one(&pool)
            .await
            .expect("findings root page");
        let size = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&pool)
            .await
            .expect("page size");
        // Everything into the main file, and the WAL emptied, even if the stopped collector's
        // connections have not all closed yet: otherwise the WAL's copy of the page would hide
        // the damage below from the next start (seen in a loaded full run).
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await
            .expect("checkpoint");
        pool.close().await;
        (root, size)
    };
    // Scribble over the findings table's root page, as a failing disk would.
    {
        use std::io::{Seek, SeekFrom, Write};
        let page_size = page_size as u64;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&database)
            .expect("open db");
        file.seek(SeekFrom::Start((root_page as u64 - 1) * page_size))
            .expect("seek");
        file.write_all(&vec![0x5au8; page_size as usize])
            .expect("damage");
    }
    let mut process = SqliteCollector::spawn(dir.path(), &data_dir);
    let exit = wait_for("the collector to refuse the damaged database", || {
        let exited = process.child.try_wait().expect("wait");
        async move { exited }
    })
    .await;
    assert!(!exit.success());
    let log = process.log_text();
    assert!(
        log.contains("is damaged, so the collector will not write to it")
            && log.contains(".recover")
            && log.contains("restore your last backup"),
        "{log}"
    );
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore: the database server
/// going away and coming back, without touching the server other tests share.
struct CuttableProxy {
    address: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (cut, links) = (cut.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().expect("links").push(link.abort_handle());
                }
            }
        });
        Self {
            address,
            cut,
            links,
            accept,
        }
    }

    /// Every connection through the proxy drops, and new ones are refused.
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The same promise on PostgreSQL: the database server lost mid-stream turns health to failing
/// and agents to waiting; when it is back, writes resume without a restart and nothing the
/// agent held back is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_postgresql_server_fails_healthz_and_writes_resume_when_it_is_back() {
    let Some((_schema, url)) = crate::postgres::Schema::create().await else {
        return;
    };
    // Route the collector through the proxy: replace the URL's host and port.
    let authority_start = url.find('@').map_or("postgres://".len(), |at| at + 1);
    let authority_end = authority_start
        + url[authority_start..]
            .find('/')
            .expect("a database in the URL");
    let upstream: std::net::SocketAddr =
        tokio::net::lookup_host(&url[authority_start..authority_end])
            .await
            .expect("PostgreSQL address")
            .next()
            .expect("an address");
    let proxy = CuttableProxy::start(upstream).await;
    let proxied = format!(
        "{}{}{}",
        &url[..authority_start],
        proxy.address,
        &url[authority_end..]
    );
    let collector = TestCollector::start_postgres(&proxied, None).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = SimulatedDevice::enroll(
        &collector.url(),
        collector.token().await,
        &dir.path().join("device"),
    )
    .await;
    let device_id = identity.device_id().to_owned();
    let mut device =
        SimulatedDevice::connect(&collector.url(), identity.clone(), "hq", "192.0.2.53").await;
    device
        .report("disk.free_low", "/", pb::Severity::Warning)
        .await;

    proxy.cut();
    let sequence = send_expecting_a_pause(&mut device, "while the database is away").await;
    let http = collector.running().http_address;
    wait_for("/healthz to fail while PostgreSQL is away", || async {
        (http_json(http, "GET", "/healthz", None, None).await.0 == 503).then_some(())
    })
    .await;
    assert_eq!(metric(http, "firstline_store_writable").await, Some(0.0));

    let cut_over = std::time::Instant::now();
    proxy.restore();
    wait_for("/healthz to pass once PostgreSQL is back", || async {
        (http_json(http, "GET", "/healthz", None, None).await.0 == 200).then_some(())
    })
    .await;
    eprintln!("PostgreSQL back to /healthz 200: {:?}", cut_over.elapsed());
    assert_eq!(metric(http, "firstline_store_writable").await, Some(1.0));
    resend_expecting_an_ack(
        &collector.url(),
        &identity,
        sequence,
        "while the database is away",
    )
    .await;
    let stored = collector.findings(&device_id).await;
    assert_eq!(
        stored
            .iter()
            .map(|f| f.finding.sequence)
            .collect::<Vec<_>>(),
        vec![1, sequence]
    );
}

/// A real agent on the other end of a full disk: told to wait, it keeps its findings and waits
/// (no reconnect storm, no error), and once the disk has room every one of them arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_waits_out_a_full_collector_disk_and_then_delivers_everything_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let Some(_tmpfs) = Tmpfs::mount(&data_dir, "24m") else {
        skip("mounting a tmpfs needs root (the full-disk test)");
        return;
    };
    let collector = SqliteCollector::start(dir.path(), &data_dir).await;
    let (store, token) = collector.token(&data_dir).await;
    let identity =
        SimulatedDevice::enroll(&collector.url(), token, &dir.path().join("agent")).await;
    let device_id = identity.device_id().to_owned();
    let crashes = dir.path().join("crashes");
    std::fs::create_dir_all(&crashes).expect("crashes");
    let config_path = dir.path().join("agent.toml");
    write_config(
        &config_path,
        &agent_config(&[("[[checks.watch]]", &crash_watch_section(&crashes))]),
    );
    let mut agent = TestAgent::start_full(identity, &config_path);
    agent.wait_connected().await;
    let stored_apps = || async {
        let findings = store
            .recent_findings(&device_id, 10_000)
            .await
            .unwrap_or_default();
        findings
            .iter()
            .filter(|f| f.finding.check == "crash.new_file")
            .map(|f| f.finding.resource.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    for n in 0..10 {
        drop_crash(&crashes, &format!("before{n}"));
    }
    wait_for("the first crashes stored", || async {
        (stored_apps().await.len() == 10).then_some(())
    })
    .await;

    // The disk fills up while crashes keep coming.
    let filler = data_dir.join("filler");
    fill_disk(&filler);
    for n in 0..10 {
        drop_crash(&crashes, &format!("during{n}"));
    }
    let told = wait_for("the agent to be told to wait", || {
        let state = agent.state.borrow().clone();
        async move {
            match state {
                firstline_agent::uplink::UplinkState::Disconnected { error, retry_in }
                    if error.contains("cannot store findings now") =>
                {
                    Some(retry_in)
                }
                _ => None,
            }
        }
    })
    .await;
    assert!(told >= Duration::from_secs(15), "waits as asked: {told:?}");
    assert_eq!(stored_apps().await.len(), 10, "nothing stored while full");

    // Room again: after its pause the agent delivers everything it held, once.
    std::fs::remove_file(&filler).expect("free the disk");
    let freed = std::time::Instant::now();
    let mut delivered = 0;
    while freed.elapsed() < Duration::from_secs(60) {
        delivered = stored_apps().await.len();
        if delivered == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "disk freed to every held finding stored: {:?}",
        freed.elapsed()
    );
    assert_eq!(
        delivered, 20,
        "every crash raised while the disk was full arrives"
    );
    let all = store
        .recent_findings(&device_id, 10_000)
        .await
        .expect("findings");
    let sequences: std::collections::BTreeSet<_> = all.iter().map(|f| f.finding.sequence).collect();
    assert_eq!(sequences.len(), all.len(), "each finding stored once");
    agent.stop().await;
}

/// The findings one simulated device sends while the collector is killed under it: three
/// conditions going warning → critical → … → clear, five findings a batch, each with a summary
/// of its own. Returns what it sent and the highest sequence acked before the stream broke.
async fn stream_until_killed(
    mut device: SimulatedDevice,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (Identity, Vec<pb::Finding>, u64) {
    let mut sent = Vec::new();
    let mut acked = 0;
    let mut step = 0u64;
    'streaming: while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let mut batch = Vec::new();
        for _ in 0..5 {
            let sequence = device.take_sequence();
            let resource = format!("/data{}", step % 3);
            let severity = match (step / 3) % 6 {
                5 => pb::Severity::Ok,
                phase if phase % 2 == 1 => pb::Severity::Critical,
                _ => pb::Severity::Warning,
            };
            step += 1;
            batch.push(pb::Finding {
                sequence,
                check: "disk.free_low".to_owned(),
                resource: resource.clone(),
                severity: severity as i32,
                summary: format!("finding {sequence} of {}", device.identity.device_id()),
                evidence_json: format!(r#"{{"resource": "{resource}", "sequence": {sequence}}}"#),
                observed_at_unix_ms: firstline_collector::model::now_ms(),
            });
        }
        let through = batch.last().map_or(0, |f| f.sequence);
        sent.extend(batch.iter().cloned());
        device
            .stream
            .send(pb::agent_message::Body::Findings(pb::FindingBatch {
                findings: batch,
            }))
            .await;
        loop {
            match device.stream.next().await {
                Ok(pb::collector_message::Body::Ack(ack)) => {
                    acked = acked.max(ack.sequence);
                    if ack.sequence >= through {
                        break;
                    }
                }
                Ok(_) => continue,
                // The collector is gone: what was not acked is sent again after the restart.
                Err(_) => break 'streaming,
            }
        }
    }
    (device.identity, sent, acked)
}

/// Killed (SIGKILL) while devices stream findings, the collector loses no finding it acked and
/// decides every stored finding exactly once: decisions commit in the findings' transaction, so
/// a kill leaves each finding either stored and decided or neither. After a restart the devices
/// send what was not acked again, as agents do; then every condition says its device's last
/// finding, and no finding's words are on a timeline twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_killed_mid_ingest_loses_no_acked_finding_and_decides_each_once() {
    const DEVICES: usize = 8;
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let collector = SqliteCollector::start(dir.path(), &data_dir).await;
    let mut identities = Vec::new();
    for n in 0..DEVICES {
        let (_, token) = collector.token(&data_dir).await;
        identities.push(
            SimulatedDevice::enroll(
                &collector.url(),
                token,
                &dir.path().join(format!("agent{n}")),
            )
            .await,
        );
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut streaming = tokio::task::JoinSet::new();
    for (n, identity) in identities.into_iter().enumerate() {
        let device = SimulatedDevice::connect(
            &collector.url(),
            identity,
            &format!("site{}", n % 2),
            "192.0.2.53",
        )
        .await;
        streaming.spawn(stream_until_killed(device, stop.clone()));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(collector); // SIGKILL, mid-stream
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut devices = Vec::new();
    while let Some(done) = streaming.join_next().await {
        devices.push(done.expect("device task"));
    }

    let collector = SqliteCollector::start(dir.path(), &data_dir).await;
    let mut unacked_resent = 0;
    for (identity, sent, acked) in &devices {
        assert!(
            !sent.is_empty(),
            "every device sent findings before the kill"
        );
        let (stream, welcome) = open_stream(&collector.url(), identity).await;
        assert!(
            welcome.committed_sequence >= *acked,
            "{}: acked through {acked}, the restarted collector holds through {}",
            identity.device_id(),
            welcome.committed_sequence
        );
        let resend: Vec<pb::Finding> = sent
            .iter()
            .filter(|f| f.sequence > welcome.committed_sequence)
            .cloned()
            .collect();
        // Those stored but not acked (the kill came between commit and ack) are sent too, as an
        // agent whose ack never came would.
        let resend_all: Vec<pb::Finding> = sent
            .iter()
            .filter(|f| f.sequence > *acked)
            .cloned()
            .collect();
        unacked_resent += resend.len();
        if let Some(last) = resend_all.last().map(|f| f.sequence) {
            let mut stream = stream;
            stream
                .send(pb::agent_message::Body::Findings(pb::FindingBatch {
                    findings: resend_all,
                }))
                .await;
            loop {
                match stream.next().await {
                    Ok(pb::collector_message::Body::Ack(ack)) if ack.sequence >= last => break,
                    Ok(_) => continue,
                    Err(status) => panic!("resending after the restart: {status}"),
                }
            }
        }
    }
    eprintln!("{unacked_resent} findings were not stored when the collector was killed");

    let pool = sqlite_pool(&data_dir.join("firstline.db")).await;
    for (identity, sent, _) in &devices {
        let device_id = identity.device_id();
        let stored: Vec<i64> = sqlx::query_scalar(
            "SELECT sequence FROM findings WHERE device_id = $1 ORDER BY sequence",
        )
        .bind(device_id)
        .fetch_all(&pool)
        .await
        .expect("stored findings");
        let expected: Vec<i64> = sent.iter().map(|f| f.sequence as i64).collect();
        assert_eq!(
            stored, expected,
            "{device_id}: every finding sent is stored once"
        );
        for resource in ["/data0", "/data1", "/data2"] {
            let Some(last) = sent.iter().rev().find(|f| f.resource == resource) else {
                continue;
            };
            let summary: String = sqlx::query_scalar(
                "SELECT summary FROM conditions WHERE device_id = $1 AND check_name = 'disk.free_low' AND resource = $2",
            )
            .bind(device_id)
            .bind(resource)
            .fetch_one(&pool)
            .await
            .expect("the condition");
            assert_eq!(
                summary, last.summary,
                "{device_id} {resource}: the last finding was decided"
            );
        }
    }
    let texts: Vec<String> = sqlx::query_scalar("SELECT text FROM ticket_events")
        .fetch_all(&pool)
        .await
        .expect("timelines");
    let mut seen = std::collections::HashMap::new();
    for text in &texts {
        if let Some(at) = text.find("finding ") {
            *seen.entry(text[at..].to_owned()).or_insert(0) += 1;
        }
    }
    assert!(
        !seen.is_empty(),
        "the findings' words reached timelines: {texts:?}"
    );
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "decided more than once: {twice:?}");
}
