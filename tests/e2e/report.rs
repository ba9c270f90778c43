//! `firstline-agent report "I can't open https://…"` end to end: a real agent process, a
//! resolver and sites the test controls, the real command line, the real collector. Each
//! broken layer must be the one the ticket's evidence names.

use std::net::Ipv4Addr;

use firstline_collector::model::Role;
use serde_json::Value;

use crate::servers::{DnsServer, Endpoint, TestPki};
use crate::support::{
    AgentProcess, SimulatedDevice, TestCollector, agent_config, assert_stays_on_this_machine,
    http_json, wait_for, write_config,
};

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// `e2e-agent report TEXT --json` as the user would run it.
pub(crate) fn report(
    config: &std::path::Path,
    state_dir: &std::path::Path,
    text: &str,
) -> (bool, Value) {
    assert_stays_on_this_machine(config);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-agent"))
        .arg("report")
        .arg(text)
        .arg("--json")
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state_dir)
        .output()
        .expect("run e2e-agent report");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "report printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_report_names_the_first_failing_layer_in_the_ticket() {
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let key = firstline_collector::http::create_api_key(&store, "e2e", Role::Technician)
        .await
        .expect("api key");
    let http = collector.running().http_address;
    let dir = tempfile::tempdir().expect("temp dir");

    // The sites: healthy, refusing connections, an expired certificate, a certificate for
    // another name, and a server error. One resolver knows their names; "gone" it does not.
    let pki = TestPki::new();
    let healthy = Endpoint::https_site(pki.site(&["ok.intranet.test"], false), 200).await;
    let mut closed = Endpoint::tcp().await;
    closed.down().await;
    let expired = Endpoint::https_site(pki.site(&["expired.intranet.test"], true), 200).await;
    let mismatched = Endpoint::https_site(pki.site(&["other.example.com"], false), 200).await;
    let failing = Endpoint::https_site(pki.site(&["error.intranet.test"], false), 500).await;
    let dns = DnsServer::start_names(&[
        ("ok.intranet.test", LOCAL),
        ("closed.intranet.test", LOCAL),
        ("expired.intranet.test", LOCAL),
        ("mismatch.intranet.test", LOCAL),
        ("error.intranet.test", LOCAL),
    ])
    .await;
    let ca_file = dir.path().join("intranet-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).expect("write CA");
    // The test's sites listen on ports of their own: the config allows them for reports, and
    // this one user sends eight.
    let report_ports: Vec<String> = [&healthy, &closed, &expired, &mismatched, &failing]
        .iter()
        .map(|endpoint| endpoint.address.port().to_string())
        .collect();

    let state_dir = dir.path().join("agent");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[
            ("checks.dns", &format!("servers = [\"{}\"]", dns.address)),
            (
                "checks.https",
                &format!("ca_file = {:?}", ca_file.display().to_string()),
            ),
            (
                "playbooks",
                &format!(
                    "timeout = \"2s\"\nreport_ports = [443, {}]\nreports_per_user = 20",
                    report_ports.join(", ")
                ),
            ),
        ]),
    );
    let agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["listening for user reports"], 1).await;

    let port = |endpoint: &Endpoint| endpoint.address.port();
    let cases: [(String, Option<&str>); 6] = [
        (
            format!("I can't open https://ok.intranet.test:{}/", port(&healthy)),
            None,
        ),
        (
            "The intranet https://gone.intranet.test/ does not load".to_owned(),
            Some("dns"),
        ),
        (
            format!(
                "I cannot open https://closed.intranet.test:{}/",
                port(&closed)
            ),
            Some("tcp"),
        ),
        (
            format!(
                "I can't open https://expired.intranet.test:{}/",
                port(&expired)
            ),
            Some("tls"),
        ),
        (
            format!(
                "I can't open https://mismatch.intranet.test:{}/",
                port(&mismatched)
            ),
            Some("tls"),
        ),
        (
            format!(
                "I can't open https://error.intranet.test:{}/",
                port(&failing)
            ),
            Some("http"),
        ),
    ];
    for (text, expected) in &cases {
        let (sent, outcome) = report(&config, &state_dir, text);
        assert!(
            sent,
            "{text}: {outcome:#}\nagent log:\n{}",
            agent.log_text()
        );
        assert_eq!(outcome["queued"], true, "{text}");
        assert_eq!(outcome["results"][0]["playbook"], "web", "{text}");
        assert_eq!(
            outcome["results"][0]["failed_layer"].as_str(),
            *expected,
            "{text}: {:#}",
            outcome["results"][0]
        );
        let report_id = outcome["report_id"].as_str().expect("report id").to_owned();

        // The report reaches the collector and opens a ticket with the evidence.
        let ticket = wait_for(&format!("a ticket for report {report_id}"), || async {
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
        assert_eq!(
            ticket["description"],
            text.as_str(),
            "the user's words are the description"
        );
        let (_, detail) = http_json(
            http,
            "GET",
            &format!("/api/v1/tickets/{}", ticket["id"]),
            Some(&key),
            None,
        )
        .await;
        let diagnosis = detail["timeline"]
            .as_array()
            .and_then(|timeline| {
                timeline
                    .iter()
                    .find(|entry| entry["data"]["playbooks"].is_array())
            })
            .unwrap_or_else(|| panic!("{text}: no diagnosis in the timeline: {detail:#}"));
        assert_eq!(
            diagnosis["data"]["failed_layer"].as_str(),
            *expected,
            "{text}: {diagnosis:#}"
        );
    }
    // The expired and mismatched certificates are told apart in plain words.
    let (_, tls) = report(&config, &state_dir, &cases[3].0);
    assert!(
        tls["results"][0]["conclusion"]
            .as_str()
            .is_some_and(|c| c.contains("expired")),
        "{tls:#}"
    );
    let (_, tls) = report(&config, &state_dir, &cases[4].0);
    assert!(
        tls["results"][0]["conclusion"]
            .as_str()
            .is_some_and(|c| c.contains("other.example.com")),
        "{tls:#}"
    );
}

/// The reproduce request's state, as the REST API shows it.
async fn reproduce_state(http: std::net::SocketAddr, key: &str, id: &str) -> Value {
    let (status, request) = http_json(
        http,
        "GET",
        &format!("/api/v1/reproduce/{id}"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{request}");
    request
}

/// The reproduce entries of a ticket's timeline.
async fn reproduce_notes(http: std::net::SocketAddr, key: &str, ticket: i64) -> Vec<Value> {
    let (_, detail) = http_json(
        http,
        "GET",
        &format!("/api/v1/tickets/{ticket}"),
        Some(key),
        None,
    )
    .await;
    detail["timeline"]
        .as_array()
        .map(|timeline| {
            timeline
                .iter()
                .filter(|e| e["kind"] == "reproduce")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_reproduces_on_the_users_machine_online_offline_and_too_late() {
    let collector = TestCollector::start().await;
    let key = firstline_collector::http::create_api_key(
        &collector.running().store,
        "alice",
        Role::Technician,
    )
    .await
    .expect("api key");
    let http = collector.running().http_address;
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::new();
    let site = Endpoint::https_site(pki.site(&["ok.intranet.test"], false), 200).await;
    let mut closed = Endpoint::tcp().await;
    closed.down().await;
    let dns =
        DnsServer::start_names(&[("ok.intranet.test", LOCAL), ("closed.intranet.test", LOCAL)])
            .await;
    let ca_file = dir.path().join("intranet-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).expect("write CA");
    let crashes = dir.path().join("crashes");
    std::fs::create_dir_all(&crashes).expect("crash dir");
    let state_dir = dir.path().join("agent");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[
            ("checks.dns", &format!("servers = [\"{}\"]", dns.address)),
            (
                "checks.https",
                &format!("ca_file = {:?}", ca_file.display().to_string()),
            ),
            ("playbooks", "timeout = \"2s\""),
            (
                "[[checks.watch]]",
                &format!(
                    "name = \"app-crashes\"\npath = {:?}\npattern = \"*.crash\"",
                    crashes.display().to_string()
                ),
            ),
        ]),
    );
    let mut agent = crate::support::TestAgent::start_full(identity.clone(), &config);
    agent.wait_connected().await;

    // A ticket on the device: a crash.
    std::fs::write(
        crashes.join("erp-client.4711.crash"),
        "ProblemType: Crash\n",
    )
    .expect("crash");
    let ticket = wait_for("a crash ticket", || async {
        let (_, tickets) =
            http_json(http, "GET", "/api/v1/tickets?state=open", Some(&key), None).await;
        tickets["tickets"]
            .as_array()
            .and_then(|t| t.first())
            .and_then(|t| t["id"].as_i64())
    })
    .await;
    let ask = |body: Value| {
        let key = key.clone();
        async move {
            http_json(
                http,
                "POST",
                &format!("/api/v1/tickets/{ticket}/actions"),
                Some(&key),
                Some(&body),
            )
            .await
        }
    };

    // Connected: two requests at once both come back onto the timeline within seconds.
    let started = std::time::Instant::now();
    let ok_url = format!("https://ok.intranet.test:{}/", site.address.port());
    let closed_url = format!("https://closed.intranet.test:{}/", closed.address.port());
    let (first, second) = tokio::join!(
        ask(serde_json::json!({"action": "reproduce", "playbook": "web", "target": ok_url})),
        ask(serde_json::json!({"action": "reproduce", "playbook": "web", "target": closed_url})),
    );
    assert_eq!((first.0, second.0), (202, 202), "{first:?} {second:?}");
    for (request, expected) in [(&first.1, None), (&second.1, Some("tcp"))] {
        let id = request["id"].as_str().expect("request id").to_owned();
        let done = wait_for("the reproduce result", || async {
            let state = reproduce_state(http, &key, &id).await;
            (state["state"] == "done").then_some(state)
        })
        .await;
        assert_eq!(
            done["result"]["failed_layer"].as_str(),
            expected,
            "{done:#}"
        );
    }
    eprintln!(
        "two reproductions requested and answered in {:?}",
        started.elapsed()
    );
    let notes = reproduce_notes(http, &key, ticket).await;
    assert!(
        notes.iter().any(|n| n["text"]
            .as_str()
            .is_some_and(|t| t.contains("first failing layer tcp"))
            && n["data"]["steps"].is_array()),
        "{notes:#?}"
    );

    // Offline: the request waits, and is delivered when the agent reconnects.
    agent.stop().await;
    let (status, waiting) =
        ask(serde_json::json!({"action": "reproduce", "playbook": "disk"})).await;
    assert_eq!(status, 202, "{waiting}");
    let id = waiting["id"].as_str().expect("id").to_owned();
    assert_eq!(reproduce_state(http, &key, &id).await["state"], "queued");
    let mut agent = crate::support::TestAgent::start_full(identity.clone(), &config);
    agent.wait_connected().await;
    let done = wait_for(
        "the queued request to be answered after the reconnect",
        || async {
            let state = reproduce_state(http, &key, &id).await;
            (state["state"] == "done").then_some(state)
        },
    )
    .await;
    assert_eq!(done["result"]["playbook"], "disk");

    // Too late: an offline device and a short wait end in a visible expiry.
    agent.stop().await;
    let (_, late) =
        ask(serde_json::json!({"action": "reproduce", "playbook": "clock", "ttl_secs": 1})).await;
    let id = late["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    collector
        .running()
        .store
        .sweep(firstline_collector::model::now_ms())
        .await
        .expect("sweep");
    assert_eq!(reproduce_state(http, &key, &id).await["state"], "expired");
    let notes = reproduce_notes(http, &key, ticket).await;
    assert!(
        notes.iter().any(|n| n["text"]
            .as_str()
            .is_some_and(|t| t.contains("expired") && t.contains("offline"))),
        "{notes:#?}"
    );
    // Unknown playbooks are refused up front.
    let (status, refusal) =
        ask(serde_json::json!({"action": "reproduce", "playbook": "teleport"})).await;
    assert_eq!(status, 400, "{refusal}");
}

/// Crash folders are often world-writable (`/var/crash` on Ubuntu). Another local user's FIFO
/// named like a crash report once blocked the crash playbook, and the agent with it, forever;
/// a symlink made the agent read a line of a file the user could not. Now both are passed
/// over: the report answers, names neither, and a real crash afterwards is still reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_or_symlink_in_the_crash_folder_neither_blocks_nor_leaks() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let crashes = dir.path().join("crashes");
    std::fs::create_dir_all(&crashes).expect("crash dir");
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "Package: TOPSECRET 9.9\n").expect("secret");
    let mkfifo = std::process::Command::new("mkfifo")
        .arg(crashes.join("outlook.exe.1.crash"))
        .status()
        .expect("mkfifo");
    assert!(mkfifo.success());
    std::os::unix::fs::symlink(&secret, crashes.join("outlook.exe.2.crash")).expect("symlink");

    let state_dir = dir.path().join("agent");
    SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[(
            "[[checks.watch]]",
            &format!(
                "name = \"app-crashes\"\npath = {:?}\npattern = \"*.crash\"",
                crashes.display().to_string()
            ),
        )]),
    );
    let agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["listening for user reports"], 1).await;

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-agent"))
        .args(["report", "Outlook keeps crashing", "--json", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(&state_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run e2e-agent report");
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the crash playbook hung on the FIFO\nagent log:\n{}",
                agent.log_text()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let output = child.wait_with_output().expect("report output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(!stdout.contains("TOPSECRET"), "{stdout}");
    let outcome: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(outcome["results"][0]["playbook"], "crash", "{outcome:#}");
    assert!(
        outcome["results"][0]["conclusion"]
            .as_str()
            .is_some_and(|conclusion| conclusion.starts_with("No crash reports")),
        "{outcome:#}"
    );

    // The agent is alive and still watching: a real crash report is a finding.
    std::fs::write(
        crashes.join("outlook.exe.3.crash"),
        "Package: outlook 16.0\n",
    )
    .expect("crash");
    agent.wait_log(&["crash.new_file"], 1).await;
}

/// An enrolled agent process with `sections` as its config, listening for reports.
async fn reporting_agent(
    collector: &TestCollector,
    dir: &std::path::Path,
    sections: &[(&str, &str)],
) -> (AgentProcess, std::path::PathBuf, std::path::PathBuf) {
    let state_dir = dir.join("agent");
    SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let config = dir.join("agent.toml");
    write_config(&config, &agent_config(sections));
    let agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["listening for user reports"], 1).await;
    (agent, config, state_dir)
}

/// A connection to the report socket, waiting while its backlog is full (a full backlog makes
/// a non-blocking connect fail with "would block" rather than wait).
async fn connect(socket: &std::path::Path) -> tokio::net::UnixStream {
    let started = std::time::Instant::now();
    loop {
        match tokio::net::UnixStream::connect(socket).await {
            Ok(stream) => return stream,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    && started.elapsed() < crate::support::DEADLINE =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(e) => panic!("connecting to {}: {e}", socket.display()),
        }
    }
}

/// The first line a report connection is answered with (empty when closed without one).
async fn answer_line(stream: &mut tokio::net::UnixStream) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stream);
    tokio::time::timeout(crate::support::DEADLINE, reader.read_line(&mut line))
        .await
        .expect("an answer or a close within the deadline")
        .expect("read the answer");
    line
}

/// Any local user can connect to the report socket. 1,100 idle connections once exhausted the
/// agent's file descriptors. Now connections over the bound are told at once that the agent
/// is busy, idle ones are closed after the read deadline, a request too long is refused, and
/// a real report still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_report_connections_neither_exhaust_the_agent_nor_block_a_real_report() {
    use tokio::io::AsyncWriteExt;
    const BOUND: usize = 16;
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (agent, config, state_dir) = reporting_agent(&collector, dir.path(), &[]).await;
    let socket = state_dir.join("report.sock");
    let open_files = || {
        std::fs::read_dir(format!("/proc/{}/fd", agent.pid()))
            .expect("the agent's open files")
            .count()
    };
    let before = open_files();

    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(connect(&socket).await);
    }
    for stream in &mut idle[BOUND..] {
        let line = answer_line(stream).await;
        assert!(
            line.contains("busy with other reports"),
            "over the bound: {line:?}\nagent log:\n{}",
            agent.log_text()
        );
    }
    let during = open_files();
    assert!(
        during <= before + BOUND + 2,
        "the agent holds {during} open files with 200 idle report connections ({before} before)"
    );

    // The idle connections within the bound are answered and closed after the read deadline.
    for stream in &mut idle[..BOUND] {
        let line = answer_line(stream).await;
        assert!(line.contains("did not arrive within"), "idle: {line:?}");
    }
    drop(idle);

    // A request longer than the limit is refused without reading it all.
    let mut long = connect(&socket).await;
    let (mut read, mut write) = long.split();
    let sending = async {
        let _ = write.write_all(&vec![b'x'; 200 * 1024]).await;
    };
    let reading = async {
        use tokio::io::AsyncBufReadExt;
        let mut line = String::new();
        let _ = tokio::io::BufReader::new(&mut read)
            .read_line(&mut line)
            .await;
        line
    };
    let ((), line) = tokio::time::timeout(crate::support::DEADLINE, async {
        tokio::join!(sending, reading)
    })
    .await
    .expect("an answer to the long request");
    assert!(line.contains("too long"), "{line:?}");

    let (sent, outcome) = report(&config, &state_dir, "My disk is full, I cannot save");
    assert!(sent, "{outcome:#}\nagent log:\n{}", agent.log_text());
    assert_eq!(outcome["queued"], true);
}

/// `report` run in a loop once filed 200 tickets in 7 seconds. Now each local user may send a
/// few reports per window; the next is refused in plain words, saying the desk has them and
/// when another can be sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_keeps_reporting_is_told_the_desk_already_has_their_reports() {
    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The documented default: five reports per ten minutes.
    let (agent, config, state_dir) = reporting_agent(&collector, dir.path(), &[]).await;
    for attempt in 1..=5 {
        let (sent, outcome) = report(&config, &state_dir, "My disk is full");
        assert!(sent, "report {attempt}: {outcome:#}\n{}", agent.log_text());
        assert_eq!(outcome["queued"], true, "report {attempt}");
    }
    let (sent, outcome) = report(&config, &state_dir, "My disk is full");
    assert!(!sent, "the sixth report within ten minutes: {outcome:#}");
    assert_eq!(outcome["queued"], false);
    let note = outcome["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("already sent 5 reports in the last 10 minutes")
            && note.contains("support desk has them")
            && note.contains("send another in 10 minutes"),
        "{note}"
    );
    let retry = outcome["retry_after_secs"]
        .as_u64()
        .expect("retry_after_secs");
    assert!((1..=600).contains(&retry), "{retry}");
    assert!(outcome["results"].is_null(), "nothing was run: {outcome:#}");
}

/// `report "http://HOST:PORT/"` once made the agent probe any host and port a local user
/// named (with the agent's privileges). Now a report tests only the web ports and the ports
/// the config itself reaches; anything else is not probed and the answer says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_cannot_make_the_agent_probe_a_port_the_config_does_not_allow() {
    // An internal service nobody configured, and a printer the config names.
    let internal = std::net::TcpListener::bind((LOCAL, 0)).expect("bind");
    internal.set_nonblocking(true).expect("nonblocking");
    let internal_port = internal.local_addr().expect("address").port();
    let printer = std::net::TcpListener::bind((LOCAL, 0)).expect("bind");
    let printer_port = printer.local_addr().expect("address").port();

    let collector = TestCollector::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (agent, config, state_dir) = reporting_agent(
        &collector,
        dir.path(),
        &[(
            "playbooks",
            &format!("timeout = \"1s\"\nprinters = [\"127.0.0.1:{printer_port}\"]"),
        )],
    )
    .await;

    let (sent, outcome) = report(
        &config,
        &state_dir,
        &format!("I can't open http://127.0.0.1:{internal_port}/admin"),
    );
    assert!(sent, "{outcome:#}\n{}", agent.log_text());
    let web = &outcome["results"][0];
    assert_eq!(web["playbook"], "web", "{outcome:#}");
    let conclusion = web["conclusion"].as_str().unwrap_or_default();
    assert!(
        conclusion.contains("was not tested")
            && conclusion.contains(&internal_port.to_string())
            && conclusion.contains("support desk"),
        "{conclusion}"
    );
    assert_eq!(web["steps"].as_array().map(Vec::len), Some(1), "{web:#}");
    // The report has been answered: a probe would be waiting in the service's backlog.
    let accepted = internal.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the agent probed the internal service: {accepted:?}"
    );

    // A port the config reaches itself (the printer's) may be tested from a report.
    let (sent, outcome) = report(
        &config,
        &state_dir,
        &format!("I can't open http://127.0.0.1:{printer_port}/"),
    );
    assert!(sent, "{outcome:#}");
    printer.set_nonblocking(true).expect("nonblocking");
    assert!(
        printer.accept().is_ok(),
        "the configured port was not tested: {outcome:#}"
    );
}

/// A collector (or whoever holds its keys) once sent 50,000 reproduce requests and the agent
/// grew to ~526 MB: each became a task waiting its turn. Now a few run or wait and the rest
/// are answered "busy" at once, and the collector records that on each request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_reproduce_requests_is_answered_busy_at_once() {
    const REQUESTS: usize = 50;
    const PENDING: usize = 8;
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("agent");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    // Each "slow computer" run samples for a second: the old agent took 25 s for fifty.
    // Written straight into the collector's database: a hostile collector does not keep to
    // the API's limit of five waiting requests per device, and the agent must not rely on it.
    let database = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(
                    collector
                        .settings
                        .data_dir
                        .join(firstline_collector::store::DATABASE_FILE),
                )
                .busy_timeout(std::time::Duration::from_secs(10)),
        )
        .await
        .expect("the collector's database");
    let now = firstline_collector::model::now_ms();
    let mut ids = Vec::new();
    for index in 0..REQUESTS {
        let id = format!("flood-{index:03}");
        sqlx::query(
            "INSERT INTO reproduce_requests (id, ticket_id, device_id, playbook, target, state, \
             requested_by, created_at_ms, expires_at_ms) VALUES ($1, NULL, $2, 'slow', NULL, \
             'queued', 'e2e', $3, $4)",
        )
        .bind(&id)
        .bind(identity.device_id())
        .bind(now)
        .bind(now + 600_000)
        .execute(&database)
        .await
        .expect("queue a reproduce request");
        ids.push(id);
    }
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[("playbooks", "slow_window = \"1s\"")]),
    );
    let mut agent = crate::support::TestAgent::start_full(identity, &config);
    agent.wait_connected().await;

    let states = || async {
        let mut states = Vec::new();
        for id in &ids {
            let request = store
                .reproduce_request(id)
                .await
                .expect("read the request")
                .expect("the request exists");
            states.push((request.state, request.error.unwrap_or_default()));
        }
        states
    };
    let busy = wait_for("the requests beyond the queue answered busy", || async {
        let busy = states()
            .await
            .into_iter()
            .filter(|(state, error)| state == "failed" && error.contains("busy"))
            .count();
        (busy == REQUESTS - PENDING).then_some(busy)
    })
    .await;
    assert_eq!(busy, REQUESTS - PENDING);
    // The ones admitted still run and answer.
    wait_for("the admitted requests done", || async {
        let done = states()
            .await
            .into_iter()
            .filter(|(state, _)| state == "done")
            .count();
        (done == PENDING).then_some(())
    })
    .await;
}
