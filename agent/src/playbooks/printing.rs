//! "The printer does nothing": the print service, then each configured printer (IPP on 631,
//! raw printing on 9100).

use std::time::Instant;

use serde_json::json;

use super::{Context, Outcome, Step, Steps, reach};
use crate::probes::services;

pub async fn run(context: &Context) -> (Vec<Step>, String) {
    let mut steps = Steps::default();
    let started = Instant::now();
    let service_ok = if cfg!(target_os = "linux") {
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
                running
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
                true
            }
        }
    } else {
        true
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
    let conclusion = match (service_ok, unreachable.is_empty()) {
        (false, _) => "The print service (cups) is not running on this computer.".to_owned(),
        (true, false) => format!(
            "The printer(s) {} cannot be reached over the network: switched off, offline or blocked.",
            unreachable.join(", ")
        ),
        (true, true) if context.printers.is_empty() => "The print service runs; no printers are configured to test.".to_owned(),
        (true, true) => "The print service runs and the printers answer: the problem is in the print job or the printer itself (paper, toner, queue).".to_owned(),
    };
    (steps.steps, conclusion)
}
