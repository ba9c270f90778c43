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
fn report(config: &std::path::Path, state_dir: &std::path::Path, text: &str) -> (bool, Value) {
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
    closed.down();
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
            ("playbooks", "timeout = \"2s\""),
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
            tickets.as_array().and_then(|tickets| {
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
    closed.down();
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
        tickets
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
