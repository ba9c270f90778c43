//! `print.restart`: restarts the print service (CUPS) and cancels the jobs stuck in its queues
//! longer than N minutes; verified by the scheduler running (`lpstat -r`) and no job older than
//! N minutes left. Linux (CUPS, restarted by systemd or its init script) is built here; Windows
//! (restart the Spooler through the SCM, cancel with `SetJob(JOB_CONTROL_DELETE)`) is not.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

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
    platforms: &["linux"],
    not_built: &[(
        "macos",
        "it needs CUPS restarted through launchd (org.cups.cupsd) rather than systemd",
    )],
};

/// CUPS keeps one control file per job here (`cNNNNN`): the job's IPP attributes, among them
/// `time-at-creation`. CUPS writes it lazily (its DirtyCleanInterval, 30 s by default), so a
/// job queued moments ago may have none yet.
const CUPS_SPOOL: &str = "/var/spool/cups";

/// How long the scheduler may take to answer again after its restart.
const SCHEDULER_START: Duration = Duration::from_secs(30);

pub struct PrintRestart {
    service: String,
    stuck_after: Duration,
    spool: PathBuf,
}

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
        let restarted = Instant::now();
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

    fn verify(&mut self) -> Verification {
        Verification::from_look(self.describe().map(|(detail, passed)| (passed, detail)))
    }
}

/// Whether the CUPS scheduler runs, as `lpstat -r` says (whichever service manager started
/// it), and what it said.
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
}
