//! Desktop notifications for the people of this device: a notice from the collector (a
//! public reply, a fix to confirm, an outage) is shown in its account's own desktop session,
//! never to another user. [`Notifier`] decides (the account, its session, the rate limits)
//! and shows it from a short-lived child, `firstline-agent notify` (hidden), running as that
//! account: on Linux over the user's session D-Bus (`linux.rs`); Windows and macOS do not
//! show notices yet (`elsewhere.rs`).

pub mod rate;

#[cfg(not(target_os = "linux"))]
mod elsewhere;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
use elsewhere as platform;
#[cfg(target_os = "linux")]
use linux as platform;

use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, oneshot};

pub use platform::child_main;
use rate::{RateLimits, Verdict};

/// A notice for one account of this device, its text already in that person's language and
/// within the limits `wire.rs` enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub account: String,
    pub title: String,
    pub body: String,
    /// reply, resolved, outage_started, outage_ended (shown alike: all at normal urgency).
    pub kind: String,
    /// 0 when the notice is about no ticket.
    pub ticket_id: i64,
}

/// What the child reads on its stdin: the words to show and what to run when clicked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildRequest {
    pub title: String,
    pub body: String,
    pub help_command: Vec<String>,
    /// Start the help command in the user's own service manager (`systemd-run --user`)
    /// when they have one: started from here it would inherit the agent service's sandbox
    /// (a read-only home, a private /tmp), where a browser cannot run.
    #[serde(default)]
    pub via_user_manager: bool,
}

/// How long a child waits for the person to click its notification (or close it).
pub const WAIT_FOR_CLICK: Duration = Duration::from_secs(600);
/// Children at a time. Each waits for a click; a fifth notice ends the oldest one's wait
/// (its notification stays on screen, clicking it then does nothing).
pub const MAX_CHILDREN: usize = 4;
/// The passwd file is read only up to this size.
const MAX_PASSWD_BYTES: u64 = 4 * 1024 * 1024;

/// Where the notifier looks and what it runs.
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// This agent's program: the child is `program notify`.
    pub program: PathBuf,
    /// Run as the user when the notification is clicked: `program help` (opens the help
    /// page in their browser).
    pub help_command: Vec<String>,
    /// The users' runtime dirs: a session bus is `<root>/<uid>/bus`.
    pub runtime_dir_root: PathBuf,
    /// Whether the help command starts through the user's service manager (see
    /// [`ChildRequest::via_user_manager`]); off for the tests' stand-in.
    pub via_user_manager: bool,
    /// Where accounts are looked up.
    pub passwd: PathBuf,
}

/// The end-to-end tests' replacements, set only by their copy of the agent's command line.
static INSTEAD: OnceLock<(Option<PathBuf>, Option<Vec<String>>)> = OnceLock::new();

/// For end-to-end tests (the `e2e-agent` binary): look for session buses under
/// `runtime_dir_root` instead of `/run/user`, and run `help_command` on a click instead of
/// `firstline-agent help`. The shipped agent never calls it.
pub fn use_instead(runtime_dir_root: Option<PathBuf>, help_command: Option<Vec<String>>) {
    let _ = INSTEAD.set((runtime_dir_root, help_command));
}

impl NotifierSettings {
    /// The settings for `program` (this agent's executable).
    pub fn for_program(program: PathBuf) -> Self {
        let instead = INSTEAD.get();
        NotifierSettings {
            via_user_manager: instead.and_then(|(_, help)| help.as_ref()).is_none(),
            help_command: instead
                .and_then(|(_, help)| help.clone())
                .unwrap_or_else(|| vec![program.to_string_lossy().into_owned(), "help".to_owned()]),
            runtime_dir_root: instead
                .and_then(|(root, _)| root.clone())
                .unwrap_or_else(|| PathBuf::from("/run/user")),
            passwd: PathBuf::from("/etc/passwd"),
            program,
        }
    }

    /// The settings for the program running now.
    pub fn for_this_program() -> std::io::Result<Self> {
        std::env::current_exe().map(Self::for_program)
    }
}

/// Why a notice is not shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotShown {
    #[error("account {account:?} is not on this machine (not in {passwd})")]
    UnknownAccount { account: String, passwd: String },
    #[error(
        "the agent runs as uid {agent_uid}, not as root: it shows notices to its own account only, not to {account:?} (uid {uid})"
    )]
    OtherAccount {
        account: String,
        uid: u32,
        agent_uid: u32,
    },
    #[error("{account:?} (uid {uid}) has no desktop session to show it in: {reason}")]
    NoSession {
        account: String,
        uid: u32,
        reason: String,
    },
    #[error("over the limit for {account:?}: {limit}")]
    TooMany { account: String, limit: String },
    #[error("desktop notifications are not shown on this OS yet")]
    NotOnThisOs,
}

/// An account of this machine, from the passwd file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// `name`'s entry in the passwd file at `passwd` (none when absent: accounts of a network
/// directory are not in it, and are not shown notices).
pub fn account_in(passwd: &Path, name: &str) -> Option<Account> {
    let mut text = String::new();
    std::fs::File::open(passwd)
        .and_then(|file| file.take(MAX_PASSWD_BYTES).read_to_string(&mut text))
        .inspect_err(|e| tracing::debug!(file = %passwd.display(), error = %e, "reading accounts"))
        .ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let [line_name, _password, uid, gid, _gecos, home, ..] = fields.as_slice() else {
            return None;
        };
        (*line_name == name && !name.is_empty()).then_some(())?;
        Some(Account {
            name: name.to_owned(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            home: PathBuf::from(home),
        })
    })
}

/// A session a notice can be shown in: the account and its session bus.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub bus: PathBuf,
}

/// Shows notices, within the rate limits, as the accounts they are for.
#[derive(Debug, Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: NotifierSettings,
    state: Mutex<State>,
    slots: Arc<Semaphore>,
    /// Signalled when a child has shown its notification (and waits for a click).
    child_shown: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    limits: RateLimits,
    /// Accounts whose missing session was logged (once, until one is found).
    no_session_logged: HashSet<u32>,
    /// The children that showed their notification and wait for a click, oldest first, each
    /// with the way to end its wait.
    running: VecDeque<(u64, oneshot::Sender<()>)>,
    /// Children asked to end their wait that have not ended yet.
    asked_to_end: HashSet<u64>,
    /// Notices waiting for a slot.
    waiting_for_a_slot: usize,
    children_started: u64,
}

impl Notifier {
    pub fn new(settings: NotifierSettings) -> Self {
        Notifier {
            inner: Arc::new(Inner {
                settings,
                state: Mutex::new(State::default()),
                slots: Arc::new(Semaphore::new(MAX_CHILDREN)),
                child_shown: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Shows `notice` in its account's session, or says (and logs) why not. Returns at once:
    /// the child runs in a task of its own on the current tokio runtime.
    pub fn show(&self, notice: Notice) -> Result<(), NotShown> {
        let id = notice.id.clone();
        let outcome = self.admit(notice);
        if let Err(why) = &outcome {
            match why {
                NotShown::NoSession { uid, .. } => {
                    // A person logged out (or never logged in graphically): said once.
                    if self.lock().no_session_logged.insert(*uid) {
                        tracing::warn!(notice = %id, reason = %why, "notice not shown");
                    } else {
                        tracing::debug!(notice = %id, reason = %why, "notice not shown");
                    }
                }
                // Counted: logged by `admit` once per run of drops.
                NotShown::TooMany { .. } => {}
                _ => tracing::warn!(notice = %id, reason = %why, "notice refused"),
            }
        }
        outcome
    }

    /// Children running now (showing a notice or waiting for a click on it).
    pub fn children(&self) -> usize {
        MAX_CHILDREN - self.inner.slots.available_permits()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock()
    }

    fn admit(&self, notice: Notice) -> Result<(), NotShown> {
        let session = platform::session_for(&self.inner.settings, &notice.account)?;
        {
            let mut state = self.lock();
            match state.limits.admit(
                &notice.account,
                notice.ticket_id,
                &notice.kind,
                Instant::now(),
            ) {
                Verdict::TooMany { first, per_ticket } => {
                    let limit = if per_ticket {
                        format!("one per ticket per {}s", rate::TICKET_WINDOW.as_secs())
                    } else {
                        format!(
                            "{} per {} minutes",
                            rate::PER_ACCOUNT,
                            rate::ACCOUNT_WINDOW.as_secs() / 60
                        )
                    };
                    if first {
                        tracing::warn!(
                            account = %notice.account, %limit,
                            "dropping notices over the limit (counted when the next is shown)"
                        );
                    }
                    return Err(NotShown::TooMany {
                        account: notice.account,
                        limit,
                    });
                }
                Verdict::Show => {
                    let dropped = state.limits.dropped_since_shown(&notice.account);
                    if dropped > 0 {
                        tracing::warn!(account = %notice.account, dropped, "notices dropped over the limit");
                    }
                    state.no_session_logged.remove(&session.account.uid);
                }
            }
        }
        let request = ChildRequest {
            title: notice.title,
            body: notice.body,
            help_command: self.inner.settings.help_command.clone(),
            via_user_manager: self.inner.settings.via_user_manager,
        };
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.run(session, request, notice.id).await });
        Ok(())
    }
}

impl Inner {
    /// One child, from its slot to its end.
    async fn run(self: Arc<Self>, session: Session, request: ChildRequest, notice_id: String) {
        self.lock().waiting_for_a_slot += 1;
        let permit = loop {
            // Enabled before looking, so that a child showing meanwhile is not missed.
            let shown = self.child_shown.notified();
            tokio::pin!(shown);
            shown.as_mut().enable();
            if let Ok(permit) = self.slots.clone().try_acquire_owned() {
                break permit;
            }
            // Every slot is taken: the oldest children that have shown their notifications
            // stop waiting for a click on them, one per notice waiting for a slot. One still
            // showing is left to finish.
            {
                let mut state = self.lock();
                while state.asked_to_end.len() < state.waiting_for_a_slot {
                    let Some((oldest, end_wait)) = state.running.pop_front() else {
                        break;
                    };
                    if end_wait.send(()).is_ok() {
                        state.asked_to_end.insert(oldest);
                    }
                }
            }
            tokio::select! {
                permit = self.slots.clone().acquire_owned() => match permit {
                    Ok(permit) => break permit,
                    // Closed: never, the notifier does not close it.
                    Err(_) => {
                        self.lock().waiting_for_a_slot -= 1;
                        return;
                    }
                },
                () = &mut shown => {}
            }
        };
        self.lock().waiting_for_a_slot -= 1;
        let (end_wait, ended) = oneshot::channel();
        let child = {
            let mut state = self.lock();
            state.children_started += 1;
            state.children_started
        };
        let mut end_wait = Some(end_wait);
        let on_shown = || {
            if let Some(end_wait) = end_wait.take() {
                self.lock().running.push_back((child, end_wait));
                self.child_shown.notify_waiters();
            }
        };
        let outcome =
            platform::run_child(&self.settings, &session, &request, on_shown, ended).await;
        {
            let mut state = self.lock();
            state.running.retain(|(running, _)| *running != child);
            state.asked_to_end.remove(&child);
        }
        drop(permit);
        match outcome {
            Ok(detail) => {
                tracing::info!(notice = %notice_id, account = %session.account.name, %detail, "notice shown")
            }
            Err(error) => {
                tracing::warn!(notice = %notice_id, account = %session.account.name, %error, "showing a notice failed")
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Escapes the characters a notification server that reads markup in bodies would take for
/// tags or entities: the collector's text is shown as text.
pub fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_from_the_passwd_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\n\
             garbled line\n\
             anna:x:1000:100:Anna K:/home/anna:/bin/bash\n\
             ben:x:notanumber:100::/home/ben:/bin/sh\n",
        )
        .expect("write passwd");
        assert_eq!(
            account_in(&passwd, "anna"),
            Some(Account {
                name: "anna".to_owned(),
                uid: 1000,
                gid: 100,
                home: PathBuf::from("/home/anna"),
            })
        );
        assert_eq!(account_in(&passwd, "ben"), None);
        assert_eq!(account_in(&passwd, "carl"), None);
        assert_eq!(account_in(&passwd, ""), None);
        assert_eq!(account_in(&dir.path().join("missing"), "anna"), None);
    }

    #[test]
    fn markup_in_a_body_is_shown_as_text() {
        assert_eq!(
            escape_markup("<a href=\"x\">Fixed</a> & 'done'"),
            "&lt;a href=&quot;x&quot;&gt;Fixed&lt;/a&gt; &amp; &apos;done&apos;"
        );
    }
}
