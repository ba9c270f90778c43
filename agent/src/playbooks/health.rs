//! The general playbook, when the words match nothing specific: every health check once, the
//! way `firstline-agent check` runs them, and what is not healthy.

use std::time::Instant;

use serde_json::json;

use firstline_i18n::msg;

use super::{Context, Outcome, Step, Steps, Verdict};
use crate::finding::Severity;

pub async fn run(context: &Context) -> (Vec<Step>, Verdict) {
    let mut steps = Steps::default();
    let started = Instant::now();
    let (observations, errors) = match crate::runtime::check_once(&context.checks).await {
        Ok(outcome) => outcome,
        Err(e) => {
            steps.push(
                "checks",
                "run every health check",
                started,
                Outcome::Skip,
                e,
                json!({}),
            );
            return (
                steps.steps,
                Verdict::new("The health checks could not run.", msg!("said-test-failed"))
                    .advise(msg!("advice-wait-for-it")),
            );
        }
    };
    let mut problems = Vec::new();
    // The area of the worst problem, for the person: critical before warning.
    let mut worst: Option<(Severity, &'static str)> = None;
    for observation in &observations {
        let severity = observation.rule.classify(observation.value);
        let bad = matches!(severity, Severity::Warning | Severity::Critical);
        if bad {
            problems.push(observation.summary.clone());
            if worst.is_none_or(|(seen, _)| severity > seen) {
                worst = Some((severity, area(observation.check)));
            }
        }
        steps.push(
            "check",
            format!("{} on {}", observation.check, observation.resource),
            started,
            if bad { Outcome::Fail } else { Outcome::Pass },
            observation.summary.clone(),
            serde_json::Value::Object(observation.evidence.clone()),
        );
    }
    for error in errors {
        steps.push(
            "check",
            "run a check",
            started,
            Outcome::Skip,
            error,
            json!({}),
        );
    }
    let verdict = if problems.is_empty() {
        Verdict::new(
            "Every health check passed: describe what does not work (which program, what you see) to narrow it down.",
            msg!("said-health-ok"),
        )
        .advise(msg!("advice-describe-problem"))
    } else {
        let area = worst.map_or("other", |(_, area)| area);
        let verdict = Verdict::new(
            format!("Found: {}.", problems.join("; ")),
            msg!("said-health-problems", "count" => problems.len(), "area" => area),
        );
        let advice = match area {
            "disk" => Some(msg!("advice-disk-free-space")),
            "memory" => Some(msg!("advice-slow-close-programs")),
            "thermal" => Some(msg!("advice-slow-cool")),
            "clock" => Some(msg!("advice-clock-sync")),
            "network" => Some(msg!("advice-net-reconnect")),
            "reboot" => Some(msg!("advice-health-restart")),
            _ => None,
        };
        match advice {
            Some(advice) => verdict.advise(advice),
            None => verdict,
        }
        .advise(msg!("advice-wait-for-it"))
    };
    (steps.steps, verdict)
}

/// The area of a check a person would name: "disk" for `disk.used_pct`, "reboot" for
/// `os.reboot_pending`; "other" for what has no plain name.
fn area(check: &str) -> &'static str {
    match check.split('.').next().unwrap_or_default() {
        "disk" | "smart" => "disk",
        "memory" => "memory",
        "cpu" => "cpu",
        "thermal" => "thermal",
        "battery" => "battery",
        "clock" => "clock",
        "network" | "dns" | "https" | "tcp" => "network",
        "os" => "reboot",
        "crash" => "crash",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_area_reads_as_its_own_sentence() {
        let mut seen = std::collections::BTreeSet::new();
        for check in [
            "disk.used_pct",
            "memory.available_pct",
            "cpu.usage_pct",
            "thermal.temperature_c",
            "battery.health_pct",
            "clock.skew_secs",
            "dns.resolve",
            "os.reboot_pending",
            "crash.new_file",
            "log.match",
        ] {
            let said = msg!("said-health-problems", "count" => 2, "area" => area(check));
            for lang in firstline_i18n::Lang::ALL {
                let text = said.text(lang);
                assert!(!text.contains("said-"), "{check} {lang}: {text}");
                assert!(text.contains('2'), "{check} {lang}: {text}");
                if lang == firstline_i18n::Lang::En {
                    seen.insert(text);
                }
            }
        }
        // One sentence per area (network's four checks share one).
        assert_eq!(seen.len(), 10, "{seen:#?}");
    }
}
