//! `disk.used_pct` and `disk.inodes_used_pct` per mount: "Disk / is 97% full (3.1 GB free of
//! 100 GB)".

use std::time::Duration;

use serde::Deserialize;

use super::rule::{Direction, Observation, Rule};
use super::threshold::{ThresholdFile, duration};
use super::{BoxFuture, Check, Shared, interval_at_least};
use crate::evidence;
use crate::finding::{Severity, human_bytes};
use crate::probes::disk::{self, MountUsage};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// Mount points to skip (glob patterns, e.g. "/snap/*").
    pub ignore_mounts: Vec<String>,
    /// File system types to skip.
    pub ignore_file_systems: Vec<String>,
    pub used_pct: ThresholdFile,
    pub inodes_used_pct: ThresholdFile,
}

impl Default for DiskConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(60),
            ignore_mounts: vec!["/snap/*".to_owned(), "/boot/efi".to_owned()],
            ignore_file_systems: [
                "tmpfs", "devtmpfs", "squashfs", "iso9660", "ramfs", "efivarfs",
            ]
            .map(str::to_owned)
            .to_vec(),
            used_pct: ThresholdFile::default(),
            inodes_used_pct: ThresholdFile::default(),
        }
    }
}

pub const USED: &str = "disk.used_pct";
pub const INODES: &str = "disk.inodes_used_pct";

pub fn default_rule() -> Rule {
    Rule {
        direction: Direction::Above,
        raise: 90.0,
        clear: 85.0,
        critical: Some(95.0),
        severity: Severity::Warning,
        fire_after: Duration::from_secs(120),
        clear_after: Duration::from_secs(120),
    }
}

struct DiskCheck {
    interval: Duration,
    ignore_mounts: Vec<glob::Pattern>,
    ignore_file_systems: Vec<String>,
    used: Rule,
    inodes: Rule,
}

pub fn build(config: &DiskConfig) -> Result<Option<Box<dyn Check>>, String> {
    if !config.enabled {
        return Ok(None);
    }
    Ok(Some(Box::new(compile(config)?)))
}

fn compile(config: &DiskConfig) -> Result<DiskCheck, String> {
    let ignore_mounts = config
        .ignore_mounts
        .iter()
        .map(|pattern| {
            glob::Pattern::new(pattern).map_err(|e| format!("ignore_mounts: {pattern:?}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(DiskCheck {
        interval: interval_at_least(config.interval, Duration::from_millis(100))?,
        ignore_mounts,
        ignore_file_systems: config.ignore_file_systems.clone(),
        used: config
            .used_pct
            .resolve(default_rule())
            .map_err(|e| format!("used_pct: {e}"))?,
        inodes: config
            .inodes_used_pct
            .resolve(default_rule())
            .map_err(|e| format!("inodes_used_pct: {e}"))?,
    })
}

impl Check for DiskCheck {
    fn rules(&self) -> Vec<(&'static str, Rule)> {
        vec![(USED, self.used), (INODES, self.inodes)]
    }

    fn names(&self) -> &'static [&'static str] {
        &[USED, INODES]
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn run<'a>(
        &'a mut self,
        _shared: &'a Shared,
    ) -> BoxFuture<'a, Result<Vec<Observation>, String>> {
        Box::pin(async move {
            let mounts = tokio::task::spawn_blocking(disk::mounts)
                .await
                .map_err(|e| e.to_string())??;
            Ok(evaluate(&mounts, self))
        })
    }
}

/// What the check would observe of `mounts` under `config` (its thresholds and what it
/// ignores): the disk playbook judges with this, so the two never disagree.
pub fn observe(config: &DiskConfig, mounts: &[MountUsage]) -> Result<Vec<Observation>, String> {
    Ok(evaluate(mounts, &compile(config)?))
}

fn evaluate(mounts: &[MountUsage], check: &DiskCheck) -> Vec<Observation> {
    let mut observations = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for mount in mounts {
        let skipped = mount.total_bytes == 0
            || check
                .ignore_file_systems
                .iter()
                .any(|fs| fs == &mount.file_system)
            || check
                .ignore_mounts
                .iter()
                .any(|pattern| pattern.matches(&mount.mount_point))
            || !seen.insert(mount.mount_point.clone());
        if skipped {
            continue;
        }
        let used_bytes = mount.total_bytes.saturating_sub(mount.available_bytes);
        let used_pct = percent(used_bytes, mount.total_bytes);
        observations.push(Observation {
            check: USED,
            resource: mount.mount_point.clone(),
            value: used_pct,
            rule: check.used,
            summary: format!(
                "Disk {} is {:.0}% full ({} free of {})",
                mount.mount_point,
                used_pct,
                human_bytes(mount.available_bytes),
                human_bytes(mount.total_bytes)
            ),
            evidence: evidence! {
                "mount_point" => mount.mount_point,
                "device" => mount.device,
                "file_system" => mount.file_system,
                "total_bytes" => mount.total_bytes,
                "available_bytes" => mount.available_bytes,
                "used_pct" => round1(used_pct),
                "raise_pct" => check.used.raise,
            },
        });
        if mount.inodes_total > 0 {
            let inodes_pct = percent(
                mount.inodes_total.saturating_sub(mount.inodes_free),
                mount.inodes_total,
            );
            observations.push(Observation {
                check: INODES,
                resource: mount.mount_point.clone(),
                value: inodes_pct,
                rule: check.inodes,
                summary: format!(
                    "Disk {} has used {:.0}% of its inodes ({} of {} free)",
                    mount.mount_point, inodes_pct, mount.inodes_free, mount.inodes_total
                ),
                evidence: evidence! {
                    "mount_point" => mount.mount_point,
                    "device" => mount.device,
                    "inodes_total" => mount.inodes_total,
                    "inodes_free" => mount.inodes_free,
                    "inodes_used_pct" => round1(inodes_pct),
                },
            });
        }
    }
    observations
}

pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

pub fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(mount_point: &str, file_system: &str, total: u64, available: u64) -> MountUsage {
        MountUsage {
            mount_point: mount_point.to_owned(),
            device: "/dev/sda1".to_owned(),
            file_system: file_system.to_owned(),
            total_bytes: total,
            available_bytes: available,
            inodes_total: 1000,
            inodes_free: 10,
            read_only: false,
        }
    }

    #[test]
    fn mounts_become_observations_with_readable_summaries() {
        let check = compile(&DiskConfig::default()).expect("valid");
        let mounts = [
            mount("/", "ext4", 100_000_000_000, 3_100_000_000),
            mount("/run", "tmpfs", 1000, 1000),
            mount("/snap/core/1", "ext4", 1000, 0),
            mount("/", "ext4", 100_000_000_000, 3_100_000_000),
        ];
        let observations = evaluate(&mounts, &check);
        let pairs: Vec<_> = observations
            .iter()
            .map(|o| (o.check, o.resource.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [(USED, "/"), (INODES, "/")],
            "tmpfs, ignored mounts and duplicates are skipped"
        );
        assert_eq!(
            observations[0].summary,
            "Disk / is 97% full (3.1 GB free of 100 GB)"
        );
        assert_eq!(
            observations[0].rule.classify(observations[0].value),
            Severity::Critical
        );
        assert_eq!(observations[1].value, 99.0);
    }
}
