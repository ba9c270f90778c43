//! "Disk full, can't save": space and inodes per mount, and whether the user's own folders
//! take a new file.

use std::time::Instant;

use serde_json::json;

use super::{Context, Outcome, Step, Steps};
use crate::probes::disk;

/// At or above this a disk is full for practical purposes.
const FULL_PCT: f64 = 95.0;

pub async fn run(_context: &Context) -> (Vec<Step>, String) {
    let mut steps = Steps::default();
    let mut problems = Vec::new();
    let started = Instant::now();
    match disk::mounts() {
        Ok(mounts) => {
            for mount in mounts.iter().filter(|m| m.total_bytes > 0) {
                let used_pct =
                    100.0 - mount.available_bytes as f64 * 100.0 / mount.total_bytes as f64;
                let inodes_pct = if mount.inodes_total > 0 {
                    100.0 - mount.inodes_free as f64 * 100.0 / mount.inodes_total as f64
                } else {
                    0.0
                };
                let full = used_pct >= FULL_PCT || inodes_pct >= FULL_PCT || mount.read_only;
                let detail = if mount.read_only {
                    format!("{} is read-only", mount.mount_point)
                } else {
                    format!(
                        "{} is {used_pct:.0}% full ({:.1} GB free of {:.1} GB; {inodes_pct:.0}% of files used)",
                        mount.mount_point,
                        mount.available_bytes as f64 / 1e9,
                        mount.total_bytes as f64 / 1e9
                    )
                };
                if full {
                    problems.push(detail.clone());
                }
                steps.push(
                    "space",
                    format!("measure {}", mount.mount_point),
                    started,
                    if full { Outcome::Fail } else { Outcome::Pass },
                    detail,
                    serde_json::to_value(mount).unwrap_or_default(),
                );
            }
        }
        Err(e) => steps.push(
            "space",
            "list the disks",
            started,
            Outcome::Skip,
            e,
            json!({}),
        ),
    }
    // Can a file actually be written where the user saves?
    let mut places: Vec<std::path::PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")) {
        places.push(home.into());
    }
    places.push(std::env::temp_dir());
    for place in places {
        let started = Instant::now();
        let probe = place.join(format!(".firstline-write-test-{}", std::process::id()));
        let written =
            std::fs::write(&probe, b"firstline").and_then(|()| std::fs::remove_file(&probe));
        let (outcome, detail) = match written {
            Ok(()) => (
                Outcome::Pass,
                format!("a file can be saved in {}", place.display()),
            ),
            Err(e) => {
                problems.push(format!("saving in {} fails: {e}", place.display()));
                (
                    Outcome::Fail,
                    format!("saving in {} fails: {e}", place.display()),
                )
            }
        };
        steps.push(
            "write",
            format!("save a small file in {}", place.display()),
            started,
            outcome,
            detail,
            json!({ "path": place }),
        );
    }
    let conclusion = if problems.is_empty() {
        "The disks have room and files can be saved. If one program cannot save, report that program and the folder.".to_owned()
    } else {
        format!("Likely cause: {}.", problems.join("; "))
    };
    (steps.steps, conclusion)
}
