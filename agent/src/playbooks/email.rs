//! "I get no email": each configured mail endpoint (`[playbooks] mail`), reached over TCP, with
//! TLS on the implicit-TLS ports (465, 993, 995) and the server's greeting elsewhere.

use std::time::Instant;

use serde_json::json;
use tokio::io::AsyncReadExt;

use firstline_i18n::msg;

use super::{Context, Outcome, Step, Steps, Verdict};
use crate::probes::{https, tcp};

pub async fn run(context: &Context) -> (Vec<Step>, Verdict) {
    let mut steps = Steps::default();
    let mut failing = Vec::new();
    if context.mail.is_empty() {
        steps.push(
            "mail",
            "reach the mail servers",
            Instant::now(),
            Outcome::Skip,
            "no mail servers are configured ([playbooks] mail)",
            json!({}),
        );
        return (
            steps.steps,
            Verdict::new(
                "No mail servers are configured to test; ask your administrator to list them.",
                msg!("said-mail-not-set-up"),
            )
            .advise(msg!("advice-mail-restart"))
            .advise(msg!("advice-wait-for-it")),
        );
    }
    for endpoint in &context.mail {
        let started = Instant::now();
        let (connect, stream) = tcp::connect(endpoint, context.timeout).await;
        let Some(mut stream) = stream else {
            failing.push(format!("{endpoint} does not accept connections"));
            steps.push(
                "tcp",
                format!("connect to {endpoint}"),
                started,
                Outcome::Fail,
                connect.error.clone().unwrap_or_default(),
                serde_json::to_value(&connect).unwrap_or_default(),
            );
            continue;
        };
        steps.push(
            "tcp",
            format!("connect to {endpoint}"),
            started,
            Outcome::Pass,
            format!(
                "connected in {:.1} ms",
                connect.connect_ms.unwrap_or_default()
            ),
            serde_json::to_value(&connect).unwrap_or_default(),
        );
        let port = endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or(0);
        let host = endpoint
            .rsplit_once(':')
            .map_or(endpoint.as_str(), |(host, _)| host);
        let started = Instant::now();
        if matches!(port, 465 | 993 | 995) {
            drop(stream);
            let url = format!("https://{host}:{port}/");
            let result = https::check_via(
                &url,
                connect.connected,
                context.roots.clone(),
                context.timeout,
            )
            .await;
            let tls_failed = result.failed_stage == Some("tls") || result.tls_ms.is_none();
            if tls_failed {
                failing.push(format!(
                    "TLS with {endpoint} fails: {}",
                    result.error.clone().unwrap_or_default()
                ));
            }
            steps.push(
                "tls",
                format!("TLS handshake with {endpoint}"),
                started,
                if tls_failed {
                    Outcome::Fail
                } else {
                    Outcome::Pass
                },
                match (&result.certificate, &result.error) {
                    (Some(cert), _) if !tls_failed => format!(
                        "certificate for {} valid for {:.0} more days",
                        cert.names.join(", "),
                        cert.days_left
                    ),
                    (_, Some(error)) => error.clone(),
                    _ => "handshake failed".to_owned(),
                },
                json!({ "certificate": result.certificate, "error": result.error }),
            );
        } else {
            let mut greeting = vec![0u8; 512];
            let read = tokio::time::timeout(context.timeout, stream.read(&mut greeting)).await;
            let text = match read {
                Ok(Ok(n)) => String::from_utf8_lossy(&greeting[..n])
                    .trim()
                    .chars()
                    .take(200)
                    .collect::<String>(),
                _ => String::new(),
            };
            let ok = text.starts_with("220") || text.starts_with("* OK") || text.starts_with("+OK");
            if !ok {
                failing.push(format!("{endpoint} does not greet like a mail server"));
            }
            steps.push(
                "greeting",
                format!("read the greeting of {endpoint}"),
                started,
                if ok { Outcome::Pass } else { Outcome::Fail },
                if text.is_empty() {
                    "no greeting".to_owned()
                } else {
                    text
                },
                json!({}),
            );
        }
    }
    let verdict = if failing.is_empty() {
        Verdict::new(
            "The mail servers answer and their TLS works: check the mail program's account settings or the mailbox quota.",
            msg!("said-mail-ok"),
        )
        .advise(msg!("advice-mail-restart"))
    } else {
        Verdict::new(
            format!("Likely cause: {}.", failing.join("; ")),
            msg!("said-mail-unreachable"),
        )
        .advise(msg!("advice-vpn-first"))
        .advise(msg!("advice-wait-for-it"))
    };
    (steps.steps, verdict)
}
