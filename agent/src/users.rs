//! The device's people: who has a session on it now (utmp), who logged in last (wtmp), and
//! the account name of a uid (the passwd file). Read-only; a damaged file yields what could be
//! read before the damage, never a panic.
//!
//! Linux utmp/wtmp are arrays of fixed 384-byte glibc `struct utmp` records, parsed here by
//! hand with a cap on the records read. On Windows the sessions come from Remote Desktop
//! Services (WTS: the console is the local graphical session, an RDP one is remote) and the
//! last user from LogonUI's registry value (`probes::windows::users`). macOS (utmpx, console
//! user) is not done yet: there the functions return nothing.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

/// Where Linux keeps the current sessions and the login history.
pub const UTMP_PATH: &str = "/var/run/utmp";
pub const WTMP_PATH: &str = "/var/log/wtmp";
/// Size of one glibc `struct utmp` on Linux (the same on x86_64, aarch64 and i686).
pub const UTMP_RECORD_BYTES: usize = 384;
/// At most this many records are read from a file: utmp holds a handful, and from wtmp only
/// the newest records matter (it grows for years).
pub const MAX_RECORDS: usize = 4096;
/// At most this many sessions are reported (the collector refuses more than 32).
pub const MAX_USERS: usize = 32;
/// The passwd file is read only up to this size.
const MAX_PASSWD_BYTES: u64 = 16 * 1024 * 1024;

const USER_PROCESS: i16 = 7;
const LINE_OFFSET: usize = 8;
const LINE_BYTES: usize = 32;
const USER_OFFSET: usize = 44;
const USER_BYTES: usize = 32;
const HOST_OFFSET: usize = 76;
const HOST_BYTES: usize = 256;
const TIME_OFFSET: usize = 340;

/// What kind of session an account has: what the person is sitting at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A graphical display on a seat (X11 `:0`, a Wayland session).
    Graphical,
    /// A text console or a local terminal.
    Console,
    /// Logged in from another machine (ssh, remote desktop).
    Remote,
}

/// One login session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceUser {
    pub account: String,
    /// The display or terminal line (":0", "tty1", "pts/0").
    pub line: String,
    pub kind: SessionKind,
    /// When the session began (0 when unknown).
    pub login_at_ms: i64,
    /// The remote host of a remote session, empty otherwise.
    pub remote_host: String,
}

/// The device's users: current sessions (graphical first) and the last account to log in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Users {
    pub sessions: Vec<DeviceUser>,
    pub last_user: String,
}

/// One USER_PROCESS record of a utmp-format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    pub account: String,
    pub line: String,
    pub host: String,
    pub login_at_ms: i64,
}

/// Files read instead of the system's, set once by a test build of the agent.
static FILES_INSTEAD: std::sync::OnceLock<(std::path::PathBuf, std::path::PathBuf)> =
    std::sync::OnceLock::new();

/// For end-to-end tests (the `e2e-agent` binary): read sessions from `utmp` and logins from
/// `wtmp` instead of the system's files. The shipped agent never calls it.
pub fn read_instead(utmp: std::path::PathBuf, wtmp: std::path::PathBuf) {
    let _ = FILES_INSTEAD.set((utmp, wtmp));
}

/// The users of this machine, from the system's utmp and wtmp.
#[cfg(target_os = "linux")]
pub fn gather() -> Users {
    match FILES_INSTEAD.get() {
        Some((utmp, wtmp)) => users_from(utmp, wtmp),
        None => users_from(Path::new(UTMP_PATH), Path::new(WTMP_PATH)),
    }
}

/// The users of this machine, from its WTS sessions; a failure yields nothing (logged).
#[cfg(windows)]
pub fn gather() -> Users {
    crate::probes::windows::users::gather()
        .inspect_err(|e| tracing::warn!(error = %e, "reading the sessions"))
        .unwrap_or_default()
}

/// Not done yet on this OS (macOS console user): nothing.
#[cfg(not(any(target_os = "linux", windows)))]
pub fn gather() -> Users {
    Users::default()
}

/// The users from the utmp file `utmp` and the wtmp file `wtmp`; a file missing or unreadable
/// contributes nothing (logged at debug: containers often have neither).
pub fn users_from(utmp: &Path, wtmp: &Path) -> Users {
    let current = read_records(utmp, MAX_RECORDS)
        .inspect_err(|e| tracing::debug!(file = %utmp.display(), error = %e, "reading sessions"))
        .unwrap_or_default();
    let history = read_records(wtmp, MAX_RECORDS)
        .inspect_err(|e| tracing::debug!(file = %wtmp.display(), error = %e, "reading logins"))
        .unwrap_or_default();
    Users {
        sessions: sessions(&current),
        last_user: last_user(&history),
    }
}

/// The sessions among `records`: graphical first, then console, then remote, each newest
/// first; one per account and line; at most [`MAX_USERS`].
pub fn sessions(records: &[LoginRecord]) -> Vec<DeviceUser> {
    let mut sessions: Vec<DeviceUser> = Vec::new();
    for record in records {
        if sessions
            .iter()
            .any(|s| s.account == record.account && s.line == record.line)
        {
            continue;
        }
        let kind = kind_of(&record.line, &record.host);
        sessions.push(DeviceUser {
            account: record.account.clone(),
            line: record.line.clone(),
            kind,
            login_at_ms: record.login_at_ms,
            remote_host: match kind {
                SessionKind::Remote => record.host.clone(),
                _ => String::new(),
            },
        });
    }
    in_order(sessions)
}

/// Graphical first, then console, then remote, each newest first; at most [`MAX_USERS`].
fn in_order(mut sessions: Vec<DeviceUser>) -> Vec<DeviceUser> {
    sessions.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(b.login_at_ms.cmp(&a.login_at_ms))
            .then(a.account.cmp(&b.account))
    });
    sessions.truncate(MAX_USERS);
    sessions
}

/// One Windows session as Remote Desktop Services (WTS) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WtsSession {
    /// The window station: "Console", "RDP-Tcp#3", "Services".
    pub station: String,
    pub user: String,
    pub domain: String,
    /// The remote client's computer name; empty for the console.
    pub client: String,
    /// Active, or disconnected but still logged on (a locked-away RDP session).
    pub logged_on: bool,
    /// When the user logged on (0 when unknown).
    pub login_at_ms: i64,
}

/// The sessions among Windows' `records`, in the same order as Linux's: a session with no
/// user (the services' session 0, a listener) or not logged on is left out; the console is
/// local and graphical, a session with a remote client (RDP) is remote, anything else a
/// console. Accounts read `DOMAIN\user` as Windows writes them.
pub fn windows_sessions(records: &[WtsSession]) -> Vec<DeviceUser> {
    let sessions = records
        .iter()
        .filter(|r| r.logged_on && !r.user.trim().is_empty())
        .map(|r| {
            let kind = if r.station.eq_ignore_ascii_case("console") {
                SessionKind::Graphical
            } else if !r.client.is_empty() || r.station.to_ascii_lowercase().starts_with("rdp") {
                SessionKind::Remote
            } else {
                SessionKind::Console
            };
            DeviceUser {
                account: windows_account(&r.domain, &r.user),
                line: r.station.clone(),
                kind,
                login_at_ms: r.login_at_ms,
                remote_host: match kind {
                    SessionKind::Remote => r.client.clone(),
                    _ => String::new(),
                },
            }
        })
        .collect();
    in_order(sessions)
}

/// The last account to log on to Windows: LogonUI's LastLoggedOnUser value (`.\alice` for a
/// local account reads `alice`), or else the newest of the current sessions.
pub fn windows_last_user(last_logged_on: Option<&str>, sessions: &[DeviceUser]) -> String {
    let from_registry = last_logged_on
        .map(str::trim)
        .map(|value| value.strip_prefix(".\\").unwrap_or(value))
        .filter(|value| !value.is_empty());
    match from_registry {
        Some(account) => account.to_owned(),
        None => sessions
            .iter()
            .max_by_key(|s| s.login_at_ms)
            .map(|s| s.account.clone())
            .unwrap_or_default(),
    }
}

/// `DOMAIN\user`, or the user alone when there is no domain.
pub fn windows_account(domain: &str, user: &str) -> String {
    if domain.is_empty() {
        user.to_owned()
    } else {
        format!("{domain}\\{user}")
    }
}

/// The account of the newest login among `records` (wtmp is in time order, but a stepped
/// clock can put a later line first, so the newest time wins; among equal, the later line).
pub fn last_user(records: &[LoginRecord]) -> String {
    records
        .iter()
        .enumerate()
        .max_by_key(|(index, record)| (record.login_at_ms, *index))
        .map(|(_, record)| record.account.clone())
        .unwrap_or_default()
}

/// A display line (":0") or a terminal whose host is a display is graphical; any other host
/// is remote; the rest (tty1, console, a local pts) is a console.
fn kind_of(line: &str, host: &str) -> SessionKind {
    if line.starts_with(':') || host.starts_with(':') || line.starts_with("seat") {
        SessionKind::Graphical
    } else if !host.is_empty() {
        SessionKind::Remote
    } else {
        SessionKind::Console
    }
}

/// The USER_PROCESS records of the utmp-format file at `path`: of its last `max_records`
/// records (the newest). A partial record at the end (a file being written, or damaged) is
/// ignored, and so is a record whose account is empty or not text.
pub fn read_records(path: &Path, max_records: usize) -> std::io::Result<Vec<LoginRecord>> {
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let whole_records = length / UTMP_RECORD_BYTES as u64;
    let skipped = whole_records.saturating_sub(max_records as u64);
    file.seek(SeekFrom::Start(skipped * UTMP_RECORD_BYTES as u64))?;
    let wanted = (whole_records - skipped) as usize * UTMP_RECORD_BYTES;
    let mut bytes = Vec::with_capacity(wanted);
    // The file may shrink or grow meanwhile: read what is there, up to what was planned.
    file.take(wanted as u64).read_to_end(&mut bytes)?;
    Ok(parse_records(&bytes, max_records))
}

/// The USER_PROCESS records among the whole records in `bytes`, at most `max_records`.
pub fn parse_records(bytes: &[u8], max_records: usize) -> Vec<LoginRecord> {
    bytes
        .chunks_exact(UTMP_RECORD_BYTES)
        .take(max_records)
        .filter_map(parse_record)
        .collect()
}

fn parse_record(record: &[u8]) -> Option<LoginRecord> {
    let kind = i16::from_ne_bytes(record.get(0..2)?.try_into().ok()?);
    if kind != USER_PROCESS {
        return None;
    }
    let account = c_text(record.get(USER_OFFSET..USER_OFFSET + USER_BYTES)?)?;
    if account.is_empty() {
        return None;
    }
    let line = c_text(record.get(LINE_OFFSET..LINE_OFFSET + LINE_BYTES)?).unwrap_or_default();
    let host = c_text(record.get(HOST_OFFSET..HOST_OFFSET + HOST_BYTES)?).unwrap_or_default();
    let seconds = i32::from_ne_bytes(record.get(TIME_OFFSET..TIME_OFFSET + 4)?.try_into().ok()?);
    let micros = i32::from_ne_bytes(
        record
            .get(TIME_OFFSET + 4..TIME_OFFSET + 8)?
            .try_into()
            .ok()?,
    );
    // Times are unsigned on disk in practice (glibc keeps 32-bit seconds for compatibility).
    let login_at_ms = i64::from(seconds as u32) * 1000 + i64::from(micros.clamp(0, 999_999)) / 1000;
    Some(LoginRecord {
        account,
        line,
        host,
        login_at_ms,
    })
}

/// A NUL-padded field as text: up to its first NUL; `None` when not UTF-8 or when it holds a
/// control character (no account or line has one).
fn c_text(field: &[u8]) -> Option<String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let text = std::str::from_utf8(&field[..end]).ok()?;
    if text.chars().any(char::is_control) {
        return None;
    }
    Some(text.to_owned())
}

/// The account name of `uid` from the passwd file at `passwd` (none when absent: accounts of
/// a network directory are not in it).
pub fn account_name_in(passwd: &Path, uid: u32) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(passwd)
        .and_then(|file| file.take(MAX_PASSWD_BYTES).read_to_string(&mut text))
        .inspect_err(|e| tracing::debug!(file = %passwd.display(), error = %e, "reading accounts"))
        .ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let line_uid: u32 = fields.next()?.parse().ok()?;
        (line_uid == uid && !name.is_empty() && !name.chars().any(char::is_control))
            .then(|| name.to_owned())
    })
}

/// The account name of `uid` on this machine.
pub fn account_name(uid: u32) -> Option<String> {
    account_name_in(Path::new("/etc/passwd"), uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_sessions_put_the_console_first_and_name_the_remote_client() {
        let session =
            |station: &str, user: &str, client: &str, logged_on: bool, at: i64| WtsSession {
                station: station.to_owned(),
                user: user.to_owned(),
                domain: if user.is_empty() {
                    String::new()
                } else {
                    "CORP".to_owned()
                },
                client: client.to_owned(),
                logged_on,
                login_at_ms: at,
            };
        // (sessions, expected (account, line, kind, remote host))
        type Expected = (&'static str, &'static str, SessionKind, &'static str);
        let cases: Vec<(Vec<WtsSession>, Vec<Expected>)> = vec![
            (Vec::new(), Vec::new()),
            // Session 0 (services) and an RDP listener have no user.
            (
                vec![
                    session("Services", "", "", false, 0),
                    session("RDP-Tcp", "", "", false, 0),
                ],
                Vec::new(),
            ),
            (
                vec![
                    session("Services", "", "", false, 0),
                    session("RDP-Tcp#4", "bob", "LAPTOP-7", true, 200),
                    session("Console", "alice", "", true, 100),
                ],
                vec![
                    ("CORP\\alice", "Console", SessionKind::Graphical, ""),
                    ("CORP\\bob", "RDP-Tcp#4", SessionKind::Remote, "LAPTOP-7"),
                ],
            ),
            // A disconnected session is still logged on; one not logged on is not listed.
            (
                vec![
                    session("RDP-Tcp#1", "carol", "", true, 50),
                    session("31C5CE94259D4006A9E4#0", "dave", "", false, 60),
                    session("Other", "erin", "", true, 70),
                ],
                vec![
                    ("CORP\\erin", "Other", SessionKind::Console, ""),
                    ("CORP\\carol", "RDP-Tcp#1", SessionKind::Remote, ""),
                ],
            ),
        ];
        for (records, expected) in cases {
            let got: Vec<(String, String, SessionKind, String)> = windows_sessions(&records)
                .into_iter()
                .map(|s| (s.account, s.line, s.kind, s.remote_host))
                .collect();
            let expected: Vec<(String, String, SessionKind, String)> = expected
                .into_iter()
                .map(|(a, l, k, h)| (a.to_owned(), l.to_owned(), k, h.to_owned()))
                .collect();
            assert_eq!(got, expected, "{records:?}");
        }
        assert_eq!(windows_account("", "alice"), "alice");
        let sessions = windows_sessions(&[
            session("Console", "alice", "", true, 100),
            session("RDP-Tcp#4", "bob", "LAPTOP-7", true, 200),
        ]);
        for (value, expected) in [
            (Some("CORP\\zoe"), "CORP\\zoe"),
            (Some(".\\admin"), "admin"),
            (Some(" "), "CORP\\bob"),
            (None, "CORP\\bob"),
        ] {
            assert_eq!(windows_last_user(value, &sessions), expected, "{value:?}");
        }
        assert_eq!(windows_last_user(None, &[]), "");
        assert_eq!(windows_account("PC01", "alice"), "PC01\\alice");
    }

    /// One glibc utmp record, byte by byte.
    fn record(kind: i16, line: &str, user: &str, host: &str, seconds: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; UTMP_RECORD_BYTES];
        bytes[0..2].copy_from_slice(&kind.to_ne_bytes());
        bytes[4..8].copy_from_slice(&1234i32.to_ne_bytes());
        bytes[LINE_OFFSET..LINE_OFFSET + line.len()].copy_from_slice(line.as_bytes());
        bytes[USER_OFFSET..USER_OFFSET + user.len()].copy_from_slice(user.as_bytes());
        bytes[HOST_OFFSET..HOST_OFFSET + host.len()].copy_from_slice(host.as_bytes());
        bytes[TIME_OFFSET..TIME_OFFSET + 4].copy_from_slice(&seconds.to_ne_bytes());
        bytes[TIME_OFFSET + 4..TIME_OFFSET + 8].copy_from_slice(&250_000i32.to_ne_bytes());
        bytes
    }

    #[test]
    fn user_sessions_are_read_and_graphical_ones_come_first() {
        let mut file = Vec::new();
        file.extend(record(2, "~", "reboot", "6.1.0", 1_700_000_000)); // BOOT_TIME
        file.extend(record(USER_PROCESS, "tty1", "root", "", 1_700_000_100));
        file.extend(record(
            USER_PROCESS,
            "pts/3",
            "bob",
            "10.0.0.9",
            1_700_000_200,
        ));
        file.extend(record(USER_PROCESS, ":0", "alice", ":0", 1_700_000_050));
        file.extend(record(8, "pts/4", "carol", "", 1_700_000_300)); // DEAD_PROCESS
        let records = parse_records(&file, MAX_RECORDS);
        assert_eq!(records.len(), 3, "{records:?}");
        assert_eq!(records[0].login_at_ms, 1_700_000_100_250);
        let sessions = sessions(&records);
        let seen: Vec<(&str, &str, SessionKind)> = sessions
            .iter()
            .map(|s| (s.account.as_str(), s.line.as_str(), s.kind))
            .collect();
        assert_eq!(
            seen,
            [
                ("alice", ":0", SessionKind::Graphical),
                ("root", "tty1", SessionKind::Console),
                ("bob", "pts/3", SessionKind::Remote),
            ]
        );
        assert_eq!(sessions[2].remote_host, "10.0.0.9");
        assert_eq!(sessions[0].remote_host, "");
    }

    #[test]
    fn the_last_user_is_the_newest_login() {
        let mut file = Vec::new();
        file.extend(record(USER_PROCESS, ":0", "alice", "", 1_700_000_000));
        file.extend(record(USER_PROCESS, "tty2", "bob", "", 1_700_000_500));
        file.extend(record(8, "tty2", "", "", 1_700_000_900));
        assert_eq!(last_user(&parse_records(&file, MAX_RECORDS)), "bob");
        assert_eq!(last_user(&[]), "");
    }

    #[test]
    fn a_truncated_or_garbage_file_gives_what_it_can_without_panicking() {
        let mut file = record(USER_PROCESS, "tty1", "root", "", 1_700_000_000);
        file.extend(&record(USER_PROCESS, "tty2", "bob", "", 1_700_000_001)[..100]);
        assert_eq!(parse_records(&file, MAX_RECORDS).len(), 1);
        // Garbage: every byte pattern, no whole record of a known shape.
        let garbage: Vec<u8> = (0..UTMP_RECORD_BYTES * 5 + 17)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let _ = parse_records(&garbage, MAX_RECORDS);
        // A user process whose name is not text, or holds a control character, is skipped.
        let mut bad = record(USER_PROCESS, "tty1", "x", "", 1);
        bad[USER_OFFSET] = 0xff;
        let mut control = record(USER_PROCESS, "tty1", "a\nb", "", 1);
        control.extend(bad);
        assert!(parse_records(&control, MAX_RECORDS).is_empty());
        assert!(parse_records(&[], MAX_RECORDS).is_empty());
    }

    #[test]
    fn only_the_newest_records_up_to_the_cap_are_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("wtmp");
        let mut file = Vec::new();
        for i in 0..10u32 {
            file.extend(record(
                USER_PROCESS,
                "tty1",
                &format!("user{i}"),
                "",
                1000 + i,
            ));
        }
        file.extend(&[7u8; 50]); // a partial record being written
        std::fs::write(&path, &file).expect("write wtmp");
        let records = read_records(&path, 3).expect("read");
        let accounts: Vec<&str> = records.iter().map(|r| r.account.as_str()).collect();
        assert_eq!(accounts, ["user7", "user8", "user9"]);
        assert_eq!(parse_records(&file, 2).len(), 2);
        let users = users_from(&path, &path);
        assert_eq!(users.last_user, "user9");
        assert_eq!(users.sessions.len(), 10);
        let missing = users_from(&dir.path().join("none"), &dir.path().join("none"));
        assert_eq!(missing, Users::default());
    }

    #[test]
    fn sessions_are_capped_and_one_per_account_and_line() {
        let mut records = Vec::new();
        for i in 0..(MAX_USERS as i64 + 10) {
            records.push(LoginRecord {
                account: format!("u{i}"),
                line: "tty1".to_owned(),
                host: String::new(),
                login_at_ms: i,
            });
        }
        records.push(records[0].clone());
        assert_eq!(sessions(&records).len(), MAX_USERS);
        assert_eq!(sessions(&records[..1]).len(), 1);
        assert_eq!(sessions(&[records[0].clone(), records[0].clone()]).len(), 1);
    }

    #[test]
    fn account_names_come_from_the_passwd_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("passwd");
        std::fs::write(
            &path,
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .expect("write passwd");
        assert_eq!(account_name_in(&path, 0).as_deref(), Some("root"));
        assert_eq!(account_name_in(&path, 1000).as_deref(), Some("alice"));
        assert_eq!(account_name_in(&path, 42), None);
        assert_eq!(account_name_in(&dir.path().join("none"), 0), None);
    }
}
