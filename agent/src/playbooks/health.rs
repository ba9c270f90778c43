//! The general playbook, when the words match nothing specific: every health check once, the
//! way `firstline-agent check` runs them, and what is not healthy.

use std::time::Instant;

use serde_json::json;

use super::{Context, Outcome, Step, Steps};
use crate::finding::Severity;

pub async fn run(context: &Context) -> (Vec<Step>, String) {
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
            return (steps.steps, "The health checks could not run.".to_owned());
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
    let conclusion = if problems.is_empty() {
        "Every health check passed: describe what does not work (which program, what you see) to narrow it down.".to_owned()
    } else {
        format!("Found: {}.", problems.join("; "))
    };
    (steps.steps, conclusion)
}
