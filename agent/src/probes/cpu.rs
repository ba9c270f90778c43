//! CPU load and the processes behind it. Listing processes costs more than reading the total,
//! so callers ask for the top processes only when the total is worth explaining.

use std::time::Duration;

use serde::Serialize;
use sysinfo::{CpuRefreshKind, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessUsage {
    pub pid: u32,
    pub name: String,
    /// Percent of one core (a process busy on two cores shows 200).
    pub cpu_pct: f32,
    pub memory_bytes: u64,
}

/// Keeps the previous sample, since CPU usage is a difference between two readings.
pub struct CpuProbe {
    system: System,
}

impl std::fmt::Debug for CpuProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuProbe").finish_non_exhaustive()
    }
}

impl CpuProbe {
    pub fn new() -> Result<Self, String> {
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_usage()),
        )
        .map_err(|e| format!("reading CPU: {e}"))?;
        Ok(Self { system })
    }

    /// Average CPU usage (0–100 % of all cores) since the previous call.
    pub fn total_usage_pct(&mut self) -> f32 {
        self.system.refresh_cpu_usage();
        self.system.global_cpu_usage()
    }

    pub fn logical_cores(&self) -> usize {
        self.system.cpus().len()
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
