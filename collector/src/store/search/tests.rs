//! Search on both backends: what a technician types finds the ticket, device, person or
//! known fix they mean, in the languages they type, and nothing typed breaks it.

use super::*;
use crate::directory::{PersonFields, validate};
use crate::model::{Finding, Inventory, Severity};
use crate::retention::Retention;
use crate::store::TicketFilter;
use crate::store::tests::{TestStore, backends};
use crate::store::tickets::tests::{MINUTE, T0, enroll, store_one};

const DAY: i64 = 24 * 3600 * 1000;

async fn add_person(store: &Store, account: &str, display_name: &str) {
    let person = validate(
        account,
        &PersonFields {
            display_name: display_name.to_owned(),
            email: Some(format!("{account}@example.com")),
            language: None,
        },
    )
    .expect("a valid person");
    store
        .upsert_people(&[person], "admin", T0)
        .await
        .expect("upsert people");
}

/// `account` is the device's last user, as its inventory says.
async fn used_by(store: &Store, device: &str, site: &str, account: &str) {
    let inventory = Inventory {
        hostname: format!("pc-{device}"),
        site: site.to_owned(),
        last_user: account.to_owned(),
        ..Inventory::default()
    };
    store
        .store_inventory(device, &inventory, T0)
        .await
        .expect("inventory");
}

/// A user's report of `account` on its device, in `words`, its evidence naming `server`.
fn report(sequence: u64, report_id: &str, account: &str, words: &str, server: &str) -> Finding {
    let evidence = serde_json::json!({
        "text": words,
        "failed_layer": "dns",
        "conclusion": format!("the resolver {server} does not answer"),
        "reporter": {"uid": 1000, "account": account},
        "playbooks": [{"playbook": "web", "target": "intranet.example.com"}],
    });
    Finding {
        sequence,
        check: crate::tickets::USER_REPORT.to_owned(),
        resource: report_id.to_owned(),
        severity: Severity::Warning,
        summary: words.to_owned(),
        evidence_json: evidence.to_string(),
        observed_at_ms: T0,
    }
}

fn check(sequence: u64, check: &str, severity: Severity, evidence: &str) -> Finding {
    Finding {
        sequence,
        check: check.to_owned(),
        resource: "/srv".to_owned(),
        severity,
        summary: format!("{check} {}", severity.as_str()),
        evidence_json: evidence.to_owned(),
        observed_at_ms: T0,
    }
}

async fn search(store: &Store, text: &str, kind: SearchKind) -> Vec<SearchHit> {
    let query = SearchQuery {
        text: text.to_owned(),
        kinds: vec![kind],
        limit: 20,
    };
    let results = store
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{}: searching {text:?}: {e}", store.backend_name()));
    results.of(kind).to_vec()
}

async fn ids(store: &Store, text: &str, kind: SearchKind) -> Vec<String> {
    search(store, text, kind)
        .await
        .into_iter()
        .map(|hit| hit.id)
        .collect()
}

async fn ticket_on(store: &Store, device: &str) -> String {
    store
        .tickets(&TicketFilter::default())
        .await
        .expect("tickets")
        .iter()
        .find(|t| t.device_id.as_deref() == Some(device))
        .map(|t| t.id.to_string())
        .unwrap_or_else(|| panic!("{}: no ticket on {device}", store.backend_name()))
}

#[tokio::test]
async fn a_users_display_name_and_an_evidence_word_find_exactly_that_ticket() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        enroll(store, "a", "hq").await;
        enroll(store, "b", "hq").await;
        used_by(store, "a", "hq", "ckowalska").await;
        used_by(store, "b", "hq", "dnowak").await;
        add_person(store, "ckowalska", "Carol Kowalska").await;
        add_person(store, "dnowak", "Dave Nowak").await;
        let words = "the intranet does not open";
        store_one(
            store,
            "a",
            report(1, "r-a", "ckowalska", words, "dc-krakow"),
            T0,
        )
        .await;
        store_one(
            store,
            "b",
            report(1, "r-b", "dnowak", words, "dc-warsaw"),
            T0,
        )
        .await;
        let (carols, daves) = (ticket_on(store, "a").await, ticket_on(store, "b").await);

        for (typed, expected) in [
            ("carol krakow", vec![carols.clone()]),
            ("Kowalska dc-krak", vec![carols.clone()]),
            ("ckowalska intranet", vec![carols.clone()]),
            ("dave warsaw", vec![daves.clone()]),
            ("pc-b warsaw", vec![daves.clone()]),
            ("carol warsaw", vec![]),
            ("dave krakow", vec![]),
        ] {
            assert_eq!(
                ids(store, typed, SearchKind::Tickets).await,
                expected,
                "{backend}: {typed:?}"
            );
        }
        let hit = &search(store, "carol krakow", SearchKind::Tickets).await[0];
        assert!(
            hit.label.starts_with(&format!("#{carols} ")),
            "{backend}: {hit:?}"
        );
        let marked: Vec<&str> = hit
            .snippet
            .marks
            .iter()
            .map(|m| &hit.snippet.text[m.start..m.end])
            .collect();
        assert!(!marked.is_empty(), "{backend}: {hit:?}");

        // The directory renames Carol: her ticket follows.
        add_person(store, "ckowalska", "Karolina Kowalska").await;
        assert_eq!(
            ids(store, "karolina krakow", SearchKind::Tickets).await,
            vec![carols.clone()],
            "{backend}"
        );
        assert_eq!(
            ids(store, "karolina", SearchKind::People).await,
            ["ckowalska"],
            "{backend}"
        );

        // Every kind at once, grouped.
        let all = store
            .search(&SearchQuery::new("kowalska"))
            .await
            .expect("search");
        assert_eq!(all.people.len(), 1, "{backend}: {all:?}");
        assert_eq!(all.devices.len(), 1, "{backend}: {all:?}");
        assert_eq!(all.tickets.len(), 1, "{backend}: {all:?}");
    }
}

#[tokio::test]
async fn polish_and_greek_match_whatever_their_case_and_accents() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        add_person(store, "lzoltowski", "Łukasz Żółtowski").await;
        add_person(store, "apapa", "Αθηνά Παπαδοπούλου").await;
        enroll(store, "a", "hq").await;
        used_by(store, "a", "hq", "apapa").await;
        store_one(
            store,
            "a",
            report(1, "r-a", "apapa", "Ο ΕΚΤΥΠΩΤΗΣ δεν τυπώνει", "dc1"),
            T0,
        )
        .await;
        let ticket = ticket_on(store, "a").await;
        for typed in [
            "lukasz zoltowski",
            "ŁUKASZ ŻÓŁTOWSKI",
            "Łukasz żółt",
            "LUKASZ",
        ] {
            assert_eq!(
                ids(store, typed, SearchKind::People).await,
                ["lzoltowski"],
                "{backend}: {typed:?}"
            );
        }
        for typed in ["αθηνα", "ΑΘΗΝΆ παπαδοπουλου", "Αθηνά"] {
            assert_eq!(
                ids(store, typed, SearchKind::People).await,
                ["apapa"],
                "{backend}: {typed:?}"
            );
        }
        for typed in ["εκτυπωτης", "εκτυπωτής τυπωνει", "αθηνα ΤΥΠΏΝΕΙ"]
        {
            assert_eq!(
                ids(store, typed, SearchKind::Tickets).await,
                vec![ticket.clone()],
                "{backend}: {typed:?}"
            );
        }
    }
}

#[tokio::test]
async fn chinese_words_are_found_inside_longer_runs() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        enroll(store, "a", "hq").await;
        enroll(store, "b", "hq").await;
        store_one(
            store,
            "a",
            report(1, "r-a", "wang", "打印机无法连接", "dc1"),
            T0,
        )
        .await;
        store_one(store, "b", report(1, "r-b", "li", "网络很慢", "dc1"), T0).await;
        let (printer, network) = (ticket_on(store, "a").await, ticket_on(store, "b").await);
        for (typed, expected) in [
            ("打印机", vec![printer.clone()]),
            ("无法连接", vec![printer.clone()]),
            ("连", vec![printer.clone()]),
            ("网络", vec![network.clone()]),
            ("打印机 慢", vec![]),
            ("打印网络", vec![]),
        ] {
            assert_eq!(
                ids(store, typed, SearchKind::Tickets).await,
                expected,
                "{backend}: {typed:?}"
            );
        }
        let hit = &search(store, "打印机", SearchKind::Tickets).await[0];
        assert!(
            hit.snippet
                .marks
                .iter()
                .any(|m| &hit.snippet.text[m.start..m.end] == "打印机"),
            "{backend}: {hit:?}"
        );
    }
}

#[tokio::test]
async fn hostile_queries_search_literally_or_are_refused_plainly() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        enroll(store, "a", "hq").await;
        store_one(
            store,
            "a",
            report(1, "r-a", "carol", "the VPN drops", "dc1"),
            T0,
        )
        .await;
        let ticket = ticket_on(store, "a").await;
        for typed in [
            "\"vpn",
            "vpn\"",
            "vpn*",
            "*vpn",
            "-vpn",
            "NEAR(vpn drops)",
            "vpn NEAR drops",
            "vpn OR nothing AND drops",
            "tickets:vpn",
            "(vpn",
            "vpn) drops (",
            "'; DROP TABLE search_documents; --",
            "vpn' OR '1'='1",
            "vpn\\",
            "vpn 🙂 drops",
            "vpn\u{0}drops",
            "^vpn",
            "vpn:*",
            "vpn & drops | !x",
            "vpn <-> drops",
        ] {
            let outcome = store
                .search(&SearchQuery {
                    text: typed.to_owned(),
                    kinds: Vec::new(),
                    limit: 5,
                })
                .await;
            match outcome {
                Ok(_) => {}
                Err(StoreError::Invalid { .. }) => {}
                Err(e) => panic!("{backend}: {typed:?} failed: {e}"),
            }
        }
        // Words in punctuation are still found.
        for typed in ["\"vpn", "(vpn) \"drops", "vpn'", "vpn 🙂 drops"] {
            assert_eq!(
                ids(store, typed, SearchKind::Tickets).await,
                vec![ticket.clone()],
                "{backend}: {typed:?}"
            );
        }
        for refused in [
            String::new(),
            "   ".to_owned(),
            "🙂🙂".to_owned(),
            "\"*()-:".to_owned(),
            "vpn ".repeat(2_500),
            "a b c d e f g h i j k l m n o p q r".to_owned(),
        ] {
            match store.search(&SearchQuery::new(refused.clone())).await {
                Err(StoreError::Invalid { what, detail }) => {
                    assert_eq!(what, "search query", "{backend}");
                    assert!(!detail.is_empty(), "{backend}");
                }
                other => panic!("{backend}: {:.40?} gave {other:?}", refused),
            }
        }
        for limit in [0, MAX_LIMIT + 1] {
            let query = SearchQuery {
                limit,
                ..SearchQuery::new("vpn")
            };
            assert!(
                matches!(store.search(&query).await, Err(StoreError::Invalid { .. })),
                "{backend}: limit {limit}"
            );
        }
        assert_eq!(
            store
                .tickets(&TicketFilter::default())
                .await
                .expect("tickets")
                .len(),
            1,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_device_is_found_by_hostname_and_by_site() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        enroll(store, "a", "krakow-hq").await;
        enroll(store, "b", "athens").await;
        assert_eq!(
            ids(store, "pc-a", SearchKind::Devices).await,
            ["a"],
            "{backend}"
        );
        assert_eq!(
            ids(store, "krakow", SearchKind::Devices).await,
            ["a"],
            "{backend}"
        );
        assert_eq!(
            ids(store, "ATHENS", SearchKind::Devices).await,
            ["b"],
            "{backend}"
        );
        let hit = &search(store, "athens", SearchKind::Devices).await[0];
        assert_eq!(hit.label, "pc-b", "{backend}");
        // A renamed device is found by its new name only.
        used_by(store, "b", "athens", "someone").await;
        let renamed = Inventory {
            hostname: "athena-laptop".to_owned(),
            site: "athens".to_owned(),
            ..Inventory::default()
        };
        store
            .store_inventory("b", &renamed, T0 + MINUTE)
            .await
            .expect("inventory");
        assert_eq!(
            ids(store, "athena", SearchKind::Devices).await,
            ["b"],
            "{backend}"
        );
        assert!(
            ids(store, "pc-b", SearchKind::Devices).await.is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn knowledge_is_found_by_the_words_of_a_solution() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        with_pool!(store, pool => {
            for (fingerprint, solution) in [
                ("dns.resolve:intranet", "Restarted the DNS client service on the resolver"),
                ("print.queue:hp-4", "Cleared the spooler and reinstalled the driver"),
            ] {
                sqlx::query(
                    "INSERT INTO solutions (fingerprint, solution, check_name, worked_count, \
                     first_at_ms, last_at_ms) VALUES ($1, $2, $3, 1, 0, 0)",
                )
                .bind(fingerprint)
                .bind(solution)
                .bind(fingerprint.split(':').next().unwrap_or_default())
                .execute(pool)
                .await
                .expect("insert solution");
            }
        });
        assert_eq!(
            ids(store, "spooler driv", SearchKind::Knowledge).await,
            ["print.queue:hp-4"],
            "{backend}"
        );
        assert_eq!(
            ids(store, "restarted dns", SearchKind::Knowledge).await,
            ["dns.resolve:intranet"],
            "{backend}"
        );
        assert!(
            ids(store, "spooler dns", SearchKind::Knowledge)
                .await
                .is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn pruned_evidence_is_no_longer_found() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        enroll(store, "a", "hq").await;
        let evidence = r#"{"mount": "/srv/zebrafish", "free_pct": 3}"#;
        store_one(
            store,
            "a",
            check(1, "disk.free_low", Severity::Warning, evidence),
            T0,
        )
        .await;
        store_one(
            store,
            "a",
            check(2, "disk.free_low", Severity::Critical, evidence),
            T0 + MINUTE,
        )
        .await;
        store_one(
            store,
            "a",
            check(3, "disk.free_low", Severity::Ok, "{}"),
            T0 + 2 * MINUTE,
        )
        .await;
        let ticket = ticket_on(store, "a").await;
        assert_eq!(
            ids(store, "zebrafish", SearchKind::Tickets).await,
            vec![ticket.clone()],
            "{backend}: evidence values are indexed"
        );
        assert!(
            ids(store, "mount", SearchKind::Tickets).await.is_empty(),
            "{backend}: evidence keys are not"
        );

        let mut retention = Retention::keep_forever();
        retention.ticket_evidence = Some(std::time::Duration::from_secs(180 * 24 * 3600));
        retention.pause_between_batches = std::time::Duration::ZERO;
        let report = store
            .prune(T0 + 181 * DAY, &retention)
            .await
            .expect("prune");
        assert!(report.evidence_entries > 0, "{backend}: {report:?}");
        // Gone from the stored document already, before anyone searches.
        let bodies: Vec<String> = with_pool!(store, pool => {
            sqlx::query_scalar("SELECT body FROM search_documents WHERE kind = 'ticket'")
                .fetch_all(pool)
                .await
                .expect("bodies")
        });
        assert!(
            bodies.iter().all(|body| !body.contains("zebrafish")),
            "{backend}: {bodies:?}"
        );
        assert!(
            ids(store, "zebrafish", SearchKind::Tickets)
                .await
                .is_empty(),
            "{backend}: pruned evidence is gone from the index"
        );
        assert_eq!(
            ids(store, "pc-a", SearchKind::Tickets).await,
            [ticket],
            "{backend}: the ticket itself is still found"
        );
    }
}

/// An UPSERT imposes its conflict policy on the triggers it fires: a second directory import
/// before any search failed on the mark the first had left ("UNIQUE constraint failed:
/// search_stale").
#[tokio::test]
async fn things_changed_twice_before_a_search_are_marked_once_without_a_conflict() {
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        add_person(store, "erin", "Erin Example").await;
        add_person(store, "erin", "Erin Renamed").await;
        with_pool!(store, pool => {
            for _ in 0..2 {
                sqlx::query(
                    "INSERT INTO solutions (fingerprint, solution, check_name, worked_count, \
                     first_at_ms, last_at_ms) VALUES ('f', 'rebooted the router', 'c', 1, 0, 0) \
                     ON CONFLICT (fingerprint, solution) DO UPDATE SET worked_count = solutions.worked_count + 1",
                )
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("{backend}: upsert a solution: {e}"));
            }
        });
        assert_eq!(
            ids(store, "renamed", SearchKind::People).await,
            ["erin"],
            "{backend}"
        );
        assert_eq!(
            ids(store, "router", SearchKind::Knowledge).await,
            ["f"],
            "{backend}"
        );
    }
}

/// Articles staff write are knowledge hits of their own, found by the words of their
/// title and body; an edit and a deletion show at the next search.
#[tokio::test]
async fn articles_are_found_by_their_words_and_follow_edits() {
    use crate::store::articles::ArticleDraft;
    for TestStore { store, .. } in &backends().await {
        let backend = store.backend_name();
        let draft = |title: &str, body: &str| ArticleDraft {
            title: title.to_owned(),
            body: body.to_owned(),
            checks: vec!["dns.".to_owned()],
            fingerprints: Vec::new(),
        };
        let id = store
            .save_article(
                None,
                &draft(
                    "Intranet does not resolve",
                    "Flush the **resolver cache** first.",
                ),
                "tina",
                T0,
            )
            .await
            .expect("save")
            .expect("an id");
        let name = format!("{ARTICLE_PREFIX}{id}");
        assert_eq!(
            ids(store, "resolver cache", SearchKind::Knowledge).await,
            [name],
            "{backend}"
        );
        assert!(
            ids(store, "resolver cache", SearchKind::Tickets)
                .await
                .is_empty(),
            "{backend}"
        );
        store
            .save_article(
                Some(id),
                &draft(
                    "Intranet does not resolve",
                    "Ask the network team about the forwarder.",
                ),
                "tina",
                T0 + MINUTE,
            )
            .await
            .expect("save")
            .expect("the same id");
        assert!(
            ids(store, "resolver cache", SearchKind::Knowledge)
                .await
                .is_empty(),
            "{backend}: the old words are gone"
        );
        let hits = search(store, "forwarder", SearchKind::Knowledge).await;
        assert_eq!(hits.len(), 1, "{backend}: {hits:?}");
        assert_eq!(hits[0].label, "Intranet does not resolve", "{backend}");
        assert!(store.delete_article(id).await.expect("delete"), "{backend}");
        assert!(
            ids(store, "forwarder", SearchKind::Knowledge)
                .await
                .is_empty(),
            "{backend}"
        );
    }
}
