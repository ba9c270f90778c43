//! `process.end`: ends a runaway program of the user who consented on their help page, and
//! only theirs — asked to quit first (SIGTERM), stopped after 10 s (SIGKILL); verified by the
//! process being gone. Linux is built here; Windows (`TerminateProcess` after `WM_CLOSE`) is not.

use std::time::{Duration, Instant};

use super::{Authority, Change, FixSpec, Parameters, Prepared, Verification};

pub const NAME: &str = "process.end";

pub const SPEC: FixSpec = FixSpec {
    name: NAME,
    summary: "Ends one program the user agreed to close, after asking it to quit.",
    answers: &["cpu.usage_pct", "memory.used_pct", "playbook.slow"],
    max_runs_per_day: 10,
    needs_consent: true,
    undo: None,
    platforms: &["linux"],
};

/// What the kernel says of a process: its name, owner and start time (which tells a reused
/// pid from the process the request meant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessFacts {
    pub name: String,
    pub uid: u32,
    pub start_ticks: u64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status`; `None` when there is no such process.
pub fn facts(pid: i32) -> Option<ProcessFacts> {
    let dir = std::path::Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    parse_facts(&stat, &status)
}

pub fn parse_facts(stat: &str, status: &str) -> Option<ProcessFacts> {
    // "PID (NAME) STATE ..." — the name may hold spaces and parentheses: split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // Field 22 of stat (starttime) is the 20th after the name.
    let start_ticks = rest.get(19)?.parse().ok()?;
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(ProcessFacts {
        name,
        uid,
        start_ticks,
    })
}

pub struct ProcessEnd {
    pid: i32,
    facts: ProcessFacts,
}

pub fn prepare(parameters: &mut Parameters, authority: &Authority) -> Result<ProcessEnd, String> {
    let pid = parameters.number("pid", 2..=4_194_304, 0)?;
    let name = parameters.required("name")?;
    let pid = i32::try_from(pid).map_err(|_| format!("pid {pid} is out of range"))?;
    let account = authority.consent_account.clone().unwrap_or_default();
    let facts = facts(pid).ok_or_else(|| format!("there is no process {pid}"))?;
    if facts.name != name {
        return Err(format!(
            "process {pid} is {:?}, not {name:.40?} (it may have ended and its number been reused)",
            facts.name
        ));
    }
    if facts.uid == 0 {
        return Err(format!(
            "process {pid} ({name}) belongs to the system, not to a user"
        ));
    }
    let owner =
        crate::users::account_name(facts.uid).unwrap_or_else(|| format!("uid {}", facts.uid));
    if owner != account {
        return Err(format!(
            "process {pid} ({name}) belongs to {owner}, not to {account:.40?} who agreed to close it"
        ));
    }
    Ok(ProcessEnd { pid, facts })
}

impl ProcessEnd {
    fn still_running(&self) -> bool {
        facts(self.pid).is_some_and(|now| now.start_ticks == self.facts.start_ticks)
    }

    fn signal(&self, kill: bool) -> Result<(), String> {
        #[cfg(unix)]
        {
            use rustix::process::{Pid, Signal, kill_process};
            let pid = Pid::from_raw(self.pid)
                .ok_or_else(|| format!("pid {} is not a process id", self.pid))?;
            let signal = if kill { Signal::KILL } else { Signal::TERM };
            kill_process(pid, signal).map_err(|e| format!("signalling process {}: {e}", self.pid))
        }
        #[cfg(not(unix))]
        {
            let _ = kill;
            Err("ending a process is not built for this OS yet".to_owned())
        }
    }
}

impl Prepared for ProcessEnd {
    fn before(&mut self) -> Result<String, String> {
        Ok(format!(
            "process {} ({}) is running",
            self.pid, self.facts.name
        ))
    }

    fn apply(&mut self) -> Result<Vec<Change>, String> {
        self.signal(false)?;
        let asked = Instant::now();
        while self.still_running() && asked.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let forced = self.still_running();
        if forced {
            self.signal(true)?;
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(vec![Change {
            target: format!("process {} ({})", self.pid, self.facts.name),
            action: if forced {
                "stopped it (it did not quit within 10 s of being asked)".to_owned()
            } else {
                "asked it to quit, and it did".to_owned()
            },
            bytes_freed: None,
            error: None,
        }])
    }

    fn verify(&mut self) -> Verification {
        let running = self.still_running();
        Verification {
            passed: !running,
            detail: format!(
                "process {} ({}) is {}",
                self.pid,
                self.facts.name,
                if running { "still running" } else { "gone" }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_facts_survive_odd_names() {
        let stat = "4242 (Web (Content) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 987654 123 45";
        let status = "Name:\tWeb Content\nUid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(
            parse_facts(stat, status),
            Some(ProcessFacts {
                name: "Web (Content) x".to_owned(),
                uid: 1000,
                start_ticks: 987_654,
            })
        );
        assert_eq!(parse_facts("garbage", status), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_program_is_ended_only_for_its_owner_and_by_its_name() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep");
        let pid = child.id().to_string();
        let me = facts(std::process::id() as i32).expect("me");
        let owner = crate::users::account_name(me.uid).unwrap_or_else(|| format!("uid {}", me.uid));
        let ask = |name: &str, account: &str| {
            let mut parameters = Parameters::new(
                [
                    ("pid".to_owned(), pid.clone()),
                    ("name".to_owned(), name.to_owned()),
                ]
                .into_iter()
                .collect(),
            );
            prepare(
                &mut parameters,
                &Authority {
                    allowed_by: "user".to_owned(),
                    consent_account: Some(account.to_owned()),
                },
            )
        };
        let wrong_name = ask("firefox", &owner).err().expect("refused");
        assert!(wrong_name.contains("not \"firefox\""), "{wrong_name}");
        if me.uid == 0 {
            let system = ask("sleep", &owner).err().expect("refused");
            assert!(system.contains("belongs to the system"), "{system}");
        } else {
            let someone_else = ask("sleep", "mallory").err().expect("refused");
            assert!(
                someone_else.contains("not to \"mallory\""),
                "{someone_else}"
            );
            let mut fix = ask("sleep", &owner).expect("allowed");
            fix.apply().expect("ended");
            assert!(fix.verify().passed);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
