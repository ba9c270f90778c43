//! `cpu.usage_pct`: sustained high CPU, naming the processes behind it.

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::{Severity, human_bytes};
use crate::probes::cpu::{CpuProbe, ProcessUsage};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpuConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    pub usage_pct: ThresholdFile,
    /// How many processes to name.
    pub top_processes: usize,
}

impl Default for CpuConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            usage_pct: ThresholdFile::default(),
            top_processes: 5,
        }
    }
}

pub const USAGE: &str = "cpu.usage_pct";

fn usage_default() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 90.0,
        clear: 75.0,
        critical: None,
        severity: Severity::Warning,
        fire_after: Duration::from_secs(300),
        clear_after: Duration::from_secs(120),
    }
}

/// How long processes are sampled to attribute the load.
const PROCESS_SAMPLE: Duration = Duration::from_millis(500);

struct CpuCheck {
    interval: Duration,
    rule: Rule,
    top: usize,
    probe: Option<CpuProbe>,
}

pub fn build(config: &CpuConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(CpuCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(200))?,
        rule: config
            .usage_pct
            .resolve(usage_default())
            .map_err(|e| format!("usage_pct: {e}"))?,
        top: config.top_processes.clamp(1, 20),
        probe: None,
    })))
}

impl Check for CpuCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(USAGE, self.rule)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[USAGE]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let probe = match self.probe.take() {
                Some(probe) => probe,
                None => {
                    // Usage is a difference between readings: the very first one opens a short
                    // window so that even a one-shot `check` has a number.
                    let mut probe = CpuProbe::new()?;
                    probe.total_usage_pct();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    probe
                }
            };
            let rule = self.rule;
            let top = self.top;
            let (probe, observation) = tokio::task::spawn_blocking(move || {
                let mut probe = probe;
                let total = probe.total_usage_pct();
                // Only explain load that is near the threshold; listing processes costs CPU too.
                let explain = f64::from(total) >= rule.clear.min(rule.raise);
                let (by_cpu, by_memory) = if explain {
                    probe.top_processes(PROCESS_SAMPLE, top)
                } else {
                    (Vec::new(), Vec::new())
                };
                let cores = probe.logical_cores();
                (probe, evaluate(total, cores, &by_cpu, &by_memory, rule))
            })
            .await
            .map_err(|e| e.to_string())?;
            self.probe = Some(probe);
            Ok(vec![observation])
        })
    }
}

fn evaluate(
    total_pct: f32,
    cores: usize,
    by_cpu: &[ProcessUsage],
    by_memory: &[ProcessUsage],
    rule: Rule,
) -> Observation {
    let named: Vec<String> = by_cpu
        .iter()
        .filter(|p| p.cpu_pct >= 1.0)
        .map(|p| format!("{} ({:.0}%)", p.name, p.cpu_pct))
        .collect();
    let summary = if named.is_empty() {
        format!("CPU at {total_pct:.0}% of {cores} cores")
    } else {
        format!(
            "CPU at {total_pct:.0}% of {cores} cores; busiest: {}",
            named.join(", ")
        )
    };
    let describe = |p: &ProcessUsage| {
        serde_json::json!({"pid": p.pid, "name": p.name, "cpu_pct": (p.cpu_pct * 10.0).round() / 10.0,
            "memory_bytes": p.memory_bytes, "memory": human_bytes(p.memory_bytes)})
    };
    Observation {
        check: USAGE,
        resource: "cpu".to_owned(),
        value: f64::from(total_pct),
        rule,
        summary,
        evidence: evidence! {
            "usage_pct" => (total_pct * 10.0).round() / 10.0,
            "logical_cores" => cores,
            "top_by_cpu" => by_cpu.iter().map(describe).collect::<Vec<_>>(),
            "top_by_memory" => by_memory.iter().map(describe).collect::<Vec<_>>(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_busiest_processes() {
        let busy = |name: &str, cpu_pct| ProcessUsage {
            pid: 1,
            name: name.to_owned(),
            cpu_pct,
            memory_bytes: 1_000_000,
        };
        let observation = evaluate(
            97.0,
            2,
            &[busy("yes", 99.6), busy("idle", 0.2)],
            &[],
            usage_default(),
        );
        assert_eq!(
            observation.summary,
            "CPU at 97% of 2 cores; busiest: yes (100%)"
        );
        assert_eq!(observation.evidence["top_by_cpu"][0]["name"], "yes");
    }
}
