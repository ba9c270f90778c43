//! The report listener's Windows transport (Windows only): the named pipe
//! `\\.\pipe\firstline-agent` that `firstline-agent report` and `help` reach the service over,
//! who may open it, and the account of the client at the other end.
//!
//! Who connected is asked of Windows, never of the client: the client's process id
//! (GetNamedPipeClientProcessId), that process's token, and the token's user. The process
//! token rather than ImpersonateNamedPipeClient: a client may open the pipe at the
//! "identification" level and the server never runs as the client, and Wine implements the
//! process-id route (its impersonation of a pipe client is not the client's token).
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::time::Duration;

use tokio::net::windows::named_pipe::{NamedPipeClient, NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::{ERROR_PIPE_BUSY, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::{
    GetTokenInformation, LookupAccountNameW, LookupAccountSidW, PSID, SID_NAME_USE, TOKEN_QUERY,
    TOKEN_USER, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_OVERLAPPED, FILE_GENERIC_READ, FILE_WRITE_DATA, OPEN_EXISTING,
    SECURITY_IDENTIFICATION, SECURITY_SQOS_PRESENT,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
use windows_sys::Win32::System::Threading::{
    OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

use crate::acl::{self, SecurityDescriptor, last_error, wide};
use crate::report::Reporter;

/// Where the running agent listens on Windows (`[playbooks] report_socket` overrides it).
pub const PIPE_NAME: &str = r"\\.\pipe\firstline-agent";

/// Who may open the pipe. In order: network logons denied outright (`NU`, and the pipe
/// rejects remote clients too); SYSTEM and Administrators full control; every signed-in local
/// account (`AU`, interactive users and services alike) read and write data only. Not
/// GENERIC_WRITE: for a pipe it includes FILE_CREATE_PIPE_INSTANCE, which would let any user
/// serve further instances of our name and read other users' reports.
pub const PIPE_SDDL: &str = "D:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x0012008b;;;AU)";

/// How long a client waits for a free instance while every one is busy.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// One pipe instance for the listener; `first` for the first, which fails when any process
/// (a squatter) already has the name.
pub fn create_server(name: &OsStr, first: bool) -> std::io::Result<NamedPipeServer> {
    let descriptor = SecurityDescriptor::from_sddl(PIPE_SDDL).map_err(std::io::Error::other)?;
    let mut attributes = descriptor.attributes();
    // SAFETY: `attributes` points at `descriptor`, both alive for the call; CreateNamedPipeW
    // copies the security descriptor into the pipe.
    unsafe {
        ServerOptions::new()
            .first_pipe_instance(first)
            .reject_remote_clients(true)
            .create_with_security_attributes_raw(name, (&raw mut attributes).cast())
    }
    .map_err(|e| std::io::Error::new(e.kind(), format!("CreateNamedPipeW({name:?}): {e}")))
}

/// Opens the agent's pipe `name`, waiting up to [`BUSY_WAIT`] while every instance is busy.
pub async fn connect(name: &OsStr) -> std::io::Result<NamedPipeClient> {
    let deadline = tokio::time::Instant::now() + BUSY_WAIT;
    loop {
        match open_client(name) {
            Err(e)
                if e.raw_os_error() == i32::try_from(ERROR_PIPE_BUSY).ok()
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// CreateFileW on the pipe asking only for what the pipe's DACL gives users (read, write
/// data), at the identification level: the server may learn who we are, not act as us.
fn open_client(name: &OsStr) -> std::io::Result<NamedPipeClient> {
    let wide_name = wide(name);
    // SAFETY: `wide_name` is NUL-terminated and alive for the call; no security attributes or
    // template.
    let handle = unsafe {
        CreateFileW(
            wide_name.as_ptr(),
            FILE_GENERIC_READ | FILE_WRITE_DATA,
            0,
            std::ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        let e = std::io::Error::last_os_error();
        // "Busy" keeps its OS code: `connect` waits it out.
        if e.raw_os_error() == i32::try_from(ERROR_PIPE_BUSY).ok() {
            return Err(e);
        }
        return Err(std::io::Error::new(
            e.kind(),
            format!("CreateFileW({name:?}): {e}"),
        ));
    }
    // SAFETY: a valid pipe handle opened for overlapped I/O just above, owned by nobody else.
    unsafe { NamedPipeClient::from_raw_handle(handle) }
}

/// The account at the other end of a connected pipe instance: its SID, and its user name
/// (without the domain, as WTS names a session's user) when Windows can name it.
pub fn client_account(pipe: &NamedPipeServer) -> Result<Reporter, String> {
    let mut process_id = 0u32;
    // SAFETY: the pipe's handle is valid while `pipe` lives; `process_id` is a local.
    let ok = unsafe { GetNamedPipeClientProcessId(pipe.as_raw_handle(), &mut process_id) };
    if ok == 0 {
        return Err(format!(
            "GetNamedPipeClientProcessId: error {}",
            last_error()
        ));
    }
    let (sid, account) = process_account(process_id)?;
    Ok(Reporter {
        uid: None,
        account,
        sid: Some(sid),
    })
}

/// The SID and user name of process `process_id`'s token.
fn process_account(process_id: u32) -> Result<(String, Option<String>), String> {
    // SAFETY: plain call; a null handle is an error, checked below.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, process_id) };
    if process.is_null() {
        return Err(format!(
            "OpenProcess(process {process_id}): error {}",
            last_error()
        ));
    }
    // SAFETY: a valid process handle owned by nobody else; closed on drop.
    let process = unsafe { OwnedHandle::from_raw_handle(process) };
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is valid; `token` is a local receiving a handle we then own.
    let ok = unsafe { OpenProcessToken(process.as_raw_handle(), TOKEN_QUERY, &mut token) };
    if ok == 0 {
        return Err(format!(
            "OpenProcessToken(process {process_id}): error {}",
            last_error()
        ));
    }
    // SAFETY: a valid token handle owned by nobody else; closed on drop.
    let token = unsafe { OwnedHandle::from_raw_handle(token) };
    let user = token_user(&token, process_id)?;
    // SAFETY: `user` holds a TOKEN_USER at its start (aligned: u64 storage), whose SID points
    // inside the same buffer, alive for both uses below.
    let sid: PSID = unsafe { (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let sid_string = acl::sid_string(sid)?;
    let account = match account_name(sid) {
        Ok(name) => Some(name),
        Err(e) => {
            tracing::debug!(sid = %sid_string, error = %e, "the report pipe's client has no account name");
            None
        }
    };
    Ok((sid_string, account))
}

/// GetTokenInformation(TokenUser), in a buffer of the size the call asks for (at most 4 KiB).
fn token_user(token: &OwnedHandle, process_id: u32) -> Result<Vec<u64>, String> {
    let mut needed = 0u32;
    // SAFETY: asks for the size only (no buffer).
    unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            std::ptr::null_mut(),
            0,
            &mut needed,
        )
    };
    if needed == 0 || needed > 4096 {
        return Err(format!(
            "GetTokenInformation(TokenUser, process {process_id}): size {needed}, error {}",
            last_error()
        ));
    }
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
    // SAFETY: `buffer` holds at least `needed` bytes, as the call asked for.
    let ok = unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            buffer.as_mut_ptr().cast(),
            needed,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(format!(
            "GetTokenInformation(TokenUser, process {process_id}): error {}",
            last_error()
        ));
    }
    Ok(buffer)
}

/// LookupAccountSidW: the account's user name (the domain is left out, as in a WTS session).
fn account_name(sid: PSID) -> Result<String, String> {
    let mut name = vec![0u16; 257];
    let mut domain = vec![0u16; 257];
    for _ in 0..2 {
        let mut name_length = u32::try_from(name.len()).unwrap_or(0);
        let mut domain_length = u32::try_from(domain.len()).unwrap_or(0);
        let mut usage: SID_NAME_USE = 0;
        // SAFETY: the buffers hold the lengths passed; `sid` is valid for the call.
        let ok = unsafe {
            LookupAccountSidW(
                std::ptr::null(),
                sid,
                name.as_mut_ptr(),
                &mut name_length,
                domain.as_mut_ptr(),
                &mut domain_length,
                &mut usage,
            )
        };
        if ok != 0 {
            let end = name
                .iter()
                .position(|unit| *unit == 0)
                .unwrap_or(name.len());
            return Ok(String::from_utf16_lossy(&name[..end]));
        }
        // Too small: the call said how much it needs (bounded: names are short).
        let needed = |length: u32, current: usize| (length as usize).clamp(current, 4096);
        name.resize(needed(name_length, name.len()), 0);
        domain.resize(needed(domain_length, domain.len()), 0);
    }
    Err(format!("LookupAccountSidW: error {}", last_error()))
}

/// The SID of local or domain account `name` (LookupAccountNameW): the key a help-page
/// report, which names its account, is counted under, the same as the pipe's reports.
pub fn account_sid(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(format!("LookupAccountNameW({name:?}): not an account name"));
    }
    let wide_name = wide(OsStr::new(name));
    // SECURITY_MAX_SID_SIZE is 68 bytes; u64 storage keeps the SID aligned.
    let mut sid = [0u64; 16];
    let mut sid_bytes = u32::try_from(std::mem::size_of_val(&sid)).unwrap_or(0);
    let mut domain = vec![0u16; 257];
    let mut domain_length = u32::try_from(domain.len()).unwrap_or(0);
    let mut usage: SID_NAME_USE = 0;
    // SAFETY: the buffers hold the sizes passed; `wide_name` is NUL-terminated.
    let ok = unsafe {
        LookupAccountNameW(
            std::ptr::null(),
            wide_name.as_ptr(),
            sid.as_mut_ptr().cast(),
            &mut sid_bytes,
            domain.as_mut_ptr(),
            &mut domain_length,
            &mut usage,
        )
    };
    if ok == 0 {
        return Err(format!(
            "LookupAccountNameW({name:?}): error {}",
            last_error()
        ));
    }
    acl::sid_string(sid.as_mut_ptr().cast())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::sync::{Notify, watch};

    use super::*;
    use crate::checks::Shared;
    use crate::config::Settings;
    use crate::help::{HelpLinkAnswer, HelpLinks};
    use crate::outbox::Outbox;
    use crate::report::{self, Listener, Reports};

    /// The test process's own account, as GetUserNameW says (not through the code tested).
    fn own_user_name() -> String {
        use windows_sys::Win32::System::WindowsProgramming::GetUserNameW;
        let mut buffer = vec![0u16; 257];
        let mut length = 257u32;
        // SAFETY: `buffer` holds `length` units.
        let ok = unsafe { GetUserNameW(buffer.as_mut_ptr(), &mut length) };
        assert_ne!(ok, 0, "GetUserNameW: error {}", last_error());
        let end = buffer.iter().position(|unit| *unit == 0).unwrap_or(0);
        String::from_utf16_lossy(&buffer[..end])
    }

    fn unique_pipe(test: &str) -> PathBuf {
        PathBuf::from(format!(
            r"\\.\pipe\firstline-test-{test}-{}",
            uuid::Uuid::new_v4()
        ))
    }

    struct Running {
        outbox: Arc<Outbox>,
        help_links: HelpLinks,
        stop: watch::Sender<bool>,
        serving: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    async fn start_listener(pipe: &Path) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::parse("", Path::new("agent.toml")).expect("settings");
        settings.state_dir = dir.path().to_owned();
        settings.playbooks.report_socket = Some(pipe.to_owned());
        let outbox =
            Arc::new(Outbox::open(&dir.path().join("outbox.redb"), 1 << 20).expect("outbox"));
        let help_links = HelpLinks::default();
        let (stop, stop_watch) = watch::channel(false);
        let listener = Listener {
            settings: settings.clone(),
            reports: Arc::new(Reports::new(
                settings,
                Arc::new(Shared::default()),
                outbox.clone(),
                Arc::new(Notify::new()),
            )),
            help_links: help_links.clone(),
        };
        let serving = tokio::spawn(listener.serve(stop_watch));
        // Listening once a client can open it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while open_client(pipe.as_os_str()).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the pipe never appeared"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Running {
            outbox,
            help_links,
            stop,
            serving,
            _dir: dir,
        }
    }

    impl Running {
        async fn stop(self) {
            let _ = self.stop.send(true);
            tokio::time::timeout(Duration::from_secs(10), self.serving)
                .await
                .expect("the listener stops")
                .expect("listener task");
        }
    }

    /// `report` over the pipe: the agent diagnoses, queues the finding and answers; the
    /// finding names the account Windows gave for the client, with its SID.
    #[tokio::test]
    async fn a_report_over_the_pipe_is_answered_and_names_the_clients_account() {
        let pipe = unique_pipe("report");
        let running = start_listener(&pipe).await;
        let outcome = report::submit(&pipe, "the printer does nothing")
            .await
            .expect("answer");
        assert!(outcome.queued, "{outcome:?}");
        let queued = running.outbox.pending_after(0, 10).expect("outbox");
        assert_eq!(queued.len(), 1);
        let reporter = &queued[0].1.evidence["reporter"];
        assert_eq!(reporter["account"], own_user_name().as_str(), "{reporter}");
        assert!(
            reporter["sid"]
                .as_str()
                .is_some_and(|sid| sid.starts_with("S-1-5-")),
            "{reporter}"
        );
        assert!(reporter.get("uid").is_none(), "{reporter}");
        running.stop().await;
    }

    /// `help` over the pipe: the collector is asked for the account Windows named.
    #[tokio::test]
    async fn a_help_link_is_asked_for_the_account_windows_names() {
        let pipe = unique_pipe("help");
        let running = start_listener(&pipe).await;
        let mut desk = running.help_links.open_desk();
        let seen = tokio::spawn(async move {
            let pending = desk.next().await;
            let (id, ask) = desk.register(pending).expect("room");
            desk.answer(
                &id,
                HelpLinkAnswer::Link {
                    url: "https://collector.example.com/help/t/1".to_owned(),
                    expires_at_unix_ms: 1,
                },
            );
            ask
        });
        let answer = report::submit_help(&pipe, "pl_PL").await.expect("answer");
        assert!(matches!(answer, HelpLinkAnswer::Link { .. }), "{answer:?}");
        let ask = seen.await.expect("desk");
        assert_eq!(ask.account, own_user_name());
        assert_eq!(ask.uid, 0);
        assert_eq!(ask.locale, "pl_PL");
        running.stop().await;
    }

    /// A request over the size limit, and a client that says nothing, are answered with a
    /// refusal: the pipe keeps the socket's bounds.
    #[tokio::test]
    async fn the_pipe_keeps_the_size_limit_and_the_deadline() {
        let pipe = unique_pipe("bounds");
        let running = start_listener(&pipe).await;
        let answer_to = |bytes: Vec<u8>| {
            let pipe = pipe.clone();
            async move {
                let client = connect(pipe.as_os_str()).await.expect("connect");
                let (read, mut write) = tokio::io::split(client);
                // The server may stop reading early: a failed write is not the test.
                let _ = write.write_all(&bytes).await;
                let mut line = String::new();
                tokio::time::timeout(
                    report::READ_DEADLINE + Duration::from_secs(10),
                    BufReader::new(read).read_line(&mut line),
                )
                .await
                .expect("answered in time")
                .expect("read the answer");
                line
            }
        };
        let mut too_long = vec![b'x'; report::MAX_REQUEST_BYTES + 10];
        too_long.push(b'\n');
        let line = answer_to(too_long).await;
        assert!(line.contains("too long"), "{line}");
        let started = std::time::Instant::now();
        let line = answer_to(Vec::new()).await;
        assert!(line.contains("did not arrive"), "{line}");
        assert!(
            started.elapsed() >= report::READ_DEADLINE,
            "{:?}",
            started.elapsed()
        );
        running.stop().await;
    }

    /// A second listener on a name already served is refused (FILE_FLAG_FIRST_PIPE_INSTANCE):
    /// another process cannot squat the agent's pipe, and the agent does not join one.
    #[tokio::test]
    async fn a_second_server_on_the_same_name_is_refused() {
        let pipe = unique_pipe("squat");
        let _first = create_server(pipe.as_os_str(), true).expect("first instance");
        let error = create_server(pipe.as_os_str(), true).expect_err("second first instance");
        assert!(error.to_string().contains("CreateNamedPipeW"), "{error}");
        // The agent's own further instances are allowed.
        create_server(pipe.as_os_str(), false).expect("a further instance");
    }

    /// The help page's reports are counted under the same SID as the pipe's.
    #[test]
    fn an_account_name_gives_the_sid_its_pipe_client_has() {
        let own = process_account(std::process::id()).expect("own account");
        let name = own.1.expect("own name");
        assert_eq!(account_sid(&name), Ok(own.0));
        assert!(account_sid("no-such-user-firstline").is_err());
        assert!(account_sid("").is_err());
    }

    /// With no agent listening, the client fails at once (the command then diagnoses locally).
    #[tokio::test]
    async fn no_agent_listening_is_an_error_at_once() {
        let pipe = unique_pipe("absent");
        let started = std::time::Instant::now();
        let error = report::submit(&pipe, "no wifi")
            .await
            .expect_err("nobody there");
        assert!(error.to_string().contains("CreateFileW"), "{error}");
        assert!(started.elapsed() < BUSY_WAIT, "{:?}", started.elapsed());
    }
}
