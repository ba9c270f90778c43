//! Fleet configuration end to end, with real agents: a policy for the group "warsaw" reaches
//! only the Warsaw agents, which start checking what it names; a policy an agent cannot run
//! is refused by the agent, said with its reason, and the last good config keeps running; a
//! rollback restores the earlier version everywhere; an agent restarted while the collector
//! is away runs the config it was pushed.

use std::time::{Duration, Instant};

use firstline_collector::model::{Role, Severity, StoredFinding};
use serde_json::{Value, json};

use crate::servers::SilentResolver;
use crate::support::{
    TestAgent, TestCollector, agent_config, enroll_with, http_json, wait_for, write_config,
};

fn firing(finding: &StoredFinding) -> bool {
    finding.finding.severity >= Severity::Warning
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_reaches_its_group_a_refused_one_keeps_the_last_good_and_rollback_restores() {
    let silent = SilentResolver::start().await;
    let mut collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let key =
        firstline_collector::http::create_api_key(&collector.running().store, "ada", Role::Admin)
            .await
            .expect("api key");
    let dir = tempfile::tempdir().expect("temp dir");
    let crashes = tempfile::tempdir().expect("crash folder");

    // Two PCs in Warsaw, one in Kraków, each with its own local file saying where it is.
    let mut agents = Vec::new();
    for (n, site) in ["warsaw", "warsaw", "krakow"].into_iter().enumerate() {
        let identity = enroll_with(
            &collector,
            &collector.token().await,
            &dir.path().join(format!("agent-{n}")),
        )
        .await
        .expect("enrolls");
        let config = dir.path().join(format!("agent-{n}.toml"));
        write_config(
            &config,
            &format!("site = \"{site}\"\n{}", agent_config(&[])),
        );
        let mut agent = TestAgent::start_full(identity.clone(), &config);
        agent.wait_connected().await;
        agents.push((identity, config, Some(agent)));
    }
    let ids: Vec<String> = agents
        .iter()
        .map(|(identity, ..)| identity.device_id().to_owned())
        .collect();
    let device = |n: usize| ids[n].clone();
    let store = collector.running().store.clone();
    for n in 0..3 {
        let id = device(n);
        wait_for("the inventory with the site", || async {
            let device = store.device(&id).await.ok()??;
            (!device.site.is_empty()).then_some(())
        })
        .await;
    }
    let api = |method: &'static str, path: String, body: Option<Value>| {
        let key = key.clone();
        async move { http_json(http, method, &path, Some(&key), body.as_ref()).await }
    };

    let (status, group) = api(
        "POST",
        "/api/v1/fleet/groups".to_owned(),
        Some(json!({"name": "warsaw", "kind": "site", "site": "warsaw"})),
    )
    .await;
    assert_eq!(status, 201, "{group}");

    // A policy the agents' own rules refuse is refused at the API, naming the key.
    let (status, refused) = api(
        "POST",
        "/api/v1/fleet/policies".to_owned(),
        Some(json!({"name": "broken", "group": "warsaw",
            "toml": "[checks.disk]\nused_pct = { raise = 50.0, clear = 70.0 }\n"})),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["field"], "toml");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("checks.disk")
                && e.contains("clear (70) must not be above raise (50)")),
        "{refused}"
    );

    // The intranet's name, checked against the office resolver, for Warsaw only.
    let dns = |names: &str| {
        format!(
            "[checks.dns]\nnames = [{names}]\nservers = [\"{}\"]\ninterval = \"200ms\"\ntimeout = \"300ms\"\nfor = \"0s\"\n\n[[checks.watch]]\nname = \"app-crashes\"\npath = \"{}\"\npattern = \"*.crash\"\n",
            silent.address,
            crashes.path().display()
        )
    };
    let asked = Instant::now();
    let (status, policy) = api(
        "POST",
        "/api/v1/fleet/policies".to_owned(),
        Some(json!({"name": "warsaw intranet", "group": "warsaw",
            "toml": dns("\"intranet.example.com\""), "note": "the intranet, from the office resolver"})),
    )
    .await;
    assert_eq!(status, 201, "{policy}");
    let policy_id = policy["id"].as_i64().expect("id");
    for n in [0, 1] {
        collector
            .wait_for_finding(&device(n), "dns.resolve", "intranet.example.com", firing)
            .await;
    }
    eprintln!(
        "policy saved to both Warsaw agents' findings: {:?}",
        asked.elapsed()
    );
    let config_of = |n: usize| {
        let id = device(n);
        let api = &api;
        async move {
            api("GET", format!("/api/v1/devices/{id}/config"), None)
                .await
                .1
        }
    };
    let v1 = wait_for("Warsaw runs the policy", || async {
        let config = config_of(0).await;
        (config["reported"]["version"] == config["effective"]["version"]
            && config["effective"]["version"] != "")
            .then(|| {
                config["effective"]["version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
    })
    .await;
    let krakow = config_of(2).await;
    assert_eq!(krakow["effective"]["version"], "", "{krakow}");
    assert!(
        collector
            .findings(&device(2))
            .await
            .iter()
            .all(|f| f.finding.check != "dns.resolve"),
        "Kraków never checks the intranet"
    );

    // Version 2 adds the mail server's name; then it is rolled back to version 1.
    let (status, changed) = api(
        "PUT",
        format!("/api/v1/fleet/policies/{policy_id}"),
        Some(json!({"toml": dns("\"intranet.example.com\", \"mail.example.com\""), "note": "mail too"})),
    )
    .await;
    assert_eq!(
        (status, changed["version"].as_i64()),
        (200, Some(2)),
        "{changed}"
    );
    collector
        .wait_for_finding(&device(0), "dns.resolve", "mail.example.com", firing)
        .await;
    let (status, rolled) = api(
        "POST",
        format!("/api/v1/fleet/policies/{policy_id}/rollback"),
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(
        (status, rolled["version"].as_i64()),
        (200, Some(3)),
        "{rolled}"
    );
    for n in [0, 1] {
        wait_for("the rollback on every Warsaw device", || async {
            (config_of(n).await["reported"]["version"] == v1.as_str()).then_some(())
        })
        .await;
    }
    let (_, detail) = api("GET", format!("/api/v1/fleet/policies/{policy_id}"), None).await;
    let trail: Vec<(i64, String)> = detail["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap_or(0),
                v["author"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            (3, "ada".to_owned()),
            (2, "ada".to_owned()),
            (1, "ada".to_owned())
        ]
    );
    assert!(
        detail["versions"][1]["diff"].as_str().is_some_and(
            |d| d.contains("+ names = [\"intranet.example.com\", \"mail.example.com\"]")
        ),
        "{detail}"
    );

    // A watch under a file cannot start on the device: the agents refuse version 4, say
    // why, and keep running version 1's config.
    let blocker = crashes.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").expect("write");
    let (status, _) = api(
        "PUT",
        format!("/api/v1/fleet/policies/{policy_id}"),
        Some(json!({"toml": format!("[[checks.watch]]\nname = \"more-crashes\"\npath = \"{}\"\n", blocker.join("crashes").display())})),
    )
    .await;
    assert_eq!(status, 200);
    let refusal = wait_for("the agent's refusal", || async {
        let config = config_of(0).await;
        config["reported"]["error"]
            .as_str()
            .map(str::to_owned)
            .map(|e| (e, config))
    })
    .await;
    assert!(refusal.0.contains("cannot watch"), "{}", refusal.0);
    assert_eq!(
        refusal.1["reported"]["version"],
        v1.as_str(),
        "the last good config runs"
    );
    let (_, fleet) = api("GET", "/api/v1/fleet".to_owned(), None).await;
    let refused_version = refusal.1["reported"]["refused_version"].clone();
    assert!(
        fleet["versions"].as_array().is_some_and(|versions| versions
            .iter()
            .any(|v| v["version"] == refused_version && v["refused"].as_i64() >= Some(1))),
        "{fleet}"
    );
    // Back to version 1, so the restart below runs it.
    let (status, _) = api(
        "POST",
        format!("/api/v1/fleet/policies/{policy_id}/rollback"),
        Some(json!({"version": 1})),
    )
    .await;
    assert_eq!(status, 200);
    wait_for("version 1 again", || async {
        let config = config_of(0).await;
        (config["reported"]["version"] == v1.as_str() && config["reported"]["error"].is_null())
            .then_some(())
    })
    .await;

    // Warsaw's first PC restarts while the collector is away: it runs the pushed config it
    // kept (its local file watches nothing), so a crash meanwhile is caught and delivered.
    for agent in agents.iter_mut().filter_map(|(_, _, agent)| agent.take()) {
        agent.stop().await;
    }
    collector.stop().await;
    let offline = TestAgent::start_full(agents[0].0.clone(), &agents[0].1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    crate::support::drop_crash(crashes.path(), "outlook.exe");
    tokio::time::sleep(Duration::from_millis(500)).await;
    collector.restart().await;
    collector
        .wait_for_finding(&device(0), "crash.new_file", "outlook.exe", firing)
        .await;
    offline.stop().await;
}

/// The next fleet config pushed to `device` within `wait`, answered as an agent that applies
/// it would answer; None when none comes.
async fn next_push(device: &mut crate::support::SimulatedDevice, wait: Duration) -> Option<String> {
    use firstline_proto::v1 as pb;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match device.stream.next_within(left).await? {
            Ok(pb::collector_message::Body::Config(push)) => {
                device
                    .stream
                    .send(pb::agent_message::Body::ConfigStatus(pb::ConfigStatus {
                        version: push.version.clone(),
                        ..pb::ConfigStatus::default()
                    }))
                    .await;
                return Some(push.version);
            }
            Ok(_) => continue,
            Err(status) => panic!("the stream ended: {status}"),
        }
    }
}

/// Ten devices in one group; a change rolled out to 20% reaches two of them first, the other
/// eight only once it is promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_rollout_reaches_a_fifth_of_ten_devices_first() {
    use crate::support::SimulatedDevice;
    let collector = TestCollector::start().await;
    let http = collector.running().http_address;
    let key =
        firstline_collector::http::create_api_key(&collector.running().store, "ada", Role::Admin)
            .await
            .expect("api key");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut devices = Vec::new();
    for n in 0..10 {
        let identity = SimulatedDevice::enroll(
            &collector.url(),
            collector.token().await,
            &dir.path().join(format!("d{n}")),
        )
        .await;
        devices.push(
            SimulatedDevice::connect(&collector.url(), identity, "gdansk", "192.0.2.53").await,
        );
    }
    let store = collector.running().store.clone();
    for device in &devices {
        let id = device.identity.device_id().to_owned();
        wait_for("the inventory", || async {
            (store.device(&id).await.ok()??.site == "gdansk").then_some(())
        })
        .await;
    }
    let api = |method: &'static str, path: String, body: Value| {
        let key = key.clone();
        async move { http_json(http, method, &path, Some(&key), Some(&body)).await }
    };
    let (status, _) = api(
        "POST",
        "/api/v1/fleet/groups".to_owned(),
        json!({"name": "gdansk", "kind": "site", "site": "gdansk"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, policy) = api(
        "POST",
        "/api/v1/fleet/policies".to_owned(),
        json!({"name": "gdansk", "group": "gdansk", "toml": "[checks.disk]\ninterval = \"60s\"\n"}),
    )
    .await;
    assert_eq!(status, 201, "{policy}");
    let id = policy["id"].as_i64().expect("id");
    let mut first = Vec::new();
    for device in &mut devices {
        first.push(
            next_push(device, Duration::from_secs(20))
                .await
                .expect("version 1 for every device"),
        );
    }
    assert!(first.windows(2).all(|w| w[0] == w[1]), "{first:?}");

    let (status, rolling) = api(
        "PUT",
        format!("/api/v1/fleet/policies/{id}"),
        json!({"toml": "[checks.disk]\ninterval = \"30s\"\n", "canary": {"percent": 20}}),
    )
    .await;
    assert_eq!(status, 200, "{rolling}");
    let canaries: Vec<String> = rolling["canaries"]
        .as_array()
        .expect("canaries")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    assert_eq!(canaries.len(), 2, "{rolling}");
    let mut second = None;
    for device in &mut devices {
        let canary = canaries.contains(&device.identity.device_id().to_owned());
        let wait = if canary {
            Duration::from_secs(20)
        } else {
            Duration::from_millis(300)
        };
        let pushed = next_push(device, wait).await;
        assert_eq!(
            pushed.is_some(),
            canary,
            "{}: only the canaries",
            device.identity.device_id()
        );
        if let Some(version) = pushed {
            assert_ne!(version, first[0]);
            second = Some(version);
        }
    }
    let second = second.expect("the canaries' version");
    // Per version, how many devices run it: two the new one, eight the one before.
    wait_for("the canaries counted", || async {
        let (_, fleet) = http_json(http, "GET", "/api/v1/fleet", Some(&key), None).await;
        let running = |version: &str| {
            fleet["versions"]
                .as_array()
                .and_then(|versions| versions.iter().find(|v| v["version"] == version))
                .and_then(|v| v["running"].as_i64())
        };
        (running(&second) == Some(2) && running(&first[0]) == Some(8)).then_some(())
    })
    .await;

    let (status, _) = api(
        "POST",
        format!("/api/v1/fleet/policies/{id}/promote"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    for device in &mut devices {
        if canaries.contains(&device.identity.device_id().to_owned()) {
            continue;
        }
        assert_eq!(
            next_push(device, Duration::from_secs(20)).await.as_deref(),
            Some(second.as_str())
        );
    }
}

/// An admin keeps the fleet's configuration on its pages in Chromium: a group by site, a
/// policy the agents' rules refuse (said, with the key), one they accept, a change rolled
/// out to canaries first and promoted, and a rollback from the version history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_edits_rolls_out_and_rolls_back_a_policy_in_the_browser() {
    let Some(browser) = crate::browser::Browser::start().await else {
        return;
    };
    let collector = TestCollector::start().await;
    let base = format!("http://{}", collector.running().http_address);
    crate::support::add_user(&collector, "ada", Role::Admin, "ada-password-1").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = crate::support::SimulatedDevice::enroll(
        &collector.url(),
        collector.token().await,
        &dir.path().join("d"),
    )
    .await;
    let _device = crate::support::SimulatedDevice::connect(
        &collector.url(),
        identity,
        "warsaw",
        "192.0.2.53",
    )
    .await;

    browser.resize(1400, 1000).await;
    browser.goto(&format!("{base}/login")).await;
    browser.type_into("input[name=name]", "ada").await;
    browser
        .type_into("input[name=password]", "ada-password-1")
        .await;
    browser.click("button[type=submit]").await;
    browser.find("#queue").await;
    browser.click("a[href='/fleet']").await;
    browser.type_into("#group-name", "warsaw").await;
    browser.type_into("#group-value", "warsaw").await;
    browser.click("form[action='/fleet/groups'] button").await;
    browser.text_with("#groups", "at site warsaw").await;

    // The agents' own rules refuse this, and the page says which key and why.
    browser.type_into("#policy-name", "disk").await;
    browser
        .type_into(
            "#policy-toml",
            "[checks.disk]\nused_pct = { raise = 50.0, clear = 70.0 }\n",
        )
        .await;
    browser.click("form[action='/fleet/policies'] button").await;
    browser
        .text_with("main", "clear (70) must not be above raise (50)")
        .await;

    browser.goto(&format!("{base}/fleet")).await;
    browser.type_into("#policy-name", "intranet").await;
    browser
        .type_into(
            "#policy-toml",
            "[checks.dns]\nnames = [\"intranet.example.com\"]\n",
        )
        .await;
    browser.type_into("#policy-note", "the intranet").await;
    browser.click("form[action='/fleet/policies'] button").await;
    browser.find("#versions").await;
    // Version 2, to half the group first: the page says it rolls out; promoted, it does not.
    browser
        .execute("document.querySelector('#policy-toml').value = '[checks.dns]\\nnames = [\"intranet.example.com\", \"mail.example.com\"]\\n'; return null;")
        .await;
    browser.type_into("#policy-note", "mail too").await;
    browser.type_into("#canary-percent", "50").await;
    browser.click("#save-policy").await;
    browser
        .text_with("#rollout", "Version 2 runs on 1 canary")
        .await;
    browser.click("#promote").await;
    browser.text_with("#versions", "mail too").await;
    assert!(
        !browser.source().await.contains("id=\"rollout\""),
        "promoted: no rollout under way"
    );
    let versions = browser.text("#versions").await;
    assert!(
        versions.contains("+ names = [\"intranet.example.com\", \"mail.example.com\"]"),
        "{versions}"
    );
    // Back to version 1 from the history.
    browser
        .click("#versions form[action$='/rollback'] button")
        .await;
    browser
        .text_with("#versions", "rolled back to version 1")
        .await;
    browser.screenshot("fleet-policy").await;
    let policies = collector
        .running()
        .store
        .policies()
        .await
        .expect("policies");
    assert_eq!(
        (policies[0].version, policies[0].toml.as_str()),
        (3, "[checks.dns]\nnames = [\"intranet.example.com\"]\n")
    );
}
