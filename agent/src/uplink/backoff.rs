//! Reconnect delays: exponential with jitter, so a thousand agents that lost the collector at
//! the same moment do not all come back in the same second.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The next delay: a random point in the upper half of `min * 2^attempt`, capped at `max`.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .min
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let random = random_u64();
        half + Duration::from_nanos(if jitter_nanos == 0 {
            0
        } else {
            random % (jitter_nanos + 1)
        })
    }

    /// After a healthy connection, start again from the shortest delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// `wait` plus up to half as much again, at random: a pause the collector asked of every agent
/// at once, spread so they do not all return in the same second.
pub fn spread(wait: Duration) -> Duration {
    let extra = u64::try_from((wait / 2).as_nanos()).unwrap_or(u64::MAX);
    wait + Duration::from_nanos(if extra == 0 {
        0
    } else {
        random_u64() % (extra + 1)
    })
}

fn random_u64() -> u64 {
    // A failing OS RNG only costs us jitter here, never correctness.
    getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_jittered_within_bounds_and_reset() {
        let min = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let mut backoff = Backoff::new(min, max);
        let expected_ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for ceiling in expected_ceilings {
            let ceiling = Duration::from_secs(ceiling);
            let delay = backoff.next_delay();
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} not within half of {ceiling:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= min);

        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| Backoff::new(min, max).next_delay())
            .collect();
        assert!(
            delays.len() > 1,
            "twenty agents must not all pick the same delay"
        );
    }
}
