//! `print.restart`: restarts the print service (CUPS) and cancels the jobs stuck in its queues
//! longer than N minutes; verified by the scheduler running and no job older than N minutes
//! left. Linux (CUPS) is built here; Windows (restart the Spooler through the SCM, cancel with
//! `SetJob(JOB_CONTROL_DELETE)`) is not built yet.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::run::run_program;
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
};

/// CUPS keeps one control file per job here, written when the job was queued.
const CUPS_SPOOL: &str = "/var/spool/cups";

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
            let queued = std::fs::metadata(spool.join(format!("c{number:05}")))
                .and_then(|meta| meta.modified())
                .ok();
            Job { id, queued }
        })
        .collect())
}

impl PrintRestart {
    fn stuck(&self, jobs: &[Job]) -> Vec<Job> {
        let now = SystemTime::now();
        jobs.iter()
            .filter(|job| {
                // A job whose age cannot be read counts as stuck: it was there before the fix.
                job.queued.is_none_or(|queued| {
                    now.duration_since(queued).unwrap_or_default() >= self.stuck_after
                })
            })
            .cloned()
            .collect()
    }

    fn describe(&self) -> Result<(String, bool), String> {
        let scheduler = run_program("lpstat", &["-r"], Duration::from_secs(30))
            .map(|o| o.stdout.trim().to_owned())
            .unwrap_or_else(|e| e);
        let running = scheduler.contains("is running");
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
        run_program(
            "systemctl",
            &["restart", "--", &self.service],
            Duration::from_secs(90),
        )?;
        std::thread::sleep(Duration::from_secs(2));
        changes.push(Change {
            target: self.service.clone(),
            action: "restarted the print service".to_owned(),
            bytes_freed: None,
            error: None,
        });
        Ok(changes)
    }

    fn verify(&mut self) -> Verification {
        Verification::from_look(self.describe().map(|(detail, passed)| (passed, detail)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_read_from_lpstat() {
        let text = "office-12  anna  1024  Mon 30 Nov 2026 08:00:00 UTC\n\
                    hp-laser-3-7  root  0  Mon 30 Nov 2026 08:01:00 UTC\n\
                    garbage\n\
                    -5 x\n";
        assert_eq!(parse_lpstat_jobs(text), vec!["office-12", "hp-laser-3-7"]);
    }
}
