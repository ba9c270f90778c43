//! "The printer does nothing": the print service, then each configured printer (IPP on 631,
//! raw printing on 9100). The conclusion says only what its steps found: a print service
//! whose state could not be read is not said to run.

use std::time::Instant;

use serde_json::json;

use firstline_i18n::msg;

use super::{Context, Outcome, Step, Steps, Verdict, reach};
use crate::probes::services;

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
        verdict(service_ok, &unreachable, context.printers.is_empty()),
    )
}

/// What the steps found, and only that.
fn verdict(service_ok: Option<bool>, unreachable: &[String], no_printers: bool) -> Verdict {
    if service_ok == Some(false) {
        return Verdict::new(
            "The print service (cups) is not running on this computer.",
            msg!("said-print-service-off"),
        )
        .advise(msg!("advice-print-restart-computer"));
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
