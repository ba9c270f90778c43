//! The staff workspace in a real browser (Debian's headless Chromium), at a desk's width and
//! a phone's: a technician takes two tickets with a bulk assign, works "My tickets", finds a
//! ticket by its user's name and a word of its evidence, resolves three tickets at once, is
//! told when a bulk resolve lacks a solution and when a filter value means nothing, and is
//! not offered what a resolved ticket cannot do. Then the same pages in every language, each
//! saved as a screenshot in target/screenshots/.

use std::collections::HashMap;

use firstline_collector::model::Role;
use firstline_collector::store::TicketFilter;
use firstline_proto::v1 as pb;

use crate::browser::Browser;
use crate::support::{SimulatedDevice, TestCollector, add_user, wait_for};

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

/// Who uses each device, where it is, and what fails on it.
const FLEET: [(&str, &str, &str, &str, &str); 4] = [
    (
        "carol",
        "warsaw",
        "dns.resolve",
        "intranet.example.com",
        "intranet.example.com: failed to lookup address information",
    ),
    (
        "dawid",
        "warsaw",
        "disk.free_low",
        "/",
        "Disk / is 97% full",
    ),
    (
        "eleni",
        "athens",
        "https.status",
        "https://crm.example.com/",
        "https://crm.example.com/ answered 503",
    ),
    (
        "fotis",
        "athens",
        "memory.pressure",
        "ram",
        "Memory 96% used",
    ),
];

async fn sign_in(browser: &Browser, base: &str, name: &str, password: &str) {
    browser.goto(&format!("{base}/login")).await;
    browser.type_into("input[name=name]", name).await;
    browser.type_into("input[name=password]", password).await;
    browser.click("button[type=submit]").await;
    browser.find("#queue").await;
}

/// The rows of the queue as the browser shows them: ticket ids in order.
async fn queue_ids(browser: &Browser) -> Vec<i64> {
    let ids = browser
        .execute(
            "return Array.from(document.querySelectorAll('#queue tbody tr')).map(r => Number(r.dataset.id));",
        )
        .await;
    ids.as_array()
        .map(|ids| ids.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_finds_takes_and_resolves_tickets_at_desk_and_phone_width() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    walk_through(browser).await;
}

async fn walk_through(browser: Browser) {
    let collector = TestCollector::start().await;
    let base = format!("http://{}", collector.running().http_address);
    add_user(&collector, "tina", Role::Supervisor, "tina-password-1").await;
    add_user(&collector, "omar", Role::Technician, "omar-password-1").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut devices = Vec::new();
    let mut device_of: HashMap<&str, String> = HashMap::new();
    for (n, (user, site, check, resource, summary)) in FLEET.iter().enumerate() {
        let identity = SimulatedDevice::enroll(
            &collector.url(),
            collector.token().await,
            &dir.path().join(format!("d{n}")),
        )
        .await;
        device_of.insert(user, identity.device_id().to_owned());
        let mut device = SimulatedDevice::connect_as(
            &collector.url(),
            identity,
            site,
            &format!("192.0.2.{n}"),
            Some(user),
        )
        .await;
        device
            .report_saying(check, resource, pb::Severity::Warning, summary)
            .await;
        devices.push(device);
    }
    let store = collector.running().store.clone();
    let ticket_of: HashMap<&str, i64> = wait_for("a ticket per device", || async {
        let open = store
            .tickets(&TicketFilter {
                state: Some("open".to_owned()),
                ..TicketFilter::default()
            })
            .await
            .ok()?;
        let found: HashMap<&str, i64> = FLEET
            .iter()
            .filter_map(|(user, ..)| {
                let device = device_of.get(user)?;
                let ticket = open
                    .iter()
                    .find(|t| t.device_id.as_deref() == Some(device.as_str()))?;
                Some((*user, ticket.id))
            })
            .collect();
        (found.len() == FLEET.len()).then_some(found)
    })
    .await;
    let state_of = |id: i64| {
        let store = store.clone();
        async move {
            store
                .ticket_detail(id)
                .await
                .expect("read")
                .expect("ticket")
                .ticket
                .state
                .as_str()
                .to_owned()
        }
    };

    // At a desk.
    browser.resize(1400, 1000).await;
    sign_in(&browser, &base, "tina", "tina-password-1").await;
    assert_eq!(queue_ids(&browser).await.len(), 4, "every open ticket");

    // She takes Carol's and Dawid's tickets at once.
    for user in ["carol", "dawid"] {
        browser
            .click(&format!("input[name=ticket][value='{}']", ticket_of[user]))
            .await;
    }
    browser.click("#bulk-assign option[value=tina]").await;
    browser.click("form#bulk button[value=assign]").await;
    let done = browser.text("#done").await;
    assert!(done.contains("2 tickets assigned"), "{done}");

    // "My tickets": exactly those two.
    browser.click("nav.views a[href='/?view=mine']").await;
    wait_for("my tickets", || async {
        let mut mine = queue_ids(&browser).await;
        mine.sort_unstable();
        let mut expected = vec![ticket_of["carol"], ticket_of["dawid"]];
        expected.sort_unstable();
        (mine == expected).then_some(())
    })
    .await;
    browser.screenshot("workspace-my-tickets").await;

    // A person's name and a word of the evidence find Carol's ticket, and only hers.
    browser.type_into("#search-box", "carol intranet").await;
    browser.type_into("#search-box", ENTER).await;
    let hits = browser.text("#ticket-hits").await;
    assert!(hits.contains(&format!("#{}", ticket_of["carol"])), "{hits}");
    for other in ["dawid", "eleni", "fotis"] {
        assert!(!hits.contains(&format!("#{} ", ticket_of[other])), "{hits}");
    }
    browser.screenshot("workspace-search").await;
    browser
        .click(&format!(
            "#ticket-hits a[href='/tickets/{}']",
            ticket_of["carol"]
        ))
        .await;
    assert_eq!(browser.text("#state").await, "Assigned");

    // Three tickets resolved at once, with one solution.
    browser.goto(&format!("{base}/")).await;
    for user in ["carol", "dawid", "eleni"] {
        browser
            .click(&format!("input[name=ticket][value='{}']", ticket_of[user]))
            .await;
    }
    browser
        .type_into("#bulk-solution", "Restarted the office switch")
        .await;
    browser.click("form#bulk button[value=resolve]").await;
    let done = browser.text("#done").await;
    assert!(done.contains("3 tickets resolved"), "{done}");
    for user in ["carol", "dawid", "eleni"] {
        assert_eq!(state_of(ticket_of[user]).await, "resolved", "{user}");
    }
    assert_eq!(queue_ids(&browser).await, vec![ticket_of["fotis"]]);

    // Resolving without a solution is refused, naming the ticket; nothing changes.
    browser
        .click(&format!(
            "input[name=ticket][value='{}']",
            ticket_of["fotis"]
        ))
        .await;
    browser.click("form#bulk button[value=resolve]").await;
    let refused = browser.text("#refused").await;
    assert!(
        refused.contains(&format!("#{}", ticket_of["fotis"])),
        "{refused}"
    );
    assert_ne!(state_of(ticket_of["fotis"]).await, "resolved");

    // She writes down what to do about Fotis's fault; it is suggested on his ticket, and the
    // Markdown renders while the HTML in it shows as text.
    browser
        .goto(&format!("{base}/tickets/{}", ticket_of["fotis"]))
        .await;
    browser.click("a[href^='/knowledge/articles/new']").await;
    browser
        .type_into("#article-title-input", "Memory runs out on Fotis's PC")
        .await;
    browser
        .type_into(
            "#article-body-input",
            "Close the **browser tabs** first. <script>document.title='pwned'</script>",
        )
        .await;
    browser
        .click("form[action='/knowledge/articles'] button")
        .await;
    let article = browser.text("#article-body").await;
    assert!(article.contains("<script>"), "shown as text: {article}");
    let bold = browser
        .execute("return document.querySelector('#article-body strong').textContent;")
        .await;
    assert_eq!(bold, "browser tabs");
    assert_ne!(browser.title().await, "pwned");
    browser
        .goto(&format!("{base}/tickets/{}", ticket_of["fotis"]))
        .await;
    let suggested = browser.text("#suggested-articles").await;
    assert!(suggested.contains("Memory runs out"), "{suggested}");

    // A filter value that means nothing is said.
    browser.goto(&format!("{base}/?priority=p9")).await;
    let said = browser.text(".filter-problem").await;
    assert!(said.contains("p9") && said.contains("p1"), "{said}");

    // A resolved ticket offers only what it can still do.
    browser
        .goto(&format!("{base}/tickets/{}", ticket_of["carol"]))
        .await;
    browser.find("#timeline").await;
    let forms = browser
        .execute(
            "return Array.from(document.querySelectorAll('.actions input[name=action]')).map(i => i.value);",
        )
        .await;
    let offered: Vec<&str> = forms
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        offered.contains(&"reopen") && offered.contains(&"close"),
        "{offered:?}"
    );
    for absent in ["resolve", "assign", "escalate", "cancel", "reproduce"] {
        assert!(!offered.contains(&absent), "{absent} offered: {offered:?}");
    }

    // At a phone's width the queue is a list, and nothing is wider than the screen.
    browser.resize(390, 844).await;
    browser.goto(&format!("{base}/?state=resolved")).await;
    browser.find("#queue").await;
    let layout = browser
        .execute(
            "return [getComputedStyle(document.querySelector('#queue thead')).display, \
             document.documentElement.scrollWidth, window.innerWidth];",
        )
        .await;
    assert_eq!(
        layout[0], "none",
        "the queue's header row is hidden: {layout}"
    );
    assert!(
        layout[1].as_i64() <= layout[2].as_i64(),
        "no sideways scrolling: {layout}"
    );
    browser.screenshot("workspace-queue-phone").await;

    // Every page in every language, from her own choice on the Account page.
    browser.resize(1400, 1000).await;
    for (code, queue_word) in [
        ("zh", "队列"),
        ("pl", "Kolejka"),
        ("el", "Ουρά"),
        ("en", "Queue"),
    ] {
        browser.goto(&format!("{base}/account")).await;
        browser
            .click(&format!("select[name=language] option[value={code}]"))
            .await;
        browser
            .click("form[action='/account/preferences'] button")
            .await;
        browser.find("#preferences-saved").await;
        browser.goto(&format!("{base}/")).await;
        let lang = browser
            .execute("return document.documentElement.lang;")
            .await;
        assert_eq!(lang, code);
        let heading = browser.text("main h1").await;
        assert_eq!(heading, queue_word);
        browser.screenshot(&format!("queue-{code}")).await;
        browser
            .goto(&format!("{base}/tickets/{}", ticket_of["fotis"]))
            .await;
        browser.find("#timeline").await;
        browser.screenshot(&format!("ticket-{code}")).await;
        browser.goto(&format!("{base}/devices")).await;
        browser.find("#devices").await;
        browser.screenshot(&format!("devices-{code}")).await;
        browser.goto(&format!("{base}/search?q=fotis")).await;
        browser.find("#ticket-hits").await;
        browser.screenshot(&format!("search-{code}")).await;
        browser.goto(&format!("{base}/stats")).await;
        browser.find("#people-stats").await;
        browser.screenshot(&format!("stats-{code}")).await;
    }
    drop(devices);
}

/// Duplicates and parts of an outage, folded together by a technician: two tickets about
/// one trouble become one with a bulk merge; a device's ticket is attached to the incident
/// it belongs to from its page (and its device's findings follow); the incident reproduces
/// on the devices she ticks, and says so when she ticks none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_merges_a_duplicate_and_attaches_a_ticket_to_an_incident() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let collector = TestCollector::start_with(|settings| {
        settings.tickets.correlation.min_devices = 3;
        settings.tickets.correlation.hold = std::time::Duration::ZERO;
    })
    .await;
    let base = format!("http://{}", collector.running().http_address);
    add_user(&collector, "tina", Role::Technician, "tina-password-1").await;
    let dir = tempfile::tempdir().expect("temp dir");
    // Three devices in Łódź lose the intranet's name; in Kraków one cannot reach the CRM
    // and its neighbour's disk is full (the same person's two PCs, as it turns out).
    let fleet = [
        ("lodz", "192.0.2.9", "dns.resolve", "intranet.example.com"),
        ("lodz", "192.0.2.9", "dns.resolve", "intranet.example.com"),
        ("lodz", "192.0.2.9", "dns.resolve", "intranet.example.com"),
        (
            "krakow",
            "198.51.100.1",
            "https.status",
            "https://crm.example.com/",
        ),
        ("krakow", "198.51.100.1", "disk.free_low", "/"),
    ];
    let mut devices = Vec::new();
    for (n, (site, resolver, check, resource)) in fleet.iter().enumerate() {
        let identity = SimulatedDevice::enroll(
            &collector.url(),
            collector.token().await,
            &dir.path().join(format!("d{n}")),
        )
        .await;
        let mut device = SimulatedDevice::connect(&collector.url(), identity, site, resolver).await;
        device.report(check, resource, pb::Severity::Warning).await;
        devices.push(device);
    }
    let store = collector.running().store.clone();
    let open = wait_for("an incident and two device tickets", || async {
        let open = store
            .tickets(&TicketFilter {
                state: Some("open".to_owned()),
                ..TicketFilter::default()
            })
            .await
            .ok()?;
        (open.len() == 3).then_some(open)
    })
    .await;
    let id_of = |check: &str| {
        open.iter()
            .find(|t| t.check == check)
            .map(|t| t.id)
            .expect("a ticket")
    };
    let (incident, crm, disk) = (
        id_of("dns.resolve"),
        id_of("https.status"),
        id_of("disk.free_low"),
    );
    let detail = |id: i64| {
        let store = store.clone();
        async move {
            store
                .ticket_detail(id)
                .await
                .expect("read")
                .expect("ticket")
        }
    };

    browser.resize(1400, 1000).await;
    sign_in(&browser, &base, "tina", "tina-password-1").await;
    // The disk ticket merged into the CRM one, both ticked, the one kept named.
    for id in [crm, disk] {
        browser
            .click(&format!("input[name=ticket][value='{id}']"))
            .await;
    }
    browser.type_into("#bulk-merge", &crm.to_string()).await;
    browser.click("form#bulk button[value=merge]").await;
    let done = browser.text("#done").await;
    assert!(done.contains("1 ticket merged"), "{done}");
    let merged = detail(disk).await;
    assert_eq!(merged.ticket.state.as_str(), "cancelled");
    assert_eq!(merged.linked_tickets, vec![crm]);
    let kept = detail(crm).await;
    assert_eq!(kept.devices.len(), 2, "both PCs on one ticket");
    assert_eq!(
        kept.ticket.assignee.as_deref(),
        Some("tina"),
        "who merged owns it"
    );

    // Another technician may not fold Tina's ticket away; the API says why.
    let key = firstline_collector::http::create_api_key(&store, "omar", Role::Technician)
        .await
        .expect("api key");
    let (status, refused) = crate::support::http_json(
        collector.running().http_address,
        "POST",
        &format!("/api/v1/tickets/{crm}/actions"),
        Some(&key),
        Some(&serde_json::json!({"action": "merge", "into": incident})),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("supervisor")),
        "{refused}"
    );
    let (status, refused) = crate::support::http_json(
        collector.running().http_address,
        "POST",
        &format!("/api/v1/tickets/{incident}/actions"),
        Some(&key),
        Some(&serde_json::json!({"action": "merge", "into": 424242})),
    )
    .await;
    assert_eq!(
        (status, refused["field"].as_str()),
        (422, Some("into")),
        "{refused}"
    );

    // A number that is no ticket is said, naming it.
    browser.goto(&format!("{base}/tickets/{crm}")).await;
    browser.type_into("#merge-into", "999999").await;
    browser
        .click("form[action$='/act'] input[value=merge] ~ button")
        .await;
    browser.text_with("main", "999999").await;

    // From the ticket's page, attached to the incident the list offers.
    browser.goto(&format!("{base}/tickets/{crm}")).await;
    let offered = browser
        .execute("return Array.from(document.querySelectorAll('#merge-targets option')).map(o => o.value);")
        .await;
    assert_eq!(offered, serde_json::json!([incident.to_string()]));
    browser
        .type_into("#merge-into", &incident.to_string())
        .await;
    browser
        .click("form[action$='/act'] input[value=merge] ~ button")
        .await;
    assert_eq!(browser.text_with("#state", "Cancelled").await, "Cancelled");
    let outage = detail(incident).await;
    assert_eq!(outage.devices.len(), 5, "{:?}", outage.devices);
    assert!(outage.ticket.state.is_open());
    // The CRM device recovers: the incident marks it so and stays open for the others.
    devices[3]
        .report("https.status", "https://crm.example.com/", pb::Severity::Ok)
        .await;
    let crm_device = devices[3].identity.device_id().to_owned();
    wait_for("the CRM device recovered in the incident", || async {
        let outage = detail(incident).await;
        outage
            .devices
            .iter()
            .any(|d| d.device_id == crm_device && d.recovered_at_ms.is_some())
            .then_some(())
    })
    .await;

    // The incident reproduces on the devices ticked, and says so when none is.
    browser.goto(&format!("{base}/tickets/{incident}")).await;
    browser
        .click("form[action$='/act'] input[value=reproduce] ~ button")
        .await;
    browser.text_with("main", "Choose at least one").await;
    browser.goto(&format!("{base}/tickets/{incident}")).await;
    let first = devices[0].identity.device_id().to_owned();
    browser
        .click(&format!("#reproduce-devices input[value='{first}']"))
        .await;
    browser
        .click("form[action$='/act'] input[value=reproduce] ~ button")
        .await;
    let done = browser.text("#done").await;
    assert!(done.contains("Asked 1 device"), "{done}");
    let asked = detail(incident).await;
    assert!(
        asked.timeline.iter().any(|e| e.kind == "reproduce"),
        "{:?}",
        asked.timeline
    );
    drop(devices);
}
