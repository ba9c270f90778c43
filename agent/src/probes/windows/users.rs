//! Who is logged on to this Windows machine: the sessions Remote Desktop Services (WTS) lists,
//! with each one's user, domain, client computer and logon time, and LogonUI's last user.
//! `crate::users` turns them into the same `Users` Linux reports.
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::System::RemoteDesktop::{
    WTS_CURRENT_SERVER_HANDLE, WTS_INFO_CLASS, WTS_SESSION_INFOW, WTSActive, WTSClientName,
    WTSDisconnected, WTSDomainName, WTSEnumerateSessionsW, WTSFreeMemory, WTSINFOW,
    WTSQuerySessionInformationW, WTSSessionInfo, WTSUserName,
};

use super::registry::{self, RegistryRoot};
use super::wide::{from_wide, until_nul};
use crate::users::{MAX_USERS, Users, WtsSession, windows_last_user, windows_sessions};

const LOGON_UI_KEY: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Authentication\LogonUI";
/// More sessions than this are not looked at (a terminal server can have many).
const MAX_SESSIONS: usize = 4 * MAX_USERS;
/// 100 ns ticks between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
const FILETIME_UNIX_EPOCH_TICKS: i64 = 116_444_736_000_000_000;

/// The sessions and the last user of this machine.
pub fn gather() -> Result<Users, String> {
    let sessions = windows_sessions(&sessions()?);
    let last = registry::multi_string(RegistryRoot::LocalMachine, LOGON_UI_KEY, "LastLoggedOnUser")
        .inspect_err(|e| tracing::debug!(error = %e, "reading the last logged-on user"))
        .ok()
        .flatten()
        .and_then(|strings| strings.into_iter().next());
    Ok(Users {
        last_user: windows_last_user(last.as_deref(), &sessions),
        sessions,
    })
}

/// Every session WTS lists on this machine, with its user (empty for session 0).
pub fn sessions() -> Result<Vec<WtsSession>, String> {
    let mut list: *mut WTS_SESSION_INFOW = std::ptr::null_mut();
    let mut count: u32 = 0;
    // SAFETY: the local server handle; `list` and `count` are live out-pointers; the list is
    // freed below with WTSFreeMemory.
    let ok =
        unsafe { WTSEnumerateSessionsW(WTS_CURRENT_SERVER_HANDLE, 0, 1, &mut list, &mut count) };
    if ok == 0 {
        // SAFETY: this thread's last error; no arguments.
        let error = unsafe { GetLastError() };
        return Err(format!("WTSEnumerateSessionsW: error {error}"));
    }
    let mut sessions = Vec::new();
    if !list.is_null() {
        // SAFETY: on success `list` holds `count` records, alive until freed below.
        let records = unsafe { std::slice::from_raw_parts(list, count as usize) };
        for record in records.iter().take(MAX_SESSIONS) {
            let id = record.SessionId;
            let user = query_string(id, WTSUserName).unwrap_or_default();
            let domain = if user.is_empty() {
                String::new()
            } else {
                query_string(id, WTSDomainName).unwrap_or_default()
            };
            sessions.push(WtsSession {
                // SAFETY: the station name is a NUL-terminated string inside the list.
                station: unsafe { from_wide(record.pWinStationName) },
                client: if user.is_empty() {
                    String::new()
                } else {
                    query_string(id, WTSClientName).unwrap_or_default()
                },
                user,
                domain,
                logged_on: record.State == WTSActive || record.State == WTSDisconnected,
                login_at_ms: logon_time_ms(id).unwrap_or(0),
            });
        }
        // SAFETY: `list` came from WTSEnumerateSessionsW and is freed once.
        unsafe { WTSFreeMemory(list.cast()) };
    }
    Ok(sessions)
}

/// The raw bytes WTS answers about session `id` for `class`.
fn query(id: u32, class: WTS_INFO_CLASS) -> Result<Vec<u8>, String> {
    let mut buffer: *mut u16 = std::ptr::null_mut();
    let mut bytes: u32 = 0;
    // SAFETY: `buffer` and `bytes` are live out-pointers; the buffer is freed below.
    let ok = unsafe {
        WTSQuerySessionInformationW(
            WTS_CURRENT_SERVER_HANDLE,
            id,
            class,
            &mut buffer,
            &mut bytes,
        )
    };
    if ok == 0 {
        // SAFETY: this thread's last error; no arguments.
        let error = unsafe { GetLastError() };
        return Err(format!(
            "WTSQuerySessionInformationW session {id} class {class}: error {error}"
        ));
    }
    if buffer.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: on success `buffer` holds `bytes` bytes, alive until freed just after.
    let data = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), bytes as usize) }.to_vec();
    // SAFETY: `buffer` came from WTSQuerySessionInformationW and is freed once.
    unsafe { WTSFreeMemory(buffer.cast()) };
    Ok(data)
}

/// A text answer (user, domain, client name), up to its NUL.
fn query_string(id: u32, class: WTS_INFO_CLASS) -> Result<String, String> {
    let bytes = query(id, class)?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    Ok(until_nul(&units))
}

/// When the session's user logged on, in Unix milliseconds; `None` when WTS does not say.
fn logon_time_ms(id: u32) -> Option<i64> {
    let bytes = query(id, WTSSessionInfo).ok()?;
    if bytes.len() < size_of::<WTSINFOW>() {
        return None;
    }
    // SAFETY: at least a whole WTSINFOW was returned; unaligned read of plain data.
    let info = unsafe { bytes.as_ptr().cast::<WTSINFOW>().read_unaligned() };
    (info.LogonTime > FILETIME_UNIX_EPOCH_TICKS)
        .then(|| (info.LogonTime - FILETIME_UNIX_EPOCH_TICKS) / 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sessions_can_be_listed() {
        // Wine lists a console session for the user running it, or none: success is what counts.
        let sessions = sessions().expect("WTSEnumerateSessionsW");
        for session in &sessions {
            assert!(!session.station.contains('\0'), "{session:?}");
            assert!(session.login_at_ms >= 0, "{session:?}");
        }
        let users = gather().expect("users");
        assert!(users.sessions.len() <= MAX_USERS, "{users:?}");
        assert!(
            users.sessions.iter().all(|s| !s.account.is_empty()),
            "{users:?}"
        );
    }
}
