//! Whether the OS wants a reboot (updates installed that need one): /run/reboot-required on
//! Debian and Ubuntu, the registry on Windows (`probes::windows::reboot`).

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RebootState {
    pub pending: bool,
    /// What asked for it, e.g. the packages listed in /run/reboot-required.pkgs, or on Windows
    /// which of servicing, Windows Update and pending file replacements.
    pub reasons: Vec<String>,
}

#[cfg(windows)]
pub fn state() -> Result<RebootState, String> {
    super::windows::reboot::state()
}

#[cfg(not(windows))]
pub fn state() -> Result<RebootState, String> {
    Ok(state_in(Path::new("/run")))
}

/// Debian and Ubuntu flag a needed reboot with `/run/reboot-required`.
pub fn state_in(run_dir: &Path) -> RebootState {
    let pending = run_dir.join("reboot-required").exists();
    let reasons = if pending {
        std::fs::read_to_string(run_dir.join("reboot-required.pkgs"))
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .take(50)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    RebootState { pending, reasons }
}

/// Windows' answer from what the registry says: Component Based Servicing's RebootPending key
/// (`servicing`), Windows Update's RebootRequired key (`update`), and the strings of
/// PendingFileRenameOperations (`renames`).
pub fn windows_reboot_state(servicing: bool, update: bool, renames: &[String]) -> RebootState {
    let mut reasons = Vec::new();
    if servicing {
        reasons.push("component servicing (CBS) needs a restart".to_owned());
    }
    if update {
        reasons.push("Windows Update needs a restart".to_owned());
    }
    match pending_file_operations(renames) {
        0 => {}
        1 => reasons.push("1 file to be replaced at restart".to_owned()),
        files => reasons.push(format!("{files} files to be replaced at restart")),
    }
    RebootState {
        pending: !reasons.is_empty(),
        reasons,
    }
}

/// How many operations PendingFileRenameOperations holds: it is a list of pairs (the file,
/// then what it becomes, empty for a deletion); a pair with no file does nothing.
pub fn pending_file_operations(renames: &[String]) -> usize {
    renames
        .chunks(2)
        .filter(|pair| !pair[0].trim().is_empty())
        .count()
}

/// The strings of a REG_MULTI_SZ value's UTF-16 units: NUL-separated, ended by an empty
/// string. Empty strings inside are kept (PendingFileRenameOperations has them), the final
/// terminators are not; a missing terminator is tolerated.
pub fn parse_multi_string(units: &[u16]) -> Vec<String> {
    let mut strings: Vec<String> = units
        .split(|&unit| unit == 0)
        .map(String::from_utf16_lossy)
        .collect();
    while strings.last().is_some_and(String::is_empty) {
        strings.pop();
    }
    strings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(text: &str) -> Vec<u16> {
        text.encode_utf16().collect()
    }

    #[test]
    fn multi_strings_keep_their_inner_empty_strings() {
        let cases: [(&str, &[&str]); 6] = [
            ("", &[]),
            ("\0\0", &[]),
            ("a\0b\0\0", &["a", "b"]),
            ("a\0\0b\0\0\0", &["a", "", "b"]),
            // Written without its terminators.
            ("a\0b", &["a", "b"]),
            ("\0\0a\0\0", &["", "", "a"]),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_multi_string(&units(text)), expected, "{text:?}");
        }
    }

    #[test]
    fn windows_reasons_name_what_wants_the_restart() {
        let renames = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases: Vec<(bool, bool, Vec<String>, Vec<&str>)> = vec![
            (false, false, Vec::new(), vec![]),
            (
                true,
                false,
                Vec::new(),
                vec!["component servicing (CBS) needs a restart"],
            ),
            (
                false,
                true,
                Vec::new(),
                vec!["Windows Update needs a restart"],
            ),
            (
                false,
                false,
                renames(&[r"\??\C:\a.tmp", ""]),
                vec!["1 file to be replaced at restart"],
            ),
            (
                true,
                true,
                renames(&[r"\??\C:\a.new", r"!\??\C:\a.dll", r"\??\C:\b.tmp"]),
                vec![
                    "component servicing (CBS) needs a restart",
                    "Windows Update needs a restart",
                    "2 files to be replaced at restart",
                ],
            ),
            // An emptied list (only blanks) asks for nothing.
            (false, false, renames(&["", "", " "]), vec![]),
        ];
        for (servicing, update, renames, expected) in cases {
            let state = windows_reboot_state(servicing, update, &renames);
            assert_eq!(state.reasons, expected, "{servicing} {update} {renames:?}");
            assert_eq!(state.pending, !expected.is_empty());
        }
    }
}
