//! `dns.flush`: empties the local resolver's cache (systemd-resolved, else nscd) so a name
//! that was fixed upstream, or poisoned locally, is asked again; verified by resolving the
//! name the DNS check failed on, with the check's own resolvers. Linux is built here; Windows
//! (`DnsFlushResolverCache` in dnsapi.dll) is not built yet.

use std::time::Duration;

use super::run::{block_on, have_program, run_program};
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
    platforms: &["linux"],
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
}
