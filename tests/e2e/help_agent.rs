//! The desktop's "Get IT help" end to end, agent side: `e2e-agent help --no-open` run as the
//! user would, against a real agent process on a real mTLS stream. The collector's side of
//! help links is not built yet, so a stand-in speaks the protocol here: it serves with the
//! real collector's certificates (the agent enrolled there trusts it), greets the agent, hands
//! the test every message and sends what the test says.

use std::os::unix::fs::MetadataExt;
use std::pin::Pin;
use std::sync::Mutex;

use firstline_i18n::{Lang, msg};
use firstline_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::support::{
    AgentProcess, DEADLINE, SimulatedDevice, TestCollector, agent_config, skip, write_config,
};

type ToAgent = Pin<Box<dyn Stream<Item = Result<pb::CollectorMessage, Status>> + Send>>;

/// The stand-in's one stream: the first agent to connect gets it; later connections are
/// refused (as a collector that is down would be).
struct StandIn {
    device_id: String,
    from_agent: mpsc::UnboundedSender<pb::AgentMessage>,
    to_agent: Mutex<Option<mpsc::UnboundedReceiver<pb::CollectorMessage>>>,
}

#[tonic::async_trait]
impl pb::telemetry_server::Telemetry for StandIn {
    type ConnectStream = ToAgent;

    async fn connect(
        &self,
        request: Request<Streaming<pb::AgentMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let Some(to_agent) = self.to_agent.lock().expect("lock").take() else {
            return Err(Status::unavailable("the stand-in serves one stream"));
        };
        let mut inbound = request.into_inner();
        let from_agent = self.from_agent.clone();
        tokio::spawn(async move {
            while let Ok(Some(message)) = inbound.message().await {
                let _ = from_agent.send(message);
            }
        });
        let welcome = pb::CollectorMessage {
            body: Some(pb::collector_message::Body::Welcome(pb::Welcome {
                protocol_version: firstline_proto::PROTOCOL_VERSION,
                device_id: self.device_id.clone(),
                committed_sequence: 0,
                server_time_unix_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_millis() as i64,
                heartbeat_interval_secs: 30,
            })),
        };
        let rest = tokio_stream::wrappers::UnboundedReceiverStream::new(to_agent).map(Ok);
        Ok(Response::new(Box::pin(
            tokio_stream::once(Ok(welcome)).chain(rest),
        )))
    }
}

struct StandInCollector {
    from_agent: mpsc::UnboundedReceiver<pb::AgentMessage>,
    to_agent: Option<mpsc::UnboundedSender<pb::CollectorMessage>>,
    server: tokio::task::JoinHandle<()>,
}

impl StandInCollector {
    /// Serves on `address` with the certificates in the (stopped) collector's data dir.
    fn start(address: std::net::SocketAddr, data_dir: &std::path::Path, device_id: &str) -> Self {
        let read = |name: &str| {
            std::fs::read_to_string(data_dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let ca = read("ca.pem");
        let tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(
                format!("{}{ca}", read("server.pem")),
                read("server-key.pem"),
            ))
            .client_ca_root(tonic::transport::Certificate::from_pem(&ca));
        let (from_agent_sender, from_agent) = mpsc::unbounded_channel();
        let (to_agent, to_agent_receiver) = mpsc::unbounded_channel();
        let service = StandIn {
            device_id: device_id.to_owned(),
            from_agent: from_agent_sender,
            to_agent: Mutex::new(Some(to_agent_receiver)),
        };
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .tls_config(tls)
                .expect("TLS config")
                .add_service(pb::telemetry_server::TelemetryServer::new(service))
                .serve(address)
                .await
                .expect("the stand-in serves");
        });
        StandInCollector {
            from_agent,
            to_agent: Some(to_agent),
            server,
        }
    }

    fn send(&self, body: pb::collector_message::Body) {
        self.to_agent
            .as_ref()
            .expect("the stream is open")
            .send(pb::CollectorMessage { body: Some(body) })
            .expect("the agent's stream is open");
    }

    /// The next agent message `pick` takes, skipping the others.
    async fn next<T>(
        &mut self,
        what: &str,
        pick: impl Fn(pb::agent_message::Body) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let message = tokio::time::timeout_at(deadline, self.from_agent.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} from the agent within {DEADLINE:?}"))
                .unwrap_or_else(|| panic!("the stream ended before {what}"));
            if let Some(found) = message.body.and_then(&pick) {
                return found;
            }
        }
    }

    /// Ends the stream as a collector going away would.
    fn end_stream(&mut self) {
        self.to_agent = None;
    }
}

impl Drop for StandInCollector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `e2e-agent help --no-open` as the user runs it, in the locale `env` sets: (exit success,
/// what it printed).
async fn help(
    config: &std::path::Path,
    state_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (bool, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2e-agent"));
    command
        .args(["help", "--no-open", "--config"])
        .arg(config)
        .arg("--state-dir")
        .arg(state_dir);
    for name in ["LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .expect("help answers within the deadline")
        .expect("run e2e-agent help");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!(
        "help said: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), stdout)
}

/// This test process's user id (the owner of what it creates).
fn own_uid(dir: &std::path::Path) -> u32 {
    std::fs::metadata(dir).expect("temp dir").uid()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_asks_the_collector_for_the_user_the_kernel_names_and_says_when_it_cannot() {
    let mut collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("agent");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let address = collector.running().grpc_address;
    let data_dir = collector.settings.data_dir.clone();
    collector.stop().await;
    let mut stand_in = StandInCollector::start(address, &data_dir, identity.device_id());

    let config = dir.path().join("agent.toml");
    write_config(&config, &agent_config(&[]));
    let agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["listening for user reports"], 1).await;
    stand_in
        .next("a hello", |body| {
            matches!(body, pb::agent_message::Body::Hello(_)).then_some(())
        })
        .await;
    agent.wait_log(&["connected to collector"], 1).await;

    // Asked in Greek: the request names the user the kernel gave and their language.
    let asking = tokio::spawn({
        let (config, state_dir) = (config.clone(), state_dir.clone());
        async move { help(&config, &state_dir, &[("LANG", "el_GR.UTF-8")]).await }
    });
    let request = stand_in
        .next("a help link request", |body| match body {
            pb::agent_message::Body::HelpLinkRequest(request) => Some(request),
            _ => None,
        })
        .await;
    let uid = own_uid(dir.path());
    assert_eq!(request.uid, uid);
    assert_eq!(
        request.account,
        firstline_agent::users::account_name(uid).unwrap_or_default()
    );
    assert_eq!(request.locale, "el");
    let url = "https://collector.example.com/help/t/one-time-token";
    stand_in.send(pb::collector_message::Body::HelpLink(pb::HelpLink {
        request_id: request.request_id.clone(),
        url: url.to_owned(),
        expires_at_unix_ms: 1,
        error: String::new(),
    }));
    let (succeeded, said) = asking.await.expect("help");
    assert!(succeeded, "{said}");
    assert!(
        said.contains(&msg!("help-link", "url" => url).text(Lang::El)),
        "{said}"
    );

    // A report from the help page: diagnosed here, answered with the outcome, and queued as
    // one user.report finding that names the account and the way it came.
    let account = request.account.clone();
    stand_in.send(pb::collector_message::Body::Reproduce(
        pb::ReproduceRequest {
            request_id: "page-report-1".to_owned(),
            playbook: "report".to_owned(),
            parameters: [
                ("words", "the clock is wrong"),
                ("account", account.as_str()),
                ("uid", uid.to_string().as_str()),
                ("lang", "el"),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        },
    ));
    let mut reports = Vec::new();
    let mut result = None;
    while result.is_none() || reports.is_empty() {
        let (found, answered) = stand_in
            .next("a user report or the reproduce result", |body| match body {
                pb::agent_message::Body::Findings(batch) => Some((
                    batch
                        .findings
                        .into_iter()
                        .filter(|finding| finding.check == "user.report")
                        .collect::<Vec<_>>(),
                    None,
                )),
                pb::agent_message::Body::ReproduceResult(answer) => {
                    Some((Vec::new(), Some(answer)))
                }
                _ => None,
            })
            .await;
        reports.extend(found);
        if answered.is_some() {
            result = answered;
        }
    }
    let result = result.expect("a result");
    assert_eq!(result.request_id, "page-report-1");
    assert_eq!(result.error, "");
    let outcome: serde_json::Value = serde_json::from_str(&result.result_json).expect("JSON");
    assert_eq!(outcome["queued"], true, "{outcome}");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        reports[0].resource,
        outcome["report_id"].as_str().expect("id")
    );
    let evidence: serde_json::Value =
        serde_json::from_str(&reports[0].evidence_json).expect("evidence");
    assert_eq!(evidence["via"], "help page");
    assert_eq!(evidence["reporter"]["uid"], uid);
    assert_eq!(evidence["text"], "the clock is wrong");

    // The collector goes away: asked in Polish, the user hears at once that IT cannot be
    // reached, and what to do instead.
    stand_in.end_stream();
    agent.wait_log(&["uplink down"], 1).await;
    let (succeeded, said) = help(&config, &state_dir, &[("LANG", "pl_PL.UTF-8")]).await;
    assert!(!succeeded, "{said}");
    assert!(
        said.contains(&msg!("help-unreachable").text(Lang::Pl)),
        "{said}"
    );
    assert!(
        said.contains(&msg!("help-what-to-do").text(Lang::Pl)),
        "{said}"
    );

    // No agent running: said so, in Chinese (LANGUAGE comes first, as gettext reads it).
    drop(agent);
    let (succeeded, said) = help(
        &config,
        &state_dir,
        &[("LANGUAGE", "zh_CN:en"), ("LANG", "en_US.UTF-8")],
    )
    .await;
    assert!(!succeeded, "{said}");
    assert!(
        said.contains(&msg!("help-agent-not-running").text(Lang::Zh)),
        "{said}"
    );
    assert!(
        said.contains(&msg!("help-what-to-do").text(Lang::Zh)),
        "{said}"
    );
}

/// The desktop menu entry the .deb installs is one desktops accept (Debian's
/// desktop-file-validate, from desktop-file-utils).
#[test]
fn the_desktop_entry_passes_desktop_file_validate() {
    let entry = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../agent/dist/firstline-help.desktop"
    );
    let output = match std::process::Command::new("desktop-file-validate")
        .arg(entry)
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            skip(&format!(
                "desktop-file-validate cannot run ({e}); install desktop-file-utils"
            ));
            return;
        }
    };
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "{entry}: {said}"
    );
}
