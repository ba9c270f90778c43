//! Test harness: start collectors and agents, open raw protocol streams, wait on conditions.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use firstline_agent::enroll::{self, EnrollError, EnrollOptions};
use firstline_agent::identity::Identity;
use firstline_agent::uplink::{self, UplinkSettings, UplinkState};
use firstline_collector::config::Settings;
use firstline_collector::server::{self, RunningCollector};
use firstline_proto::v1 as pb;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as TlsIdentity};

/// Generous: CI machines are slow and shared. Waits end as soon as the condition holds.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .init();
    });
}

/// Says, past the test harness's output capture, that the running test skips and why: a
/// passing test's `eprintln!` is swallowed, so a skip would otherwise read as "ok". In CI
/// (`CI` set) nothing may skip: `.ci/run` installs what every test needs.
pub fn skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} cannot skip in CI: {reason}"
    );
    use std::io::Write;
    // Straight to the process's stderr: libtest captures only the print macros.
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {reason}");
}

/// Polls `condition` until it returns Some or the deadline passes.
pub async fn wait_for<T, F, Fut>(what: &str, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A collector in this process with its own data dir, on ephemeral loopback ports.
pub struct TestCollector {
    pub running: Option<RunningCollector>,
    pub settings: Settings,
    _dir: tempfile::TempDir,
}

impl TestCollector {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1", &[]).await
    }

    /// A collector listening for agents on `ip`, with `names` in its server certificate.
    pub async fn start_on(ip: &str, names: &[String]) -> Self {
        Self::start_with(|settings| {
            settings.grpc_listen = format!("{ip}:0").parse().expect("address");
            settings.server_names = names.to_vec();
        })
        .await
    }

    /// A collector on PostgreSQL at `database_url`, sharing the CA in `ca_from` (another
    /// collector's data dir) if given, as collectors behind one load balancer do.
    pub async fn start_postgres(database_url: &str, ca_from: Option<&Path>) -> Self {
        Self::start_with(|settings| {
            settings.database_url = Some(database_url.to_owned());
            if let Some(source) = ca_from {
                std::fs::create_dir_all(&settings.data_dir).expect("data dir");
                for file in ["ca.pem", "ca-key.pem"] {
                    std::fs::copy(source.join(file), settings.data_dir.join(file))
                        .expect("copy the shared CA");
                }
            }
        })
        .await
    }

    /// A collector on ephemeral loopback ports with `adjust` applied to its settings.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        init_tracing();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            data_dir: dir.path().join("collector"),
            grpc_listen: "127.0.0.1:0".parse().expect("address"),
            http_listen: "127.0.0.1:0".parse().expect("address"),
            heartbeat_interval: Duration::from_secs(5),
            ..Settings::default()
        };
        adjust(&mut settings);
        let running = server::start(&settings).await.expect("collector starts");
        // Later restarts reuse the ports the first start was given.
        let settings = Settings {
            grpc_listen: running.grpc_address,
            http_listen: running.http_address,
            ..settings
        };
        Self {
            running: Some(running),
            settings,
            _dir: dir,
        }
    }

    pub fn running(&self) -> &RunningCollector {
        self.running.as_ref().expect("collector is running")
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.settings.grpc_listen)
    }

    /// The gRPC URL at `ip` (for a collector listening on all addresses).
    pub fn url_at(&self, ip: &str) -> String {
        format!("https://{ip}:{}", self.settings.grpc_listen.port())
    }

    /// Every finding the collector has stored for `device_id`, oldest first.
    pub async fn findings(
        &self,
        device_id: &str,
    ) -> Vec<firstline_collector::model::StoredFinding> {
        self.running()
            .store
            .recent_findings(device_id, 100_000)
            .await
            .expect("findings")
    }

    /// Waits until a stored finding of `check` on `resource` satisfies `matches`.
    pub async fn wait_for_finding(
        &self,
        device_id: &str,
        check: &str,
        resource: &str,
        matches: impl Fn(&firstline_collector::model::StoredFinding) -> bool,
    ) -> firstline_collector::model::StoredFinding {
        wait_for(&format!("a {check} finding on {resource}"), || async {
            self.findings(device_id)
                .await
                .into_iter()
                .find(|f| f.finding.check == check && f.finding.resource == resource && matches(f))
        })
        .await
    }

    pub fn ca_path(&self) -> PathBuf {
        self.settings.data_dir.join("ca.pem")
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_path()).expect("ca.pem")
    }

    pub async fn token(&self) -> String {
        firstline_collector::enrollment::create_token(
            &self.running().store,
            &self.running().ca_pem,
            Duration::from_secs(600),
        )
        .await
        .expect("token")
        .token
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("collector stops cleanly");
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.running = Some(
            server::start(&self.settings)
                .await
                .expect("collector restarts"),
        );
    }
}

/// Enrolls a fresh state dir under `parent` with `token`.
pub async fn enroll_with(
    collector: &TestCollector,
    token: &str,
    state_dir: &Path,
) -> Result<Identity, EnrollError> {
    enroll_at(collector, &collector.url(), token, state_dir).await
}

/// `firstline-agent enroll` with every option spelled out.
pub async fn enroll_to(
    url: String,
    token: impl Into<String>,
    ca_file: Option<PathBuf>,
    state_dir: impl AsRef<Path>,
    force: bool,
) -> Result<Identity, EnrollError> {
    enroll::enroll(&EnrollOptions {
        collector_url: url,
        token: token.into(),
        ca_file,
        state_dir: state_dir.as_ref().to_owned(),
        force,
    })
    .await
}

/// Enrolls against `url`, which must reach `collector`.
pub async fn enroll_at(
    collector: &TestCollector,
    url: &str,
    token: &str,
    state_dir: &Path,
) -> Result<Identity, EnrollError> {
    enroll::enroll(&EnrollOptions {
        collector_url: url.to_owned(),
        token: token.to_owned(),
        ca_file: Some(collector.ca_path()),
        state_dir: state_dir.to_owned(),
        force: false,
    })
    .await
}

/// An agent's uplink running in this process, as `firstline-agent run` runs it.
pub struct TestAgent {
    stop: watch::Sender<bool>,
    pub state: watch::Receiver<UplinkState>,
    task: JoinHandle<()>,
}

impl TestAgent {
    pub fn start(identity: Identity) -> Self {
        let (stop, stop_watch) = watch::channel(false);
        let (state_sender, state) = watch::channel(UplinkState::Starting);
        let settings = UplinkSettings {
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(500),
            ..UplinkSettings::default()
        };
        let context = uplink::UplinkContext {
            outbox: std::sync::Arc::new(
                firstline_agent::outbox::Outbox::open(
                    &identity
                        .state_dir
                        .join(firstline_agent::outbox::OUTBOX_FILE),
                    1 << 24,
                )
                .expect("outbox"),
            ),
            queued: std::sync::Arc::new(tokio::sync::Notify::new()),
            shared: std::sync::Arc::new(firstline_agent::checks::Shared::default()),
            fixer: None,
            reproducer: None,
            help_links: None,
            notifier: None,
            fleet: None,
        };
        let task = tokio::spawn(uplink::run(
            identity,
            settings,
            context,
            stop_watch,
            state_sender,
        ));
        Self { stop, state, task }
    }

    /// The whole agent (checks, tracker, outbox, uplink) as `firstline-agent run` runs it,
    /// with its config read from (and watched at) `config_path`.
    pub fn start_full(identity: Identity, config_path: &Path) -> Self {
        assert_stays_on_this_machine(config_path);
        let settings =
            firstline_agent::config::Settings::load(Some(config_path)).expect("agent config");
        let (stop, stop_watch) = watch::channel(false);
        let (state_sender, state) = watch::channel(UplinkState::Starting);
        let config_path = config_path.to_owned();
        let task = tokio::spawn(async move {
            firstline_agent::runtime::run(
                Some(config_path),
                settings,
                identity,
                stop_watch,
                state_sender,
            )
            .await
            .expect("agent runs");
        });
        Self { stop, state, task }
    }

    pub async fn wait_connected(&mut self) {
        let deadline = tokio::time::timeout(
            DEADLINE,
            self.state
                .wait_for(|state| matches!(state, UplinkState::Connected { .. })),
        );
        let outcome = deadline.await.map(|waited| waited.is_ok());
        match outcome {
            Ok(true) => {}
            Ok(false) => panic!("agent uplink ended"),
            Err(_) => panic!(
                "agent did not connect within {DEADLINE:?}; last state {:?}",
                *self.state.borrow()
            ),
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("agent stops")
            .expect("agent task");
    }
}

/// A TLS channel to the collector, optionally presenting a client certificate.
pub async fn channel(
    url: &str,
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some((certificate, key)) = client {
        tls = tls.identity(TlsIdentity::from_pem(certificate, key));
    }
    Endpoint::from_shared(url.to_owned())?
        .tls_config(tls)?
        .connect()
        .await
}

/// A raw `Telemetry.Connect` stream, for speaking the protocol the way a (possibly hostile)
/// agent would.
pub struct RawStream {
    pub outbound: mpsc::Sender<pb::AgentMessage>,
    pub inbound: tonic::Streaming<pb::CollectorMessage>,
}

impl RawStream {
    /// Opens the stream; `first` is queued before the call, as a real agent queues its Hello.
    pub async fn open(
        channel: Channel,
        first: Vec<pb::AgentMessage>,
    ) -> Result<Self, tonic::Status> {
        let (outbound, receiver) = mpsc::channel(64);
        for message in first {
            outbound.send(message).await.expect("queue");
        }
        let mut client = pb::telemetry_client::TelemetryClient::new(channel);
        let inbound = client
            .connect(ReceiverStream::new(receiver))
            .await?
            .into_inner();
        Ok(Self { outbound, inbound })
    }

    pub async fn send(&self, body: pb::agent_message::Body) {
        self.outbound
            .send(pb::AgentMessage { body: Some(body) })
            .await
            .expect("stream open");
    }

    /// The next message from the collector, or the status the stream ended with.
    /// The next message that is not something the collector asks of the device (a fix, a
    /// notice, a reproduction: a real agent answers those on the side).
    pub async fn next_answer(&mut self) -> Result<pb::collector_message::Body, tonic::Status> {
        loop {
            match self.next().await {
                Ok(
                    pb::collector_message::Body::Fix(_)
                    | pb::collector_message::Body::Notice(_)
                    | pb::collector_message::Body::Reproduce(_),
                ) => continue,
                other => return other,
            }
        }
    }

    /// As `next_answer`, waiting up to `wait` in all (None when nothing answered by then).
    pub async fn next_answer_within(
        &mut self,
        wait: Duration,
    ) -> Option<Result<pb::collector_message::Body, tonic::Status>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await? {
                Ok(
                    pb::collector_message::Body::Fix(_)
                    | pb::collector_message::Body::Notice(_)
                    | pb::collector_message::Body::Reproduce(_),
                ) => continue,
                other => return Some(other),
            }
        }
    }

    /// The next message if one comes within `wait`, else None.
    pub async fn next_within(
        &mut self,
        wait: Duration,
    ) -> Option<Result<pb::collector_message::Body, tonic::Status>> {
        match tokio::time::timeout(wait, self.inbound.message()).await {
            Err(_) => None,
            Ok(Err(status)) => Some(Err(status)),
            Ok(Ok(None)) => Some(Err(tonic::Status::cancelled("stream ended"))),
            Ok(Ok(Some(message))) => {
                Some(Ok(message.body.expect("collector messages have a body")))
            }
        }
    }

    pub async fn next(&mut self) -> Result<pb::collector_message::Body, tonic::Status> {
        match tokio::time::timeout(DEADLINE, self.inbound.message()).await {
            Err(_) => panic!("no message from the collector within {DEADLINE:?}"),
            Ok(Err(status)) => Err(status),
            Ok(Ok(None)) => Err(tonic::Status::cancelled("stream ended")),
            Ok(Ok(Some(message))) => Ok(message.body.expect("collector messages have a body")),
        }
    }
}

/// An enrolled device's `Telemetry.Connect` stream to `url` over mutual TLS, past its Welcome.
pub async fn open_stream(url: &str, identity: &Identity) -> (RawStream, pb::Welcome) {
    let channel = channel(
        url,
        &identity.ca_pem,
        Some((&identity.certificate_pem, &identity.key_pem)),
    )
    .await
    .expect("channel");
    let mut stream = RawStream::open(channel, vec![hello()])
        .await
        .expect("stream");
    match stream.next().await {
        Ok(pb::collector_message::Body::Welcome(welcome)) => (stream, welcome),
        other => panic!("expected a Welcome, got {other:?}"),
    }
}

pub fn hello() -> pb::AgentMessage {
    pb::AgentMessage {
        body: Some(pb::agent_message::Body::Hello(pb::Hello {
            protocol_version: firstline_proto::PROTOCOL_VERSION,
            agent_version: "test".to_owned(),
            last_sequence: 0,
            acked_sequence: 0,
            config_version: String::new(),
        })),
    }
}

pub fn finding(sequence: u64, summary: &str) -> pb::Finding {
    pb::Finding {
        sequence,
        check: "disk.free_low".to_owned(),
        resource: "/".to_owned(),
        severity: pb::Severity::Warning as i32,
        summary: summary.to_owned(),
        evidence_json: r#"{"free_bytes": 3100000000}"#.to_owned(),
        observed_at_unix_ms: 1_700_000_000_000,
    }
}

/// An agent config with every check off except the sections given, fast reconnects, a watch
/// list that is empty unless a section adds one, and nothing that leaves this machine: no
/// gateway ping and no system resolver unless a section asks for them (then the agent must run
/// in a namespace of the test's own; see [`assert_stays_on_this_machine`]).
pub fn agent_config(sections: &[(&str, &str)]) -> String {
    let outbox = sections
        .iter()
        .find(|(section, _)| *section == "outbox")
        .map(|(_, body)| *body);
    let mut text = format!(
        "[uplink]\nreconnect_min = \"100ms\"\nreconnect_max = \"1s\"\n\n[outbox]\n{}\n\n",
        outbox.unwrap_or("replay_per_second = 5000")
    );
    let off = [
        "disk", "memory", "cpu", "thermal", "battery", "smart", "network", "clock", "reboot",
    ];
    for check in off {
        let name = format!("checks.{check}");
        let body = sections
            .iter()
            .find(|(section, _)| *section == name)
            .map_or("enabled = false", |(_, body)| *body);
        let local = if check == "network" && !body.contains("ping_gateway") {
            "ping_gateway = false\n"
        } else {
            ""
        };
        text.push_str(&format!("[{name}]\n{local}{body}\n\n"));
    }
    let dns = sections
        .iter()
        .find(|(section, _)| *section == "checks.dns")
        .map_or("", |(_, body)| *body);
    if dns.contains("system_resolver") {
        text.push_str(&format!("[checks.dns]\n{dns}\n\n"));
    } else {
        text.push_str(&format!("[checks.dns]\nsystem_resolver = false\n{dns}\n\n"));
    }
    for (section, body) in sections {
        let is_check = *section == "checks.dns"
            || off
                .iter()
                .any(|check| *section == format!("checks.{check}"));
        if *section != "outbox" && !is_check {
            if section.starts_with("[[") {
                text.push_str(&format!("{section}\n{body}\n\n"));
            } else {
                text.push_str(&format!("[{section}]\n{body}\n\n"));
            }
        }
    }
    if !sections
        .iter()
        .any(|(section, _)| section.contains("checks.watch"))
    {
        // No default crash folder: tests watch only what they create.
        text = text.replacen("[uplink]", "[checks]\nwatch = []\n\n[uplink]", 1);
    }
    text
}

/// The suite's guard for the machine it runs on: fails the test, naming the setting and the
/// destination, when the agent config at `config` would make an agent send packets beyond
/// loopback (the gateway ping, the system's resolvers, a named or non-local endpoint). Every
/// agent the suite starts outside a network namespace of its own passes through here.
/// A config the agent refuses passes: the agent keeps the one it had (which passed) or does
/// not start.
pub fn assert_stays_on_this_machine(config: &Path) {
    let Ok(settings) = firstline_agent::config::Settings::load(Some(config)) else {
        return;
    };
    let beyond: Vec<String> = firstline_agent::targets::network_targets(&settings)
        .into_iter()
        .filter(|target| !target.stays_on_this_computer())
        .map(|target| target.to_string())
        .collect();
    assert!(
        beyond.is_empty(),
        "an agent of this test would send packets beyond this machine ({}): turn that off in \
         its config ({}) or run the agent in a network namespace the test creates",
        beyond.join("; "),
        config.display()
    );
}

/// Writes `config` where a running agent will notice it (atomically, as editors do), after
/// [`assert_stays_on_this_machine`] passed it.
pub fn write_config(path: &Path, config: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, config).expect("write config");
    assert_stays_on_this_machine(&temporary);
    std::fs::rename(&temporary, path).expect("replace config");
}

/// `firstline-agent run` as a real process, its log lines collected as they are written.
pub struct AgentProcess {
    child: std::process::Child,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl AgentProcess {
    /// Runs `prefix… e2e-agent run --config CONFIG --state-dir STATE` (the prefix enters a
    /// network namespace, say).
    pub fn start(prefix: &[&str], config: &Path, state_dir: &Path) -> Self {
        Self::start_with_env(prefix, config, state_dir, &[])
    }

    /// As `start`, with more environment variables (the test-only hooks `tests/bin/agent.rs`
    /// reads, say).
    pub fn start_with_env(
        prefix: &[&str],
        config: &Path,
        state_dir: &Path,
        env: &[(String, String)],
    ) -> Self {
        // In a namespace the test made, the agent reaches only what the test put there.
        if !prefix.starts_with(&["ip", "netns", "exec"]) {
            assert_stays_on_this_machine(config);
        }
        let agent = env!("CARGO_BIN_EXE_e2e-agent");
        let mut command = match prefix.split_first() {
            Some((program, arguments)) => {
                let mut command = std::process::Command::new(program);
                command.args(arguments).arg(agent);
                command
            }
            None => std::process::Command::new(agent),
        };
        command
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg("--state-dir")
            .arg(state_dir)
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("start the agent process");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().expect("log").push(line);
            }
        });
        Self { child, log }
    }

    /// How many log lines so far contain every one of `needles`.
    pub fn count(&self, needles: &[&str]) -> usize {
        self.log
            .lock()
            .expect("log")
            .iter()
            .filter(|line| needles.iter().all(|n| line.contains(n)))
            .count()
    }

    /// Waits until at least `count` log lines contain all of `needles`; fails showing the log.
    pub async fn wait_log(&self, needles: &[&str], count: usize) {
        let started = Instant::now();
        while self.count(needles) < count {
            assert!(
                started.elapsed() < DEADLINE,
                "timed out waiting for {count} log lines with {needles:?}; the agent said:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// The process id, e.g. to count its open files in /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (it has not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, as systemd stops a service; waits for the exit and returns its status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the agent") {
                return status;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the agent did not stop on SIGTERM; it said:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown, no flushing, as when the power goes.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A device simulated over the real protocol: its own key and certificate from a real
/// enrollment, its own mTLS connection, speaking `Telemetry.Connect` message by message.
pub struct SimulatedDevice {
    pub identity: Identity,
    pub stream: RawStream,
    next_sequence: u64,
}

impl SimulatedDevice {
    /// Enrolls with `token` (CA pinned by the token) under `state_dir`.
    pub async fn enroll(url: &str, token: String, state_dir: &Path) -> Identity {
        enroll_to(url.to_owned(), token, None, state_dir, false)
            .await
            .expect("simulated device enrolls")
    }

    /// Connects to `url`, says hello, and sends an inventory placing it in `site` with
    /// `dns_server` as its resolver.
    pub async fn connect(url: &str, identity: Identity, site: &str, dns_server: &str) -> Self {
        Self::connect_as(url, identity, site, dns_server, None).await
    }

    /// As `connect`, with `account` signed in at the device's display when given.
    pub async fn connect_as(
        url: &str,
        identity: Identity,
        site: &str,
        dns_server: &str,
        account: Option<&str>,
    ) -> Self {
        let (stream, welcome) = open_stream(url, &identity).await;
        stream
            .send(pb::agent_message::Body::Inventory(pb::Inventory {
                hostname: format!("pc-{}", &identity.device_id()[..8]),
                os_name: "Debian GNU/Linux".to_owned(),
                agent_version: "test".to_owned(),
                site: site.to_owned(),
                dns_servers: vec![dns_server.to_owned()],
                users: account
                    .map(|account| pb::DeviceUser {
                        account: account.to_owned(),
                        line: ":0".to_owned(),
                        kind: pb::SessionKind::Graphical as i32,
                        ..pb::DeviceUser::default()
                    })
                    .into_iter()
                    .collect(),
                last_user: account.unwrap_or_default().to_owned(),
                ..pb::Inventory::default()
            }))
            .await;
        Self {
            identity,
            stream,
            next_sequence: welcome.committed_sequence + 1,
        }
    }

    /// The next finding sequence, for a test that sends its own batches.
    pub fn take_sequence(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence - 1
    }

    /// Sends one finding and waits for its ack.
    pub async fn report(&mut self, check: &str, resource: &str, severity: pb::Severity) {
        let summary = format!("{check} on {resource}: {}", severity.as_str_name());
        self.report_saying(check, resource, severity, &summary)
            .await;
    }

    /// As `report`, with the finding's summary given.
    pub async fn report_saying(
        &mut self,
        check: &str,
        resource: &str,
        severity: pb::Severity,
        summary: &str,
    ) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let finding = pb::Finding {
            sequence,
            check: check.to_owned(),
            resource: resource.to_owned(),
            severity: severity as i32,
            summary: summary.to_owned(),
            evidence_json: format!(r#"{{"resource": "{resource}", "sequence": {sequence}}}"#),
            observed_at_unix_ms: firstline_collector::model::now_ms(),
        };
        self.stream
            .send(pb::agent_message::Body::Findings(pb::FindingBatch {
                findings: vec![finding],
            }))
            .await;
        // The collector may also ask something of the device meanwhile (a fix on its new
        // ticket, a notice): a real agent answers those on the side; the ack is what counts.
        loop {
            match self.stream.next().await {
                Ok(pb::collector_message::Body::Ack(ack)) => {
                    assert_eq!(ack.sequence, sequence, "acked through the finding");
                    assert!(ack.refused.is_empty(), "refused: {:?}", ack.refused);
                    return;
                }
                Ok(
                    pb::collector_message::Body::Fix(_)
                    | pb::collector_message::Body::Notice(_)
                    | pb::collector_message::Body::Reproduce(_),
                ) => continue,
                other => panic!("expected an Ack, got {other:?}"),
            }
        }
    }
}

/// One HTTP/1.1 request with a JSON body (or none) and a bearer key; returns the status and
/// the JSON the collector answered with.
pub async fn http_json(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let bearer = key.map(|key| format!("Bearer {key}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|value| vec![("Authorization", value)])
        .unwrap_or_default();
    let (status, _, json) = http_call(address, method, path, &headers, body).await;
    (status, json)
}

/// One HTTP/1.1 request with any headers; returns the status, the response head (for
/// Set-Cookie) and the JSON body.
pub async fn http_call(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> (u16, String, serde_json::Value) {
    http_call_from(None, address, method, path, headers, body).await
}

/// `http_call` from a chosen local address (any of 127.0.0.0/8 on Linux), as if from another
/// machine.
pub async fn http_call_from(
    source: Option<std::net::IpAddr>,
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> (u16, String, serde_json::Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let content_type = (!body.is_empty()).then_some("application/json");
    let (status, head, payload) =
        http_exchange(source, address, method, path, headers, content_type, &body).await;
    let json = serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
    (status, head, json)
}

/// One HTTP/1.1 request with a form body (`application/x-www-form-urlencoded`) or none;
/// returns the status, the response head and the body as text. A `Host` among `headers`
/// replaces the connection's own.
pub async fn http_form(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
) -> (u16, String, String) {
    let body = form.map(form_encode).unwrap_or_default();
    let content_type = form.map(|_| "application/x-www-form-urlencoded");
    http_exchange(None, address, method, path, headers, content_type, &body).await
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
pub fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", percent(name), percent(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

async fn http_exchange(
    source: Option<std::net::IpAddr>,
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = match source {
        None => tokio::net::TcpStream::connect(address)
            .await
            .expect("connect HTTP"),
        Some(source) => {
            let socket = if source.is_ipv4() {
                tokio::net::TcpSocket::new_v4()
            } else {
                tokio::net::TcpSocket::new_v6()
            }
            .expect("socket");
            socket
                .bind(std::net::SocketAddr::new(source, 0))
                .unwrap_or_else(|e| panic!("bind {source}: {e}"));
            socket.connect(address).await.expect("connect HTTP")
        }
    };
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {address}\r\n"));
    }
    request.push_str(&format!(
        "Connection: close\r\nContent-Length: {}\r\n",
        body.len()
    ));
    if let Some(content_type) = content_type {
        request.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send HTTP");
    // Read until the answer is complete: servers that keep the connection open (chromedriver)
    // never send end-of-file.
    let read_answer = async {
        let mut response = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let read = stream.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            response.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&response);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let head = head.to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                let complete = match length {
                    Some(length) => body.len() >= length,
                    None if head.contains("transfer-encoding: chunked") => {
                        body.ends_with("0\r\n\r\n")
                    }
                    None => false,
                };
                if complete {
                    break;
                }
            }
        }
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(DEADLINE, read_answer)
        .await
        .expect("HTTP answer in time")
        .expect("read HTTP");
    let text = String::from_utf8_lossy(&response);
    let (head, payload) = text.split_once("\r\n\r\n").expect("HTTP head and body");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("HTTP status");
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)
    } else {
        payload.to_owned()
    };
    (status, head.to_owned(), payload)
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        text = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A person who can sign in to `collector`'s web UI and API.
pub async fn add_user(
    collector: &TestCollector,
    name: &str,
    role: firstline_collector::model::Role,
    password: &str,
) {
    let hash = firstline_collector::auth::hash_password(password).expect("hash");
    collector
        .running()
        .store
        .insert_user(name, role, &hash, 1)
        .await
        .expect("user");
}

/// A urlencoded form POST with the session cookie.
pub async fn raw_form(
    address: std::net::SocketAddr,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String, serde_json::Value) {
    raw_form_with(address, path, &format!("Cookie: {cookie}\r\n"), body).await
}

/// A urlencoded form POST with extra header lines (each ending in CRLF).
pub async fn raw_form_with(
    address: std::net::SocketAddr,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{headers}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text, serde_json::Value::Null)
}

/// A loopback port nobody listens on now, for a collector process to bind.
pub fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// Signs in; returns the cookie header value and the CSRF token.
pub async fn sign_in(
    http: std::net::SocketAddr,
    name: &str,
    password: &str,
) -> (u16, Option<(String, String)>) {
    let (status, _, session) = sign_in_from(None, &[], http, name, password).await;
    (status, session)
}

/// Signs in from a chosen local address with extra headers; also returns the response head.
pub async fn sign_in_from(
    source: Option<std::net::IpAddr>,
    headers: &[(&str, &str)],
    http: std::net::SocketAddr,
    name: &str,
    password: &str,
) -> (u16, String, Option<(String, String)>) {
    let (status, head, body) = http_call_from(
        source,
        http,
        "POST",
        "/login",
        headers,
        Some(&serde_json::json!({"name": name, "password": password})),
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
    (status, head, cookie.zip(csrf))
}

/// A `[[checks.watch]]` section watching `path` for crash files (`*.crash`).
pub fn crash_watch_section(path: &Path) -> String {
    format!(
        "name = \"app-crashes\"\npath = \"{}\"\npattern = \"*.crash\"",
        path.display()
    )
}

/// Drops a crash file of `application` into `dir`, as an OS crash handler would.
pub fn drop_crash(dir: &Path, application: &str) {
    std::fs::write(
        dir.join(format!("{application}.1000.crash")),
        "ProblemType: Crash\n",
    )
    .expect("write crash");
}

/// Warning `crash.new_file` findings per application, as the collector stored them.
pub async fn crash_counts(
    collector: &TestCollector,
    device: &str,
) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for finding in collector.findings(device).await {
        if finding.finding.check == "crash.new_file"
            && finding.finding.severity == firstline_collector::model::Severity::Warning
        {
            *counts.entry(finding.finding.resource).or_default() += 1;
        }
    }
    counts
}

/// A tmpfs of `size` mounted at `path` by the test (root only), unmounted when dropped: after
/// whatever uses it is gone, so declare it first.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(path: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(path).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .status()
            .ok()?
            .success();
        mounted.then(|| Tmpfs(path.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes `path` until its file system is full, to the last byte; returns how much it took.
pub fn fill_disk(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0x55u8; 64 * 1024];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::StorageFull,
                    "filling {}: {e}",
                    path.display()
                );
                break;
            }
        }
    }
    // Byte by byte, whatever is left: the last pages matter.
    while file.write_all(&[0]).is_ok() {
        written += 1;
    }
    let _ = file.sync_all();
    written
}
