//! Ticket titles a person would write, made from a finding's structured evidence: one function
//! per check family, each giving a [`Message`] that is put into words where it is read (the
//! staff workspace's language). The raw summary stays in the description and the timeline; a
//! title never shows an OS error or a file path (see [`looks_raw`]).

use firstline_i18n::{Message, msg};
use serde_json::Value;

/// The longest an argument taken from a device (a name, a user's words) runs in a title.
const MAX_ARG_CHARS: usize = 80;

/// The title of a device ticket about a finding of `check` on `resource`.
pub fn device_title(check: &str, resource: &str, summary: &str, evidence_json: &str) -> Message {
    let evidence: Value = serde_json::from_str(evidence_json).unwrap_or_default();
    let family = match check {
        "dns.resolve" => dns(resource, &evidence),
        "https.reachable" => web(resource, &evidence),
        "https.cert_expiry_days" => certificate(resource, &evidence),
        "tcp.connect" => tcp(resource, &evidence),
        "disk.used_pct" | "disk.inodes_used_pct" => disk(check, resource, &evidence),
        "memory.available_pct" | "memory.swap_used_pct" => memory(check, &evidence),
        "cpu.usage_pct" => cpu(&evidence),
        "thermal.temperature_c" => thermal(resource, &evidence),
        "battery.health_pct" => battery(resource, &evidence),
        "smart.failing" => smart(resource, &evidence),
        "service.not_running" => service(resource, &evidence),
        "os.reboot_pending" => Some(msg!("title-reboot-pending")),
        "clock.skew_secs" => clock(&evidence),
        _ if check.starts_with("network.") => network(check, resource, &evidence),
        "crash.new_file" => crash(resource, summary, &evidence),
        "log.match" => log_match(resource, summary, &evidence),
        _ if check.starts_with("agent.") => agent(check, &evidence),
        _ => None,
    };
    family.unwrap_or_else(|| generic(check, resource, summary))
}

/// The title of a user's report: who reported, their words (cut short), and where the
/// diagnosis found the fault (`failed_layer`), when it found one.
pub fn report_title(who: &str, text: &str, failed_layer: Option<&str>) -> Message {
    let text = bounded(text);
    match failed_layer.filter(|layer| !layer.trim().is_empty()) {
        Some(layer) => msg!(
            "title-report-failing",
            "who" => bounded(who),
            "text" => text,
            "layer" => layer
        ),
        None => msg!("title-report", "who" => bounded(who), "text" => text),
    }
}

/// The title of an incident: `device_count` devices of `scope` failing `check` on
/// `resource`. Rendered with the incident's current count where it is read.
pub fn incident_title(
    check: &str,
    resource: &str,
    scope: &str,
    device_count: u32,
    evidence_json: &str,
) -> Message {
    let evidence: Value = serde_json::from_str(evidence_json).unwrap_or_default();
    let what = if check.starts_with("dns.") {
        msg!("title-incident-dns", "name" => name_or(resource, "?"))
    } else if check == "https.cert_expiry_days" {
        msg!("title-incident-cert", "target" => web_target(resource))
    } else if check == "https.reachable" {
        msg!("title-incident-reach", "target" => web_target(resource))
    } else if check == "tcp.connect" || check == "network.collector_unreachable" {
        msg!("title-incident-reach", "target" => name_or(resource, "?"))
    } else if check.starts_with("network.gateway") {
        msg!("title-incident-gateway", "gateway" => name_or(resource, "?"))
    } else if check.starts_with("disk.") {
        msg!("title-incident-disk", "disk" => disk_name(resource))
    } else if check == "crash.new_file" {
        msg!("title-incident-crash", "app" => app_name(text(&evidence, "application").unwrap_or(resource)))
    } else if check == "service.not_running" {
        msg!("title-incident-service", "service" => name_or(resource, "?"))
    } else {
        msg!("title-incident-check", "check" => bounded(check))
    };
    let (kind, value) = match scope_words(scope) {
        // "behind gateway 192.0.2.1" says nothing more of trouble reaching 192.0.2.1.
        ("gateway", gateway) if gateway == resource.trim() => ("none", String::new()),
        words => words,
    };
    what.arg("count", device_count)
        .arg("scope_kind", kind)
        .arg("scope", value)
}

/// A scope as the incident titles name it: its kind (`site`, `gateway`, `network`, `dns`,
/// `app`, `in` for one of a kind not known here, `none` for the default site) and its value
/// (for an application scope, the version).
fn scope_words(scope: &str) -> (&'static str, String) {
    let Some((kind, value)) = scope.split_once('=') else {
        return ("in", bounded(scope));
    };
    match kind {
        "site" if value == "default" => ("none", String::new()),
        "site" => ("site", bounded(value)),
        "gateway" => ("gateway", bounded(value)),
        "network" | "subnet" => ("network", bounded(value)),
        "dns" => ("dns", server_address(value)),
        "app" => (
            "app",
            bounded(value.rsplit_once('@').map_or(value, |(_, version)| version)),
        ),
        _ => ("in", bounded(scope)),
    }
}

/// `dns.resolve`: the name, and what the resolver said (`response_code`, `server`).
fn dns(resource: &str, evidence: &Value) -> Option<Message> {
    let name = text(evidence, "name").map_or_else(|| name_or(resource, ""), bounded);
    if name.is_empty() {
        return None;
    }
    let server = text(evidence, "server").map(server_address);
    let code = text(evidence, "response_code");
    Some(match (server, code) {
        (Some(server), Some("NXDOMAIN")) => {
            msg!("title-dns-not-found", "name" => name, "server" => server)
        }
        (Some(server), Some(code)) if code != "NOERROR" => msg!(
            "title-dns-server-error",
            "name" => name,
            "server" => server,
            "code" => bounded(code)
        ),
        (None, _) if !list(evidence, "errors").is_empty() => {
            msg!("title-dns-no-answer", "name" => name)
        }
        _ => msg!("title-dns-unresolved", "name" => name),
    })
}

/// `https.reachable`: the site's host, and the stage that failed (`failed_stage`, the HTTP
/// status; the OS's error only to tell a refusal from a timeout).
fn web(resource: &str, evidence: &Value) -> Option<Message> {
    let target = web_target(text(evidence, "url").unwrap_or(resource));
    if target.is_empty() {
        return None;
    }
    let status = evidence["http_status"].as_u64();
    Some(match (text(evidence, "failed_stage"), status) {
        (Some("url"), _) => msg!("title-web-bad-address", "target" => target),
        (Some("tls"), _) => msg!("title-web-tls", "target" => target),
        (Some("http"), Some(status)) => {
            msg!("title-web-http-status", "target" => target, "status" => status)
        }
        (Some("http"), None) => msg!("title-web-no-answer", "target" => target),
        (stage, _) => reach(target, stage, text(evidence, "error")),
    })
}

/// `tcp.connect`: the endpoint, and the stage that failed.
fn tcp(resource: &str, evidence: &Value) -> Option<Message> {
    let target = text(evidence, "endpoint").map_or_else(|| name_or(resource, ""), bounded);
    if target.is_empty() || looks_raw(&target) {
        return None;
    }
    Some(reach(
        target,
        text(evidence, "failed_stage"),
        text(evidence, "error"),
    ))
}

/// A connection that failed at `stage`: the OS's words only choose between a refusal and
/// a timeout, they are never shown.
fn reach(target: String, stage: Option<&str>, error: Option<&str>) -> Message {
    let error = error.unwrap_or_default().to_lowercase();
    match stage {
        Some("resolve") if error.contains("timed out") => {
            msg!("title-reach-timeout", "target" => target)
        }
        Some("resolve") => msg!("title-reach-no-name", "target" => target),
        _ if error.contains("refused") => msg!("title-reach-refused", "target" => target),
        _ if error.contains("timed out") || error.contains("no answer") => {
            msg!("title-reach-timeout", "target" => target)
        }
        _ => msg!("title-reach-unreachable", "target" => target),
    }
}

/// `https.cert_expiry_days`: the site's host and `days_left` (none: it could not be read).
fn certificate(resource: &str, evidence: &Value) -> Option<Message> {
    let target = web_target(text(evidence, "url").unwrap_or(resource));
    if target.is_empty() {
        return None;
    }
    Some(match number(evidence, "days_left") {
        None => msg!("title-cert-unreadable", "target" => target),
        Some(days) if days < 0.0 => {
            msg!("title-cert-expired", "target" => target, "days" => (-days).ceil())
        }
        Some(days) if days < 1.0 => msg!("title-cert-expires-today", "target" => target),
        Some(days) => msg!("title-cert-expires", "target" => target, "days" => days.floor()),
    })
}

/// `disk.used_pct`, `disk.inodes_used_pct`: the mount (a drive letter without its
/// backslash) and the percentage used.
fn disk(check: &str, resource: &str, evidence: &Value) -> Option<Message> {
    let disk = disk_name(text(evidence, "mount_point").unwrap_or(resource));
    if disk.is_empty() {
        return None;
    }
    Some(if check == "disk.used_pct" {
        msg!("title-disk-full", "disk" => disk, "pct" => percent(evidence, "used_pct")?)
    } else {
        msg!("title-disk-inodes", "disk" => disk, "pct" => percent(evidence, "inodes_used_pct")?)
    })
}

/// `memory.available_pct`, `memory.swap_used_pct`.
fn memory(check: &str, evidence: &Value) -> Option<Message> {
    Some(if check == "memory.available_pct" {
        msg!("title-memory-low", "pct" => percent(evidence, "available_pct")?)
    } else {
        msg!("title-swap-full", "pct" => percent(evidence, "swap_used_pct")?)
    })
}

/// `cpu.usage_pct`: the usage and the busiest process (`top_by_cpu`), by its name.
fn cpu(evidence: &Value) -> Option<Message> {
    let pct = percent(evidence, "usage_pct")?;
    let busiest = evidence["top_by_cpu"]
        .as_array()
        .and_then(|processes| processes.first())
        .and_then(|process| process["name"].as_str())
        .map(app_file_name)
        .filter(|name| !name.is_empty());
    Some(match busiest {
        Some(process) => msg!("title-cpu-busy-process", "pct" => pct, "process" => process),
        None => msg!("title-cpu-busy", "pct" => pct),
    })
}

/// `thermal.temperature_c`: the sensor's label and its temperature.
fn thermal(resource: &str, evidence: &Value) -> Option<Message> {
    let sensor = text(evidence, "sensor").map_or_else(|| name_or(resource, ""), bounded);
    if sensor.is_empty() || looks_raw(&sensor) {
        return None;
    }
    Some(msg!(
        "title-thermal-hot",
        "sensor" => sensor,
        "celsius" => number(evidence, "temperature_c")?.round()
    ))
}

/// `battery.health_pct`: the battery's name and how much of its design capacity it holds.
fn battery(resource: &str, evidence: &Value) -> Option<Message> {
    let battery = text(evidence, "battery").map_or_else(|| name_or(resource, ""), bounded);
    if battery.is_empty() || looks_raw(&battery) {
        return None;
    }
    Some(msg!(
        "title-battery-worn",
        "battery" => battery,
        "pct" => percent(evidence, "health_pct")?
    ))
}

/// `smart.failing`: the disk by its model, else by its device's name (`sda`, not `/dev/sda`).
fn smart(resource: &str, evidence: &Value) -> Option<Message> {
    let disk = text(evidence, "model")
        .map(bounded)
        .filter(|model| !looks_raw(model))
        .unwrap_or_else(|| app_file_name(text(evidence, "device").unwrap_or(resource)));
    (!disk.is_empty()).then(|| msg!("title-smart-failing", "disk" => disk))
}

/// `service.not_running`: the service's name and whether it is missing, failed or stopped.
fn service(resource: &str, evidence: &Value) -> Option<Message> {
    let service = text(evidence, "service").map_or_else(|| name_or(resource, ""), bounded);
    if service.is_empty() || looks_raw(&service) {
        return None;
    }
    Some(
        match (text(evidence, "load_state"), text(evidence, "active_state")) {
            (Some("not-found"), _) => msg!("title-service-missing", "service" => service),
            (_, Some("failed")) => msg!("title-service-failed", "service" => service),
            _ => msg!("title-service-stopped", "service" => service),
        },
    )
}

/// `clock.skew_secs`: `skew_ms`, the collector's clock minus ours (positive: ours is behind).
fn clock(evidence: &Value) -> Option<Message> {
    let skew_ms = number(evidence, "skew_ms")?;
    let seconds = (skew_ms.abs() / 1000.0).round();
    let behind = skew_ms > 0.0;
    Some(match (behind, seconds >= 120.0) {
        (true, false) => msg!("title-clock-behind", "seconds" => seconds),
        (false, false) => msg!("title-clock-ahead", "seconds" => seconds),
        (true, true) => msg!("title-clock-behind-minutes", "minutes" => (seconds / 60.0).round()),
        (false, true) => msg!("title-clock-ahead-minutes", "minutes" => (seconds / 60.0).round()),
    })
}

/// `network.*`: the gateway (its loss, its round trips) or the collector's endpoint.
fn network(check: &str, resource: &str, evidence: &Value) -> Option<Message> {
    let gateway = || text(evidence, "gateway").map_or_else(|| name_or(resource, ""), bounded);
    match check {
        "network.gateway_missing" => Some(msg!("title-gateway-missing")),
        "network.gateway_loss_pct" => {
            let gateway = gateway();
            if gateway.is_empty() {
                return None;
            }
            Some(match percent(evidence, "loss_pct") {
                Some(pct) => msg!("title-gateway-loss", "gateway" => gateway, "pct" => pct),
                None => msg!("title-gateway-unmeasured", "gateway" => gateway),
            })
        }
        "network.gateway_rtt_ms" => {
            let gateway = gateway();
            let rtts: Vec<f64> = evidence["rtt_ms"]
                .as_array()?
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            if gateway.is_empty() || rtts.is_empty() {
                return None;
            }
            #[allow(clippy::cast_precision_loss)] // a handful of pings
            let average = rtts.iter().sum::<f64>() / rtts.len() as f64;
            Some(msg!("title-gateway-slow", "gateway" => gateway, "ms" => average.round()))
        }
        "network.collector_unreachable" => {
            let target = text(evidence, "endpoint").map_or_else(|| name_or(resource, ""), bounded);
            (!target.is_empty() && !looks_raw(&target))
                .then(|| msg!("title-collector-unreachable", "target" => target))
        }
        "network.collector_latency_ms" => Some(msg!(
            "title-collector-slow",
            "ms" => number(evidence, "connect_ms")?.round()
        )),
        _ => None,
    }
}

/// `crash.new_file`: the application (the file stem of the program, never a path), how many
/// crash reports and in what window.
fn crash(resource: &str, summary: &str, evidence: &Value) -> Option<Message> {
    let app = app_name(text(evidence, "application").unwrap_or(resource));
    let count = evidence["count"].as_u64()?;
    if app.is_empty() || count == 0 {
        return None;
    }
    Some(
        match window_secs(evidence, summary) {
            Some(secs) if secs % 3600 == 0 => msg!("title-crash-hours", "hours" => secs / 3600),
            Some(secs) if secs % 60 == 0 => msg!("title-crash-minutes", "minutes" => secs / 60),
            _ => msg!("title-crash"),
        }
        .arg("app", app)
        .arg("count", count),
    )
}

/// `log.match`: the watch's name and how many lines matched (the lines stay in evidence).
fn log_match(resource: &str, summary: &str, evidence: &Value) -> Option<Message> {
    let watch = text(evidence, "watch").map_or_else(|| name_or(resource, ""), bounded);
    let count = evidence["count"].as_u64()?;
    if watch.is_empty() || looks_raw(&watch) || count == 0 {
        return None;
    }
    Some(
        match window_secs(evidence, summary) {
            Some(secs) if secs % 3600 == 0 => msg!("title-log-hours", "hours" => secs / 3600),
            Some(secs) if secs % 60 == 0 => msg!("title-log-minutes", "minutes" => secs / 60),
            _ => msg!("title-log"),
        }
        .arg("watch", watch)
        .arg("count", count),
    )
}

/// A watch's window: `window_secs` in the evidence, else the "in the last 1h" its summary
/// ends with (the agent's own format, not an OS error).
fn window_secs(evidence: &Value, summary: &str) -> Option<u64> {
    if let Some(secs) = evidence["window_secs"].as_u64() {
        return Some(secs).filter(|secs| *secs > 0);
    }
    let (_, rest) = summary.split_once(" in the last ")?;
    let window = rest.split(" (").next()?.trim();
    humantime::parse_duration(window)
        .ok()
        .map(|window| window.as_secs())
        .filter(|secs| *secs > 0)
}

/// `agent.*`: the agent's own health; the folder and the OS's error stay in evidence.
fn agent(check: &str, evidence: &Value) -> Option<Message> {
    match check {
        "agent.outbox_evicted" => Some(msg!(
            "title-agent-outbox-evicted",
            "count" => evidence["evicted_now"].as_u64().filter(|n| *n > 0)?
        )),
        "agent.outbox_damaged" => Some(match evidence["records_lost"].as_u64() {
            Some(lost) if lost > 0 => msg!("title-agent-outbox-damaged-lost", "lost" => lost),
            _ => msg!("title-agent-outbox-damaged"),
        }),
        "agent.config_invalid" => Some(msg!("title-agent-config-invalid")),
        "agent.state_dir_full" => Some(if evidence["full"].as_bool() == Some(true) {
            msg!("title-agent-disk-full")
        } else {
            msg!("title-agent-state-unwritable")
        }),
        _ => None,
    }
}

/// Any other check, or one whose evidence lacks what its family needs: the agent's summary
/// when it reads as plain words, else the check's name (and the resource, when plain).
fn generic(check: &str, resource: &str, summary: &str) -> Message {
    let summary = summary.trim();
    if !summary.is_empty() && !looks_raw(summary) {
        return msg!("title-summary", "summary" => bounded(summary));
    }
    let resource = resource.trim();
    if !resource.is_empty() && !looks_raw(resource) {
        return msg!(
            "title-check-failing-on",
            "check" => bounded(check),
            "resource" => bounded(resource)
        );
    }
    msg!("title-check-failing", "check" => bounded(check))
}

/// Phrases of operating-system and library errors: a title never shows them.
const RAW_PHRASES: [&str; 16] = [
    "os error",
    "failed to lookup",
    "name or service not known",
    "no such file",
    "nodename nor servname",
    "temporary failure in name resolution",
    "connection refused",
    "connection reset",
    "timed out",
    "permission denied",
    "access is denied",
    "errno",
    "error:",
    "panicked",
    "cannot find the file",
    "the system cannot",
];

/// Whether `text` reads as an OS error or holds a file path (`C:\…`, `/home/…`, `~/…`), a
/// URL's path, or a control character: not for a title.
pub fn looks_raw(text: &str) -> bool {
    let lower = text.to_lowercase();
    if RAW_PHRASES.iter().any(|phrase| lower.contains(phrase)) {
        return true;
    }
    if text.contains('\\') || text.chars().any(char::is_control) {
        return true;
    }
    // A path: a word that starts at a slash (or `~/`) and has another one further on.
    text.split_whitespace().any(|word| {
        let word = word.trim_start_matches(['(', '"', '\'', '“', '[']);
        let rest = word
            .strip_prefix("~/")
            .or_else(|| word.strip_prefix('/'))
            .or_else(|| word.split_once("://").map(|(_, rest)| rest));
        rest.is_some_and(|rest| rest.trim_end_matches('/').contains('/'))
    })
}

/// A text field of the evidence, trimmed; none when absent or blank.
fn text<'a>(evidence: &'a Value, key: &str) -> Option<&'a str> {
    evidence[key]
        .as_str()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// A list field of the evidence (empty when absent).
fn list<'a>(evidence: &'a Value, key: &str) -> &'a [Value] {
    evidence[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A finite number of the evidence.
fn number(evidence: &Value, key: &str) -> Option<f64> {
    evidence[key].as_f64().filter(|value| value.is_finite())
}

/// A percentage of the evidence, as a whole number.
fn percent(evidence: &Value, key: &str) -> Option<f64> {
    number(evidence, key).map(|pct| pct.round().clamp(0.0, 100.0))
}

/// Words from a device, without control characters, cut short with "…".
fn bounded(value: &str) -> String {
    let clean: String = value
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= MAX_ARG_CHARS {
        return clean;
    }
    let mut cut: String = clean.chars().take(MAX_ARG_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// `value` when it is plain, else `fallback`.
fn name_or(value: &str, fallback: &str) -> String {
    let value = value.trim();
    if value.is_empty() || looks_raw(value) {
        fallback.to_owned()
    } else {
        bounded(value)
    }
}

/// A web address's host, with its port when it is not the default one.
fn web_target(url: &str) -> String {
    let host = super::web_host(url);
    let host = host.strip_suffix(":443").unwrap_or(&host);
    name_or(host, "")
}

/// A DNS server as an address: `192.0.2.53:53` is `192.0.2.53`, `[2001:db8::1]:53` is
/// `2001:db8::1`.
fn server_address(server: &str) -> String {
    let server = server.trim();
    let address = match server.parse::<std::net::SocketAddr>() {
        Ok(address) => address.ip().to_string(),
        Err(_) => server.to_owned(),
    };
    bounded(&address)
}

/// A disk as people name it: `C:` for `C:\`, a mount point as it is.
fn disk_name(mount: &str) -> String {
    let mount = mount.trim();
    let drive = mount.trim_end_matches(['\\', '/']);
    if drive.len() == 2 && drive.ends_with(':') {
        return drive.to_uppercase();
    }
    name_or(mount, "")
}

/// A file's name without its folders: `C:\Program Files\Office\OUTLOOK.EXE` is `OUTLOOK.EXE`.
fn app_file_name(path: &str) -> String {
    let name = path.trim().rsplit(['/', '\\']).next().unwrap_or_default();
    bounded(name)
}

/// An application as people name it: the file stem of its program (`outlook.exe` is
/// `Outlook`), with an apport-style encoded path (`_usr_bin_firefox`) down to its last part.
pub fn app_name(resource: &str) -> String {
    let file = app_file_name(resource);
    let file = match file.strip_prefix('_') {
        Some(encoded) => encoded.rsplit('_').next().unwrap_or(encoded).to_owned(),
        None => file,
    };
    let stem = match file.rsplit_once('.') {
        Some((stem, extension))
            if !stem.is_empty()
                && ["exe", "app", "bin", "com"]
                    .contains(&extension.to_ascii_lowercase().as_str()) =>
        {
            stem
        }
        _ => file.as_str(),
    };
    // Windows Error Reporting lowercases names: give them back a capital.
    if stem.chars().all(|c| !c.is_uppercase()) {
        let mut chars = stem.chars();
        return match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
    }
    stem.to_owned()
}

#[cfg(test)]
mod tests;
