//! `process.end`: ends a runaway program of the user who consented on their help page, and
//! only theirs — never a system account's (uid below `UID_MIN`) — asked to quit first
//! (SIGTERM), stopped after 10 s (SIGKILL); verified by the process being gone. Signals go
//! through a pidfd opened while the process was checked, so a pid reused since is never
//! signalled. Linux is built here; Windows (`TerminateProcess` after `WM_CLOSE`) is not.

use std::path::Path;
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
    not_built: &[
        (
            "windows",
            "it needs the process held by its handle (OpenProcess) while its owner's SID is checked, asked to close (WM_CLOSE) and then ended through that handle (TerminateProcess), so a reused process id is never ended",
        ),
        (
            "macos",
            "it needs a way to hold the process while it is checked (macOS has no pidfd), so a reused process id is never signalled",
        ),
    ],
};

/// What the kernel says of a process: its name, owner, start time (which tells a reused pid
/// from the process the request meant) and state (`Z` for a zombie: ended, not yet reaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessFacts {
    pub name: String,
    pub uid: u32,
    pub start_ticks: u64,
    pub state: char,
}

/// The lowest uid of people's accounts when /etc/login.defs does not say (Debian's, Fedora's).
const DEFAULT_UID_MIN: u32 = 1000;

/// `UID_MIN` from a login.defs text: accounts below it are the system's (services, daemons).
/// A later line wins, as in shadow's own reading.
pub fn uid_min_in(login_defs: &str) -> u32 {
    login_defs
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("UID_MIN")).then(|| words.next()?.parse().ok())?
        })
        .next_back()
        .unwrap_or(DEFAULT_UID_MIN)
}

/// `UID_MIN` of this system (/etc/login.defs, else 1000).
pub fn uid_min() -> u32 {
    std::fs::read_to_string("/etc/login.defs").map_or(DEFAULT_UID_MIN, |text| uid_min_in(&text))
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
    let state = rest.first()?.chars().next()?;
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
        state,
    })
}

pub struct ProcessEnd {
    pid: i32,
    facts: ProcessFacts,
    /// The process itself, not its number: signals sent through it reach this process or none.
    #[cfg(target_os = "linux")]
    pidfd: rustix::fd::OwnedFd,
}

pub fn prepare(parameters: &mut Parameters, authority: &Authority) -> Result<ProcessEnd, String> {
    prepare_with(parameters, authority, uid_min(), Path::new("/etc/passwd"))
}

/// `prepare` with the system's `UID_MIN` and accounts file given, for tests.
pub fn prepare_with(
    parameters: &mut Parameters,
    authority: &Authority,
    uid_min: u32,
    passwd: &Path,
) -> Result<ProcessEnd, String> {
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
    let owner = crate::users::account_name_in(passwd, facts.uid)
        .unwrap_or_else(|| format!("uid {}", facts.uid));
    if facts.uid < uid_min {
        return Err(format!(
            "process {pid} ({name}) runs as the system account {owner} (uid {}, below UID_MIN \
             {uid_min} of /etc/login.defs): services and the system's own programs are not \
             ended by this fix, only a person's",
            facts.uid
        ));
    }
    if owner != account {
        return Err(format!(
            "process {pid} ({name}) belongs to {owner}, not to {account:.40?} who agreed to close it"
        ));
    }
    open_checked(pid, facts)
}

/// Holds the process by a pidfd, then checks it is still the one looked at: a pid reused
/// between the look and the open has another start time, and is refused.
#[cfg(target_os = "linux")]
fn open_checked(pid: i32, looked: ProcessFacts) -> Result<ProcessEnd, String> {
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    let raw = Pid::from_raw(pid).ok_or_else(|| format!("pid {pid} is not a process id"))?;
    let pidfd = pidfd_open(raw, PidfdFlags::empty()).map_err(|e| match e {
        // Linux before 5.3. Signalling by number instead could reach a reused pid: refused.
        rustix::io::Errno::NOSYS => format!(
            "process {pid} ({}) cannot be held by a pidfd on this kernel (Linux 5.3 or later \
             is needed), and ending it by its number could end another process that reused it",
            looked.name
        ),
        e => format!("opening process {pid} ({}): {e}", looked.name),
    })?;
    let ended = ProcessEnd {
        pid,
        facts: looked,
        pidfd,
    };
    if !ended.still_running() {
        return Err(format!(
            "process {pid} ({}) ended while it was being checked",
            ended.facts.name
        ));
    }
    Ok(ended)
}

#[cfg(not(target_os = "linux"))]
fn open_checked(pid: i32, looked: ProcessFacts) -> Result<ProcessEnd, String> {
    let _ = (pid, looked);
    Err("ending a process is not built for this OS yet".to_owned())
}

impl ProcessEnd {
    /// The process the request meant is alive: same start time, and not a zombie (ended and
    /// waiting for its parent to collect it).
    fn still_running(&self) -> bool {
        facts(self.pid).is_some_and(|now| {
            now.start_ticks == self.facts.start_ticks && !matches!(now.state, 'Z' | 'X' | 'x')
        })
    }

    /// Signals the process through its pidfd. One that has ended already is not an error: the
    /// signal was for ending it.
    #[cfg(target_os = "linux")]
    fn signal(&self, kill: bool) -> Result<(), String> {
        use rustix::process::{Signal, pidfd_send_signal};
        let signal = if kill { Signal::KILL } else { Signal::TERM };
        match pidfd_send_signal(&self.pidfd, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(format!(
                "signalling process {} ({}): {e}",
                self.pid, self.facts.name
            )),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn signal(&self, kill: bool) -> Result<(), String> {
        let _ = kill;
        Err("ending a process is not built for this OS yet".to_owned())
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
        if !self.still_running() {
            return Ok(vec![Change {
                target: format!("process {} ({})", self.pid, self.facts.name),
                action: "nothing to do: it had already ended".to_owned(),
                bytes_freed: None,
                error: None,
            }]);
        }
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
                state: 'S',
            })
        );
        assert_eq!(parse_facts("garbage", status), None);
    }

    #[test]
    fn uid_min_is_read_from_login_defs() {
        for (text, expected) in [
            ("", 1000),
            ("UID_MIN\t\t\t 1000\nUID_MAX 60000\n", 1000),
            ("# UID_MIN 10\nUID_MIN 500\n", 500),
            ("UID_MIN\n", 1000),
            ("UID_MIN lots\n", 1000),
            ("SYS_UID_MIN 100\nUID_MIN 2000\n", 2000),
        ] {
            assert_eq!(uid_min_in(text), expected, "{text:?}");
        }
    }

    #[cfg(target_os = "linux")]
    mod on_linux {
        use super::*;
        use std::os::unix::process::CommandExt;

        /// A `sleep` of a person's account: as root, a made-up account (uid 4242) in a
        /// passwd file of the test's own; otherwise the test's account.
        struct Sleeper {
            child: std::process::Child,
            account: String,
            passwd: std::path::PathBuf,
            _dir: tempfile::TempDir,
        }

        impl Sleeper {
            fn start() -> Self {
                let dir = tempfile::tempdir().expect("temp dir");
                let passwd = dir.path().join("passwd");
                let mut command = std::process::Command::new("sleep");
                command.arg("60");
                let uid = rustix::process::getuid().as_raw();
                let account = if uid == 0 {
                    command.uid(4242).gid(4242);
                    "pat".to_owned()
                } else {
                    crate::users::account_name(uid).unwrap_or_else(|| format!("uid {uid}"))
                };
                std::fs::write(
                    &passwd,
                    format!(
                        "{account}:x:{uid}:{uid}::/home/{account}:/bin/sh\n",
                        uid = if uid == 0 { 4242 } else { uid }
                    ),
                )
                .expect("passwd");
                Self {
                    child: command.spawn().expect("sleep"),
                    account,
                    passwd,
                    _dir: dir,
                }
            }

            fn ask(&self, name: &str, account: &str, uid_min: u32) -> Result<ProcessEnd, String> {
                let mut parameters = Parameters::new(
                    [
                        ("pid".to_owned(), self.child.id().to_string()),
                        ("name".to_owned(), name.to_owned()),
                    ]
                    .into_iter()
                    .collect(),
                );
                prepare_with(
                    &mut parameters,
                    &Authority {
                        allowed_by: "user".to_owned(),
                        consent_account: Some(account.to_owned()),
                    },
                    uid_min,
                    &self.passwd,
                )
            }
        }

        impl Drop for Sleeper {
            fn drop(&mut self) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }

        #[test]
        fn a_program_is_ended_only_for_its_owner_and_by_its_name() {
            let sleeper = Sleeper::start();
            let account = sleeper.account.clone();
            let wrong_name = sleeper.ask("firefox", &account, 0).err().expect("refused");
            assert!(wrong_name.contains("not \"firefox\""), "{wrong_name}");
            let someone_else = sleeper.ask("sleep", "mallory", 0).err().expect("refused");
            assert!(
                someone_else.contains("not to \"mallory\""),
                "{someone_else}"
            );
            let mut fix = sleeper.ask("sleep", &account, 0).expect("allowed");
            let changes = fix.apply().expect("ended");
            assert_eq!(changes[0].action, "asked it to quit, and it did");
            // Ended, though not yet collected by its parent (this test): a zombie is gone.
            assert!(fix.verify().passed, "{:?}", fix.verify());
        }

        #[test]
        fn a_system_accounts_process_is_refused_naming_the_pid_the_account_and_why() {
            let sleeper = Sleeper::start();
            let pid = sleeper.child.id();
            let uid = facts(i32::try_from(pid).expect("pid"))
                .expect("running")
                .uid;
            let account = sleeper.account.clone();
            // Its uid is below this system's UID_MIN: a system account.
            let error = sleeper
                .ask("sleep", &account, uid + 1)
                .err()
                .expect("refused");
            for expected in [
                format!("process {pid} (sleep)"),
                format!("system account {account} (uid {uid}"),
                format!("below UID_MIN {}", uid + 1),
            ] {
                assert!(
                    error.contains(&expected),
                    "{error:?} should say {expected:?}"
                );
            }
            // The real UID_MIN refuses root's own processes.
            let me = facts(i32::try_from(std::process::id()).expect("pid")).expect("me");
            if me.uid == 0 {
                let mut parameters = Parameters::new(
                    [
                        ("pid".to_owned(), std::process::id().to_string()),
                        ("name".to_owned(), me.name.clone()),
                    ]
                    .into_iter()
                    .collect(),
                );
                let error = prepare(
                    &mut parameters,
                    &Authority {
                        allowed_by: "user".to_owned(),
                        consent_account: Some("root".to_owned()),
                    },
                )
                .err()
                .expect("refused");
                assert!(error.contains("system account root (uid 0"), "{error}");
            }
        }

        /// The process is held by its pidfd from the check on: once it has ended (and its pid
        /// may be anyone's), the fix signals nothing and says it had ended.
        #[test]
        fn a_process_that_ended_after_the_check_is_not_signalled() {
            let mut sleeper = Sleeper::start();
            let account = sleeper.account.clone();
            let mut fix = sleeper.ask("sleep", &account, 0).expect("allowed");
            sleeper.child.kill().expect("kill");
            sleeper.child.wait().expect("reaped");
            let changes = fix.apply().expect("nothing to do is no failure");
            assert!(changes[0].action.contains("already ended"), "{changes:?}");
            assert_eq!(changes[0].error, None);
            // The pidfd itself says the process is gone: a signal through it reaches no one.
            assert_eq!(
                rustix::process::pidfd_send_signal(&fix.pidfd, rustix::process::Signal::TERM),
                Err(rustix::io::Errno::SRCH)
            );
            assert!(fix.verify().passed);
        }
    }
}
