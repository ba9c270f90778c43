//! Sign-in and certificate trouble from a wrong clock: this computer's clock against the
//! collector's (measured when the agent last connected).

use std::time::Instant;

use serde_json::json;

use super::{Context, Outcome, Step, Steps};

/// Kerberos (Windows domain sign-in) refuses beyond five minutes; warn well before.
const SKEW_LIMIT_SECS: f64 = 60.0;

pub async fn run(context: &Context) -> (Vec<Step>, String) {
    let mut steps = Steps::default();
    let started = Instant::now();
    let Some(skew_ms) = context.clock_skew_ms else {
        steps.push(
            "clock",
            "compare the clock with the collector's",
            started,
            Outcome::Skip,
            "not connected to the collector yet",
            json!({}),
        );
        return (
            steps.steps,
            "The clock could not be compared: the agent has not reached the collector.".to_owned(),
        );
    };
    let skew_secs = skew_ms as f64 / 1000.0;
    let direction = if skew_ms > 0 { "behind" } else { "ahead of" };
    let off = skew_secs.abs() >= SKEW_LIMIT_SECS;
    steps.push(
        "clock",
        "compare the clock with the collector's",
        started,
        if off { Outcome::Fail } else { Outcome::Pass },
        format!("{:.1} s {direction} the collector", skew_secs.abs()),
        json!({ "skew_ms": skew_ms }),
    );
    let conclusion = if off {
        format!(
            "This computer's clock is {:.0} s {direction} the network's: sign-in and secure sites fail when clocks disagree. Let the clock synchronise (or set it right).",
            skew_secs.abs()
        )
    } else {
        "The clock is right; the sign-in problem is elsewhere (password, account locked, network)."
            .to_owned()
    };
    (steps.steps, conclusion)
}
