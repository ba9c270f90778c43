//! The closed loop of issue 20, with real processes: a small disk fills with old temporary
//! files until the agent's disk check fires, the collector's automatic cleanup runs on the
//! agent, the check clears, and the ticket resolves as fixed and verified with the bytes freed
//! on its timeline. Then with the policy `approve`: nothing runs until a technician applies it.

use std::time::Duration;

use firstline_collector::model::Role;
use serde_json::{Value, json};

use crate::fixes::{LoopDisk, used_pct, write_aged};
use crate::support::{
    AgentProcess, TestCollector, add_user, agent_config, enroll_with, http_json, skip, wait_for,
    write_config,
};

/// `GET path` with an API key: the JSON answer.
async fn get(http: std::net::SocketAddr, key: &str, path: &str) -> Value {
    http_json(http, "GET", path, Some(key), None).await.1
}

/// Fills `folder`'s disk with month-old files until it is 93% full.
fn fill_with_old_files(folder: &std::path::Path, mount: &std::path::Path, prefix: &str) -> u64 {
    let mut written = 0;
    while used_pct(mount) < 93.0 {
        write_aged(
            &folder.join(format!("{prefix}-{written}.tmp")),
            256 * 1024,
            30,
        );
        written += 1;
    }
    written * 256 * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_cleaned_automatically_and_resolves_as_fixed_and_then_waits_for_a_technician()
 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mount = dir.path().join("disk");
    let Some(_disk) = LoopDisk::mount(&dir.path().join("disk.img"), &mount, 12 * 1024 * 1024)
    else {
        skip("mounting a loop device needs root and mkfs.ext4");
        return;
    };
    let scratch = mount.join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    write_aged(&scratch.join("today.tmp"), 64 * 1024, 0);
    let old_bytes = fill_with_old_files(&scratch, &mount, "render");

    let collector = TestCollector::start_with(|settings| {
        // A device ticket without waiting a minute for an incident to form.
        settings.tickets.correlation.hold = Duration::from_secs(1);
    })
    .await;
    let store = collector.running().store.clone();
    let http = collector.running().http_address;
    let technician = firstline_collector::http::create_api_key(&store, "tech", Role::Technician)
        .await
        .expect("api key");
    let admin = firstline_collector::http::create_api_key(&store, "admin", Role::Admin)
        .await
        .expect("api key");
    let state_dir = dir.path().join("agent");
    let identity = enroll_with(&collector, &collector.token().await, &state_dir)
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[
            (
                "checks.disk",
                "enabled = true\ninterval = \"1s\"\nused_pct = { raise = 90.0, clear = 85.0, critical = 99.0, for = \"1s\", clear_for = \"1s\" }",
            ),
            (
                "fixes",
                &format!(
                    "enabled = true\nextra_temp_dirs = [{:?}]",
                    scratch.display().to_string()
                ),
            ),
        ]),
    );
    let _agent = AgentProcess::start(&[], &config, &state_dir);

    let mount_text = mount.display().to_string();
    let ticket_of_the_disk = || async {
        let tickets = get(
            http,
            &technician,
            &format!("/api/v1/tickets?device={device}"),
        )
        .await;
        tickets["tickets"].as_array().and_then(|tickets| {
            tickets
                .iter()
                .find(|t| t["check"] == "disk.used_pct" && t["resource"] == mount_text.as_str())
                .cloned()
        })
    };
    let ticket = wait_for("a ticket for the full disk", || async {
        ticket_of_the_disk().await
    })
    .await;
    let id = ticket["id"].as_i64().expect("id");

    // disk.cleanup is auto by default: it runs, the check clears, the ticket resolves.
    let resolved = wait_for("the ticket resolved by the cleanup", || async {
        let detail = get(http, &technician, &format!("/api/v1/tickets/{id}")).await;
        (detail["state"] == "resolved"
            && detail["resolution"] == "Fixed automatically, verified: disk.cleanup")
            .then_some(detail)
    })
    .await;
    let texts: Vec<&str> = resolved["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|entry| entry["text"].as_str())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Fix disk.cleanup started automatically")),
        "{texts:#?}"
    );
    let answer = texts
        .iter()
        .find(|t| {
            t.starts_with(&format!(
                "Fix disk.cleanup on {device}: fixed, verified; freed "
            ))
        })
        .unwrap_or_else(|| panic!("the answer on the timeline: {texts:#?}"));
    assert!(answer.contains("% full"), "before and after: {answer}");
    let fixes = get(http, &technician, &format!("/api/v1/tickets/{id}/fixes")).await;
    let run = &fixes["runs"][0];
    assert_eq!(run["state"], "verified", "{fixes:#}");
    assert_eq!(run["allowed_by"], "policy:auto");
    let freed: u64 = run["report"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|change| change["bytes_freed"].as_u64())
        .sum();
    assert!(
        freed >= old_bytes,
        "freed {freed} of {old_bytes} bytes: {run:#}"
    );
    assert!(scratch.join("today.tmp").exists(), "today's file stays");
    assert!(used_pct(&mount) < 30.0, "{:.0}% full", used_pct(&mount));
    eprintln!("automatic: ticket {id} resolved as fixed and verified, {freed} bytes freed");

    // Now a technician decides: with the policy approve, a full disk waits for them.
    let (status, body) = http_json(
        http,
        "PUT",
        "/api/v1/fixes/policy",
        Some(&admin),
        Some(&json!({"fix": "disk.cleanup", "mode": "approve"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_json(
        http,
        "PUT",
        "/api/v1/fixes/policy",
        Some(&technician),
        Some(&json!({"fix": "disk.cleanup", "mode": "auto"})),
    )
    .await;
    assert_eq!(status, 403, "only an admin sets a policy");
    // The agent saw the disk clear (a cleared condition is what fires again).
    collector
        .wait_for_finding(&device, "disk.used_pct", &mount_text, |stored| {
            stored.finding.severity == firstline_collector::model::Severity::Ok
        })
        .await;
    fill_with_old_files(&scratch, &mount, "again");
    let reopened = wait_for("the ticket open again for the full disk", || async {
        ticket_of_the_disk()
            .await
            .filter(|t| t["state"] != "resolved" && t["state"] != "closed")
    })
    .await;
    let id = reopened["id"].as_i64().expect("id");
    // Three passes of the fixes' planner: nothing is sent, the disk stays full.
    tokio::time::sleep(Duration::from_secs(16)).await;
    let fixes = get(http, &technician, &format!("/api/v1/tickets/{id}/fixes")).await;
    let runs_before = fixes["runs"].as_array().map_or(0, Vec::len);
    assert!(
        fixes["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .all(|run| run["state"] == "verified"),
        "no new run: {fixes:#}"
    );
    assert!(
        used_pct(&mount) > 90.0,
        "nothing ran: {:.0}% full",
        used_pct(&mount)
    );
    let offer = &fixes["offers"][0];
    assert_eq!(offer["fix"], "disk.cleanup");
    assert_eq!(offer["mode"], "approve");
    assert_eq!(
        (offer["worked"].as_i64(), offer["tried"].as_i64()),
        (Some(1), Some(1))
    );

    // Refused with nothing sent: a fix of another fault, a device not on the ticket.
    for (body, expected) in [
        (json!({"fix": "dns.flush"}), "does not answer ticket"),
        (
            json!({"fix": "disk.cleanup", "device": "not-a-device"}),
            "is not one of ticket",
        ),
        (
            json!({"fix": "disk.cleanup", "parameters": {"mount": "/etc"}}),
            "takes only older_than_days, journal_max_mb",
        ),
    ] {
        let (status, answer) = http_json(
            http,
            "POST",
            &format!("/api/v1/tickets/{id}/fixes"),
            Some(&technician),
            Some(&body),
        )
        .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{body}: {answer}"
        );
    }

    // The technician presses "Apply disk.cleanup" on the ticket page, in a real browser
    // (outside CI without Chromium, over REST instead, said aloud).
    let applied_by = match crate::browser::Browser::start().await {
        Some(browser) => {
            add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
            browser.goto(&format!("http://{http}/")).await;
            browser.type_into("input[name=name]", "tina").await;
            browser
                .type_into("input[name=password]", "tina-password-1")
                .await;
            browser.click("button[type=submit]").await;
            // Signed in (the queue shows) before going on: a navigation that overtakes the
            // sign-in's answer would find the ticket page signed out.
            browser.find("#queue").await;
            browser.goto(&format!("http://{http}/tickets/{id}")).await;
            let offers = browser.text("#fix-offers").await;
            assert!(
                offers.contains("Apply disk.cleanup (worked 1 of 1 times)"),
                "{offers}"
            );
            browser.click("#apply-disk-cleanup").await;
            browser.screenshot("ticket-fix-applied").await;
            "technician:tina"
        }
        None => {
            skip("the browser step: Chromium is missing; applying the fix over REST instead");
            let (status, started) = http_json(
                http,
                "POST",
                &format!("/api/v1/tickets/{id}/fixes"),
                Some(&technician),
                Some(&json!({"fix": "disk.cleanup", "parameters": {"older_than_days": "14"}})),
            )
            .await;
            assert_eq!(status, 202, "{started}");
            "technician:tech"
        }
    };
    let resolved = wait_for("the ticket resolved by the technician's fix", || async {
        let detail = get(http, &technician, &format!("/api/v1/tickets/{id}")).await;
        (detail["state"] == "resolved").then_some(detail)
    })
    .await;
    assert_eq!(
        resolved["resolution"], "Fixed with disk.cleanup, verified",
        "{resolved:#}"
    );
    let fixes = get(http, &technician, &format!("/api/v1/tickets/{id}/fixes")).await;
    let runs: &Vec<Value> = fixes["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), runs_before + 1, "{fixes:#}");
    let last = runs.last().expect("a run");
    assert_eq!(last["allowed_by"], applied_by);
    assert_eq!(last["state"], "verified");
    assert!(used_pct(&mount) < 30.0, "{:.0}% full", used_pct(&mount));

    let stats = get(http, &technician, "/api/v1/fixes").await;
    assert_eq!(stats["stats"]["runs"]["verified"], 2, "{stats:#}");
    assert_eq!(stats["fixes"][0]["mode"], "approve");
    assert_eq!(stats["fixes"][0]["source"], "admin_api");
}

/// The issue's print acceptance through the whole loop: a user reports "the printer does not
/// print" with the real agent command; its printing playbook finds jobs stuck in the machine's
/// real CUPS queue; the report's ticket offers `print.restart` (policy approve) and nothing
/// runs until a technician applies it; the agent cancels the stuck jobs, restarts CUPS and
/// verifies, and the ticket resolves as fixed.
// The machine's CUPS lock is held across awaits on purpose (see inside).
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_print_jobs_a_user_reports_are_cleared_by_the_fix_a_technician_applies() {
    // Held across awaits on purpose: it serialises tests that drive the machine's CUPS, and
    // this runtime has worker threads of its own, so nothing here waits on its holder.
    let _machine = crate::fixes::CUPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(queue) = crate::fixes::stuck_queue(15 * 60) else {
        return;
    };
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let http = collector.running().http_address;
    let technician = firstline_collector::http::create_api_key(&store, "tech", Role::Technician)
        .await
        .expect("api key");
    let dir = tempfile::tempdir().expect("temp dir");
    let state_dir = dir.path().join("agent");
    let identity = enroll_with(&collector, &collector.token().await, &state_dir)
        .await
        .expect("enrolls");
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(&config, &agent_config(&[("fixes", "enabled = true")]));
    let agent = AgentProcess::start(&[], &config, &state_dir);
    agent.wait_log(&["connected to collector"], 1).await;

    let (config_path, state_path) = (config.clone(), state_dir.clone());
    let (sent, answer) = tokio::task::spawn_blocking(move || {
        crate::report::report(&config_path, &state_path, "the printer does not print")
    })
    .await
    .expect("report");
    assert!(sent, "{answer:#}");
    let ticket = wait_for("the report's ticket", || async {
        let tickets = get(
            http,
            &technician,
            &format!("/api/v1/tickets?device={device}&kind=report"),
        )
        .await;
        tickets["tickets"]
            .as_array()
            .and_then(|t| t.first().cloned())
    })
    .await;
    let id = ticket["id"].as_i64().expect("id");
    // What the user was told: their queue is stuck (the printing playbook's new step).
    let printing = &answer["results"][0];
    assert_eq!(printing["playbook"], "printing", "{answer:#}");
    assert_eq!(printing["failed_layer"], "queue", "{answer:#}");
    assert_eq!(printing["said"]["id"], "said-print-stuck", "{answer:#}");

    let fixes = get(http, &technician, &format!("/api/v1/tickets/{id}/fixes")).await;
    assert_eq!(fixes["offers"][0]["fix"], "print.restart", "{fixes:#}");
    assert_eq!(fixes["offers"][0]["mode"], "approve");
    // Two passes of the planner: an approve fix waits for a person.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let fixes = get(http, &technician, &format!("/api/v1/tickets/{id}/fixes")).await;
    assert_eq!(
        fixes["runs"],
        json!([]),
        "nothing ran before a technician applied it"
    );
    assert!(
        !crate::fixes::stuck_queue_is_empty(),
        "the jobs are still stuck"
    );

    let (status, started) = http_json(
        http,
        "POST",
        &format!("/api/v1/tickets/{id}/fixes"),
        Some(&technician),
        Some(&json!({"fix": "print.restart"})),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let resolved = wait_for("the report's ticket resolved by print.restart", || async {
        let detail = get(http, &technician, &format!("/api/v1/tickets/{id}")).await;
        (detail["state"] == "resolved").then_some(detail)
    })
    .await;
    assert_eq!(
        resolved["resolution"], "Fixed with print.restart, verified",
        "{resolved:#}"
    );
    let fixes = get(http, &technician, &format!("/api/v1/tickets/{id}/fixes")).await;
    let run = &fixes["runs"][0];
    assert_eq!(run["state"], "verified", "{run:#}");
    assert_eq!(run["parameters"]["stuck_minutes"], "10");
    let changes = run["report"]["changes"].to_string();
    assert!(changes.contains("cancelled 3 of 3 print jobs"), "{changes}");
    for job in &queue.job_ids {
        assert!(changes.contains(job.as_str()), "{job}: {changes}");
    }
    assert!(changes.contains("restarted the print service"), "{changes}");
    assert!(
        crate::fixes::stuck_queue_is_empty(),
        "jobs left in the queue"
    );
}

/// A fleet incident of 10 simulated devices (real enrollment, real mTLS streams): its
/// automatic fix is sent to 2 canaries only; one verifies, the other does not, and no other
/// device is ever asked; the incident escalates once saying what was tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_incident_tries_its_fix_on_two_canaries_and_a_failing_canary_stops_the_rest() {
    use firstline_proto::v1 as pb;
    let collector = TestCollector::start().await;
    let store = collector.running().store.clone();
    let url = collector.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut devices = Vec::new();
    for n in 0..10 {
        let identity = crate::support::SimulatedDevice::enroll(
            &url,
            collector.token().await,
            &dir.path().join(format!("d{n}")),
        )
        .await;
        devices.push(
            crate::support::SimulatedDevice::connect(&url, identity, "warsaw", "192.0.2.53").await,
        );
    }
    for device in &mut devices {
        device
            .report("dns.resolve", "intranet.example.com", pb::Severity::Warning)
            .await;
    }

    // dns.flush is auto: within a pass of the planner, exactly two devices are asked.
    let mut canaries: Vec<(usize, pb::FixRequest)> = Vec::new();
    let started = std::time::Instant::now();
    while canaries.len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "two canaries asked within 30 s; got {canaries:?}"
        );
        for (n, device) in devices.iter_mut().enumerate() {
            if let Some(Ok(pb::collector_message::Body::Fix(request))) =
                device.stream.next_within(Duration::from_millis(50)).await
            {
                canaries.push((n, request));
            }
        }
    }
    assert_eq!(canaries.len(), 2, "{canaries:?}");
    for (_, request) in &canaries {
        assert_eq!(request.fix, "dns.flush");
        assert_eq!(request.allowed_by, "policy:auto");
        assert_eq!(
            request.parameters.get("name").map(String::as_str),
            Some("intranet.example.com")
        );
    }
    for ((n, request), outcome) in canaries.iter().zip(["verified", "not_verified"]) {
        devices[*n]
            .stream
            .send(pb::agent_message::Body::FixResult(pb::FixResult {
                request_id: request.request_id.clone(),
                fix: request.fix.clone(),
                outcome: outcome.to_owned(),
                report_json: format!(
                    r#"{{"fix":"dns.flush","outcome":"{outcome}","changes":[{{"target":"systemd-resolved","action":"flushed its cache"}}],"verification":{{"passed":{},"detail":"looked again"}}}}"#,
                    outcome == "verified"
                ),
                error: String::new(),
            }))
            .await;
    }

    // Three passes of the planner later, nobody else was asked.
    let quiet_until = std::time::Instant::now() + Duration::from_secs(16);
    while std::time::Instant::now() < quiet_until {
        for (n, device) in devices.iter_mut().enumerate() {
            if let Some(Ok(pb::collector_message::Body::Fix(request))) =
                device.stream.next_within(Duration::from_millis(50)).await
            {
                panic!("device {n} was asked after a canary failed: {request:?}");
            }
        }
    }
    let incident = store
        .tickets(&firstline_collector::store::TicketFilter {
            state: Some("open".to_owned()),
            ..Default::default()
        })
        .await
        .expect("tickets")
        .into_iter()
        .find(|t| t.kind == firstline_collector::tickets::TicketKind::Incident)
        .expect("the incident");
    assert_eq!(incident.device_count, 10);
    let detail = store
        .ticket_detail(incident.id)
        .await
        .expect("store")
        .expect("ticket");
    assert_eq!(detail.ticket.tier, 2, "escalated once");
    let escalations: Vec<&str> = detail
        .timeline
        .iter()
        .filter(|e| e.kind == "escalation")
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert!(
        escalations[0].contains("tried dns.flush: did not help (the canary device"),
        "{escalations:?}"
    );
    let fixes = store.ticket_fixes(incident.id).await.expect("fixes");
    assert_eq!(
        fixes.runs.len(),
        2,
        "only the canaries ran: {:?}",
        fixes.runs
    );
    assert_eq!(fixes.rollouts[0].state, "stopped");
}
