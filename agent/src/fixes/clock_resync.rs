//! `clock.resync`: makes the time service step the clock to network time now (chrony, else
//! systemd-timesyncd); verified by the time service saying it is synchronised. Linux is built
//! here. Windows is built too: `w32tm /resync` (taken from the system folder; W32Time has no
//! API short of its RPC interface), verified by `w32tm /query /status`'s leap indicator, its
//! first line in every language (3 is "not synchronised"). The clock check's own rule cannot
//! verify it: it measures the skew against the collector's clock, which the device only learns
//! with the next message. Wine has no w32tm.exe and no W32Time service, so under Wine the fix
//! fails saying the program is not there (its test shows that much, and no more).

use std::time::Duration;

#[cfg(not(windows))]
use super::run::have_program;
use super::run::run_program;
use super::{Change, FixSpec, Parameters, Prepared, Verification};
use crate::config::Settings;

pub const NAME: &str = "clock.resync";

pub const SPEC: FixSpec = FixSpec {
    name: NAME,
    summary: "Asks the time service to set the clock from network time now.",
    answers: &[crate::checks::clock::SKEW],
    max_runs_per_day: 6,
    needs_consent: false,
    undo: None,
    platforms: &["linux", "windows"],
    not_built: &[(
        "macos",
        "it needs `sntp -sS` against the configured time server (timed has no command to resync now)",
    )],
};

pub struct ClockResync;

pub fn prepare(_parameters: &mut Parameters, _settings: &Settings) -> Result<ClockResync, String> {
    Ok(ClockResync)
}

/// The leap indicator of `w32tm /query /status`: its first line is "Leap Indicator: 0(no
/// warning)" in English and the same number after the colon in every language.
pub fn leap_indicator(status: &str) -> Option<u8> {
    let first = status.lines().find(|line| !line.trim().is_empty())?;
    let (_, value) = first.split_once(':')?;
    // "0(no warning)": the number, then its words in brackets (an error's "0x80070426" is not).
    let (digits, _) = value.trim().split_once('(')?;
    digits.parse().ok().filter(|indicator| *indicator <= 3)
}

/// Whether W32Time says the clock is synchronised (leap indicator 0 to 2), and its words.
#[cfg(windows)]
fn synchronised() -> Result<(bool, String), String> {
    let w32tm = super::windows::system_program("w32tm.exe")?;
    let status = run_program(&w32tm, &["/query", "/status"], Duration::from_secs(15))?;
    let first = status.stdout.lines().next().unwrap_or("").trim().to_owned();
    match leap_indicator(&status.stdout) {
        Some(indicator) => Ok((indicator != 3, format!("W32Time: {first:.120}"))),
        None => Err(format!(
            "w32tm /query /status said no leap indicator: {first:.120?}"
        )),
    }
}

/// Whether the time service says the clock is synchronised, and its words.
#[cfg(not(windows))]
fn synchronised() -> Result<(bool, String), String> {
    let deadline = Duration::from_secs(15);
    if have_program("chronyc") {
        let tracking = run_program("chronyc", &["tracking"], deadline)?;
        let leap = tracking
            .stdout
            .lines()
            .find_map(|line| line.strip_prefix("Leap status"))
            .map(|rest| rest.trim_start_matches([' ', ':']).trim().to_owned())
            .unwrap_or_default();
        return Ok((leap == "Normal", format!("chrony: leap status {leap:?}")));
    }
    let shown = run_program(
        "timedatectl",
        &["show", "--property=NTPSynchronized", "--value"],
        deadline,
    )?;
    let value = shown.stdout.trim().to_owned();
    Ok((
        value == "yes",
        format!("systemd-timesyncd: synchronised {value:?}"),
    ))
}

impl Prepared for ClockResync {
    fn before(&mut self) -> Result<String, String> {
        synchronised().map(|(_, text)| text)
    }

    #[cfg(windows)]
    fn apply(&mut self) -> Result<Vec<Change>, String> {
        let w32tm = super::windows::system_program("w32tm.exe")?;
        // Waits for the resync itself (no /nowait): it fails when W32Time is stopped or has
        // no time data, and says so.
        run_program(&w32tm, &["/resync"], Duration::from_secs(60))?;
        Ok(vec![Change {
            target: "W32Time".to_owned(),
            action: "asked for the clock to be set from network time now (w32tm /resync)"
                .to_owned(),
            bytes_freed: None,
            error: None,
        }])
    }

    #[cfg(not(windows))]
    fn apply(&mut self) -> Result<Vec<Change>, String> {
        let deadline = Duration::from_secs(60);
        let target = if have_program("chronyc") {
            run_program("chronyc", &["makestep"], deadline)?;
            "chrony"
        } else if have_program("timedatectl") {
            run_program("timedatectl", &["set-ntp", "true"], deadline)?;
            run_program(
                "systemctl",
                &["restart", "--", "systemd-timesyncd.service"],
                deadline,
            )?;
            "systemd-timesyncd"
        } else {
            return Err(
                "this computer has no time service to ask (neither chrony nor systemd-timesyncd)"
                    .to_owned(),
            );
        };
        // The service needs a few exchanges with its servers before it says it is in sync.
        for _ in 0..10 {
            if synchronised().is_ok_and(|(yes, _)| yes) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        Ok(vec![Change {
            target: target.to_owned(),
            action: "asked for the clock to be set from network time now".to_owned(),
            bytes_freed: None,
            error: None,
        }])
    }

    fn verify(&mut self) -> Verification {
        Verification::from_look(synchronised())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leap_indicator_is_read_from_the_first_line_in_any_language() {
        for (status, expected) in [
            (
                "Leap Indicator: 0(no warning)\r\nStratum: 4 (secondary reference)\r\n",
                Some(0),
            ),
            ("Sprungindikator: 3(nicht synchronisiert)\r\n", Some(3)),
            (
                "\r\nIndicateur de saut : 0(aucun avertissement)\r\n",
                Some(0),
            ),
            ("The following error occurred: 0x80070426\r\n", None),
            ("Leap Indicator: 7(?)\r\n", None),
            ("", None),
        ] {
            assert_eq!(leap_indicator(status), expected, "{status:?}");
        }
    }

    /// Wine has no w32tm.exe (nor a W32Time service): the fix fails before anything runs,
    /// naming what is missing. On Windows, where w32tm.exe is there, this test says nothing.
    #[cfg(windows)]
    #[test]
    fn without_w32tm_the_fix_fails_naming_it() {
        let system = super::super::windows::system_directory().expect("system folder");
        if system.join("w32tm.exe").is_file() {
            return;
        }
        let error = ClockResync.apply().expect_err("no w32tm.exe");
        assert!(error.contains("w32tm.exe is not there"), "{error}");
        let verification = ClockResync.verify();
        assert!(!verification.passed, "{verification:?}");
    }
}
