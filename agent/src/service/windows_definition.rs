//! What the Windows service is, as data: default paths under %ProgramData%, the command line
//! the Service Control Manager stores, and the recovery settings. Built on every platform so it
//! is tested here; `windows.rs` only hands it to the SCM.

use std::time::Duration;

use super::{ServiceDefinition, ServiceError};

/// The agent's folder under %ProgramData%.
pub const PROGRAM_DATA_FOLDER: &str = "Firstline";

/// After a crash (or an exit with an error), start again after each of these delays in turn;
/// the last one repeats. A day without a failure starts the count over.
pub const RESTART_DELAYS: [Duration; 3] = [
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(300),
];
pub const FAILURE_COUNT_RESET: Duration = Duration::from_secs(24 * 60 * 60);

/// `%ProgramData%\Firstline\agent.toml`, given %ProgramData% (e.g. `C:\ProgramData`).
pub fn config_path_under(program_data: &str) -> String {
    format!(
        r"{}\{PROGRAM_DATA_FOLDER}\agent.toml",
        program_data.trim_end_matches('\\')
    )
}

/// `%ProgramData%\Firstline\state`.
pub fn state_dir_under(program_data: &str) -> String {
    format!(
        r"{}\{PROGRAM_DATA_FOLDER}\state",
        program_data.trim_end_matches('\\')
    )
}

/// The command line the SCM stores and starts: the binary and each argument quoted so that
/// the C runtime's parser (CommandLineToArgvW rules) gives back exactly the same arguments.
/// This is also what the `windows-service` crate writes, so `service status` can compare.
pub fn command_line(definition: &ServiceDefinition) -> Result<String, ServiceError> {
    Ok(definition
        .command_as_text()?
        .into_iter()
        .map(quote_argument)
        .collect::<Vec<_>>()
        .join(" "))
}

/// Quotes one argument for a Windows command line: untouched unless it is empty or has spaces,
/// tabs, newlines or quotes; inside quotes, a quote is escaped with a backslash, and the
/// backslashes right before a quote (or before the closing quote) are doubled.
pub fn quote_argument(argument: &str) -> String {
    let needs_quotes = argument.is_empty()
        || argument
            .chars()
            .any(|c| matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '"'));
    if !needs_quotes {
        return argument.to_owned();
    }
    let mut quoted = String::with_capacity(argument.len() + 2);
    quoted.push('"');
    let mut backslashes = 0usize;
    for c in argument.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                quoted.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                quoted.push('"');
                backslashes = 0;
            }
            other => {
                quoted.extend(std::iter::repeat_n('\\', backslashes));
                quoted.push(other);
                backslashes = 0;
            }
        }
    }
    quoted.extend(std::iter::repeat_n('\\', backslashes * 2));
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The C runtime's splitting of a command line (the rules of CommandLineToArgvW for the
    /// arguments after the program name), to check that quoting round-trips.
    fn split_like_windows(command_line: &str) -> Vec<String> {
        let mut arguments = Vec::new();
        let mut current = String::new();
        let mut in_quotes = false;
        let mut has_argument = false;
        let mut backslashes = 0usize;
        for c in command_line.chars() {
            match c {
                '\\' => {
                    backslashes += 1;
                    has_argument = true;
                }
                '"' => {
                    current.extend(std::iter::repeat_n('\\', backslashes / 2));
                    if backslashes % 2 == 1 {
                        current.push('"');
                    } else {
                        in_quotes = !in_quotes;
                    }
                    backslashes = 0;
                    has_argument = true;
                }
                ' ' | '\t' if !in_quotes => {
                    current.extend(std::iter::repeat_n('\\', backslashes));
                    backslashes = 0;
                    if has_argument {
                        arguments.push(std::mem::take(&mut current));
                    }
                    has_argument = false;
                }
                other => {
                    current.extend(std::iter::repeat_n('\\', backslashes));
                    backslashes = 0;
                    current.push(other);
                    has_argument = true;
                }
            }
        }
        current.extend(std::iter::repeat_n('\\', backslashes));
        if has_argument {
            arguments.push(current);
        }
        arguments
    }

    #[test]
    fn default_paths_live_under_program_data() {
        for (program_data, config, state) in [
            (
                r"C:\ProgramData",
                r"C:\ProgramData\Firstline\agent.toml",
                r"C:\ProgramData\Firstline\state",
            ),
            (
                r"D:\Data\",
                r"D:\Data\Firstline\agent.toml",
                r"D:\Data\Firstline\state",
            ),
        ] {
            assert_eq!(config_path_under(program_data), config);
            assert_eq!(state_dir_under(program_data), state);
        }
    }

    #[test]
    fn arguments_are_quoted_only_when_needed() {
        for (argument, expected) in [
            ("run", "run"),
            (
                r"C:\ProgramData\Firstline\agent.toml",
                r"C:\ProgramData\Firstline\agent.toml",
            ),
            (
                r"C:\Program Files\Firstline\firstline-agent.exe",
                r#""C:\Program Files\Firstline\firstline-agent.exe""#,
            ),
            // A trailing backslash inside quotes must not escape the closing quote.
            (r"C:\My State\", r#""C:\My State\\""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r#"a\"b c"#, r#""a\\\"b c""#),
            ("", r#""""#),
        ] {
            assert_eq!(quote_argument(argument), expected, "{argument:?}");
            assert_eq!(
                split_like_windows(&quote_argument(argument)),
                [argument],
                "{argument:?} round-trips"
            );
        }
    }

    #[test]
    fn the_service_command_line_gives_back_the_run_arguments() {
        let definition = ServiceDefinition {
            binary: PathBuf::from(r"C:\Program Files\Firstline\firstline-agent.exe"),
            config_path: PathBuf::from(config_path_under(r"C:\ProgramData")),
            state_dir: PathBuf::from(r"C:\Users\IT Admin\Firstline state\"),
        };
        let command_line = command_line(&definition).expect("text");
        assert_eq!(
            command_line,
            r#""C:\Program Files\Firstline\firstline-agent.exe" run --config C:\ProgramData\Firstline\agent.toml --state-dir "C:\Users\IT Admin\Firstline state\\""#
        );
        assert_eq!(
            split_like_windows(&command_line),
            [
                r"C:\Program Files\Firstline\firstline-agent.exe",
                "run",
                "--config",
                r"C:\ProgramData\Firstline\agent.toml",
                "--state-dir",
                r"C:\Users\IT Admin\Firstline state\",
            ]
        );
    }

    /// The MSI (`cargo xtask windows dist`) registers the service with wixl's ServiceInstall.
    const MSI_SOURCE: &str = include_str!("../../dist/windows/firstline-agent.wxs");

    /// The attributes of the first `<ELEMENT …>` in `xml` whose attributes include all of
    /// `with`, XML entities decoded. Enough XML for a .wxs written by hand.
    fn element(xml: &str, name: &str, with: &[(&str, &str)]) -> Vec<(String, String)> {
        let opening = format!("<{name}");
        let mut rest = xml;
        while let Some(start) = rest.find(&opening) {
            let after = &rest[start + opening.len()..];
            let end = after.find('>').unwrap_or(after.len());
            let (tag, next) = after.split_at(end);
            rest = next;
            if !tag.starts_with(char::is_whitespace) && !tag.starts_with('/') {
                continue;
            }
            let mut attributes = Vec::new();
            let mut text = tag;
            while let Some((key, value_and_rest)) = text.split_once("=\"") {
                let Some((value, after_value)) = value_and_rest.split_once('"') else {
                    break;
                };
                let key = key.split_whitespace().last().unwrap_or_default().to_owned();
                let value = value
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&");
                attributes.push((key, value));
                text = after_value;
            }
            let has = |(key, value): &(&str, &str)| {
                attributes
                    .iter()
                    .any(|(k, v)| k.as_str() == *key && v.as_str() == *value)
            };
            if with.iter().all(has) {
                return attributes;
            }
        }
        panic!("no <{name}> with {with:?} in firstline-agent.wxs");
    }

    fn attribute<'a>(attributes: &'a [(String, String)], key: &str) -> Option<&'a str> {
        attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// As "the package ships the unit the code writes": the MSI's service is this file's, so
    /// an MSI install and `service install` leave the same registration.
    #[test]
    fn the_msi_registers_the_service_service_install_registers() {
        use crate::service::{DESCRIPTION, DISPLAY_NAME, SERVICE_NAME};

        let service = element(MSI_SOURCE, "ServiceInstall", &[]);
        assert_eq!(attribute(&service, "Name"), Some(SERVICE_NAME));
        assert_eq!(attribute(&service, "DisplayName"), Some(DISPLAY_NAME));
        assert_eq!(attribute(&service, "Description"), Some(DESCRIPTION));
        assert_eq!(attribute(&service, "Type"), Some("ownProcess"));
        assert_eq!(attribute(&service, "Start"), Some("auto"));
        assert_eq!(attribute(&service, "ErrorControl"), Some("normal"));
        // No account: LocalSystem, as `service install`'s `account_name: None`.
        assert_eq!(attribute(&service, "Account"), None);
        let control = element(MSI_SOURCE, "ServiceControl", &[]);
        assert_eq!(attribute(&control, "Name"), Some(SERVICE_NAME));
        assert_eq!(attribute(&control, "Remove"), Some("uninstall"));

        // The command line the Windows Installer stores: the component's key file, quoted,
        // then the Arguments with the folders resolved as on a default Windows.
        let install_dir = element(MSI_SOURCE, "Directory", &[("Id", "INSTALLDIR")]);
        let exe = element(MSI_SOURCE, "File", &[("Id", "FirstlineAgentExe")]);
        let program_data = element(MSI_SOURCE, "Directory", &[("Id", "ProgramDataFirstline")]);
        let config = element(MSI_SOURCE, "File", &[("Id", "AgentToml")]);
        assert_eq!(attribute(&program_data, "Name"), Some(PROGRAM_DATA_FOLDER));
        assert_eq!(attribute(&config, "Name"), Some("agent.toml"));
        let binary = format!(
            r"C:\Program Files\{}\{}",
            attribute(&install_dir, "Name").unwrap_or_default(),
            attribute(&exe, "Name").unwrap_or_default()
        );
        let arguments = attribute(&service, "Arguments")
            .unwrap_or_default()
            .replace("[CommonAppDataFolder]", r"C:\ProgramData\");
        let definition = ServiceDefinition {
            binary: PathBuf::from(r"C:\Program Files\Firstline\firstline-agent.exe"),
            config_path: PathBuf::from(config_path_under(r"C:\ProgramData")),
            state_dir: PathBuf::from(state_dir_under(r"C:\ProgramData")),
        };
        assert_eq!(
            format!("{} {arguments}", quote_argument(&binary)),
            command_line(&definition).expect("text"),
            "the .wxs's command line is not `service install`'s"
        );
    }

    /// The Start-menu entry says what the other menus say and runs `help`.
    #[test]
    fn the_msi_shortcut_is_get_it_help() {
        use firstline_i18n::Lang;

        use crate::service::help_entry::entry_text;

        let shortcut = element(MSI_SOURCE, "Shortcut", &[("Id", "GetItHelp")]);
        assert_eq!(
            attribute(&shortcut, "Name"),
            Some(entry_text("Name", Lang::En))
        );
        assert_eq!(
            attribute(&shortcut, "Description"),
            Some(entry_text("Comment", Lang::En))
        );
        assert_eq!(attribute(&shortcut, "Arguments"), Some("help"));
        assert_eq!(attribute(&shortcut, "Target"), Some("[#FirstlineAgentExe]"));
        assert_eq!(attribute(&shortcut, "Directory"), Some("ProgramMenuFolder"));
    }

    #[test]
    fn recovery_restarts_with_growing_delays_and_forgets_after_a_day() {
        assert!(RESTART_DELAYS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(RESTART_DELAYS[0] >= Duration::from_secs(5));
        assert_eq!(FAILURE_COUNT_RESET, Duration::from_secs(86_400));
    }
}
