//! Sign-in and certificate trouble from a wrong clock: this computer's clock against the
//! collector's (measured when the agent last connected).

use std::time::Instant;

use serde_json::json;

use firstline_i18n::msg;

use super::{Context, Outcome, Step, Steps, Verdict};

/// Kerberos (Windows domain sign-in) refuses beyond five minutes; warn well before.
const SKEW_LIMIT_SECS: f64 = 60.0;

pub async fn run(context: &Context) -> (Vec<Step>, Verdict) {
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
            Verdict::new(
                "The clock could not be compared: the agent has not reached the collector.",
                msg!("said-clock-unknown"),
            )
            .advise(msg!("advice-clock-password")),
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
    let verdict = if off {
        let minutes = (skew_secs.abs() / 60.0).round().max(1.0);
        Verdict::new(format!(
            "This computer's clock is {:.0} s {direction} the network's: sign-in and secure sites fail when clocks disagree. Let the clock synchronise (or set it right).",
            skew_secs.abs()
        ), msg!("said-clock-wrong", "minutes" => minutes))
        .advise(msg!("advice-clock-sync"))
    } else {
        Verdict::new(
            "The clock is right; the sign-in problem is elsewhere (password, account locked, network).",
            msg!("said-clock-ok"),
        )
        .advise(msg!("advice-clock-password"))
    };
    (steps.steps, verdict)
}
