//! Playbooks: reproduce a reported fault the way a first-line technician would, one layer at
//! a time, recording what was tried, how long it took, whether it passed and the evidence, and
//! ending with the first failing layer and the likely cause in plain words. One file each;
//! `symptoms.rs` picks them from the user's own words.

pub mod clock;
pub mod crash;
pub mod disk;
pub mod email;
pub mod health;
pub mod network;
pub mod printing;
pub mod slow;
pub mod symptoms;
pub mod target;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use firstline_i18n::Message;
use serde::Serialize;
use tokio_rustls::rustls::RootCertStore;

use crate::checks::ChecksFile;

/// The playbooks there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Playbook {
    /// A site, intranet or application server cannot be reached.
    Web,
    /// "No internet", Wi-Fi, VPN: the connection itself, no web address needed.
    Network,
    /// "My computer is slow".
    Slow,
    /// Disk full, cannot save.
    Disk,
    /// An application keeps crashing.
    Crash,
    Printing,
    Email,
    /// Clock skew: sign-in and certificate trouble.
    Clock,
    /// Nothing more specific matched: every health check once.
    Health,
}

impl Playbook {
    pub const ALL: [Playbook; 9] = [
        Playbook::Web,
        Playbook::Network,
        Playbook::Slow,
        Playbook::Disk,
        Playbook::Crash,
        Playbook::Printing,
        Playbook::Email,
        Playbook::Clock,
        Playbook::Health,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Playbook::Web => "web",
            Playbook::Network => "network",
            Playbook::Slow => "slow",
            Playbook::Disk => "disk",
            Playbook::Crash => "crash",
            Playbook::Printing => "printing",
            Playbook::Email => "email",
            Playbook::Clock => "clock",
            Playbook::Health => "health",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|playbook| playbook.name() == name)
    }
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Something is off but did not stop what was asked (e.g. no gateway for a local site).
    Warn,
    /// Not applicable here.
    Skip,
}

/// One thing a playbook tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The layer or aspect: "link", "address", "gateway", "dns", "tcp", "tls", "http", "cpu", …
    pub layer: &'static str,
    /// What was tried, e.g. "resolve intranet.example.com with 192.0.2.53".
    pub tried: String,
    pub outcome: Outcome,
    pub took_ms: f64,
    /// What was seen, in one sentence.
    pub detail: String,
    pub evidence: serde_json::Value,
}

/// A playbook's run: its steps and what they mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookResult {
    pub playbook: Playbook,
    pub target: Option<String>,
    pub steps: Vec<Step>,
    /// The first layer that failed, if one did.
    pub failed_layer: Option<&'static str>,
    /// The likely cause, or that all is well, in plain words, for staff (English).
    pub conclusion: String,
    /// The same for the person who reported it, put into their language where it is read:
    /// no jargon (no "NXDOMAIN", PIDs or raw OS errors).
    pub said: Message,
    /// What that person can do now, most useful first.
    pub advice: Vec<Message>,
    pub took_ms: f64,
}

/// How a playbook ends: the conclusion for staff, and what the person who reported it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub conclusion: String,
    pub said: Message,
    pub advice: Vec<Message>,
}

impl Verdict {
    pub fn new(conclusion: impl Into<String>, said: Message) -> Self {
        Verdict {
            conclusion: conclusion.into(),
            said,
            advice: Vec::new(),
        }
    }

    /// The same verdict with one more piece of advice (a repeat is dropped).
    #[must_use]
    pub fn advise(mut self, advice: Message) -> Self {
        if !self.advice.contains(&advice) {
            self.advice.push(advice);
        }
        self
    }
}

/// What playbooks may use: the agent's own config and what the uplink learnt.
#[derive(Clone)]
pub struct Context {
    /// DNS servers to ask (the `[checks.dns]` servers, else the system's unless
    /// `system_resolver` is off).
    pub dns_servers: Vec<SocketAddr>,
    /// `[checks.dns] system_resolver`: whether the OS's own lookup (hosts file, its resolvers)
    /// may be asked after `dns_servers`.
    pub system_resolver: bool,
    /// `[checks.network] ping_gateway`: whether playbooks may ping the default gateway.
    pub ping_gateway: bool,
    /// Trust anchors for TLS (the system's plus `[checks.https] ca_file`).
    pub roots: Arc<RootCertStore>,
    /// Per network operation.
    pub timeout: Duration,
    /// How long "slow computer" samples.
    pub slow_window: Duration,
    /// Printers to reach: "host:port" or "ipp://host[:port]".
    pub printers: Vec<String>,
    /// Mail endpoints: "host:port".
    pub mail: Vec<String>,
    /// Folders with crash reports.
    pub crash_dirs: Vec<PathBuf>,
    /// Collector clock minus ours, when connected.
    pub clock_skew_ms: Option<i64>,
    /// Every health check, for the general playbook (and the disk check's thresholds, the
    /// DNS check's names).
    pub checks: ChecksFile,
    /// The collector as "host:port", for the network playbook.
    pub collector: Option<String>,
    /// `[playbooks] probe_url`: what the network playbook opens to tell the internet works.
    pub probe_url: Option<target::WebTarget>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("dns_servers", &self.dns_servers)
            .field("timeout", &self.timeout)
            .field("slow_window", &self.slow_window)
            .field("printers", &self.printers)
            .field("mail", &self.mail)
            .field("crash_dirs", &self.crash_dirs)
            .field("clock_skew_ms", &self.clock_skew_ms)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// The context the agent's settings describe.
    pub fn from_settings(
        settings: &crate::config::Settings,
        clock_skew_ms: Option<i64>,
    ) -> Result<Self, String> {
        let checks = &settings.checks;
        let dns_servers = checks
            .dns
            .resolvers()
            .map_err(|e| format!("checks.dns: {e}"))?;
        let extra_ca = match &checks.https.ca_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("checks.https.ca_file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let roots = crate::probes::https::roots(extra_ca.as_deref())?;
        let crash_dirs = checks
            .watch_configs()
            .into_iter()
            .filter(|watch| watch.lines.is_none())
            .map(|watch| watch.path)
            .collect();
        Ok(Context {
            dns_servers,
            system_resolver: checks.dns.system_resolver,
            ping_gateway: checks.network.ping_gateway,
            roots,
            timeout: settings.playbooks.timeout,
            slow_window: settings.playbooks.slow_window,
            printers: settings.playbooks.printers.clone(),
            mail: settings.playbooks.mail.clone(),
            crash_dirs,
            clock_skew_ms,
            checks: checks.clone(),
            // `collector_url` when the config moves it, else the one enrolled with.
            collector: settings
                .collector_url
                .clone()
                .or_else(|| {
                    crate::identity::Enrollment::load(&settings.state_dir)
                        .ok()
                        .map(|enrollment| enrollment.collector_url)
                })
                .and_then(|url| target::WebTarget::parse(&url).ok())
                .map(|url| {
                    if url.host.contains(':') {
                        format!("[{}]:{}", url.host, url.port)
                    } else {
                        format!("{}:{}", url.host, url.port)
                    }
                }),
            probe_url: settings.playbooks.probe_url.clone(),
        })
    }
}

/// Runs `playbook` on `target` (a URL, host, application name; playbooks that need none
/// ignore it).
pub async fn run(playbook: Playbook, target: Option<&str>, context: &Context) -> PlaybookResult {
    let started = Instant::now();
    let (steps, verdict) = match playbook {
        Playbook::Web => web::run(target, context).await,
        Playbook::Network => network::run(context).await,
        Playbook::Slow => slow::run(context).await,
        Playbook::Disk => disk::run(context).await,
        Playbook::Crash => crash::run(target, context).await,
        Playbook::Printing => printing::run(context).await,
        Playbook::Email => email::run(context).await,
        Playbook::Clock => clock::run(context).await,
        Playbook::Health => health::run(context).await,
    };
    let failed_layer = steps
        .iter()
        .find(|step| step.outcome == Outcome::Fail)
        .map(|step| step.layer);
    PlaybookResult {
        playbook,
        target: target.map(str::to_owned),
        steps,
        failed_layer,
        conclusion: verdict.conclusion,
        said: verdict.said,
        advice: verdict.advice,
        took_ms: elapsed_ms(started),
    }
}

pub(crate) fn elapsed_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

/// Records steps as a playbook goes.
#[derive(Debug, Default)]
pub(crate) struct Steps {
    pub steps: Vec<Step>,
}

impl Steps {
    pub fn push(
        &mut self,
        layer: &'static str,
        tried: impl Into<String>,
        started: Instant,
        outcome: Outcome,
        detail: impl Into<String>,
        evidence: serde_json::Value,
    ) {
        self.steps.push(Step {
            layer,
            tried: tried.into(),
            outcome,
            took_ms: elapsed_ms(started),
            detail: detail.into(),
            evidence,
        });
    }
}

/// Endpoint reachability for printers and mail: TCP connect, timed.
pub(crate) async fn reach(
    steps: &mut Steps,
    layer: &'static str,
    endpoint: &str,
    timeout: Duration,
) -> bool {
    let started = Instant::now();
    let (result, stream) = crate::probes::tcp::connect(endpoint, timeout).await;
    let ok = stream.is_some();
    let detail = match (&result.connected, &result.error) {
        (Some(address), _) => format!(
            "{endpoint} accepted a connection ({address}, {:.0} ms)",
            result.connect_ms.unwrap_or_default()
        ),
        (None, Some(error)) => error.clone(),
        (None, None) => format!("{endpoint} did not accept a connection"),
    };
    steps.push(
        layer,
        format!("connect to {endpoint}"),
        started,
        if ok { Outcome::Pass } else { Outcome::Fail },
        detail,
        serde_json::to_value(&result).unwrap_or_default(),
    );
    ok
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A context with no network beyond loopback: printers and mail on ports the test
    /// controls, a clock two minutes off.
    pub(crate) fn context(printer: &str, mail: &str) -> Context {
        Context {
            dns_servers: Vec::new(),
            system_resolver: false,
            ping_gateway: false,
            roots: crate::probes::https::roots(None).expect("roots"),
            timeout: Duration::from_secs(1),
            slow_window: Duration::from_secs(1),
            printers: vec![printer.to_owned()],
            mail: vec![mail.to_owned()],
            crash_dirs: Vec::new(),
            clock_skew_ms: Some(120_000),
            checks: ChecksFile::default(),
            collector: None,
            probe_url: None,
        }
    }

    #[tokio::test]
    async fn each_playbook_runs_its_steps_and_names_what_failed() {
        // A mail server that greets, and a printer port nobody listens on.
        let mail = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mail_address = mail.local_addr().expect("address");
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut stream, _)) = mail.accept().await {
                let _ = stream.write_all(b"220 mail.example.com ESMTP\r\n").await;
            }
        });
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let printer = closed.local_addr().expect("address").to_string();
        drop(closed);
        let context = context(&printer, &mail_address.to_string());
        let cases: [(Playbook, Option<&str>, Option<&str>); 5] = [
            (Playbook::Email, None, None),
            (Playbook::Clock, None, Some("clock")),
            (Playbook::Web, None, Some("url")),
            (Playbook::Disk, None, None),
            (Playbook::Slow, None, None),
        ];
        for (playbook, target, expected) in cases {
            let result = run(playbook, target, &context).await;
            assert!(!result.steps.is_empty(), "{playbook:?}: {result:#?}");
            assert!(!result.conclusion.is_empty(), "{playbook:?}");
            if playbook != Playbook::Disk && playbook != Playbook::Slow {
                assert_eq!(result.failed_layer, expected, "{playbook:?}: {result:#?}");
            }
        }
        let printing = run(Playbook::Printing, None, &context).await;
        let printer_step = printing
            .steps
            .iter()
            .find(|step| step.layer == "printer")
            .expect("the printer was tried");
        assert_eq!(printer_step.outcome, Outcome::Fail, "{printing:#?}");
        // The print service's own state comes first where systemd can tell it.
        assert!(
            printing.conclusion.contains(&printer) || printing.conclusion.contains("cups"),
            "{}",
            printing.conclusion
        );
    }

    /// Every message id the agent's code names is in the catalogs (which the i18n tests keep
    /// complete in every language): a typo would show the person an id.
    #[test]
    fn every_message_the_agent_says_is_in_the_catalogs() {
        let mut folders = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut missing = Vec::new();
        let mut seen = 0;
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("source folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                if path.extension().is_none_or(|ext| ext != "rs") {
                    continue;
                }
                let source = std::fs::read_to_string(&path).expect("source");
                // Spelt in two so that this test does not find itself.
                let call = concat!("msg", "!(");
                for (at, _) in source.match_indices(call) {
                    let rest = source[at + call.len()..].trim_start();
                    let Some(quoted) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let id = quoted.split('"').next().unwrap_or_default();
                    seen += 1;
                    if !firstline_i18n::exists(id) {
                        missing.push(format!("{}: {id}", path.display()));
                    }
                }
            }
        }
        assert!(seen > 50, "found only {seen} messages");
        assert!(missing.is_empty(), "not in the catalogs: {missing:?}");
    }
}
