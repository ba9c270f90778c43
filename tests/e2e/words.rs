//! Reports as a new user types them, in English, Chinese, Polish and Greek, each giving the
//! right playbook, first failing layer, diagnosis and advice. The real playbooks run against
//! conditions the test controls on loopback: a resolver that knows the company's names or
//! none, a collector port that answers or is closed, a probe address that answers or not,
//! crash folders with Excel's and another application's reports, a printer port nobody
//! listens on, and disk thresholds that make this machine's real disk critical. What cannot be
//! steered here (the adapters, the machine's load) is not asserted; see the table.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use firstline_agent::config::Settings;
use serde_json::Value;

use crate::servers::{DnsServer, Endpoint, SilentResolver, TestPki};
use crate::support::{agent_config, assert_stays_on_this_machine};

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The company's name the network playbook looks up.
const COMPANY_NAME: &str = "intranet.corp.test";

/// What a case's computer is like.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conditions {
    /// Names resolve, the collector answers, the internet (probe) answers.
    AllWell,
    /// The resolver knows no name.
    NoDns,
    /// The resolver does not answer.
    SilentDns,
    /// The collector's port is closed; the internet answers.
    NoCollector,
    /// The probe address is closed; the company's names and collector answer.
    NoInternet,
    /// Crash reports of Excel and of Outlook.
    ExcelAndOutlookCrashed,
    /// Crash reports of Outlook only.
    OnlyOutlookCrashed,
    /// The configured printer's port is closed.
    PrinterOff,
    /// The disk check's thresholds are set so low that this machine's disk is critical.
    DiskCritical,
}

/// What the report must give; `None` where the machine decides (not asserted).
struct Case {
    lang: &'static str,
    text: &'static str,
    conditions: Conditions,
    playbook: &'static str,
    failed_layer: Option<Option<&'static str>>,
    said: Option<&'static str>,
    advice: Option<&'static str>,
}

const fn case(
    lang: &'static str,
    text: &'static str,
    conditions: Conditions,
    playbook: &'static str,
    failed_layer: Option<Option<&'static str>>,
    said: Option<&'static str>,
    advice: Option<&'static str>,
) -> Case {
    Case {
        lang,
        text,
        conditions,
        playbook,
        failed_layer,
        said,
        advice,
    }
}

use Conditions::*;

#[rustfmt::skip]
const CASES: &[Case] = &[
    case("en", "no internet", NoDns, "network", Some(Some("dns")), Some("said-net-dns"), Some("advice-vpn-first")),
    case("en", "wifi is down", NoInternet, "network", Some(Some("internet")), Some("said-net-no-internet"), Some("advice-net-restart-router")),
    case("en", "VPN won't connect", NoCollector, "network", Some(Some("collector")), Some("said-net-company-unreachable"), Some("advice-vpn-first")),
    case("en", "the intranet is down", AllWell, "network", Some(None), Some("said-net-works"), Some("advice-web-give-address")),
    case("zh", "上不了网", NoDns, "network", Some(Some("dns")), Some("said-net-dns"), Some("advice-vpn-first")),
    case("pl", "Nie mam internetu", NoInternet, "network", Some(Some("internet")), Some("said-net-no-internet"), Some("advice-net-restart-router")),
    case("el", "Το Wi-Fi δεν λειτουργεί", NoCollector, "network", Some(Some("collector")), Some("said-net-company-unreachable"), Some("advice-vpn-first")),
    case("en", "I can't open https://gone.corp.test/", NoDns, "web", Some(Some("dns")), Some("said-web-name-unknown"), Some("advice-web-check-spelling")),
    case("pl", "Nie mogę otworzyć https://intranet.corp.test/", SilentDns, "web", Some(Some("dns")), Some("said-web-dns-silent"), Some("advice-net-reconnect")),
    case("en", "Excel keeps crashing", ExcelAndOutlookCrashed, "crash", Some(Some("reports")), Some("said-crash-found"), Some("advice-crash-save-restart")),
    case("en", "Excel keeps crashing", OnlyOutlookCrashed, "crash", Some(None), Some("said-crash-none-for"), Some("advice-crash-describe")),
    case("zh", "Excel 一直崩溃", ExcelAndOutlookCrashed, "crash", Some(Some("reports")), Some("said-crash-found"), Some("advice-crash-save-restart")),
    case("el", "Το Excel κρασάρει συνέχεια", OnlyOutlookCrashed, "crash", Some(None), Some("said-crash-none-for"), Some("advice-crash-describe")),
    // The print service's own state (cups) comes first where this machine can tell it; see
    // `printing_expectation`.
    case("en", "I can't print", PrinterOff, "printing", Some(Some("printer")), Some("said-print-unreachable"), Some("advice-print-check-power")),
    case("zh", "打印机不能打印", PrinterOff, "printing", Some(Some("printer")), Some("said-print-unreachable"), Some("advice-print-check-power")),
    case("el", "Ο εκτυπωτής δεν εκτυπώνει", PrinterOff, "printing", Some(Some("printer")), Some("said-print-unreachable"), Some("advice-print-check-power")),
    // Not printing: the general health playbook (every check but DNS is off in this config).
    case("en", "fingerprint reader broken", PrinterOff, "health", Some(None), Some("said-health-ok"), Some("advice-describe-problem")),
    // Not a shop, not "hot": the slow playbook. What it finds is this machine's load.
    case("en", "Photoshop is slow", AllWell, "slow", None, None, None),
    case("en", "disk full cannot save", DiskCritical, "disk", Some(Some("space")), Some("said-disk-full"), Some("advice-disk-save-elsewhere")),
    case("pl", "Dysk pełny, nie mogę zapisać pliku", DiskCritical, "disk", Some(Some("space")), Some("said-disk-full"), Some("advice-disk-save-elsewhere")),
    case("el", "Δεν έχει χώρο ο δίσκος", DiskCritical, "disk", Some(Some("space")), Some("said-disk-full"), Some("advice-disk-save-elsewhere")),
];

/// The loopback servers and folders the cases' computers are made of.
struct Fixtures {
    dir: tempfile::TempDir,
    pki_ca: PathBuf,
    knows_names: DnsServer,
    knows_nothing: DnsServer,
    silent: SilentResolver,
    answering: Endpoint,
    internet: Endpoint,
    closed: SocketAddr,
    excel_and_outlook: PathBuf,
    only_outlook: PathBuf,
}

impl Fixtures {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = TestPki::new();
        let pki_ca = dir.path().join("ca.pem");
        std::fs::write(&pki_ca, &pki.ca_pem).expect("write CA");
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address")
        };
        let excel_and_outlook = dir.path().join("crashes-both");
        let only_outlook = dir.path().join("crashes-outlook");
        for (folder, files) in [
            (
                &excel_and_outlook,
                &[
                    "EXCEL.EXE.1.crash",
                    "EXCEL.EXE.2.crash",
                    "OUTLOOK.EXE.3.crash",
                ][..],
            ),
            (
                &only_outlook,
                &["OUTLOOK.EXE.4.crash", "OUTLOOK.EXE.5.crash"][..],
            ),
        ] {
            std::fs::create_dir_all(folder).expect("crash folder");
            for file in files {
                std::fs::write(folder.join(file), "Package: office 16.0\n").expect("crash file");
            }
        }
        Fixtures {
            knows_names: DnsServer::start_names(&[(COMPANY_NAME, LOCAL)]).await,
            knows_nothing: DnsServer::start_names(&[]).await,
            silent: SilentResolver::start().await,
            answering: Endpoint::tcp().await,
            internet: Endpoint::https(&pki).await,
            closed,
            excel_and_outlook,
            only_outlook,
            pki_ca,
            dir,
        }
    }

    /// The agent settings of a computer in `conditions`, through the suite's guard.
    fn settings(&self, index: usize, conditions: Conditions) -> Settings {
        let dns = match conditions {
            NoDns => self.knows_nothing.address,
            SilentDns => self.silent.address,
            _ => self.knows_names.address,
        };
        let collector = if conditions == NoCollector {
            self.closed
        } else {
            self.answering.address
        };
        let probe = if conditions == NoInternet {
            format!("https://localhost:{}/", self.closed.port())
        } else {
            format!("https://localhost:{}/", self.internet.address.port())
        };
        let mut sections = vec![
            (
                "checks.dns",
                format!("servers = [\"{dns}\"]\nnames = [\"{COMPANY_NAME}\"]"),
            ),
            (
                "checks.https",
                format!("ca_file = {:?}", self.pki_ca.display().to_string()),
            ),
            (
                "playbooks",
                format!(
                    "timeout = \"2s\"\nslow_window = \"1s\"\nprobe_url = {probe:?}\nprinters = [\"{}\"]",
                    self.closed
                ),
            ),
        ];
        let crashes = match conditions {
            ExcelAndOutlookCrashed => Some(&self.excel_and_outlook),
            OnlyOutlookCrashed => Some(&self.only_outlook),
            _ => None,
        };
        if let Some(folder) = crashes {
            sections.push((
                "[[checks.watch]]",
                format!(
                    "name = \"app-crashes\"\npath = {:?}\npattern = \"*.crash\"",
                    folder.display().to_string()
                ),
            ));
        }
        if conditions == DiskCritical {
            sections.push((
                "checks.disk",
                "enabled = false\nused_pct = { raise = 0.2, clear = 0.1, critical = 0.3 }"
                    .to_owned(),
            ));
        }
        let sections: Vec<(&str, &str)> = sections
            .iter()
            .map(|(name, body)| (*name, body.as_str()))
            .collect();
        let text = format!(
            "state_dir = {:?}\ncollector_url = \"https://127.0.0.1:{}\"\n{}",
            self.dir.path().join("state").display().to_string(),
            collector.port(),
            agent_config(&sections)
        );
        let path = self.dir.path().join(format!("agent-{index}.toml"));
        std::fs::write(&path, text).expect("write config");
        assert_stays_on_this_machine(&path);
        Settings::load(Some(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Where this machine runs a print service that is down, that comes first (and the case then
/// expects what the playbook says of it).
fn printing_expectation(first: &Value) -> Option<(&'static str, &'static str, &'static str)> {
    let service_down = first["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|step| step["layer"] == "service" && step["outcome"] == "fail");
    service_down.then_some((
        "service",
        "said-print-service-off",
        "advice-print-restart-computer",
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_as_a_new_user_types_them_give_the_right_layer_and_advice() {
    let fixtures = Fixtures::start().await;
    assert!(CASES.len() >= 12);
    let mut problems = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        let settings = fixtures.settings(index, case.conditions);
        let outcome = firstline_agent::report::diagnose_locally(case.text, &settings)
            .await
            .expect("diagnose");
        let outcome = serde_json::to_value(&outcome).expect("JSON");
        let first = &outcome["results"][0];
        let label = format!("[{}] {:?} ({:?})", case.lang, case.text, case.conditions);
        let mut expected = (case.failed_layer, case.said, case.advice);
        if case.playbook == "printing"
            && let Some((layer, said, advice)) = printing_expectation(first)
        {
            expected = (Some(Some(layer)), Some(said), Some(advice));
        }
        let (failed_layer, said, advice) = expected;
        if first["playbook"] != case.playbook {
            problems.push(format!(
                "{label}: ran {} first, not {}",
                first["playbook"], case.playbook
            ));
            continue;
        }
        if let Some(layer) = failed_layer
            && first["failed_layer"].as_str() != layer
        {
            problems.push(format!(
                "{label}: first failing layer {}, not {layer:?}; steps: {:#}",
                first["failed_layer"], first["steps"]
            ));
        }
        if let Some(said) = said
            && outcome["said"][0]["id"] != said
        {
            problems.push(format!("{label}: said {}, not {said}", outcome["said"][0]));
        }
        if let Some(advice) = advice
            && outcome["advice"][0]["id"] != advice
        {
            problems.push(format!(
                "{label}: advised {}, not {advice}",
                outcome["advice"]
            ));
        }
        // Whatever was found, the person reads it in their own language, with advice.
        let said_id = outcome["said"][0]["id"].as_str().unwrap_or_default();
        assert!(said_id.starts_with("said-"), "{label}: {outcome:#}");
        assert!(
            outcome["advice"].as_array().is_some_and(|a| !a.is_empty()),
            "{label}: no advice: {outcome:#}"
        );
        if case.playbook == "crash" && case.conditions == ExcelAndOutlookCrashed {
            // Excel's reports, never Outlook's.
            let said = &outcome["said"][0];
            if said["args"]["program"] != "Excel" || said["args"]["count"] != 2.0 {
                problems.push(format!("{label}: blamed {said}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
