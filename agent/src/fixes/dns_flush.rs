//! `dns.flush`: empties the local resolver's cache (systemd-resolved, else nscd) so a name
//! that was fixed upstream, or poisoned locally, is asked again; verified by resolving the
//! name the DNS check failed on, with the check's own resolvers. Linux is built here. Windows
//! is built too, the documented way: `ipconfig /flushdns` (the DNS Client service's cache),
//! taken from the system folder, never from PATH. Wine cannot show it: its ipconfig knows only
//! `/all`, and Wine has no DNS Client cache to empty (see the test).

use std::time::Duration;

#[cfg(not(windows))]
use super::run::have_program;
use super::run::{block_on, run_program};
use super::{Change, FixSpec, Parameters, Prepared, Verification};
use crate::checks::dns::{DnsConfig, RESOLVE};
use crate::config::Settings;
use crate::probes::dns;

pub const NAME: &str = "dns.flush";

pub const SPEC: FixSpec = FixSpec {
    name: NAME,
    summary: "Empties the computer's DNS cache so names are looked up afresh.",
    answers: &[RESOLVE],
    max_runs_per_day: 12,
    needs_consent: false,
    undo: None,
    platforms: &["linux", "windows"],
    not_built: &[(
        "macos",
        "it needs `dscacheutil -flushcache` and mDNSResponder told to drop its cache",
    )],
};

/// A host name as DNS allows it (letters, digits, hyphens, dots; at most 253 characters).
pub fn valid_host_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{name:.80?} is not a host name"))
    }
}

pub struct DnsFlush {
    name: String,
    config: DnsConfig,
}

pub fn prepare(parameters: &mut Parameters, settings: &Settings) -> Result<DnsFlush, String> {
    let name = parameters.required("name")?;
    valid_host_name(name.trim_end_matches('.'))?;
    Ok(DnsFlush {
        name,
        config: settings.checks.dns.clone(),
    })
}

impl DnsFlush {
    fn resolve(&self) -> Result<dns::Resolution, String> {
        let servers = self.config.resolvers()?;
        block_on(dns::resolve(&self.name, &servers, self.config.timeout))
    }

    fn describe(resolution: &dns::Resolution) -> String {
        match resolution.failure() {
            None => format!(
                "{} resolves to {}",
                resolution.name,
                resolution
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(why) => format!("{} does not resolve: {why}", resolution.name),
        }
    }
}

impl Prepared for DnsFlush {
    fn before(&mut self) -> Result<String, String> {
        self.resolve().map(|r| Self::describe(&r))
    }

    #[cfg(windows)]
    fn apply(&mut self) -> Result<Vec<Change>, String> {
        let ipconfig = super::windows::system_program("ipconfig.exe")?;
        run_program(&ipconfig, &["/flushdns"], Duration::from_secs(30))?;
        Ok(vec![Change {
            target: "DNS Client (Dnscache)".to_owned(),
            action: "emptied the DNS cache (ipconfig /flushdns)".to_owned(),
            bytes_freed: None,
            error: None,
        }])
    }

    #[cfg(not(windows))]
    fn apply(&mut self) -> Result<Vec<Change>, String> {
        let deadline = Duration::from_secs(30);
        let (target, outcome) = if have_program("resolvectl") {
            (
                "systemd-resolved",
                run_program("resolvectl", &["flush-caches"], deadline),
            )
        } else if have_program("nscd") {
            (
                "nscd",
                run_program("nscd", &["--invalidate=hosts"], deadline),
            )
        } else {
            return Err(
                "this computer has no local DNS cache to empty (neither systemd-resolved nor nscd)"
                    .to_owned(),
            );
        };
        outcome?;
        Ok(vec![Change {
            target: target.to_owned(),
            action: "emptied the DNS cache".to_owned(),
            bytes_freed: None,
            error: None,
        }])
    }

    fn verify(&mut self) -> Verification {
        Verification::from_look(
            self.resolve()
                .map(|resolution| (resolution.resolved(), Self::describe(&resolution))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_host_names_are_taken() {
        for good in ["intranet.example.com", "localhost", "a-b.c_d.example"] {
            valid_host_name(good).expect(good);
        }
        for bad in [
            "",
            "-x.example",
            "a..b",
            "x y",
            "$(reboot)",
            &"a".repeat(64),
        ] {
            assert!(valid_host_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[cfg(windows)]
    #[test]
    fn on_windows_a_request_names_a_host_and_nothing_else() {
        let settings = Settings::parse(
            "[fixes]\nenabled = true\n",
            std::path::Path::new("agent.toml"),
        )
        .expect("config");
        for (pairs, expected) in [
            (vec![("name", "$(reboot)")], "is not a host name"),
            (
                vec![("name", "intranet.example.com"), ("program", "cmd.exe")],
                "unknown parameter \"program\"",
            ),
            (vec![], "\"name\" is required"),
        ] {
            let parameters = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let error = super::super::prepare(
                NAME,
                parameters,
                &super::super::Authority::default(),
                &settings,
            )
            .err()
            .unwrap_or_else(|| panic!("{pairs:?} was accepted"));
            assert!(error.contains(expected), "{pairs:?}: {error}");
        }
    }

    /// `ipconfig /flushdns` is run from the system folder. Windows empties its DNS Client cache;
    /// Wine 8 cannot show that: its ipconfig knows only `/all`, says "Unknown or invalid command
    /// line parameters" and exits 1, and the fix reports that failure rather than a flush.
    #[cfg(windows)]
    #[test]
    fn on_windows_ipconfig_flushdns_runs_from_the_system_folder_and_its_failure_is_told() {
        let mut fix = DnsFlush {
            name: "localhost".to_owned(),
            config: DnsConfig::default(),
        };
        match fix.apply() {
            Ok(changes) => assert!(changes[0].action.contains("ipconfig /flushdns")),
            Err(error) => {
                let system = super::super::windows::system_directory().expect("system folder");
                let expected =
                    format!("{} /flushdns failed", system.join("ipconfig.exe").display());
                assert!(error.starts_with(&expected), "{error}");
            }
        }
    }
}
