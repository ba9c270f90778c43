//! The Win32 side of the fixes: stopping and starting a service through the Service Control
//! Manager with a deadline, the system folder the fixes' few programs are taken from (never
//! PATH), and files looked at and removed through their own handles, never through a link.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::fs::File;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use windows_service::service::{Service, ServiceAccess, ServiceState};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_sys::Win32::Foundation::{
    ERROR_SERVICE_ALREADY_RUNNING, ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SERVICE_NOT_ACTIVE,
    GetLastError,
};
use windows_sys::Win32::Storage::FileSystem::{
    DELETE, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT, FILE_DISPOSITION_INFO,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_LIST_DIRECTORY,
    FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    FileDispositionInfo, SetFileInformationByHandle,
};
use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;

use crate::probes::windows::wide::until_nul;

/// The system folder (`C:\Windows\System32`), as Windows itself says, not as `%SystemRoot%` or
/// PATH (which whoever started the agent could have changed) say.
pub fn system_directory() -> Result<PathBuf, String> {
    let mut buffer = vec![0u16; 512];
    let length = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
    // SAFETY: `buffer` is live and `length` units long; the call writes at most that many.
    let written = unsafe { GetSystemDirectoryW(buffer.as_mut_ptr(), length) };
    if written == 0 || written >= length {
        // SAFETY: this thread's last error; no arguments.
        let error = unsafe { GetLastError() };
        return Err(format!(
            "GetSystemDirectoryW: error {error} ({written} units)"
        ));
    }
    Ok(PathBuf::from(until_nul(&buffer)))
}

/// `name` (e.g. `ipconfig.exe`) in the system folder, which must hold it.
pub fn system_program(name: &str) -> Result<String, String> {
    let program = system_directory()?.join(name);
    if !program.is_file() {
        return Err(format!("{} is not there", program.display()));
    }
    program
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not a Unicode path", program.display()))
}

/// Why a Service Control Manager call failed, with the service and the call named.
fn scm_error(call: &str, service: &str, error: &windows_service::Error) -> String {
    format!("{call} {service}: {error}")
}

fn win32_code(error: &windows_service::Error) -> Option<u32> {
    match error {
        windows_service::Error::Winapi(io) => io.raw_os_error().and_then(|c| u32::try_from(c).ok()),
        _ => None,
    }
}

fn open_service(name: &str) -> Result<Service, String> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| format!("OpenSCManagerW: {e}"))?;
    manager
        .open_service(
            name,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::START,
        )
        .map_err(|e| {
            if win32_code(&e) == Some(ERROR_SERVICE_DOES_NOT_EXIST) {
                format!("service {name} is not installed")
            } else {
                scm_error("OpenServiceW", name, &e)
            }
        })
}

/// Waits until `service` is in `wanted`, asking the SCM every 200 ms, until `deadline`.
fn wait_for(
    service: &Service,
    name: &str,
    wanted: ServiceState,
    deadline: Instant,
) -> Result<(), String> {
    loop {
        let status = service
            .query_status()
            .map_err(|e| scm_error("QueryServiceStatusEx", name, &e))?;
        if status.current_state == wanted {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "service {name} is still {:?}, not {wanted:?}, at the deadline",
                status.current_state
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A service held open to be stopped and started again.
pub struct ServiceControl {
    name: String,
    service: Service,
}

impl ServiceControl {
    pub fn open(name: &str) -> Result<Self, String> {
        Ok(Self {
            name: name.to_owned(),
            service: open_service(name)?,
        })
    }

    /// Stops the service (ControlService STOP) and waits until the SCM says it is stopped. One
    /// already stopped is left as it is. A service others depend on is not stopped: the SCM
    /// refuses (ERROR_DEPENDENT_SERVICES_RUNNING), and this fix does not stop the others.
    pub fn stop(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let status = self
            .service
            .query_status()
            .map_err(|e| scm_error("QueryServiceStatusEx", &self.name, &e))?;
        if status.current_state == ServiceState::Stopped {
            return Ok(());
        }
        if status.current_state != ServiceState::StopPending {
            match self.service.stop() {
                Ok(_) => {}
                Err(e) if win32_code(&e) == Some(ERROR_SERVICE_NOT_ACTIVE) => {}
                Err(e) => return Err(scm_error("ControlService(STOP)", &self.name, &e)),
            }
        }
        wait_for(&self.service, &self.name, ServiceState::Stopped, deadline)
    }

    /// Starts the service (StartServiceW, no arguments) and waits until the SCM says it runs.
    pub fn start(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        match self.service.start::<&OsStr>(&[]) {
            Ok(()) => {}
            Err(e) if win32_code(&e) == Some(ERROR_SERVICE_ALREADY_RUNNING) => {}
            Err(e) => return Err(scm_error("StartServiceW", &self.name, &e)),
        }
        wait_for(&self.service, &self.name, ServiceState::Running, deadline)
    }
}

/// Restarts `name`: stopped (when it runs) and started, each waited for within `within`.
pub fn restart_service(name: &str, within: Duration) -> Result<(), String> {
    let control = ServiceControl::open(name)?;
    control.stop(within)?;
    control.start(within)
}

/// A folder held open while its files are looked at and removed: opened without following a
/// reparse point (a junction or a link in its place is refused), and without sharing delete,
/// so it cannot be renamed away and replaced while it is held.
pub struct HeldFolder {
    path: PathBuf,
    _handle: File,
}

impl HeldFolder {
    pub fn open(path: &Path) -> Result<Self, String> {
        let handle = std::fs::OpenOptions::new()
            .access_mode(FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        let meta = handle
            .metadata()
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return Err(format!(
                "{} is a reparse point (a link or junction), not a folder: left alone",
                path.display()
            ));
        }
        if !meta.is_dir() {
            return Err(format!("{} is not a folder", path.display()));
        }
        Ok(Self {
            path: path.to_owned(),
            _handle: handle,
        })
    }

    /// The names of the folder's entries (at most 100 000).
    pub fn names(&self) -> Result<Vec<String>, String> {
        let entries = std::fs::read_dir(&self.path)
            .map_err(|e| format!("listing {}: {e}", self.path.display()))?;
        Ok(entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
            .take(100_000)
            .collect())
    }

    /// Opens the plain file `name` in the folder for reading its times and removing it: a
    /// reparse point is opened as itself, never followed, and refused; a folder is refused.
    pub fn open_file(&self, name: &str) -> Result<HeldFile, String> {
        let path = self.path.join(name);
        // Without FILE_FLAG_BACKUP_SEMANTICS a folder cannot be opened at all.
        let handle = std::fs::OpenOptions::new()
            .access_mode(DELETE | FILE_READ_ATTRIBUTES)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(&path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        let meta = handle
            .metadata()
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let attributes = meta.file_attributes();
        if attributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY) != 0 {
            return Err(format!(
                "{} is a link, junction or folder, not a file: left alone",
                path.display()
            ));
        }
        // The later of its creation and its last write: an age read from it can only be too
        // young, never too old (a file still being written is not old).
        let changed = [meta.created().ok(), meta.modified().ok()]
            .into_iter()
            .flatten()
            .max();
        Ok(HeldFile {
            path,
            handle,
            changed,
            bytes: meta.len(),
        })
    }
}

/// A plain file opened by `HeldFolder::open_file`.
pub struct HeldFile {
    pub path: PathBuf,
    handle: File,
    /// When it was created or last written, whichever is later.
    pub changed: Option<SystemTime>,
    pub bytes: u64,
}

impl HeldFile {
    /// Removes the very file that was opened (delete on close, set on its handle), whatever
    /// its name points to by now.
    pub fn remove(self) -> Result<u64, String> {
        let info = FILE_DISPOSITION_INFO { DeleteFile: true };
        let size = u32::try_from(std::mem::size_of::<FILE_DISPOSITION_INFO>()).unwrap_or(1);
        // SAFETY: the handle is the open file's (opened with DELETE access), alive for this
        // call; `info` is a live FILE_DISPOSITION_INFO of `size` bytes.
        let ok = unsafe {
            SetFileInformationByHandle(
                self.handle.as_raw_handle(),
                FileDispositionInfo,
                std::ptr::from_ref(&info).cast(),
                size,
            )
        };
        if ok == 0 {
            // SAFETY: this thread's last error; no arguments.
            let error = unsafe { GetLastError() };
            return Err(format!(
                "removing {}: SetFileInformationByHandle error {error}",
                self.path.display()
            ));
        }
        // Closing the handle removes it.
        drop(self.handle);
        Ok(self.bytes)
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// The fixes' tests that stop and start the Spooler take this first, so that two of them
    /// never race on the one service.
    pub fn spooler_lock() -> std::sync::MutexGuard<'static, ()> {
        static SPOOLER: std::sync::Mutex<()> = std::sync::Mutex::new(());
        SPOOLER
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[test]
    fn programs_are_taken_from_the_system_folder_only() {
        let system = system_directory().expect("system folder");
        assert!(
            system.join("kernel32.dll").is_file(),
            "{}",
            system.display()
        );
        let ipconfig = system_program("ipconfig.exe").expect("ipconfig.exe");
        assert!(
            ipconfig.to_lowercase().ends_with(r"\ipconfig.exe"),
            "{ipconfig}"
        );
        let error = system_program("firstline-no-such.exe").expect_err("missing");
        assert!(
            error.contains("firstline-no-such.exe is not there"),
            "{error}"
        );
    }

    #[test]
    fn a_service_that_is_not_installed_is_named_in_the_error() {
        let error = restart_service("FirstlineNoSuchService", Duration::from_secs(5))
            .expect_err("not installed");
        assert!(
            error.contains("service FirstlineNoSuchService is not installed"),
            "{error}"
        );
    }

    #[test]
    fn a_file_is_removed_through_its_handle_and_a_folder_is_not_opened_as_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("00001.SPL"), b"job").expect("write");
        std::fs::create_dir(dir.path().join("00002.SHD")).expect("mkdir");
        let folder = HeldFolder::open(dir.path()).expect("held");
        let mut names = folder.names().expect("names");
        names.sort();
        assert_eq!(names, vec!["00001.SPL", "00002.SHD"]);
        let file = folder.open_file("00001.SPL").expect("file");
        assert!(file.changed.is_some());
        assert_eq!(file.remove().expect("removed"), 3);
        assert!(!dir.path().join("00001.SPL").exists());
        assert!(folder.open_file("00002.SHD").is_err());
        assert!(dir.path().join("00002.SHD").is_dir());
    }
}
