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
    for observation in &observations {
        let severity = observation.rule.classify(observation.value);
        let bad = matches!(severity, Severity::Warning | Severity::Critical);
        if bad {
            problems.push(observation.summary.clone());
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
        Verdict::new(
            format!("Found: {}.", problems.join("; ")),
            msg!("said-health-problems", "count" => problems.len()),
        )
        .advise(msg!("advice-wait-for-it"))
    };
    (steps.steps, verdict)
}
