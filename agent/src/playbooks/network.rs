//! "No internet", "the Wi-Fi is down", "the VPN won't connect": this computer's connection,
//! layer by layer, without a web address from the user: link → address → gateway → (a VPN
//! adapter, noted) → DNS of the configured names (`[checks.dns] names`) → the collector → the
//! probe URL (`[playbooks] probe_url`, when one is set).

use std::net::SocketAddr;
use std::time::Instant;

use firstline_i18n::msg;
use serde_json::json;

use super::target::Scheme;
use super::{Context, Outcome, Step, Steps, Verdict, reach, web};

/// At most this many configured names are looked up.
const MAX_NAMES: usize = 5;

pub async fn run(context: &Context) -> (Vec<Step>, Verdict) {
    let mut steps = Steps::default();
    web::link(&mut steps);
    web::address(&mut steps);
    web::gateway_step(&mut steps, context).await;
    vpn(&mut steps);
    names(&mut steps, context).await;
    match &context.collector {
        Some(endpoint) => {
            reach(&mut steps, "collector", endpoint, context.timeout).await;
        }
        None => steps.push(
            "collector",
            "reach the collector",
            Instant::now(),
            Outcome::Skip,
            "this agent has no collector_url",
            json!({}),
        ),
    }
    probe(&mut steps, context).await;
    // What answered did not need what failed before it: a missing gateway with a collector on
    // the local network, or an adapter this probe could not see.
    let reached = steps.steps.iter().any(|step| {
        matches!(step.layer, "collector" | "internet") && step.outcome == Outcome::Pass
    });
    if reached {
        for step in &mut steps.steps {
            if matches!(step.layer, "link" | "address" | "gateway") && step.outcome == Outcome::Fail
            {
                step.outcome = Outcome::Warn;
            }
        }
    }
    let verdict = verdict(&steps.steps);
    (steps.steps, verdict)
}

/// Adapter names VPN clients create (OpenVPN, WireGuard, PPP, IPsec, macOS's utun).
const VPN_ADAPTERS: &[&str] = &["tun", "tap", "wg", "ppp", "utun", "ipsec", "vpn"];

/// Whether a VPN adapter is up, for staff reading the steps. Never a failure: at the office no
/// VPN is needed, and some VPN clients make no adapter of their own.
fn vpn(steps: &mut Steps) {
    let started = Instant::now();
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        steps.push(
            "vpn",
            "look for a VPN adapter",
            started,
            Outcome::Skip,
            "this system does not list adapters in /sys/class/net",
            json!({}),
        );
        return;
    };
    let mut up: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| VPN_ADAPTERS.iter().any(|prefix| name.starts_with(prefix)))
        .filter(|name| {
            let state = std::fs::read_to_string(format!("/sys/class/net/{name}/operstate"))
                .unwrap_or_default();
            matches!(state.trim(), "up" | "unknown")
        })
        .collect();
    up.sort();
    let (outcome, detail) = if up.is_empty() {
        (Outcome::Skip, "no VPN adapter is up".to_owned())
    } else {
        (Outcome::Pass, format!("VPN adapter up: {}", up.join(", ")))
    };
    steps.push(
        "vpn",
        "look for a VPN adapter",
        started,
        outcome,
        detail,
        json!({ "adapters": up }),
    );
}

/// Looks up the configured names; one that fails while others resolve is that name's
/// problem (a warning here), all failing is the network's.
async fn names(steps: &mut Steps, context: &Context) {
    let names: Vec<&String> = context.checks.dns.names.iter().take(MAX_NAMES).collect();
    if names.is_empty() {
        steps.push(
            "dns",
            "look up the company's names",
            Instant::now(),
            Outcome::Skip,
            "no names are configured ([checks.dns] names)",
            json!({}),
        );
        return;
    }
    let first = steps.steps.len();
    let mut resolved = 0;
    for name in names {
        if web::resolve(steps, name, context).await.is_some() {
            resolved += 1;
        }
    }
    if resolved > 0 {
        for step in &mut steps.steps[first..] {
            if step.outcome == Outcome::Fail {
                step.outcome = Outcome::Warn;
            }
        }
    }
}

/// Opens the probe URL, as one step: whether the internet beyond the company works.
async fn probe(steps: &mut Steps, context: &Context) {
    let started = Instant::now();
    let Some(target) = &context.probe_url else {
        steps.push(
            "internet",
            "open the probe address",
            started,
            Outcome::Skip,
            "no probe address is configured ([playbooks] probe_url)",
            json!({}),
        );
        return;
    };
    let url = target.url();
    let mut tried = Steps::default();
    if let Some(ip) = web::resolve(&mut tried, &target.host, context).await {
        let address = SocketAddr::new(ip, target.port);
        match target.scheme {
            Scheme::Http => web::http_plain(&mut tried, target, address, context).await,
            Scheme::Https => web::secure(&mut tried, &url, address, context).await,
        }
    }
    let failed = tried
        .steps
        .iter()
        .find(|step| step.outcome == Outcome::Fail);
    let answered = tried
        .steps
        .iter()
        .any(|step| step.layer == "http" && step.outcome == Outcome::Pass);
    let (outcome, detail) = match failed {
        Some(step) => (
            Outcome::Fail,
            format!("{} failed: {}", step.layer, step.detail),
        ),
        None if answered => (Outcome::Pass, format!("{url} answered")),
        None => (Outcome::Fail, format!("{url} did not answer")),
    };
    steps.push(
        "internet",
        format!("open {url}"),
        started,
        outcome,
        detail,
        serde_json::to_value(&tried.steps).unwrap_or_default(),
    );
}

fn verdict(steps: &[Step]) -> Verdict {
    let failed = steps.iter().find(|step| step.outcome == Outcome::Fail);
    match failed {
        Some(step) if matches!(step.layer, "link" | "address" | "gateway") => {
            web::local_network_verdict(step)
        }
        Some(step) if step.layer == "dns" => Verdict::new(
            format!("No configured name can be looked up: {}", step.detail),
            msg!("said-net-dns"),
        )
        .advise(msg!("advice-vpn-first"))
        .advise(msg!("advice-wait-for-it")),
        Some(step) if step.layer == "collector" => Verdict::new(
            format!("The collector cannot be reached from this network: {}", step.detail),
            msg!("said-net-company-unreachable"),
        )
        .advise(msg!("advice-vpn-first"))
        .advise(msg!("advice-wait-for-it")),
        Some(step) => Verdict::new(
            format!("The local network works but the internet does not: {}", step.detail),
            msg!("said-net-no-internet"),
        )
        .advise(msg!("advice-net-restart-router"))
        .advise(msg!("advice-wait-for-it")),
        None if !steps.iter().any(|step| step.outcome == Outcome::Pass) => Verdict::new(
            "Nothing could be tested on this computer's connection.",
            msg!("said-test-failed"),
        )
        .advise(msg!("advice-wait-for-it")),
        None => Verdict::new(
            "The network works from this computer: connected, names found and what was configured answers.",
            msg!("said-net-works"),
        )
        .advise(msg!("advice-web-give-address")),
    }
}
