//! `clock.resync`: makes the time service step the clock to network time now (chrony, else
//! systemd-timesyncd); verified by the time service saying it is synchronised. Linux is built
//! here; Windows (`w32tm /resync` has no API equivalent short of the W32Time RPC interface) is not.

use std::time::Duration;

use super::run::{have_program, run_program};
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
    platforms: &["linux"],
    not_built: &[(
        "macos",
        "it needs `sntp -sS` against the configured time server (timed has no command to resync now)",
    )],
};

pub struct ClockResync;

pub fn prepare(_parameters: &mut Parameters, _settings: &Settings) -> Result<ClockResync, String> {
    Ok(ClockResync)
}

/// Whether the time service says the clock is synchronised, and its words.
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
