//! The agent as a macOS launch daemon: the plist (built and tested on every platform) in
//! /Library/LaunchDaemons, loaded with `launchctl bootstrap` (macOS only).

use std::path::PathBuf;

use super::{ServiceDefinition, ServiceError};

/// The daemon's label, also the plist's file name.
pub const LABEL: &str = "com.firstline.agent";
/// Where launchd's logs of the agent (its stderr) go.
pub const LOG_PATH: &str = "/Library/Logs/Firstline/agent.log";
/// Seconds launchd waits before starting the agent again after it exited.
pub const THROTTLE_INTERVAL_SECS: u32 = 10;

pub fn plist_path() -> PathBuf {
    PathBuf::from(format!("/Library/LaunchDaemons/{LABEL}.plist"))
}

/// The launch daemon's property list: run at boot, started again whenever it exits (an agent
/// not enrolled yet waits instead of exiting), logs to [`LOG_PATH`].
pub fn render_plist(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    let arguments = definition
        .command_as_text()?
        .into_iter()
        .map(|argument| format!("\t\t<string>{}</string>\n", escape_xml(argument)))
        .collect::<String>();
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{label}</string>
	<key>ProgramArguments</key>
	<array>
{arguments}	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>ThrottleInterval</key>
	<integer>{throttle}</integer>
	<key>ProcessType</key>
	<string>Background</string>
	<key>Umask</key>
	<integer>63</integer>
	<key>StandardErrorPath</key>
	<string>{log}</string>
	<key>SoftResourceLimits</key>
	<dict>
		<key>NumberOfFiles</key>
		<integer>1024</integer>
	</dict>
</dict>
</plist>
"#,
        label = LABEL,
        throttle = THROTTLE_INTERVAL_SECS,
        log = escape_xml(LOG_PATH),
    ))
}

/// Escapes text for an XML element.
fn escape_xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(target_os = "macos")]
pub use self::macos::{install, status, uninstall};

#[cfg(target_os = "macos")]
mod macos {
    use std::path::Path;

    use super::super::{EnrollmentState, ServiceDefinition, ServiceError, ServiceStatus};
    use super::{LABEL, LOG_PATH, plist_path, render_plist};

    fn target() -> String {
        format!("system/{LABEL}")
    }

    /// Writes the plist and (re)loads the daemon.
    pub fn install(definition: &ServiceDefinition) -> Result<String, ServiceError> {
        let plist = render_plist(definition)?;
        if let Some(logs) = Path::new(LOG_PATH).parent() {
            std::fs::create_dir_all(logs).map_err(|source| ServiceError::Write {
                path: logs.to_owned(),
                source,
            })?;
        }
        let path = plist_path();
        // A daemon loaded from an older plist is unloaded first; not loaded is fine.
        let _ = super::super::run_command("launchctl", &["bootout", &target()]);
        super::super::write_definition(&path, &plist)?;
        let path_text = path.display().to_string();
        super::super::run_command("launchctl", &["enable", &target()])?;
        super::super::run_command("launchctl", &["bootstrap", "system", &path_text])?;
        Ok(path_text)
    }

    pub fn uninstall() -> Result<Vec<String>, ServiceError> {
        let mut done = Vec::new();
        if super::super::run_command("launchctl", &["bootout", &target()]).is_ok() {
            done.push(format!("stopped and unloaded {LABEL}"));
        }
        let path = plist_path();
        match std::fs::remove_file(&path) {
            Ok(()) => done.push(format!("removed {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                done.push(format!("no {}: nothing to remove", path.display()));
            }
            Err(source) => return Err(ServiceError::Write { path, source }),
        }
        done.push("kept the config and the state dir (the identity and the outbox)".to_owned());
        Ok(done)
    }

    pub fn status(state_dir: &Path) -> ServiceStatus {
        let path = plist_path();
        let installed = path.exists();
        let printed = super::super::run_command("launchctl", &["print", &target()]).ok();
        let disabled = super::super::run_command("launchctl", &["print-disabled", "system"])
            .map(|text| {
                text.lines().any(|line| {
                    line.contains(&format!("\"{LABEL}\""))
                        && (line.contains("disabled") || line.contains("true"))
                })
            })
            .unwrap_or(false);
        ServiceStatus {
            manager: "launchd",
            definition: installed.then(|| path.display().to_string()),
            installed,
            enabled: installed && !disabled,
            running: printed.is_some_and(|text| text.contains("state = running")),
            state_dir: state_dir.to_owned(),
            enrollment: EnrollmentState::of(state_dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> ServiceDefinition {
        ServiceDefinition {
            binary: PathBuf::from("/usr/local/bin/firstline-agent"),
            config_path: PathBuf::from("/Library/Application Support/Firstline/agent.toml"),
            state_dir: PathBuf::from("/Library/Application Support/Firstline/R&D <state>"),
        }
    }

    #[test]
    fn the_plist_escapes_paths_and_keeps_the_arguments_apart() {
        let plist = render_plist(&definition()).expect("renders");
        assert!(
            plist.contains(
                "\t\t<string>/usr/local/bin/firstline-agent</string>\n\t\t<string>run</string>\n\t\t<string>--config</string>\n\t\t<string>/Library/Application Support/Firstline/agent.toml</string>\n\t\t<string>--state-dir</string>\n\t\t<string>/Library/Application Support/Firstline/R&amp;D &lt;state&gt;</string>\n"
            ),
            "{plist}"
        );
        assert!(plist.contains("<string>com.firstline.agent</string>"));
    }

    /// Python's plistlib is the reference reader here: it refuses malformed property lists,
    /// and what it reads back must be the label, the arguments and the keep-alive asked for.
    #[test]
    fn the_plist_is_a_property_list_launchd_can_read() {
        let python = std::path::Path::new("/usr/bin/python3");
        if !python.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have /usr/bin/python3 to check the plist"
            );
            eprintln!("skipped: no /usr/bin/python3");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(format!("{LABEL}.plist"));
        std::fs::write(&path, render_plist(&definition()).expect("renders")).expect("write");
        let output = std::process::Command::new(python)
            .arg("-c")
            .arg(
                "import json, plistlib, sys\n\
                 with open(sys.argv[1], 'rb') as f:\n    d = plistlib.load(f)\n\
                 print(json.dumps(d))",
            )
            .arg(&path)
            .output()
            .expect("run python3");
        assert!(
            output.status.success(),
            "plistlib refused the plist: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let parsed: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("python printed JSON");
        assert_eq!(parsed["Label"], LABEL);
        assert_eq!(
            parsed["ProgramArguments"],
            serde_json::json!([
                "/usr/local/bin/firstline-agent",
                "run",
                "--config",
                "/Library/Application Support/Firstline/agent.toml",
                "--state-dir",
                "/Library/Application Support/Firstline/R&D <state>"
            ])
        );
        assert_eq!(parsed["RunAtLoad"], true);
        assert_eq!(parsed["KeepAlive"], true);
        assert_eq!(parsed["ThrottleInterval"], THROTTLE_INTERVAL_SECS);
        assert_eq!(parsed["Umask"], 0o077);
        assert_eq!(parsed["SoftResourceLimits"]["NumberOfFiles"], 1024);
    }
}
