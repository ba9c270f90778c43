//! Fixes on a real file system (issue 20, the agent's side): a small ext4 disk filled with old
//! temporary files until the disk check would fire, cleaned by `disk.cleanup`, verified by the
//! disk check's own rule; a fix that cannot help says so; the daily cap holds.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use firstline_agent::config::Settings;
use firstline_agent::fixes::limits::DailyRuns;
use firstline_agent::fixes::{self, Authority, Outcome};

use crate::support::skip;

/// A small ext4 file system on a loop device (the disk probe, like sysinfo, does not list
/// tmpfs), unmounted when dropped.
pub(crate) struct LoopDisk(std::path::PathBuf);

impl LoopDisk {
    pub(crate) fn mount(
        image: &std::path::Path,
        mount: &std::path::Path,
        size_bytes: u64,
    ) -> Option<Self> {
        let run = |program: &str, arguments: &[&std::ffi::OsStr]| {
            std::process::Command::new(program)
                .args(arguments)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        std::fs::File::create(image)
            .and_then(|file| file.set_len(size_bytes))
            .ok()?;
        std::fs::create_dir_all(mount).ok()?;
        // -m 0: no blocks reserved for root, so "available" is all that is free.
        let made = run(
            "mkfs.ext4",
            &[
                "-q".as_ref(),
                "-F".as_ref(),
                "-m".as_ref(),
                "0".as_ref(),
                image.as_os_str(),
            ],
        );
        let mounted = made
            && run(
                "mount",
                &[
                    "-o".as_ref(),
                    "loop".as_ref(),
                    image.as_os_str(),
                    mount.as_os_str(),
                ],
            );
        mounted.then(|| LoopDisk(mount.to_owned()))
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

pub(crate) fn write_aged(path: &std::path::Path, bytes: usize, age_days: u64) {
    std::fs::write(path, vec![0x42u8; bytes]).expect("write");
    let then = SystemTime::now() - Duration::from_secs(age_days * 86_400);
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_times(
            std::fs::FileTimes::new()
                .set_accessed(then)
                .set_modified(then),
        )
        .expect("age");
}

/// How full the file system mounted at `path` is, as the agent's disk probe sees it.
pub(crate) fn used_pct(path: &std::path::Path) -> f64 {
    let mounts = firstline_agent::probes::disk::mounts().expect("mounts");
    let mount = mounts
        .iter()
        .find(|m| m.mount_point == path.display().to_string())
        .expect("the tmpfs is listed");
    100.0 * (mount.total_bytes - mount.available_bytes) as f64 / mount.total_bytes as f64
}

#[test]
fn a_full_disk_of_old_temp_files_is_cleaned_and_verified_and_a_fix_that_cannot_help_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mount = dir.path().join("disk");
    let Some(_disk) = LoopDisk::mount(&dir.path().join("disk.img"), &mount, 12 * 1024 * 1024)
    else {
        skip("mounting a loop device needs root and mkfs.ext4");
        return;
    };
    let scratch = mount.join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    // One file written today, then files nobody touched for a month until the disk check
    // (raise 90%) would fire.
    write_aged(&scratch.join("today.tmp"), 64 * 1024, 0);
    let mut old_files = 0;
    while used_pct(&mount) < 93.0 {
        write_aged(
            &scratch.join(format!("render-{old_files}.tmp")),
            256 * 1024,
            30,
        );
        old_files += 1;
    }
    let old_bytes = old_files * 256 * 1024;

    let config = format!(
        "state_dir = {state:?}\n\
         [fixes]\nenabled = true\nextra_temp_dirs = [{scratch:?}]\n\
         ",
        state = dir.path().join("state").display().to_string(),
        scratch = scratch.display().to_string(),
    );
    let settings = Settings::parse(&config, std::path::Path::new("agent.toml")).expect("config");
    let runs = DailyRuns::in_memory();
    let ask = |older_than_days: &str| {
        let parameters: BTreeMap<String, String> = [
            ("mount".to_owned(), mount.display().to_string()),
            ("older_than_days".to_owned(), older_than_days.to_owned()),
        ]
        .into_iter()
        .collect();
        let prepared = fixes::prepare(
            "disk.cleanup",
            parameters,
            &Authority {
                allowed_by: "policy:auto".to_owned(),
                consent_account: None,
            },
            &settings,
        )
        .expect("the disk probe sees the tmpfs");
        fixes::run::run_fix(fixes::spec("disk.cleanup").expect("spec"), prepared, &runs)
    };

    let report = ask("7");
    assert_eq!(report.outcome, Outcome::Verified, "{report:#?}");
    assert!(
        report.bytes_freed() >= old_bytes,
        "freed {} bytes: {report:#?}",
        report.bytes_freed()
    );
    let change = &report.changes[0];
    assert_eq!(change.target, scratch.display().to_string());
    assert!(
        change
            .action
            .contains(&format!("removed {old_files} files")),
        "{change:?}"
    );
    assert!(
        report.before.as_deref().unwrap_or("").contains("% full"),
        "{report:?}"
    );
    assert!(scratch.join("today.tmp").exists(), "today's file stays");
    assert!(used_pct(&mount) < 30.0, "{:.0}% full", used_pct(&mount));

    // Full again, of files written today: the cleanup finds nothing it may remove, and says
    // the fault is still there rather than "fixed".
    let mut fresh = 0;
    while used_pct(&mount) < 93.0 {
        write_aged(&scratch.join(format!("fresh-{fresh}.tmp")), 256 * 1024, 0);
        fresh += 1;
    }
    let report = ask("7");
    assert_eq!(report.outcome, Outcome::NotVerified, "{report:#?}");
    assert_eq!(report.bytes_freed(), 0);
    let verification = report.verification.expect("verified");
    assert!(verification.detail.contains("% full"), "{verification:?}");

    // Its daily share is 4 runs: the fifth is refused, with when it may run again.
    ask("7");
    ask("7");
    let report = ask("7");
    assert_eq!(report.outcome, Outcome::Refused);
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or("")
            .contains("already ran 4 times"),
        "{report:?}"
    );
}

#[test]
fn a_cleanup_is_refused_for_a_path_that_is_not_a_mounted_disk() {
    let settings = Settings::parse(
        "[fixes]\nenabled = true\n",
        std::path::Path::new("agent.toml"),
    )
    .expect("config");
    for mount in ["/etc/../etc", "/nonexistent-mount", "relative/path"] {
        let parameters: BTreeMap<String, String> = [("mount".to_owned(), mount.to_owned())]
            .into_iter()
            .collect();
        let error = fixes::prepare("disk.cleanup", parameters, &Authority::default(), &settings)
            .err()
            .expect("refused");
        assert!(
            error.contains("is not a mounted file system"),
            "{mount}: {error}"
        );
    }
}
