//! "I can't open the intranet": link up → address → gateway → DNS (which server, what answer)
//! → TCP → TLS (certificate, expiry, name) → HTTP status and time. The first layer that fails
//! is the likely cause; layers a reached site did not need (a gateway for a local server) are
//! only warnings.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::target::{Scheme, WebTarget};
use firstline_i18n::msg;

use super::{Context, Outcome, Step, Steps, Verdict};
use crate::probes::{dns, gateway, https, ping, tcp};

pub async fn run(target: Option<&str>, context: &Context) -> (Vec<Step>, Verdict) {
    let mut steps = Steps::default();
    let Some(target) = target.map(str::trim).filter(|t| !t.is_empty()) else {
        let started = Instant::now();
        steps.push(
            "url",
            "find the address to test",
            started,
            Outcome::Fail,
            "no web address was given (say which site, e.g. https://intranet.example.com)",
            json!({}),
        );
        return (
            steps.steps,
            Verdict::new(
                "Which site? Give its address, e.g. https://intranet.example.com",
                msg!("said-web-which-site"),
            )
            .advise(msg!("advice-web-give-address")),
        );
    };
    // Strictly: nothing from the user's words or a request may reach a request line or a
    // header unchecked (a CR/LF in a target once made this playbook send arbitrary HTTP).
    let parsed = match WebTarget::parse(target) {
        Ok(parsed) => parsed,
        Err(e) => {
            let started = Instant::now();
            steps.push(
                "url",
                "read the web address",
                started,
                Outcome::Fail,
                e.clone(),
                json!({}),
            );
            return (
                steps.steps,
                Verdict::new(
                    format!("That is not a web address I can test: {e}"),
                    msg!("said-web-bad-address"),
                )
                .advise(msg!("advice-web-give-address")),
            );
        }
    };
    let url = parsed.url();
    let (host, port) = (parsed.host.clone(), parsed.port);
    let plain = parsed.scheme == Scheme::Http;

    link(&mut steps);
    address(&mut steps);
    let gateway = gateway_step(&mut steps, context).await;
    let Some(ip) = resolve(&mut steps, &host, context).await else {
        return finish(steps, &url, &host, port);
    };
    if plain {
        http_plain(&mut steps, &parsed, SocketAddr::new(ip, port), context).await;
    } else {
        secure(&mut steps, &url, SocketAddr::new(ip, port), context).await;
    }
    // A site that answered did not need what failed before it (a gateway for a local server).
    let reached = steps
        .steps
        .iter()
        .any(|step| step.layer == "http" && step.outcome == Outcome::Pass);
    let local = ip.is_loopback() || is_private(ip);
    for step in &mut steps.steps {
        let optional = matches!(step.layer, "link" | "address" | "gateway");
        if optional
            && step.outcome == Outcome::Fail
            && (reached || (local && step.layer == "gateway"))
        {
            step.outcome = Outcome::Warn;
        }
    }
    let _ = gateway;
    finish(steps, &url, &host, port)
}

/// The conclusion: the first failing layer in plain words, or that the site works.
fn finish(steps: Steps, url: &str, host: &str, port: u16) -> (Vec<Step>, Verdict) {
    let failed = steps
        .steps
        .iter()
        .find(|step| step.outcome == Outcome::Fail);
    let verdict = match failed {
        None => {
            let http = steps.steps.iter().find(|step| step.layer == "http");
            let conclusion = match http {
                Some(step) => format!("{url} works from this computer: {}", step.detail),
                None => format!("{url} works from this computer"),
            };
            Verdict::new(conclusion, msg!("said-web-works", "site" => host))
                .advise(msg!("advice-web-reload"))
        }
        Some(step) => match step.layer {
            "link" | "address" | "gateway" => local_network_verdict(step),
            // A server that answered without an address: the name is unknown; none
            // answering: the address book itself is unreachable.
            "dns" if step.evidence["server"].is_null() => Verdict::new(
                format!("The name {host} cannot be looked up: {}", step.detail),
                msg!("said-web-dns-silent", "site" => host),
            )
            .advise(msg!("advice-net-reconnect"))
            .advise(msg!("advice-vpn-first"))
            .advise(msg!("advice-wait-for-it")),
            "dns" => Verdict::new(
                format!("The name {host} cannot be looked up: {}", step.detail),
                msg!("said-web-name-unknown", "site" => host),
            )
            .advise(msg!("advice-web-check-spelling", "site" => host))
            .advise(msg!("advice-vpn-first"))
            .advise(msg!("advice-wait-for-it")),
            "tcp" => Verdict::new(
                format!(
                    "{host} was found but nothing accepts connections on port {port}: the service is down or a firewall blocks it ({})",
                    step.detail
                ),
                msg!("said-web-refused", "site" => host),
            )
            .advise(msg!("advice-wait-for-it")),
            "tls" => Verdict::new(
                format!("The secure connection to {host} fails: {}", step.detail),
                msg!("said-web-insecure", "site" => host),
            )
            .advise(msg!("advice-web-no-click-through"))
            .advise(msg!("advice-wait-for-it")),
            "http" => Verdict::new(
                format!("{host} answers, but with an error: {}", step.detail),
                msg!("said-web-error-page", "site" => host),
            )
            .advise(msg!("advice-web-reload"))
            .advise(msg!("advice-wait-for-it")),
            _ => Verdict::new(step.detail.clone(), msg!("said-test-failed"))
                .advise(msg!("advice-wait-for-it")),
        },
    };
    (steps.steps, verdict)
}

/// This computer's own connection failed at `step` (link, address or gateway).
pub(super) fn local_network_verdict(step: &Step) -> Verdict {
    match step.layer {
        "link" => Verdict::new(
            "This computer has no working network connection: no network adapter is up. Check the cable or the Wi-Fi.",
            msg!("said-net-no-link"),
        )
        .advise(msg!("advice-net-cable-wifi")),
        "address" => Verdict::new(
            "The network adapter has no IP address: the network (DHCP) did not give it one.",
            msg!("said-net-no-address"),
        )
        .advise(msg!("advice-net-reconnect"))
        .advise(msg!("advice-net-restart-router")),
        _ => Verdict::new(
            format!("The local network's router does not answer: {}", step.detail),
            msg!("said-net-no-router"),
        )
        .advise(msg!("advice-net-restart-router"))
        .advise(msg!("advice-net-reconnect")),
    }
}

pub(super) fn link(steps: &mut Steps) {
    let started = Instant::now();
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        steps.push(
            "link",
            "look at the network adapters",
            started,
            Outcome::Skip,
            "this system does not list adapters in /sys/class/net",
            json!({}),
        );
        return;
    };
    let mut adapters = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "lo" {
            continue;
        }
        let state = std::fs::read_to_string(entry.path().join("operstate"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        adapters.push((name, state));
    }
    adapters.sort();
    let up: Vec<&str> = adapters
        .iter()
        .filter(|(_, state)| state == "up" || state == "unknown")
        .map(|(name, _)| name.as_str())
        .collect();
    let outcome = if up.is_empty() {
        Outcome::Fail
    } else {
        Outcome::Pass
    };
    let detail = if up.is_empty() {
        format!("no adapter is up ({} found)", adapters.len())
    } else {
        format!("up: {}", up.join(", "))
    };
    steps.push(
        "link",
        "look at the network adapters",
        started,
        outcome,
        detail,
        json!({ "adapters": adapters }),
    );
}

pub(super) fn address(steps: &mut Steps) {
    let started = Instant::now();
    let mut addresses = Vec::new();
    let networks = match sysinfo::Networks::new_with_refreshed_list() {
        Ok(networks) => networks,
        Err(e) => {
            steps.push(
                "address",
                "look for an IP address",
                started,
                Outcome::Skip,
                e.to_string(),
                json!({}),
            );
            return;
        }
    };
    for (name, data) in networks.iter() {
        for network in data.ip_networks() {
            if !network.addr.is_loopback() && !is_link_local(network.addr) {
                addresses.push(format!(
                    "{} {}/{}",
                    name.to_string_lossy(),
                    network.addr,
                    network.prefix
                ));
            }
        }
    }
    addresses.sort();
    let outcome = if addresses.is_empty() {
        Outcome::Fail
    } else {
        Outcome::Pass
    };
    let detail = if addresses.is_empty() {
        "no adapter has an IP address".to_owned()
    } else {
        addresses.join(", ")
    };
    steps.push(
        "address",
        "look for an IP address",
        started,
        outcome,
        detail,
        json!({ "addresses": addresses }),
    );
}

pub(super) async fn gateway_step(steps: &mut Steps, context: &Context) -> Option<IpAddr> {
    let started = Instant::now();
    if !context.ping_gateway {
        steps.push(
            "gateway",
            "ping the default gateway",
            started,
            Outcome::Skip,
            "pinging the gateway is off in this agent's config ([checks.network] ping_gateway = false)",
            json!({}),
        );
        return None;
    }
    let routes = match gateway::default_routes() {
        Ok(routes) => routes,
        Err(e) => {
            steps.push(
                "gateway",
                "find the default gateway",
                started,
                Outcome::Skip,
                e,
                json!({}),
            );
            return None;
        }
    };
    let Some(route) = routes.first() else {
        steps.push(
            "gateway",
            "find the default gateway",
            started,
            Outcome::Fail,
            "there is no default route",
            json!({}),
        );
        return None;
    };
    let target = IpAddr::V4(route.gateway);
    let timeout = context.timeout.min(std::time::Duration::from_secs(2));
    let pinged = tokio::task::spawn_blocking(move || ping::ping(target, 2, timeout)).await;
    match pinged {
        Ok(Ok(result)) if result.loss_pct() < 100.0 => steps.push(
            "gateway",
            format!("ping the gateway {target}"),
            started,
            Outcome::Pass,
            format!(
                "{target} answered ({:.0}% loss, {:.1} ms)",
                result.loss_pct(),
                result.average_rtt_ms().unwrap_or_default()
            ),
            serde_json::to_value(&result).unwrap_or_default(),
        ),
        Ok(Ok(result)) => steps.push(
            "gateway",
            format!("ping the gateway {target}"),
            started,
            Outcome::Fail,
            format!("{target} did not answer any ping"),
            serde_json::to_value(&result).unwrap_or_default(),
        ),
        // No permission to ping is not a network fault.
        Ok(Err(e)) => steps.push(
            "gateway",
            format!("ping the gateway {target}"),
            started,
            Outcome::Skip,
            e,
            json!({ "gateway": target }),
        ),
        Err(e) => steps.push(
            "gateway",
            format!("ping the gateway {target}"),
            started,
            Outcome::Skip,
            e.to_string(),
            json!({}),
        ),
    }
    Some(target)
}

/// The address to connect to: an IP literal as is, else the configured DNS servers, else the
/// system's resolver (hosts file included).
pub(super) async fn resolve(steps: &mut Steps, host: &str, context: &Context) -> Option<IpAddr> {
    let started = Instant::now();
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        steps.push(
            "dns",
            format!("look up {host}"),
            started,
            Outcome::Skip,
            "an IP address needs no lookup",
            json!({ "address": ip }),
        );
        return Some(ip);
    }
    // RFC 6761: localhost names are loopback, whatever a resolver says.
    let lowercase = host.to_ascii_lowercase();
    if lowercase == "localhost" || lowercase.ends_with(".localhost") {
        let ip = IpAddr::from([127, 0, 0, 1]);
        steps.push(
            "dns",
            format!("look up {host}"),
            started,
            Outcome::Pass,
            format!("{host} is this computer ({ip})"),
            json!({ "address": ip }),
        );
        return Some(ip);
    }
    let servers: Vec<String> = context
        .dns_servers
        .iter()
        .map(ToString::to_string)
        .collect();
    let resolution = dns::resolve(host, &context.dns_servers, context.timeout).await;
    let evidence = serde_json::to_value(&resolution).unwrap_or_default();
    if let Some(ip) = resolution.addresses.first().copied() {
        let answered: Vec<String> = resolution
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect();
        steps.push(
            "dns",
            format!("look up {host} with {}", servers.join(", ")),
            started,
            Outcome::Pass,
            format!(
                "{host} is {} (answered by {})",
                answered.join(", "),
                resolution
                    .server
                    .map_or_else(|| "?".to_owned(), |server| server.to_string())
            ),
            evidence,
        );
        return Some(ip);
    }
    // The hosts file and the system's own resolver may know names DNS does not.
    if context.system_resolver
        && let Ok(Ok(mut addresses)) =
            tokio::time::timeout(context.timeout, tokio::net::lookup_host((host, 0))).await
        && let Some(address) = addresses.next()
    {
        steps.push(
            "dns",
            format!(
                "look up {host} with {} and the system resolver",
                servers.join(", ")
            ),
            started,
            Outcome::Pass,
            format!("{host} is {} (system resolver)", address.ip()),
            evidence,
        );
        return Some(address.ip());
    }
    let why = resolution
        .failure()
        .unwrap_or_else(|| "no server gave an address".to_owned());
    steps.push(
        "dns",
        format!("look up {host} with {}", servers.join(", ")),
        started,
        Outcome::Fail,
        why,
        evidence,
    );
    None
}

/// TCP, TLS and HTTP over TLS, from one probe run, as three steps.
pub(super) async fn secure(steps: &mut Steps, url: &str, address: SocketAddr, context: &Context) {
    let started = Instant::now();
    let result = https::check_via(url, Some(address), context.roots.clone(), context.timeout).await;
    let connect = result.connect.clone();
    let tcp_ok = connect.as_ref().is_some_and(|c| c.connected.is_some());
    steps.push(
        "tcp",
        format!("connect to {address}"),
        started,
        if tcp_ok { Outcome::Pass } else { Outcome::Fail },
        match &connect {
            Some(c) if c.connected.is_some() => {
                format!("connected in {:.1} ms", c.connect_ms.unwrap_or_default())
            }
            Some(c) => c
                .error
                .clone()
                .unwrap_or_else(|| "no connection".to_owned()),
            None => result.error.clone().unwrap_or_default(),
        },
        serde_json::to_value(&connect).unwrap_or_default(),
    );
    if !tcp_ok {
        return;
    }
    let certificate = serde_json::to_value(&result.certificate).unwrap_or_default();
    let tls_failed = result.failed_stage == Some("tls");
    let tls_detail = if tls_failed {
        describe_tls_failure(&result)
    } else {
        match &result.certificate {
            Some(cert) => format!(
                "certificate for {} valid for {:.0} more days (issued by {})",
                cert.names.join(", "),
                cert.days_left,
                cert.issuer
            ),
            None => "handshake completed".to_owned(),
        }
    };
    steps.push(
        "tls",
        format!("TLS handshake with {}", result.host),
        started,
        if tls_failed {
            Outcome::Fail
        } else {
            Outcome::Pass
        },
        tls_detail,
        json!({ "certificate": certificate, "tls_ms": result.tls_ms, "error": result.error }),
    );
    if tls_failed {
        return;
    }
    let http_ok = result.ok();
    let detail = match (result.http_status, &result.error) {
        (Some(status), _) => format!("HTTP {status} in {:.0} ms", result.total_ms),
        (None, Some(error)) => error.clone(),
        (None, None) => "no HTTP answer".to_owned(),
    };
    steps.push(
        "http",
        format!("GET {url}"),
        started,
        if http_ok {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        detail,
        json!({ "status": result.http_status, "total_ms": result.total_ms }),
    );
}

/// Why TLS failed, in words a technician would use.
fn describe_tls_failure(result: &https::HttpsResult) -> String {
    let error = result.error.clone().unwrap_or_default();
    let lower = error.to_lowercase();
    match &result.certificate {
        Some(cert) if cert.days_left < 0.0 => format!(
            "the server's certificate expired {:.0} day(s) ago ({})",
            -cert.days_left, cert.subject
        ),
        Some(cert) if lower.contains("notvalidforname") || lower.contains("not valid for name") => {
            format!(
                "the server's certificate is for {}, not for {}",
                cert.names.join(", "),
                result.host
            )
        }
        Some(cert) if lower.contains("unknownissuer") || lower.contains("unknown issuer") => {
            format!(
                "the server's certificate was issued by {}, which this computer does not trust",
                cert.issuer
            )
        }
        _ => error,
    }
}

/// Plain HTTP: TCP, then the status line.
pub(super) async fn http_plain(
    steps: &mut Steps,
    target: &WebTarget,
    address: SocketAddr,
    context: &Context,
) {
    let started = Instant::now();
    let (connect, stream) = tcp::connect(&address.to_string(), context.timeout).await;
    let detail = match (&connect.connect_ms, &connect.error) {
        (Some(ms), _) => format!("connected in {ms:.1} ms"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no connection".to_owned(),
    };
    steps.push(
        "tcp",
        format!("connect to {address}"),
        started,
        if stream.is_some() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        detail,
        serde_json::to_value(&connect).unwrap_or_default(),
    );
    let Some(mut stream) = stream else {
        return;
    };
    steps.push(
        "tls",
        "TLS",
        Instant::now(),
        Outcome::Skip,
        "plain http:// has no TLS",
        json!({}),
    );
    // Every part was checked by `WebTarget::parse`: no line breaks, no spaces.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority()
    );
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0u8; 1024];
        let read = stream.read(&mut head).await?;
        head.truncate(read);
        Ok::<_, std::io::Error>(head)
    };
    let (outcome, detail, status) = match tokio::time::timeout(context.timeout, exchange).await {
        Ok(Ok(head)) => {
            let status = String::from_utf8_lossy(&head)
                .split_whitespace()
                .nth(1)
                .and_then(|code| code.parse::<u16>().ok());
            match status {
                Some(code) if code < 500 => (Outcome::Pass, format!("HTTP {code}"), Some(code)),
                Some(code) => (Outcome::Fail, format!("HTTP {code}"), Some(code)),
                None => (Outcome::Fail, "no HTTP status line".to_owned(), None),
            }
        }
        Ok(Err(e)) => (Outcome::Fail, e.to_string(), None),
        Err(_) => (
            Outcome::Fail,
            format!("no answer within {:?}", context.timeout),
            None,
        ),
    };
    steps.push(
        "http",
        format!("GET {}", target.url()),
        started,
        outcome,
        detail,
        json!({ "status": status }),
    );
}

pub(super) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::Duration;

    use super::*;
    use crate::checks::ChecksFile;

    fn context() -> Context {
        Context {
            dns_servers: Vec::new(),
            system_resolver: false,
            ping_gateway: false,
            roots: https::roots(None).expect("roots"),
            timeout: Duration::from_secs(2),
            slow_window: Duration::from_secs(1),
            printers: Vec::new(),
            mail: Vec::new(),
            crash_dirs: Vec::new(),
            clock_skew_ms: None,
            checks: ChecksFile::default(),
            collector: None,
            probe_url: None,
        }
    }

    /// A hostile collector's reproduce target with CR/LF once made this playbook send whatever
    /// HTTP it liked to whatever it pointed at. Now the target is refused and nothing is sent.
    #[tokio::test]
    async fn a_target_with_a_line_break_sends_nothing() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        for target in [
            format!("http://127.0.0.1:{port}/\r\nX-Injected: 1\r\n\r\nDELETE /all HTTP/1.1"),
            format!("http://127.0.0.1:{port}/a\nb"),
            format!("http://127.0.0.1:{port}/a b HTTP/1.0"),
            format!("http://127.0.0.1:{port}/\u{1b}[2J"),
        ] {
            let (steps, verdict) = run(Some(&target), &context()).await;
            assert_eq!(steps.len(), 1, "{target:?}: {steps:#?}");
            assert_eq!(steps[0].layer, "url");
            assert_eq!(steps[0].outcome, Outcome::Fail);
            assert!(
                verdict.conclusion.contains("not a web address"),
                "{verdict:?}"
            );
            // The playbook has finished: a connection it made would be waiting here.
            let accepted = listener.accept();
            assert!(
                matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "{target:?} reached the server: {accepted:?}"
            );
        }
    }

    #[tokio::test]
    async fn plain_http_sends_one_well_formed_request() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            use std::io::Write;
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
            String::from_utf8_lossy(&request).into_owned()
        });
        let target = format!("http://127.0.0.1:{port}/wiki/Über?x=1#top");
        let (steps, verdict) = run(Some(&target), &context()).await;
        let request = server.join().expect("server");
        assert_eq!(
            request,
            format!(
                "GET /wiki/%C3%9Cber?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            )
        );
        assert!(
            verdict.conclusion.contains("works"),
            "{verdict:?}: {steps:#?}"
        );
    }
}
