//! "My computer is slow": samples CPU, memory pressure, disk activity, temperatures and the
//! busiest processes over a bounded window (`[playbooks] slow_window`, default 20 s) and names
//! what stands out.

use std::time::Instant;

use serde_json::json;

use firstline_i18n::{Message, msg};

use super::{Context, Outcome, Step, Steps, Verdict};
use crate::probes::{cpu, memory, thermal};

/// Above these, a resource explains slowness.
const BUSY_CPU_PCT: f32 = 85.0;
const LOW_MEMORY_PCT: f64 = 10.0;
const BUSY_DISK_PCT: f64 = 80.0;
const HOT_C: f32 = 90.0;

pub async fn run(context: &Context) -> (Vec<Step>, Verdict) {
    let window = context.slow_window;
    let sampled = tokio::task::spawn_blocking(move || sample(window)).await;
    let Ok((steps, culprits)) = sampled else {
        let mut steps = Steps::default();
        steps.push(
            "cpu",
            "sample the machine",
            Instant::now(),
            Outcome::Skip,
            "sampling failed",
            json!({}),
        );
        return (
            steps.steps,
            Verdict::new(
                "The computer could not be sampled.",
                msg!("said-test-failed"),
            )
            .advise(msg!("advice-wait-for-it")),
        );
    };
    let verdict = if culprits.is_empty() {
        Verdict::new(format!(
            "Nothing stood out over {}: CPU, memory, disk and temperatures were normal. If it is slow in one program, report that program.",
            humantime::format_duration(window)
        ), msg!("said-slow-normal"))
        .advise(msg!("advice-slow-name-program"))
    } else {
        let staff: Vec<&str> = culprits.iter().map(|c| c.staff.as_str()).collect();
        let mut verdict = Verdict::new(
            format!("Likely cause: {}.", staff.join("; ")),
            culprits[0].said.clone(),
        );
        for culprit in &culprits {
            verdict = verdict.advise(culprit.advice.clone());
        }
        verdict
    };
    (steps.steps, verdict)
}

/// One reason the computer is slow: for staff, for the user, and what the user can do.
struct Culprit {
    staff: String,
    said: Message,
    advice: Message,
}

fn sample(window: std::time::Duration) -> (Steps, Vec<Culprit>) {
    let mut steps = Steps::default();
    let mut culprits = Vec::new();
    // The program holding the most memory, for the advice when memory runs out.
    let mut top_memory: Option<(String, u64)> = None;
    let started = Instant::now();
    let disk_before = disk_busy_ms();
    match cpu::CpuProbe::new() {
        Ok(mut probe) => {
            probe.total_usage_pct();
            let (by_cpu, by_memory) = probe.top_processes(window, 5);
            let total = probe.total_usage_pct();
            let busy = total >= BUSY_CPU_PCT;
            if busy && let Some(top) = by_cpu.first() {
                culprits.push(Culprit {
                    staff: format!(
                        "the processor is {total:.0}% busy, mostly {} (PID {}, {:.0}%)",
                        top.name, top.pid, top.cpu_pct
                    ),
                    said: msg!("said-slow-cpu", "program" => top.name.as_str(), "pct" => total.round()),
                    advice: msg!("advice-slow-close-program", "program" => top.name.as_str()),
                });
            }
            top_memory = by_memory
                .first()
                .map(|top| (top.name.clone(), top.memory_bytes));
            steps.push(
                "cpu",
                format!("sample CPU for {}", humantime::format_duration(window)),
                started,
                if busy { Outcome::Fail } else { Outcome::Pass },
                format!("{total:.0}% of {} cores", probe.logical_cores()),
                json!({ "usage_pct": total, "top_by_cpu": by_cpu, "top_by_memory": by_memory }),
            );
        }
        Err(e) => steps.push("cpu", "sample CPU", started, Outcome::Skip, e, json!({})),
    }
    let started_memory = Instant::now();
    match memory::usage() {
        Ok(usage) => {
            let available_pct = if usage.total_bytes == 0 {
                100.0
            } else {
                usage.available_bytes as f64 * 100.0 / usage.total_bytes as f64
            };
            let low = available_pct < LOW_MEMORY_PCT;
            if low {
                culprits.push(Culprit {
                    staff: format!(
                        "memory is nearly full ({available_pct:.0}% available, {} MB of swap in use)",
                        usage.swap_used_bytes / 1_000_000
                    ),
                    said: msg!("said-slow-memory"),
                    advice: match &top_memory {
                        Some((program, bytes)) => msg!(
                            "advice-slow-close-programs-named",
                            "program" => program.as_str(),
                            "gb" => (*bytes as f64 / 1e8).round() / 10.0
                        ),
                        None => msg!("advice-slow-close-programs"),
                    },
                });
            }
            steps.push(
                "memory",
                "read memory and swap",
                started_memory,
                if low { Outcome::Fail } else { Outcome::Pass },
                format!("{available_pct:.0}% available"),
                serde_json::to_value(usage).unwrap_or_default(),
            );
        }
        Err(e) => steps.push(
            "memory",
            "read memory",
            started_memory,
            Outcome::Skip,
            e,
            json!({}),
        ),
    }
    let started_disk = Instant::now();
    match (disk_before, disk_busy_ms()) {
        (Some(before), Some(after)) => {
            let window_ms = started.elapsed().as_secs_f64() * 1000.0;
            let mut busiest: Vec<(String, f64)> = after
                .iter()
                .filter_map(|(device, ms)| {
                    let previous = before.iter().find(|(d, _)| d == device)?.1;
                    Some((
                        device.clone(),
                        (ms - previous) as f64 * 100.0 / window_ms.max(1.0),
                    ))
                })
                .collect();
            busiest.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top = busiest.first().cloned();
            let busy = top.as_ref().is_some_and(|(_, pct)| *pct >= BUSY_DISK_PCT);
            if busy && let Some((device, pct)) = &top {
                culprits.push(Culprit {
                    staff: format!("the disk {device} is busy {pct:.0}% of the time"),
                    said: msg!("said-slow-disk"),
                    advice: msg!("advice-slow-wait"),
                });
            }
            steps.push(
                "disk",
                "measure disk activity",
                started_disk,
                if busy { Outcome::Fail } else { Outcome::Pass },
                match &top {
                    Some((device, pct)) => format!("busiest disk {device}: {pct:.0}% busy"),
                    None => "no disk activity measured".to_owned(),
                },
                json!({ "busy_pct": busiest }),
            );
        }
        _ => steps.push(
            "disk",
            "measure disk activity",
            started_disk,
            Outcome::Skip,
            "disk statistics are not available here",
            json!({}),
        ),
    }
    let started_thermal = Instant::now();
    let sensors = thermal::sensors();
    let hottest = sensors
        .iter()
        .max_by(|a, b| a.temperature_c.total_cmp(&b.temperature_c));
    match hottest {
        Some(sensor) => {
            let hot = sensor.temperature_c >= HOT_C;
            if hot {
                culprits.push(Culprit {
                    staff: format!(
                        "{} is {:.0} °C: the machine may be slowing itself down to cool off",
                        sensor.label, sensor.temperature_c
                    ),
                    said: msg!("said-slow-hot"),
                    advice: msg!("advice-slow-cool"),
                });
            }
            steps.push(
                "thermal",
                "read temperatures",
                started_thermal,
                if hot { Outcome::Fail } else { Outcome::Pass },
                format!(
                    "hottest: {} at {:.0} °C",
                    sensor.label, sensor.temperature_c
                ),
                serde_json::to_value(&sensors).unwrap_or_default(),
            );
        }
        None => steps.push(
            "thermal",
            "read temperatures",
            started_thermal,
            Outcome::Skip,
            "no temperature sensors are exposed",
            json!({}),
        ),
    }
    (steps, culprits)
}

/// Milliseconds each whole disk has spent doing I/O (Linux /proc/diskstats, field 13).
fn disk_busy_ms() -> Option<Vec<(String, u64)>> {
    let text = std::fs::read_to_string("/proc/diskstats").ok()?;
    Some(
        text.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let name = *fields.get(2)?;
                // Whole disks only (those in /sys/block), not partitions; no loop or RAM disks.
                let whole = std::path::Path::new("/sys/block").join(name).exists();
                if !whole || name.starts_with("loop") || name.starts_with("ram") {
                    return None;
                }
                Some((name.to_owned(), fields.get(12)?.parse().ok()?))
            })
            .collect(),
    )
}
