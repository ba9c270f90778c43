//! `firstline-agent service install|uninstall|status`: the agent as an OS service (a systemd
//! unit, a launchd daemon or a Windows service), from one platform-neutral definition.
//!
//! Everything that can be decided without the service manager (names, paths, arguments, the
//! unit, plist and Windows command line) is plain data and text built here and in the
//! per-platform files, so it is unit-tested on every platform; only the calls into `systemctl`,
//! `launchctl` or the Service Control Manager are platform-specific.

pub mod help_entry;
pub mod launchd;
pub mod systemd;
#[cfg(windows)]
pub mod windows;
pub mod windows_definition;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::identity::{Enrollment, IdentityError};

/// The service's name for systemd, the Windows SCM, and the packages.
pub const SERVICE_NAME: &str = "firstline-agent";
pub const DISPLAY_NAME: &str = "Firstline agent";
pub const DESCRIPTION: &str =
    "Watches this computer's health and reports faults to the support desk (Firstline).";

/// Where the packages put the binary.
pub const PACKAGED_BINARY: &str = "/usr/bin/firstline-agent";

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "`firstline-agent service {action}` changes the system's services and must run as {administrator} (try: {hint})"
    )]
    NotAdministrator {
        action: &'static str,
        administrator: &'static str,
        hint: &'static str,
    },
    #[error("{path} cannot be written into a service definition: it is not valid UTF-8")]
    PathNotText { path: PathBuf },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("running `{command}`: {detail}")]
    Command { command: String, detail: String },
    #[error("{0}")]
    Identity(#[from] IdentityError),
    #[error("{action}: {detail}")]
    ServiceManager { action: String, detail: String },
    #[error(
        "installing a service is not supported on {os}; run `firstline-agent run` from the system's own startup mechanism"
    )]
    Unsupported { os: &'static str },
}

/// What the service runs: this binary, `run --config CONFIG --state-dir STATE_DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDefinition {
    pub binary: PathBuf,
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
}

impl ServiceDefinition {
    /// The definition the packages install: `/usr/bin/firstline-agent` with the default paths.
    pub fn packaged() -> Self {
        Self {
            binary: PathBuf::from(PACKAGED_BINARY),
            config_path: crate::config::default_config_path(),
            state_dir: crate::config::default_state_dir(),
        }
    }

    /// The arguments after the binary, in order.
    pub fn run_arguments(&self) -> Vec<OsString> {
        vec![
            OsString::from("run"),
            OsString::from("--config"),
            self.config_path.clone().into_os_string(),
            OsString::from("--state-dir"),
            self.state_dir.clone().into_os_string(),
        ]
    }

    /// The binary and the arguments as text, for definitions written as text (unit, plist).
    pub fn command_as_text(&self) -> Result<Vec<&str>, ServiceError> {
        fn text(path: &Path) -> Result<&str, ServiceError> {
            path.to_str().ok_or_else(|| ServiceError::PathNotText {
                path: path.to_owned(),
            })
        }
        Ok(vec![
            text(&self.binary)?,
            "run",
            "--config",
            text(&self.config_path)?,
            "--state-dir",
            text(&self.state_dir)?,
        ])
    }
}

/// Whether the agent in a state dir is enrolled, as `service status` reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum EnrollmentState {
    Enrolled(Enrollment),
    NotEnrolled,
    /// The state dir could not be read (permissions) or holds a corrupt enrollment.
    Unknown(String),
}

impl EnrollmentState {
    pub fn of(state_dir: &Path) -> Self {
        match Enrollment::load(state_dir) {
            Ok(enrollment) => Self::Enrolled(enrollment),
            Err(IdentityError::NotEnrolled { .. }) => Self::NotEnrolled,
            Err(error) => Self::Unknown(error.to_string()),
        }
    }

    pub fn is_enrolled(&self) -> bool {
        matches!(self, Self::Enrolled(_))
    }
}

/// What `service status` found.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    /// "systemd", "launchd", "Windows service".
    pub manager: &'static str,
    /// The unit file, plist or the service's command line, when installed.
    pub definition: Option<String>,
    pub installed: bool,
    /// Starts at boot.
    pub enabled: bool,
    pub running: bool,
    pub state_dir: PathBuf,
    pub enrollment: EnrollmentState,
}

impl ServiceStatus {
    /// The lines `service status` prints.
    pub fn describe(&self) -> Vec<String> {
        let yes_no = |value: bool| if value { "yes" } else { "no" };
        let mut lines = vec![format!(
            "installed: {} ({}{})",
            yes_no(self.installed),
            self.manager,
            self.definition
                .as_deref()
                .map(|definition| format!(", {definition}"))
                .unwrap_or_default()
        )];
        lines.push(format!("enabled:   {}", yes_no(self.enabled)));
        lines.push(format!("running:   {}", yes_no(self.running)));
        match &self.enrollment {
            EnrollmentState::Enrolled(enrollment) => {
                lines.push(format!(
                    "enrolled:  yes, device {} (state in {})",
                    enrollment.device_id,
                    self.state_dir.display()
                ));
                lines.push(format!("collector: {}", enrollment.collector_url));
            }
            EnrollmentState::NotEnrolled => {
                lines.push(format!(
                    "enrolled:  no (state in {})",
                    self.state_dir.display()
                ));
                lines.push(format!("next step: {}", enroll_hint(&self.state_dir)));
            }
            EnrollmentState::Unknown(problem) => {
                lines.push(format!("enrolled:  unknown ({problem})"));
            }
        }
        lines
    }
}

/// What `service install` did.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    /// The unit file, plist or service name written.
    pub definition: String,
    /// A default config was written because none existed.
    pub config_written: bool,
    pub enrollment: EnrollmentState,
}

impl Installed {
    /// The lines `service install` prints.
    pub fn describe(&self, definition: &ServiceDefinition) -> Vec<String> {
        let mut lines = vec![format!("installed {}", self.definition)];
        if self.config_written {
            lines.push(format!(
                "wrote the default config {} (every setting commented, edit as needed)",
                definition.config_path.display()
            ));
        } else {
            lines.push(format!(
                "kept the existing config {}",
                definition.config_path.display()
            ));
        }
        match &self.enrollment {
            EnrollmentState::Enrolled(enrollment) => lines.push(format!(
                "started: enrolled as device {} with {}",
                enrollment.device_id, enrollment.collector_url
            )),
            _ => {
                lines.push(
                    "started: the agent waits until it is enrolled, then connects".to_owned(),
                );
                lines.push(format!(
                    "enrol with: {}",
                    enroll_hint(&definition.state_dir)
                ));
            }
        }
        lines
    }
}

/// The command that enrolls the agent of `state_dir`.
pub fn enroll_hint(state_dir: &Path) -> String {
    format!(
        "firstline-agent enroll --collector URL --token TOKEN --state-dir {}",
        quote_for_shell(&state_dir.display().to_string())
    )
}

/// Single-quotes `text` for a POSIX shell when it needs it (a hint the user may paste).
fn quote_for_shell(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:%\\".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Registers and starts the service, writing a default config first if there is none.
pub fn install(definition: &ServiceDefinition) -> Result<Installed, ServiceError> {
    require_administrator("install")?;
    // Nothing is written on a machine whose service manager cannot take the service.
    #[cfg(target_os = "linux")]
    systemd::require_systemd()?;
    let config_written = write_default_config_if_missing(&definition.config_path)?;
    create_state_dir(&definition.state_dir)?;
    let written = platform_install(definition)?;
    Ok(Installed {
        definition: written,
        config_written,
        enrollment: EnrollmentState::of(&definition.state_dir),
    })
}

/// Stops and unregisters the service. The config and the state dir (the identity, the outbox)
/// stay: installing again picks up where this left off. Returns what was removed.
pub fn uninstall() -> Result<Vec<String>, ServiceError> {
    require_administrator("uninstall")?;
    platform_uninstall()
}

/// What the service manager and the state dir say.
pub fn status(state_dir: &Path) -> Result<ServiceStatus, ServiceError> {
    platform_status(state_dir)
}

#[cfg(target_os = "linux")]
fn platform_install(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    systemd::install(definition)
}
#[cfg(target_os = "linux")]
fn platform_uninstall() -> Result<Vec<String>, ServiceError> {
    systemd::uninstall()
}
#[cfg(target_os = "linux")]
fn platform_status(state_dir: &Path) -> Result<ServiceStatus, ServiceError> {
    Ok(systemd::status(state_dir))
}

#[cfg(target_os = "macos")]
fn platform_install(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    launchd::install(definition)
}
#[cfg(target_os = "macos")]
fn platform_uninstall() -> Result<Vec<String>, ServiceError> {
    launchd::uninstall()
}
#[cfg(target_os = "macos")]
fn platform_status(state_dir: &Path) -> Result<ServiceStatus, ServiceError> {
    Ok(launchd::status(state_dir))
}

#[cfg(windows)]
fn platform_install(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    windows::install(definition)
}
#[cfg(windows)]
fn platform_uninstall() -> Result<Vec<String>, ServiceError> {
    windows::uninstall()
}
#[cfg(windows)]
fn platform_status(state_dir: &Path) -> Result<ServiceStatus, ServiceError> {
    windows::status(state_dir)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform_install(_definition: &ServiceDefinition) -> Result<String, ServiceError> {
    Err(ServiceError::Unsupported {
        os: std::env::consts::OS,
    })
}
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform_uninstall() -> Result<Vec<String>, ServiceError> {
    Err(ServiceError::Unsupported {
        os: std::env::consts::OS,
    })
}
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform_status(_state_dir: &Path) -> Result<ServiceStatus, ServiceError> {
    Err(ServiceError::Unsupported {
        os: std::env::consts::OS,
    })
}

/// Installing and removing services is for root; Windows asks the SCM, which refuses with
/// "access denied" (reported by `windows.rs` with the same advice).
fn require_administrator(action: &'static str) -> Result<(), ServiceError> {
    #[cfg(unix)]
    if !rustix::process::geteuid().is_root() {
        return Err(ServiceError::NotAdministrator {
            action,
            administrator: "root",
            hint: if action == "install" {
                "sudo firstline-agent service install"
            } else {
                "sudo firstline-agent service uninstall"
            },
        });
    }
    #[cfg(not(unix))]
    let _ = action;
    Ok(())
}

/// Writes the commented example config to `path` unless a file is already there (an admin's
/// edits are never replaced). Returns whether it wrote one.
pub fn write_default_config_if_missing(path: &Path) -> Result<bool, ServiceError> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| ServiceError::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    // create_new: should another installer race us, its file wins.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644);
    }
    let write_error = |source| ServiceError::Write {
        path: path.to_owned(),
        source,
    };
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(crate::config::EXAMPLE_CONFIG.as_bytes())
                .map_err(write_error)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(write_error(e)),
    }
}

/// Creates the state dir (0711 on Unix, as `enroll` leaves it: users reach the report socket).
fn create_state_dir(state_dir: &Path) -> Result<(), ServiceError> {
    std::fs::create_dir_all(state_dir).map_err(|source| ServiceError::Write {
        path: state_dir.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o711)).map_err(
            |source| ServiceError::Write {
                path: state_dir.to_owned(),
                source,
            },
        )?;
    }
    Ok(())
}

/// Writes `contents` to `path` through a temporary file and a rename, mode 0644.
pub fn write_definition(path: &Path, contents: &str) -> Result<(), ServiceError> {
    crate::identity::write_file(path, contents.as_bytes(), 0o644).map_err(|error| match error {
        IdentityError::Write { path, source } => ServiceError::Write { path, source },
        other => ServiceError::Identity(other),
    })
}

/// Runs a service manager's command; its output when it succeeded, else an error with its
/// stderr.
pub fn run_command(program: &str, arguments: &[&str]) -> Result<String, ServiceError> {
    let command = std::iter::once(program)
        .chain(arguments.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let output = std::process::Command::new(program)
        .args(arguments)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ServiceError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Err(ServiceError::Command {
            command,
            detail: format!(
                "{} {}",
                output.status,
                if stderr.is_empty() { stdout } else { stderr }
            )
            .trim()
            .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> ServiceDefinition {
        ServiceDefinition {
            binary: PathBuf::from("/opt/firstline/bin/firstline-agent"),
            config_path: PathBuf::from("/etc/firstline/agent.toml"),
            state_dir: PathBuf::from("/var/lib/firstline-agent"),
        }
    }

    #[test]
    fn the_service_runs_the_agent_with_its_config_and_state_dir() {
        let definition = definition();
        assert_eq!(
            definition.run_arguments(),
            [
                "run",
                "--config",
                "/etc/firstline/agent.toml",
                "--state-dir",
                "/var/lib/firstline-agent"
            ]
            .map(OsString::from)
        );
        assert_eq!(
            definition.command_as_text().expect("text"),
            [
                "/opt/firstline/bin/firstline-agent",
                "run",
                "--config",
                "/etc/firstline/agent.toml",
                "--state-dir",
                "/var/lib/firstline-agent"
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_packaged_definition_uses_the_linux_defaults() {
        assert_eq!(
            ServiceDefinition::packaged(),
            ServiceDefinition {
                binary: PathBuf::from("/usr/bin/firstline-agent"),
                config_path: PathBuf::from("/etc/firstline/agent.toml"),
                state_dir: PathBuf::from("/var/lib/firstline-agent"),
            }
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_text_is_refused_by_name() {
        use std::os::unix::ffi::OsStringExt;
        let mut definition = definition();
        definition.state_dir = PathBuf::from(OsString::from_vec(b"/var/lib/\xff".to_vec()));
        let error = definition.command_as_text().expect_err("not UTF-8");
        assert!(error.to_string().contains("/var/lib/"), "{error}");
    }

    #[test]
    fn the_default_config_is_written_once_and_never_over_an_admins_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("etc/firstline/agent.toml");
        assert!(write_default_config_if_missing(&path).expect("writes"));
        let written = std::fs::read_to_string(&path).expect("read");
        assert_eq!(written, crate::config::EXAMPLE_CONFIG);
        crate::config::Settings::load(Some(&path)).expect("the default config is valid");
        std::fs::write(&path, "site = \"berlin\"\n").expect("admin edits");
        assert!(!write_default_config_if_missing(&path).expect("keeps"));
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "site = \"berlin\"\n"
        );
    }

    #[test]
    fn status_says_what_to_do_next_when_not_enrolled() {
        let status = ServiceStatus {
            manager: "systemd",
            definition: Some("/etc/systemd/system/firstline-agent.service".to_owned()),
            installed: true,
            enabled: true,
            running: true,
            state_dir: PathBuf::from("/var/lib/firstline-agent"),
            enrollment: EnrollmentState::NotEnrolled,
        };
        let text = status.describe().join("\n");
        assert!(
            text.contains("installed: yes (systemd, /etc/systemd/system/firstline-agent.service)"),
            "{text}"
        );
        assert!(text.contains("enrolled:  no"), "{text}");
        assert!(
            text.contains(
                "firstline-agent enroll --collector URL --token TOKEN --state-dir /var/lib/firstline-agent"
            ),
            "{text}"
        );
    }

    #[test]
    fn status_names_the_collector_when_enrolled() {
        let status = ServiceStatus {
            manager: "systemd",
            definition: None,
            installed: false,
            enabled: false,
            running: false,
            state_dir: PathBuf::from("/var/lib/firstline-agent"),
            enrollment: EnrollmentState::Enrolled(Enrollment {
                device_id: "dev-1".to_owned(),
                collector_url: "https://collector.example.com:7443".to_owned(),
                enrolled_at: "2026-01-01T00:00:00Z".to_owned(),
            }),
        };
        let text = status.describe().join("\n");
        assert!(text.contains("installed: no (systemd)"), "{text}");
        assert!(text.contains("enrolled:  yes, device dev-1"), "{text}");
        assert!(
            text.contains("collector: https://collector.example.com:7443"),
            "{text}"
        );
    }

    #[test]
    fn enroll_hints_quote_paths_a_shell_would_split() {
        for (state_dir, expected) in [
            ("/var/lib/firstline-agent", "/var/lib/firstline-agent"),
            (
                "/Library/Application Support/Firstline/state",
                "'/Library/Application Support/Firstline/state'",
            ),
            ("/srv/it's", r"'/srv/it'\''s'"),
        ] {
            assert_eq!(
                enroll_hint(Path::new(state_dir)),
                format!(
                    "firstline-agent enroll --collector URL --token TOKEN --state-dir {expected}"
                )
            );
        }
    }

    #[test]
    fn enrollment_state_reads_only_the_enrollment_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(
            EnrollmentState::of(dir.path()),
            EnrollmentState::NotEnrolled
        );
        std::fs::write(
            dir.path().join(crate::identity::ENROLLMENT_FILE),
            "device_id = \"d\"\ncollector_url = \"https://c:7443\"\nenrolled_at = \"now\"\n",
        )
        .expect("write");
        assert!(EnrollmentState::of(dir.path()).is_enrolled());
        std::fs::write(
            dir.path().join(crate::identity::ENROLLMENT_FILE),
            "nonsense",
        )
        .expect("write");
        assert!(matches!(
            EnrollmentState::of(dir.path()),
            EnrollmentState::Unknown(problem) if problem.contains("enrollment.toml")
        ));
    }
}
