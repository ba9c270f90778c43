//! The agent as a systemd service: the unit (`agent/dist/firstline-agent.service`, shipped as
//! it is by the package) with this machine's paths substituted, and `systemctl` to enable it.

use std::path::Path;

use super::{ServiceDefinition, ServiceError, ServiceStatus};

/// The unit the package ships, for `/usr/bin/firstline-agent` and the default paths.
pub const UNIT_TEMPLATE: &str = include_str!("../../dist/firstline-agent.service");
pub const UNIT_NAME: &str = "firstline-agent.service";
/// Where `service install` writes the unit (it takes precedence over the package's).
pub const UNIT_PATH: &str = "/etc/systemd/system/firstline-agent.service";
/// Where the package puts it.
pub const PACKAGED_UNIT_PATHS: [&str; 2] = [
    "/lib/systemd/system/firstline-agent.service",
    "/usr/lib/systemd/system/firstline-agent.service",
];
/// systemd's `StateDirectory=` is relative to this.
const STATE_DIRECTORY_ROOT: &str = "/var/lib/";

/// The unit for `definition`: the shipped unit with its `ExecStart=` (and, for a state dir
/// outside /var/lib, the writable paths) replaced.
pub fn render_unit(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    let command = definition
        .command_as_text()?
        .into_iter()
        .map(|word| quote_word(word, true))
        .collect::<Vec<_>>()
        .join(" ");
    let state_dir = definition
        .state_dir
        .to_str()
        .ok_or_else(|| ServiceError::PathNotText {
            path: definition.state_dir.clone(),
        })?;
    let mut unit = String::with_capacity(UNIT_TEMPLATE.len() + 64);
    for line in UNIT_TEMPLATE.lines() {
        if line.starts_with("ExecStart=") {
            unit.push_str("ExecStart=");
            unit.push_str(&command);
        } else if line.starts_with("StateDirectory=") {
            // systemd creates (and owns the mode of) state dirs under /var/lib only; any other
            // state dir is made writable in the otherwise read-only file system instead.
            match state_dir
                .strip_prefix(STATE_DIRECTORY_ROOT)
                .filter(|relative| !relative.is_empty())
            {
                Some(relative) => {
                    unit.push_str("StateDirectory=");
                    unit.push_str(&quote_word(relative.trim_end_matches('/'), false));
                }
                None => {
                    unit.push_str("ReadWritePaths=");
                    unit.push_str(&quote_word(state_dir, false));
                }
            }
        } else {
            unit.push_str(line);
        }
        unit.push('\n');
    }
    Ok(unit)
}

/// One word of a unit setting, quoted the way systemd splits them: `%` starts a specifier and
/// `$` (in command lines) a variable, so both are doubled; whitespace, quotes and backslashes
/// need double quotes with C-style escapes.
pub fn quote_word(word: &str, in_command_line: bool) -> String {
    let mut escaped = word.replace('%', "%%");
    if in_command_line {
        escaped = escaped.replace('$', "$$");
    }
    let needs_quotes = word.is_empty()
        || word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if !needs_quotes {
        return escaped;
    }
    let mut quoted = String::with_capacity(escaped.len() + 2);
    quoted.push('"');
    for c in escaped.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// Whether systemd manages this machine (the test its own tools use).
pub fn systemd_is_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// An error unless systemd manages this machine.
pub fn require_systemd() -> Result<(), ServiceError> {
    if systemd_is_running() {
        Ok(())
    } else {
        Err(ServiceError::ServiceManager {
            action: "installing the systemd unit".to_owned(),
            detail: "systemd is not running on this machine (no /run/systemd/system); start `firstline-agent run` from its own startup mechanism".to_owned(),
        })
    }
}

/// Writes the unit to /etc/systemd/system, enables it and (re)starts it. An agent that is not
/// enrolled yet waits for it, so starting it is safe.
pub fn install(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    require_systemd()?;
    let unit = render_unit(definition)?;
    super::write_definition(Path::new(UNIT_PATH), &unit)?;
    super::run_command("systemctl", &["daemon-reload"])?;
    super::run_command("systemctl", &["enable", UNIT_NAME])?;
    // restart rather than start: an agent already running picks up the new unit.
    super::run_command("systemctl", &["restart", UNIT_NAME])?;
    Ok(UNIT_PATH.to_owned())
}

/// Stops and disables the service and removes the unit `service install` wrote.
pub fn uninstall() -> Result<Vec<String>, ServiceError> {
    let mut done = Vec::new();
    let unit_path = Path::new(UNIT_PATH);
    if !unit_path.exists() {
        done.push(format!("no {UNIT_PATH}: nothing to remove"));
    } else {
        if systemd_is_running() {
            super::run_command("systemctl", &["disable", "--now", UNIT_NAME])?;
            done.push(format!("stopped and disabled {UNIT_NAME}"));
        }
        std::fs::remove_file(unit_path).map_err(|source| ServiceError::Write {
            path: unit_path.to_owned(),
            source,
        })?;
        done.push(format!("removed {UNIT_PATH}"));
        if systemd_is_running() {
            super::run_command("systemctl", &["daemon-reload"])?;
        }
    }
    if let Some(packaged) = PACKAGED_UNIT_PATHS
        .iter()
        .find(|path| Path::new(path).exists())
    {
        done.push(format!(
            "{packaged} belongs to the firstline-agent package: remove the package to remove it"
        ));
    }
    done.push("kept the config and the state dir (the identity and the outbox)".to_owned());
    Ok(done)
}

/// The unit's state according to systemd, and the enrollment in `state_dir`.
pub fn status(state_dir: &Path) -> ServiceStatus {
    let definition = std::iter::once(UNIT_PATH)
        .chain(PACKAGED_UNIT_PATHS)
        .find(|path| Path::new(path).exists());
    // `systemctl is-enabled` and `is-active` answer on stdout and exit nonzero for "no".
    let ask = |question: &str| {
        std::process::Command::new("systemctl")
            .args([question, UNIT_NAME])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let systemd = systemd_is_running();
    ServiceStatus {
        manager: "systemd",
        installed: definition.is_some(),
        definition: definition.map(str::to_owned),
        enabled: systemd && ask("is-enabled") == "enabled",
        running: systemd && ask("is-active") == "active",
        state_dir: state_dir.to_owned(),
        enrollment: super::EnrollmentState::of(state_dir),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_packaged_unit_is_the_shipped_file_exactly() {
        let unit = render_unit(&ServiceDefinition {
            binary: PathBuf::from("/usr/bin/firstline-agent"),
            config_path: PathBuf::from("/etc/firstline/agent.toml"),
            state_dir: PathBuf::from("/var/lib/firstline-agent"),
        })
        .expect("renders");
        assert_eq!(unit, UNIT_TEMPLATE);
    }

    #[test]
    fn the_unit_runs_this_machines_binary_with_its_paths() {
        let unit = render_unit(&ServiceDefinition {
            binary: PathBuf::from("/opt/Firstline Agent/firstline-agent"),
            config_path: PathBuf::from("/etc/firstline/agent.toml"),
            state_dir: PathBuf::from("/var/lib/firstline-test"),
        })
        .expect("renders");
        assert!(
            unit.contains(
                "\nExecStart=\"/opt/Firstline Agent/firstline-agent\" run --config /etc/firstline/agent.toml --state-dir /var/lib/firstline-test\n"
            ),
            "{unit}"
        );
        assert!(unit.contains("\nStateDirectory=firstline-test\n"), "{unit}");
        assert_eq!(unit.matches("ExecStart=").count(), 1);
    }

    #[test]
    fn a_state_dir_outside_var_lib_is_made_writable_instead() {
        let unit = render_unit(&ServiceDefinition {
            binary: PathBuf::from("/usr/bin/firstline-agent"),
            config_path: PathBuf::from("/srv/firstline/agent.toml"),
            state_dir: PathBuf::from("/srv/firstline/state"),
        })
        .expect("renders");
        assert!(
            unit.contains("\nReadWritePaths=/srv/firstline/state\n"),
            "{unit}"
        );
        assert!(!unit.contains("StateDirectory="), "{unit}");
        // The sandbox and limits stay.
        for setting in [
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "StateDirectoryMode=0711",
            "Restart=on-failure",
        ] {
            assert!(unit.contains(setting), "{setting} in {unit}");
        }
    }

    #[test]
    fn words_are_quoted_as_systemd_splits_them() {
        for (word, in_command_line, expected) in [
            ("/usr/bin/firstline-agent", true, "/usr/bin/firstline-agent"),
            ("/opt/my agent/bin", true, "\"/opt/my agent/bin\""),
            ("/srv/100%", true, "/srv/100%%"),
            ("/srv/$HOME", true, "/srv/$$HOME"),
            ("/srv/$HOME", false, "/srv/$HOME"),
            ("/srv/a\"b", true, "\"/srv/a\\\"b\""),
            ("/srv/a\\b", true, "\"/srv/a\\\\b\""),
            ("/srv/it's", true, "\"/srv/it's\""),
            (";", true, "\";\""),
            ("", true, "\"\""),
        ] {
            assert_eq!(quote_word(word, in_command_line), expected, "{word:?}");
        }
    }
}
