//! `print.restart`: restarts the print service (CUPS) and cancels the jobs stuck in its queues
//! longer than N minutes; verified by the scheduler running (`lpstat -r`) and no job older than
//! N minutes left. Linux (CUPS, restarted by systemd or its init script) is built here.
//!
//! Windows is built too: the Spooler is stopped through the Service Control Manager, the jobs
//! older than N minutes are removed from its spool folder (`System32\spool\PRINTERS`, each job a
//! `.SHD`/`.SPL` pair of one name, aged by the later of its files' creation and last write), and
//! it is started again; verified by the Spooler running and no stuck job left. The folder is
//! held open without sharing delete (it cannot be swapped while held) and refused when it is a
//! reparse point; each file is opened as itself (`FILE_FLAG_OPEN_REPARSE_POINT`), refused when it
//! is a link, junction or folder, and removed through that handle (`fixes::windows`). The
//! Spooler must be on `[fixes] restartable_services`, as it is by default. Tested under Wine,
//! whose `spoolsv.exe` stops and starts through its SCM, with a spool folder of the test's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[cfg(not(windows))]
use super::run::{restart_service, run_program};
use super::{Change, FixSpec, FixesConfig, Parameters, Prepared, Verification};

pub const NAME: &str = "print.restart";

pub const SPEC: FixSpec = FixSpec {
    name: NAME,
    summary: "Restarts the print service and cancels print jobs stuck longer than a given time.",
    answers: &[crate::checks::services::NOT_RUNNING, "playbook.printing"],
    max_runs_per_day: 6,
    needs_consent: false,
    undo: None,
    platforms: &["linux", "windows"],
    not_built: &[(
        "macos",
        "it needs CUPS restarted through launchd (org.cups.cupsd) rather than systemd",
    )],
};

/// CUPS keeps one control file per job here (`cNNNNN`): the job's IPP attributes, among them
/// `time-at-creation`. CUPS writes it lazily (its DirtyCleanInterval, 30 s by default), so a
/// job queued moments ago may have none yet.
#[cfg(not(windows))]
const CUPS_SPOOL: &str = "/var/spool/cups";

/// How long the scheduler may take to answer again after its restart.
#[cfg(not(windows))]
const SCHEDULER_START: Duration = Duration::from_secs(30);

pub struct PrintRestart {
    service: String,
    stuck_after: Duration,
    spool: PathBuf,
}

/// The Spooler's service name.
#[cfg(windows)]
const SPOOLER: &str = "Spooler";

/// How long the Spooler may take to stop, and to start.
#[cfg(windows)]
const SPOOLER_WITHIN: Duration = Duration::from_secs(60);

#[cfg(windows)]
pub fn prepare(parameters: &mut Parameters, config: &FixesConfig) -> Result<PrintRestart, String> {
    let stuck_minutes = parameters.number("stuck_minutes", 1..=1440, 30)?;
    if !config.restartable_services.iter().any(|s| s == SPOOLER) {
        return Err(
            "the print service (Spooler) is not on this device's list of services that may be restarted ([fixes] restartable_services)"
                .to_owned(),
        );
    }
    Ok(PrintRestart {
        service: SPOOLER.to_owned(),
        stuck_after: Duration::from_secs(stuck_minutes * 60),
        spool: super::windows::system_directory()?.join(r"spool\PRINTERS"),
    })
}

#[cfg(not(windows))]
pub fn prepare(parameters: &mut Parameters, config: &FixesConfig) -> Result<PrintRestart, String> {
    let stuck_minutes = parameters.number("stuck_minutes", 1..=1440, 30)?;
    // The print service must be restartable on this device too.
    let service = ["cups", "cups.service"]
        .into_iter()
        .find(|name| config.restartable_services.iter().any(|s| s == name))
        .ok_or_else(|| {
            "the print service (cups) is not on this device's list of services that may be restarted ([fixes] restartable_services)"
                .to_owned()
        })?;
    Ok(PrintRestart {
        service: service.to_owned(),
        stuck_after: Duration::from_secs(stuck_minutes * 60),
        spool: PathBuf::from(CUPS_SPOOL),
    })
}

/// When a job was queued, from its control file: CUPS's own `time-at-creation` attribute,
/// else (an unreadable file) the file's modification time, which is when CUPS last saved the
/// job and so never older than the job: an age read from it can only be too young. `None`
/// when there is no control file yet (a job queued within CUPS's last save interval).
pub fn queued_at(control_file: &Path) -> Option<SystemTime> {
    let bytes = std::fs::read(control_file).ok()?;
    match time_at_creation(&bytes) {
        Some(secs) => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
        None => std::fs::metadata(control_file)
            .and_then(|meta| meta.modified())
            .ok(),
    }
}

/// The `time-at-creation` integer of an IPP message as `ippWrite` saves it: an 8-byte header,
/// then group tags (one byte, below 0x10) and attributes (value tag, 2-byte name length, name,
/// 2-byte value length, value; an empty name continues the previous attribute).
pub fn time_at_creation(message: &[u8]) -> Option<u64> {
    const END_OF_ATTRIBUTES: u8 = 0x03;
    const INTEGER: u8 = 0x21;
    let mut at = 8;
    let read_u16 = |at: usize| -> Option<usize> {
        let bytes = message.get(at..at + 2)?;
        Some(usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
    };
    loop {
        let tag = *message.get(at)?;
        at += 1;
        if tag == END_OF_ATTRIBUTES {
            return None;
        }
        if tag < 0x10 {
            continue;
        }
        let name_length = read_u16(at)?;
        let name = message.get(at + 2..at + 2 + name_length)?;
        at += 2 + name_length;
        let value_length = read_u16(at)?;
        let value = message.get(at + 2..at + 2 + value_length)?;
        at += 2 + value_length;
        if tag == INTEGER && name == b"time-at-creation" {
            let value: [u8; 4] = value.try_into().ok()?;
            return u64::try_from(i32::from_be_bytes(value)).ok();
        }
    }
}

/// One queued job: its id ("office-42") and when it was queued, when that can be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub queued: Option<SystemTime>,
}

/// The job ids `lpstat -o` lists (its first word per line: "QUEUE-NUMBER").
pub fn parse_lpstat_jobs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|id| {
            id.rsplit_once('-').is_some_and(|(queue, number)| {
                !queue.is_empty()
                    && !number.is_empty()
                    && number.bytes().all(|b| b.is_ascii_digit())
            })
        })
        .map(str::to_owned)
        .take(10_000)
        .collect()
}

/// A Windows spool folder's files by job: a job is the `.SHD` (its shadow file: who, which
/// printer) and `.SPL` (its data) of one name, e.g. `00012.SHD` and `00012.SPL`, or `FP00012.*`.
/// Other files are not jobs and are left alone. Names are compared without case.
pub fn spool_files_by_job(names: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut jobs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in names {
        let Some((stem, extension)) = name.rsplit_once('.') else {
            continue;
        };
        if stem.is_empty()
            || !(extension.eq_ignore_ascii_case("SHD") || extension.eq_ignore_ascii_case("SPL"))
        {
            continue;
        }
        jobs.entry(stem.to_ascii_uppercase())
            .or_default()
            .push(name.clone());
    }
    jobs
}

#[cfg(not(windows))]
fn jobs(spool: &Path) -> Result<Vec<Job>, String> {
    let listed = run_program("lpstat", &["-o"], Duration::from_secs(30))?;
    Ok(parse_lpstat_jobs(&listed.stdout)
        .into_iter()
        .map(|id| {
            let number: u64 = id
                .rsplit_once('-')
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(0);
            let queued = queued_at(&spool.join(format!("c{number:05}")));
            Job { id, queued }
        })
        .collect())
}

impl PrintRestart {
    fn stuck(&self, jobs: &[Job]) -> Vec<Job> {
        let now = SystemTime::now();
        jobs.iter()
            .filter(|job| {
                // A job with no control file yet was queued within CUPS's last save interval
                // (30 s): not stuck, whatever N is.
                job.queued.is_some_and(|queued| {
                    now.duration_since(queued).unwrap_or_default() >= self.stuck_after
                })
            })
            .cloned()
            .collect()
    }

    #[cfg(not(windows))]
    fn describe(&self) -> Result<(String, bool), String> {
        let (running, scheduler) = scheduler_state();
        let stuck = self.stuck(&jobs(&self.spool)?);
        Ok((
            format!(
                "{scheduler}; {} print {} queued longer than {} min",
                stuck.len(),
                if stuck.len() == 1 { "job" } else { "jobs" },
                self.stuck_after.as_secs() / 60
            ),
            running && stuck.is_empty(),
        ))
    }
}

impl Prepared for PrintRestart {
    fn before(&mut self) -> Result<String, String> {
        self.describe().map(|(text, _)| text)
    }

    fn apply(&mut self) -> Result<Vec<Change>, String> {
        self.apply_here()
    }

    fn verify(&mut self) -> Verification {
        Verification::from_look(self.describe().map(|(detail, passed)| (passed, detail)))
    }
}

impl PrintRestart {
    #[cfg(not(windows))]
    fn apply_here(&mut self) -> Result<Vec<Change>, String> {
        let stuck = self.stuck(&jobs(&self.spool).unwrap_or_default());
        let mut changes = Vec::new();
        let mut cancelled = 0;
        let mut first_error = None;
        for job in &stuck {
            match run_program("cancel", &[job.id.as_str()], Duration::from_secs(30)) {
                Ok(_) => cancelled += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !stuck.is_empty() {
            changes.push(Change {
                target: "print queues".to_owned(),
                action: format!(
                    "cancelled {cancelled} of {} print jobs queued longer than {} min ({})",
                    stuck.len(),
                    self.stuck_after.as_secs() / 60,
                    stuck
                        .iter()
                        .map(|j| j.id.as_str())
                        .take(20)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                bytes_freed: None,
                error: first_error,
            });
        }
        let manager = restart_service(&self.service)?;
        // The verification looks once: give the scheduler its time to answer again.
        let restarted = std::time::Instant::now();
        while !scheduler_state().0 && restarted.elapsed() < SCHEDULER_START {
            std::thread::sleep(Duration::from_millis(200));
        }
        changes.push(Change {
            target: self.service.clone(),
            action: format!("restarted the print service with {}", manager.name()),
            bytes_freed: None,
            error: None,
        });
        Ok(changes)
    }
}

/// The spool folder held open, and each job with its files held open.
#[cfg(windows)]
type SpoolLook = (
    super::windows::HeldFolder,
    Vec<(Job, Vec<super::windows::HeldFile>)>,
);

/// The Windows side: the Spooler through the SCM, its spool folder's jobs by their files.
#[cfg(windows)]
impl PrintRestart {
    /// The spool folder held open, and its jobs with their files held open too (so that what
    /// is removed is what was looked at). No folder is no jobs: nothing was ever spooled.
    fn look_at_spool(&self) -> Result<Option<SpoolLook>, String> {
        if !self.spool.exists() {
            return Ok(None);
        }
        let folder = super::windows::HeldFolder::open(&self.spool)?;
        let mut jobs = Vec::new();
        for (stem, names) in spool_files_by_job(&folder.names()?) {
            let mut files = Vec::new();
            let mut queued = Some(SystemTime::UNIX_EPOCH);
            for name in &names {
                match folder.open_file(name) {
                    Ok(file) => {
                        // The job's age is its youngest file's: one file still being written
                        // makes the whole job young.
                        queued = queued.zip(file.changed).map(|(a, b)| a.max(b));
                        files.push(file);
                    }
                    // A file that cannot be opened as a plain file (a link, a folder, one in
                    // use) leaves its job alone.
                    Err(_) => queued = None,
                }
            }
            jobs.push((Job { id: stem, queued }, files));
        }
        Ok(Some((folder, jobs)))
    }

    fn describe(&self) -> Result<(String, bool), String> {
        let state = super::run::service_state(&self.service)?;
        let jobs: Vec<Job> = self
            .look_at_spool()?
            .map(|(_, jobs)| jobs.into_iter().map(|(job, _)| job).collect())
            .unwrap_or_default();
        let stuck = self.stuck(&jobs);
        Ok((
            format!(
                "service {} is {} ({}); {} print {} in {} older than {} min",
                state.name,
                state.active_state,
                state.sub_state,
                stuck.len(),
                if stuck.len() == 1 { "job" } else { "jobs" },
                self.spool.display(),
                self.stuck_after.as_secs() / 60
            ),
            state.running() && stuck.is_empty(),
        ))
    }

    fn apply_here(&mut self) -> Result<Vec<Change>, String> {
        let control = super::windows::ServiceControl::open(&self.service)?;
        // The Spooler holds its jobs' files open while it runs: stopped first.
        control.stop(SPOOLER_WITHIN)?;
        let mut changes = Vec::new();
        let mut removed_jobs = Vec::new();
        let mut bytes_freed = 0;
        let mut first_error = None;
        match self.look_at_spool() {
            Ok(None) => {}
            Ok(Some((_folder, jobs))) => {
                let stuck: Vec<String> = self
                    .stuck(&jobs.iter().map(|(job, _)| job.clone()).collect::<Vec<_>>())
                    .into_iter()
                    .map(|job| job.id)
                    .collect();
                for (job, files) in jobs {
                    if !stuck.contains(&job.id) {
                        continue;
                    }
                    let mut whole = true;
                    for file in files {
                        match file.remove() {
                            Ok(bytes) => bytes_freed += bytes,
                            Err(e) => {
                                whole = false;
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    if whole {
                        removed_jobs.push(job.id);
                    }
                }
                if !stuck.is_empty() {
                    changes.push(Change {
                        target: self.spool.display().to_string(),
                        action: format!(
                            "removed {} of {} print jobs queued longer than {} min ({})",
                            removed_jobs.len(),
                            stuck.len(),
                            self.stuck_after.as_secs() / 60,
                            stuck
                                .iter()
                                .map(String::as_str)
                                .take(20)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        bytes_freed: Some(bytes_freed),
                        error: first_error,
                    });
                }
            }
            Err(e) => changes.push(Change {
                target: self.spool.display().to_string(),
                action: "left the spool folder alone".to_owned(),
                bytes_freed: None,
                error: Some(e),
            }),
        }
        // Started again whatever the folder said: a stopped Spooler prints nothing.
        control.start(SPOOLER_WITHIN).map_err(|e| {
            format!(
                "the Spooler was stopped{} but did not start again: {e}",
                if removed_jobs.is_empty() {
                    String::new()
                } else {
                    format!(" and {} stuck jobs removed", removed_jobs.len())
                }
            )
        })?;
        changes.push(Change {
            target: self.service.clone(),
            action: "stopped and started the print spooler with the Service Control Manager"
                .to_owned(),
            bytes_freed: None,
            error: None,
        });
        Ok(changes)
    }
}

/// Whether the CUPS scheduler runs, as `lpstat -r` says (whichever service manager started
/// it), and what it said.
#[cfg(not(windows))]
fn scheduler_state() -> (bool, String) {
    let said = run_program("lpstat", &["-r"], Duration::from_secs(30))
        .map(|o| o.stdout.trim().to_owned())
        .unwrap_or_else(|e| e);
    (said.contains("is running"), said)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attribute as `ippWrite` saves it.
    fn attribute(tag: u8, name: &str, value: &[u8]) -> Vec<u8> {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&u16::try_from(name.len()).expect("short").to_be_bytes());
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&u16::try_from(value.len()).expect("short").to_be_bytes());
        bytes.extend_from_slice(value);
        bytes
    }

    #[test]
    fn a_jobs_creation_time_is_read_from_its_control_file() {
        let header = [0x02, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04];
        let created = 1_796_000_000_i32.to_be_bytes();
        let message = [
            &header[..],
            &[0x01],
            &attribute(0x47, "attributes-charset", b"utf-8"),
            &[0x02],
            &attribute(0x42, "job-name", b"report.pdf"),
            &attribute(0x31, "date-time-at-creation", &[7; 11]),
            // A second value of the previous attribute: an empty name.
            &attribute(0x21, "", &[0, 0, 0, 9]),
            &attribute(0x21, "time-at-creation", &created),
            &[0x03],
        ]
        .concat();
        assert_eq!(time_at_creation(&message), Some(1_796_000_000));
        for broken in [
            &message[..message.len() - 9],
            &message[..20],
            &header[..],
            &[][..],
        ] {
            assert_eq!(time_at_creation(broken), None);
        }
        let without = [&header[..], &[0x01, 0x03]].concat();
        assert_eq!(time_at_creation(&without), None);
    }

    #[test]
    fn a_job_without_a_control_file_yet_is_not_stuck() {
        let fix = PrintRestart {
            service: "cups".to_owned(),
            stuck_after: Duration::from_secs(60),
            spool: PathBuf::from("/nonexistent"),
        };
        let now = SystemTime::now();
        let jobs = [
            Job {
                id: "office-1".to_owned(),
                queued: Some(now - Duration::from_secs(600)),
            },
            Job {
                id: "office-2".to_owned(),
                queued: Some(now - Duration::from_secs(5)),
            },
            Job {
                id: "office-3".to_owned(),
                queued: None,
            },
        ];
        let stuck: Vec<String> = fix.stuck(&jobs).into_iter().map(|job| job.id).collect();
        assert_eq!(stuck, vec!["office-1"]);
    }

    #[test]
    fn job_ids_are_read_from_lpstat() {
        let text = "office-12  anna  1024  Mon 30 Nov 2026 08:00:00 UTC\n\
                    hp-laser-3-7  root  0  Mon 30 Nov 2026 08:01:00 UTC\n\
                    garbage\n\
                    -5 x\n";
        assert_eq!(parse_lpstat_jobs(text), vec!["office-12", "hp-laser-3-7"]);
    }

    #[test]
    fn a_windows_spool_folder_is_read_as_jobs_of_two_files() {
        let names: Vec<String> = [
            "00012.SHD",
            "00012.SPL",
            "fp00013.spl",
            "FP00013.SHD",
            "00014.SPL",
            "desktop.ini",
            ".SHD",
            "noextension",
        ]
        .map(str::to_owned)
        .to_vec();
        let jobs = spool_files_by_job(&names);
        assert_eq!(
            jobs.keys().map(String::as_str).collect::<Vec<_>>(),
            vec!["00012", "00014", "FP00013"]
        );
        assert_eq!(jobs["FP00013"], vec!["fp00013.spl", "FP00013.SHD"]);
        assert_eq!(jobs["00014"], vec!["00014.SPL"]);
    }

    #[cfg(windows)]
    fn windows_request(config: &str, pairs: &[(&str, &str)]) -> Result<(), String> {
        let settings =
            crate::config::Settings::parse(config, Path::new("agent.toml")).expect("config");
        let parameters = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        super::super::prepare(
            NAME,
            parameters,
            &super::super::Authority::default(),
            &settings,
        )
        .map(|_| ())
    }

    #[cfg(windows)]
    #[test]
    fn on_windows_the_spooler_must_be_on_the_list_and_parameters_known() {
        let enabled = "[fixes]\nenabled = true\n";
        for (config, pairs, expected) in [
            (
                "[fixes]\nenabled = true\nrestartable_services = [\"cups\"]\n",
                vec![],
                "the print service (Spooler) is not on this device's list",
            ),
            (
                enabled,
                vec![("stuck_minutes", "0")],
                "must be 1 to 1440; got 0",
            ),
            (
                enabled,
                vec![("stuck_minutes", "30"), ("folder", r"C:\Windows")],
                "unknown parameter \"folder\"",
            ),
        ] {
            let error = windows_request(config, &pairs)
                .err()
                .unwrap_or_else(|| panic!("{pairs:?} was accepted"));
            assert!(error.contains(expected), "{pairs:?}: {error}");
        }
        windows_request(enabled, &[("stuck_minutes", "30")]).expect("the default list has Spooler");
    }

    /// The whole fix against Wine's (or Windows') Spooler, with a spool folder of the test's
    /// own: the old job's two files go, the young job, a file that is no job, and a folder
    /// named like a job stay; the Spooler runs again.
    #[cfg(windows)]
    #[test]
    fn on_windows_the_spooler_restarts_and_only_old_jobs_leave_its_folder() {
        use std::os::windows::fs::FileTimesExt;
        let _spooler = crate::fixes::windows::tests::spooler_lock();
        let spool = tempfile::tempdir().expect("temp dir");
        let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
        let write = |name: &str, old: bool| {
            let path = spool.path().join(name);
            std::fs::write(&path, b"%!PS job").expect("write");
            if old {
                let times = std::fs::FileTimes::new()
                    .set_modified(two_hours_ago)
                    .set_created(two_hours_ago);
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|file| file.set_times(times))
                    .expect("set times");
            }
        };
        write("00001.SHD", true);
        write("00001.SPL", true);
        write("00002.SHD", false);
        write("00002.SPL", false);
        write("notes.txt", true);
        std::fs::create_dir(spool.path().join("00003.SHD")).expect("mkdir");
        let mut fix = PrintRestart {
            service: SPOOLER.to_owned(),
            stuck_after: Duration::from_secs(30 * 60),
            spool: spool.path().to_owned(),
        };
        let before = fix.before().expect("before");
        assert!(before.contains("; 1 print job in"), "{before}");
        let changes = fix.apply().expect("applied");
        assert!(
            changes[0].action.starts_with("removed 1 of 1 print jobs"),
            "{changes:?}"
        );
        assert_eq!(changes[0].bytes_freed, Some(16), "{changes:?}");
        assert_eq!(changes[0].error, None, "{changes:?}");
        assert!(
            changes[1].action.contains("Service Control Manager"),
            "{changes:?}"
        );
        for (name, stays) in [
            ("00001.SHD", false),
            ("00001.SPL", false),
            ("00002.SHD", true),
            ("00002.SPL", true),
            ("notes.txt", true),
            ("00003.SHD", true),
        ] {
            assert_eq!(spool.path().join(name).exists(), stays, "{name}");
        }
        let verification = fix.verify();
        assert!(verification.passed, "{verification:?}");
        assert!(verification.detail.contains("RUNNING"), "{verification:?}");
    }
}
