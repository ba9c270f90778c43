//! Fixes on a real system (issue 20, the agent's side): a small ext4 disk filled with old
//! temporary files until the disk check would fire, cleaned by `disk.cleanup`, verified by the
//! disk check's own rule; a fix that cannot help says so; the daily cap holds. And a real CUPS
//! with jobs stuck on a printer that never answers, cleared by `print.restart`.

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

/// The queue the print test makes, to a loopback port nobody answers.
const STUCK_QUEUE: &str = "firstline-stuck";

/// Runs a program (no shell); its stdout, or what went wrong.
fn output_of(program: &str, arguments: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new(program)
        .args(arguments)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {} {}",
            arguments.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Polls `condition` until it holds, failing the test after `deadline`.
fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn scheduler_running() -> bool {
    output_of("lpstat", &["-r"]).is_ok_and(|said| said.contains("scheduler is running"))
}

/// The jobs `lpstat -o` lists for the test's queue, one line each.
fn queued_lines() -> Vec<String> {
    output_of("lpstat", &["-o", STUCK_QUEUE])
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The running cupsd's pid, from /proc.
fn cupsd_pid() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim() == "cupsd").then_some(pid)
        })
}

/// Moves a job's `time-at-creation` (an IPP integer in its control file) `secs` into the past.
/// Done while cupsd is stopped: it reads the file back when it starts, and keeps the value.
fn backdate_job(control_file: &std::path::Path, secs: i32) {
    let mut bytes = std::fs::read(control_file)
        .unwrap_or_else(|e| panic!("reading {}: {e}", control_file.display()));
    // Value tag 0x21 (integer), name length 16, the name, value length 4, the value.
    let attribute = [&[0x21, 0x00, 0x10][..], b"time-at-creation", &[0x00, 0x04]].concat();
    let at = bytes
        .windows(attribute.len())
        .position(|window| window == attribute.as_slice())
        .unwrap_or_else(|| panic!("no time-at-creation in {}", control_file.display()))
        + attribute.len();
    let created = i32::from_be_bytes(bytes[at..at + 4].try_into().expect("four bytes"));
    bytes[at..at + 4].copy_from_slice(&(created - secs).to_be_bytes());
    std::fs::write(control_file, bytes).expect("write control file");
}

/// Deletes the test's queue, and stops CUPS again if the test started it.
struct CupsCleanup {
    started_by_test: bool,
}

impl Drop for CupsCleanup {
    fn drop(&mut self) {
        if !scheduler_running() {
            let _ = output_of("service", &["cups", "start"]);
            let started = std::time::Instant::now();
            while !scheduler_running() && started.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = output_of("cancel", &["-a", STUCK_QUEUE]);
        let _ = output_of("lpadmin", &["-x", STUCK_QUEUE]);
        if self.started_by_test {
            let _ = output_of("service", &["cups", "stop"]);
        }
    }
}

/// One test at a time drives the machine's CUPS (they start, stop and restart it).
pub(crate) static CUPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The machine's CUPS with the test's queue to a printer that never answers and 3 jobs in it,
/// each `backdate_secs` old as CUPS itself records it; None (said aloud, and a failure in CI)
/// when CUPS is missing or cannot start. Dropping it deletes the queue (and stops CUPS if it
/// started it).
pub(crate) struct StuckQueue {
    pub(crate) job_ids: Vec<String>,
    pub(crate) document_dir: tempfile::TempDir,
    _cleanup: CupsCleanup,
}

pub(crate) fn stuck_queue(backdate_secs: i32) -> Option<StuckQueue> {
    let missing: Vec<&str> = ["cupsd", "lpadmin", "lp", "lpstat", "cancel", "service"]
        .into_iter()
        .filter(|program| !fixes::run::have_program(program))
        .collect();
    if !missing.is_empty() {
        skip(&format!(
            "CUPS is not installed (missing {}; .ci/run installs cups and cups-client)",
            missing.join(", ")
        ));
        return None;
    }
    // Started the way the fix restarts it where systemd is not PID 1: its init script.
    let started_by_test = !scheduler_running();
    if started_by_test {
        let state = fixes::run::service_state("cups").expect("asked");
        assert!(
            !state.running(),
            "lpstat -r says down, the service manager: {state:?}"
        );
    }
    if started_by_test && let Err(e) = output_of("service", &["cups", "start"]) {
        skip(&format!("CUPS cannot start here: {e}"));
        return None;
    }
    let cleanup = CupsCleanup { started_by_test };
    wait_until(
        "the CUPS scheduler to run",
        Duration::from_secs(30),
        scheduler_running,
    );
    let _ = output_of("lpadmin", &["-x", STUCK_QUEUE]);

    // A port nobody listens on: bound, read, and let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    output_of(
        "lpadmin",
        &[
            "-p",
            STUCK_QUEUE,
            "-E",
            "-v",
            &format!("socket://127.0.0.1:{port}"),
        ],
    )
    .expect("lpadmin makes the queue");
    let dir = tempfile::tempdir().expect("temp dir");
    let document = dir.path().join("report.txt");
    std::fs::write(&document, "quarterly report\n").expect("document");
    let job_ids: Vec<String> = (0..3)
        .map(|_| {
            let said = output_of(
                "lp",
                &["-d", STUCK_QUEUE, document.to_str().expect("utf-8 path")],
            )
            .expect("lp queues a job");
            said.split_whitespace()
                .find(|word| word.starts_with(&format!("{STUCK_QUEUE}-")))
                .unwrap_or_else(|| panic!("no job id in {said:?}"))
                .to_owned()
        })
        .collect();
    wait_until("lpstat to list the 3 jobs", Duration::from_secs(20), || {
        queued_lines().len() == 3
    });
    let listed_before = queued_lines();

    // Ten minutes old, as CUPS itself records it: the scheduler writes each job's control file
    // when it stops, is stopped while they are backdated, and loads them back when it starts.
    output_of("service", &["cups", "stop"]).expect("cups stops");
    wait_until(
        "the CUPS scheduler to stop",
        Duration::from_secs(20),
        || !scheduler_running(),
    );
    for id in &job_ids {
        let number: u32 = id
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .expect("job number");
        backdate_job(
            &std::path::Path::new("/var/spool/cups").join(format!("c{number:05}")),
            backdate_secs,
        );
    }
    output_of("service", &["cups", "start"]).expect("cups starts again");
    wait_until(
        "the CUPS scheduler to run again",
        Duration::from_secs(30),
        || scheduler_running() && queued_lines().len() == 3,
    );
    let listed_backdated = queued_lines();
    for (before, after) in listed_before.iter().zip(&listed_backdated) {
        assert_ne!(
            before, after,
            "lpstat shows the job's creation time, which CUPS should have read back ten minutes earlier"
        );
    }
    Some(StuckQueue {
        job_ids,
        document_dir: dir,
        _cleanup: cleanup,
    })
}

/// Whether the test's queue is empty, as `lpstat` says.
pub(crate) fn stuck_queue_is_empty() -> bool {
    queued_lines().is_empty()
}

/// The issue's acceptance: a CUPS queue to a printer that never answers, with jobs stuck
/// longer than the fix's N minutes; the approved `print.restart` cancels them and restarts the
/// scheduler, and says so only when `lpstat` agrees.
#[test]
fn stuck_print_jobs_are_cancelled_and_cups_restarted_and_verified() {
    let _machine = CUPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(queue) = stuck_queue(10 * 60) else {
        return;
    };
    let job_ids = &queue.job_ids;
    let dir = &queue.document_dir;
    let scheduler_before = cupsd_pid().expect("cupsd runs");

    let settings = Settings::parse(
        &format!(
            "state_dir = {:?}\n[fixes]\nenabled = true\n",
            dir.path().join("state").display().to_string()
        ),
        std::path::Path::new("agent.toml"),
    )
    .expect("config");
    let prepared = fixes::prepare(
        "print.restart",
        [("stuck_minutes".to_owned(), "5".to_owned())]
            .into_iter()
            .collect(),
        &Authority {
            allowed_by: "technician:alice".to_owned(),
            consent_account: None,
        },
        &settings,
    )
    .expect("print.restart is allowed");
    let report = fixes::run::run_fix(
        fixes::spec("print.restart").expect("spec"),
        prepared,
        &DailyRuns::in_memory(),
    );

    assert_eq!(report.outcome, Outcome::Verified, "{report:#?}");
    assert!(
        report
            .before
            .as_deref()
            .unwrap_or("")
            .contains("3 print jobs queued longer than 5 min"),
        "{report:#?}"
    );
    let cancelled = &report.changes[0];
    assert!(
        cancelled.action.contains("cancelled 3 of 3 print jobs"),
        "{cancelled:?}"
    );
    for id in job_ids {
        assert!(cancelled.action.contains(id.as_str()), "{cancelled:?}");
    }
    assert_eq!(cancelled.error, None);
    assert!(
        report.changes[1]
            .action
            .contains("restarted the print service"),
        "{report:#?}"
    );
    assert_eq!(
        queued_lines(),
        Vec::<String>::new(),
        "jobs left in the queue"
    );
    assert!(scheduler_running(), "lpstat -r says the scheduler is down");
    let scheduler_after = cupsd_pid().expect("cupsd runs after the fix");
    assert_ne!(scheduler_before, scheduler_after, "cupsd was not restarted");
    // What service.restart's verification would say, asked of the same service manager.
    let state = fixes::run::service_state("cups").expect("asked");
    assert!(state.running(), "{state:?}");
}
