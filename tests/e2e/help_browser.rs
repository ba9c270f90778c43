//! The person with the problem, end to end in real Chromium (issue 19): a real agent process
//! gives them a link to their help page (as `Get IT help` does), they report in Greek, read
//! the diagnosis and what to do in Greek with their request number; a technician's public
//! reply shows on the page and as a desktop notification captured from a session bus; the
//! technician resolves, they answer "No, still broken" (reopened with their words), then
//! "Yes" (closed, rated). Screenshots of the page in all four languages at phone and desktop
//! width, and of the staff's ticket, go to target/screenshots/.

use std::net::Ipv4Addr;

use firstline_collector::model::Role;
use serde_json::Value;

use crate::browser::Browser;
use crate::servers::DnsServer;
use crate::support::{
    AgentProcess, DEADLINE, SimulatedDevice, TestCollector, add_user, agent_config, http_json,
    wait_for, write_config,
};

/// `e2e-agent help --no-open` as the user runs it from the menu, in `locale`: the link.
async fn help_link(config: &std::path::Path, state_dir: &std::path::Path, locale: &str) -> String {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2e-agent"));
    command
        .args(["help", "--no-open", "--config"])
        .arg(config)
        .arg("--state-dir")
        .arg(state_dir);
    for name in ["LANGUAGE", "LC_ALL", "LC_MESSAGES"] {
        command.env_remove(name);
    }
    command.env("LANG", locale);
    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .expect("help answers in time")
        .expect("run e2e-agent help");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "help failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .split_whitespace()
        .find(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(|url| url.trim_end_matches(['.', ',', ')']).to_owned())
        .unwrap_or_else(|| panic!("no link in: {stdout}"))
}

async fn ticket(http: std::net::SocketAddr, key: &str, id: i64) -> Value {
    let (status, ticket) = http_json(
        http,
        "GET",
        &format!("/api/v1/tickets/{id}"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{ticket}");
    ticket
}

async fn act(http: std::net::SocketAddr, key: &str, id: i64, body: Value) {
    let (status, answer) = http_json(
        http,
        "POST",
        &format!("/api/v1/tickets/{id}/actions"),
        Some(key),
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{body}: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greek_user_reports_reads_the_answer_hears_the_reply_and_says_whether_it_is_fixed() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(bus) = crate::notify::SessionBus::start().await else {
        return;
    };
    let collector = TestCollector::start().await;
    let running = collector.running();
    let http = running.http_address;
    let base = format!("http://{http}");
    let store = running.store.clone();
    let key = firstline_collector::http::create_api_key(&store, "tina", Role::Technician)
        .await
        .expect("api key");
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let dir = tempfile::tempdir().expect("temp dir");

    // The intranet's name does not exist in the office's DNS.
    let dns = DnsServer::start_names(&[("ok.intranet.test", Ipv4Addr::LOCALHOST)]).await;
    let state_dir = dir.path().join("agent");
    let identity =
        SimulatedDevice::enroll(&collector.url(), collector.token().await, &state_dir).await;
    let device = identity.device_id().to_owned();
    let config = dir.path().join("agent.toml");
    write_config(
        &config,
        &agent_config(&[
            ("checks.dns", &format!("servers = [\"{}\"]", dns.address)),
            ("playbooks", "timeout = \"2s\"\nreports_per_user = 20"),
        ]),
    );
    let agent = AgentProcess::start_with_env(&[], &config, &state_dir, &bus.agent_env());
    agent.wait_log(&["listening for user reports"], 1).await;
    wait_for("the agent's stream", || async {
        running.sessions.is_connected(&device).then_some(())
    })
    .await;

    // "Get IT help", on a computer set to Greek.
    let link = help_link(&config, &state_dir, "el_GR.UTF-8").await;
    assert!(link.starts_with(&format!("{base}/help/link/")), "{link}");
    browser.resize(1280, 1000).await;
    browser.goto(&link).await;
    let heading = browser.text("h1").await;
    assert!(heading.contains("Βοήθεια"), "the page is Greek: {heading}");

    // They describe the problem in their own words, in Greek.
    browser
        .type_into(
            "#words",
            "Δεν ανοίγει το https://gone.intranet.test/ στον υπολογιστή μου",
        )
        .await;
    browser.click("#send").await;
    let number = browser.text("#ticket-number").await;
    let diagnosis = browser.text("#diagnosis").await;
    let advice = browser.text("#advice").await;
    assert!(number.contains('#'), "the request number: {number}");
    for (what, text) in [
        ("diagnosis", &diagnosis),
        ("advice", &advice),
        ("number", &number),
    ] {
        assert!(
            text.chars().any(|c| ('\u{0370}'..='\u{03FF}').contains(&c)),
            "the {what} is in Greek: {text}"
        );
    }
    assert!(
        diagnosis.contains("gone.intranet.test"),
        "names what failed: {diagnosis}"
    );
    for jargon in ["NXDOMAIN", "nxdomain", "PID"] {
        assert!(!diagnosis.contains(jargon), "no jargon: {diagnosis}");
    }
    browser.screenshot("help-report-el-desktop").await;
    let id: i64 = number
        .split('#')
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("a number in {number}"));
    let opened = ticket(http, &key, id).await;
    assert_eq!(
        opened["requester"], "root",
        "the account the kernel named: {opened}"
    );

    // The technician answers in public: the page shows it, the desktop shows it.
    let reply = "Καλησπέρα! Ελέγχουμε τον DNS του γραφείου, θα σας ενημερώσω.";
    act(
        http,
        &key,
        id,
        serde_json::json!({"action": "reply", "text": reply}),
    )
    .await;
    let shown = bus
        .wait_for_notification(|n| n.body.contains("Ελέγχουμε τον DNS"))
        .await;
    assert!(shown.summary.contains(&format!("#{id}")), "{shown:?}");
    assert!(
        shown.summary.contains("τμήμα IT"),
        "the notification is Greek: {shown:?}"
    );
    browser.goto(&format!("{base}/help")).await;
    let request = browser.text(&format!("#ticket-{id}")).await;
    assert!(
        request.contains("Ελέγχουμε τον DNS"),
        "the reply is on the page: {request}"
    );

    // The technician resolves; the person says it is still broken, in their words.
    act(http, &key, id, serde_json::json!({"action": "resolve", "solution": "Added the intranet's name to the office DNS"})).await;
    let asked = bus
        .wait_for_notification(|n| {
            n.summary.contains(&format!("#{id}")) && n.body.contains("Βοήθεια IT")
        })
        .await;
    assert!(
        asked.summary.contains("λύθηκε"),
        "asks whether it is fixed: {asked:?}"
    );
    browser.goto(&format!("{base}/help")).await;
    browser
        .type_into(&format!("#words-{id}"), "Ακόμα δεν ανοίγει, βγάζει λάθος")
        .await;
    browser.screenshot("help-is-it-fixed-el-desktop").await;
    browser.click(&format!("#answer-{id} button.no")).await;
    browser.text("#answered").await;
    let reopened = ticket(http, &key, id).await;
    assert_eq!(reopened["state"], "new", "reopened: {reopened}");
    let timeline = reopened["timeline"].to_string();
    assert!(
        timeline.contains("Ακόμα δεν ανοίγει"),
        "with their words: {timeline}"
    );

    // Fixed for real this time: "Yes", with a rating.
    act(
        http,
        &key,
        id,
        serde_json::json!({"action": "resolve", "solution": "Flushed the DNS cache"}),
    )
    .await;
    browser.goto(&format!("{base}/help")).await;
    browser
        .click(&format!("#answer-{id} input[name=rating][value=\"5\"]"))
        .await;
    browser.click(&format!("#answer-{id} button.yes")).await;
    browser.text("#answered").await;
    let closed = ticket(http, &key, id).await;
    assert_eq!(closed["state"], "closed", "closed by their yes: {closed}");
    let (status, stats) = http_json(http, "GET", "/api/v1/stats?days=1", Some(&key), None).await;
    assert!(status == 200 || status == 403, "{stats}");

    // Screenshots: the page in every language, at phone and desktop width.
    for (lang, _) in [("en", ()), ("zh", ()), ("pl", ()), ("el", ())] {
        browser.goto(&format!("{base}/help?lang={lang}")).await;
        let html = browser.source().await;
        assert!(html.contains(&format!("lang=\"{lang}\"")), "{lang}");
        for (width, height, form) in [(1280, 1000, "desktop"), (390, 844, "phone")] {
            browser.resize(width, height).await;
            browser.screenshot(&format!("help-{lang}-{form}")).await;
        }
    }

    // The staff's view of the ticket: requester and public reply.
    browser.resize(1280, 1000).await;
    browser.goto(&format!("{base}/login")).await;
    browser.type_into("input[name=name]", "tina").await;
    browser
        .type_into("input[name=password]", "tina-password-1")
        .await;
    browser.click("button[type=submit]").await;
    browser.text("#queue").await;
    browser.goto(&format!("{base}/tickets/{id}")).await;
    let requester = browser.text("#requester").await;
    assert!(requester.contains("root"), "{requester}");
    let timeline = browser.text("#timeline").await;
    assert!(
        timeline.contains("Reply") && timeline.contains("Ελέγχουμε τον DNS"),
        "{timeline}"
    );
    // A closed ticket offers only a note: nothing to assign, resolve or reply to.
    let html = browser.source().await;
    for gone in [
        "value=\"assign\"",
        "value=\"resolve\"",
        "value=\"reply\"",
        "value=\"reopen\"",
    ] {
        assert!(!html.contains(gone), "a closed ticket offers {gone}");
    }
    assert!(
        html.contains("value=\"comment\""),
        "a note can still be added"
    );
    // Tall enough to show the timeline with the reply and the requester's answers.
    browser.resize(1280, 2600).await;
    let shot = browser.screenshot("ticket-with-requester-and-reply").await;
    eprintln!(
        "screenshots in {}",
        shot.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    drop(agent);
}
