//! CPU load and the processes behind it. Listing processes costs more than reading the total,
//! so callers ask for the top processes only when the total is worth explaining.
//!
//! On Windows the total comes from `GetSystemTimes` (`probes::windows::cpu`), never from
//! sysinfo's CPU refresh: that opens performance counters (PDH), which Wine only stubs (the
//! process aborts). sysinfo still lists the processes there; that path needs no PDH.

use std::time::Duration;

use serde::Serialize;
#[cfg(not(windows))]
use sysinfo::CpuRefreshKind;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessUsage {
    pub pid: u32,
    pub name: String,
    /// Percent of one core (a process busy on two cores shows 200).
    pub cpu_pct: f32,
    pub memory_bytes: u64,
}

/// Cumulative processor times since boot, in 100 ns ticks, as Windows' `GetSystemTimes`
/// gives them: the kernel time includes the idle time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemTimes {
    pub idle_ticks: u64,
    pub kernel_ticks: u64,
    pub user_ticks: u64,
}

/// Percent of all cores busy between two readings; `None` when no time passed between them or
/// a counter went backwards (not the same boot, or a reading out of order).
pub fn busy_pct_between(before: SystemTimes, after: SystemTimes) -> Option<f32> {
    let idle = after.idle_ticks.checked_sub(before.idle_ticks)?;
    let kernel = after.kernel_ticks.checked_sub(before.kernel_ticks)?;
    let user = after.user_ticks.checked_sub(before.user_ticks)?;
    let total = kernel.checked_add(user)?;
    if total == 0 {
        return None;
    }
    // Idle time is counted inside kernel time: what is left of the total was work.
    let busy = total.saturating_sub(idle);
    Some((busy as f64 * 100.0 / total as f64).clamp(0.0, 100.0) as f32)
}

/// Keeps the previous sample, since CPU usage is a difference between two readings.
pub struct CpuProbe {
    system: System,
    /// Windows: the previous `GetSystemTimes` reading and the usage last computed (kept for
    /// a reading with no time since the previous one).
    #[cfg(windows)]
    last_times: SystemTimes,
    #[cfg(windows)]
    last_pct: f32,
}

impl std::fmt::Debug for CpuProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuProbe").finish_non_exhaustive()
    }
}

impl CpuProbe {
    #[cfg(windows)]
    pub fn new() -> Result<Self, String> {
        // Nothing about the CPUs is refreshed: on Windows that would open PDH counters.
        let system = System::new_with_specifics(RefreshKind::nothing())
            .map_err(|e| format!("reading processes: {e}"))?;
        Ok(Self {
            system,
            last_times: super::windows::cpu::system_times()?,
            last_pct: 0.0,
        })
    }

    #[cfg(not(windows))]
    pub fn new() -> Result<Self, String> {
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_usage()),
        )
        .map_err(|e| format!("reading CPU: {e}"))?;
        Ok(Self { system })
    }

    /// Average CPU usage (0–100 % of all cores) since the previous call.
    #[cfg(not(windows))]
    pub fn total_usage_pct(&mut self) -> f32 {
        self.system.refresh_cpu_usage();
        self.system.global_cpu_usage()
    }

    /// Average CPU usage (0–100 % of all cores) since the previous call (or since `new`).
    #[cfg(windows)]
    pub fn total_usage_pct(&mut self) -> f32 {
        match super::windows::cpu::system_times() {
            Ok(now) => {
                if let Some(pct) = busy_pct_between(self.last_times, now) {
                    self.last_pct = pct;
                }
                self.last_times = now;
            }
            // Not expected on any Windows; the previous figure is the best answer left.
            Err(e) => tracing::warn!(error = %e, "reading CPU usage"),
        }
        self.last_pct
    }

    #[cfg(not(windows))]
    pub fn logical_cores(&self) -> usize {
        self.system.cpus().len()
    }

    /// From the OS (on Windows, `GetSystemInfo`), not sysinfo's CPU list, which is filled only
    /// by the CPU refresh this probe avoids there.
    #[cfg(windows)]
    pub fn logical_cores(&self) -> usize {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    }

    /// The busiest processes over `window`, and the largest by memory.
    pub fn top_processes(
        &mut self,
        window: Duration,
        count: usize,
    ) -> (Vec<ProcessUsage>, Vec<ProcessUsage>) {
        let refresh = ProcessRefreshKind::nothing().with_cpu().with_memory();
        self.system
            .refresh_processes_specifics(ProcessesToUpdate::All, true, refresh);
        std::thread::sleep(window);
        self.system
            .refresh_processes_specifics(ProcessesToUpdate::All, true, refresh);
        let mut all: Vec<ProcessUsage> = self
            .system
            .processes()
            .iter()
            .map(|(pid, process)| ProcessUsage {
                pid: pid.as_u32(),
                name: process.name().to_string_lossy().into_owned(),
                cpu_pct: process.cpu_usage(),
                memory_bytes: process.memory(),
            })
            .collect();
        all.sort_by(|a, b| b.cpu_pct.total_cmp(&a.cpu_pct));
        let by_cpu: Vec<ProcessUsage> = all.iter().take(count).cloned().collect();
        all.sort_by_key(|p| std::cmp::Reverse(p.memory_bytes));
        let by_memory = all.into_iter().take(count).collect();
        // The process table is only needed for this answer; give the memory back.
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[]),
            true,
            ProcessRefreshKind::nothing(),
        );
        (by_cpu, by_memory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(idle_ticks: u64, kernel_ticks: u64, user_ticks: u64) -> SystemTimes {
        SystemTimes {
            idle_ticks,
            kernel_ticks,
            user_ticks,
        }
    }

    #[test]
    fn usage_is_the_share_of_non_idle_time_between_two_readings() {
        let cases = [
            // (before, after, expected): kernel time includes idle time.
            (times(0, 0, 0), times(100, 100, 0), Some(0.0)),
            (times(0, 0, 0), times(0, 50, 50), Some(100.0)),
            (
                times(1_000, 2_000, 500),
                times(1_150, 2_200, 600),
                Some(50.0),
            ),
            (times(0, 0, 0), times(75, 100, 0), Some(25.0)),
            // No time passed: no figure, rather than a division by zero.
            (times(5, 10, 10), times(5, 10, 10), None),
            // A counter went backwards: another boot or readings out of order.
            (times(100, 200, 300), times(50, 250, 350), None),
            (times(100, 200, 300), times(150, 250, 299), None),
            // Idle beyond kernel time (a skewed reading) is still at most 100 % idle.
            (times(0, 0, 0), times(300, 100, 100), Some(0.0)),
        ];
        for (before, after, expected) in cases {
            assert_eq!(
                busy_pct_between(before, after),
                expected,
                "{before:?} -> {after:?}"
            );
        }
    }

    #[test]
    fn the_probe_reads_total_usage_and_names_the_busiest_processes() {
        let mut probe = CpuProbe::new().expect("CPU probe");
        probe.total_usage_pct();
        let (by_cpu, by_memory) = probe.top_processes(Duration::from_millis(200), 50);
        let total = probe.total_usage_pct();
        assert!((0.0..=100.0).contains(&total), "{total}");
        assert!(probe.logical_cores() >= 1);
        // At least this test's own process is listed, largest memory first.
        assert!(!by_memory.is_empty());
        assert!(by_memory[0].memory_bytes > 0, "{by_memory:?}");
        assert!(
            by_memory
                .windows(2)
                .all(|pair| pair[0].memory_bytes >= pair[1].memory_bytes)
        );
        assert!(!by_cpu.is_empty());
    }
}
