//! The help page (issue 19) as an attacker and a second user would try it: links asked for
//! over a device's real mTLS stream, opened over real HTTP, reused, expired, forged Hosts,
//! cross-site posts, and one device's user reaching for another's reports.

use firstline_proto::v1 as pb;

use crate::support::{SimulatedDevice, TestCollector, http_form};

/// Asks for a help link as `account` over `device`'s stream; returns its path.
async fn help_link(device: &mut SimulatedDevice, account: &str, locale: &str) -> String {
    device
        .stream
        .send(pb::agent_message::Body::HelpLinkRequest(
            pb::HelpLinkRequest {
                request_id: format!("ask-{account}"),
                account: account.to_owned(),
                uid: 1000,
                locale: locale.to_owned(),
            },
        ))
        .await;
    loop {
        match device.stream.next().await {
            Ok(pb::collector_message::Body::HelpLink(link)) => {
                assert_eq!(link.request_id, format!("ask-{account}"));
                assert!(link.error.is_empty(), "refused: {}", link.error);
                let path = link
                    .url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|slash| rest[slash..].to_owned()))
                    .expect("a link with a path");
                assert!(path.starts_with("/help/link/"), "{}", link.url);
                return path;
            }
            Ok(_) => continue,
            Err(status) => panic!("stream ended: {status}"),
        }
    }
}

/// Opens `path` (a help link) and returns the session cookie it set.
async fn open_link(address: std::net::SocketAddr, path: &str) -> String {
    let (status, head, body) = http_form(address, "GET", path, &[], None).await;
    assert_eq!(status, 303, "{head}\n{body}");
    let cookie = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with("set-cookie: firstline_help=")
                .then(|| line["set-cookie: ".len()..].to_owned())
        })
        .expect("a help cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/help"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap_or_default().to_owned()
}

fn csrf_of(page: &str) -> String {
    let start = page
        .find("name=\"csrf_token\" value=\"")
        .expect("a form with a token")
        + "name=\"csrf_token\" value=\"".len();
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A report from `account` on this device, as the agent sends it.
async fn user_report(device: &mut SimulatedDevice, account: &str, report_id: &str, words: &str) {
    let sequence = device.take_sequence();
    let evidence = serde_json::json!({
        "text": words,
        "failed_layer": "dns",
        "conclusion": "The name intranet.example.com cannot be looked up",
        "reporter": {"uid": 1000, "account": account},
        "playbooks": [],
    });
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![pb::Finding {
                sequence,
                check: "user.report".to_owned(),
                resource: report_id.to_owned(),
                severity: pb::Severity::Warning as i32,
                summary: words.to_owned(),
                evidence_json: evidence.to_string(),
                observed_at_unix_ms: firstline_collector::model::now_ms(),
            }],
        }))
        .await;
    loop {
        match device.stream.next().await {
            Ok(pb::collector_message::Body::Ack(ack)) if ack.sequence >= sequence => {
                assert!(ack.refused.is_empty(), "{:?}", ack.refused);
                return;
            }
            Ok(_) => continue,
            Err(status) => panic!("stream ended: {status}"),
        }
    }
}

#[tokio::test]
async fn a_help_link_opens_once_and_its_session_sees_only_its_device_and_user() {
    let collector = TestCollector::start().await;
    let running = collector.running.as_ref().expect("running");
    let http = running.http_address;
    let url = collector.url();
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let identity_a = SimulatedDevice::enroll(&url, collector.token().await, dirs[0].path()).await;
    let identity_b = SimulatedDevice::enroll(&url, collector.token().await, dirs[1].path()).await;
    let mut device_a = SimulatedDevice::connect(&url, identity_a, "warsaw", "192.0.2.53").await;
    let mut device_b = SimulatedDevice::connect(&url, identity_b, "warsaw", "192.0.2.53").await;

    // Alice reports on device A; Bob on device B.
    user_report(&mut device_a, "alice", "r-alice", "intranet does not open").await;
    user_report(&mut device_b, "bob", "r-bob", "cannot print").await;

    // Alice's link, asked for in Greek, opens once.
    let link = help_link(&mut device_a, "alice", "el_GR.UTF-8").await;
    let alice = open_link(http, &link).await;
    let (status, _, body) = http_form(http, "GET", &link, &[], None).await;
    assert_eq!(status, 410, "a spent link is refused: {body}");
    assert!(body.contains("work once"), "{body}");
    let (status, _, page) = http_form(http, "GET", "/help", &[("Cookie", &alice)], None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("lang=\"el\""), "the OS locale chose Greek");
    assert!(
        page.contains("intranet does not open"),
        "her report is listed: {page}"
    );
    assert!(
        !page.contains("cannot print"),
        "Bob's report is not hers: {page}"
    );
    let alice_csrf = csrf_of(&page);
    assert!(
        page.contains("<li class=\"green\" data-area=\"storage\"")
            && page.contains("<li class=\"green\" data-area=\"network\""),
        "a healthy computer is green: {page}"
    );
    // A nearly full disk turns storage red, in her language, and nothing else.
    report(&mut device_a, "disk.free_low", "/", pb::Severity::Critical).await;
    let (_, _, page) = http_form(http, "GET", "/help", &[("Cookie", &alice)], None).await;
    assert!(
        page.contains("<li class=\"red\" data-area=\"storage\"")
            && page.contains("<li class=\"green\" data-area=\"network\""),
        "the full disk is red: {page}"
    );
    assert!(
        page.contains("Ένας δίσκος είναι σχεδόν γεμάτος"),
        "the reason in Greek: {page}"
    );

    // An expired link is refused like a spent one.
    let expired = running
        .store
        .create_help_link(
            device_a.identity.device_id(),
            "alice",
            Some(1000),
            None,
            firstline_collector::model::now_ms() - 6 * 60 * 1000,
        )
        .await
        .expect("store")
        .expect("a link");
    let (status, _, _) = http_form(http, "GET", &format!("/help/link/{expired}"), &[], None).await;
    assert_eq!(status, 410, "an expired link is refused");
    let (status, _, _) = http_form(http, "GET", "/help/link/not-a-token", &[], None).await;
    assert_eq!(status, 410);

    // Bob's session cannot read or answer Alice's ticket.
    let link = help_link(&mut device_b, "bob", "pl_PL.UTF-8").await;
    let bob = open_link(http, &link).await;
    let (_, _, page) = http_form(http, "GET", "/help", &[("Cookie", &bob)], None).await;
    assert!(
        page.contains("cannot print") && !page.contains("intranet does not open"),
        "{page}"
    );
    let bob_csrf = csrf_of(&page);
    let alice_ticket = running
        .store
        .requester_tickets(
            &running
                .store
                .help_session(
                    alice.trim_start_matches("firstline_help="),
                    firstline_collector::model::now_ms(),
                )
                .await
                .expect("store")
                .expect("alice's session"),
            10,
        )
        .await
        .expect("store")
        .first()
        .expect("alice's ticket")
        .id;
    let origin = format!("http://{http}");
    let (status, _, body) = http_form(
        http,
        "POST",
        &format!("/help/tickets/{alice_ticket}/answer"),
        &[("Cookie", &bob), ("Origin", &origin)],
        Some(&[
            ("csrf_token", &bob_csrf),
            ("fixed", "no"),
            ("words", "hijacked"),
        ]),
    )
    .await;
    assert_eq!(
        status, 404,
        "another user's ticket is not theirs to answer: {body}"
    );
    // Alice's report page id space is hers: Bob cannot read a report by guessing its id.
    let (status, _, _) = http_form(
        http,
        "GET",
        "/help/reports/r-alice",
        &[("Cookie", &bob)],
        None,
    )
    .await;
    assert_eq!(status, 404);

    // A forged Host (DNS rebinding) is refused, even with a valid cookie.
    let (status, _, _) = http_form(
        http,
        "GET",
        "/help",
        &[("Host", "attacker.example.com"), ("Cookie", &alice)],
        None,
    )
    .await;
    assert_eq!(status, 421, "a page for another host name is refused");

    // A cross-site post is refused, though it carries the cookie and even the token.
    let (status, _, _) = http_form(
        http,
        "POST",
        "/help/report",
        &[
            ("Cookie", &alice),
            ("Origin", "http://attacker.example.com"),
        ],
        Some(&[
            ("csrf_token", &alice_csrf),
            ("words", "sent by another site"),
        ]),
    )
    .await;
    assert_eq!(status, 403, "another site's form is refused");
    let (status, _, _) = http_form(
        http,
        "POST",
        "/help/report",
        &[("Cookie", &alice), ("Sec-Fetch-Site", "cross-site")],
        Some(&[
            ("csrf_token", &alice_csrf),
            ("words", "sent by another site"),
        ]),
    )
    .await;
    assert_eq!(status, 403, "a cross-site fetch is refused");
    let (status, _, _) = http_form(
        http,
        "POST",
        "/help/report",
        &[("Cookie", &alice), ("Origin", &origin)],
        Some(&[("csrf_token", "wrong"), ("words", "no token")]),
    )
    .await;
    assert_eq!(status, 403, "a post without the session's token is refused");
    // No cookie: the page says to open Get IT help again.
    let (status, _, _) = http_form(http, "GET", "/help", &[], None).await;
    assert_eq!(status, 401);

    // None of that queued anything on the device.
    let (status, head, _) = http_form(
        http,
        "POST",
        "/help/report",
        &[("Cookie", &alice), ("Origin", &origin)],
        Some(&[
            ("csrf_token", &alice_csrf),
            ("words", "Το ίντερνετ δεν δουλεύει"),
        ]),
    )
    .await;
    assert_eq!(
        status, 303,
        "her own post from her own page is taken: {head}"
    );
    let waiting = running
        .store
        .take_reproduce(
            device_a.identity.device_id(),
            true,
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("store");
    assert_eq!(
        waiting.len(),
        1,
        "exactly the one real report is queued: {waiting:?}"
    );
    let parameters = waiting[0].parameters.clone().expect("parameters");
    assert_eq!(parameters["account"], "alice");
    assert_eq!(parameters["words"], "Το ίντερνετ δεν δουλεύει");
    assert_eq!(parameters["lang"], "el");
}

/// Sends one finding on `device`'s stream and waits for its ack.
async fn report(device: &mut SimulatedDevice, check: &str, resource: &str, severity: pb::Severity) {
    let sequence = device.take_sequence();
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![pb::Finding {
                sequence,
                check: check.to_owned(),
                resource: resource.to_owned(),
                severity: severity as i32,
                summary: format!("{check} {resource}"),
                evidence_json: "{}".to_owned(),
                observed_at_unix_ms: firstline_collector::model::now_ms(),
            }],
        }))
        .await;
    loop {
        match device.stream.next().await {
            Ok(pb::collector_message::Body::Ack(ack)) if ack.sequence >= sequence => return,
            Ok(_) => continue,
            Err(status) => panic!("stream ended: {status}"),
        }
    }
}

/// When an outage forms over the office, each device's user hears of it once, in their
/// language, and hears again when it is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_hear_when_an_outage_starts_and_ends_on_their_device() {
    const DEVICES: usize = 6;
    let collector = TestCollector::start().await;
    let running = collector.running.as_ref().expect("running");
    let url = collector.url();
    let dir = tempfile::tempdir().expect("dir");
    running
        .store
        .upsert_people(
            &[firstline_collector::directory::Person {
                account: "user0".to_owned(),
                display_name: "Ελένη".to_owned(),
                email: None,
                language: Some("el".to_owned()),
            }],
            "test",
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("directory");
    let mut devices = Vec::new();
    for n in 0..DEVICES {
        let identity = SimulatedDevice::enroll(
            &url,
            collector.token().await,
            &dir.path().join(n.to_string()),
        )
        .await;
        let device = SimulatedDevice::connect(&url, identity, "warsaw", "192.0.2.53").await;
        device
            .stream
            .send(pb::agent_message::Body::Inventory(pb::Inventory {
                hostname: format!("pc-{n}"),
                site: "warsaw".to_owned(),
                dns_servers: vec!["192.0.2.53".to_owned()],
                users: vec![pb::DeviceUser {
                    account: format!("user{n}"),
                    line: "seat0".to_owned(),
                    kind: pb::SessionKind::Graphical as i32,
                    login_at_unix_ms: 1_700_000_000_000,
                    remote_host: String::new(),
                }],
                ..pb::Inventory::default()
            }))
            .await;
        devices.push(device);
    }
    // Inventories are stored as they arrive; give the last one a moment.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // user2 has no directory entry but opened the help page from a Polish desktop: their
    // notices speak Polish, as their replies do.
    let link = help_link(&mut devices[2], "user2", "pl_PL.UTF-8").await;
    open_link(running.http_address, &link).await;
    for device in &mut devices {
        report(
            device,
            "dns.resolve",
            "intranet.example.com",
            pb::Severity::Warning,
        )
        .await;
    }
    let now = firstline_collector::model::now_ms;
    let mut started = Vec::new();
    for device in &devices {
        let notices = running
            .store
            .take_user_notices(device.identity.device_id(), now())
            .await
            .expect("store");
        started.push(notices);
    }
    let incident_devices = started.iter().filter(|n| !n.is_empty()).count();
    assert!(
        incident_devices >= 5,
        "the incident's devices are told: {started:#?}"
    );
    for (n, notices) in started.iter().enumerate() {
        assert!(notices.len() <= 1, "once per device: {notices:#?}");
        if let Some(notice) = notices.first() {
            assert_eq!(
                notice.account,
                format!("user{n}"),
                "only that device's user"
            );
            assert_eq!(notice.kind, "outage_started");
            assert!(notice.body.contains("intranet.example.com"), "{notice:?}");
        }
    }
    let greek = started[0]
        .first()
        .expect("user0's device is in the incident");
    assert!(
        greek.title.contains("τμήμα IT") && greek.body.contains("δεν χρειάζεται να το αναφέρετε"),
        "in Greek: {greek:?}"
    );
    let english = started[1]
        .first()
        .expect("user1's device is in the incident");
    assert!(
        english.body.contains("you do not need to report it"),
        "no directory entry: English: {english:?}"
    );
    let polish = started[2]
        .first()
        .expect("user2's device is in the incident");
    assert!(
        polish.title.contains("Dział IT") && polish.body.contains("nie musisz tego zgłaszać"),
        "the language of their help page: Polish: {polish:?}"
    );
    for device in &mut devices {
        report(
            device,
            "dns.resolve",
            "intranet.example.com",
            pb::Severity::Ok,
        )
        .await;
    }
    let mut ended = 0;
    for device in &devices {
        let notices = running
            .store
            .take_user_notices(device.identity.device_id(), now())
            .await
            .expect("store");
        assert!(
            notices.iter().all(|n| n.kind == "outage_ended"),
            "{notices:#?}"
        );
        ended += notices.len();
    }
    assert_eq!(ended, incident_devices, "each told once that it is over");
}

/// Regression: another site (or a colleague's page) could navigate the user's browser to a
/// link it asked for itself, signing the user in as someone else, whose history their next
/// report would join. A link opened from another site is refused and stays unspent.
#[tokio::test]
async fn a_help_link_opened_from_another_site_is_refused_unspent() {
    let collector = TestCollector::start().await;
    let running = collector.running.as_ref().expect("running");
    let http = running.http_address;
    let url = collector.url();
    let dir = tempfile::tempdir().expect("dir");
    let identity = SimulatedDevice::enroll(&url, collector.token().await, dir.path()).await;
    let mut device = SimulatedDevice::connect(&url, identity, "warsaw", "192.0.2.53").await;
    let link = help_link(&mut device, "mallory", "en_US.UTF-8").await;
    for site in ["cross-site", "same-site"] {
        let (status, head, body) =
            http_form(http, "GET", &link, &[("Sec-Fetch-Site", site)], None).await;
        assert_eq!(status, 403, "{site}: {head}\n{body}");
        assert!(
            !head.to_ascii_lowercase().contains("set-cookie"),
            "{site}: no session: {head}"
        );
    }
    // Opened by the agent (the browser says `none`), the same link still works once.
    let (status, head, _) =
        http_form(http, "GET", &link, &[("Sec-Fetch-Site", "none")], None).await;
    assert_eq!(status, 303, "{head}");
}

/// Regression: an answer posted to a ticket that was not asking (still open, or answered
/// already) was counted as a "fixed" answer and a rating: one requester could post "yes, 5"
/// to their open ticket and fill the CSAT and the confirmed-fixed share.
#[tokio::test]
async fn only_an_answer_to_is_it_fixed_counts_in_the_stats() {
    let collector = TestCollector::start().await;
    let running = collector.running.as_ref().expect("running");
    let http = running.http_address;
    let (_device, alice, csrf, ticket) = signed_in_with_a_ticket(
        &collector,
        "alice",
        "warsaw",
        "intranet does not open",
        "en_US.UTF-8",
    )
    .await;
    let origin = format!("http://{http}");
    let answer = |rating: &'static str| {
        let alice = alice.clone();
        let csrf = csrf.clone();
        let origin = origin.clone();
        async move {
            http_form(
                http,
                "POST",
                &format!("/help/tickets/{ticket}/answer"),
                &[("Cookie", &alice), ("Origin", &origin)],
                Some(&[("csrf_token", &csrf), ("fixed", "yes"), ("rating", rating)]),
            )
            .await
            .0
        }
    };
    let people = || async {
        running
            .store
            .stats(0, i64::MAX)
            .await
            .expect("stats")
            .people
    };
    // Not asked yet: the ticket is open.
    answer("5").await;
    let stats = people().await;
    assert_eq!(
        (stats.fixed_answers, stats.csat_ratings),
        (0, 0),
        "an answer nobody asked for: {stats:?}"
    );
    running
        .store
        .staff_action(
            ticket,
            "tech",
            &firstline_collector::tickets::engine::StaffAction::Resolve {
                solution: "DNS fixed".to_owned(),
            },
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("resolve");
    assert_eq!(answer("4").await, 303, "asked: the answer closes it");
    // A second click on "Yes" after it closed adds nothing.
    answer("1").await;
    let stats = people().await;
    assert_eq!(
        (
            stats.fixed_answers,
            stats.fixed_confirmed,
            stats.csat_ratings
        ),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.csat_average, Some(4.0));
}

/// Regression: the requester's own answer came back on their page as the staff sentence
/// ("alice (requester) says it is still broken; reopened: …"), in English on a Greek page.
#[tokio::test]
async fn the_requesters_answer_reads_in_their_language_on_their_page() {
    let collector = TestCollector::start().await;
    let running = collector.running.as_ref().expect("running");
    let http = running.http_address;
    let (_device, eleni, csrf, ticket) = signed_in_with_a_ticket(
        &collector,
        "eleni",
        "athens",
        "το intranet δεν ανοίγει",
        "el_GR.UTF-8",
    )
    .await;
    running
        .store
        .staff_action(
            ticket,
            "tech",
            &firstline_collector::tickets::engine::StaffAction::Resolve {
                solution: "DNS fixed".to_owned(),
            },
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("resolve");
    let origin = format!("http://{http}");
    let (status, _, _) = http_form(
        http,
        "POST",
        &format!("/help/tickets/{ticket}/answer"),
        &[("Cookie", &eleni), ("Origin", &origin)],
        Some(&[
            ("csrf_token", &csrf),
            ("fixed", "no"),
            ("words", "ακόμα τίποτα"),
        ]),
    )
    .await;
    assert_eq!(status, 303);
    let (_, _, page) = http_form(http, "GET", "/help", &[("Cookie", &eleni)], None).await;
    assert!(
        page.contains("Όχι, ακόμα δεν λειτουργεί") && page.contains("ακόμα τίποτα"),
        "her answer, in Greek, with her words: {page}"
    );
    assert!(
        !page.contains("still broken") && !page.contains("(requester)"),
        "not the staff sentence: {page}"
    );
    assert!(
        page.contains(&format!("<h3>#{ticket}: το intranet δεν ανοίγει</h3>")),
        "her request is named by her words, not the title staff read: {page}"
    );
    // Staff still read the sentence on the ticket.
    let detail = running
        .store
        .ticket_detail(ticket)
        .await
        .expect("store")
        .expect("ticket");
    assert!(
        detail.timeline.iter().any(|entry| entry
            .text
            .contains("says it is still broken; reopened: ακόμα τίποτα")),
        "{:?}",
        detail.timeline
    );
}

/// A device at `site` whose user `account` reported `words` and opened their help page in
/// `locale`: the device, the page's cookie and CSRF token, and the report's ticket.
async fn signed_in_with_a_ticket(
    collector: &TestCollector,
    account: &str,
    site: &str,
    words: &str,
    locale: &str,
) -> (SimulatedDevice, String, String, i64) {
    let running = collector.running.as_ref().expect("running");
    let http = running.http_address;
    let url = collector.url();
    let dir = tempfile::tempdir().expect("dir");
    let identity = SimulatedDevice::enroll(&url, collector.token().await, dir.path()).await;
    let mut device = SimulatedDevice::connect(&url, identity, site, "192.0.2.53").await;
    user_report(&mut device, account, "r-1", words).await;
    let link = help_link(&mut device, account, locale).await;
    let cookie = open_link(http, &link).await;
    let (_, _, page) = http_form(http, "GET", "/help", &[("Cookie", &cookie)], None).await;
    let csrf = csrf_of(&page);
    let session = running
        .store
        .help_session(
            cookie.trim_start_matches("firstline_help="),
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("store")
        .expect("the session");
    let ticket = running
        .store
        .requester_tickets(&session, 10)
        .await
        .expect("store")
        .first()
        .expect("the ticket")
        .id;
    (device, cookie, csrf, ticket)
}

/// A fix whose policy is ask-user: the user who reported sees it offered on their help page
/// in their language, starts it there, the request reaches their device carrying their
/// account as the consent, the device's verified answer resolves the ticket, and the page
/// asks them "is it fixed?".
#[tokio::test]
async fn a_user_starts_an_ask_user_fix_from_their_help_page_and_is_asked_if_it_is_fixed() {
    let collector = TestCollector::start().await;
    let running = collector.running.as_ref().expect("running");
    let http = running.http_address;
    running
        .store
        .set_fix_mode(
            "dns.flush",
            "",
            Some(firstline_collector::fixes::Mode::AskUser),
            "admin",
            firstline_collector::model::now_ms(),
        )
        .await
        .expect("policy");
    let dir = tempfile::tempdir().expect("dir");
    let url = collector.url();
    let identity = SimulatedDevice::enroll(&url, collector.token().await, dir.path()).await;
    let mut device = SimulatedDevice::connect(&url, identity, "warsaw", "192.0.2.53").await;
    // Her report: the intranet does not open, and the diagnosis found DNS.
    let sequence = device.take_sequence();
    let evidence = serde_json::json!({
        "text": "intranet nie działa",
        "failed_layer": "dns",
        "conclusion": "The name intranet.example.com cannot be looked up",
        "reporter": {"uid": 1000, "account": "ola"},
        "playbooks": [{"playbook": "web", "target": "https://intranet.example.com/"}],
    });
    device
        .stream
        .send(pb::agent_message::Body::Findings(pb::FindingBatch {
            findings: vec![pb::Finding {
                sequence,
                check: "user.report".to_owned(),
                resource: "r-1".to_owned(),
                severity: pb::Severity::Warning as i32,
                summary: "intranet nie działa".to_owned(),
                evidence_json: evidence.to_string(),
                observed_at_unix_ms: firstline_collector::model::now_ms(),
            }],
        }))
        .await;
    let link = help_link(&mut device, "ola", "pl_PL.UTF-8").await;
    let cookie = open_link(http, &link).await;
    let (_, _, page) = http_form(http, "GET", "/help", &[("Cookie", &cookie)], None).await;
    assert!(
        page.contains("Możemy spróbować naprawić to teraz za Ciebie.")
            && page.contains("Naprawa czyści listę adresów stron")
            && page.contains("Spróbuj naprawić"),
        "the offer, in Polish: {page}"
    );
    let ticket: i64 = page
        .split("action=\"/help/tickets/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse().ok())
        .expect("the fix form names her ticket");
    let csrf = csrf_of(&page);
    let origin = format!("http://{http}");
    let (status, head, _) = http_form(
        http,
        "POST",
        &format!("/help/tickets/{ticket}/fix"),
        &[("Cookie", &cookie), ("Origin", &origin)],
        Some(&[("csrf_token", &csrf), ("fix", "dns.flush")]),
    )
    .await;
    assert_eq!(status, 303, "{head}");

    // The request reaches her device with her consent.
    let request = loop {
        match device.stream.next().await {
            Ok(pb::collector_message::Body::Fix(request)) => break request,
            Ok(_) => continue,
            Err(status) => panic!("stream ended: {status}"),
        }
    };
    assert_eq!(
        (
            request.fix.as_str(),
            request.consent_account.as_str(),
            request.allowed_by.as_str()
        ),
        ("dns.flush", "ola", "user:ola")
    );
    assert_eq!(
        request.parameters.get("name").map(String::as_str),
        Some("intranet.example.com")
    );
    let (_, _, page) = http_form(http, "GET", "/help", &[("Cookie", &cookie)], None).await;
    assert!(
        page.contains("Próbujemy naprawy na Twoim komputerze"),
        "running: {page}"
    );

    device
        .stream
        .send(pb::agent_message::Body::FixResult(pb::FixResult {
            request_id: request.request_id.clone(),
            fix: "dns.flush".to_owned(),
            outcome: "verified".to_owned(),
            report_json: r#"{"fix":"dns.flush","outcome":"verified","changes":[{"target":"systemd-resolved","action":"flushed its cache"}],"verification":{"passed":true,"detail":"intranet.example.com resolves to 192.0.2.10"}}"#.to_owned(),
            error: String::new(),
        }))
        .await;
    let detail = crate::support::wait_for("her ticket resolved by her fix", || async {
        running
            .store
            .ticket_detail(ticket)
            .await
            .expect("store")
            .filter(|d| d.ticket.state == firstline_collector::tickets::TicketState::Resolved)
    })
    .await;
    assert_eq!(
        detail.ticket.resolution.as_deref(),
        Some("Fixed with dns.flush (started by the user), verified")
    );
    let (_, _, page) = http_form(http, "GET", "/help", &[("Cookie", &cookie)], None).await;
    assert!(
        page.contains(&format!("id=\"answer-{ticket}\"")),
        "she is asked whether it is fixed: {page}"
    );
}
