//! "The printer does nothing": the print service, its queue (jobs waiting longer than
//! `STUCK_AFTER`), then each configured printer (IPP on 631, raw printing on 9100). The
//! conclusion says only what its steps found: a print service whose state could not be read
//! is not said to run.

use std::time::Instant;

use serde_json::json;

use firstline_i18n::msg;

use super::{Context, Outcome, Step, Steps, Verdict, reach};
use crate::probes::services;

/// A print job waiting this long is stuck (and `print.restart` with this many minutes, which
/// the collector sends for such a report, cancels it).
pub const STUCK_AFTER_MINUTES: u64 = 10;

pub async fn run(context: &Context) -> (Vec<Step>, Verdict) {
    let mut steps = Steps::default();
    let started = Instant::now();
    // Some(running), or None when the service's state could not be read here.
    let service_ok: Option<bool> = if cfg!(target_os = "linux") {
        match services::state("cups").await {
            Ok(state) => {
                let running = state.running();
                steps.push(
                    "service",
                    "check the print service (cups)",
                    started,
                    if running {
                        Outcome::Pass
                    } else {
                        Outcome::Fail
                    },
                    format!("cups is {}", state.active_state),
                    serde_json::to_value(&state).unwrap_or_default(),
                );
                Some(running)
            }
            Err(e) => {
                steps.push(
                    "service",
                    "check the print service (cups)",
                    started,
                    Outcome::Skip,
                    e,
                    json!({}),
                );
                None
            }
        }
    } else {
        None
    };
    // The queue: CUPS's own list and each job's time of creation from its control file.
    let stuck = if service_ok != Some(false) && cfg!(unix) {
        queue_step(&mut steps).await
    } else {
        Vec::new()
    };
    let mut unreachable = Vec::new();
    for printer in &context.printers {
        let endpoint = match printer.strip_prefix("ipp://") {
            Some(rest) => {
                let authority = rest.split('/').next().unwrap_or(rest);
                if authority.contains(':') {
                    authority.to_owned()
                } else {
                    format!("{authority}:631")
                }
            }
            None if printer.contains(':') => printer.clone(),
            None => format!("{printer}:9100"),
        };
        if !reach(&mut steps, "printer", &endpoint, context.timeout).await {
            unreachable.push(printer.clone());
        }
    }
    if context.printers.is_empty() {
        steps.push(
            "printer",
            "reach the printers",
            Instant::now(),
            Outcome::Skip,
            "no printers are configured ([playbooks] printers)",
            json!({}),
        );
    }
    (
        steps.steps,
        verdict(
            service_ok,
            &stuck,
            &unreachable,
            context.printers.is_empty(),
        ),
    )
}

/// Lists the print queue (`lpstat -o`) and pushes the "queue" step; the ids of the jobs
/// waiting longer than `STUCK_AFTER_MINUTES`. Without CUPS's client there is no step.
async fn queue_step(steps: &mut Steps) -> Vec<String> {
    let started = Instant::now();
    let mut command = tokio::process::Command::new("lpstat");
    command
        .arg("-o")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let listed =
        match tokio::time::timeout(std::time::Duration::from_secs(10), command.output()).await {
            Ok(Ok(output)) if output.status.success() => {
                String::from_utf8_lossy(&output.stdout).into_owned()
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Ok(Ok(output)) => {
                let said = String::from_utf8_lossy(&output.stderr)
                    .trim()
                    .chars()
                    .take(200)
                    .collect::<String>();
                steps.push(
                    "queue",
                    "list the print queue",
                    started,
                    Outcome::Skip,
                    format!("lpstat -o failed: {said}"),
                    json!({}),
                );
                return Vec::new();
            }
            Ok(Err(e)) => {
                steps.push(
                    "queue",
                    "list the print queue",
                    started,
                    Outcome::Skip,
                    format!("lpstat -o: {e}"),
                    json!({}),
                );
                return Vec::new();
            }
            Err(_) => {
                steps.push(
                    "queue",
                    "list the print queue",
                    started,
                    Outcome::Skip,
                    "lpstat -o did not answer within 10 s",
                    json!({}),
                );
                return Vec::new();
            }
        };
    let jobs = crate::fixes::print_restart::parse_lpstat_jobs(&listed);
    let now = std::time::SystemTime::now();
    let stuck_after = std::time::Duration::from_secs(STUCK_AFTER_MINUTES * 60);
    let stuck: Vec<String> = jobs
        .iter()
        .filter(|id| {
            let number: u64 = id
                .rsplit_once('-')
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(0);
            let control = std::path::Path::new("/var/spool/cups").join(format!("c{number:05}"));
            crate::fixes::print_restart::queued_at(&control)
                .is_some_and(|queued| now.duration_since(queued).unwrap_or_default() >= stuck_after)
        })
        .cloned()
        .collect();
    let detail = if stuck.is_empty() {
        format!(
            "{} print jobs queued, none waiting longer than {STUCK_AFTER_MINUTES} min",
            jobs.len()
        )
    } else {
        format!(
            "{} of {} print jobs have waited longer than {STUCK_AFTER_MINUTES} min: {}",
            stuck.len(),
            jobs.len(),
            stuck
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    steps.push(
        "queue",
        "look for print jobs stuck in the queue",
        started,
        if stuck.is_empty() { Outcome::Pass } else { Outcome::Fail },
        detail,
        json!({"queued": jobs.len(), "stuck": stuck.iter().take(50).collect::<Vec<_>>(), "stuck_after_minutes": STUCK_AFTER_MINUTES}),
    );
    stuck
}

/// What the steps found, and only that.
fn verdict(
    service_ok: Option<bool>,
    stuck: &[String],
    unreachable: &[String],
    no_printers: bool,
) -> Verdict {
    if service_ok == Some(false) {
        return Verdict::new(
            "The print service (cups) is not running on this computer.",
            msg!("said-print-service-off"),
        )
        .advise(msg!("advice-print-restart-computer"));
    }
    if !stuck.is_empty() {
        return Verdict::new(
            format!(
                "{} print jobs have waited in the queue longer than {STUCK_AFTER_MINUTES} minutes: the queue is stuck.",
                stuck.len()
            ),
            msg!("said-print-stuck", "count" => stuck.len(), "minutes" => STUCK_AFTER_MINUTES),
        )
        .advise(msg!("advice-print-stuck"));
    }
    if !unreachable.is_empty() {
        return Verdict::new(
            format!(
                "The printer(s) {} cannot be reached over the network: switched off, offline or blocked.",
                unreachable.join(", ")
            ),
            msg!("said-print-unreachable", "printer" => unreachable.join(", ")),
        )
        .advise(msg!("advice-print-check-power"))
        .advise(msg!("advice-wait-for-it"));
    }
    let service = match service_ok {
        Some(_) => "The print service runs",
        None => "The print service's state could not be read here",
    };
    if no_printers {
        return Verdict::new(
            format!("{service}; no printers are configured to test."),
            msg!("said-print-not-tested"),
        )
        .advise(msg!("advice-print-check-power"))
        .advise(msg!("advice-print-check-printer"));
    }
    Verdict::new(
        format!("{service} and the printers answer: the problem is in the print job or the printer itself (paper, toner, queue)."),
        msg!("said-print-answers"),
    )
    .advise(msg!("advice-print-check-printer"))
}
